//! Runs that end by themselves (clients, argument checks) go through assert_cmd, on the
//! `std::process::Command` the driver prepared (own group, rlimits, scrubbed environment).
//! assert_cmd kills only the process it started and collects output without a cap, so a
//! watchdog here kills the whole group at the deadline (plus a grace) or when the group
//! has written more than [`MAX_WRITTEN`] bytes: every run ends, and memory stays bounded.

use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::process::{ExitStatus, Output};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::contain::Jail;
use super::output::{Capture, Line, Stream};
use super::procfs;
use super::subject::{describe_status, kill_contained};
use crate::timing::POLL;

/// A run's group may write this much (pipes and sockets) before it is killed as a flood.
pub const MAX_WRITTEN: u64 = 64 << 20;
/// Time given beyond the run's timeout before the watchdog kills the group.
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
    /// It wrote more than [`MAX_WRITTEN`] bytes and was killed.
    pub flooded: bool,
    /// The kernel's out-of-memory killer ended one of its processes (its `--memory`
    /// cgroup limit).
    pub out_of_memory: bool,
    /// From start to exit (or kill).
    pub elapsed: Duration,
    /// Its output, both streams (timestamps are those of collection: after the exit).
    pub capture: Arc<Capture>,
    /// Raw stdout (capped by the flood watchdog).
    pub stdout: Vec<u8>,
    /// Raw stderr.
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
        if self.timed_out || self.flooded {
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

/// Runs `cmd` to completion with `stdin` as input and `timeout`.
pub(super) fn run_to_end(
    mut cmd: std::process::Command,
    mut jail: Jail,
    command: String,
    marker: String,
    stdin: Vec<u8>,
    timeout: Duration,
) -> std::io::Result<Finished> {
    // The child reports its pid (= its process group) before exec, so the watchdog can kill
    // the group even though assert_cmd holds the Child.
    let (tx_pid, rx_pid) = UnixDatagram::pair()?;
    let child_end = std::os::fd::AsRawFd::as_raw_fd(&tx_pid);
    // SAFETY: runs in the child between fork and exec: getpid and send are system calls,
    // no allocation, no lock.
    unsafe {
        cmd.pre_exec(move || {
            let pid = rustix::process::getpid()
                .as_raw_nonzero()
                .get()
                .to_ne_bytes();
            let fd = std::os::fd::BorrowedFd::borrow_raw(child_end);
            let _ = rustix::net::send(fd, &pid, rustix::net::SendFlags::empty());
            Ok(())
        });
    }
    // Last: hooks registered after it would run inside the namespace.
    jail.apply(&mut cmd);
    let started = Instant::now();
    let (tx_done, rx_done) = mpsc::channel::<std::io::Result<Output>>();
    let worker = thread::Builder::new()
        .name("assert-cmd".to_owned())
        .spawn(move || {
            let out = assert_cmd::Command::from_std(cmd)
                .timeout(timeout)
                .write_stdin(stdin)
                .output();
            let _ = tx_done.send(out);
        })?;
    rx_pid.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut buf = [0u8; 4];
    let pgid = match rx_pid.recv(&mut buf) {
        Ok(4) => Some(i32::from_ne_bytes(buf)),
        _ => None,
    };
    drop(tx_pid);
    if let Some(p) = pgid {
        super::signals::register(p);
        jail.started(p);
    }
    let mut timed_out = false;
    let mut flooded = false;
    let result = loop {
        match rx_done.recv_timeout(POLL * 5) {
            Ok(r) => break r,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                break Err(std::io::Error::other(
                    "assert_cmd thread ended without a result",
                ));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        let Some(pgid) = pgid else { continue };
        let written: u64 = procfs::tree_pids(pgid)
            .into_iter()
            .filter_map(procfs::bytes_written)
            .sum();
        let late = started.elapsed() > timeout + GRACE;
        if written > MAX_WRITTEN || late {
            flooded |= written > MAX_WRITTEN;
            timed_out |= late;
            kill_contained(pgid, &marker, &jail);
        }
    };
    let _ = worker.join();
    let elapsed = started.elapsed();
    // Whatever the child left behind (a forked helper, a daemon) goes too.
    if let Some(pgid) = pgid {
        kill_contained(pgid, &marker, &jail);
        super::signals::unregister(pgid);
    }
    let out_of_memory = jail.out_of_memory();
    let out = result?;
    let capture = Capture::new();
    capture.push_buffer(Stream::Stdout, &out.stdout);
    capture.push_buffer(Stream::Stderr, &out.stderr);
    capture.close();
    use std::os::unix::process::ExitStatusExt;
    // assert_cmd's own timeout kills with SIGKILL: a killed run past its timeout timed out.
    if out.status.signal() == Some(9) && elapsed >= timeout {
        timed_out = true;
    }
    Ok(Finished {
        command,
        status: if timed_out || flooded {
            None
        } else {
            Some(out.status)
        },
        timed_out,
        flooded,
        out_of_memory,
        elapsed,
        capture,
        stdout: out.stdout,
        stderr: out.stderr,
    })
}
