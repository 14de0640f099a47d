//! A subject process started by the driver and kept running (servers, interactive
//! clients): output captured line by line, readiness seen in /proc, the whole process group
//! killed at the end (and on drop), survivors reported.

use std::io::Write;
use std::process::{Child, ChildStdin, ExitStatus};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process, kill_process_group};

use super::output::{Capture, Line, Stream};
use super::peer::{Peer, Transcript};
use super::procfs;
use crate::check::{Stop, fail};
use crate::timing::{KILL_GRACE, POLL};

/// How a process ended, in words.
pub fn describe_status(s: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(sig)) => format!("killed by signal {sig}{}", signal_name(sig)),
        _ => "an unknown status".to_owned(),
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        6 => " (SIGABRT: abort/assert)",
        9 => " (SIGKILL)",
        11 => " (SIGSEGV: invalid memory access)",
        13 => " (SIGPIPE: wrote to a closed connection; ignore SIGPIPE or use MSG_NOSIGNAL)",
        15 => " (SIGTERM)",
        24 => " (SIGXCPU: CPU time limit)",
        25 => " (SIGXFSZ: file size limit)",
        _ => "",
    }
}

/// A running subject.
#[derive(Debug)]
pub struct Subject {
    child: Child,
    stdin: Option<ChildStdin>,
    pgid: i32,
    marker: String,
    capture: Arc<Capture>,
    log: Transcript,
    port: Option<u16>,
    started: Instant,
    status: Option<ExitStatus>,
    listening: Option<(Instant, Instant)>,
    clients: usize,
    killed: bool,
    survivors: Arc<std::sync::Mutex<Vec<String>>>,
    /// How the subject was started, for messages.
    pub command: String,
}

impl Subject {
    pub(super) fn start(
        mut cmd: std::process::Command,
        command: String,
        marker: String,
        port: Option<u16>,
        log: &Transcript,
        capture: Arc<Capture>,
        survivors: Arc<std::sync::Mutex<Vec<String>>>,
    ) -> std::io::Result<Subject> {
        let mut child = cmd.spawn()?;
        let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
        if let Some(out) = child.stdout.take() {
            capture.read_from(Stream::Stdout, out);
        }
        if let Some(err) = child.stderr.take() {
            capture.read_from(Stream::Stderr, err);
        }
        let stdin = child.stdin.take();
        if let Some(pipe) = &stdin {
            let flags = rustix::fs::fcntl_getfl(pipe)?;
            rustix::fs::fcntl_setfl(pipe, flags | rustix::fs::OFlags::NONBLOCK)?;
        }
        Ok(Subject {
            child,
            stdin,
            pgid: pid,
            marker,
            capture,
            log: log.clone(),
            port,
            started: Instant::now(),
            status: None,
            listening: None,
            clients: 0,
            killed: false,
            survivors,
            command,
        })
    }

    /// The pid of the process the driver started (for `python3 server.py`: python).
    pub fn pid(&self) -> i32 {
        self.pgid
    }

