//! hello (assignment 001): the three-way `HELLO X` / `HELLO X+1` / `HELLO X+2` handshake.
//! Check IDs and levels: docs/contracts.md section 3; readings: DESIGN.md "hello (001)".
//!
//! Lines are compared after trimming trailing whitespace and NULs; other lines are allowed
//! except in the informational exact-output check. The suite's peer sends the bare form
//! (`HELLO 5`, no terminator) in one write unless a check says otherwise.

use std::time::Duration;

use crate::check::{Check, CheckResult, Level, Model, Role, Stop, fail};
use crate::driver::{
    Ctx, End, Finished, Launch, Line, Peer, Received, Stream, Subject, describe_bytes, wait_until,
};
use crate::suites::Suite;
use crate::suites::common::{explain_exit, quote_lines};

const HINT_SERVE_ON: &str = "a server serves client after client until it is killed; check every recv() and parse for errors instead of exiting";

fn alive(server: &mut Subject, what: &str) -> Result<(), Stop> {
    crate::suites::common::alive(server, what, HINT_SERVE_ON)
}
use crate::timing::REPLY_SILENCE;

/// The hello suite.
pub const SUITE: Suite = Suite {
    name: "hello",
    seed: "001",
    checks: CHECKS,
    models: Model::ALL,
    server_program: "tcpserver",
    client_program: "tcpclient",
    server_args: &["{port}"],
    client_args: &["{host}", "{port}", "{seq}"],
    period_flag: false,
};

const fn server(
    id: &'static str,
    level: Level,
    spec: &'static str,
    summary: &'static str,
    models: &'static [Model],
    run: fn(&mut Ctx) -> CheckResult,
) -> Check {
    let c = Check::new(id, level, spec, summary, run).models(models);
    assert!(matches!(c.role, Role::Server), "role of the ID");
    c
}

const fn client(
    id: &'static str,
    level: Level,
    spec: &'static str,
    summary: &'static str,
    run: fn(&mut Ctx) -> CheckResult,
) -> Check {
    let c = Check::new(id, level, spec, summary, run);
    assert!(matches!(c.role, Role::Client), "role of the ID");
    c
}

use Level::{Informational as I, Recommended as C, Required as R};

const ALL: &[Model] = &[];
const TE: &[Model] = Model::CONCURRENT;

