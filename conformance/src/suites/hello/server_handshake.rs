//! Server checks of the handshake itself: the reply, the printed lines, X values, Z wrong
//! and right, and the close after Z (001 Steps 2 and 4).

use crate::check::{Cause, Check, CheckResult, Failure, Level::*, Stop, blocked, fail};
use crate::driver::{Ctx, End, Peer, Stream};
use crate::suites::common::{describe_received, quote_lines};
use crate::timing::REPLY_SILENCE;

use super::session::Server;
use super::{HANDSHAKE_ID, PRINTS_ID, msg, printed_is, serve_on_hint};

pub static HANDSHAKE: Check = Check::new(
    "hello.server.handshake",
    Required,
    "001 Step 2",
    "`HELLO 5` is answered `HELLO 6`",
    handshake,
);

fn handshake(ctx: &mut Ctx) -> CheckResult {
    let mut server = Server::start(ctx)?;
    let mut conn = server.greet(5)?;
    conn.z(7)
}

pub static PRINTS_LINES: Check = Check::new(
    "hello.server.prints-lines",
    Required,
    "001 Steps 2 and 4; printing and fflush",
    "stdout shows `HELLO X` then `HELLO Z`, in the pipe while the server still runs",
    prints_lines,
)
.needs(&[HANDSHAKE_ID]);

fn prints_lines(ctx: &mut Ctx) -> CheckResult {
    let mut server = Server::start(ctx)?;
    server.handshake(5)?;
    match server.expect_printed(0, 5, 7) {
        Ok(_) => Ok(()),
        Err(e) if server.output_lost() => {
            drop(server);
            Err(on_a_terminal(ctx, e))
        }
        Err(e) => Err(e),
    }
}

/// Output missing through the pipe, even at the kill: the same handshake once more with
/// stdout on a pseudo-terminal tells a stdio buffer (the lines show there) from a server
/// that prints nothing at all.
fn on_a_terminal(ctx: &mut Ctx, stop: Stop) -> Stop {
    let t = *ctx.timing();
    let rerun = ctx.server_on_pty(
        |port, log| {
            if let Ok(mut p) = Peer::connect(port, "client 1 (pty re-run)", log, t.response()) {
                let _ = p.send(&msg(5));
                let _ = p.recv_reply(msg(6).len(), t.response());
                let _ = p.send(&msg(7));
                p.shutdown_write();
                let _ = p.recv_until_closed(REPLY_SILENCE);
            }
        },
        |lines| lines.iter().any(|l| printed_is(l, 7)),
    );
    let Stop::Fail(f) = stop else { return stop };
    match rerun {
        Ok(Some(lines)) if lines.iter().any(|l| printed_is(l, 5)) => Stop::Fail(Failure {
            expected: f.expected,
            actual: format!(
                "{}; run once more with stdout on a terminal, it printed {:?}",
                f.actual, lines
            ),
            hint: Some(
                "it prints `HELLO 5` on a terminal but not through a pipe before it is killed: \
                 add fflush(stdout) after printf, or print(..., flush=True)"
                    .to_owned(),
            ),
            cause: Some(Cause::PipeBuffered),
        }),
        Ok(Some(_)) => Stop::Fail(f.hint(
            "it prints no `HELLO 5` line even on a terminal: print each message received, \
             on its own line, to stdout",
        )),
        _ => Stop::Fail(f),
    }
}

/// The X values of sequence-values: digit roll-over on fresh connections. A new case is
/// one value here.
const SEQUENCE: &[i64] = &[0, 9, 99, 999];

pub static SEQUENCE_VALUES: Check = Check::new(
    "hello.server.sequence-values",
    Required,
    "001 Steps 1-4",
    "X = 0, 9, 99, 999 on fresh connections: replies and printed lines right",
    sequence_values,
)
.needs(&[HANDSHAKE_ID]);

/// Handshakes with each X in turn; the printed lines are judged where stdout comes through
/// the pipe at all (else the printing check alone fails for it).
fn handshakes_printed(ctx: &mut Ctx, xs: &[i64]) -> CheckResult {
    let mut server = Server::start(ctx)?;
    let mut from = Some(0);
    for &x in xs {
        server.handshake(x)?;
        if let Some(f) = from {
            from = server.printed(f, x, x + 2)?;
        }
    }
    Ok(())
}

fn sequence_values(ctx: &mut Ctx) -> CheckResult {
    handshakes_printed(ctx, SEQUENCE)
}

pub static STALE_DIGITS: Check = Check::new(
    "hello.server.stale-digits",
    Required,
    "001 Steps 2 and 4",
    "X = 123456789 then X = 7: reply `HELLO 8` and line `HELLO 7`, no stale digits",
    stale_digits,
)
.needs(&[HANDSHAKE_ID]);

fn stale_digits(ctx: &mut Ctx) -> CheckResult {
    handshakes_printed(ctx, &[123_456_789, 7])
}

/// A handshake whose Z is X+7 (5, 6, 12).
fn wrong_z(server: &mut Server) -> CheckResult {
    let mut conn = server.greet(5)?;
    conn.z(12)?;
    server.done(&conn);
    Ok(())
}

const WRONG_Z: &str = "`HELLO 5`, `HELLO 6`, `HELLO 12`";

pub static WRONG_Z_ERROR: Check = Check::new(
    "hello.server.wrong-z-error",
    Required,
    "001 Step 4",
    "Z = X+7 gives a line `ERROR` (stdout or stderr)",
    wrong_z_error,
)
.needs(&[HANDSHAKE_ID]);

