//! The driver: the only code that touches processes, sockets and clocks. Checks see it
//! through [`Ctx`] (start subjects, connect peers, wait for events with deadlines).

// The low-level modules are the `conformance-driver` crate's (shared with `reference`'s tests
// and the self-test); re-exported so every `crate::driver::...` path keeps working.
pub use conformance_driver::{command, contain, output, ports, procfs, watch};

pub mod ctx;
pub mod marks;
pub mod peer;
pub mod pty;
pub mod run;
pub mod runner;
pub mod signals;
pub mod subject;

pub use command::{CommandError, CommandSpec, Limits};
pub use ctx::{Ctx, Launch, RunConfig, SubjectCmd};
pub use marks::{MarkKind, Marks, TimingMark};
pub use output::{Line, Stream, trim_line};
pub use peer::{End, FakeServer, Peer, Received, Transcript, describe_bytes};
pub use run::Finished;
pub use runner::{CheckReport, Details, run_check, run_checks};
pub use subject::Subject;

use std::time::{Duration, Instant};

/// Whether anybody at all listens on `port` now (e.g. "an argument error leaves no
/// listening socket").
pub fn anyone_listens_on(port: u16) -> bool {
    procfs::anyone_listens_on(port)
}

/// Polls `cond` every [`crate::timing::POLL`] until it holds or `timeout` passes: the one
/// way for a check to wait on a state that has no event of its own (thread counts).
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        std::thread::sleep(crate::timing::POLL.min(deadline - now));
    }
}

/// A stopwatch for checks that measure (a gap, a periodic line).
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch(Instant);

impl Stopwatch {
    /// Starts now.
    pub fn start() -> Stopwatch {
        Stopwatch(Instant::now())
    }
    /// Time since start.
    pub fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
    /// The start instant (to compare with [`Line::at`]).
    pub fn instant(&self) -> Instant {
        self.0
    }
    /// Waits until `offset` after the start: a deliberate pause that schedules a
    /// scenario's next step (periodic checks), never a wait for something to happen.
    pub fn pause_until(&self, offset: Duration) {
        let now = self.0.elapsed();
        if offset > now {
            std::thread::sleep(offset - now);
        }
    }
}
