//! framed (assignment 003): `[u32 big-endian length][payload]` frames; the server answers
//! each payload without its first 10 characters. Readings and the process contracts:
//! DESIGN.md "framed (003)"; the check list: docs/checks.md.
//!
//! The assignment's interface is a pair of Python classes; DESIGN.md turns it into processes:
//! a server `PROG <port>` serving clients one after another until killed, and a client
//! `PROG <host> <port>` that sends each stdin line as a frame and prints each reply payload
//! as a line (fixtures/adapters/framed.py runs the classes that way). "Served" always means
//! that a frame gets exactly the right reply, not merely that a connection is accepted.
//!
//! The suite's payloads are ASCII unless a check says otherwise, so characters are bytes and
//! every reading of "the first 10 characters" agrees.
//!
//! Parts: `frames` (payloads, frames, reading one), `session` (a server under test and its
//! clients), [`hints`] (evidence-first hint rules), `server` and `server_robustness`
//! (server checks), `client` (client checks). A family of checks of one shape is a table of
//! cases with one runner, which finds its case by the running check's ID (`case_of`).

use std::time::Duration;

use crate::check::{Check, Stop, harness_error};
use crate::driver::Ctx;
use crate::suites::Suite;
use crate::timing::Timing;

mod client;
mod frames;
pub mod hints;
mod server;
mod server_robustness;
mod session;

pub use client::ADAPTER_CONTRACT_MARK;
pub use frames::FrameFault;

/// The framed suite.
pub const SUITE: Suite = Suite {
    name: "framed",
    seed: "003",
    checks: CHECKS,
    models: &[],
    server_program: "framed-server",
    client_program: "framed-client",
    server_args: &["{port}"],
    client_args: &["{host}", "{port}"],
    period_flag: false,
};

use client::LOST_SERVER;
use server::EXCHANGES;
use server_robustness::NEXT_CLIENT;

/// Every framed check, in report order.
pub static CHECKS: &[Check] = &[
    EXCHANGES[0].check,   // framed.server.echo-small
    EXCHANGES[1].check,   // framed.server.echo-medium
    EXCHANGES[2].check,   // framed.server.echo-large
    EXCHANGES[3].check,   // framed.server.series
    EXCHANGES[4].check,   // framed.server.pipelined
    server::PIECES,       // framed.server.pieces
    EXCHANGES[5].check,   // framed.server.coalesced
    EXCHANGES[6].check,   // framed.server.short-payloads
    NEXT_CLIENT[0].check, // framed.server.next-client-after-close
    NEXT_CLIENT[1].check, // framed.server.next-client-after-reset
    server_robustness::BACKLOG,
    NEXT_CLIENT[2].check, // framed.server.huge-length
    NEXT_CLIENT[3].check, // framed.server.invalid-utf8
    EXCHANGES[7].check,   // framed.server.multibyte
    client::SENDS_FRAMES,
    client::PRINTS_REPLIES,
    client::SPLIT_REPLY,
    client::LARGE_REPLY,
    LOST_SERVER[0].check, // framed.client.server-close
    LOST_SERVER[1].check, // framed.client.server-reset
    LOST_SERVER[2].check, // framed.client.server-close-mid-reply
    client::MULTIBYTE_LINE,
    client::RECEIVE_CONTRACT,
];

/// "Served" means the exact reply: a server that cannot answer one small frame cannot be
/// judged on anything else, and every other server check is reported blocked by this one
/// when it fails (instead of repeating its message).
const NEEDS_ECHO: &[&str] = &["framed.server.echo-small"];

/// The case of a family table that the running check is. A table line's check has the
/// family's runner as its body, so the case is always found; an ID missing from its table
/// would be the suite's own bug, reported as errored.
fn case_of<T>(
    cases: &'static [T],
    ctx: &Ctx,
    check: impl Fn(&T) -> &Check,
) -> Result<&'static T, Stop> {
    let id = ctx.check().id;
    cases
        .iter()
        .find(|c| check(c).id == id)
        .ok_or_else(|| harness_error(format!("{id} is not in its family's table of cases")))
}

/// Deadline for a large transfer (650000 bytes each way through a recv(1024) loop).
fn bulk(t: &Timing) -> Duration {
    t.within(Duration::from_secs(5))
}
