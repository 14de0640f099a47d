//! Server argument checks (004 3.1): the argument count, a port that is not a number, the
//! port range and its bounds, the exit status. Each family is a runner and a table: a new
//! case is one line of its table.

use std::process::ExitStatus;
use std::sync::Mutex;
use std::time::Duration;

use super::HINT_TRACEBACK;
use super::diagnose::{port_refused, traceback};
use crate::check::{
    Cause, Check, CheckResult, HarnessError, Level, Role, Stop, fail, harness_error,
};
use crate::driver::subject::describe_status;
use crate::driver::{Ctx, Launch, Line, anyone_listens_on, procfs, wait_until};
use crate::suites::common::quote_lines;

/// Arguments of one case; `{port}` stands for a fresh free port.
type Args = &'static [&'static str];

/// arg-count: no argument, two arguments.
static COUNT_CASES: &[Args] = &[&[], &["{port}", "{port}"]];
/// arg-not-number.
static NOT_NUMBER_CASES: &[Args] = &[&["abc"]];
/// port-range: refused ports (fixed: each is locked while used).
static REFUSED_PORTS: &[u16] = &[1023, 0, 64001, 65535];
/// port-bounds: accepted ports (fixed).
static BOUND_PORTS: &[u16] = &[1024, 64000];
/// arg-exit-status (the refused ports are port-range's: these need no fixed port).
static EXIT_STATUS_CASES: &[Args] = &[&[], &["{port}", "{port}"], &["abc"]];

/// How an argument-error run of the server ended.
struct ArgRun {
    /// What the arguments were, for messages.
    what: String,
    status: Option<ExitStatus>,
    listened: Vec<u16>,
    lines: Vec<Line>,
}

/// One lock per fixed port the checks use, so that the server and client checks of one run
/// never take each other's port (port-range and bad-port both want 64001). Port 0 binds an
/// ephemeral port and needs none.
static FIXED_PORTS: [(u16, Mutex<()>); 5] = [
    (1023, Mutex::new(())),
    (1024, Mutex::new(())),
    (64000, Mutex::new(())),
    (64001, Mutex::new(())),
    (65535, Mutex::new(())),
];

/// A fixed port held within this run (the mutex) and against other runs on this machine.
pub(super) type PortGuard = (
    std::sync::MutexGuard<'static, ()>,
    Option<crate::driver::ports::FixedPort>,
);

/// Holds `port` while the guard lives (None: not a shared fixed port).
pub(super) fn lock_port(port: u16) -> Option<PortGuard> {
    let (_, m) = FIXED_PORTS.iter().find(|(p, _)| *p == port)?;
    let guard = m.lock().unwrap_or_else(|e| e.into_inner());
    let held = crate::driver::ports::hold_fixed(port, Duration::from_secs(120));
    Some((guard, held))
}

/// Waits a little for a fixed port to be free (another run on this machine may hold it
/// for a moment); still busy is the suite's problem, not the subject's.
pub(super) fn wait_port_free(port: u16) -> Result<(), Stop> {
    if port == 0 || wait_until(Duration::from_secs(10), || !anyone_listens_on(port)) {
        Ok(())
    } else {
        Err(harness_error(format!(
            "port {port} is in use on this machine: this check needs it free"
        )))
    }
}

/// How long an argument-error run may take: the exit deadline (2 s plus slack) after the
/// program's own start-up (an interpreter may take seconds to start on a loaded machine).
/// Only a program that hangs ever waits this long.
pub(super) fn arg_deadline(ctx: &Ctx) -> Duration {
    ctx.timing().startup() + ctx.timing().exit()
}

/// `args` with every `{port}` replaced by a fresh port.
fn fill(ctx: &Ctx, args: Args) -> Result<Vec<String>, Stop> {
    args.iter()
        .map(|a| match *a {
            "{port}" => ctx.port().map(|p| p.to_string()),
            other => Ok(other.to_owned()),
        })
        .collect()
}