fn wrong_z_error(ctx: &mut Ctx) -> CheckResult {
    let mut server = Server::start(ctx)?;
    wrong_z(&mut server)?;
    if server.wait_error().is_some() {
        return Ok(());
    }
    if !server.stdout_live() {
        return Err(blocked(
            PRINTS_ID,
            "nothing the server printed on stdout came through the pipe, so an ERROR line \
             there cannot be seen",
        ));
    }
    Err(fail(
        format!("a line `ERROR` (stdout or stderr) after {WRONG_Z}"),
        quote_lines(&server.sub.lines()),
    )
    .hint("compare Z with X+2 (Y+1) and print ERROR when they differ; flush the output"))
}

pub static ERROR_ON_STDOUT: Check = Check::new(
    "hello.server.error-on-stdout",
    Recommended,
    "001 Step 4; printing to screen (stdout)",
    "that ERROR line is on stdout",
    error_on_stdout,
)
.needs(&["hello.server.wrong-z-error"]);

fn error_on_stdout(ctx: &mut Ctx) -> CheckResult {
    let mut server = Server::start(ctx)?;
    wrong_z(&mut server)?;
    match server.wait_error() {
        Some(l) if l.stream == Stream::Stdout => Ok(()),
        Some(_) => Err(fail("the ERROR line on stdout", "it is on stderr")
            .hint("print ERROR like the other lines, with printf + fflush(stdout)")),
        None if !server.stdout_live() => Err(blocked(
            PRINTS_ID,
            "nothing the server printed on stdout came through the pipe",
        )),
        None => Err(fail(
            format!("a line `ERROR` on stdout after {WRONG_Z}"),
            quote_lines(&server.sub.lines()),
        )),
    }
}

pub static SERVES_AFTER_WRONG_Z: Check = Check::new(
    "hello.server.serves-after-wrong-z",
    Required,
    "001 Step 4; the server keeps serving",
    "after a wrong Z it prints `HELLO Z` and serves the next client",
    serves_after_wrong_z,
)
.needs(&[HANDSHAKE_ID]);

fn serves_after_wrong_z(ctx: &mut Ctx) -> CheckResult {
    let mut server = Server::start(ctx)?;
    wrong_z(&mut server)?;
    if server.wait_printed(0, 12).is_none() {
        // Judged only where the server prints its lines at all (`HELLO 5` came as a line):
        // otherwise that is the printing check's failure.
        if server.wait_printed(0, 5).is_some() {
            return Err(fail(
                "a stdout line `HELLO 12` for the wrong Z, as for any Z",
                quote_lines(&server.sub.lines()),
            )
            .hint("print every HELLO Z received, right or wrong, then ERROR when it is wrong"));
        }
    }
    server.handshake(40).map_err(|e| {
        serve_on_hint(
            e,
            "a wrong Z ends that client only: print ERROR, close its socket, accept the next",
        )
    })?;
    server.alive("a wrong Z and another client")
}

pub static NO_ERROR_ON_CORRECT_Z: Check = Check::new(
    "hello.server.no-error-on-correct-z",
    Required,
    "001 Step 4",
    "a correct handshake prints no ERROR line",
    no_error_on_correct_z,
)
.needs(&[HANDSHAKE_ID]);

/// A server after handshakes 5 and 20 whose second one's lines are printed: then the
/// first one's lines are all out too (no blind wait for a line that should not come).
/// Blocked by prints-lines, saying `why` it matters, when nothing came through the pipe.
pub(super) fn two_printed_handshakes(ctx: &mut Ctx, why: &str) -> Result<Server, Stop> {
    let mut server = Server::start(ctx)?;
    server.handshake(5)?;
    server.handshake(20)?;
    if server.printed(0, 20, 22)?.is_none() {
        return Err(blocked(
            PRINTS_ID,
            format!("nothing the server printed on stdout came through the pipe{why}"),
        ));
    }
    Ok(server)
}

fn no_error_on_correct_z(ctx: &mut Ctx) -> CheckResult {
    let server = two_printed_handshakes(ctx, ", so an ERROR line there cannot be ruled out")?;
    if let Some(l) = server
        .sub
        .lines()
        .iter()
        .find(|l| super::is_error_line(&l.text))
    {
        return Err(fail(
            "no ERROR line after correct handshakes (5, 6, 7 and 20, 21, 22)",
            format!("{}: {:?}", l.stream.as_str(), l.text),
        )
        .hint("Z is correct when Z == Y + 1 == X + 2"));
    }
    Ok(())
}

pub static CLOSES_AFTER_Z: Check = Check::new(
    "hello.server.closes-after-z",
    Required,
    "001 Step 4",
    "after `HELLO Z` the server closes the connection without waiting for the client",
    closes_after_z,
)
.needs(&[HANDSHAKE_ID]);

fn closes_after_z(ctx: &mut Ctx) -> CheckResult {
    let mut server = Server::start(ctx)?;
    let mut conn = server.greet(5)?;
    conn.hello(7)?;
    // No FIN from us: the text has the server close, so it must not wait for our close.
    let r = conn.peer.recv_until_closed(server.timing().response());
    if r.closed() {
        return Ok(());
    }
    let stop = fail(
        "the server closes the connection after `HELLO 7` (Step 4), while the client still \
         holds it open",
        format!(
            "{} within {:?}",
            describe_received(&r, "server"),
            server.timing().response()
        ),
    );
    Err(if r.end == End::Deadline {
        server.explain(
            stop.hint(
                "close(connfd) right after printing HELLO Z (and ERROR); do not wait for the \
                 client to close first",
            ),
            Some(&conn),
        )
    } else {
        stop
    })
}
