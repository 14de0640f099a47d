//! messages (assignment 004): MessageRequest / MessageResponse records (magic 0xAE73), the
//! 1-second gap rule, argument checks, for the server and the client.
//! Readings: DESIGN.md "messages (004)"; the check list: docs/checks.md.
//!
//! Every record the suite builds or parses goes through `codec::messages` ([`records`]).
//! Server checks talk to the server through a [`session::Server`] (`create`, `read`,
//! `refuses`), which explains a failure by the server's death when it died
//! ([`diagnose`]). Families of one shape are one runner and a table of cases
//! (argument errors, invalid records, bad responses).
//!
//! "Nothing stored" is proved by a later read on the same server (a valid MessageResponse
//! with no items), which also proves that the server serves on. Output wording is free: the
//! checks look for the senders and texts, never for phrases.
//!
//! Timing: the gap checks wait at most the gap plus slack after the last byte; argument runs
//! may take the start-up deadline plus the exit deadline (an interpreter starting on a busy
//! machine); only a program that hangs waits that long. The checks on fixed ports (1023, 0,
//! 1024, 64000, 64001, 65535) take a lock, so one run never races itself for them.

use crate::check::{Check, Stop};
use crate::suites::Suite;

mod client;
mod client_args;
mod client_read;
pub mod diagnose;
mod records;
mod server_args;
mod server_gap;
mod server_invalid;
mod server_store;
mod session;

/// The messages suite.
pub const SUITE: Suite = Suite {
    name: "messages",
    seed: "004",
    checks: CHECKS,
    models: &[],
    server_program: "messages-server",
    client_program: "messages-client",
    server_args: &["{port}"],
    client_args: &["{host}", "{port}", "{user}", "{request}"],
    period_flag: false,
};

/// Every messages check, in report order.
pub static CHECKS: &[Check] = &[
    server_args::ARG_COUNT,
    server_args::ARG_NOT_NUMBER,
    server_args::PORT_RANGE,
    server_args::PORT_BOUNDS,
    server_args::ARG_EXIT_STATUS,
    server_store::CREATE_THEN_READ,
    server_store::EMPTY_READ,
    server_store::FIFO_ORDER,
    server_store::REMOVED_AFTER_READ,
    server_store::MORE_MSGS_CHECK,
    server_store::RECEIVERS_APART,
    server_store::TWO_SENDERS,
    server_store::UTF8_LENGTHS,
    server_store::LARGEST_FIELDS,
    server_invalid::BAD_MAGIC,
    server_invalid::BAD_ID,
    server_invalid::EMPTY_NAME,
    server_invalid::READ_WITH_RECEIVER,
    server_invalid::READ_WITH_MESSAGE,
    server_invalid::CREATE_EMPTY_RECEIVER,
    server_invalid::CREATE_EMPTY_MESSAGE,
    server_invalid::TRUNCATED_RECORD,
    server_invalid::EMPTY_CONNECTION,
    server_invalid::EXTRA_BYTES,
    server_gap::HEADER_STALL,
    server_gap::BODY_STALL,
    server_gap::SLOW_PIECES,
    server_gap::STALL_NO_BLOCK,
    server_store::LOG_LINES,
    client_args::ARG_COUNT,
    client_args::BAD_HOST,
    client_args::BAD_PORT,
    client_args::BAD_USER,
    client_args::BAD_TYPE,
    client_args::ARG_EXIT_STATUS,
    client_args::CONNECT_ERROR,
    client::READ_RECORD,
    client::CREATE_RECORD,
    client::PROMPT_BEFORE_CONNECT,
    client::CREATE_REPROMPT,
    client_read::PRINTS_MESSAGES,
    client_read::RESPONSE_PIECES,
    client_read::RESPONSE_LARGE,
    client_read::EMPTY_RESPONSE,
    client_read::MORE_MSGS,
    client_read::BAD_RESPONSE,
    client_read::RESPONSE_STALL,
    client::UTF8,
];

// Hints more than one part of the suite gives.

const HINT_GAP: &str = "set a 1-second timeout on the accepted socket right after accept() \
                        (settimeout(1) / SO_RCVTIMEO) and treat a timeout as an error: print \
                        it, close that socket, go back to accept()";
const HINT_VALIDATE: &str = "check every field of the fixed header (3.3.1) before storing or \
                             answering anything; on an invalid record print an error, close \
                             that socket and go back to accept()";
const HINT_BYTES: &str = "lengths are UTF-8 byte counts: len(s.encode('utf-8')), not len(s); \
                          send the encoded bytes";
const HINT_ORDER: &str = "16-bit fields are big-endian (network byte order): \
                          struct.pack('!H', ...) / htons(), or int.to_bytes(2, 'big')";
const HINT_TRACEBACK: &str = "catch the error (try/except) and print a message of your own: a \
                              traceback is not an appropriate error message";

/// Adds `hint` to a failure that has none yet (a more specific one stays).
fn or_hint(stop: Stop, hint: &str) -> Stop {
    match stop {
        Stop::Fail(f) if f.hint.is_none() => Stop::Fail(f.hint(hint)),
        other => other,
    }
}
