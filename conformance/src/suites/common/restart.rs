//! Restart after SIGKILL on the same port: the server is killed while a client is still
//! connected, so the kernel closes the server's side first and the port is left in
//! TIME_WAIT on the server's side, as after a real autograder run (a client that closed
//! first would leave no TIME_WAIT there and prove nothing).

use crate::check::{Role, Stop};
use crate::driver::{Ctx, Launch, Peer, Subject};
use crate::suites::common::{is_addr_in_use, start_failure};

/// Starts the server subject on a fresh port and waits until it listens, telling a failure
/// by its evidence ([`start_failure`]). A bind conflict on a fresh port (probed free and
/// reserved) means a program outside the suite took it between the probe and the bind:
/// that is retried once on another port, not blamed on the subject. With a forced
/// `--port` there is no other port, and the conflict is reported.
pub fn start_server(ctx: &mut Ctx) -> Result<Subject, Stop> {
    let port = ctx.port()?;
    let mut sub = ctx.spawn(Role::Server, Launch::new().port(port))?;
    match sub.wait_listening(ctx.timing().startup()) {
        Ok(()) => Ok(sub),
        Err(e) if is_addr_in_use(&sub.lines()) => {
            let other = ctx.port()?;
            if other == port {
                return Err(start_failure(&mut sub, e, port));
            }
            drop(sub);
            ctx.note(format!(
                "port {port} was taken by another program before the server bound it; \
                 retried on port {other}"
            ));
            let mut sub = ctx.spawn(Role::Server, Launch::new().port(other))?;
            match sub.wait_listening(ctx.timing().startup()) {
                Ok(()) => Ok(sub),
                Err(e) => Err(start_failure(&mut sub, e, other)),
            }
        }
        Err(e) => Err(start_failure(&mut sub, e, port)),
    }
}

/// Kills `first` while `held` is connected, takes the server's close, closes our side, then
/// starts the server again on `port` at once and waits until it listens. A second start
/// that fails because the address is in use (the subject's own bind error says so) gets
/// [`Cause::AddrInUse`] and the suite's `reuse_hint`; any other failure to start keeps the
/// driver's own explanation (SO_REUSEADDR is not the fix for a program that cannot start).
pub fn restart_after_kill(
    ctx: &mut Ctx,
    port: u16,
    mut first: Subject,
    mut held: Peer,
    reuse_hint: &str,
) -> Result<Subject, Stop> {
    first.kill();
    let _ = held.recv_until_closed(ctx.timing().response());
    held.close();
    drop(first);
    let mut second = ctx.spawn(Role::Server, Launch::new().port(port))?;
    match second.wait_listening(ctx.timing().startup()) {
        Ok(()) => Ok(second),
        Err(e) if is_addr_in_use(&second.lines()) => {
            Err(start_failure(&mut second, e, port).hint(reuse_hint))
        }
        Err(e) => Err(start_failure(&mut second, e, port)),
    }
}
