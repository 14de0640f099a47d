//! Client checks: the suite is the server (001 Steps 1 and 3).

use crate::check::{Check, CheckResult, Level::*, Stop, fail};
use crate::driver::{Ctx, End, Finished, Launch, Received, Stream, describe_bytes};
use crate::suites::common::{self, Seen, describe_received, quote_lines};

use super::{msg, parse_hello, with_terminator};

/// What the fake server saw of one client run: the greeting, and everything after the
/// reply until the client closed (None: the reply could not be sent).
#[derive(Debug, Default, Clone)]
pub struct Exchange {
    greeting: Vec<u8>,
    after: Option<Received>,
}

impl Exchange {
    fn after(&self) -> Received {
        self.after.clone().unwrap_or(Received {
            bytes: Vec::new(),
            end: End::Deadline,
        })
    }
}

/// Runs the client with `seq = x` against a fake server that answers `reply` (None: the
/// right `HELLO x+1`), then records everything the client sends until it closes.
fn run_client(
    ctx: &mut Ctx,
    x: i64,
    reply: Option<&[u8]>,
) -> Result<(Finished, Seen<Exchange>), Stop> {
    run_client_as(ctx, x, reply, false)
}

/// [`run_client`] for a check that judges only the exchange: the client is stopped once
/// it is over (a client that never exits costs the check that judges its exit, not this).
fn run_exchange(
    ctx: &mut Ctx,
    x: i64,
    reply: Option<&[u8]>,
) -> Result<(Finished, Seen<Exchange>), Stop> {
    run_client_as(ctx, x, reply, true)
}

fn run_client_as(
    ctx: &mut Ctx,
    x: i64,
    reply: Option<&[u8]>,
    exchange_only: bool,
) -> Result<(Finished, Seen<Exchange>), Stop> {
    let t = *ctx.timing();
    let reply = reply.map_or_else(|| msg(x + 1), <[u8]>::to_vec);
    let mut launch = Launch::new()
        .var("seq", x)
        .timeout(t.startup() + t.response() * 2 + t.exit());
    if exchange_only {
        launch = launch.exchange_only();
    }
    common::run_client(ctx, launch, t.startup(), move |peer, saw: &mut Exchange| {
        saw.greeting = peer.recv_reply(msg(x).len(), t.response()).bytes;
        if peer.try_send(&reply).is_ok() {
            saw.after = Some(peer.recv_until_closed(t.response() + t.exit()));
        }
    })
}

fn check_greeting(fin: &Finished, seen: &Seen<Exchange>, x: i64) -> Result<(), Stop> {
    if !seen.connected {
        return Err(common::no_connection(fin, "tcpclient <host> <port> <X>"));
    }
    if parse_hello(&seen.saw.greeting) != Some(x) {
        return Err(fail(
            format!("the greeting `HELLO {x}` (X from the third argument)"),
            format!("received {}", describe_bytes(&seen.saw.greeting)),
        )
        .hint("send exactly \"HELLO \" followed by X in decimal"));
    }
    Ok(())
}

/// The hint for a Z that is not `HELLO want`: one cut short is a buffer too small for the
/// digits, not a wrong sum.
pub fn z_hint(want: i64, got: &[u8]) -> &'static str {
    let full = msg(want);
    if !got.is_empty() && got.len() < full.len() && full.starts_with(got) {
        "the Z message was cut short: make the buffer it is built in large enough for any X \
         (snprintf into char[32] or more), and send its whole length"
    } else {
        "Z = Y + 1, where Y is the number in the server's reply"
    }
}

