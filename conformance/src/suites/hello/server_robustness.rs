//! Server checks of robustness: whatever a client does the server serves on; terminators,
//! split greetings, many connections in a row, restart after SIGKILL, an idle server that
//! sleeps, and the informational exact output.

use std::time::Duration;

use crate::check::{Check, CheckResult, Failure, Level::*, Stop, fail};
use crate::driver::{Ctx, Line, Stream, describe_bytes, watch};
use crate::suites::common::restart;
use crate::timing::REPLY_SILENCE;

use super::session::Server;
use super::{HANDSHAKE_ID, HINT_PARTIAL, PRINTS_ID, msg, serve_on_hint, with_terminator};

/// Greetings that are no HELLO message, each on a fresh connection. A new case is one line.
const MALFORMED: &[&[u8]] = &[b"GARBAGE", b"HELLO", b"HELLO abc", b"HELLO "];

pub static SERVES_AFTER_MALFORMED: Check = Check::new(
    "hello.server.serves-after-malformed",
    Required,
    "001 message format; the server keeps serving",
    "`GARBAGE`, `HELLO`, `HELLO abc`, `HELLO ` on fresh connections, then a valid client is served",
    serves_after_malformed,
)
.needs(&[HANDSHAKE_ID]);

fn serves_after_malformed(ctx: &mut Ctx) -> CheckResult {
    let mut server = Server::start(ctx)?;
    for bad in MALFORMED {
        let mut conn = server.connect()?;
        conn.say(bad)?;
        // Whatever the server answers (an error, nothing, a close) is fine; we end the
        // connection after a short silence so an iterative server can move on.
        let _ = conn.peer.recv_until_silence(REPLY_SILENCE, REPLY_SILENCE);
        server.close(conn);
        server.alive(&format!("a client sent {}", describe_bytes(bad)))?;
    }
    server.handshake(40).map_err(|e| {
        serve_on_hint(
            e,
            "after a malformed greeting, close that connection and go on accepting",
        )
    })?;
    server.alive("the malformed greetings")
}

pub static SERVES_AFTER_EARLY_CLOSE: Check = Check::new(
    "hello.server.serves-after-early-close",
    Required,
    "001 the server keeps serving",
    "a connection closed with no data, one closed before `HELLO Z`, then a valid client is served",
    serves_after_early_close,
)
.needs(&[HANDSHAKE_ID]);

fn serves_after_early_close(ctx: &mut Ctx) -> CheckResult {
    let mut server = Server::start(ctx)?;
    let conn = server.connect()?;
    server.close(conn);
    server.alive("a client closed without sending anything")?;
    let mut conn = server.connect()?;
    conn.hello(5)?;
    let _ = conn
        .peer
        .recv_reply(msg(6).len(), server.timing().response());
    server.close(conn);
    server.alive("a client closed before sending HELLO Z")?;
    server.handshake(40).map_err(|e| {
        serve_on_hint(
            e,
            "recv() returning 0 means the client left: close that socket and go on accepting",
        )
    })?;
    server.alive("the early closes")
}

/// Terminators a greeting and Z may end with (DESIGN.md), by name. A new case is one line.
const TERMINATORS: &[(&str, &[u8])] = &[
    ("\\n", b"\n"),
    ("\\r\\n", b"\r\n"),
    ("\\0", b"\0"),
    ("\\n\\0", b"\n\0"),
    ("NUL padding", &[0; 24]),
];

pub static ACCEPTS_TERMINATORS: Check = Check::new(
    "hello.server.accepts-terminators",
    Recommended,
    "001 message format",
    "greetings ending `\\n`, `\\r\\n`, `\\0`, `\\n\\0`, NUL padding are each answered",
    accepts_terminators,
)
.needs(&[HANDSHAKE_ID]);

fn accepts_terminators(ctx: &mut Ctx) -> CheckResult {
    let mut server = Server::start(ctx)?;
    for (name, term) in TERMINATORS {
        server
            .handshake_with(5, &with_terminator(5, term), &with_terminator(7, term))
            .map_err(|e| {
                e.hint(format!(
                    "a greeting ending with {name} is valid too: ignore trailing whitespace \
                     and NUL bytes when parsing"
                ))
            })?;
    }
    Ok(())
}

