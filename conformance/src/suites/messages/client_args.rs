//! Client argument checks (004 3.2): the count, the host, the port, the user name, the
//! request type, the exit status, and a refused connection. The suite listens where the
//! client would connect, so a client that should have refused its arguments is seen to
//! connect. One runner and a table per check: a new case is one line of [`Arg`]s.

use super::HINT_TRACEBACK;
use super::diagnose::traceback;
use super::server_args::{arg_deadline, lock_port, wait_port_free};
use crate::check::{Cause, Check, CheckResult, Level, Role, Stop, fail};
use crate::driver::{Ctx, FakeServer, Finished, Launch};
use crate::suites::common::quote_lines;

/// One argument of a case.
#[derive(Debug, Clone, Copy)]
enum Arg {
    /// 127.0.0.1.
    Host,
    /// The port the suite listens on.
    Port,
    /// A port outside the range, on which the suite listens too (root is needed below 1024).
    Fixed(u16),
    /// This text.
    Lit(&'static str),
    /// This text so many times.
    Repeat(&'static str, usize),
}

use Arg::{Fixed, Host, Lit, Port, Repeat};

/// A family of argument errors and the hint for a failure.
struct Family {
    cases: &'static [&'static [Arg]],
    hint: &'static str,
}

static ARG_COUNT_CASES: Family = Family {
    cases: &[
        &[Host, Port, Lit("alice")],
        &[Host, Port, Lit("alice"), Lit("read"), Lit("extra")],
    ],
    hint: "count the arguments first: exactly four (host, port, user, read|create)",
};

static BAD_HOST_CASES: Family = Family {
    cases: &[
        &[Lit("no.such.host.invalid"), Port, Lit("alice"), Lit("read")],
        &[Lit("256.1.1.1"), Port, Lit("alice"), Lit("read")],
    ],
    hint: "resolve the host with getaddrinfo() and check the result: on failure print an \
           error and exit (socket.gaierror in Python)",
};

static BAD_PORT_CASES: Family = Family {
    cases: &[
        &[Host, Lit("abc"), Lit("alice"), Lit("read")],
        &[Host, Fixed(1023), Lit("alice"), Lit("read")],
        &[Host, Fixed(64001), Lit("alice"), Lit("read")],
    ],
    hint: "the port must be a number between 1024 and 64000 inclusive: check it before \
           connecting",
};

static BAD_USER_CASES: Family = Family {
    cases: &[
        &[Host, Port, Repeat("u", 256), Lit("read")],
        &[Host, Port, Repeat("é", 200), Lit("read")],
        &[Host, Port, Lit(""), Lit("read")],
    ],
    hint: "the user name must be 1 to 255 BYTES: len(name.encode('utf-8')) / strlen()",
};

static BAD_TYPE_CASES: Family = Family {
    cases: &[
        &[Host, Port, Lit("alice"), Lit("delete")],
        &[Host, Port, Lit("alice"), Lit("READ")],
        &[Host, Port, Lit("alice"), Lit("response")],
    ],
    hint: "the fourth argument must be exactly `read` or `create`; anything else is an error",
};

/// arg-exit-status: one case of each kind (the fixed ports are bad-port's).
static EXIT_STATUS_CASES: &[&[Arg]] = &[
    &[Host, Port, Lit("alice")],
    &[Host, Lit("abc"), Lit("alice"), Lit("read")],
    &[Host, Port, Repeat("u", 256), Lit("read")],
    &[Host, Port, Lit("alice"), Lit("delete")],
];

/// How an argument-error run of the client ended.
struct ClientArgRun {
    what: String,
    fin: Finished,
    connected: bool,
}

/// Runs the client with `case` against a fake server on the case's port.
fn client_arg_run(ctx: &mut Ctx, case: &[Arg]) -> Result<ClientArgRun, Stop> {
    let fixed = case.iter().find_map(|a| match a {
        Fixed(p) => Some(*p),
        _ => None,
    });
    let _guard = fixed.and_then(lock_port);
    let mut fake = match fixed {
        Some(p) => {
            wait_port_free(p)?;
            // The suite listens on the refused port itself: a client without the range
            // check connects there (and would otherwise only fail to connect and look right).
            match fake_on(ctx, p) {
                Ok(f) => f,
                // Below 1024 only root may listen: without it, an attempt there goes unseen.
                Err(_) if p < 1024 => {
                    ctx.note(format!(
                        "cannot listen on port {p} (not root?): a connection attempt there is not seen"
                    ));
                    ctx.fake_server()?
                }
                Err(e) => return Err(e),
            }
        }
        None => ctx.fake_server()?,
    };
    let args: Vec<String> = case
        .iter()
        .map(|a| match *a {
            Host => "127.0.0.1".to_owned(),
            Port => fake.port().to_string(),
            Fixed(p) => p.to_string(),
            Lit(s) => s.to_owned(),
            Repeat(s, n) => s.repeat(n),
        })
        .collect();
    let launch = Launch::new()
        .args(args.iter().cloned())
        .port(fake.port())
        .timeout(arg_deadline(ctx));
    let fin = ctx.run(Role::Client, launch)?;
    let connected = fake.has_pending() || fake.accepted() > 0;
    let shown: Vec<String> = args
        .iter()
        .map(|a| {
            if a.len() > 24 {
                format!("<{} bytes>", a.len())
            } else if a.is_empty() {
                "\"\"".to_owned()
            } else {
                a.clone()
            }
        })
        .collect();
    Ok(ClientArgRun {
        what: format!("the arguments `{}`", shown.join(" ")),
        fin,
        connected,
    })
}

/// A fake server on a fixed port; another run on this machine may hold it for a moment.
fn fake_on(ctx: &Ctx, port: u16) -> Result<FakeServer, Stop> {
    let mut result = ctx.fake_server_on(port);
    for _ in 0..2 {
        if result.is_ok() {
            break;
        }
        wait_port_free(port)?;
        result = ctx.fake_server_on(port);
    }
    result
}

/// A traceback among a finished run's lines, as a failure's words and cause.
pub(super) fn crashed(fin: &Finished) -> Option<(String, Cause)> {
    traceback(&fin.lines()).map(|(_, frame)| {
        (
            format!("it crashed with a Python traceback ({frame})"),
            Cause::Traceback { last_frame: frame },
        )
    })
}

/// The verdict of the required argument checks: a message, an exit, no connection.
fn judge_client_arg(ctx: &Ctx, run: &ClientArgRun, hint: &str) -> CheckResult {
    let expected = format!(
        "with {} the client prints an error message and exits within {:?}, without connecting",
        run.what,
        arg_deadline(ctx)
    );
    if run.connected {
        return Err(fail(expected, "it connected to the server").hint(hint));
    }
    if run.fin.timed_out || run.fin.flooded {
        return Err(fail(expected, run.fin.describe_end()).hint(hint));
    }
    if let Some((actual, cause)) = crashed(&run.fin) {
        return Err(fail(expected, actual).hint(HINT_TRACEBACK).cause(cause));
    }
    if run
        .fin
        .lines()
        .iter()
        .all(|l| l.trimmed().trim().is_empty())
    {
        return Err(fail(
            expected,
            format!(
                "it printed nothing and {}",
                run.fin.ended().trim_start_matches("it ")
            ),
        )
        .hint(hint));
    }
    Ok(())
}

/// The runner of the argument-error tables.
fn client_arg_cases(ctx: &mut Ctx, family: &Family) -> CheckResult {
    for case in family.cases {
        let run = client_arg_run(ctx, case)?;
        judge_client_arg(ctx, &run, family.hint)?;
    }
    Ok(())
}

pub static ARG_COUNT: Check = Check::new(
    "messages.client.arg-count",
    Level::Required,
    "004 3.2 (fewer or more than four parameters)",
    "3 and 5 arguments: a message, an exit, no connection attempted",
    |ctx| client_arg_cases(ctx, &ARG_COUNT_CASES),
);

pub static BAD_HOST: Check = Check::new(
    "messages.client.bad-host",
    Level::Required,
    "004 3.2 (getaddrinfo() conversion fails)",
    "hosts `no.such.host.invalid` and `256.1.1.1`: a message, an exit, no connection attempted",
    |ctx| client_arg_cases(ctx, &BAD_HOST_CASES),
);

pub static BAD_PORT: Check = Check::new(
    "messages.client.bad-port",
    Level::Required,
    "004 3.2 (port between 1,024 and 64,000 inclusive)",
    "ports `abc`, 1023, 64001: a message, an exit, no connection attempted (the suite listens there)",
    |ctx| client_arg_cases(ctx, &BAD_PORT_CASES),
);

pub static BAD_USER: Check = Check::new(
    "messages.client.bad-user",
    Level::Required,
    "004 3.2 (user names 1 to 255 bytes)",
    "user names of 256 bytes, 400 bytes (200 `é`) and empty: a message, an exit, no connection attempted",
    |ctx| client_arg_cases(ctx, &BAD_USER_CASES),
);

pub static BAD_TYPE: Check = Check::new(
    "messages.client.bad-type",
    Level::Required,
    "004 3.2 (either \"read\" or \"create\")",
    "request types `delete`, `READ` and `response`: a message, an exit, no connection attempted",
    |ctx| client_arg_cases(ctx, &BAD_TYPE_CASES),
);

pub static ARG_EXIT_STATUS: Check = Check::new(
    "messages.client.arg-exit-status",
    Level::Recommended,
    "004 3.2 (print an error message and exit)",
    "argument errors end with a non-zero exit status",
    client_arg_exit_status,
);

fn client_arg_exit_status(ctx: &mut Ctx) -> CheckResult {
    for case in EXIT_STATUS_CASES {
        let run = client_arg_run(ctx, case)?;
        if run.fin.status.is_some_and(|s| s.success()) {
            return Err(fail(
                format!("with {} the client exits with a non-zero status", run.what),
                format!("it exited with status 0; {}", quote_lines(&run.fin.lines())),
            )
            .hint("exit with a non-zero status on errors: sys.exit(1) / exit(EXIT_FAILURE)"));
        }
    }
    Ok(())
}

pub static CONNECT_ERROR: Check = Check::new(
    "messages.client.connect-error",
    Level::Required,
    "004 3.2 (if any of these steps do not succeed ...)",
    "nobody listens on the server's port: an error message and an exit, no traceback",
    client_connect_error,
);

fn client_connect_error(ctx: &mut Ctx) -> CheckResult {
    // A port the suite listened on a moment ago and closed: a connection is refused.
    let port = ctx.fake_server()?.port();
    let launch = Launch::new()
        .var("user", "alice")
        .var("request", "read")
        .port(port)
        .timeout(arg_deadline(ctx));
    let fin = ctx.run(Role::Client, launch)?;
    let expected = format!(
        "when nobody listens on 127.0.0.1:{port}, the client prints an error message and exits \
         within {:?}",
        arg_deadline(ctx)
    );
    if fin.timed_out || fin.flooded {
        return Err(fail(expected, fin.describe_end()));
    }
    if let Some((actual, cause)) = crashed(&fin) {
        return Err(fail(expected, actual)
            .hint(
                "connect() fails when no server runs: catch the error (try/except OSError), \
                 print a message, close the socket and exit",
            )
            .cause(cause));
    }
    if fin.lines().iter().all(|l| l.trimmed().trim().is_empty()) {
        return Err(fail(
            expected,
            format!(
                "it printed nothing and {}",
                fin.ended().trim_start_matches("it ")
            ),
        )
        .hint("check the result of connect() and print an error when it fails"));
    }
    Ok(())
}
