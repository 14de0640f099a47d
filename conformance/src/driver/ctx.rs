//! [`Ctx`]: everything a check body may use. A check describes a scenario with it (start
//! the subject, connect, send, wait for a reply or a line, kill) and never touches a process,
//! a socket or a clock directly.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::command::{CommandSpec, Limits, new_marker, prepare, prepare_in};
use super::contain::{self, Jail};
use super::marks::Marks;
use super::output::Capture;
use super::peer::{FakeServer, Transcript};
use super::ports;
use super::run::{Finished, run_to_end};
use super::runner::Details;
use super::subject::Subject;
use crate::check::{Cause, Check, Model, Role, Stop, harness_error};
use crate::suites::Suite;
use crate::timing::Timing;

/// Where a role's program comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectCmd {
    /// The reference program, reached as `<exe> ref <program>`.
    Reference(PathBuf),
    /// The user's command (`--server-cmd`, `--client-cmd`).
    Command(CommandSpec),
}

impl SubjectCmd {
    /// The user's command line, or None for the reference (JSON `subjects`).
    pub fn user_display(&self) -> Option<&str> {
        match self {
            SubjectCmd::Reference(_) => None,
            SubjectCmd::Command(c) => Some(&c.display),
        }
    }
}

/// The settings of one run, shared by all its checks.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The server subject.
    pub server: SubjectCmd,
    /// The client subject.
    pub client: SubjectCmd,
    /// The server model (hello, multiclient); None when not given.
    pub model: Option<Model>,
    /// Deadlines.
    pub timing: Timing,
    /// A port forced with `--port` (then checks run one at a time).
    pub fixed_port: Option<u16>,
    /// Resource limits of every subject.
    pub limits: Limits,
}

impl RunConfig {
    /// Both roles against the reference programs of `exe`.
    pub fn reference(exe: PathBuf) -> RunConfig {
        RunConfig {
            server: SubjectCmd::Reference(exe.clone()),
            client: SubjectCmd::Reference(exe),
            model: None,
            timing: Timing::default(),
            fixed_port: None,
            limits: Limits::default(),
        }
    }
}

/// How to start a subject: placeholder values, argument override, stdin, timeout, port.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    vars: Vec<(&'static str, String)>,
    args: Option<Vec<String>>,
    stdin: Vec<u8>,
    timeout: Option<Duration>,
    port: Option<u16>,
    open_files: Option<u64>,
    exchange_only: bool,
}

impl Launch {
    /// Standard arguments, default values.
    pub fn new() -> Launch {
        Launch::default()
    }
    /// Sets a placeholder (`seq`, `user`, `request`; `host` and `port` have defaults).
    pub fn var(mut self, name: &'static str, value: impl ToString) -> Launch {
        self.vars.retain(|(n, _)| *n != name);
        self.vars.push((name, value.to_string()));
        self
    }
    /// Runs the program with exactly these arguments instead of the standard ones
    /// (argument checks). For a command with placeholders, the words holding them are
    /// replaced; for a reference program, its flags (--model) are left out too.
    pub fn args<I, S>(mut self, args: I) -> Launch
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args = Some(args.into_iter().map(Into::into).collect());
        self
    }
    /// Bytes given on stdin (all at once, then stdin is closed, for [`Ctx::run`]).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Launch {
        self.stdin = bytes.into();
        self
    }
    /// How long [`Ctx::run`] lets it run (default: the exit deadline plus slack).
    pub fn timeout(mut self, d: Duration) -> Launch {
        self.timeout = Some(d);
        self
    }
    /// The port: a server's to listen on, a client's to connect to (the fake server's).
    pub fn port(mut self, port: u16) -> Launch {
        self.port = Some(port);
        self
    }
    /// Overrides the open-files limit (default 1024).
    pub fn open_files(mut self, n: u64) -> Launch {
        self.open_files = Some(n);
        self
    }
    /// The check judges only what the fake server saw ([`Ctx::run_with_fake_server`]): once
    /// its scenario has ended, the outcome can no longer change, so the client is stopped
    /// then instead of being waited for until it exits ([`Finished::stopped`]). Not for a
    /// check that judges the client's exit or what it prints after the exchange.
    pub fn exchange_only(mut self) -> Launch {
        self.exchange_only = true;
        self
    }
}

/// The context of one check.
#[derive(Debug)]
pub struct Ctx {
    check: &'static Check,
    suite: &'static Suite,
    cfg: Arc<RunConfig>,
    log: Transcript,
    captures: Vec<(String, Arc<Capture>)>,
    survivors: Arc<Mutex<Vec<String>>>,
    notes: Vec<String>,
    netns: bool,
    _netns_hold: contain::NetnsHold,
    containment: Option<String>,
    port_locks: Mutex<Vec<ports::PortLock>>,
    marks: Marks,
}

