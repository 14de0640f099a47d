//! hello (assignment 001): the three-way `HELLO X` / `HELLO X+1` / `HELLO X+2` handshake.
//! Readings: DESIGN.md "hello (001)"; the check list is docs/checks.md (generated).
//!
//! Lines are compared after trimming trailing whitespace and NULs; other lines are allowed
//! except in the informational exact-output check. The suite's peer sends the bare form
//! (`HELLO 5`, no terminator) in one write unless a check says otherwise. Each check's
//! registry entry sits above its body in the part it belongs to; [`CHECKS`] is the report
//! order.

use codec::hello::Hello;

use crate::check::{Check, Model};
use crate::driver::{End, Line, Received};
use crate::suites::Suite;

pub mod client;
pub mod server_handshake;
pub mod server_models;
pub mod server_robustness;
pub mod session;

pub use server_models::LOAD_CLIENTS;
pub use server_robustness::{MANY, SEQUENTIAL};

use client as c;
use server_handshake as h;
use server_models as m;
use server_robustness as r;

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

/// Every hello check, in report order.
pub static CHECKS: &[Check] = &[
    h::HANDSHAKE,
    h::PRINTS_LINES,
    h::SEQUENCE_VALUES,
    h::STALE_DIGITS,
    h::WRONG_Z_ERROR,
    h::ERROR_ON_STDOUT,
    h::SERVES_AFTER_WRONG_Z,
    h::NO_ERROR_ON_CORRECT_Z,
    h::CLOSES_AFTER_Z,
    r::SERVES_AFTER_MALFORMED,
    r::SERVES_AFTER_EARLY_CLOSE,
    r::ACCEPTS_TERMINATORS,
    r::SPLIT_GREETING,
    r::SEQUENTIAL_CONNECTIONS,
    r::MANY_CONNECTIONS,
    r::RESTART_AFTER_KILL,
    r::IDLE_CPU,
    r::EXACT_OUTPUT,
    m::SILENT_CLIENT_NO_BLOCK,
    m::CONCURRENT_LOAD,
    m::THREAD_MODEL,
    c::SENDS_GREETING,
    c::PRINTS_REPLY,
    c::SENDS_Z,
    c::EXITS,
    c::SEQUENCE_VALUES,
    c::LONG_SEQUENCE,
    c::WRONG_Y_ERROR,
    c::GARBAGE_REPLY,
    c::ACCEPTS_TERMINATORS,
];

/// The ID of the check every server check that needs a reply rests on.
pub const HANDSHAKE_ID: &str = "hello.server.handshake";
/// The ID of the check about printed lines (what a check that reads them rests on).
pub const PRINTS_ID: &str = "hello.server.prints-lines";

// ---------------------------------------------------------------------------------------
// Hints: each is chosen from what was observed (see the functions below that pick them).

const HINT_SERVE_ON: &str = "a server serves client after client until it is killed: check \
                             every recv() and parse for errors and close that client instead of \
                             exiting";
const HINT_FLUSH: &str = "output lost when killed: call fflush(stdout) after printf, or \
                          print(..., flush=True); the autograder kills the server with SIGKILL";
const HINT_NEWLINE: &str = "the line was written (it is in the pipe) but never ended: print a \
                            newline after each line (\"HELLO %d\\n\"), or the grader reads \
                            nothing until the server dies";
const HINT_STALE: &str = "a reused buffer is not cleared or terminated: use the byte count \
                          recv() returned (buf[n] = '\\0') before parsing or printing";
const HINT_CUT: &str = "the reply was cut short: send every byte of it (the length given to \
                        send() must count all the digits) and check what send() returns";
const HINT_INCREMENT: &str = "the reply is HELLO X+1, where X is the number the client sent";
const HINT_NOT_ACCEPTED: &str = "the server never accepted this connection (it stayed in the \
                                 listen queue): is it busy with another client, or stuck before \
                                 accept()?";
const HINT_WHOLE_GREETING: &str = "did the server read the whole greeting? it is sent without a newline: parse what recv() \
     returned instead of waiting for \\n";
const HINT_SLOPPY: &str = "compare the exact text: `HELLO X` alone on its line (lines are \
                           compared after trimming trailing whitespace)";
const HINT_PARTIAL: &str = "TCP is a byte stream: one recv() may return part of a message; \
                            keep reading until the message is complete";
const HINT_CONCURRENT: &str = "a threaded server hands each accepted socket to a new thread at \
                               once (and holds no lock while it waits for a client); an \
                               event-driven one never blocks on one client (select/poll with \
                               non-blocking sockets)";

