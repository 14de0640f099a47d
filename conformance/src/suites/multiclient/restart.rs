//! Restart on the same port right after a kill (002: required). SO_REUSEADDR is named only
//! when the evidence is a refused bind.

use super::events::CONNECT_LINE;
use super::lines::says_addr_in_use;
use super::session::{Session, exit_cause};
use crate::check::{Cause, Check, CheckResult, Level, Role, Stop};
use crate::driver::{Ctx, Launch, Stream};

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
    let mut a = first.join(1, "when a client connects")?;
    // Killed with a client connected: the server's side closes first, so its port is left in
    // TIME_WAIT, as after a real grader run; only SO_REUSEADDR lets it bind again at once.
    first.server.kill();
    let _ = a.recv_until_closed(first.response());
    a.close();
    drop(first);
    let mut second = Session::of(ctx.spawn(Role::Server, Launch::new().port(port))?, ctx);
    if let Err(stop) = second.server.wait_listening(ctx.timing().startup()) {
        return Err(restart_failure(&mut second, port, stop));
    }
    let _b = second.join(1, "after the restart, when a client connects")?;
    Ok(())
}

/// Why the restarted server did not listen, from the evidence: a refused bind (its stderr,
/// or the driver's cause) is the missing SO_REUSEADDR; any other end is told as it was.
fn restart_failure(s: &mut Session, port: u16, stop: Stop) -> Stop {
    let Stop::Fail(mut f) = stop else {
        return stop;
    };
    f.expected =
        format!("restarted on port {port} at once after the kill, the server listens again");
    let bind_refused = matches!(f.cause, Some(Cause::AddrInUse { .. }))
        || s.server
            .capture()
            .tail()
            .iter()
            .any(|l| l.stream == Stream::Stderr && says_addr_in_use(&l.text));
    let status = s.server.try_exit();
    let f = if bind_refused {
        f.hint(
            "its bind() was refused with `Address already in use`: the killed server's port \
             is in TIME_WAIT; set SO_REUSEADDR on the listening socket before bind(): \
             setsockopt(s, SOL_SOCKET, SO_REUSEADDR, ...) / s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)",
        )
        .cause(Cause::AddrInUse { port })
    } else if let Some(st) = status {
        f.hint(
            "the restarted server ended before it listened, but not for a refused bind: \
             see its status and stderr; it started on this port once already",
        )
        .cause(exit_cause(st))
    } else {
        f.hint("the restarted server did not listen on its port again in time")
    };
    Stop::Fail(f)
}