impl Ctx {
    /// A context for `check` (the runner makes one per check; engine tests make their own).
    ///
    /// The calling thread (the check's) gets a network namespace of its own where the
    /// machine allows it: the check's subjects and peers (threads spawned from it) share a
    /// loopback no other check sees, so fixed ports never collide. A context made while
    /// another is alive on the same thread shares the other's ([`contain::NetnsHold`]).
    pub fn new(check: &'static Check, suite: &'static Suite, cfg: Arc<RunConfig>) -> Ctx {
        let hold = contain::NetnsHold::take();
        let netns = hold.private();
        Ctx {
            check,
            suite,
            cfg,
            log: Transcript::default(),
            captures: Vec::new(),
            survivors: Arc::default(),
            notes: Vec::new(),
            netns,
            _netns_hold: hold,
            containment: None,
            port_locks: Mutex::new(Vec::new()),
            marks: Marks::new(Instant::now()),
        }
    }

    /// Whether this check runs in a network namespace of its own.
    pub fn own_network(&self) -> bool {
        self.netns
    }

    /// The check being run.
    pub fn check(&self) -> &'static Check {
        self.check
    }
    /// The server model under test (None: not given; treat as iterative).
    pub fn model(&self) -> Option<Model> {
        self.cfg.model
    }
    /// Deadlines (spec figures plus slack).
    pub fn timing(&self) -> &Timing {
        &self.cfg.timing
    }
    /// The transcript of this check's connections.
    pub fn transcript(&self) -> &Transcript {
        &self.log
    }
    /// Adds a line to the report of this check (shown with a failure).
    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }
    /// Records a window (`from`..`to`) a timing was judged against, for the report's picture.
    pub fn mark_window(&self, label: impl Into<String>, from: Instant, to: Instant) {
        self.marks.window(label, from, to);
    }
    /// Records a deadline (`at`) a timing was judged against, for the report's picture.
    pub fn mark_deadline(&self, label: impl Into<String>, at: Instant) {
        self.marks.deadline(label, at);
    }
    /// Records a moment the check judged (a tick line seen), for the report's picture.
    pub fn mark_seen(&self, label: impl Into<String>, at: Instant) {
        self.marks.seen(label, at);
    }
    /// A handle on this check's marks for helpers that hold no `Ctx` (records into the same
    /// list).
    pub fn marks(&self) -> Marks {
        self.marks.clone()
    }
    /// Whether the subject of `role` is the reference program.
    pub fn is_reference(&self, role: Role) -> bool {
        matches!(self.subject_cmd(role), SubjectCmd::Reference(_))
    }

    /// A fresh port for a server (the forced `--port` if one was given, made ready by
    /// [`Ctx::fixed_port`]).
    pub fn port(&self) -> Result<u16, Stop> {
        match self.cfg.fixed_port {
            Some(p) => self.fixed_port(p),
            None => ports::allocate().ok_or_else(|| harness_error("no free port in 20000..32000")),
        }
    }

    /// Readies a fixed port (`--port N`, or one a check names, like 1024 or 64000) for this
    /// check. In its own network namespace nothing else can hold it. Otherwise it is locked
    /// across processes for the rest of the check's run, then waited for (bounded) until no
    /// socket holds it, TIME_WAIT included; a program outside the suite that holds it is the
    /// machine's problem (`PortBusy`, errored), never the subject's.
    pub fn fixed_port(&self, port: u16) -> Result<u16, Stop> {
        if self.netns || port == 0 || ports::is_allocated(port) {
            return Ok(port);
        }
        let mut locks = self.port_locks.lock().unwrap_or_else(|e| e.into_inner());
        // Held already: a restart on the same port is the check's own business (its
        // TIME_WAIT is what a restart check looks at), so no second wait.
        if !locks.iter().any(|l| l.port() == port) {
            locks.push(ports::ready_fixed(port).map_err(|e| Stop::Error(e.into()))?);
        }
        Ok(port)
    }

    /// Starts the server subject on a fresh port with its standard arguments and waits
    /// until it listens (startup deadline plus slack).
    ///
    /// A fresh port was probed free and reserved, so a server that cannot bind it
    /// ("Address already in use") lost it to a program outside the suite between the probe
    /// and its bind: that is retried once on another port, not blamed on the subject.
    /// (Restart checks use [`Ctx::server_on`], where that message is the subject's fault.)
    pub fn server(&mut self) -> Result<Subject, Stop> {
        let port = self.port()?;
        match self.server_on(port) {
            Err(Stop::Fail(f))
                if self.cfg.fixed_port.is_none() && f.cause == Some(Cause::AddrInUse { port }) =>
            {
                self.note(format!(
                    "port {port} was taken by another program before the server bound it; \
                     retried on a fresh port"
                ));
                let port = self.port()?;
                self.server_on(port)
            }
            other => other,
        }
    }

    /// Starts the server subject on `port` and waits until it listens.
    pub fn server_on(&mut self, port: u16) -> Result<Subject, Stop> {
        self.fixed_port(port)?;
        let mut s = self.spawn(Role::Server, Launch::new().port(port))?;
        s.wait_listening(self.timing().startup())?;
        Ok(s)
    }

    /// Starts the subject of `role` and returns at once (no wait for listening): servers
    /// with odd arguments, interactive clients fed with [`Subject::write_stdin`].
    pub fn spawn(&mut self, role: Role, launch: Launch) -> Result<Subject, Stop> {
        let port = match (role, launch.port) {
            (_, Some(p)) => p,
            (Role::Server, None) => self.port()?,
            (Role::Client, None) => 0,
        };
        let (argv, display) = self.argv(role, &launch, port)?;
        let marker = new_marker();
        let limits = self.limits(&launch);
        let jail = self.jail(&limits);
        let cmd = prepare_in(&argv, limits, &marker, &jail);
        let capture = Capture::new();
        self.captures.push((display.clone(), Arc::clone(&capture)));
        let mut subject = Subject::start(
            cmd,
            jail,
            display.clone(),
            marker,
            Some(port),
            &self.log,
            capture,
            Arc::clone(&self.survivors),
        )
        .map_err(|e| harness_error(format!("cannot start `{display}`: {e}")))?;
        if !launch.stdin.is_empty() && !subject.write_stdin(&launch.stdin) {
            self.notes
                .push("the subject did not read its stdin".to_owned());
        }
        Ok(subject)
    }

    /// Runs the subject of `role` to its end through assert_cmd: stdin given at once,
    /// killed (group and all) at the timeout. For clients and argument checks.
    pub fn run(&mut self, role: Role, launch: Launch) -> Result<Finished, Stop> {
        self.run_until(role, launch, None)
    }

    /// [`Ctx::run`], also ended (stopped) once `stop` is set.
    fn run_until(
        &mut self,
        role: Role,
        launch: Launch,
        stop: Option<&AtomicBool>,
    ) -> Result<Finished, Stop> {
        let port = launch.port.unwrap_or(0);
        let (argv, display) = self.argv(role, &launch, port)?;
        let marker = new_marker();
        let limits = self.limits(&launch);
        let jail = self.jail(&limits);
        let cmd = prepare_in(&argv, limits, &marker, &jail);
        let timeout = launch.timeout.unwrap_or(self.timing().exit());
        let fin = run_to_end(
            cmd,
            jail,
            display.clone(),
            marker,
            launch.stdin.clone(),
            timeout,
            stop,
        )
        .map_err(|e| harness_error(format!("cannot run `{display}`: {e}")))?;
        self.captures.push((display, Arc::clone(&fin.capture)));
        Ok(fin)
    }

    /// Runs the client subject to its end (as [`Ctx::run`]) while `scenario` plays its
    /// server on a fresh [`FakeServer`] in another thread; the client is given the fake
    /// server's port. The scenario must bound its own waits (every Peer call has a
    /// deadline); it gets the server back to check, after the run, that nobody connected.
    pub fn run_with_fake_server<R: Send>(
        &mut self,
        launch: Launch,
        scenario: impl FnOnce(&mut FakeServer) -> R + Send,
    ) -> Result<(Finished, R), Stop> {
        let mut fake = self.fake_server()?;
        let launch = launch.port(fake.port());
        // Once the client has ended, no connection can come: the scenario's waits for one
        // end at once instead of at their deadlines.
        let gone = fake.client_gone_flag();
        let exchange_over = AtomicBool::new(false);
        let stop = launch.exchange_only.then_some(&exchange_over);
        let (fin, r) = std::thread::scope(|s| {
            let handle = s.spawn(|| {
                let r = scenario(&mut fake);
                exchange_over.store(true, std::sync::atomic::Ordering::SeqCst);
                r
            });
            let fin = self.run_until(Role::Client, launch, stop);
            gone.store(true, std::sync::atomic::Ordering::SeqCst);
            (fin, handle.join())
        });
        let fin = fin?;
        match r {
            Ok(r) => Ok((fin, r)),
            Err(p) => std::panic::resume_unwind(p),
        }
    }

    /// A fake server on 127.0.0.1 for a client subject.
    pub fn fake_server(&self) -> Result<FakeServer, Stop> {
        FakeServer::bind(&self.log)
    }

    /// A fake server on 127.0.0.1:`port` (a client must be seen NOT to connect to it).
    pub fn fake_server_on(&self, port: u16) -> Result<FakeServer, Stop> {
        FakeServer::bind_on(&self.log, port)
    }

    fn jail(&mut self, limits: &Limits) -> Jail {
        let jail = Jail::new(limits);
        if self.containment.is_none() {
            let mut note = format!("subjects {}", jail.describe());
            if self.netns {
                note.push_str(", with the check's own network namespace");
            }
            self.containment = Some(note);
        }
        jail
    }

    /// How this check's subjects were contained (None before one was started).
    pub fn containment(&self) -> Option<&str> {
        self.containment.as_deref()
    }

    /// The prepared command of `role` on `port` (arguments filled, limits, marker), its
    /// display and its marker: for a re-run under other conditions (driver/pty.rs).
    pub(crate) fn command(
        &self,
        role: Role,
        launch: &Launch,
        port: u16,
    ) -> Result<(std::process::Command, String, String), Stop> {
        let (argv, display) = self.argv(role, launch, port)?;
        let marker = new_marker();
        Ok((
            prepare(&argv, self.limits(launch), &marker),
            display,
            marker,
        ))
    }

    fn limits(&self, launch: &Launch) -> Limits {
        let mut l = self.cfg.limits;
        if let Some(n) = launch.open_files {
            l.open_files = n;
        }
        l
    }

    fn subject_cmd(&self, role: Role) -> &SubjectCmd {
        match role {
            Role::Server => &self.cfg.server,
            Role::Client => &self.cfg.client,
        }
    }

    fn argv(
        &self,
        role: Role,
        launch: &Launch,
        port: u16,
    ) -> Result<(Vec<OsString>, String), Stop> {
        let mut vars: Vec<(&str, String)> =
            vec![("host", "127.0.0.1".to_owned()), ("port", port.to_string())];
        for (k, v) in &launch.vars {
            vars.retain(|(n, _)| n != k);
            vars.push((k, v.clone()));
        }
        let standard = match role {
            Role::Server => self.suite.server_args,
            Role::Client => self.suite.client_args,
        };
        let over = launch.args.as_deref();
        match self.subject_cmd(role) {
            SubjectCmd::Command(spec) => {
                let argv = spec.argv(&vars, standard, over);
                let display = shlex::try_join(argv.iter().map(String::as_str))
                    .unwrap_or_else(|_| argv.join(" "));
                Ok((argv.into_iter().map(OsString::from).collect(), display))
            }
            SubjectCmd::Reference(exe) => {
                let program = match role {
                    Role::Server => self.suite.server_program,
                    Role::Client => self.suite.client_program,
                };
                let mut args: Vec<String> = vec![program.to_owned()];
                match over {
                    Some(o) => args.extend(o.iter().cloned()),
                    None => {
                        args.extend(standard.iter().map(|w| super::command::fill(w, &vars)));
                        if role == Role::Server {
                            args.extend(self.suite.reference_flags(self.cfg.model, self.timing()));
                        }
                    }
                }
                let display = format!("conformance ref {}", args.join(" "));
                let mut argv = vec![exe.clone().into_os_string(), OsString::from("ref")];
                argv.extend(args.into_iter().map(OsString::from));
                Ok((argv, display))
            }
        }
    }

    pub(crate) fn finish(self) -> Details {
        let mut notes = self.notes;
        notes.extend(self.containment);
        notes.extend(
            self.survivors
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .cloned(),
        );
        for (cmd, cap) in &self.captures {
            let (out, err) = cap.dropped();
            let (out_lines, err_lines) = cap.dropped_lines();
            if out + err > 0 {
                notes.push(format!(
                    "`{cmd}` wrote more than the suite keeps (the first {} KiB or {} lines per \
                     stream, then the last {} lines): {out} bytes ({out_lines} lines) of stdout \
                     and {err} bytes ({err_lines} lines) of stderr were read and not kept",
                    super::output::MAX_STREAM_BYTES >> 10,
                    super::output::MAX_HEAD_LINES,
                    super::output::LATE_LINES,
                ));
            }
        }
        let outputs = self
            .captures
            .into_iter()
            .map(|(cmd, cap)| (cmd, cap.tail()))
            .collect();
        Details {
            transcript: self.log.events(),
            outputs,
            notes,
            started: Some(self.marks.start()),
            marks: self.marks.list(),
        }
    }

    pub(crate) fn survivors(&self) -> Vec<String> {
        self.survivors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
