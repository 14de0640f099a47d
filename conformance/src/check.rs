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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, clap::ValueEnum)]
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

/// One entry of the registry. Build it with [`Check::new`] right above the check's body:
///
/// ```ignore
/// pub static HANDSHAKE: Check = Check::new(
///     "hello.server.handshake", Level::Required, "001 Step 2",
///     "`HELLO 5` is answered `HELLO 6`", handshake,
/// ).models(Model::CONCURRENT).needs(&["hello.server.handshake"]);
/// ```
///
/// `suite` and `role` are derived from the ID at compile time; a malformed ID (not three
/// kebab-case parts, a role other than `server`/`client`) fails the build.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    /// Fixed ID `<suite>.<role>.<behaviour>` (docs/checks.md); never reused (see [`RETIRED`]).
    pub id: &'static str,
    /// The suite (protocol) name: `hello`, `framed`, `messages`, `multiclient` (from the ID).
    pub suite: &'static str,
    /// The subject's role (from the ID).
    pub role: Role,
    /// How much a failure weighs.
    pub level: Level,
    /// The passage of the assignment it enforces, e.g. "001 Step 2".
    pub spec: &'static str,
    /// One line: what a conforming program does.
    pub summary: &'static str,
    /// The models it applies to; empty means every model (and suites without models).
    pub models: &'static [Model],
    /// Checks whose failure makes this one unjudgeable: when one of them did not pass and
    /// this one failed, the report says `blocked` by it instead of repeating the failure.
    pub needs: &'static [&'static str],
    /// The body.
    pub run: CheckFn,
}

/// IDs that were used once and are never to be used again (DESIGN.md "Names").
pub static RETIRED: &[&str] = &[];

/// Whether `b` may stand in a kebab-case ID part.
const fn kebab(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'
}

/// Whether `id[from..to]` equals `word`.
const fn part_is(id: &[u8], from: usize, to: usize, word: &[u8]) -> bool {
    if to - from != word.len() {
        return false;
    }
    let mut i = 0;
    while i < word.len() {
        if id[from + i] != word[i] {
            return false;
        }
        i += 1;
    }
    true
}

impl Check {
    /// A registry entry; suite and role come from `id`, which must be
    /// `<suite>.<server|client>.<behaviour>` in lower-case kebab-case (checked at compile
    /// time when used in a `static`).
    pub const fn new(
        id: &'static str,
        level: Level,
        spec: &'static str,
        summary: &'static str,
        run: CheckFn,
    ) -> Check {
        let b = id.as_bytes();
        let mut dots = [0usize; 2];
        let mut n = 0;
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'.' {
                if n == 2 {
                    panic!("a check ID has exactly three parts: <suite>.<role>.<behaviour>");
                }
                dots[n] = i;
                n += 1;
            } else if !kebab(b[i]) {
                panic!("a check ID is lower-case kebab-case: [a-z0-9-] and two dots");
            }
            i += 1;
        }
        if n != 2 || dots[0] == 0 || dots[1] == dots[0] + 1 || dots[1] + 1 == b.len() {
            panic!("a check ID has exactly three non-empty parts: <suite>.<role>.<behaviour>");
        }
        let role = if part_is(b, dots[0] + 1, dots[1], b"server") {
            Role::Server
        } else if part_is(b, dots[0] + 1, dots[1], b"client") {
            Role::Client
        } else {
            panic!("the role part of a check ID is `server` or `client`")
        };
        let (suite, _) = b.split_at(dots[0]);
        let suite = match std::str::from_utf8(suite) {
            Ok(s) => s,
            Err(_) => panic!("unreachable: an ASCII prefix is UTF-8"),
        };
        Check {
            id,
            suite,
            role,
            level,
            spec,
            summary,
            models: &[],
            needs: &[],
            run,
        }
    }

    /// Restricts the check to subjects of these models.
    pub const fn models(mut self, models: &'static [Model]) -> Check {
        self.models = models;
        self
    }

    /// Names the checks this one needs (see [`Check::needs`] the field).
    pub const fn needs(mut self, ids: &'static [&'static str]) -> Check {
        self.needs = ids;
        self
    }

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

