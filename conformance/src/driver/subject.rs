//! A subject process started by the driver and kept running (servers, interactive
//! clients): output captured line by line, readiness seen in /proc, contained (its own PID
//! namespace and cgroup where possible, see [`super::contain`]), everything it started
//! killed at the end (and on drop), survivors reported.

use std::io::Write;
use std::process::{Child, ChildStdin, ExitStatus};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process, kill_process_group};

use super::contain::{Jail, Kind};
use super::output::{Capture, Line, Stream};
use super::peer::{Peer, Transcript};
use super::procfs;
use crate::check::{Cause, Stop, fail};
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

/// The cause a failure names for an end with `status`: out of memory (the cgroup's OOM
/// killer), out of CPU time (SIGXCPU), another signal, or an exit code.
pub fn status_cause(status: ExitStatus, out_of_memory: bool) -> Cause {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        _ if out_of_memory => Cause::OutOfMemory,
        (Some(code), _) => Cause::Exited { code },
        (None, Some(24)) => Cause::CpuTime,
        (None, Some(signal)) => Cause::Signal { signal },
        _ => Cause::Other {
            text: "unknown status".to_owned(),
        },
    }
}

/// Whether output lines show a bind that failed because the address was in use (the
/// subject's own words: strerror(EADDRINUSE), Python's errno, Java's and Go's).
pub fn mentions_addr_in_use(lines: &[Line]) -> bool {
    lines.iter().any(|l| {
        let t = &l.text;
        t.contains("Address already in use")
            || t.contains("EADDRINUSE")
            || t.contains("Errno 98")
            || t.contains("address already in use")
    })
}

/// How long a server is seen listening on other ports only before that is its verdict.
const ELSEWHERE_GRACE: Duration = Duration::from_millis(1000);

/// A running subject.
#[derive(Debug)]
pub struct Subject {
    child: Child,
    stdin: Option<ChildStdin>,
    pgid: i32,
    /// The program proper (B in [`super::contain`]); `pgid` without a namespace.
    real_pid: i32,
    /// Its start time, to tell it from a later process with the same pid.
    real_start: Option<u64>,
    jail: Jail,
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
    #[allow(clippy::too_many_arguments)]
    pub(super) fn start(
        mut cmd: std::process::Command,
        mut jail: Jail,
        command: String,
        marker: String,
        port: Option<u16>,
        log: &Transcript,
        capture: Arc<Capture>,
        survivors: Arc<std::sync::Mutex<Vec<String>>>,
    ) -> std::io::Result<Subject> {
        jail.apply(&mut cmd);
        let starting = super::signals::starting();
        let mut child = cmd.spawn()?;
        let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
        super::signals::register(pid);
        drop(starting);
        jail.started(pid);
        let real_pid = jail.subject_pid().unwrap_or(pid);
        let real_start = procfs::start_time(real_pid);
        if jail.kind() == Kind::ProcessGroup {
            live().push((pid, procfs::start_time(pid).unwrap_or(0)));
        }
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
            real_pid,
            real_start,
            jail,
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

    /// The pid of the subject program (for `python3 server.py`: python), in the suite's
    /// PID namespace.
    pub fn pid(&self) -> i32 {
        self.real_pid
    }

    /// Its process group (the process std started; in a namespace, the one that relays
    /// the program's status).
    pub fn pgid(&self) -> i32 {
        self.pgid
    }

    /// How it is contained (for the report's note).
    pub fn containment(&self) -> String {
        self.jail.describe()
    }

    /// Whether the kernel's out-of-memory killer ended one of its processes (the
    /// `--memory` cgroup limit).
    pub fn out_of_memory(&self) -> bool {
        self.jail.out_of_memory()
    }

    /// How it ended, in words, the memory limit included.
    pub fn describe_end(&self, s: ExitStatus) -> String {
        if self.out_of_memory() {
            format!("{} after it went past its memory limit", describe_status(s))
        } else {
            describe_status(s)
        }
    }

    /// Every live process of the subject (the program and all it started, however it
    /// detached; not the driver's relay and init processes).
    pub fn tree(&self) -> Vec<i32> {
        match self.jail.kind() {
            Kind::ProcessGroup => procfs::group_pids(self.pgid, true),
            _ => {
                let mut pids = procfs::tree_pids(self.pgid);
                // The relay (P) and the namespace's init (A) are the driver's.
                let init = pids.iter().copied().find(|&p| {
                    p != self.pgid && procfs::stat(p).is_some_and(|s| s.ppid == self.pgid)
                });
                pids.retain(|&p| p != self.pgid && Some(p) != init);
                pids
            }
        }
    }

    /// The processes of its tree that hold a listening socket on its port (any port when
    /// it was given none): "the server" for per-process judgements (thread-model), wherever
    /// it is in the tree (behind a wrapper shell, a daemonised child).
    pub fn listener_pids(&self) -> Vec<i32> {
        procfs::pids_listening_on(&self.tree(), self.port.unwrap_or(0))
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
    ///
    /// Contained, the status comes from the relay a moment after the program itself died
    /// (once its namespace is torn down): a program seen dead is waited for that moment, so
    /// that a caller who saw its socket close also sees it exited.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
            if self.status.is_none() && self.program_gone() {
                let deadline = Instant::now() + KILL_GRACE;
                while self.status.is_none() && Instant::now() < deadline {
                    thread::sleep(Duration::from_millis(1));
                    self.status = self.child.try_wait().ok().flatten();
                }
            }
        }
        self.status
    }