    /// The port it was told to serve on (servers).
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(0)
    }

    /// When it was started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Its output capture (both streams, timestamps).
    pub fn capture(&self) -> &Arc<Capture> {
        &self.capture
    }

    /// Kept lines of stdout and stderr, in arrival order.
    pub fn lines(&self) -> Vec<Line> {
        self.capture.lines()
    }

    /// Kept lines of one stream.
    pub fn lines_of(&self, stream: Stream) -> Vec<Line> {
        self.capture.lines_of(stream)
    }

    /// Waits up to `timeout` for a line (index >= `from`) that satisfies `pred`.
    pub fn wait_line(
        &self,
        from: usize,
        timeout: Duration,
        pred: impl FnMut(&Line) -> bool,
    ) -> Option<(usize, Line)> {
        self.capture.wait_line(from, timeout, pred)
    }

    /// Its exit status if it has exited (reaps it).
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits up to `timeout` for it to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_exit() {
                return Some(s);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            thread::sleep(POLL.min(deadline - now));
        }
    }

    /// Waits up to `timeout` until a process of its group listens on its port. A subject
    /// that exits first, or never listens, fails the check with its status and stderr.
    pub fn wait_listening(&mut self, timeout: Duration) -> Result<(), Stop> {
        let port = self.port();
        let deadline = Instant::now() + timeout;
        // Start fast (most programs listen within milliseconds), then back off: on a busy
        // machine the polling must not steal the CPU the subject needs to start. Without a
        // children list in /proc, the whole group is scanned every 8th poll only.
        let mut pause = Duration::from_millis(2);
        let mut polls = 0u32;
        let mut last_not = self.started;
        loop {
            polls += 1;
            let pids = procfs::group_pids(self.pgid, polls % 8 == 0);
            let probe = Instant::now();
            if procfs::pids_listen_on(&pids, port) {
                self.listening = Some((last_not, probe));
                return Ok(());
            }
            last_not = probe;
            if let Some(s) = self.try_exit() {
                // Let the reader threads take the last output before quoting it.
                self.capture.wait_closed(Duration::from_millis(500));
                return Err(fail(
                    format!("the server keeps running and listens on port {port}"),
                    format!(
                        "it ended with {} before listening{}",
                        describe_status(s),
                        self.stderr_quote()
                    ),
                )
                .hint(
                    "the port is the first argument (argv[1]); did it fail to bind? \
                     (set SO_REUSEADDR before bind)",
                ));
            }
            if Instant::now() >= deadline {
                let others = self.listening_ports();
                // The full scan may find it listening at the very deadline: late, not wrong.
                if others.contains(&port) {
                    self.listening = Some((last_not, Instant::now()));
                    return Ok(());
                }
                let actual = if others.is_empty() {
                    format!("after {timeout:?} nothing of it listens on any port")
                } else {
                    format!("after {timeout:?} it listens on {others:?} instead")
                };
                return Err(fail(
                    format!("the server listens on port {port} (its argument)"),
                    actual,
                )
                .hint("call listen() on the port given as first argument"));
            }
            thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
            pause = (pause * 3 / 2).min(Duration::from_millis(50));
        }
    }

    /// When it started to listen, as seen by [`Subject::wait_listening`]: between the last
    /// poll that found no listening socket and the first that found one (periodic checks
    /// measure from here). None before it was seen listening.
    pub fn listening_since(&self) -> Option<(Instant, Instant)> {
        self.listening
    }

    /// Its last stderr lines as ` (stderr: "...")`, or nothing.
    pub fn stderr_quote(&self) -> String {
        let err: Vec<String> = self
            .capture
            .tail()
            .into_iter()
            .filter(|l| l.stream == Stream::Stderr)
            .map(|l| l.text)
            .collect();
        if err.is_empty() {
            String::new()
        } else {
            let start = err.len().saturating_sub(3);
            format!("; its stderr ends: {:?}", err[start..].join(" / "))
        }
    }

    /// Ports its process group listens on now.
    pub fn listening_ports(&self) -> Vec<u16> {
        procfs::group_listening_ports(self.pgid)
    }

    /// Whether its group listens on its port now.
    pub fn is_listening(&self) -> bool {
        procfs::group_listens_on(self.pgid, self.port())
    }

    /// Live processes of its group.
    pub fn processes(&self) -> Vec<i32> {
        procfs::group_members(self.pgid)
    }

    /// Threads of the process the driver started (/proc/PID/task).
    pub fn threads(&self) -> Option<usize> {
        procfs::thread_count(self.pgid)
    }

    /// Threads of every process of its group, summed.
    pub fn threads_in_group(&self) -> usize {
        self.processes()
            .into_iter()
            .filter_map(procfs::thread_count)
            .sum()
    }

    /// Connects a fake client (named "client N" in the transcript).
    pub fn connect(&mut self, timeout: Duration) -> Result<Peer, Stop> {
        self.clients += 1;
        let label = format!("client {}", self.clients);
        Peer::connect(self.port(), &label, &self.log, timeout).map_err(|e| {
            // A process closes its sockets before it becomes a zombie: give it a moment.
            match self.wait_exit(Duration::from_millis(300)) {
                Some(s) => {
                    self.capture.wait_closed(Duration::from_millis(300));
                    fail(
                        "the server keeps running and accepts client after client",
                        format!(
                            "{label} could not connect: the server had ended with {}{}",
                            describe_status(s),
                            self.stderr_quote()
                        ),
                    )
                    .hint(
                        "a server serves clients until it is killed: loop around accept(), \
                         and on a client's error close that client's socket, do not exit",
                    )
                }
                None => e,
            }
        })
    }

    /// Writes to its stdin (interactive clients). False when it no longer reads stdin (closed,
    /// or nothing taken for [`crate::timing::SEND`]): the pipe is non-blocking, so a subject
    /// that never reads cannot hang the check.
    pub fn write_stdin(&mut self, bytes: &[u8]) -> bool {
        let Some(pipe) = self.stdin.as_mut() else {
            return false;
        };
        let deadline = Instant::now() + crate::timing::SEND;
        let mut rest = bytes;
        while !rest.is_empty() {
            match pipe.write(rest) {
                Ok(0) => return false,
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return false;
                    }
                    thread::sleep(POLL);
                }
                Err(_) => return false,
            }
        }
        true
    }

    /// Closes its stdin (end of input).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Kills the whole group with SIGKILL and waits until nothing of it survives; returns
    /// the pids still alive after the grace period (also recorded for the report).
    pub fn kill(&mut self) -> Vec<i32> {
        if self.killed {
            return Vec::new();
        }
        self.killed = true;
        let survivors = kill_group(self.pgid, &self.marker);
        let _ = self.child.kill();
        if self.status.is_none() {
            self.status = self.child.wait().ok();
        }
        // The readers end once every writer of the pipes is gone.
        self.capture.wait_closed(Duration::from_millis(500));
        if !survivors.is_empty() {
            self.survivors
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(format!(
                    "processes {survivors:?} of `{}` survived SIGKILL",
                    self.command
                ));
        }
        survivors
    }
}

impl Drop for Subject {
    fn drop(&mut self) {
        self.kill();
    }
}

/// SIGKILL to group `pgid` and to every process carrying `marker` (one that left the
/// group with setsid), repeated until none is left or the grace period ends.
pub fn kill_group(pgid: i32, marker: &str) -> Vec<i32> {
    let deadline = Instant::now() + KILL_GRACE;
    let mut scanned_marker = false;
    loop {
        if let Some(p) = Pid::from_raw(pgid) {
            let _ = kill_process_group(p, Signal::KILL);
        }
        let mut alive = procfs::group_members(pgid);
        // The environ scan walks all of /proc: do it once, after the group kill.
        if !scanned_marker {
            scanned_marker = true;
            for pid in procfs::marked_pids(marker) {
                if let Some(p) = Pid::from_raw(pid) {
                    let _ = kill_process(p, Signal::KILL);
                }
                alive.push(pid);
            }
        }
        alive.sort_unstable();
        alive.dedup();
        alive.retain(|&pid| procfs::stat(pid).is_some_and(|s| s.state != 'Z' && s.state != 'X'));
        if alive.is_empty() || Instant::now() >= deadline {
            return alive;
        }
        thread::sleep(POLL);
    }
}
