//! Every duration the suite uses, in one place. The spec's own figures are constants; the
//! slack for loaded machines (`--slack`) is added to every deadline by [`Timing`], never to
//! the spec figures themselves, so a check states "within the gap plus slack" explicitly.

use std::time::Duration;

/// 004: a stall longer than this ends the connection.
pub const GAP: Duration = Duration::from_secs(1);
/// 002: the periodic count line comes this often by default (`--period` changes it).
pub const PERIOD: Duration = Duration::from_secs(60);
/// 002: how far the periodic line may drift from its due time.
pub const PERIOD_TOLERANCE: Duration = Duration::from_secs(1);
/// A reply without terminator is taken as whole after this much silence (DESIGN.md hello).
pub const REPLY_SILENCE: Duration = Duration::from_millis(300);
/// Default slack added to deadlines for busy machines (`--slack`); generous on purpose:
/// a false failure costs a student more than a slow verdict.
pub const DEFAULT_SLACK: Duration = Duration::from_secs(2);
/// A server must be listening this soon after it is started (plus slack). Not a spec
/// figure: generous, because eight Python interpreters starting at once on a busy
/// two-core machine take seconds, and a server that never listens costs this only once.
pub const STARTUP: Duration = Duration::from_secs(10);
/// A reply, or a printed line, is due this soon after its cause (plus slack).
pub const RESPONSE: Duration = Duration::from_secs(1);
/// A client (or an argument error) must have exited this soon after its work ends (plus slack).
pub const EXIT: Duration = Duration::from_secs(2);
/// A send to a subject (socket or stdin) that cannot complete this long means it stopped
/// reading: the send fails instead of hanging the check.
pub const SEND: Duration = Duration::from_secs(20);
/// The period the reference multiclient server is started with when `--period` is not
/// given, so a run against the references stays short; a student's own server is expected
/// to keep the text's 60 s unless `--period` says otherwise.
pub const REFERENCE_PERIOD: Duration = Duration::from_secs(2);
/// How long the driver waits for a killed process group to vanish before reporting survivors.
pub const KILL_GRACE: Duration = Duration::from_secs(2);
/// How often the driver polls /proc while waiting for a state (listening, exited, threads).
pub const POLL: Duration = conformance_driver::POLL;

/// The durations of one run: the spec's figures plus the configured slack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Added to every deadline.
    pub slack: Duration,
    /// The periodic interval expected (multiclient, `--period`).
    pub period: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            slack: DEFAULT_SLACK,
            period: PERIOD,
        }
    }
}

impl Timing {
    /// `base` plus the slack: the deadline for something the spec wants within `base`.
    pub fn within(&self, base: Duration) -> Duration {
        base + self.slack
    }
    /// Deadline for a server to listen after start.
    pub fn startup(&self) -> Duration {
        self.within(STARTUP)
    }
    /// Deadline for a reply or a printed line.
    pub fn response(&self) -> Duration {
        self.within(RESPONSE)
    }
    /// Deadline for a process to exit by itself.
    pub fn exit(&self) -> Duration {
        self.within(EXIT)
    }
    /// The period to expect: the one given with `--period`, else the reference's short
    /// [`REFERENCE_PERIOD`] when the server is the reference, else the text's 60 s.
    pub fn with_period(self, given: Option<Duration>, reference_server: bool) -> Timing {
        let period = match given {
            Some(p) => p,
            None if reference_server => REFERENCE_PERIOD,
            None => PERIOD,
        };
        Timing { period, ..self }
    }
    /// What a periodic line may be late or early beyond the spec's tolerance: a quarter of
    /// the slack, at most 500 ms. Not the whole slack: with a short `--period` that would
    /// let a timer restarted by every event pass.
    pub fn tick_margin(&self) -> Duration {
        (self.slack / 4).min(Duration::from_millis(500))
    }
}
