//! Helpers shared by every program: flushed output, argument parsing, listening sockets.

use std::ffi::OsString;
use std::io::Write;
use std::net::{Ipv4Addr, TcpListener};
use std::time::Duration;

/// Exit status of a usage error (bad arguments).
pub(crate) const USAGE_EXIT: i32 = 2;
/// Exit status of a run that failed after its arguments were accepted.
pub(crate) const FAIL_EXIT: i32 = 1;

/// Print one line on stdout and flush it at once: the assignments' graders kill servers with
/// SIGKILL and read what reached the pipe. Errors (a closed pipe) are ignored on purpose: a
/// server must not die because nobody reads its log.
pub(crate) fn out_line(line: &str) {
    out_bytes_line(line.as_bytes());
}

/// [`out_line`] for bytes that need not be UTF-8 (payloads, names from the network).
pub(crate) fn out_bytes_line(line: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line);
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

/// Print text on stdout without a newline (a prompt) and flush it.
pub(crate) fn out_prompt(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Print one line on stderr (unbuffered in Rust, flushed anyway for symmetry).
pub(crate) fn err_line(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
    let _ = err.flush();
}

/// An argument as UTF-8 text, or a message naming it.
pub(crate) fn arg_str<'a>(arg: &'a OsString, what: &str) -> Result<&'a str, String> {
    arg.to_str()
        .ok_or_else(|| format!("the {what} {arg:?} is not valid UTF-8"))
}

/// A TCP port in `min..=max`, given in decimal.
pub(crate) fn parse_port(arg: &OsString, min: u16, max: u16) -> Result<u16, String> {
    let text = arg_str(arg, "port")?;
    // u32 first so that "70000" says "out of range" rather than "not a number".
    let value: u32 = text
        .parse()
        .map_err(|_| format!("the port `{text}` is not a number"))?;
    match u16::try_from(value) {
        Ok(port) if (min..=max).contains(&port) => Ok(port),
        _ => Err(format!(
            "the port {value} is out of range: it must be between {min} and {max}"
        )),
    }
}

/// A positive number of seconds (fractions allowed), at most a day.
pub(crate) fn parse_secs(arg: &OsString, what: &str) -> Result<Duration, String> {
    let text = arg_str(arg, what)?;
    match text.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs <= 86_400.0 => Ok(Duration::from_secs_f64(secs)),
        _ => Err(format!(
            "the {what} `{text}` is not a number of seconds between 0 and 86400"
        )),
    }
}

/// Options given as `--flag value`, in command-line order.
pub(crate) type Flags = Vec<(String, OsString)>;

/// Split `args` into positional arguments and `--flag value` / `--flag=value` options, each
/// flag one of `known`. A flag given twice keeps the last value.
pub(crate) fn split_flags<'a>(
    args: &'a [OsString],
    known: &[&str],
) -> Result<(Vec<&'a OsString>, Flags), String> {
    let mut positional = Vec::new();
    let mut flags = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let Some(text) = arg.to_str().filter(|t| t.starts_with("--")) else {
            positional.push(arg);
            continue;
        };
        let (name, inline) = match text.split_once('=') {
            Some((name, value)) => (name, Some(OsString::from(value))),
            None => (text, None),
        };
        if !known.contains(&name) {
            return Err(format!("unknown option `{name}`"));
        }
        let value = match inline {
            Some(value) => value,
            None => iter
                .next()
                .cloned()
                .ok_or_else(|| format!("the option `{name}` needs a value"))?,
        };
        flags.push((name.to_owned(), value));
    }
    Ok((positional, flags))
}

/// The value of `name` among parsed flags (the last one given).
pub(crate) fn flag<'a>(flags: &'a [(String, OsString)], name: &str) -> Option<&'a OsString> {
    flags.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v)
}

/// Backlog of every listening socket. std's `TcpListener::bind` uses 128 here: a burst of
/// connects beyond that overflows the accept queue and the kernel drops SYNs, which the
/// clients retry only a second later. The kernel caps it at `net.core.somaxconn`.
pub(crate) const BACKLOG: i32 = 4096;