    /// Whether the program proper (not the relay) has died or is dying: gone, a zombie, in
    /// its exit (its sockets are closed before it is a zombie), or its pid now another
    /// process's.
    fn program_gone(&self) -> bool {
        if self.real_pid == self.pgid {
            return false;
        }
        match procfs::stat(self.real_pid) {
            None => true,
            Some(st) => {
                st.state == 'Z'
                    || st.state == 'X'
                    || procfs::exiting(self.real_pid)
                    || procfs::start_time(self.real_pid) != self.real_start
            }
        }
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
        let mut deadline = Instant::now() + timeout;
        let mut elsewhere_since: Option<Instant> = None;
        // Start fast (most programs listen within milliseconds), then back off: on a busy
        // machine the polling must not steal the CPU the subject needs to start. Without a
        // children list in /proc, the whole group is scanned every 8th poll only.
        let mut pause = Duration::from_millis(2);
        let mut polls = 0u32;
        let mut last_not = self.started;
        loop {
            polls += 1;
            let pids = match self.jail.kind() {
                Kind::ProcessGroup => procfs::group_pids(self.pgid, polls % 8 == 0),
                _ => self.tree(),
            };
            let probe = Instant::now();
            if procfs::pids_listen_on(&pids, port) {
                self.listening = Some((last_not, probe));
                return Ok(());
            }
            last_not = probe;
            if let Some(s) = self.try_exit() {
                // Let the reader threads take the last output before quoting it.
                self.capture.wait_closed(Duration::from_millis(500));
                let oom = self.out_of_memory();
                let cause = if !oom && mentions_addr_in_use(&self.capture.tail()) {
                    Cause::AddrInUse { port }
                } else {
                    status_cause(s, oom)
                };
                let hint = match cause {
                    Cause::OutOfMemory => format!(
                        "it used more memory than the suite allows ({} MiB; --memory raises \
                         it): look for an allocation that grows without bound",
                        self.jail.memory_limit() >> 20
                    ),
                    Cause::CpuTime => "it used up its CPU time (--cpu-time): look for a busy \
                                       loop"
                        .to_owned(),
                    _ => "the port is the first argument (argv[1]); did it fail to bind? \
                          (set SO_REUSEADDR before bind)"
                        .to_owned(),
                };
                return Err(fail(
                    format!("the server keeps running and listens on port {port}"),
                    format!(
                        "it ended with {} before listening{}",
                        self.describe_end(s),
                        self.stderr_quote()
                    ),
                )
                .hint(hint)
                .cause(cause));
            }
            // Listening, but elsewhere: said once that has held for a moment (a server may
            // open an extra listener before its real one), not at the deadline.
            if polls % 8 == 0 {
                let now = Instant::now();
                if self.listening_ports().is_empty() {
                    elsewhere_since = None;
                } else if elsewhere_since.is_none() {
                    elsewhere_since = Some(now);
                }
                if elsewhere_since.is_some_and(|t| now.duration_since(t) >= ELSEWHERE_GRACE) {
                    deadline = now;
                }
            }
            if Instant::now() >= deadline {
                let others = self.listening_ports();
                // The full scan may find it listening at the very deadline: late, not wrong.
                if others.contains(&port) {
                    self.listening = Some((last_not, Instant::now()));
                    return Ok(());
                }
                let waited = self.started.elapsed();
                let actual = if others.is_empty() {
                    format!("after {timeout:?} nothing of it listens on any port")
                } else {
                    format!(
                        "it listens on {others:?} instead (seen for {ELSEWHERE_GRACE:?}, \
                         {:.1} s after its start)",
                        waited.as_secs_f64()
                    )
                };
                let cause = if others.is_empty() {
                    Cause::NeverListened
                } else {
                    Cause::ListensElsewhere {
                        ports: others.clone(),
                    }
                };
                return Err(fail(
                    format!("the server listens on port {port} (its argument)"),
                    actual,
                )
                .hint("call listen() on the port given as first argument")
                .cause(cause));
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

    /// Ports its processes listen on now.
    pub fn listening_ports(&self) -> Vec<u16> {
        procfs::pids_listening_ports(&self.tree())
    }

    /// Whether one of its processes listens on its port now.
    pub fn is_listening(&self) -> bool {
        procfs::pids_listen_on(&self.tree(), self.port())
    }

    /// Its live processes (the program and every process it started).
    pub fn processes(&self) -> Vec<i32> {
        match self.jail.kind() {
            Kind::ProcessGroup => procfs::group_members(self.pgid),
            _ => self.tree(),
        }
    }

    /// Threads of the subject program (/proc/PID/task).
    pub fn threads(&self) -> Option<usize> {
        procfs::thread_count(self.real_pid)
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
        let survivors = kill_contained(self.pgid, &self.marker, &self.jail);
        live().retain(|(g, _)| *g != self.pgid);
        let _ = self.child.kill();
        if self.status.is_none() {
            self.status = self.child.wait().ok();
        }
        super::signals::unregister(self.pgid);
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
    kill_until_gone(pgid, marker, &|| Vec::new(), true)
}

/// SIGKILL to everything of a contained subject: its group (the relay and the namespace's
/// init: the kernel then ends the whole namespace), and whatever its namespace or cgroup
/// still holds, until nothing is left (counted by namespace and cgroup) or the grace ends.
/// Without a namespace, also the processes carrying `marker` and the orphans of the group
/// (reparented to the suite, a child subreaper).
pub fn kill_contained(pgid: i32, marker: &str, jail: &Jail) -> Vec<i32> {
    let fallback = jail.kind() == Kind::ProcessGroup;
    // Reaped and gone (a run collected by assert_cmd): its pid, and so its group's number,
    // may belong to another program by now.
    if !jail.may_hold_processes() {
        return jail.members();
    }
    let members = || {
        let mut m = jail.members();
        if fallback {
            m.extend(orphans_of_suite(pgid));
        }
        m
    };
    kill_until_gone(pgid, marker, &members, fallback)
}

/// Subjects started without a namespace and not yet killed: (process group, start time).
static LIVE: std::sync::Mutex<Vec<(i32, u64)>> = std::sync::Mutex::new(Vec::new());

fn live() -> std::sync::MutexGuard<'static, Vec<(i32, u64)>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Processes reparented to the suite (a child subreaper without namespaces) that are not
/// subjects it started: escaped descendants, whatever their environment. One is taken as
/// `pgid`'s when `pgid` is the live subject that started last before it.
fn orphans_of_suite(pgid: i32) -> Vec<i32> {
    let me = i32::try_from(std::process::id()).unwrap_or(0);
    let subjects = live().clone();
    let Some(&(_, since)) = subjects.iter().find(|(g, _)| *g == pgid) else {
        return Vec::new();
    };
    procfs::all_pids()
        .into_iter()
        .filter_map(procfs::stat)
        .filter(|s| s.ppid == me && s.state != 'Z' && !subjects.iter().any(|(g, _)| *g == s.pid))
        .filter(|s| {
            let Some(t) = procfs::start_time(s.pid) else {
                return false;
            };
            t >= since && !subjects.iter().any(|&(_, u)| u > since && u <= t)
        })
        .map(|s| s.pid)
        .collect()
}

fn kill_until_gone(
    pgid: i32,
    marker: &str,
    members: &dyn Fn() -> Vec<i32>,
    scan_marker: bool,
) -> Vec<i32> {
    let deadline = Instant::now() + KILL_GRACE;
    let mut scanned_marker = !scan_marker;
    loop {
        if let Some(p) = Pid::from_raw(pgid) {
            let _ = kill_process_group(p, Signal::KILL);
        }
        let mut alive = procfs::group_members(pgid);
        let me = i32::try_from(std::process::id()).unwrap_or(0);
        for pid in members() {
            // Never the suite itself, nor init: a guard against a wrong membership.
            if pid <= 1 || pid == me {
                continue;
            }
            if let Some(p) = Pid::from_raw(pid) {
                let _ = kill_process(p, Signal::KILL);
            }
            alive.push(pid);
        }
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
