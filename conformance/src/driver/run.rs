//! Runs that end by themselves (clients, argument checks), on the `std::process::Command`
//! the driver prepared (contained, rlimits, scrubbed environment). Not through assert_cmd:
//! it collects output without a cap and waits for every holder of the pipes, so a flood
//! or a detached grandchild holding stdout would grow or hang the suite. Here output goes
//! through the bounded [`Capture`], and the run ends at its deadline, when the program
//! exits, or when its processes have written more than [`MAX_WRITTEN`] bytes.

use std::process::ExitStatus;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::contain::Jail;
use super::output::{Capture, Line, Stream};
use super::procfs;
use super::subject::{describe_status, kill_contained};
use crate::timing::POLL;

/// A run's group may write this much (pipes and sockets) before it is killed as a flood.
pub const MAX_WRITTEN: u64 = 64 << 20;
/// How long the output readers are given to finish once the run has ended.
const GRACE: Duration = Duration::from_millis(500);

/// A finished run.
#[derive(Debug, Clone)]
pub struct Finished {
    /// How it was started.
    pub command: String,
    /// Its exit status; None if it had to be killed at the deadline.
    pub status: Option<ExitStatus>,
    /// It did not exit by itself within the timeout.
    pub timed_out: bool,
    /// The suite stopped it once the exchange it judges was over ([`super::Launch::exchange_only`]):
    /// neither a timeout nor an exit.
    pub stopped: bool,
    /// It wrote more than [`MAX_WRITTEN`] bytes and was killed.
    pub flooded: bool,
    /// The kernel's out-of-memory killer ended one of its processes (its `--memory`
    /// cgroup limit).
    pub out_of_memory: bool,
    /// From start to exit (or kill).
    pub elapsed: Duration,
    /// Its output, both streams, stamped as it arrived.
    pub capture: Arc<Capture>,
    /// Raw stdout: its first [`super::output::MAX_RAW_BYTES`].
    pub stdout: Vec<u8>,
    /// Raw stderr: its first [`super::output::MAX_RAW_BYTES`].
    pub stderr: Vec<u8>,
}

impl Finished {
    /// Lines of one stream.
    pub fn lines_of(&self, stream: Stream) -> Vec<Line> {
        self.capture.lines_of(stream)
    }
    /// Lines of both streams.
    pub fn lines(&self) -> Vec<Line> {
        self.capture.lines()
    }
    /// Whether some line of `stream` (None: either), trimmed, satisfies `pred` (a
    /// `predicates` predicate, e.g. `predicates::str::starts_with("ERROR")`).
    pub fn any_line(&self, stream: Option<Stream>, pred: &impl predicates::Predicate<str>) -> bool {
        self.capture
            .lines()
            .iter()
            .filter(|l| stream.is_none_or(|s| l.stream == s))
            .any(|l| pred.eval(l.trimmed()))
    }
    /// stdout as text (lossy).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    /// stderr as text (lossy).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    /// The exit code, when it exited normally.
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }
    /// How it ended, in words.
    /// How the run ended, as a clause: "it ended with exit status 1", or the kill.
    pub fn ended(&self) -> String {
        if self.timed_out || self.flooded || self.stopped {
            self.describe_end()
        } else {
            format!("it ended with {}", self.describe_end())
        }
    }

    pub fn describe_end(&self) -> String {
        if self.flooded {
            format!(
                "it wrote more than {} MiB and was killed",
                MAX_WRITTEN >> 20
            )
        } else if self.timed_out {
            format!(
                "it was still running after {:?} and was killed",
                self.elapsed
            )
        } else if self.stopped {
            format!(
                "it was still running {:.1} s after its start, when the exchange was over, \
                 and was stopped",
                self.elapsed.as_secs_f64()
            )
        } else {
            match self.status {
                Some(s) if self.out_of_memory => {
                    format!("{} after it went past its memory limit", describe_status(s))
                }
                Some(s) => describe_status(s),
                None => "unknown".to_owned(),
            }
        }
    }
}

/// Runs `cmd` to completion with `stdin` as input and `timeout`; also ended, as
/// [`Finished::stopped`], once `stop` is set.
///
/// The run ends when the subject program exits (contained: its namespace is then empty,
/// so nothing it left behind holds its pipes), or at `timeout`, or when it has written more
/// than [`MAX_WRITTEN`] bytes: whatever holds its pipes, the deadline ends the run. Output
/// goes through the same bounded [`Capture`] as a server's.
pub(super) fn run_to_end(
    mut cmd: std::process::Command,
    mut jail: Jail,
    command: String,
    marker: String,
    stdin: Vec<u8>,
    timeout: Duration,
    stop: Option<&std::sync::atomic::AtomicBool>,
) -> std::io::Result<Finished> {
    jail.apply(&mut cmd);
    let started = Instant::now();
    let starting = super::signals::starting();
    let mut child = cmd.spawn()?;
    let pgid = i32::try_from(child.id()).unwrap_or(i32::MAX);
    super::signals::register(pgid);
    drop(starting);
    jail.started(pgid);
    let capture = Capture::new();
    if let Some(out) = child.stdout.take() {
        capture.read_from(Stream::Stdout, out);
    }
    if let Some(err) = child.stderr.take() {
        capture.read_from(Stream::Stderr, err);
    }
    if let Some(mut pipe) = child.stdin.take() {
        // A subject that never reads its stdin blocks only this thread, until it is killed.
        let _ = thread::Builder::new()
            .name("run-stdin".to_owned())
            .spawn(move || {
                use std::io::Write;
                let _ = pipe.write_all(&stdin);
            });
    }
    let mut timed_out = false;
    let mut stopped = false;
    let mut flooded = false;
    let mut polls = 0u32;
    let mut status = loop {
        if let Some(s) = child.try_wait()? {
            break Some(s);
        }
        if started.elapsed() >= timeout {
            timed_out = true;
            break None;
        }
        if stop.is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst)) {
            // One more look: a program that ended with the exchange keeps its status.
            if let Some(s) = child.try_wait()? {
                break Some(s);
            }
            stopped = true;
            break None;
        }
        polls += 1;
        if polls % 5 == 0 {
            let written: u64 = procfs::tree_pids(pgid)
                .into_iter()
                .filter_map(procfs::bytes_written)
                .sum();
            if written > MAX_WRITTEN {
                flooded = true;
                break None;
            }
        }
        thread::sleep(
            POLL.min(timeout.saturating_sub(started.elapsed()))
                .max(Duration::from_millis(1)),
        );
    };
    let elapsed = started.elapsed();
    // Whatever the child left behind (a forked helper, a daemon) goes too.
    kill_contained(pgid, &marker, &jail);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    super::signals::unregister(pgid);
    let out_of_memory = jail.out_of_memory();
    // Contained, the pipes close with the namespace; a process that escaped (process-group
    // mode) and holds them is not waited for past this.
    capture.wait_closed(GRACE);
    capture.close();
    if timed_out || flooded || stopped {
        status = None;
    }
    Ok(Finished {
        command,
        status,
        timed_out,
        stopped,
        flooded,
        out_of_memory,
        elapsed,
        stdout: capture.raw(Stream::Stdout),
        stderr: capture.raw(Stream::Stderr),
        capture,
    })
}