pub static SPLIT_GREETING: Check = Check::new(
    "hello.server.split-greeting",
    Recommended,
    "001 Step 2 (TCP is a byte stream)",
    "the greeting in two writes with a pause is answered",
    split_greeting,
)
.needs(&[HANDSHAKE_ID]);

fn split_greeting(ctx: &mut Ctx) -> CheckResult {
    let mut server = Server::start(ctx)?;
    let mut conn = server.connect()?;
    // The second piece goes only once the server has read the first (or the response
    // deadline passed): on a busy machine a late server would otherwise find both.
    conn.peer.send_pieces_consumed(
        &[b"HEL", b"LO 5"],
        Duration::from_millis(200),
        server.timing().response(),
    )?;
    conn.reply_to(6, "`HELLO 5` sent as `HEL`, a pause, `LO 5`")
        .map_err(|e| e.hint(HINT_PARTIAL))
}

/// The handshakes of sequential-connections: a few hundred, far below any descriptor
/// limit, so only a server that stops serving after a fixed number fails it.
pub const SEQUENTIAL: i64 = 300;
/// The number of handshakes of many-connections: beyond the subject's 1024 open files.
pub const MANY: i64 = 1100;

const HINT_FD_LEAK: &str = "close the accepted socket (close(connfd)) after each client: the \
                            server runs with at most 1024 open files";

/// `n` quick handshakes in a row with X = `base`, `base`+1, ...; the failure names which.
fn in_a_row(ctx: &mut Ctx, n: i64, base: i64, fd_hint_after: Option<i64>) -> CheckResult {
    let mut server = Server::start(ctx)?;
    for i in 0..n {
        if let Err(e) = server.quick(base + i) {
            return Err(match e {
                Stop::Fail(f) => Stop::Fail(Failure {
                    expected: format!("{n} handshakes in a row all served"),
                    actual: format!("handshake {} of {n} failed: {}", i + 1, f.actual),
                    // Failing near 1020 handshakes is the descriptor limit.
                    hint: match fd_hint_after {
                        Some(after) if i > after && f.cause.is_none() => {
                            Some(HINT_FD_LEAK.to_owned())
                        }
                        _ => f.hint,
                    },
                    cause: f.cause,
                }),
                other => other,
            });
        }
    }
    server.alive(&format!("{n} handshakes"))
}

pub static SEQUENTIAL_CONNECTIONS: Check = Check::new(
    "hello.server.sequential-connections",
    Required,
    "001 the server keeps serving",
    "300 handshakes in a row are all served",
    sequential_connections,
)
.needs(&[HANDSHAKE_ID]);

fn sequential_connections(ctx: &mut Ctx) -> CheckResult {
    // Four-digit X throughout: no digit roll-over (stale-digits' subject) within the run.
    in_a_row(ctx, SEQUENTIAL, 1000, None).map_err(|e| {
        serve_on_hint(
            e,
            "a server serves client after client for as long as it runs: no fixed table of \
             clients that is never freed, no counter that ends the accept loop",
        )
    })
}

pub static MANY_CONNECTIONS: Check = Check::new(
    "hello.server.many-connections",
    Recommended,
    "001 the server keeps serving",
    "1100 handshakes in a row are all served (at most 1024 open files)",
    many_connections,
)
.needs(&[HANDSHAKE_ID]);

fn many_connections(ctx: &mut Ctx) -> CheckResult {
    in_a_row(ctx, MANY, 0, Some(900))
}

pub static RESTART_AFTER_KILL: Check = Check::new(
    "hello.server.restart-after-kill",
    Recommended,
    "001 autograder kills with SIGKILL",
    "killed while a client is connected, restarted on the same port at once, it serves",
    restart_after_kill,
)
.needs(&[HANDSHAKE_ID]);