/// What the engine knows about why a check failed, as data: hints and reports choose their
/// words from it, never by matching a sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Cause {
    /// The subject's bind failed: the port was in use (by it, TIME_WAIT, or another program).
    AddrInUse {
        /// The port it tried.
        port: u16,
    },
    /// The subject exited by itself with this status.
    Exited {
        /// Its exit code.
        code: i32,
    },
    /// The subject was ended by a signal it did not get from the suite (SIGSEGV, SIGABRT...).
    Signal {
        /// The signal number.
        signal: i32,
    },
    /// It was killed for exceeding its memory limit.
    OutOfMemory,
    /// It ran out of CPU time (RLIMIT_CPU or the cgroup's).
    CpuTime,
    /// It never listened on its port before the deadline (and did not exit).
    NeverListened,
    /// It listens, but on other ports than the one it was given.
    ListensElsewhere {
        /// The ports its processes listen on.
        ports: Vec<u16>,
    },
    /// Its output went past the suite's cap (head and tail kept).
    OutputCapped,
    /// A Python traceback was printed; the last frame names where it died.
    Traceback {
        /// The last `File "...", line N, in f` frame and the exception line.
        last_frame: String,
    },
    /// Required lines show on a terminal but not through a pipe (missing flush).
    PipeBuffered,
    /// Something else the check could name.
    Other {
        /// It, in words.
        text: String,
    },
}

/// The suite itself could not judge: the machine, not the subject (exit 2, never a
/// student's failure).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum HarnessError {
    /// A port the check needs is held by another program.
    #[error("port {port} is held by another program{}", holder.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
    PortBusy {
        /// The port.
        port: u16,
        /// `pid N: program` when it could be found.
        holder: Option<String>,
    },
    /// The subject could not be started at all (command not found, not executable).
    #[error("could not start `{command}`: {why}")]
    Spawn {
        /// The command line.
        command: String,
        /// What the OS said.
        why: String,
    },
    /// Processes of the subject survived the check.
    #[error("{what}")]
    Survivors {
        /// The survivors (`pid N: program`, `; `-separated); in JSON it is the `message`.
        #[serde(skip)]
        what: String,
    },
    /// Anything else (/proc unreadable, a check panicked).
    #[error("{what}")]
    Other {
        /// What went wrong; in JSON it is the `message`.
        #[serde(skip)]
        what: String,
    },
}

impl From<crate::driver::ports::PortBusy> for HarnessError {
    fn from(e: crate::driver::ports::PortBusy) -> HarnessError {
        HarnessError::PortBusy {
            port: e.port,
            holder: e.holder,
        }
    }
}

impl From<String> for HarnessError {
    fn from(s: String) -> HarnessError {
        HarnessError::Other { what: s }
    }
}

impl From<&str> for HarnessError {
    fn from(s: &str) -> HarnessError {
        HarnessError::Other { what: s.to_owned() }
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
    /// What the engine knows of the reason, as data.
    pub cause: Option<Cause>,
}

impl Failure {
    /// A failure without a hint.
    pub fn new(expected: impl Into<String>, actual: impl Into<String>) -> Failure {
        Failure {
            expected: expected.into(),
            actual: actual.into(),
            hint: None,
            cause: None,
        }
    }

    /// Adds the hint for the common mistake.
    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }

    /// Records what the engine knows of the reason.
    pub fn cause(mut self, cause: Cause) -> Failure {
        self.cause = Some(cause);
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
    /// The check cannot be judged because the named check (its prerequisite) did not pass;
    /// the text says what could not be judged.
    Blocked {
        /// The prerequisite's ID.
        by: &'static str,
        /// What could not be judged.
        why: String,
    },
    /// The suite itself could not run the check (no port, spawn failed, /proc unreadable).
    Error(HarnessError),
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
    Stop::Error(HarnessError::Other { what: what.into() })
}

/// Shorthand for a check that cannot be judged because `by` did not pass.
pub fn blocked(by: &'static str, why: impl Into<String>) -> Stop {
    Stop::Blocked {
        by,
        why: why.into(),
    }
}

impl Stop {
    /// Adds a hint to a failure (no effect on skips and errors).
    pub fn hint(self, hint: impl Into<String>) -> Stop {
        match self {
            Stop::Fail(f) => Stop::Fail(f.hint(hint)),
            other => other,
        }
    }

    /// Records a cause on a failure (no effect on the others).
    pub fn cause(self, cause: Cause) -> Stop {
        match self {
            Stop::Fail(f) => Stop::Fail(f.cause(cause)),
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
    /// Could not be judged because the named check did not pass (counts as not passed).
    Blocked {
        /// The prerequisite's ID.
        by: &'static str,
        /// What could not be judged.
        why: String,
    },
    /// The suite could not run the check (what went wrong).
    Errored(HarnessError),
}

impl Outcome {
    /// The status word of reports: `passed`, `failed`, `skipped`, `blocked`, `errored`.
    pub fn status(&self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed(_) => "failed",
            Outcome::Skipped(_) => "skipped",
            Outcome::Blocked { .. } => "blocked",
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
            Outcome::Blocked { by, why } => Some(format!("blocked by {by}: {why}")),
            Outcome::Errored(e) => Some(e.to_string()),
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
            Err(Stop::Blocked { by, why }) => Outcome::Blocked { by, why },
            Err(Stop::Error(e)) => Outcome::Errored(e),
        }
    }
}
