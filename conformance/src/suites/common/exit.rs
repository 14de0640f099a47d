//! Why a subject ended by itself, as data ([`Cause`]), and the hint that evidence calls for:
//! a crash by signal, a non-zero exit, a Python traceback, each named with the connection
//! after which it happened. No hint here contradicts the status it was drawn from.

use std::process::ExitStatus;
use std::time::Duration;

use crate::check::{Cause, Failure, Stop};
use crate::driver::subject::describe_status;
use crate::driver::{Line, Stream, Subject};

/// How long a subject that failed a step is given to be seen ended: a process closes its
/// sockets before it becomes a zombie, so a peer may see the close first.
const SETTLE: Duration = Duration::from_millis(300);

/// A subject that ended by itself: its status, what the engine makes of it, and after what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Death {
    /// "exit status 1", "killed by signal 11 (SIGSEGV: ...)".
    pub status: String,
    /// Exited, Signal or Traceback.
    pub cause: Cause,
}

/// The cause an exit status is evidence of.
pub fn exit_cause(s: ExitStatus) -> Cause {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(code), _) => Cause::Exited { code },
        (None, Some(signal)) => Cause::Signal { signal },
        _ => Cause::Other {
            text: "an unknown exit status".to_owned(),
        },
    }
}

/// The end of a Python traceback: its last `File "...", line N, in f` frame and the
/// exception that ended the program. The one reader of tracebacks for every suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Traceback {
    /// `File "server.py", line 96, in main`, or empty when the traceback had no frame.
    pub frame: String,
    /// The exception's name as printed (`ConnectionResetError`, `struct.error`); empty
    /// when the traceback was cut before its exception line.
    pub exception: String,
    /// The whole exception line (`ConnectionResetError: [Errno 104] Connection reset by peer`).
    pub line: String,
}

impl Traceback {
    /// The last frame and the exception line, for messages:
    /// `File "server.py", line 12, in serve: IndexError: list index out of range`.
    pub fn text(&self) -> String {
        match (self.frame.is_empty(), self.line.is_empty()) {
            (true, _) => self.line.clone(),
            (false, true) => self.frame.clone(),
            (false, false) => format!("{}: {}", self.frame, self.line),
        }
    }

    /// The cause a failure carries.
    pub fn cause(&self) -> Cause {
        Cause::Traceback {
            last_frame: self.text(),
        }
    }
}

/// Whether `line` starts a Python traceback.
pub fn is_traceback_start(line: &str) -> bool {
    line.trim_start()
        .starts_with("Traceback (most recent call last)")
}

/// The last traceback in `stderr` (lines as printed), if the program printed one: the last
/// frame before its exception line (the first unindented `Name: message` or bare `Name`
/// after the frames; a log line printed later is not taken for it).
pub fn parse_traceback<'a>(stderr: impl IntoIterator<Item = &'a str>) -> Option<Traceback> {
    let lines: Vec<&str> = stderr.into_iter().collect();
    let start = lines.iter().rposition(|l| is_traceback_start(l))?;
    let mut frame = String::new();
    for l in &lines[start + 1..] {
        let t = l.trim();
        if t.starts_with("File \"") {
            frame = t.to_owned();
        } else if !l.starts_with(' ') && !t.is_empty() {
            let exception = t.split(':').next().unwrap_or(t).trim().to_owned();
            let is_name = !exception.is_empty()
                && exception
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
            if is_name {
                return Some(Traceback {
                    frame,
                    exception,
                    line: t.to_owned(),
                });
            }
        }
    }
    // Cut before its exception line (killed while printing): the frame is still evidence.
    (!frame.is_empty()).then(|| Traceback {
        frame,
        exception: String::new(),
        line: String::new(),
    })
}

/// The last Python traceback on stderr among `lines`, if any.
pub fn traceback(lines: &[Line]) -> Option<Traceback> {
    parse_traceback(
        lines
            .iter()
            .filter(|l| l.stream == Stream::Stderr)
            .map(|l| l.text.as_str()),
    )
}

/// Whether the subject's own output shows its bind failed because the address was in use
/// (`perror("bind")`, Python's `OSError: [Errno 98]`, Go's `bind: address already in use`).
pub fn is_addr_in_use(lines: &[Line]) -> bool {
    lines.iter().any(|l| {
        let t = l.text.to_ascii_lowercase();
        t.contains("address already in use") || t.contains("eaddrinuse") || t.contains("errno 98")
    })
}

/// The hint for a subject that ended by itself with `cause`, `after` naming the connection
/// after which it was seen ended; `serve_on` is the suite's advice for exits by decision.
pub fn exit_hint(cause: &Cause, after: Option<&str>, serve_on: &str) -> String {
    let after = after.map(|a| format!(" after {a}")).unwrap_or_default();
    match cause {
        Cause::Signal { signal: 11 } => format!(
            "the server crashed with SIGSEGV (invalid memory access){after}: check what each \
             parse returns before using it (strtok/strchr/strstr may return NULL, recv() may \
             return less than a whole message)"
        ),
        Cause::Signal { signal: 6 } => format!(
            "the server aborted (SIGABRT: a failed assert or a corrupted heap){after}; run it \
             under valgrind or -fsanitize=address to find where"
        ),
        Cause::Signal { signal: 13 } => format!(
            "the server died of SIGPIPE{after}: it wrote to a connection the client had closed; \
             ignore SIGPIPE (signal(SIGPIPE, SIG_IGN)) or send with MSG_NOSIGNAL"
        ),
        Cause::Signal { signal } => format!(
            "the server was killed by signal {signal}{after}: a crash, not a decision of the \
             program; look at what that client sent"
        ),
        Cause::Traceback { last_frame } => format!(
            "the server died of an uncaught Python exception{after} ({last_frame}): handle \
             errors per client (try/except around one client's handling) and go on accepting"
        ),
        Cause::Exited { code } => {
            format!("the server exited by itself (status {code}){after}; {serve_on}")
        }
        Cause::OutOfMemory => {
            format!("the server ran out of memory{after}: never allocate what a client asks for")
        }
        Cause::CpuTime => format!(
            "the server used up its CPU time{after}: a loop that never waits (busy polling)?"
        ),
        _ => format!("the server ended{after}; {serve_on}"),
    }
}