/// Bind and listen on `0.0.0.0:port` with SO_REUSEADDR set before bind (so a server restarts
/// on its port at once even with connections of a killed predecessor in TIME_WAIT) and a
/// backlog of [`BACKLOG`].
pub(crate) fn listen(port: u16) -> Result<TcpListener, String> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType, sockopt};
    let fail = |what: &str, e: rustix::io::Errno| format!("cannot {what} port {port}: {e}");
    let fd = rustix::net::socket_with(
        AddressFamily::INET,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| fail("create a socket for", e))?;
    sockopt::set_socket_reuseaddr(&fd, true).map_err(|e| fail("set SO_REUSEADDR for", e))?;
    let addr = std::net::SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port);
    rustix::net::bind(&fd, &addr).map_err(|e| fail("bind", e))?;
    rustix::net::listen(&fd, BACKLOG).map_err(|e| fail("listen on", e))?;
    Ok(TcpListener::from(fd))
}

/// Raise the soft limit of open files to the hard limit, so that a server can hold as many
/// connections as the environment allows (the default soft limit is often 1024). Failure is
/// harmless: the server then holds fewer connections.
pub(crate) fn raise_nofile_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let _ = setrlimit(
            Resource::Nofile,
            rustix::process::Rlimit {
                current: limit.maximum,
                maximum: limit.maximum,
            },
        );
    }
}

/// Whether an accept error concerns only the connection being accepted (the peer gave up
/// before we took it), as opposed to the process (out of descriptors or memory).
pub(crate) fn accept_error_is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
    )
}

/// Back-off after an accept error that is about the process (EMFILE, ENOBUFS...): retrying at
/// once would spin; a short pause lets connections close.
pub(crate) const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_have_so_reuseaddr() {
        let listener = listen(0).expect("listen on an ephemeral port");
        assert!(rustix::net::sockopt::socket_reuseaddr(&listener).unwrap());
        // std's own bind sets it too on Unix (checked, in case code moves back to it).
        let std_listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
        assert!(rustix::net::sockopt::socket_reuseaddr(&std_listener).unwrap());
    }

    #[test]
    fn a_burst_of_connects_fits_in_the_backlog() {
        // Nobody accepts: with a backlog of 128 the 130th connect would never complete.
        let listener = listen(0).unwrap();
        let port = listener.local_addr().unwrap().port();
        let conns: Vec<_> = (0..600)
            .map(|_| {
                std::net::TcpStream::connect_timeout(
                    &std::net::SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                    Duration::from_secs(10),
                )
                .expect("connect without a SYN retry")
            })
            .collect();
        assert_eq!(conns.len(), 600);
    }

    #[test]
    fn ports_are_checked_as_numbers_in_range() {
        let p = |s: &str| parse_port(&OsString::from(s), 1024, 64000);
        assert_eq!(p("1024"), Ok(1024));
        assert_eq!(p("64000"), Ok(64000));
        assert!(p("1023").unwrap_err().contains("out of range"));
        assert!(p("70000").unwrap_err().contains("out of range"));
        assert!(p("abc").unwrap_err().contains("not a number"));
        assert!(p("-1").unwrap_err().contains("not a number"));
    }

    #[test]
    fn flags_take_separate_or_inline_values() {
        let args: Vec<OsString> = ["5000", "--model=threaded", "--period", "2"]
            .iter()
            .map(OsString::from)
            .collect();
        let (pos, flags) = split_flags(&args, &["--model", "--period"]).unwrap();
        assert_eq!(pos, vec![&OsString::from("5000")]);
        assert_eq!(flag(&flags, "--model"), Some(&OsString::from("threaded")));
        assert_eq!(flag(&flags, "--period"), Some(&OsString::from("2")));
        assert!(split_flags(&args[..3], &["--model", "--period"]).is_err());
        assert!(split_flags(&args, &["--model"]).is_err());
    }
}
