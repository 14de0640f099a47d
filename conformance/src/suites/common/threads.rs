//! Thread-model sampling: how many threads and processes a server shows while it serves,
//! and the verdicts of the threaded (more than one thread) and event-driven (exactly one
//! process with one thread throughout) models.
//!
//! "The server" is the process that listens on the port, wherever it is in the subject's
//! tree: behind a wrapper script that starts it without `exec`, the shell the driver
//! started has one thread of its own and is not the server.

use std::fmt;
use std::time::Duration;

use crate::check::{CheckResult, fail};
use crate::driver::{Subject, procfs, wait_until};

/// One look at a server: threads of its listening process, processes from it down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Threads of the listening process (/proc/PID/task), the most of any when several
    /// listen (forked children that kept the listening socket each have their own, and a
    /// sum would make one-thread processes look threaded); 0 when unreadable.
    pub threads: usize,
    /// Live processes of the listening process's subtree (itself and what it forked; not
    /// a wrapper shell above it).
    pub processes: usize,
}

impl Sample {
    /// Samples `server` now.
    pub fn of(server: &Subject) -> Sample {
        let mut listeners = server.listener_pids();
        if listeners.is_empty() {
            // Not listening (yet, or any more): the program the driver started.
            listeners.push(server.pid());
        }
        let threads = listeners
            .iter()
            .filter_map(|&p| procfs::thread_count(p))
            .max()
            .unwrap_or(0);
        let mut below: Vec<i32> = listeners
            .iter()
            .flat_map(|&p| procfs::tree_pids(p))
            .collect();
        below.sort_unstable();
        below.dedup();
        Sample {
            threads,
            processes: below.len(),
        }
    }

    /// Whether this is one process with one thread.
    pub fn single(&self) -> bool {
        self.threads == 1 && self.processes == 1
    }
}

impl fmt::Display for Sample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} thread(s) in {} process(es)",
            self.threads, self.processes
        )
    }
}

fn list(samples: &[Sample]) -> String {
    let v: Vec<String> = samples
        .iter()
        .map(|s| format!("({}, {})", s.threads, s.processes))
        .collect();
    format!("samples as (threads, processes): [{}]", v.join(", "))
}

/// Threaded: more than one thread seen in the samples, or within `timeout` of sampling
/// again (a thread may start a moment after its client is answered). `during` says what was
/// going on ("while 3 clients are being served").
pub fn expect_threads(
    server: &Subject,
    samples: &[Sample],
    timeout: Duration,
    during: &str,
    hint: &str,
) -> CheckResult {
    let mut seen = samples.iter().map(|s| s.threads).max().unwrap_or(0);
    if seen > 1
        || wait_until(timeout, || {
            seen = seen.max(Sample::of(server).threads);
            seen > 1
        })
    {
        return Ok(());
    }
    Err(fail(
        format!("more than one thread in the server process {during}"),
        format!("{seen} thread(s) ({})", list(samples)),
    )
    .hint(hint))
}

/// Event-driven: every sample is one process with one thread.
pub fn expect_single_thread(samples: &[Sample], during: &str, hint: &str) -> CheckResult {
    match samples.iter().find(|s| !s.single()) {
        None => Ok(()),
        Some(bad) => Err(fail(
            format!("exactly one process with one thread throughout, {during}"),
            format!("{bad} ({})", list(samples)),
        )
        .hint(hint)),
    }
}