/// Runs the server with `args` (an argument error) until it exits, watching whether it
/// listens (on any port) meanwhile.
fn server_arg_run(ctx: &mut Ctx, args: &[String], port: u16) -> Result<ArgRun, Stop> {
    let limit = arg_deadline(ctx);
    let launch = Launch::new().args(args.iter().cloned()).port(port);
    let mut s = ctx.spawn(Role::Server, launch)?;
    let mut listened = Vec::new();
    let ended = wait_until(limit, || {
        let ports = s.listening_ports();
        if !ports.is_empty() {
            listened = ports;
            return true;
        }
        s.try_exit().is_some()
    });
    let status = if ended { s.try_exit() } else { None };
    if status.is_some() {
        s.capture().wait_closed(Duration::from_millis(500));
    }
    let lines = s.lines();
    s.kill();
    Ok(ArgRun {
        what: if args.is_empty() {
            "no argument".to_owned()
        } else {
            format!("the arguments `{}`", args.join(" "))
        },
        status,
        listened,
        lines,
    })
}

/// The verdict of the required argument checks: a message, an exit in time, no listening.
fn judge_server_arg(ctx: &Ctx, run: &ArgRun) -> CheckResult {
    let expected = format!(
        "with {} the server prints an error message and exits within {:?}, without listening",
        run.what,
        arg_deadline(ctx)
    );
    if !run.listened.is_empty() {
        return Err(fail(
            expected,
            format!("it listens on port(s) {:?}", run.listened),
        )
        .hint(
            "check the arguments before creating the socket: exactly one, a number between \
             1024 and 64000 inclusive",
        ));
    }
    let Some(status) = run.status else {
        return Err(fail(
            expected,
            format!(
                "it was still running after {:?}; {}",
                arg_deadline(ctx),
                quote_lines(&run.lines)
            ),
        )
        .hint("after printing the error, exit (sys.exit(1) / exit(1))"));
    };
    if let Some((_, frame)) = traceback(&run.lines) {
        return Err(fail(
            expected,
            format!(
                "it crashed with a Python traceback ({frame}) and {}",
                describe_status(status)
            ),
        )
        .hint(HINT_TRACEBACK)
        .cause(Cause::Traceback { last_frame: frame }));
    }
    if run.lines.iter().all(|l| l.trimmed().trim().is_empty()) {
        return Err(fail(
            expected,
            format!("it printed nothing and {}", describe_status(status)),
        )
        .hint("print an error message that says what is wrong (and the usage) before exiting"));
    }
    Ok(())
}

/// The runner of the argument-error tables.
fn server_arg_cases(ctx: &mut Ctx, cases: &[Args]) -> CheckResult {
    for args in cases {
        let args = fill(ctx, args)?;
        let port = ctx.port()?;
        let run = server_arg_run(ctx, &args, port)?;
        judge_server_arg(ctx, &run)?;
    }
    Ok(())
}

pub static ARG_COUNT: Check = Check::new(
    "messages.server.arg-count",
    Level::Required,
    "004 3.1 (one parameter)",
    "no argument, two arguments: a message, an exit within 2 s, no listening socket",
    |ctx| server_arg_cases(ctx, COUNT_CASES),
);

pub static ARG_NOT_NUMBER: Check = Check::new(
    "messages.server.arg-not-number",
    Level::Required,
    "004 3.1 (the port number)",
    "`abc` as the port: a message, an exit within 2 s, no listening socket",
    |ctx| server_arg_cases(ctx, NOT_NUMBER_CASES),
);

pub static PORT_RANGE: Check = Check::new(
    "messages.server.port-range",
    Level::Required,
    "004 3.1 (between 1,024 and 64,000 inclusive)",
    "ports 1023, 0, 64001, 65535 are refused: a message, an exit, no listening socket",
    server_port_range,
);

fn server_port_range(ctx: &mut Ctx) -> CheckResult {
    for &port in REFUSED_PORTS {
        refused_port(ctx, port)?;
    }
    Ok(())
}

/// A refused fixed port: run under the fixed-port lock; a pass while another program
/// held the port proves nothing (the bind failed for that reason), so it is retried.
fn refused_port(ctx: &mut Ctx, port: u16) -> CheckResult {
    let text = port.to_string();
    for _ in 0..3 {
        let _guard = lock_port(port);
        wait_port_free(port)?;
        let run = server_arg_run(ctx, std::slice::from_ref(&text), port)?;
        judge_server_arg(ctx, &run).map_err(|e| {
            e.hint("the port must be between 1024 and 64000 inclusive: compare before bind()")
        })?;
        if port == 0 || !anyone_listens_on(port) {
            return Ok(());
        }
    }
    Err(harness_error(format!(
        "port {port} was taken by another program during the check: cannot tell whether \
         the server refused it"
    )))
}

