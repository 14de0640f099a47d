//! The suites: one module per protocol, each a `static CHECKS: &[Check]`. Adding a suite is
//! its module plus one line in [`SUITES`] (see README.md in this folder).

use crate::check::{Check, Model};
use crate::timing::Timing;

pub mod common;
pub mod framed;
pub mod hello;
pub mod messages;
pub mod multiclient;

/// A protocol's suite: its checks and how to run its programs.
#[derive(Debug)]
pub struct Suite {
    /// `hello`, `framed`, `messages`, `multiclient`.
    pub name: &'static str,
    /// The assignment text it reads (`001`).
    pub seed: &'static str,
    /// Its checks, in report order.
    pub checks: &'static [Check],
    /// The server models the assignment asks for (empty: none).
    pub models: &'static [Model],
    /// The reference server's name for `conformance ref`.
    pub server_program: &'static str,
    /// The reference client's name.
    pub client_program: &'static str,
    /// A server's standard arguments (placeholders).
    pub server_args: &'static [&'static str],
    /// A client's standard arguments.
    pub client_args: &'static [&'static str],
    /// Whether the reference server takes `--period SECS` (multiclient).
    pub period_flag: bool,
}

impl Suite {
    /// Flags appended to the reference server's arguments: `--model`, `--period`.
    pub fn reference_flags(&self, model: Option<Model>, timing: &Timing) -> Vec<String> {
        let mut v = Vec::new();
        if let (false, Some(m)) = (self.models.is_empty(), model) {
            v.push("--model".to_owned());
            v.push(m.as_str().to_owned());
        }
        if self.period_flag && timing.period != crate::timing::PERIOD {
            v.push("--period".to_owned());
            v.push(timing.period.as_secs().max(1).to_string());
        }
        v
    }
}

/// Every suite, in the order `run all` and the docs use. A suite without checks yet is
/// listed all the same (it simply runs nothing).
pub static SUITES: &[Suite] = &[
    hello::SUITE,
    framed::SUITE,
    messages::SUITE,
    multiclient::SUITE,
];

/// The suite called `name`.
pub fn find(name: &str) -> Option<&'static Suite> {
    SUITES.iter().find(|s| s.name == name)
}

/// Every check of every suite.
pub fn all_checks() -> impl Iterator<Item = &'static Check> {
    SUITES.iter().flat_map(|s| s.checks.iter())
}