fn restart_after_kill(ctx: &mut Ctx) -> CheckResult {
    let port = ctx.port()?;
    let first = ctx.server_on(port)?;
    let mut first = Server::of(ctx, first);
    // Killed mid-handshake, so the port is left in TIME_WAIT on the server's side.
    let held = first.greet(5)?;
    let second = restart::restart_after_kill(
        ctx,
        port,
        first.sub,
        held.peer,
        "set SO_REUSEADDR on the listening socket before bind(), so a restart works while \
         old connections are in TIME_WAIT",
    )?;
    Server::of(ctx, second).handshake(9)
}

/// How long idle-cpu watches an idle server, and the share of it the server may spend on
/// the CPU: a server waiting in accept()/select()/poll() uses next to nothing; one that
/// polls without waiting uses a whole core (or what a busy machine leaves it).
const IDLE_WATCH: Duration = Duration::from_millis(1500);
const IDLE_MAX_SHARE: f64 = 0.3;
/// The share of looks at which an idle server may be found runnable.
const IDLE_MAX_RUNNABLE: f64 = 0.5;

pub static IDLE_CPU: Check = Check::new(
    "hello.server.idle-cpu",
    Recommended,
    "001 part C (event-driven: wait for events, do not poll)",
    "an idle server, with one silent client connected, uses almost no CPU time",
    idle_cpu,
)
.needs(&[HANDSHAKE_ID]);

fn idle_cpu(ctx: &mut Ctx) -> CheckResult {
    let mut server = Server::start(ctx)?;
    server.handshake(5)?;
    // A silent client as well: a loop over client sockets that never waits spins now too.
    let _silent = server.connect()?;
    let pids = server.sub.processes();
    let used = |pids: &[i32]| -> Duration { pids.iter().filter_map(|&p| watch::cpu_time(p)).sum() };
    let before = used(&pids);
    let clock = crate::driver::Stopwatch::start();
    // A spinning server is runnable at nearly every look, however busy the machine (which
    // may leave it little CPU time); one that waits in poll()/accept() is asleep.
    let (mut looks, mut running) = (0u32, 0u32);
    let _ = crate::driver::wait_until(IDLE_WATCH, || {
        looks += 1;
        if pids.iter().any(|&p| watch::thread_states(p).contains(&'R')) {
            running += 1;
        }
        false
    });
    let spent = used(&pids).saturating_sub(before);
    let wall = clock.elapsed();
    // An ended server uses no CPU at all: that is no idle server. (The silent client's
    // connect can still succeed after the handshake, from the backlog of a server that is
    // returning from main.)
    server.alive("a handshake, then a silent client connected and the server watched idle")?;
    let share = f64::from(running) / f64::from(looks.max(1));
    if spent.as_secs_f64() <= wall.as_secs_f64() * IDLE_MAX_SHARE && share < IDLE_MAX_RUNNABLE {
        return Ok(());
    }
    Err(fail(
        format!(
            "at most {:.0}% of one CPU while idle (one silent client connected)",
            IDLE_MAX_SHARE * 100.0
        ),
        format!("{spent:?} of CPU time in {wall:?}, runnable at {running} of {looks} looks"),
    )
    .hint(
        "the server spins while nothing happens: wait in accept()/select()/poll() with a \
         timeout (never 0) instead of looping over non-blocking calls",
    ))
}

pub static EXACT_OUTPUT: Check = Check::new(
    "hello.server.exact-output",
    Informational,
    "001 Steps 2 and 4",
    "stdout has exactly the HELLO lines, nothing else",
    exact_output,
)
.needs(&[HANDSHAKE_ID, PRINTS_ID]);

fn exact_output(ctx: &mut Ctx) -> CheckResult {
    let server = super::server_handshake::two_printed_handshakes(ctx, "")?;
    let want = ["HELLO 5", "HELLO 7", "HELLO 20", "HELLO 22"];
    let got: Vec<Line> = server.sub.lines_of(Stream::Stdout);
    let texts: Vec<&str> = got.iter().map(Line::trimmed).collect();
    if texts != want {
        return Err(fail(
            format!("stdout exactly {want:?} (two handshakes)"),
            format!("{texts:?}"),
        )
        .hint("the text asks for the HELLO lines only; extra lines are allowed but not expected"));
    }
    Ok(())
}
