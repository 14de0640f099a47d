//! Why a messages server died, from the evidence only: its exit status or signal, a Python
//! traceback's last frame, and the connection after which it died. Public so that the
//! engine tests can feed it made-up evidence; the suite calls it through the session.

use std::process::ExitStatus;
use std::time::Instant;

use crate::check::Cause;
use crate::driver::subject::{describe_status, status_cause};
use crate::driver::{Line, Stream};
use crate::suites::common::exit;

/// A Python traceback in `lines` (stderr): when its first line arrived (for blaming a
/// connection) and its last frame with the exception, as `common::exit::traceback` reads it
/// (`File "server.py", line 97, in invalid: ValueError: bad magic`).
pub fn traceback(lines: &[Line]) -> Option<(Instant, String)> {
    let text = exit::traceback(lines)?.text();
    let at = lines
        .iter()
        .rev()
        .find(|l| l.stream == Stream::Stderr && exit::is_traceback_start(&l.text))?
        .at;
    Some((at, text))
}

/// What the suite did on one connection, for blaming the one after which a server died.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// "client 3".
    pub label: String,
    /// "a create with MagicNo 0x73AE".
    pub what: String,
    /// When the suite opened it.
    pub at: Instant,
    /// The suite's end of it (the port a server's accept log shows).
    pub port: Option<u16>,
}

/// The connection after which the server died. Evidence first: the last of the suite's
/// connections whose port the server printed (3.1 asks it to log each client's address),
/// else the last one opened before its traceback began, else before its exit was seen (the
/// session looks before every connection). A connection the server never logged or that
/// came after its traceback only found it dying and is not blamed.
pub fn blamed<'e>(
    exchanges: &'e [Exchange],
    lines: &[Line],
    seen_dead: Instant,
) -> Option<&'e Exchange> {
    let logged = |e: &&Exchange| {
        e.port.is_some_and(|p| {
            let p = p.to_string();
            lines
                .iter()
                .any(|l| l.text.split(|c: char| !c.is_ascii_digit()).any(|w| w == p))
        })
    };
    if let Some(e) = exchanges.iter().rev().find(logged) {
        return Some(e);
    }
    let sign = traceback(lines).map_or(seen_dead, |(at, _)| at);
    exchanges.iter().rev().find(|e| e.at <= sign)
}

/// How a server's death is explained: the words added to the failure, the hint, the cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Death {
    /// "the server had ended with exit status 1 after client 3 (a create ...): ...".
    pub actual: String,
    /// What to change.
    pub hint: String,
    /// The evidence as data.
    pub cause: Cause,
}

/// Explains a server that ended by itself with `status`, having printed `lines`, the last
/// connection before its death being `after`.
pub fn death(status: ExitStatus, lines: &[Line], after: Option<&Exchange>) -> Death {
    use std::os::unix::process::ExitStatusExt;
    let when = match after {
        Some(e) => format!(" after {} ({})", e.label, e.what),
        None => String::new(),
    };
    let ended = format!(
        "the server had ended with {}{when}",
        describe_status(status)
    );
    if let Some((_, frame)) = traceback(lines) {
        return Death {
            actual: format!("{ended}: a Python traceback, last frame {frame}"),
            hint: "that exception is not caught: wrap the handling of one client in \
                   try/except inside the accept loop, print an error, close that client's \
                   socket and go back to accept()"
                .to_owned(),
            cause: Cause::Traceback { last_frame: frame },
        };
    }
    if let Some(signal) = status.signal() {
        let hint = match signal {
            11 | 7 => "an invalid memory access while handling that connection: check every \
                       length field against what was read and the buffer's size before using it"
                .to_owned(),
            13 => "it wrote to a connection the client had closed: ignore SIGPIPE \
                   (signal(SIGPIPE, SIG_IGN)) or send with MSG_NOSIGNAL, and treat the error \
                   as that client's"
                .to_owned(),
            6 => "an abort (assert or a corrupted heap) while handling that connection".to_owned(),
            _ => format!("signal {signal} ended it while handling that connection"),
        };
        return Death {
            actual: ended,
            hint,
            cause: status_cause(status, false),
        };
    }
    let code = status.code().unwrap_or(-1);
    Death {
        actual: ended,
        hint: "a server serves clients until it is killed: on a client's error print it, close \
               that client's socket and go back to accept(); do not exit"
            .to_owned(),
        cause: Cause::Exited { code },
    }
}

/// The hint (and cause) for a server that did not listen on an in-range `port`: `busy` is
/// the state of a socket found on that port right after (e.g. TIME_WAIT; 0: none seen, but
/// its own output said the address was in use), `same_as_refused`
/// whether it printed what it prints for an out-of-range port (digits aside).
pub fn port_refused(port: u16, busy: Option<u8>, same_as_refused: bool) -> (String, Option<Cause>) {
    if same_as_refused {
        return (
            format!(
                "it answers port {port} as it answers an out-of-range port: the range is \
                 inclusive, 1024 <= port <= 64000"
            ),
            None,
        );
    }
    if let Some(state) = busy {
        let what = if state == TCP_TIME_WAIT {
            "in TIME_WAIT (a recent connection on it)"
        } else {
            "in use"
        };
        return (
            format!(
                "port {port} was {what} on this machine when the server tried it, so its bind() \
                 failed: not a range check. Set SO_REUSEADDR before bind() so that a port in \
                 TIME_WAIT can be bound again"
            ),
            Some(Cause::AddrInUse { port }),
        );
    }
    (
        format!(
            "port {port} is in range and was free, yet the server did not listen on it: its \
             output (above) says why"
        ),
        None,
    )
}

/// The kernel's TIME_WAIT state code in /proc/net/tcp.
pub const TCP_TIME_WAIT: u8 = 0x06;
