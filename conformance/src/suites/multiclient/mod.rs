//! multiclient (assignment 002): servers that serve many clients at once, give each an ID
//! that is never reused, log every connect and disconnect with the count of connected
//! clients, and print that count every minute. Readings: DESIGN.md "multiclient (002)".
//!
//! - [`lines`]: the readers of event and count lines (information, not wording);
//! - [`session`]: a server and the suite's clients, its ID scheme learnt from its first
//!   connect line (every later ID is judged relative to it), diagnoses of missing lines;
//! - [`events`], [`concurrency`], [`periodic`], [`restart`]: the checks, by part.
//!
//! Each behaviour is judged on its own: IDs from 0 fail `ids-start-at-1` only, other
//! wording fails `exact-wording` only; a check that cannot read any connect line is
//! reported blocked by `connect-line`. The base EasyTCP traffic is unspecified; the checks
//! send none except `half-message`.

pub mod concurrency;
pub mod events;
pub mod lines;
pub mod periodic;
pub mod restart;
pub mod session;

use crate::check::{Check, Model};
use crate::suites::Suite;

/// The multiclient suite.
pub const SUITE: Suite = Suite {
    name: "multiclient",
    seed: "002",
    checks: CHECKS,
    models: &[Model::Threaded, Model::EventDriven],
    server_program: "multiclient-server",
    client_program: "",
    server_args: &["{port}"],
    client_args: &[],
    period_flag: true,
};

/// Every multiclient check, in report order.
pub static CHECKS: &[Check] = &[
    events::CONNECT_LINE_CHECK,
    events::IDS_START_AT_1,
    events::DISCONNECT_LINE,
    events::RESET_DISCONNECT,
    events::IDS_NEVER_REUSED,
    events::EXACT_WORDING,
    concurrency::CONCURRENT,
    concurrency::MANY_CLIENTS,
    concurrency::HALF_MESSAGE,
    periodic::PERIODIC_COUNT,
    restart::RESTART_AFTER_KILL,
    concurrency::THREAD_MODEL,
];