/// The hint for a server that ended before it listened, when its own output shows no bind
/// conflict: it could not start at all, so neither the port nor SO_REUSEADDR is the fix.
pub fn start_hint(cause: &Cause) -> String {
    let what = match cause {
        Cause::Traceback { last_frame } => format!("an uncaught Python exception ({last_frame})"),
        Cause::Signal { signal } => format!("signal {signal} (a crash)"),
        Cause::Exited { code } => format!("exit status {code}"),
        _ => "an unknown status".to_owned(),
    };
    format!(
        "the server could not start at all: it ended with {what} before listening, and its \
         output shows no port conflict; run it by hand with a port argument and read its stderr \
         (a wrong host name, a missing file or library, a crash at start-up)"
    )
}

/// A server's failure to listen on `port` (from `wait_listening`), told by its evidence: a
/// bind conflict its own output shows gets [`Cause::AddrInUse`] and keeps the driver's
/// SO_REUSEADDR advice; an end before listening without one gets its exit as the cause and
/// [`start_hint`]; anything else (never listened, listens elsewhere) stays as it is.
pub fn start_failure(server: &mut Subject, stop: Stop, port: u16) -> Stop {
    let lines = server.lines();
    if is_addr_in_use(&lines) {
        return stop.cause(Cause::AddrInUse { port });
    }
    let Some(s) = server.try_exit() else {
        return stop;
    };
    let cause = match traceback(&lines) {
        Some(tb) => tb.cause(),
        None => exit_cause(s),
    };
    let hint = start_hint(&cause);
    stop.hint(hint).cause(cause)
}

/// The end of `server` if it has ended (given [`SETTLE`] to be seen so), with its cause.
pub fn death(server: &mut Subject) -> Option<Death> {
    let s = server.wait_exit(SETTLE)?;
    server.capture().wait_closed(SETTLE);
    let cause = match traceback(&server.lines()) {
        Some(tb) => tb.cause(),
        None => exit_cause(s),
    };
    Some(Death {
        status: describe_status(s),
        cause,
    })
}

impl Death {
    /// "ended with exit status 1", "was killed by signal 11 (SIGSEGV: ...)".
    pub fn clause(&self) -> String {
        match self.cause {
            Cause::Signal { .. } => format!("was {}", self.status),
            _ => format!("ended with {}", self.status),
        }
    }

    /// The same after "had": "ended with exit status 1", "been killed by signal 11 (...)".
    pub fn past_clause(&self) -> String {
        match self.cause {
            Cause::Signal { .. } => format!("been {}", self.status),
            _ => format!("ended with {}", self.status),
        }
    }
}

/// Whether a failure already carries the subject's end as its cause.
fn explained(f: &Failure) -> bool {
    matches!(
        f.cause,
        Some(Cause::Exited { .. } | Cause::Signal { .. } | Cause::Traceback { .. })
    )
}

/// A failure seen by a client is explained by the server's end when it has ended: the
/// status, the traceback's last frame and a hint drawn from them replace the symptom's.
pub fn explain_exit(server: &mut Subject, stop: Stop) -> Stop {
    explain_exit_after(
        server,
        stop,
        None,
        "a server serves clients until it is killed: loop around accept(), and on a client's \
         error close that client's socket, do not exit",
    )
}

/// [`explain_exit`] naming the connection `after` which the server was seen ended (the
/// last one it finished, from the scenario's order of events), and the suite's advice
/// `serve_on` for an exit by decision.
pub fn explain_exit_after(
    server: &mut Subject,
    stop: Stop,
    after: Option<&str>,
    serve_on: &str,
) -> Stop {
    let Stop::Fail(f) = stop else { return stop };
    if explained(&f) {
        return Stop::Fail(f);
    }
    match death(server) {
        Some(d) => {
            let when = after.map(|a| format!(" after {a}")).unwrap_or_default();
            Stop::Fail(Failure {
                expected: f.expected,
                actual: format!(
                    "{}; the server had {}{when}{}",
                    f.actual,
                    d.past_clause(),
                    server.stderr_quote()
                ),
                hint: Some(exit_hint(&d.cause, after, serve_on)),
                cause: Some(d.cause),
            })
        }
        None => Stop::Fail(f),
    }
}

/// Fails unless the server is still running after `what` (a server serves client after
/// client until it is killed); `hint` is the suite's advice for an exit by decision.
pub fn alive(server: &mut Subject, what: &str, hint: &str) -> Result<(), Stop> {
    if server.try_exit().is_none() {
        return Ok(());
    }
    let Some(d) = death(server) else {
        return Ok(());
    };
    Err(Stop::Fail(
        Failure::new(
            format!("the server keeps running after {what}"),
            format!("it {}{}", d.clause(), server.stderr_quote()),
        )
        .hint(exit_hint(&d.cause, Some(what), hint))
        .cause(d.cause),
    ))
}