pub static PORT_BOUNDS: Check = Check::new(
    "messages.server.port-bounds",
    Level::Required,
    "004 3.1 (between 1,024 and 64,000 inclusive)",
    "ports 1024 and 64000 are accepted: the server listens on them",
    server_port_bounds,
);

fn server_port_bounds(ctx: &mut Ctx) -> CheckResult {
    for &port in BOUND_PORTS {
        accepted_port(ctx, port)?;
    }
    Ok(())
}

/// The server listens on `port`. Another program on this machine (another run of the
/// suite) may take the port between our look and the server's bind, so a refusal is tried
/// three times: a server that refuses the port refuses it every time. The hint follows the
/// evidence: the same answer as to an out-of-range port blames the range check, a port
/// busy on this machine blames the bind, anything else quotes what it printed.
fn accepted_port(ctx: &mut Ctx, port: u16) -> CheckResult {
    let mut last = None;
    for _ in 0..3 {
        let _guard = lock_port(port);
        wait_port_free(port)?;
        let mut s = ctx.spawn(Role::Server, Launch::new().port(port))?;
        match s.wait_listening(ctx.timing().startup()) {
            Ok(()) => return Ok(()),
            Err(Stop::Fail(f)) => {
                // A socket on the port now, or the bind error in its own words (the
                // driver's cause): either is evidence of a busy port, not of a range check.
                let said = matches!(f.cause, Some(Cause::AddrInUse { .. }));
                let busy = busy_state(port).or(said.then_some(0));
                s.capture().wait_closed(Duration::from_millis(300));
                last = Some((f, s.lines(), busy));
            }
            Err(other) => return Err(other),
        }
    }
    let Some((mut f, lines, busy)) = last else {
        return Err(harness_error("no attempt ran"));
    };
    if busy == Some(procfs::TCP_LISTEN) {
        return Err(Stop::Error(HarnessError::PortBusy { port, holder: None }));
    }
    // What the server does with a port it must refuse, to compare with what it did here.
    let other = if port < 32768 { 1023 } else { 64001 };
    let refused = {
        let _guard = lock_port(other);
        wait_port_free(other)?;
        server_arg_run(ctx, &[other.to_string()], other)?
    };
    let same = refused.listened.is_empty() && !lines.is_empty() && {
        let (a, b) = (normalised(&lines), normalised(&refused.lines));
        !a.is_empty() && a == b
    };
    f.expected =
        format!("port {port} is accepted (1024 to 64000 inclusive): the server listens on it");
    let (hint, cause) = port_refused(port, busy, same);
    f.hint = Some(hint);
    f.cause = cause.or(f.cause);
    Err(Stop::Fail(f))
}

/// The state of a socket on `port` on this machine (TIME_WAIT, LISTEN...), if any.
fn busy_state(port: u16) -> Option<u8> {
    procfs::tcp_entries()
        .into_iter()
        .find(|e| e.port == port)
        .map(|e| e.state)
}

/// Non-blank lines with digits blanked, for comparing two runs' words.
pub(super) fn normalised(lines: &[Line]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            l.trimmed()
                .chars()
                .map(|c| if c.is_ascii_digit() { '#' } else { c })
                .collect::<String>()
        })
        .filter(|l| !l.trim().is_empty())
        .collect()
}

pub static ARG_EXIT_STATUS: Check = Check::new(
    "messages.server.arg-exit-status",
    Level::Recommended,
    "004 3.1 (print an error message and exit)",
    "argument errors end with a non-zero exit status",
    server_arg_exit_status,
);

fn server_arg_exit_status(ctx: &mut Ctx) -> CheckResult {
    for args in EXIT_STATUS_CASES {
        let args = fill(ctx, args)?;
        let port = ctx.port()?;
        let run = server_arg_run(ctx, &args, port)?;
        if run.status.is_some_and(|s| s.success()) {
            return Err(fail(
                format!("with {} the server exits with a non-zero status", run.what),
                format!("it exited with status 0; {}", quote_lines(&run.lines)),
            )
            .hint("exit with a non-zero status on errors: sys.exit(1) / exit(EXIT_FAILURE)"));
        }
    }
    Ok(())
}