/// Every hello check, in report order.
pub static CHECKS: &[Check] = &[
    server(
        "hello.server.handshake",
        R,
        "001 Step 2",
        "`HELLO 5` is answered `HELLO 6`",
        ALL,
        handshake,
    ),
    server(
        "hello.server.prints-lines",
        R,
        "001 Steps 2 and 4; printing and fflush",
        "stdout shows `HELLO X` then `HELLO Z`, in the pipe while the server still runs",
        ALL,
        prints_lines,
    ),
    server(
        "hello.server.sequence-values",
        R,
        "001 Steps 1-4",
        "X = 0, 9, 99, 999 on fresh connections: replies and printed lines right",
        ALL,
        sequence_values,
    ),
    server(
        "hello.server.stale-digits",
        R,
        "001 Steps 2 and 4",
        "X = 123456789 then X = 7: reply `HELLO 8` and line `HELLO 7`, no stale digits",
        ALL,
        stale_digits,
    ),
    server(
        "hello.server.wrong-z-error",
        R,
        "001 Step 4",
        "Z = X+7 gives a line `ERROR` (stdout or stderr)",
        ALL,
        wrong_z_error,
    ),
    server(
        "hello.server.error-on-stdout",
        C,
        "001 Step 4; printing to screen (stdout)",
        "that ERROR line is on stdout",
        ALL,
        error_on_stdout,
    ),
    server(
        "hello.server.no-error-on-correct-z",
        R,
        "001 Step 4",
        "a correct handshake prints no ERROR line",
        ALL,
        no_error_on_correct_z,
    ),
    server(
        "hello.server.serves-after-malformed",
        R,
        "001 message format; the server keeps serving",
        "`GARBAGE`, `HELLO`, `HELLO abc`, `HELLO ` on fresh connections, then a valid client is served",
        ALL,
        serves_after_malformed,
    ),
    server(
        "hello.server.serves-after-early-close",
        R,
        "001 the server keeps serving",
        "a connection closed with no data, one closed before `HELLO Z`, then a valid client is served",
        ALL,
        serves_after_early_close,
    ),
    server(
        "hello.server.accepts-terminators",
        C,
        "001 message format",
        "greetings ending `\\n`, `\\r\\n`, `\\0`, `\\n\\0`, NUL padding are each answered",
        ALL,
        accepts_terminators,
    ),
    server(
        "hello.server.split-greeting",
        C,
        "001 Step 2 (TCP is a byte stream)",
        "the greeting in two writes with a pause is answered",
        ALL,
        split_greeting,
    ),
    server(
        "hello.server.many-connections",
        C,
        "001 the server keeps serving",
        "1100 handshakes in a row are all served (at most 1024 open files)",
        ALL,
        many_connections,
    ),
    server(
        "hello.server.restart-after-kill",
        C,
        "001 autograder kills with SIGKILL",
        "killed while a client is connected, restarted on the same port at once, it serves",
        ALL,
        restart_after_kill,
    ),
    server(
        "hello.server.exact-output",
        I,
        "001 Steps 2 and 4",
        "stdout has exactly the HELLO lines, nothing else",
        ALL,
        exact_output,
    ),
    server(
        "hello.server.silent-client-no-block",
        R,
        "001 parts B and C (concurrency)",
        "a connection that says nothing does not delay another client's handshake",
        TE,
        silent_client_no_block,
    ),
    server(
        "hello.server.concurrent-load",
        R,
        "001 parts B and C (concurrency)",
        "20 clients at once with pauses before their third message all complete",
        TE,
        concurrent_load,
    ),
    server(
        "hello.server.thread-model",
        R,
        "001 parts B and C",
        "threaded shows more than one thread while serving; event-driven exactly one throughout",
        TE,
        thread_model,
    ),
    client(
        "hello.client.sends-greeting",
        R,
        "001 Step 1",
        "connects and sends `HELLO X` for its argument X",
        client_sends_greeting,
    ),
    client(
        "hello.client.prints-reply",
        R,
        "001 Step 3",
        "prints the line `HELLO Y` it received",
        client_prints_reply,
    ),
    client(
        "hello.client.sends-z",
        R,
        "001 Step 3",
        "on Y = X+1 sends `HELLO X+2` and closes the connection",
        client_sends_z,
    ),
    client(
        "hello.client.exits",
        R,
        "001 Step 3",
        "exits by itself after the handshake, within the deadline",
        client_exits,
    ),
    client(
        "hello.client.sequence-values",
        R,
        "001 Steps 1 and 3",
        "X = 0, 9, 99, 999: greeting and Z right",
        client_sequence_values,
    ),
    client(
        "hello.client.wrong-y-error",
        R,
        "001 Step 3",
        "on Y != X+1 prints `ERROR`, sends nothing more, closes, exits",
        client_wrong_y_error,
    ),
    client(
        "hello.client.garbage-reply",
        R,
        "001 Step 3; message format",
        "on a reply that is no HELLO message prints `ERROR`, sends nothing, exits",
        client_garbage_reply,
    ),
    client(
        "hello.client.accepts-terminators",
        C,
        "001 message format",
        "replies ending `\\n`, `\\r\\n`, `\\0` still complete the handshake",
        client_accepts_terminators,
    ),
];

// ---------------------------------------------------------------------------------------
// Messages and hints.

const HINT_FLUSH: &str = "output lost when killed: call fflush(stdout) after printf, or \
                          print(..., flush=True); the autograder kills the server with SIGKILL";
const HINT_STALE: &str = "a reused buffer is not cleared or terminated: use the byte count \
                          recv() returned (buf[n] = '\\0') before parsing or printing";
const HINT_PARTIAL: &str = "TCP is a byte stream: one recv() may return part of a message; \
                            keep reading until the message is complete";
const HINT_FD_LEAK: &str = "close the accepted socket (close(connfd)) after each client: the \
                            server runs with at most 1024 open files";
const HINT_REUSE: &str = "set SO_REUSEADDR on the listening socket before bind(), so a \
                          restart works while old connections are in TIME_WAIT";
const HINT_CONCURRENT: &str = "a threaded server hands each accepted socket to a new thread at \
                               once; an event-driven one never blocks on one client (select/poll \
                               with non-blocking sockets)";

/// `HELLO x` in the bare form.
fn msg(x: i64) -> Vec<u8> {
    format!("HELLO {x}").into_bytes()
}