/// `HELLO x` in the bare form.
pub fn msg(x: i64) -> Vec<u8> {
    let mut out = Vec::new();
    Hello::new(x).encode(&mut out);
    out
}

/// `HELLO x` followed by `term`.
pub fn with_terminator(x: i64, term: &[u8]) -> Vec<u8> {
    let mut m = msg(x);
    m.extend_from_slice(term);
    m
}

/// Reads one hello message as received (a reply, a greeting, a Z): `HELLO <decimal>`,
/// trailing whitespace and NULs ignored ([`Hello::decode_lenient`]).
pub fn parse_hello(bytes: &[u8]) -> Option<i64> {
    Hello::decode_lenient(bytes).ok().map(|h| h.seq)
}

/// Whether a printed line is `HELLO want` (trailing whitespace and NULs trimmed; the text
/// must be exactly that, so `HELLO 07` or `Received: HELLO 7` is not).
pub fn printed_is(line: &str, want: i64) -> bool {
    crate::driver::trim_line(line) == format!("HELLO {want}")
}

/// Whether a printed line is an ERROR line (`ERROR`, `ERROR: wrong Z`, leading spaces), or
/// ends with `ERROR` (glued to a HELLO line printed without its newline: that is the
/// printing check's failure, not a missing ERROR).
pub fn is_error_line(line: &str) -> bool {
    let t = crate::driver::trim_line(line).trim_start();
    t.starts_with("ERROR") || t.ends_with("ERROR")
}

/// Whether a printed line shows `HELLO x` followed by more digits: a stale buffer.
pub fn printed_stale(line: &str, x: i64) -> bool {
    crate::driver::trim_line(line)
        .strip_prefix(&format!("HELLO {x}"))
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
}

/// `e` with the scenario's `hint` ("go on accepting" after a wrong Z, malformed greetings,
/// early closes, many clients), unless its own hint is about the content of a reply (cut
/// short, stale digits, the increment): then the server did serve that client and its reply
/// is what is wrong, so the scenario's hint would contradict what was seen.
pub fn serve_on_hint(e: crate::check::Stop, hint: &str) -> crate::check::Stop {
    use crate::check::Stop;
    match &e {
        Stop::Fail(f)
            if f.hint
                .as_deref()
                .is_some_and(|h| [HINT_CUT, HINT_STALE, HINT_INCREMENT].contains(&h)) =>
        {
            e
        }
        _ => e.hint(hint),
    }
}

/// The hint for a reply `r` that is not `HELLO want`, from what it holds: a wrong number
/// (the increment), a number cut short (never "X+1" then), stale digits after the right
/// ones, or nothing at all (never accepted, or accepted and not answered).
pub fn reply_hint(want: i64, r: &Received, accepted: bool) -> Option<&'static str> {
    let want_digits = want.to_string();
    if let Some(got) = parse_hello(&r.bytes) {
        let got_digits = got.to_string();
        return Some(
            if got_digits.len() < want_digits.len() && want_digits.starts_with(&got_digits) {
                HINT_CUT
            } else if got_digits.len() > want_digits.len() {
                HINT_STALE
            } else {
                HINT_INCREMENT
            },
        );
    }
    if r.bytes.is_empty() {
        return match (r.end, accepted) {
            (End::Deadline, false) => Some(HINT_NOT_ACCEPTED),
            (End::Deadline, true) => Some(HINT_WHOLE_GREETING),
            _ => None,
        };
    }
    if r.bytes.starts_with(b"HELLO ") && r.bytes.len() > msg(want).len() {
        return Some(HINT_STALE);
    }
    if msg(want).starts_with(&r.bytes) {
        return Some(HINT_CUT);
    }
    None
}

/// The hint for `HELLO x` missing from stdout while the server ran: `before` are the lines
/// seen while it ran, `after` those once it was killed. A line that only came at the kill
/// was in the pipe without its newline (SIGKILL loses stdio buffers, so it cannot have been
/// a buffered line): the fix is the newline, not fflush.
pub fn printing_hint(x: i64, before: &[Line], after: &[Line]) -> &'static str {
    let first = format!("HELLO {x}");
    let stdout = |l: &&Line| l.stream == crate::driver::Stream::Stdout;
    if before
        .iter()
        .filter(stdout)
        .any(|l| printed_stale(&l.text, x))
    {
        HINT_STALE
    } else if after.iter().filter(stdout).count() > before.iter().filter(stdout).count() {
        HINT_NEWLINE
    } else if before
        .iter()
        .filter(stdout)
        .any(|l| l.text.contains(&first))
    {
        HINT_SLOPPY
    } else {
        HINT_FLUSH
    }
}