fn check_z(seen: &Seen<Exchange>, x: i64) -> Result<(), Stop> {
    let after = seen.saw.after();
    if parse_hello(&after.bytes) != Some(x + 2) {
        return Err(fail(
            format!(
                "`HELLO {}` after the reply `HELLO {}`, then a close",
                x + 2,
                x + 1
            ),
            describe_received(&after, "client"),
        )
        .hint(z_hint(x + 2, &after.bytes)));
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

pub static SENDS_GREETING: Check = Check::new(
    "hello.client.sends-greeting",
    Required,
    "001 Step 1",
    "connects and sends `HELLO X` for its argument X",
    client_sends_greeting,
);

fn client_sends_greeting(ctx: &mut Ctx) -> CheckResult {
    let (fin, seen) = run_exchange(ctx, 5, None)?;
    check_greeting(&fin, &seen, 5)
}

pub static PRINTS_REPLY: Check = Check::new(
    "hello.client.prints-reply",
    Required,
    "001 Step 3",
    "prints the line `HELLO Y` it received",
    client_prints_reply,
);

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

pub static SENDS_Z: Check = Check::new(
    "hello.client.sends-z",
    Required,
    "001 Step 3",
    "on Y = X+1 sends `HELLO X+2` and closes the connection",
    client_sends_z,
);

fn client_sends_z(ctx: &mut Ctx) -> CheckResult {
    let (fin, seen) = run_exchange(ctx, 5, None)?;
    check_greeting(&fin, &seen, 5)?;
    check_z(&seen, 5)
}

pub static EXITS: Check = Check::new(
    "hello.client.exits",
    Required,
    "001 Step 3",
    "exits by itself after the handshake, within the deadline",
    client_exits,
);

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

/// A full client handshake for each X: greeting and Z right.
fn handshakes(ctx: &mut Ctx, xs: &[i64]) -> CheckResult {
    for &x in xs {
        let (fin, seen) = run_exchange(ctx, x, None)?;
        check_greeting(&fin, &seen, x)?;
        check_z(&seen, x)?;
    }
    Ok(())
}

/// X values of client sequence-values (digit roll-over). A new case is one value here.
const SEQUENCE: &[i64] = &[0, 9, 99, 999];

pub static SEQUENCE_VALUES: Check = Check::new(
    "hello.client.sequence-values",
    Required,
    "001 Steps 1 and 3",
    "X = 0, 9, 99, 999: greeting and Z right",
    client_sequence_values,
);

fn client_sequence_values(ctx: &mut Ctx) -> CheckResult {
    handshakes(ctx, SEQUENCE)
}

/// X values of long-sequence: nine and ten digits (up to 2^31-3, the largest X whose Z
/// still fits a signed 32-bit int), past any small fixed buffer. A new case is one value.
const LONG: &[i64] = &[123_456_789, 2_147_483_645];

pub static LONG_SEQUENCE: Check = Check::new(
    "hello.client.long-sequence",
    Required,
    "001 Steps 1 and 3",
    "X = 123456789 and 2147483645: greeting and Z right (no small fixed buffer)",
    client_long_sequence,
);

fn client_long_sequence(ctx: &mut Ctx) -> CheckResult {
    handshakes(ctx, LONG)
}

/// After a bad reply: ERROR printed, nothing more sent, closed, exited.
fn expect_error_exit(fin: &Finished, seen: &Seen<Exchange>, reply: &str) -> CheckResult {
    let after = seen.saw.after();
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

pub static WRONG_Y_ERROR: Check = Check::new(
    "hello.client.wrong-y-error",
    Required,
    "001 Step 3",
    "on Y != X+1 prints `ERROR`, sends nothing more, closes, exits",
    client_wrong_y_error,
);

fn client_wrong_y_error(ctx: &mut Ctx) -> CheckResult {
    let (fin, seen) = run_client(ctx, 5, Some(b"HELLO 9"))?;
    check_greeting(&fin, &seen, 5)?;
    expect_error_exit(&fin, &seen, "`HELLO 9` to `HELLO 5`")
}

pub static GARBAGE_REPLY: Check = Check::new(
    "hello.client.garbage-reply",
    Required,
    "001 Step 3; message format",
    "on a reply that is no HELLO message prints `ERROR`, sends nothing, exits",
    client_garbage_reply,
);

fn client_garbage_reply(ctx: &mut Ctx) -> CheckResult {
    let (fin, seen) = run_client(ctx, 5, Some(b"GARBAGE"))?;
    check_greeting(&fin, &seen, 5)?;
    expect_error_exit(&fin, &seen, "`GARBAGE`")
}

/// Terminators of the reply a client must take. A new case is one line.
const TERMINATORS: &[(&str, &[u8])] = &[("\\n", b"\n"), ("\\r\\n", b"\r\n"), ("\\0", b"\0")];

pub static ACCEPTS_TERMINATORS: Check = Check::new(
    "hello.client.accepts-terminators",
    Recommended,
    "001 message format",
    "replies ending `\\n`, `\\r\\n`, `\\0` still complete the handshake",
    client_accepts_terminators,
);

fn client_accepts_terminators(ctx: &mut Ctx) -> CheckResult {
    for (name, term) in TERMINATORS {
        let reply = with_terminator(6, term);
        let (fin, seen) = run_exchange(ctx, 5, Some(&reply))?;
        check_greeting(&fin, &seen, 5)?;
        check_z(&seen, 5).map_err(|e| {
            e.hint(format!(
                "a reply ending with {name} is valid too: ignore trailing whitespace and NUL \
                 bytes when parsing"
            ))
        })?;
    }
    Ok(())
}
