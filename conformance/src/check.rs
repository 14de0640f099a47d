//! What a check is: the static registry entry ([`Check`]) and what running it yields
//! ([`Outcome`]). Checks are data so that `--list`, `conformance list`, every report and
//! docs/checks.md come from one place.

use std::fmt;

use serde::Serialize;

use crate::driver::Ctx;

/// Which side of the protocol the subject plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The subject is a server; the suite plays its clients.
    Server,
    /// The subject is a client; the suite plays its server.
    Client,
}

impl Role {
    /// The lower-case name used in IDs and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Client => "client",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much a check's failure weighs (DESIGN.md "Levels").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// The assignment says so: a failure fails the run.
    Required,
    /// Robustness a careful implementation has: fails the run only with `--strict`.
    Recommended,
    /// Reported, never fails the run.
    Informational,
}

impl Level {
    /// The lower-case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Required => "required",
            Level::Recommended => "recommended",
            Level::Informational => "informational",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The server architecture an assignment part asks for (hello parts A, B, C; multiclient).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Model {
    /// Serves one client after another (hello part A).
    Iterative,
    /// One thread per client (hello part B).
    Threaded,
    /// One thread, non-blocking sockets and select/poll/epoll (hello part C).
    EventDriven,
}

impl Model {
    /// Every model, in the order of the assignment's parts.
    pub const ALL: &'static [Model] = &[Model::Iterative, Model::Threaded, Model::EventDriven];
    /// The models that serve clients at once.
    pub const CONCURRENT: &'static [Model] = &[Model::Threaded, Model::EventDriven];

    /// The name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Model::Iterative => "iterative",
            Model::Threaded => "threaded",
            Model::EventDriven => "event-driven",
        }
    }

    /// Parses a command-line name.
    pub fn parse(s: &str) -> Option<Model> {
        Model::ALL.iter().copied().find(|m| m.as_str() == s)
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A check's body. `Ok(())` is a pass; every other verdict travels as a [`Stop`] so that
/// helpers deep inside a scenario can end the check with `?`.
pub type CheckFn = fn(&mut Ctx) -> CheckResult;

/// What a check body returns.
pub type CheckResult = Result<(), Stop>;

/// One entry of the registry.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    /// Fixed ID `<suite>.<role>.<behaviour>` (docs/contracts.md section 3); never reused.
    pub id: &'static str,
    /// The suite (protocol) name: `hello`, `framed`, `messages`, `multiclient`.
    pub suite: &'static str,
    /// The subject's role.
    pub role: Role,
    /// How much a failure weighs.
    pub level: Level,
    /// The passage of the assignment it enforces, e.g. "001 Step 2".
    pub spec: &'static str,
    /// One line: what a conforming program does.
    pub summary: &'static str,
    /// The models it applies to; empty means every model (and suites without models).
    pub models: &'static [Model],
    /// The body.
    pub run: CheckFn,
}

impl Check {
    /// The behaviour part of the ID (after `<suite>.<role>.`).
    pub fn behaviour(&self) -> &'static str {
        self.id.rsplit('.').next().unwrap_or(self.id)
    }

    /// Whether the check applies to a subject of this model (None: the model is unknown,
    /// which counts as the simplest one, iterative, for checks restricted to some models).
    pub fn applies_to(&self, model: Option<Model>) -> bool {
        self.models.is_empty() || model.is_some_and(|m| self.models.contains(&m))
    }
}

/// Why a check did not pass: the subject misbehaved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// What a conforming program does, in words a student understands.
    pub expected: String,
    /// What this one did.
    pub actual: String,
    /// The usual mistake behind this symptom, when one fits.
    pub hint: Option<String>,
}

impl Failure {
    /// A failure without a hint.
    pub fn new(expected: impl Into<String>, actual: impl Into<String>) -> Failure {
        Failure {
            expected: expected.into(),
            actual: actual.into(),
            hint: None,
        }
    }

    /// Adds the hint for the common mistake.
    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }

    /// The expected/actual/hint text shown by the human report and the cargo test harness.
    pub fn text(&self) -> String {
        let mut s = format!("expected: {}\n  actual: {}", self.expected, self.actual);
        if let Some(h) = &self.hint {
            s.push_str("\n    hint: ");
            s.push_str(h);
        }
        s
    }
}

/// A check ended early: failed, skipped, or the harness could not run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The subject does not conform.
    Fail(Failure),
    /// The check does not apply (reason).
    Skip(String),
    /// The suite itself could not run the check (no port, spawn failed, /proc unreadable).
    Error(String),
}

impl From<Failure> for Stop {
    fn from(f: Failure) -> Stop {
        Stop::Fail(f)
    }
}

/// Shorthand for `Err(Stop::Fail(Failure::new(expected, actual)))`, to which `.hint()`
/// can still be chained (`fail(..).hint(..)`).
pub fn fail(expected: impl Into<String>, actual: impl Into<String>) -> Stop {
    Stop::Fail(Failure::new(expected, actual))
}

/// Shorthand for a harness error.
pub fn harness_error(what: impl Into<String>) -> Stop {
    Stop::Error(what.into())
}

impl Stop {
    /// Adds a hint to a failure (no effect on skips and errors).
    pub fn hint(self, hint: impl Into<String>) -> Stop {
        match self {
            Stop::Fail(f) => Stop::Fail(f.hint(hint)),
            other => other,
        }
    }
}

/// The verdict on one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The subject conforms.
    Passed,
    /// It does not.
    Failed(Failure),
    /// Not applicable (reason).
    Skipped(String),
    /// The suite could not run the check (what went wrong).
    Errored(String),
}

impl Outcome {
    /// The status word of reports: `passed`, `failed`, `skipped`, `errored`.
    pub fn status(&self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed(_) => "failed",
            Outcome::Skipped(_) => "skipped",
            Outcome::Errored(_) => "errored",
        }
    }

    /// The message of reports: expected/actual for a failure, the reason for a skip,
    /// the error for an errored check.
    pub fn message(&self) -> Option<String> {
        match self {
            Outcome::Passed => None,
            Outcome::Failed(f) => Some(format!("expected: {}; actual: {}", f.expected, f.actual)),
            Outcome::Skipped(r) => Some(r.clone()),
            Outcome::Errored(e) => Some(e.clone()),
        }
    }

    /// The hint, for a failure that has one.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Outcome::Failed(f) => f.hint.as_deref(),
            _ => None,
        }
    }
}

impl From<CheckResult> for Outcome {
    fn from(r: CheckResult) -> Outcome {
        match r {
            Ok(()) => Outcome::Passed,
            Err(Stop::Fail(f)) => Outcome::Failed(f),
            Err(Stop::Skip(r)) => Outcome::Skipped(r),
            Err(Stop::Error(e)) => Outcome::Errored(e),
        }
    }
}
