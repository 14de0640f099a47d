//! Restart on the same port right after a kill (002: required). SO_REUSEADDR is named only
//! when the evidence is a refused bind.

use super::events::CONNECT_LINE;
use super::session::Session;
use crate::check::{Check, CheckResult, Level};
use crate::driver::Ctx;
use crate::suites::common::restart::restart_after_kill as restart_after_kill_on;

pub static RESTART_AFTER_KILL: Check = Check::new(
    "multiclient.server.restart-after-kill",
    Level::Required,
    "002 other requirements: restart immediately after terminating",
    "killed with a client connected, restarted on the same port at once, it serves",
    restart_after_kill,
)
.needs(&[CONNECT_LINE]);

fn restart_after_kill(ctx: &mut Ctx) -> CheckResult {
    let port = ctx.port()?;
    let mut first = Session::of(ctx.server_on(port)?, ctx);
    let a = first.join(1, "when a client connects")?;
    // Killed with a client connected: the server's side closes first, so its port is left in
    // TIME_WAIT, as after a real grader run; only SO_REUSEADDR lets it bind again at once.
    // SO_REUSEADDR is named only when the restarted server's own output shows a refused bind.
    let second = restart_after_kill_on(ctx, port, first.into_server(), a, HINT_REUSE)?;
    let mut second = Session::of(second, ctx);
    let _b = second.join(1, "after the restart, when a client connects")?;
    Ok(())
}

const HINT_REUSE: &str = "its bind() was refused with `Address already in use`: the killed \
     server's port is in TIME_WAIT; set SO_REUSEADDR on the listening socket before bind(): \
     setsockopt(s, SOL_SOCKET, SO_REUSEADDR, ...) / s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)";