/// Reads one hello message as received: `HELLO <decimal>`, trailing whitespace and NULs
/// ignored (every terminator of DESIGN.md, and NUL padding).
pub fn parse_hello(bytes: &[u8]) -> Option<i64> {
    let end = bytes
        .iter()
        .rposition(|&b| !(b == 0 || b.is_ascii_whitespace()))?;
    let digits = bytes[..=end].strip_prefix(b"HELLO ")?;
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn trimmed_eq(line: &Line, want: &str) -> bool {
    line.trimmed() == want
}

fn is_error_line(line: &Line) -> bool {
    line.trimmed().trim_start().starts_with("ERROR")
}

fn describe_reply(r: &Received) -> String {
    let how = match r.end {
        End::Done | End::Silence => String::new(),
        End::Closed => " and then the server closed the connection".to_owned(),
        End::Reset => " and then the server reset the connection".to_owned(),
        End::Deadline => " before the deadline".to_owned(),
        End::Overflow => " (too much)".to_owned(),
    };
    format!("received {}{how}", describe_bytes(&r.bytes))
}

/// Receives the reply to a greeting and checks it is `HELLO want`.
fn expect_hello(ctx: &Ctx, peer: &mut Peer, want: i64, after: &str) -> Result<(), Stop> {
    let expected_len = msg(want).len();
    let r = peer.recv_reply(expected_len, ctx.timing().response());
    if parse_hello(&r.bytes) == Some(want) {
        return Ok(());
    }
    let mut stop = fail(
        format!("the reply `HELLO {want}` to {after}"),
        describe_reply(&r),
    );
    if let Some(got) = parse_hello(&r.bytes)
        && got != want
    {
        stop = stop.hint("the reply is HELLO X+1, where X is the number the client sent");
    } else if r.bytes.starts_with(b"HELLO ") && r.bytes.len() > expected_len {
        stop = stop.hint(HINT_STALE);
    } else if r.bytes.is_empty() && r.end == End::Deadline {
        stop = stop.hint("did the server read the whole greeting? it is sent without a newline");
    }
    Err(stop)
}

/// One full handshake as a fake client: greeting, reply, Z, then our FIN and the server's
/// close (not required here: we stop waiting at the response deadline).
fn full_handshake(ctx: &Ctx, server: &mut Subject, x: i64) -> Result<(), Stop> {
    handshake_with(ctx, server, x, &msg(x), &msg(x + 2))
}

/// A handshake that does not wait for the server's close at all (many-connections: a
/// server that keeps its sockets must reach its descriptor limit in seconds, not minutes).
fn quick_handshake(ctx: &Ctx, server: &mut Subject, x: i64) -> Result<(), Stop> {
    let r = quick_inner(ctx, server, x);
    r.map_err(|e| explain_exit(server, e))
}

fn quick_inner(ctx: &Ctx, server: &mut Subject, x: i64) -> Result<(), Stop> {
    let mut peer = server.connect(ctx.timing().response())?;
    peer.send(&msg(x))?;
    expect_hello(ctx, &mut peer, x + 1, &format!("`HELLO {x}`"))?;
    peer.send(&msg(x + 2))?;
    peer.shutdown_write();
    Ok(())
}

fn handshake_with(
    ctx: &Ctx,
    server: &mut Subject,
    x: i64,
    greeting: &[u8],
    z: &[u8],
) -> Result<(), Stop> {
    let r = handshake_inner(ctx, server, x, greeting, z);
    r.map_err(|e| explain_exit(server, e))
}

fn handshake_inner(
    ctx: &Ctx,
    server: &mut Subject,
    x: i64,
    greeting: &[u8],
    z: &[u8],
) -> Result<(), Stop> {
    let mut peer = server.connect(ctx.timing().response())?;
    peer.send(greeting)?;
    expect_hello(
        ctx,
        &mut peer,
        x + 1,
        &format!("`{}`", describe_bytes(greeting).trim_matches('"')),
    )?;
    peer.send(z)?;
    finish(&mut peer);
    Ok(())
}

/// Ends a connection after the client's last message: our FIN lets a server that reads
/// once more see the end, and taking what it still sends until its close avoids an RST
/// (unread bytes at our close) that could discard Z. The server's close is not awaited
/// past a short silence: a server that keeps the socket would cost seconds per handshake.
fn finish(peer: &mut Peer) {
    peer.shutdown_write();
    let _ = peer.recv_until_closed(REPLY_SILENCE);
}

/// Waits for a stdout line equal to `want` (trimmed) at index >= `from`.
fn wait_stdout(ctx: &Ctx, server: &Subject, from: usize, want: &str) -> Option<usize> {
    server
        .wait_line(from, ctx.timing().response(), |l| {
            l.stream == Stream::Stdout && trimmed_eq(l, want)
        })
        .map(|(i, _)| i)
}

/// Checks that stdout shows `HELLO x` then `HELLO z` after line index `from`, while the
/// server still runs; on failure explains (stderr instead, or lost at kill).
fn expect_printed(
    ctx: &Ctx,
    server: &mut Subject,
    from: usize,
    x: i64,
    z: i64,
) -> Result<usize, Stop> {
    let (first, second) = (format!("HELLO {x}"), format!("HELLO {z}"));
    let found = wait_stdout(ctx, server, from, &first)
        .and_then(|i| wait_stdout(ctx, server, i + 1, &second));
    if let Some(i) = found {
        return Ok(i + 1);
    }
    let lines = server.lines();
    let on_stderr = lines
        .iter()
        .any(|l| l.stream == Stream::Stderr && (trimmed_eq(l, &first) || trimmed_eq(l, &second)));
    let expected = format!("stdout lines `{first}` then `{second}` while the server runs");
    if on_stderr {
        return Err(fail(
            expected,
            format!("they are on stderr: {}", quote_lines(&lines)),
        )
        .hint("print the HELLO lines to stdout (printf/print), not stderr"));
    }
    let stale = lines.iter().any(|l| {
        l.stream == Stream::Stdout
            && l.trimmed()
                .strip_prefix(first.as_str())
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
    });
    let sloppy = lines
        .iter()
        .any(|l| l.stream == Stream::Stdout && l.text.contains(&first));
    // Kill it and look again: stdio buffers are lost on SIGKILL, so the lines will not
    // come, but a line that arrives now was merely late.
    server.kill();
    let after = server.lines();
    let actual = format!(
        "within {:?}: {}",
        ctx.timing().response(),
        quote_lines(&lines)
    );
    let stop = fail(expected, actual);
    Err(if stale {
        stop.hint(HINT_STALE)
    } else if sloppy {
        stop.hint("compare the exact text: `HELLO X` alone on its line (lines are compared after trimming trailing whitespace)")
    } else if after.len() > lines.len() {
        stop.hint("the lines came only at the end: call fflush(stdout) right after printing")
    } else {
        stop.hint(HINT_FLUSH)
    })
}

// ---------------------------------------------------------------------------------------
// Server checks.

fn handshake(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let mut peer = server.connect(ctx.timing().response())?;
    peer.send(&msg(5))?;
    expect_hello(ctx, &mut peer, 6, "`HELLO 5`")?;
    peer.send(&msg(7))?;
    finish(&mut peer);
    Ok(())
}

fn prints_lines(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    full_handshake(ctx, &mut server, 5)?;
    expect_printed(ctx, &mut server, 0, 5, 7)?;
    Ok(())
}

fn sequence_values(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let mut from = 0;
    for x in [0, 9, 99, 999] {
        full_handshake(ctx, &mut server, x)?;
        from = expect_printed(ctx, &mut server, from, x, x + 2)?;
    }
    Ok(())
}

fn stale_digits(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    full_handshake(ctx, &mut server, 123_456_789)?;
    let from = expect_printed(ctx, &mut server, 0, 123_456_789, 123_456_791)?;
    full_handshake(ctx, &mut server, 7)?;
    expect_printed(ctx, &mut server, from, 7, 9)?;
    Ok(())
}

/// A handshake whose Z is X+7; returns when an ERROR line shows (any stream) or the
/// response deadline passes.
fn wrong_z(ctx: &Ctx, server: &mut Subject) -> Result<Option<Line>, Stop> {
    let mut peer = server.connect(ctx.timing().response())?;
    peer.send(&msg(5))?;
    expect_hello(ctx, &mut peer, 6, "`HELLO 5`")?;
    peer.send(&msg(12))?;
    finish(&mut peer);
    Ok(server
        .wait_line(0, ctx.timing().response(), is_error_line)
        .map(|(_, l)| l))
}

fn wrong_z_error(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    match wrong_z(ctx, &mut server)? {
        Some(_) => Ok(()),
        None => Err(fail(
            "a line `ERROR` (stdout or stderr) after `HELLO 5`, `HELLO 6`, `HELLO 12`",
            quote_lines(&server.lines()),
        )
        .hint("compare Z with X+2 (Y+1) and print ERROR when they differ; flush the output")),
    }
}

fn error_on_stdout(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    match wrong_z(ctx, &mut server)? {
        Some(l) if l.stream == Stream::Stdout => Ok(()),
        Some(_) => Err(fail("the ERROR line on stdout", "it is on stderr")
            .hint("print ERROR like the other lines, with printf + fflush(stdout)")),
        None => Err(fail(
            "a line `ERROR` on stdout after `HELLO 5`, `HELLO 6`, `HELLO 12`",
            quote_lines(&server.lines()),
        )),
    }
}

fn no_error_on_correct_z(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    full_handshake(ctx, &mut server, 5)?;
    // A second handshake printed in full means the first one's lines are all out (no blind
    // wait for an ERROR that should not come).
    full_handshake(ctx, &mut server, 20)?;
    expect_printed(ctx, &mut server, 0, 20, 22)?;
    let lines = server.lines();
    if let Some(l) = lines.iter().find(|l| is_error_line(l)) {
        return Err(fail(
            "no ERROR line after correct handshakes (5, 6, 7 and 20, 21, 22)",
            format!("{}: {:?}", l.stream.as_str(), l.text),
        )
        .hint("Z is correct when Z == Y + 1 == X + 2"));
    }
    Ok(())
}

fn serves_after_malformed(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    for bad in [&b"GARBAGE"[..], b"HELLO", b"HELLO abc", b"HELLO "] {
        let mut peer = server.connect(ctx.timing().response())?;
        peer.send(bad)?;
        // Whatever the server answers (an error, nothing, a close) is fine; we end the
        // connection after a short silence so an iterative server can move on.
        let _ = peer.recv_until_silence(REPLY_SILENCE, REPLY_SILENCE);
        peer.close();
        alive(
            &mut server,
            &format!("a client sent {}", describe_bytes(bad)),
        )?;
    }
    full_handshake(ctx, &mut server, 40).map_err(|e| {
        e.hint("after a malformed greeting, close that connection and go on accepting")
    })?;
    alive(&mut server, "the malformed greetings")
}

fn serves_after_early_close(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let peer = server.connect(ctx.timing().response())?;
    peer.close();
    alive(&mut server, "a client closed without sending anything")?;
    let mut peer = server.connect(ctx.timing().response())?;
    peer.send(&msg(5))?;
    let _ = peer.recv_reply(msg(6).len(), ctx.timing().response());
    peer.close();
    alive(&mut server, "a client closed before sending HELLO Z")?;
    full_handshake(ctx, &mut server, 40).map_err(|e| {
        e.hint("recv() returning 0 means the client left: close that socket and go on accepting")
    })?;
    alive(&mut server, "the early closes")
}

fn with_terminator(x: i64, term: &[u8]) -> Vec<u8> {
    let mut m = msg(x);
    m.extend_from_slice(term);
    m
}

fn accepts_terminators(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let pad = [0u8; 24];
    for (name, term) in [
        ("\\n", &b"\n"[..]),
        ("\\r\\n", b"\r\n"),
        ("\\0", b"\0"),
        ("\\n\\0", b"\n\0"),
        ("NUL padding", &pad[..]),
    ] {
        handshake_with(
            ctx,
            &mut server,
            5,
            &with_terminator(5, term),
            &with_terminator(7, term),
        )
        .map_err(|e| {
            e.hint(format!(
                "a greeting ending with {name} is valid too: ignore trailing whitespace and NUL bytes when parsing"
            ))
        })?;
    }
    Ok(())
}

fn split_greeting(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let mut peer = server.connect(ctx.timing().response())?;
    // The second piece goes only once the server has read the first (or the response
    // deadline passed): on a busy machine a late server would otherwise find both.
    peer.send_pieces_consumed(
        &[b"HEL", b"LO 5"],
        Duration::from_millis(200),
        ctx.timing().response(),
    )?;
    expect_hello(
        ctx,
        &mut peer,
        6,
        "`HELLO 5` sent as `HEL`, a pause, `LO 5`",
    )
    .map_err(|e| e.hint(HINT_PARTIAL))?;
    Ok(())
}

/// The number of handshakes of many-connections: beyond the subject's 1024 open files.
pub const MANY: i64 = 1100;

fn many_connections(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    for i in 0..MANY {
        if let Err(e) = quick_handshake(ctx, &mut server, i) {
            return Err(match e {
                Stop::Fail(f) => Stop::Fail(crate::check::Failure {
                    expected: format!("{MANY} handshakes in a row all served"),
                    actual: format!("handshake {} of {MANY} failed: {}", i + 1, f.actual),
                    cause: f.cause,
                    // Failing near 1020 handshakes is the descriptor limit.
                    hint: if i > 900 {
                        Some(HINT_FD_LEAK.to_owned())
                    } else {
                        f.hint
                    },
                }),
                other => other,
            });
        }
    }
    alive(&mut server, &format!("{MANY} handshakes"))
}

fn restart_after_kill(ctx: &mut Ctx) -> CheckResult {
    let port = ctx.port()?;
    let mut first = ctx.server_on(port)?;
    let mut peer = first.connect(ctx.timing().response())?;
    peer.send(&msg(5))?;
    expect_hello(ctx, &mut peer, 6, "`HELLO 5`")?;
    // Killed mid-handshake: the kernel closes the server's side first, and our close then
    // leaves the server's port in TIME_WAIT, as after a real autograder run.
    first.kill();
    let _ = peer.recv_until_closed(ctx.timing().response());
    peer.close();
    drop(first);
    let mut second = ctx.server_on(port).map_err(|e| e.hint(HINT_REUSE))?;
    full_handshake(ctx, &mut second, 9)
}

fn exact_output(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    full_handshake(ctx, &mut server, 5)?;
    full_handshake(ctx, &mut server, 20)?;
    expect_printed(ctx, &mut server, 0, 20, 22)?;
    let want = ["HELLO 5", "HELLO 7", "HELLO 20", "HELLO 22"];
    let got: Vec<Line> = server.lines_of(Stream::Stdout);
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

fn silent_client_no_block(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let silent = server.connect(ctx.timing().response())?;
    full_handshake(ctx, &mut server, 5).map_err(|e| match e {
        Stop::Fail(mut f) => {
            f.expected = format!("{} while another connection stays silent", f.expected);
            Stop::Fail(f.hint(HINT_CONCURRENT))
        }
        other => other,
    })?;
    silent.close();
    Ok(())
}

/// Clients of concurrent-load.
pub const LOAD_CLIENTS: usize = 20;

/// Client `i`'s X in concurrent-load.
fn load_x(i: usize) -> i64 {
    1000 + i64::try_from(i).unwrap_or(0) * 10
}

fn concurrent_load(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let mut peers = Vec::with_capacity(LOAD_CLIENTS);
    for _ in 0..LOAD_CLIENTS {
        peers.push(server.connect(ctx.timing().response())?);
    }
    let response = ctx.timing().response();
    // Every client is connected before any speaks, and every greeting must be answered
    // before any client sends its third message: a server that serves one client at a time
    // cannot answer the second while the first holds its handshake open, whatever the slack.
    for (i, peer) in peers.iter_mut().enumerate() {
        peer.send(&msg(load_x(i)))?;
    }
    for (i, peer) in peers.iter_mut().enumerate() {
        let x = load_x(i);
        let r = peer.recv_reply(msg(x + 1).len(), response);
        if parse_hello(&r.bytes) != Some(x + 1) {
            return Err(fail(
                format!(
                    "all {LOAD_CLIENTS} clients get their reply while every one of them is \
                     still in its handshake"
                ),
                format!(
                    "{} sent `HELLO {x}` and {}",
                    peer.label(),
                    describe_reply(&r)
                ),
            )
            .hint(HINT_CONCURRENT));
        }
    }
    // Then each finishes on its own thread, pausing 0..475 ms (fixed, spread) first.
    let results: Vec<Result<(), Stop>> = std::thread::scope(|s| {
        let handles: Vec<_> = peers
            .into_iter()
            .enumerate()
            .map(|(i, mut peer)| {
                s.spawn(move || {
                    peer.pause(Duration::from_millis(((i * 7) % 20) as u64 * 25));
                    peer.send(&msg(load_x(i) + 2))?;
                    finish(&mut peer);
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Stop::Error("a client thread panicked".into())))
            })
            .collect()
    });
    for r in results {
        r.map_err(|e| e.hint(HINT_CONCURRENT))?;
    }
    // Every Z must be printed too: the server handled each client to the end.
    for i in 0..LOAD_CLIENTS {
        let z = format!("HELLO {}", 1000 + i * 10 + 2);
        if wait_stdout(ctx, &server, 0, &z).is_none() {
            return Err(fail(
                format!("a stdout line `{z}` for each of the {LOAD_CLIENTS} clients"),
                format!("no `{z}`; {}", quote_lines(&server.lines())),
            ));
        }
    }
    alive(&mut server, "20 concurrent clients")
}

fn thread_model(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let model = ctx.model().unwrap_or(Model::Iterative);
    // Connections held open mid-handshake (greeting answered, no Z yet): a threaded server
    // has a thread per client now; an event-driven one still has one thread.
    let mut held = Vec::new();
    let mut samples = Vec::new();
    for i in 0..3 {
        let mut peer = server.connect(ctx.timing().response())?;
        peer.send(&msg(100 + i))?;
        expect_hello(ctx, &mut peer, 101 + i, &format!("`HELLO {}`", 100 + i))?;
        held.push(peer);
        samples.push((server.threads().unwrap_or(0), server.processes().len()));
    }
    match model {
        Model::Threaded => {
            let mut seen = samples.iter().map(|s| s.0).max().unwrap_or(0);
            let more = wait_until(ctx.timing().response(), || {
                seen = seen.max(server.threads().unwrap_or(0));
                seen > 1
            });
            if !more {
                return Err(fail(
                    "more than one thread in the server process while 3 clients are being served",
                    format!("{seen} thread(s) (samples: {samples:?} as (threads, processes))"),
                )
                .hint("part B: create a thread per accepted client (pthread_create / threading.Thread)"));
            }
        }
        Model::EventDriven => {
            // Sample a few more times, spread over the replies of the held clients.
            for (i, peer) in held.iter_mut().enumerate() {
                let x = 100 + i64::try_from(i).unwrap_or(0);
                peer.send(&msg(x + 2))?;
                finish(peer);
                samples.push((server.threads().unwrap_or(0), server.processes().len()));
            }
            if let Some(bad) = samples.iter().find(|s| s.0 != 1 || s.1 != 1) {
                return Err(fail(
                    "exactly one process with one thread throughout, while clients are served",
                    format!("{} thread(s) in {} process(es) (samples: {samples:?})", bad.0, bad.1),
                )
                .hint("part C: one thread serves every client with select()/poll()/epoll on non-blocking sockets; no threads, no fork"));
            }
        }
        Model::Iterative => {
            return Err(Stop::Skip(
                "no thread model is required of an iterative server".into(),
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Client checks: the suite is the server.

/// What the fake server saw of one client run.
#[derive(Debug, Default)]
struct Seen {
    connected: bool,
    greeting: Vec<u8>,
    after: Option<Received>,
}

/// Runs the client with `seq = x` against a fake server that answers `reply` (None: the
/// right `HELLO x+1`), then records everything the client sends until it closes.
fn run_client(ctx: &mut Ctx, x: i64, reply: Option<&[u8]>) -> Result<(Finished, Seen), Stop> {
    let t = *ctx.timing();
    let reply = reply.map_or_else(|| msg(x + 1), <[u8]>::to_vec);
    let launch = Launch::new()
        .var("seq", x)
        .timeout(t.startup() + t.response() * 2 + t.exit());
    ctx.run_with_fake_server(launch, move |fake| {
        let mut seen = Seen::default();
        let Some(mut peer) = fake.accept(t.startup()) else {
            return seen;
        };
        seen.connected = true;
        seen.greeting = peer.recv_reply(msg(x).len(), t.response()).bytes;
        if peer.try_send(&reply).is_ok() {
            seen.after = Some(peer.recv_until_closed(t.response() + t.exit()));
        }
        seen
    })
}

fn no_connection(fin: &Finished) -> Stop {
    fail(
        "the client connects to the host and port of its first two arguments",
        format!(
            "no connection within the deadline; the client {}",
            fin.describe_end()
        ),
    )
    .hint("usage is: tcpclient <host> <port> <X>")
}

fn check_greeting(fin: &Finished, seen: &Seen, x: i64) -> Result<(), Stop> {
    if !seen.connected {
        return Err(no_connection(fin));
    }
    if parse_hello(&seen.greeting) != Some(x) {
        return Err(fail(
            format!("the greeting `HELLO {x}` (X from the third argument)"),
            format!("received {}", describe_bytes(&seen.greeting)),
        )
        .hint("send exactly \"HELLO \" followed by X in decimal"));
    }
    Ok(())
}

fn check_z(seen: &Seen, x: i64) -> Result<(), Stop> {
    let after = seen.after.clone().unwrap_or(Received {
        bytes: Vec::new(),
        end: End::Deadline,
    });
    if parse_hello(&after.bytes) != Some(x + 2) {
        return Err(fail(
            format!(
                "`HELLO {}` after the reply `HELLO {}`, then a close",
                x + 2,
                x + 1
            ),
            describe_reply(&after),
        )
        .hint("Z = Y + 1, where Y is the number in the server's reply"));
    }
    if after.end == End::Deadline {
        return Err(fail(
            "the client closes the connection after sending HELLO Z",
            format!(
                "it sent {} and kept the connection open",
                describe_bytes(&after.bytes)
            ),
        )
        .hint("close(sockfd) after sending HELLO Z"));
    }
    Ok(())
}

fn client_sends_greeting(ctx: &mut Ctx) -> CheckResult {
    let (fin, seen) = run_client(ctx, 5, None)?;
    check_greeting(&fin, &seen, 5)
}

fn client_prints_reply(ctx: &mut Ctx) -> CheckResult {
    let (fin, seen) = run_client(ctx, 5, None)?;
    check_greeting(&fin, &seen, 5)?;
    if !fin.any_line(Some(Stream::Stdout), &predicates::ord::eq("HELLO 6")) {
        return Err(fail(
            "a stdout line `HELLO 6` (the reply it received)",
            quote_lines(&fin.lines()),
        )
        .hint("print the message received from the server, on its own line, to stdout"));
    }
    Ok(())
}

fn client_sends_z(ctx: &mut Ctx) -> CheckResult {
    let (fin, seen) = run_client(ctx, 5, None)?;
    check_greeting(&fin, &seen, 5)?;
    check_z(&seen, 5)
}

fn client_exits(ctx: &mut Ctx) -> CheckResult {
    let (fin, seen) = run_client(ctx, 5, None)?;
    check_greeting(&fin, &seen, 5)?;
    if fin.timed_out || fin.flooded {
        return Err(fail(
            "the client exits by itself after the handshake",
            fin.describe_end(),
        )
        .hint("after sending HELLO Z, close the socket and return from main"));
    }
    Ok(())
}

fn client_sequence_values(ctx: &mut Ctx) -> CheckResult {
    for x in [0, 9, 99, 999] {
        let (fin, seen) = run_client(ctx, x, None)?;
        check_greeting(&fin, &seen, x)?;
        check_z(&seen, x)?;
    }
    Ok(())
}

/// After a bad reply: ERROR printed, nothing more sent, closed, exited.
fn expect_error_exit(fin: &Finished, seen: &Seen, reply: &str) -> CheckResult {
    let after = seen.after.clone().unwrap_or(Received {
        bytes: Vec::new(),
        end: End::Deadline,
    });
    if !after.bytes.is_empty() {
        return Err(fail(
            format!("nothing sent after the reply {reply}"),
            format!("the client sent {}", describe_bytes(&after.bytes)),
        )
        .hint("check Y == X + 1 (and that the reply is a HELLO message) before sending anything"));
    }
    if !fin.any_line(None, &predicates::str::starts_with("ERROR")) {
        return Err(fail(
            format!("a line `ERROR` after the reply {reply}"),
            quote_lines(&fin.lines()),
        )
        .hint("print ERROR when Y != X + 1"));
    }
    if after.end == End::Deadline || fin.timed_out {
        return Err(fail(
            format!("the client closes and exits after the reply {reply}"),
            format!(
                "the connection {}, and {}",
                if after.end == End::Deadline {
                    "stayed open"
                } else {
                    "was closed"
                },
                fin.describe_end()
            ),
        )
        .hint("close the socket and exit after printing ERROR"));
    }
    Ok(())
}

fn client_wrong_y_error(ctx: &mut Ctx) -> CheckResult {
    let (fin, seen) = run_client(ctx, 5, Some(b"HELLO 9"))?;
    check_greeting(&fin, &seen, 5)?;
    expect_error_exit(&fin, &seen, "`HELLO 9` to `HELLO 5`")
}

fn client_garbage_reply(ctx: &mut Ctx) -> CheckResult {
    let (fin, seen) = run_client(ctx, 5, Some(b"GARBAGE"))?;
    check_greeting(&fin, &seen, 5)?;
    expect_error_exit(&fin, &seen, "`GARBAGE`")
}

fn client_accepts_terminators(ctx: &mut Ctx) -> CheckResult {
    for (name, term) in [("\\n", &b"\n"[..]), ("\\r\\n", b"\r\n"), ("\\0", b"\0")] {
        let reply = with_terminator(6, term);
        let (fin, seen) = run_client(ctx, 5, Some(&reply))?;
        check_greeting(&fin, &seen, 5)?;
        check_z(&seen, 5).map_err(|e| {
            e.hint(format!(
                "a reply ending with {name} is valid too: ignore trailing whitespace and NUL bytes when parsing"
            ))
        })?;
    }
    Ok(())
}
