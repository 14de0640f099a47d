//! Engine self-tests: command splitting, environment scrubbing, /proc readiness, killing
//! process groups, deadlines, output caps, harness flags, and docs/checks.md being current.
//! A module of the self-test binary (selftest.rs): its trials are `engine::<group>::<test>`,
//! run in the self-test's pool (`cargo test --test selftest -- engine::`).

use std::sync::Arc;
use std::time::Duration;

use conformance::args;
use conformance::check::{Cause, Check, Level, RETIRED, Role, Stop};
use conformance::driver::command::{CommandSpec, MARKER_VAR, fill};
use conformance::driver::output::{LATE_LINES, MAX_HEAD_LINES, MAX_LINE_BYTES, MAX_STREAM_BYTES};
use conformance::driver::{Ctx, Launch, RunConfig, Stream, SubjectCmd, procfs, wait_until};
use conformance::report::list;
use conformance::suites::{self, hello, messages};
use conformance::timing::Timing;
use libtest_mimic::{Failed, Trial};

mod engine_hello;
use engine_hello::*;
mod framed_hints;
use framed_hints::*;

type TestResult = Result<(), Failed>;

fn ensure(cond: bool, msg: impl std::fmt::Display) -> TestResult {
    if cond { Ok(()) } else { Err(Failed::from(msg)) }
}

/// A context whose server command is `line` (shell-split), with no slack so deadlines are
/// the spec's own (the waits still end by events, never by sleeping).
fn ctx_with(line: &str) -> Ctx {
    let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_conformance"));
    let mut cfg = RunConfig::reference(exe);
    let spec = CommandSpec::parse(line).expect("test command splits");
    cfg.server = SubjectCmd::Command(spec.clone());
    cfg.client = SubjectCmd::Command(spec);
    cfg.timing = Timing {
        slack: Duration::ZERO,
        ..Timing::default()
    };
    Ctx::new(&hello::CHECKS[0], &hello::SUITE, Arc::new(cfg))
}

fn splits_like_a_shell() -> TestResult {
    let c = CommandSpec::parse(r#"python3 "my server.py" --name='a b' x\ y"#)
        .map_err(|e| e.to_string())?;
    ensure(
        c.words == ["python3", "my server.py", "--name=a b", "x y"],
        format!("{:?}", c.words),
    )?;
    ensure(CommandSpec::parse("").is_err(), "empty command accepted")?;
    ensure(
        CommandSpec::parse("python3 'unclosed").is_err(),
        "unclosed quote accepted",
    )
}

fn appends_standard_args_without_placeholders() -> TestResult {
    let c = CommandSpec::parse("./tcpclient -v").map_err(|e| e.to_string())?;
    let vars = vec![
        ("host", "127.0.0.1".to_owned()),
        ("port", "20001".to_owned()),
        ("seq", "5".to_owned()),
    ];
    let argv = c.argv(&vars, &["{host}", "{port}", "{seq}"], None);
    ensure(
        argv == ["./tcpclient", "-v", "127.0.0.1", "20001", "5"],
        format!("{argv:?}"),
    )
}

fn fills_placeholders_in_place() -> TestResult {
    let c =
        CommandSpec::parse("python3 c.py --port={port} {host} {seq}").map_err(|e| e.to_string())?;
    let vars = vec![
        ("host", "127.0.0.1".to_owned()),
        ("port", "20001".to_owned()),
        ("seq", "9".to_owned()),
    ];
    let argv = c.argv(&vars, &["{host}", "{port}", "{seq}"], None);
    ensure(
        argv == ["python3", "c.py", "--port=20001", "127.0.0.1", "9"],
        format!("{argv:?}"),
    )?;
    ensure(
        fill("{user}-{x}", &[("user", "bob".to_owned())]) == "bob-{x}",
        "unknown placeholder changed",
    )
}

fn override_args_replace_standard_ones() -> TestResult {
    let over = vec!["abc".to_owned()];
    let plain = CommandSpec::parse("./server").map_err(|e| e.to_string())?;
    let a = plain.argv(&[], &["{port}"], Some(&over));
    ensure(a == ["./server", "abc"], format!("{a:?}"))?;
    let templ = CommandSpec::parse("python3 s.py {port} --verbose").map_err(|e| e.to_string())?;
    let b = templ.argv(&[], &["{port}"], Some(&over));
    ensure(
        b == ["python3", "s.py", "abc", "--verbose"],
        format!("{b:?}"),
    )
}

fn reports_missing_program() -> TestResult {
    let c = CommandSpec::parse("./definitely-not-here-xyz").map_err(|e| e.to_string())?;
    ensure(c.resolve().is_err(), "missing path resolved")?;
    let d = CommandSpec::parse("sh -c true").map_err(|e| e.to_string())?;
    ensure(d.resolve().is_ok(), "sh not found on PATH")
}

/// Variables that change a subject's output buffering, set for the whole self-test process
/// by its `main` before any thread starts (setting them here, beside trials that start
/// processes, would race with those): [`scrubs_buffering_environment`] proves the subject
/// does not see them.
pub const BUFFERING_ENV: &[(&str, &str)] = &[
    ("PYTHONUNBUFFERED", "1"),
    ("_STDBUF_O", "0"),
    ("LD_PRELOAD", ""),
];

fn scrubs_buffering_environment() -> TestResult {
    // The variables are set for this process; the subject must not see them.
    for (k, v) in BUFFERING_ENV {
        ensure(
            std::env::var_os(k).is_some_and(|have| have == *v),
            format!("{k} is not {v:?} in the test process: main sets BUFFERING_ENV"),
        )?;
    }
    let mut ctx = ctx_with(
        r#"sh -c 'echo "py=${PYTHONUNBUFFERED-unset} so=${_STDBUF_O-unset} pre=${LD_PRELOAD-unset} mark=${CONFORMANCE_SUBJECT:+set}"'"#,
    );
    let fin = ctx
        .run(Role::Client, Launch::new())
        .map_err(|e| format!("{e:?}"))?;
    let out = fin.stdout_text();
    ensure(
        out.trim() == "py=unset so=unset pre=unset mark=set",
        format!("subject saw: {out:?} ({MARKER_VAR} should be set)"),
    )
}

fn applies_rlimits() -> TestResult {
    let mut ctx = ctx_with(r#"sh -c 'ulimit -n; ulimit -c'"#);
    let fin = ctx
        .run(Role::Client, Launch::new())
        .map_err(|e| format!("{e:?}"))?;
    let out = fin.stdout_text();
    ensure(
        out.split_whitespace().collect::<Vec<_>>() == ["1024", "0"],
        format!("limits: {out:?}"),
    )
}

const LISTENER: &str = "import socket,sys,time; s=socket.socket(); \
    s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); print('up', flush=True); time.sleep(60)";

fn sees_listening_socket_in_proc() -> TestResult {
    let mut ctx = ctx_with(&format!("python3 -c \"{LISTENER}\""));
    let mut s = ctx.server().map_err(|e| format!("{e:?}"))?;
    ensure(s.is_listening(), "not listening after server() returned")?;
    ensure(
        s.listening_ports() == [s.port()],
        format!("{:?}", s.listening_ports()),
    )?;
    ensure(
        procfs::anyone_listens_on(s.port()),
        "anyone_listens_on is false",
    )?;
    s.kill();
    ensure(
        !procfs::anyone_listens_on(s.port()),
        "still listening after kill",
    )
}

fn sees_listener_forked_inside_the_group() -> TestResult {
    // The listening process is sh's child: readiness is per group, not per pid.
    // No quotes inside the script: it travels inside sh's single-quoted argument.
    let script = "import socket,sys,time; s=socket.socket(); s.bind((str(), int(sys.argv[1]))); \
                  s.listen(); time.sleep(60)";
    let mut ctx = ctx_with(&format!("sh -c 'python3 -c \"{script}\" \"$0\" & wait'"));
    let s = ctx.server().map_err(|e| format!("{e:?}"))?;
    ensure(
        s.processes().len() >= 2,
        format!("group: {:?}", s.processes()),
    )
}

fn finds_the_listener_behind_a_wrapper_shell() -> TestResult {
    // `sh run.sh` without exec: the shell is the program, python holds the listener.
    let script = "import socket,sys,time; s=socket.socket(); s.bind((str(), int(sys.argv[1]))); \
                  s.listen(); time.sleep(60)";
    let mut ctx = ctx_with(&format!("sh -c 'python3 -c \"{script}\" \"$0\"; true'"));
    let s = ctx.server().map_err(|e| format!("{e:?}"))?;
    let listeners = s.listener_pids();
    ensure(
        listeners.len() == 1 && !listeners.contains(&s.pid()),
        format!("listeners {listeners:?}, program {}", s.pid()),
    )?;
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", listeners[0])).unwrap_or_default();
    ensure(comm.starts_with("python"), format!("listener is {comm:?}"))
}

fn does_not_take_a_bound_socket_for_listening() -> TestResult {
    let script = "import socket,sys,time; s=socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); \
                  print('bound', flush=True); time.sleep(60)";
    let mut ctx = ctx_with(&format!("python3 -c \"{script}\""));
    let mut s = ctx
        .spawn(Role::Server, Launch::new())
        .map_err(|e| format!("{e:?}"))?;
    let bound = s.wait_line(0, Duration::from_secs(10), |l| l.trimmed() == "bound");
    ensure(bound.is_some(), "the script did not start")?;
    ensure(
        !s.is_listening(),
        "a bound, non-listening socket counted as listening",
    )?;
    match s.wait_listening(Duration::from_millis(300)) {
        Err(Stop::Fail(f)) => ensure(f.actual.contains("nothing of it listens"), f.actual),
        other => Err(Failed::from(format!("{other:?}"))),
    }
}

fn never_listening_server_fails_at_its_deadline() -> TestResult {
    let mut ctx = ctx_with("sleep 60");
    match ctx.server() {
        Err(Stop::Fail(f)) => {
            ensure(f.expected.contains("listens on port"), &f.expected)?;
            ensure(f.actual.contains("nothing of it listens"), &f.actual)
        }
        other => Err(Failed::from(format!("expected a failure, got {other:?}"))),
    }
}

fn exiting_server_reports_status_and_stderr() -> TestResult {
    let mut ctx = ctx_with("sh -c 'echo cannot bind here >&2; exit 3'");
    match ctx.server() {
        Err(Stop::Fail(f)) => {
            ensure(f.actual.contains("exit status 3"), &f.actual)?;
            ensure(f.actual.contains("cannot bind here"), &f.actual)
        }
        other => Err(Failed::from(format!("expected a failure, got {other:?}"))),
    }
}

/// A fresh port lost to another program between probe and bind is retried once elsewhere;
/// a program that can never bind still fails.
fn port_taken_before_bind_is_retried_once() -> TestResult {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let marker = dir.path().join("started-once");
    let script = "import os,socket,sys,time\n\
                  m, port = sys.argv[1], int(sys.argv[2])\n\
                  if not os.path.exists(m):\n    open(m, 'w').close()\n    \
                  sys.exit('bind: [Errno 98] Address already in use')\n\
                  s = socket.socket(); s.bind(('127.0.0.1', port)); s.listen(); time.sleep(60)";
    let line = format!("python3 -c \"{script}\" {}", marker.display());
    let mut ctx = ctx_with(&line);
    let s = ctx.server().map_err(|e| format!("not retried: {e:?}"))?;
    ensure(marker.exists(), "the first start did not run")?;
    drop(s);
    let mut ctx = ctx_with("sh -c 'echo bind: Address already in use >&2; exit 1'");
    match ctx.server() {
        Err(Stop::Fail(f)) => ensure(f.actual.contains("Address already in use"), &f.actual),
        other => Err(Failed::from(format!("expected a failure, got {other:?}"))),
    }
}

fn kills_forking_group_that_ignores_sigterm() -> TestResult {
    let mut ctx = ctx_with(r#"sh -c 'trap "" TERM; sleep 1000 & sleep 1000 & echo started; wait'"#);
    let mut s = ctx
        .spawn(Role::Server, Launch::new())
        .map_err(|e| format!("{e:?}"))?;
    ensure(
        s.wait_line(0, Duration::from_secs(10), |l| l.trimmed() == "started")
            .is_some(),
        "no start",
    )?;
    let pgid = s.pgid();
    ensure(
        wait_until(Duration::from_secs(10), || {
            procfs::group_members(pgid).len() >= 3
        }),
        format!(
            "group never had 3 processes: {:?}",
            procfs::group_members(pgid)
        ),
    )?;
    let survivors = s.kill();
    ensure(survivors.is_empty(), format!("survivors: {survivors:?}"))?;
    ensure(
        procfs::group_members(pgid).is_empty(),
        format!("{:?}", procfs::group_members(pgid)),
    )
}

fn kills_a_process_that_left_its_group() -> TestResult {
    // setsid: a new session and group; the environment marker still finds it.
    let mut ctx = ctx_with(r#"sh -c 'setsid sleep 1000 & echo started; wait'"#);
    let mut s = ctx
        .spawn(Role::Server, Launch::new())
        .map_err(|e| format!("{e:?}"))?;
    ensure(
        s.wait_line(0, Duration::from_secs(10), |l| l.trimmed() == "started")
            .is_some(),
        "no start",
    )?;
    let (pid, pgid) = (s.pid(), s.pgid());
    // The escaped sleep: a process whose parent is the subject but whose group is not.
    let escaped = || {
        procfs::all_pids()
            .into_iter()
            .filter_map(procfs::stat)
            .find(|p| p.ppid == pid && p.pgrp != pgid && p.state != 'Z')
    };
    ensure(
        wait_until(Duration::from_secs(10), || escaped().is_some()),
        "setsid child not seen",
    )?;
    let pid = escaped().map(|p| p.pid).unwrap_or(0);
    let survivors = s.kill();
    ensure(survivors.is_empty(), format!("survivors: {survivors:?}"))?;
    ensure(
        procfs::stat(pid).is_none_or(|p| p.state == 'Z'),
        format!("escaped pid {pid} still alive"),
    )
}

fn kills_an_escaped_daemon_without_marker() -> TestResult {
    // setsid and an empty environment: neither the group nor the marker finds it; the
    // subject's namespace (or, without one, parentage) does.
    let mut ctx = ctx_with(r#"sh -c 'setsid env -i sleep 1000 & echo started; wait'"#);
    let mut s = ctx
        .spawn(Role::Server, Launch::new())
        .map_err(|e| format!("{e:?}"))?;
    ensure(
        s.wait_line(0, Duration::from_secs(10), |l| l.trimmed() == "started")
            .is_some(),
        "no start",
    )?;
    let escaped = || {
        s.tree()
            .into_iter()
            .filter_map(procfs::stat)
            .find(|p| p.pgrp != s.pgid() && p.state != 'Z')
    };
    ensure(
        wait_until(Duration::from_secs(10), || escaped().is_some()),
        format!("setsid child not seen in {:?}", s.tree()),
    )?;
    let pid = escaped().map(|p| p.pid).unwrap_or(0);
    let survivors = s.kill();
    ensure(survivors.is_empty(), format!("survivors: {survivors:?}"))?;
    ensure(
        wait_until(Duration::from_secs(5), || {
            procfs::stat(pid).is_none_or(|p| p.state == 'Z')
        }),
        format!("escaped pid {pid} still alive"),
    )
}

fn caps_an_output_flood_without_blocking() -> TestResult {
    // 30 MB of output, then a line on stderr: it only comes if the driver kept draining.
    let mut ctx =
        ctx_with(r#"sh -c 'yes 0123456789 | head -c 30000000; echo drained >&2; sleep 60'"#);
    let s = ctx
        .spawn(Role::Server, Launch::new())
        .map_err(|e| format!("{e:?}"))?;
    let got = s.wait_line(0, Duration::from_secs(60), |l| {
        l.stream == Stream::Stderr && l.trimmed() == "drained"
    });
    ensure(
        got.is_some(),
        "stderr line never came: the subject was blocked",
    )?;
    let kept: usize = s
        .lines_of(Stream::Stdout)
        .iter()
        .map(|l| l.text.len() + 1)
        .sum();
    ensure(kept <= MAX_STREAM_BYTES, format!("kept {kept} bytes"))?;
    ensure(s.capture().dropped().0 > 0, "nothing counted as dropped")
}

fn sees_a_line_after_a_newline_flood() -> TestResult {
    // 200000 bare newlines (far past the head's record cap), then a line: still seen.
    let mut ctx =
        ctx_with(r#"sh -c 'head -c 200000 /dev/zero | tr "\0" "\n"; echo periodic; sleep 60'"#);
    let s = ctx
        .spawn(Role::Server, Launch::new())
        .map_err(|e| format!("{e:?}"))?;
    let got = s.wait_line(0, Duration::from_secs(30), |l| l.trimmed() == "periodic");
    ensure(got.is_some(), "the line after the flood was not seen")?;
    let (_, lines) = (s.capture().dropped(), s.capture().dropped_lines());
    ensure(lines.0 > 0, "no dropped lines counted")?;
    ensure(
        s.lines().len() <= MAX_HEAD_LINES + 2 * LATE_LINES,
        format!("{} lines kept", s.lines().len()),
    )
}

fn cuts_an_endless_line() -> TestResult {
    let mut ctx = ctx_with(r#"sh -c 'head -c 100000 /dev/zero | tr "\0" a; echo; echo end'"#);
    let s = ctx
        .spawn(Role::Server, Launch::new())
        .map_err(|e| format!("{e:?}"))?;
    ensure(
        s.wait_line(0, Duration::from_secs(30), |l| l.trimmed() == "end")
            .is_some(),
        "no end line",
    )?;
    let lines = s.lines_of(Stream::Stdout);
    ensure(
        lines[0].truncated && lines[0].text.len() == MAX_LINE_BYTES,
        format!("{} bytes", lines[0].text.len()),
    )
}

fn kills_a_flooding_run() -> TestResult {
    let mut ctx = ctx_with("yes");
    let fin = ctx
        .run(Role::Client, Launch::new().timeout(Duration::from_secs(60)))
        .map_err(|e| format!("{e:?}"))?;
    ensure(
        fin.flooded,
        format!("not flagged as a flood: {}", fin.describe_end()),
    )?;
    ensure(
        fin.stdout.len() < 1 << 30,
        format!("{} bytes collected", fin.stdout.len()),
    )
}

/// A client that never exits (a non-daemon thread) is stopped once the exchange a check
/// judges is over ([`Launch::exchange_only`]); without it, it runs to its deadline.
fn exchange_only_run_stops_a_client_that_never_exits() -> TestResult {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/impls/hello/client.py"
    );
    let mut ctx = ctx_with(&format!("python3 {script} --defect hang"));
    let play = |fake: &mut conformance::driver::FakeServer| {
        let mut peer = fake.accept(Duration::from_secs(30))?;
        let greeting = peer.recv_reply(7, Duration::from_secs(30)).bytes;
        peer.try_send(b"HELLO 6").ok()?;
        let after = peer.recv_until_closed(Duration::from_secs(30));
        Some((greeting, after.bytes))
    };
    let (fin, seen) = ctx
        .run_with_fake_server(
            Launch::new()
                .var("seq", 5)
                .timeout(Duration::from_secs(600))
                .exchange_only(),
            play,
        )
        .map_err(|e| format!("{e:?}"))?;
    ensure(
        seen.as_ref()
            .is_some_and(|(g, z)| g.starts_with(b"HELLO 5") && z.starts_with(b"HELLO 7")),
        format!("{seen:?}"),
    )?;
    ensure(
        fin.stopped && !fin.timed_out && fin.status.is_none(),
        fin.describe_end(),
    )?;
    ensure(fin.describe_end().contains("stopped"), fin.describe_end())?;
    let (fin, _) = ctx
        .run_with_fake_server(
            Launch::new().var("seq", 5).timeout(Duration::from_secs(3)),
            play,
        )
        .map_err(|e| format!("{e:?}"))?;
    ensure(fin.timed_out && !fin.stopped, fin.describe_end())
}

/// While a jail lives, its namespace's number names no other subject's namespace, even once
/// its own processes are gone: the kill loop's /proc scan compares these numbers, and the
/// kernel hands a freed number to the next new namespace at once.
fn a_jails_namespace_number_is_never_another_subjects() -> TestResult {
    use conformance::driver::contain::{Jail, Kind, kind};
    if kind() == Kind::ProcessGroup {
        return Ok(()); // no namespaces here: nothing is compared by number
    }
    let limits = conformance::driver::Limits::default();
    let start = |jail: &mut Jail| -> Result<std::process::Child, Failed> {
        let mut cmd = std::process::Command::new("sleep");
        cmd.arg("60");
        jail.apply(&mut cmd);
        let child = cmd.spawn().map_err(|e| e.to_string())?;
        jail.started(i32::try_from(child.id()).unwrap_or(i32::MAX));
        Ok(child)
    };
    let mut first = Jail::new(&limits);
    let mut child = start(&mut first)?;
    let ns = first.namespace().ok_or("the subject got no namespace")?;
    // SIGKILL to the relay: its init dies with it (parent-death signal), and the kernel
    // ends the namespace's processes.
    let _ = child.kill();
    let _ = child.wait();
    // Its init is reaped by whoever inherits it; an init that never reaps keeps the
    // namespace (and its number) alive anyway, so this wait may end at its deadline.
    wait_until(Duration::from_secs(10), || !first.may_hold_processes());
    for _ in 0..5 {
        let mut jail = Jail::new(&limits);
        let mut child = start(&mut jail)?;
        let other = jail.namespace();
        let _ = child.kill();
        let _ = child.wait();
        ensure(
            other != Some(ns),
            format!("a new subject's namespace got number {ns} of a live jail's"),
        )?;
    }
    Ok(())
}

fn run_times_out_and_kills_the_group() -> TestResult {
    let mut ctx = ctx_with(r#"sh -c 'sleep 1000 & sleep 1000'"#);
    let fin = ctx
        .run(
            Role::Client,
            Launch::new().timeout(Duration::from_millis(300)),
        )
        .map_err(|e| format!("{e:?}"))?;
    ensure(fin.timed_out && fin.status.is_none(), fin.describe_end())
}

fn run_passes_stdin_and_reports_status() -> TestResult {
    let mut ctx = ctx_with(r#"sh -c 'read a; echo "got $a"; exit 4'"#);
    let fin = ctx
        .run(Role::Client, Launch::new().stdin("hello\n"))
        .map_err(|e| format!("{e:?}"))?;
    ensure(fin.code() == Some(4), fin.describe_end())?;
    ensure(fin.stdout_text().trim() == "got hello", fin.stdout_text())
}

fn ports_are_unique_and_reserved_across_processes() -> TestResult {
    use conformance::driver::ports;
    use rustix::fs::{FlockOperation, flock};
    let mut seen = std::collections::HashSet::new();
    for _ in 0..50 {
        let p = ports::allocate().ok_or("no port")?;
        ensure(seen.insert(p), format!("port {p} handed out twice"))?;
        ensure(
            (ports::FIRST..ports::END).contains(&p),
            format!("port {p} out of range"),
        )?;
        // Another process (here: another open file description) cannot take it.
        let path = std::env::temp_dir()
            .join("conformance-ports")
            .join(p.to_string());
        let other = std::fs::File::open(&path).map_err(|e| format!("{path:?}: {e}"))?;
        ensure(
            flock(&other, FlockOperation::NonBlockingLockShared).is_err(),
            format!("port {p} is not reserved"),
        )?;
    }
    Ok(())
}

fn parses_proc_lines() -> TestResult {
    let line = "   3: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 123456 1 0000000000000000 100 0 0 10 0";
    let e = procfs::parse_tcp_line(line).ok_or("unparsed")?;
    ensure(
        e.port == 8080 && e.state == 0x0A && e.inode == 123_456,
        format!("{e:?}"),
    )?;
    let st = procfs::parse_stat(42, "42 (a (weird) name) S 7 42 42 0 -1").ok_or("unparsed stat")?;
    ensure(
        st.ppid == 7 && st.pgrp == 42 && st.state == 'S',
        format!("{st:?}"),
    )
}

fn reads_cmdline_and_environment() -> TestResult {
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .env("ENGINE_PROCFS_PROBE", "7.1=x")
        .spawn()
        .map_err(|e| format!("spawn sleep: {e}"))?;
    let pid = i32::try_from(child.id()).map_err(|e| e.to_string())?;
    // Until the exec, /proc shows the forked test binary's own command line.
    let execed = wait_until(Duration::from_secs(10), || {
        procfs::cmdline(pid).is_some_and(|argv| argv == ["sleep", "30"])
    });
    let seen = (
        procfs::cmdline(pid),
        procfs::env_var(pid, "ENGINE_PROCFS_PROBE"),
        procfs::env_var(pid, "ENGINE_PROCFS"),
    );
    let _ = child.kill();
    let _ = child.wait();
    ensure(execed, format!("{:?}", seen.0))?;
    ensure(
        seen.1.as_deref() == Some("7.1=x") && seen.2.is_none(),
        format!("{seen:?}"),
    )?;
    ensure(
        procfs::cmdline(pid).is_none() && procfs::env_var(pid, "PATH").is_none(),
        "a reaped process still reads",
    )
}

fn harness_flags_are_stripped() -> TestResult {
    let argv = [
        "bin",
        "--server-cmd",
        "./s",
        "framed::",
        "--model=threaded",
        "--test-threads",
        "2",
        "--strict",
    ]
    .map(String::from);
    let a = args::split(argv).map_err(|e| e.to_string())?;
    ensure(
        a.server_cmd.as_deref() == Some("./s")
            && a.model.as_deref() == Some("threaded")
            && a.strict,
        format!("{a:?}"),
    )?;
    ensure(
        a.rest == ["bin", "framed::", "--test-threads", "2"],
        format!("{:?}", a.rest),
    )?;
    ensure(
        a.chosen_suite(&["hello", "framed"]).as_deref() == Some("framed"),
        "suite from filter",
    )?;
    let b =
        args::split(["bin", "--server-cmd", "./s"].map(String::from)).map_err(|e| e.to_string())?;
    ensure(
        b.chosen_suite(&["hello", "framed"]).as_deref() == Some("hello"),
        "hello by default",
    )?;
    let c = args::split(["bin".to_owned()])
        .map_err(|e| e.to_string())?
        .with_env(|k| (k == "CONFORMANCE_SERVER_CMD").then(|| "python3 s.py".to_owned()));
    ensure(
        c.server_cmd.as_deref() == Some("python3 s.py"),
        "env fallback",
    )?;
    ensure(
        args::split(["bin", "--model"].map(String::from)).is_err(),
        "missing value accepted",
    )?;
    // nextest passes no flags: every flag of the table has its variable.
    let d = args::split(["bin".to_owned()])
        .map_err(|e| e.to_string())?
        .with_env(|k| match k {
            "CONFORMANCE_STRICT" => Some("1".to_owned()),
            "CONFORMANCE_SLACK" => Some("5".to_owned()),
            "CONFORMANCE_PERIOD" => Some("3".to_owned()),
            "CONFORMANCE_PORT" => Some("5000".to_owned()),
            _ => None,
        });
    ensure(
        d.strict
            && d.slack.as_deref() == Some("5")
            && d.period.as_deref() == Some("3")
            && d.port.as_deref() == Some("5000"),
        format!("env: {d:?}"),
    )?;
    let off = args::split(["bin".to_owned()])
        .map_err(|e| e.to_string())?
        .with_env(|k| (k == "CONFORMANCE_STRICT").then(|| "0".to_owned()));
    ensure(!off.strict, "CONFORMANCE_STRICT=0 is not strict")?;
    // Both spellings of a check name select the same trials.
    let e = args::split(
        [
            "bin",
            "hello.server.handshake",
            "--skip",
            "hello.server.x",
            "--exact",
        ]
        .map(String::from),
    )
    .map_err(|e| e.to_string())?;
    ensure(
        e.libtest_args()
            == [
                "bin",
                "hello::server::handshake",
                "--skip",
                "hello::server::x",
                "--exact",
            ],
        format!("{:?}", e.libtest_args()),
    )?;
    ensure(
        e.chosen_suite(&["hello", "framed"]).as_deref() == Some("hello"),
        "suite from a dotted filter",
    )?;
    ensure(
        args::FLAGS
            .iter()
            .all(|f| f.name.starts_with("--") && f.env.starts_with("CONFORMANCE_")),
        "flag table",
    )
}

fn checks_md_is_current() -> TestResult {
    let all: Vec<&suites::Suite> = suites::SUITES.iter().collect();
    let want = list::markdown(&all);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/checks.md");
    let have = std::fs::read_to_string(path).unwrap_or_default();
    ensure(
        have == want,
        "docs/checks.md is stale: run `cargo run -- list --format markdown > docs/checks.md`",
    )
}

fn registry_ids_are_unique_and_well_formed() -> TestResult {
    let mut seen = std::collections::HashSet::new();
    for c in suites::all_checks() {
        ensure(seen.insert(c.id), format!("duplicate id {}", c.id))?;
        let parts: Vec<&str> = c.id.split('.').collect();
        ensure(
            parts.len() == 3 && parts[0] == c.suite && parts[1] == c.role.as_str(),
            format!(
                "id {} does not match suite {} role {}",
                c.id, c.suite, c.role
            ),
        )?;
        ensure(
            !c.summary.is_empty() && !c.spec.is_empty(),
            format!("{} lacks summary/spec", c.id),
        )?;
    }
    Ok(())
}

/// Registers engine tests once: each is named `engine::group::function` from its own
/// identifier.
macro_rules! trials {
    ($($group:ident :: $f:ident),* $(,)?) => {
        vec![$(crate::timed(concat!("engine::", stringify!($group), "::", stringify!($f)), $f)),*]
    };
}

fn body(_: &mut Ctx) -> conformance::check::CheckResult {
    Ok(())
}

static SAMPLE: Check = Check::new(
    "messages.client.gap-timeout",
    Level::Required,
    "004",
    "s",
    body,
);

fn new_derives_suite_and_role_from_the_id() -> TestResult {
    ensure(SAMPLE.suite == "messages", SAMPLE.suite)?;
    ensure(SAMPLE.role == Role::Client, "role")?;
    ensure(SAMPLE.behaviour() == "gap-timeout", SAMPLE.behaviour())
}

fn retired_ids_are_never_registered() -> TestResult {
    for c in suites::all_checks() {
        ensure(!RETIRED.contains(&c.id), format!("{} is retired", c.id))?;
    }
    Ok(())
}

fn every_prerequisite_names_a_registered_check_of_its_suite() -> TestResult {
    for c in suites::all_checks() {
        for n in c.needs {
            let p = suites::all_checks().find(|p| p.id == *n);
            ensure(
                p.is_some_and(|p| p.suite == c.suite),
                format!("{}: needs {n}", c.id),
            )?;
        }
    }
    Ok(())
}

/// Lines as a server printed them, all on stderr, `at` in order.
fn stderr_lines(texts: &[&str]) -> Vec<conformance::driver::Line> {
    let t0 = std::time::Instant::now();
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| conformance::driver::Line {
            at: t0 + Duration::from_millis(10 * i as u64 + 10),
            stream: Stream::Stderr,
            text: (*t).to_owned(),
            truncated: false,
        })
        .collect()
}

const PY_TRACEBACK: &[&str] = &[
    "Connection from 127.0.0.1 port 40001",
    "Traceback (most recent call last):",
    "  File \"/x/server.py\", line 300, in <module>",
    "    main()",
    "  File \"/x/server.py\", line 90, in read_request",
    "    magic, kind = struct.unpack(\"!HBBBH\", header)",
    "struct.error: unpack requires a buffer of 7 bytes",
];

fn traceback_names_its_last_frame_and_exception() -> TestResult {
    let lines = stderr_lines(PY_TRACEBACK);
    let (_, frame) = messages::diagnose::traceback(&lines).ok_or("no traceback found")?;
    ensure(
        frame
            == "File \"/x/server.py\", line 90, in read_request: struct.error: unpack requires a buffer of 7 bytes",
        &frame,
    )?;
    ensure(
        messages::diagnose::traceback(&stderr_lines(&["Error: bad magic"])).is_none(),
        "a plain error line is no traceback",
    )
}

fn exchange(label: &str, port: u16, at: std::time::Instant) -> messages::diagnose::Exchange {
    messages::diagnose::Exchange {
        label: label.to_owned(),
        what: format!("what {label} did"),
        at,
        port: Some(port),
    }
}

fn death_is_blamed_on_the_connection_the_server_logged_last() -> TestResult {
    let lines = stderr_lines(PY_TRACEBACK);
    let t0 = lines[0].at - Duration::from_millis(5);
    // client 2 was opened after the crash began but before the traceback arrived.
    let ex = [
        exchange("client 1", 40001, t0),
        exchange("client 2", 40002, t0 + Duration::from_millis(1)),
    ];
    let b = messages::diagnose::blamed(&ex, &lines, std::time::Instant::now());
    ensure(
        b.map(|e| e.label.as_str()) == Some("client 1"),
        format!("{b:?}"),
    )?;
    // Without an accept log, the last connection opened before the traceback.
    let quiet = stderr_lines(&PY_TRACEBACK[1..]);
    let late = quiet[0].at + Duration::from_millis(1);
    let ex = [
        exchange("client 1", 40001, quiet[0].at - Duration::from_millis(1)),
        exchange("client 2", 40002, late),
    ];
    let b = messages::diagnose::blamed(&ex, &quiet, std::time::Instant::now());
    ensure(
        b.map(|e| e.label.as_str()) == Some("client 1"),
        format!("{b:?}"),
    )
}

fn death_hint_follows_the_evidence() -> TestResult {
    use std::os::unix::process::ExitStatusExt;
    let ex = exchange("client 3", 40003, std::time::Instant::now());
    let status = std::process::ExitStatus::from_raw(1 << 8);
    let tb = messages::diagnose::death(status, &stderr_lines(PY_TRACEBACK), Some(&ex));
    ensure(
        matches!(&tb.cause, Cause::Traceback { last_frame } if last_frame.contains("read_request")),
        format!("{:?}", tb.cause),
    )?;
    ensure(tb.actual.contains("after client 3"), &tb.actual)?;
    ensure(tb.hint.contains("try/except"), &tb.hint)?;
    // "set a 1-second timeout" is never the hint for a server that died.
    ensure(!tb.hint.contains("timeout"), &tb.hint)?;
    let segv = messages::diagnose::death(std::process::ExitStatus::from_raw(11), &[], Some(&ex));
    ensure(
        segv.cause == Cause::Signal { signal: 11 },
        format!("{:?}", segv.cause),
    )?;
    ensure(segv.actual.contains("signal 11"), &segv.actual)?;
    let exited = messages::diagnose::death(status, &stderr_lines(&["Error: bad"]), None);
    ensure(
        exited.cause == Cause::Exited { code: 1 },
        format!("{:?}", exited.cause),
    )?;
    ensure(exited.actual.contains("exit status 1"), &exited.actual)
}

fn port_bounds_hint_matches_the_bind_evidence() -> TestResult {
    use messages::diagnose::{TCP_TIME_WAIT, port_refused};
    let (h, c) = port_refused(64000, None, true);
    ensure(h.contains("inclusive") && c.is_none(), &h)?;
    let (h, c) = port_refused(64000, Some(TCP_TIME_WAIT), false);
    ensure(
        h.contains("TIME_WAIT")
            && !h.contains("inclusive")
            && c == Some(Cause::AddrInUse { port: 64000 }),
        &h,
    )?;
    let (h, c) = port_refused(1024, None, false);
    ensure(!h.contains("inclusive") && c.is_none(), &h)
}

/// Unit tests of the multiclient line readers (they decide students' verdicts).
mod mc_lines {
    use super::{TestResult, ensure};
    use conformance::suites::multiclient::lines::{
        Event, Fault, Kind, parse_event, parse_tick, wording_faults,
    };

    fn ev(kind: Kind, id: u64, count: Option<u64>) -> Option<Event> {
        Some(Event { kind, id, count })
    }

    fn cases<T: PartialEq + std::fmt::Debug>(f: fn(&str) -> T, table: &[(&str, T)]) -> TestResult {
        for (line, want) in table {
            let got = f(line);
            ensure(
                &got == want,
                format!("{line:?}: got {got:?}, want {want:?}"),
            )?;
        }
        Ok(())
    }

    pub fn event_lines_are_read_for_their_information() -> TestResult {
        use Kind::{Connected as C, Disconnected as D};
        cases(
            parse_event,
            &[
                (
                    "Client 1 connected. Number of connected clients = 1",
                    ev(C, 1, Some(1)),
                ),
                (
                    "Client 12 disconnected. Number of connected clients = 0",
                    ev(D, 12, Some(0)),
                ),
                (
                    "client 3 connected. number of connected clients = 2",
                    ev(C, 3, Some(2)),
                ),
                (
                    "CLIENT 3 CONNECTED. NUMBER OF CONNECTED CLIENTS = 2",
                    ev(C, 3, Some(2)),
                ),
                (
                    "Client 3 connected. Number of connected clients 2",
                    ev(C, 3, Some(2)),
                ),
                (
                    "Client 3 connected. Number of connected clients=2",
                    ev(C, 3, Some(2)),
                ),
                (
                    "Client3connected.Numberofconnectedclients=2",
                    ev(C, 3, Some(2)),
                ),
                ("Client #3 connected (2 clients)", ev(C, 3, Some(2))),
                (
                    "Client 0 connected. Number of connected clients = 1",
                    ev(C, 0, Some(1)),
                ),
                (
                    "[12:00:01] Client 4 connected. Number of connected clients = 3",
                    ev(C, 4, Some(3)),
                ),
                ("Client 2 has disconnected, clients: 1", ev(D, 2, Some(1))),
                ("Client ID 7 connected - total: 4", ev(C, 7, Some(4))),
                (
                    "Client (5): connected; 1 client connected",
                    ev(C, 5, Some(1)),
                ),
                (
                    "Client 3 connected from ('127.0.0.1', 54321). Number of connected clients = 1",
                    ev(C, 3, Some(1)),
                ),
                (
                    "Client 3 connected. Number of connected clients = 2. Connected clients: [1, 3]",
                    ev(C, 3, Some(2)),
                ),
                ("Client 3 connected", ev(C, 3, None)),
                ("Client 3 connected from 127.0.0.1:50000", ev(C, 3, None)),
                ("Number of connected clients = 2", None),
                ("ready for clients on port 12000", None),
                ("Server started", None),
                ("Connected clients: [1, 3]", None),
                ("Connected clients: client 1, client 3", None),
                ("Client connected", None),
                ("", None),
                ("99999999999999999999999 clients", None),
            ],
        )
    }

    pub fn count_lines_carry_the_count_and_no_event() -> TestResult {
        cases(
            parse_tick,
            &[
                ("Number of connected clients = 2", Some(2)),
                ("number of connected clients: 0", Some(0)),
                ("Number of connected clients 3", Some(3)),
                ("[12:00:05] Number of connected clients = 2", Some(2)),
                ("Clients connected: 2", Some(2)),
                ("2 clients connected", Some(2)),
                ("Currently 1 client", Some(1)),
                ("Total clients: 3", Some(3)),
                ("connected: 4", Some(4)),
                // Event lines, malformed or not, are never counts.
                ("Client 3 connected. Number of connected clients = 3", None),
                ("client 3 disconnected. number of connected clients 2", None),
                ("Client #3 connected (2 clients)", None),
                ("Client 3 connected", None),
                // Banners, even with `clients` and a number.
                ("ready for clients on port 12000", None),
                ("The server is ready to receive on port 12000", None),
                ("Server started", None),
                ("Listening on 0.0.0.0:12000 for clients", None),
                ("Waiting for clients (max 10 clients)", None),
                ("Server started with 0 clients", None),
                // Listings of the connected clients.
                ("Connected clients: [1, 3]", None),
                ("Connected clients: 1, 3", None),
                ("Clients: 1 3", None),
                ("Connected clients: client 1, client 3", None),
                ("Clients: []", None),
                // Neither.
                ("hello 42", None),
                ("", None),
            ],
        )
    }

    pub fn wording_faults_name_what_differs() -> TestResult {
        let fault = |line: &str| {
            let e = parse_event(line).expect("an event line");
            wording_faults(line, &e)
        };
        let table: &[(&str, Vec<Fault>)] = &[
            (
                "Client 1 connected. Number of connected clients = 1",
                vec![],
            ),
            (
                "Client 1 connected. Number of connected clients = 1  ",
                vec![],
            ),
            (
                "client 1 connected. number of connected clients = 1",
                vec![Fault::Case],
            ),
            (
                "Client 1 connected. Number of connected clients 1",
                vec![Fault::MissingEquals],
            ),
            (
                "Client 1 connected. Number of connected clients=1",
                vec![Fault::Spacing],
            ),
            (
                "client 1 connected. number of connected clients 1",
                vec![Fault::MissingEquals, Fault::Case],
            ),
            (
                "Client 1 connected, Number of connected clients = 1",
                vec![Fault::Wording],
            ),
            (
                "[t] Client 1 connected. Number of connected clients = 1",
                vec![Fault::Wording],
            ),
            ("Client 1 connected", vec![Fault::Wording]),
        ];
        for (line, want) in table {
            let got = fault(line);
            ensure(
                &got == want,
                format!("{line:?}: got {got:?}, want {want:?}"),
            )?;
        }
        Ok(())
    }

    pub fn late_ticks_after_a_flood_are_read_from_the_tail() -> TestResult {
        use conformance::driver::Stream;
        use conformance::driver::output::{Capture, MAX_STREAM_BYTES};
        use conformance::suites::multiclient::periodic::newest_lines;
        let cap = Capture::new();
        cap.push_buffer(Stream::Stdout, b"Number of connected clients = 0\n");
        let flood = "debug: tick tock\n".repeat(MAX_STREAM_BYTES / 16 + 1);
        cap.push_buffer(Stream::Stdout, flood.as_bytes());
        cap.push_buffer(Stream::Stdout, b"Number of connected clients = 3\n");
        cap.push_buffer(Stream::Stdout, b"Number of connected clients = 1\n");
        cap.close();
        let ticks: Vec<u64> = newest_lines(cap.lines(), cap.tail())
            .iter()
            .filter_map(|l| parse_tick(&l.text))
            .collect();
        ensure(cap.dropped().0 > 0, "the flood went past the cap")?;
        ensure(ticks == [0, 3, 1], format!("{ticks:?}"))
    }
}
use mc_hints::*;
use mc_lines::*;

/// Evidence-first hints of the multiclient suite: each rule run against the fixture that
/// triggers it (fixtures/impls/multiclient/MultiThreadTCPServer.py `--defect`).
mod mc_hints {
    use super::{TestResult, ensure};
    use conformance::check::{Cause, Check, Failure, Model, Stop};
    use conformance::driver::command::CommandSpec;
    use conformance::driver::{Ctx, RunConfig, SubjectCmd};
    use conformance::suites::multiclient::{self, concurrency, events, restart};
    use std::sync::Arc;

    /// Runs `check` against the threaded Python fixture with `flags`; returns its failure.
    fn failure_of(check: &'static Check, flags: &str) -> Result<Failure, String> {
        let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_conformance"));
        let mut cfg = RunConfig::reference(exe);
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/impls/multiclient/MultiThreadTCPServer.py"
        );
        let line = format!("python3 {script} {{port}} --period 5 {flags}");
        cfg.server = SubjectCmd::Command(CommandSpec::parse(&line).map_err(|e| e.to_string())?);
        cfg.model = Some(Model::Threaded);
        let mut ctx = Ctx::new(check, &multiclient::SUITE, Arc::new(cfg));
        match (check.run)(&mut ctx) {
            Err(Stop::Fail(f)) => Ok(f),
            other => Err(format!("{}: expected a failure, got {other:?}", check.id)),
        }
    }

    pub fn ids_from_0_are_told_as_the_scheme_seen() -> TestResult {
        let f = failure_of(&events::IDS_START_AT_1, "--defect ids-from-0")?;
        ensure(f.actual.contains("client 0"), &f.actual)?;
        ensure(
            f.hint.as_deref().is_some_and(|h| h.contains("at 1")),
            format!("{:?}", f.hint),
        )
    }

    pub fn wording_hint_names_the_missing_equals_or_the_case() -> TestResult {
        let f = failure_of(&events::EXACT_WORDING, "--defect no-equals")?;
        let h = f.hint.unwrap_or_default();
        ensure(h.contains("` = `") && !h.contains("capitals"), &h)?;
        let f = failure_of(&events::EXACT_WORDING, "--style lower")?;
        let h = f.hint.unwrap_or_default();
        ensure(h.contains("capitals") && !h.contains("` = `"), &h)
    }

    pub fn a_reused_id_is_told_as_given_before() -> TestResult {
        let f = failure_of(&events::IDS_NEVER_REUSED, "--defect reuse-ids")?;
        ensure(f.actual.contains("gives ID 2 again"), &f.actual)
    }

    pub fn a_one_at_a_time_server_is_told_so() -> TestResult {
        let f = failure_of(&concurrency::CONCURRENT, "--defect call-not-thread")?;
        ensure(f.actual.contains("one client at a time"), &f.actual)
    }

    pub fn so_reuseaddr_is_named_only_for_a_refused_bind() -> TestResult {
        let f = failure_of(&restart::RESTART_AFTER_KILL, "--defect no-reuseaddr")?;
        ensure(
            matches!(f.cause, Some(Cause::AddrInUse { .. })),
            format!("{:?}", f.cause),
        )?;
        ensure(
            f.hint
                .as_deref()
                .is_some_and(|h| h.contains("SO_REUSEADDR")),
            format!("{:?}", f.hint),
        )?;
        let f = failure_of(&restart::RESTART_AFTER_KILL, "--defect pidfile")?;
        ensure(
            f.cause == Some(Cause::Exited { code: 1 }),
            format!("{:?}", f.cause),
        )?;
        ensure(
            !f.hint
                .as_deref()
                .unwrap_or_default()
                .contains("SO_REUSEADDR"),
            format!("{:?}", f.hint),
        )
    }

    pub fn a_dead_server_is_blamed_on_the_step_it_died_after() -> TestResult {
        let f = failure_of(&events::RESET_DISCONNECT, "--defect exit-on-reset")?;
        ensure(
            f.cause == Some(Cause::Exited { code: 3 }),
            format!("{:?}", f.cause),
        )?;
        ensure(
            f.actual
                .contains("exit status 3 after client 1 reset its connection"),
            &f.actual,
        )?;
        ensure(
            !f.hint.as_deref().unwrap_or_default().contains("ECONNRESET"),
            format!("{:?}", f.hint),
        )
    }
}

/// The run order's hints name real checks (a renamed check would silently lose its hint).
fn expected_durations_name_registered_checks() -> TestResult {
    for (id, _) in conformance::driver::runner::EXPECTED {
        ensure(
            suites::all_checks().any(|c| c.id == *id),
            format!("driver/runner.rs EXPECTED names {id}, which is no registered check"),
        )?;
    }
    Ok(())
}

/// The longest expected check starts first; ties keep the registry's order.
fn longest_checks_start_first() -> TestResult {
    use conformance::driver::runner::{expected_duration, start_order};
    let checks: Vec<&'static Check> = suites::all_checks().collect();
    let timing = Timing::default();
    let order = start_order(&checks, &timing);
    let durations: Vec<Duration> = order
        .iter()
        .map(|&i| expected_duration(checks[i], &timing))
        .collect();
    ensure(
        durations.windows(2).all(|w| w[0] >= w[1]),
        "start order is not longest first",
    )?;
    let first = checks[order[0]].id;
    ensure(
        first == "multiclient.server.periodic-count",
        format!("{first} starts first"),
    )?;
    let mut sorted = order.clone();
    sorted.sort_unstable();
    ensure(
        sorted == (0..checks.len()).collect::<Vec<_>>(),
        "start order drops or repeats checks",
    )?;
    // Among equal hints the registry order stands (stable sort).
    let same: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&i| {
            expected_duration(checks[i], &timing)
                == expected_duration(checks[order[order.len() - 1]], &timing)
        })
        .collect();
    ensure(same.windows(2).all(|w| w[0] < w[1]), "ties reordered")
}

/// Every engine trial.
pub fn trials() -> Vec<Trial> {
    trials![
        command::splits_like_a_shell,
        command::appends_standard_args_without_placeholders,
        command::fills_placeholders_in_place,
        command::override_args_replace_standard_ones,
        command::reports_missing_program,
        spawn::scrubs_buffering_environment,
        spawn::applies_rlimits,
        proc::sees_listening_socket_in_proc,
        proc::sees_listener_forked_inside_the_group,
        proc::finds_the_listener_behind_a_wrapper_shell,
        proc::does_not_take_a_bound_socket_for_listening,
        proc::parses_proc_lines,
        proc::reads_cmdline_and_environment,
        ports::ports_are_unique_and_reserved_across_processes,
        deadline::never_listening_server_fails_at_its_deadline,
        deadline::exiting_server_reports_status_and_stderr,
        deadline::port_taken_before_bind_is_retried_once,
        kill::kills_forking_group_that_ignores_sigterm,
        kill::kills_a_process_that_left_its_group,
        kill::kills_an_escaped_daemon_without_marker,
        output::caps_an_output_flood_without_blocking,
        output::sees_a_line_after_a_newline_flood,
        output::cuts_an_endless_line,
        run::kills_a_flooding_run,
        run::exchange_only_run_stops_a_client_that_never_exits,
        kill::a_jails_namespace_number_is_never_another_subjects,
        run::run_times_out_and_kills_the_group,
        run::run_passes_stdin_and_reports_status,
        harness::harness_flags_are_stripped,
        registry::registry_ids_are_unique_and_well_formed,
        registry::checks_md_is_current,
        registry::new_derives_suite_and_role_from_the_id,
        registry::retired_ids_are_never_registered,
        registry::every_prerequisite_names_a_registered_check_of_its_suite,
        messages::traceback_names_its_last_frame_and_exception,
        messages::death_is_blamed_on_the_connection_the_server_logged_last,
        messages::death_hint_follows_the_evidence,
        messages::port_bounds_hint_matches_the_bind_evidence,
        engine_hello::lenient_decode_drops_any_trailing_whitespace_and_nul,
        engine_hello::parse_hello_reads_only_a_whole_hello_message,
        engine_hello::printed_lines_are_compared_after_trimming,
        engine_hello::error_lines_start_or_end_with_error,
        engine_hello::reply_hint_never_blames_the_increment_for_a_cut_or_stale_reply,
        engine_hello::reply_hint_for_silence_depends_on_whether_the_connection_was_accepted,
        engine_hello::printing_hint_names_the_newline_for_a_line_that_came_only_at_the_kill,
        engine_hello::exit_hint_names_the_signal_the_exit_and_the_connection,
        engine_hello::traceback_gives_the_last_frame_and_exception,
        engine_hello::bind_error_is_read_from_the_subject_output,
        engine_hello::z_hint_names_a_small_buffer_for_a_cut_z,
        engine_hello::start_hint_never_blames_the_port_for_a_program_that_could_not_start,
        engine_hello::proc_readers_parse_connections_and_cpu_time,
        mc_lines::event_lines_are_read_for_their_information,
        mc_lines::count_lines_carry_the_count_and_no_event,
        mc_lines::wording_faults_name_what_differs,
        mc_lines::late_ticks_after_a_flood_are_read_from_the_tail,
        mc_hints::ids_from_0_are_told_as_the_scheme_seen,
        mc_hints::wording_hint_names_the_missing_equals_or_the_case,
        mc_hints::a_reused_id_is_told_as_given_before,
        mc_hints::a_one_at_a_time_server_is_told_so,
        mc_hints::so_reuseaddr_is_named_only_for_a_refused_bind,
        mc_hints::a_dead_server_is_blamed_on_the_step_it_died_after,
        schedule::expected_durations_name_registered_checks,
        schedule::longest_checks_start_first,
        framed_hints::traceback_names_last_frame_and_exception,
        framed_hints::traceback_cause_carries_frame_and_line,
        framed_hints::reply_length_evidence_names_the_mistake,
        framed_hints::server_death_hint_follows_the_evidence,
        framed_hints::death_is_blamed_on_the_connection_served,
        framed_hints::client_hint_follows_its_end,
        framed_hints::reset_crash_server_blames_the_reset,
        framed_hints::strict_decode_server_is_told_about_decoding,
        framed_hints::exit_zero_server_is_told_it_returned,
        framed_hints::char_length_server_is_told_to_count_bytes,
        framed_hints::silent_first_reply_is_not_blamed_on_the_rest,
        framed_hints::lost_rest_is_named_by_the_scenario,
        framed_hints::echoing_server_is_told_to_drop,
        framed_hints::reset_crash_client_is_told_to_catch,
        framed_hints::char_length_client_is_told_to_count_bytes,
        framed_hints::adapter_contract_mark_matches_the_suite,
        framed_hints::spinning_client_is_told_about_mid_frame_close,
        framed_hints::crashed_client_is_told_its_exception,
    ]
}
