//! `tcpserver <port> [--model iterative|threaded|event-driven] [--timeout SECS]` and
//! `tcpclient <host> <port> <X>` (seed 001).
//!
//! The seed: "Step 1: The client sends “HELLO X” to the server ... Step 2: The server receives
//! and prints the “HELLO X” message from the client, and sends “HELLO Y” to the client, where
//! Y is X+1. Step 3: The client receives “HELLO Y” message from the server, prints the message
//! to screen, and does either one of the following: If Y = X+1, the client sends “HELLO Z” to
//! the server, where Z=Y+1, and closes the connection. If Y != X+1, the client prints an
//! “ERROR” message, and closes the connection. Step 4: If the server receives the “HELLO Z”
//! message from the client, and prints the message to screen. In addition, if Z != Y+1,
//! prints an “ERROR”." And: "make sure that you do “fflush(stdout)” right after you do the
//! print".
//!
//! # Reading a message
//! The bare form `HELLO N` has no terminator, so where a message ends is a matter of time.
//! Bytes are gathered until one of:
//! - a terminator (`\n`, `\r\n`, `\0`, `\n\0`) ends the message ([`codec::hello::Hello::decode`]);
//! - the bytes can no longer become a message: malformed at once (`GARBAGE`, `HELLO abc`);
//! - the bytes are a whole bare message (`HELLO 5`): taken at once, as what one read returned
//!   (DESIGN.md: one write of the peer arrives in one read; a student program reads once).
//!   A greeting split inside its digits cannot be told from a shorter one without a
//!   terminator, by any reader: the protocol leaves it open, and no check sends one. Waiting
//!   for a quiet period instead cost every bare handshake 30 ms (27 per second serially);
//! - the bytes are a prefix (`HEL`, `HELLO `) and nothing more arrived for [`QUIET_PREFIX`]
//!   (never past the deadline): judged as they are (malformed, `ERROR`). The wait is long
//!   because the rest of a split greeting may come late on a loaded machine (the suite's
//!   split-greeting peer was seen pausing 1.1 s); a peer that closes its side is judged at
//!   once;
//! - the peer closes its side: what arrived is judged as one message;
//! - [`MAX_MESSAGE`] bytes are buffered (malformed), or the per-message deadline passes.
//!
//! NUL, CR and LF bytes before a message are skipped: the rest of a NUL-padded C buffer.
//!
//! # Server
//! Prints `HELLO X` on receipt (the decoded number, so no stale digits), replies `HELLO X+1`
//! in the bare form in one write, prints `HELLO Z` on receipt and `ERROR` when Z != X+2.
//! A malformed message gets a line `ERROR` on stdout (details on stderr) and the connection is
//! closed. A peer that closes early or resets gets nothing printed on stdout. Every message
//! must arrive within the timeout (default [`DEFAULT_TIMEOUT`], `--timeout SECS`) counted
//! from accept (greeting) or from the reply (Z), so a silent client holds the iterative
//! server for at most that long. The server serves on after every connection.
//! - `iterative`: one client at a time, in accept order.
//! - `threaded`: a thread per connection, at most [`MAX_THREADS`] live; beyond that the
//!   accept loop waits for one to end (new clients wait in the backlog).
//! - `event-driven`: one thread, mio, a state machine per connection and a timer set.
//!
//! # Client
//! Sends `HELLO X` in one write, prints `HELLO Y` for the reply, then sends `HELLO X+2` and
//! exits 0 if Y = X+1; else prints `ERROR`, sends nothing and exits 1. A garbage reply, a
//! closed connection or no reply within [`DEFAULT_TIMEOUT`] also print `ERROR` (details on
//! stderr) and exit 1.

use std::ffi::OsString;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use codec::DecodeError;
use codec::hello::Hello;

use crate::common::{
    self, ACCEPT_BACKOFF, FAIL_EXIT, USAGE_EXIT, accept_error_is_transient, err_line, out_line,
};

/// Quiet period after which a prefix of a message (`HELLO `) is judged as it is (capped by
/// the per-message deadline).
pub const QUIET_PREFIX: Duration = Duration::from_secs(5);
/// Default time a peer has for each message.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Most bytes buffered for one message: `HELLO ` and 20 characters of number need far less.
pub const MAX_MESSAGE: usize = 4096;
/// Most live connection threads of the threaded server.
pub const MAX_THREADS: usize = 1024;
/// Stack of a connection thread: a 4 KiB read buffer and a few lines of formatting.
const THREAD_STACK: usize = 64 * 1024;

const SERVER_USAGE: &str =
    "usage: tcpserver <port> [--model iterative|threaded|event-driven] [--timeout SECS]";
const CLIENT_USAGE: &str = "usage: tcpclient <host> <port> <X>";

// ---------------------------------------------------------------------------------------
// Message assembly (no I/O: shared by the blocking and the event-driven code)
// ---------------------------------------------------------------------------------------

/// What to do with the bytes gathered so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// A whole message.
    Done(Hello),
    /// The bytes cannot become a message.
    Bad(Malformed),
    /// Wait for more bytes; after this much quiet, call [`Assembler::finish`].
    /// `None`: nothing gathered yet, wait until the deadline.
    Wait(Option<Duration>),
}

/// Why a message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Malformed {
    Decode(DecodeError),
    TooLong,
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Malformed::Decode(DecodeError::Incomplete { .. }) => {
                f.write_str("the message was cut off before its number")
            }
            Malformed::Decode(e) => write!(f, "{e}"),
            Malformed::TooLong => write!(f, "more than {MAX_MESSAGE} bytes without a message"),
        }
    }
}

/// Bytes of one connection, gathered until they make a message.
#[derive(Debug, Default)]
pub(crate) struct Assembler {
    buf: Vec<u8>,
}

impl Assembler {
    /// Room left before [`MAX_MESSAGE`].
    pub(crate) fn room(&self) -> usize {
        MAX_MESSAGE.saturating_sub(self.buf.len())
    }

    /// Whether any byte of a message is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Add bytes as they arrived (at most [`Self::room`] are kept).
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        let take = bytes.len().min(self.room());
        let bytes = bytes.get(..take).unwrap_or_default();
        // Skip filler between messages only while no message has started.
        let bytes = if self.buf.is_empty() {
            let start = bytes
                .iter()
                .position(|b| !matches!(b, 0 | b'\r' | b'\n'))
                .unwrap_or(bytes.len());
            bytes.get(start..).unwrap_or_default()
        } else {
            bytes
        };
        self.buf.extend_from_slice(bytes);
    }

    /// Judge the bytes gathered so far; on `Done` they are consumed (what followed the
    /// terminator stays for the next message).
    pub(crate) fn step(&mut self) -> Step {
        if self.buf.is_empty() {
            return Step::Wait(None);
        }
        match Hello::decode(&self.buf) {
            Ok((rest, hello)) => {
                let consumed = self.buf.len() - rest.len();
                self.buf.drain(..consumed);
                let filler = self
                    .buf
                    .iter()
                    .position(|b| !matches!(b, 0 | b'\r' | b'\n'))
                    .unwrap_or(self.buf.len());
                self.buf.drain(..filler);
                Step::Done(hello)
            }
            Err(e) if !e.is_incomplete() => Step::Bad(Malformed::Decode(e)),
            Err(_) if self.room() == 0 => Step::Bad(Malformed::TooLong),
            Err(_) => match Hello::decode_exact(&self.buf) {
                Ok(hello) => {
                    self.buf.clear();
                    Step::Done(hello)
                }
                Err(_) => Step::Wait(Some(QUIET_PREFIX)),
            },
        }
    }

    /// Judge the bytes gathered as one whole message (the quiet period passed, or the peer
    /// closed its side). Consumes them.
    pub(crate) fn finish(&mut self) -> Result<Hello, Malformed> {
        let result = Hello::decode_exact(&self.buf).map_err(Malformed::Decode);
        self.buf.clear();
        result
    }
}

/// Encode the bare form `HELLO n`, as replies and client messages are sent.
fn bare(seq: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    Hello::new(seq).encode(&mut out);
    out
}

// ---------------------------------------------------------------------------------------
// Blocking reads (iterative and threaded servers, client)
// ---------------------------------------------------------------------------------------

/// How reading one message ended.
#[derive(Debug)]
pub(crate) enum Received {
    Message(Hello),
    Malformed(Malformed),
    /// The peer closed before sending anything.
    Closed,
    /// Nothing arrived before the deadline.
    TimedOut,
    /// A reset or another socket error.
    Failed(std::io::Error),
}

/// Read one message from a blocking stream, with an overall `deadline`.
pub(crate) fn read_message(
    stream: &mut TcpStream,
    asm: &mut Assembler,
    deadline: Instant,
) -> Received {
    let mut buf = [0u8; 1024];
    let mut quiet_until: Option<Instant> = None;
    loop {
        match asm.step() {
            Step::Done(hello) => return Received::Message(hello),
            Step::Bad(why) => return Received::Malformed(why),
            Step::Wait(quiet) => {
                // A new quiet period starts only when bytes arrived (set below).
                if quiet_until.is_none() {
                    quiet_until = quiet.map(|q| Instant::now() + q);
                }
            }
        }
        let now = Instant::now();
        let wake = quiet_until.map_or(deadline, |q| q.min(deadline));
        if now >= wake {
            return if asm.is_empty() {
                Received::TimedOut
            } else {
                finish(asm)
            };
        }
        if let Err(e) = stream.set_read_timeout(Some(wake - now)) {
            return Received::Failed(e);
        }
        let want = asm.room().clamp(1, buf.len());
        match stream.read(&mut buf[..want]) {
            Ok(0) if asm.is_empty() => return Received::Closed,
            Ok(0) => return finish(asm),
            Ok(n) => {
                asm.push(&buf[..n]);
                quiet_until = None;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Received::Failed(e),
        }
    }
}

fn finish(asm: &mut Assembler) -> Received {
    match asm.finish() {
        Ok(hello) => Received::Message(hello),
        Err(why) => Received::Malformed(why),
    }
}

/// Write all of `bytes` before `deadline`.
fn write_all_by(stream: &mut TcpStream, bytes: &[u8], deadline: Instant) -> std::io::Result<()> {
    let left = deadline.saturating_duration_since(Instant::now());
    stream.set_write_timeout(Some(left.max(Duration::from_millis(1))))?;
    stream.write_all(bytes)
}

// ---------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Model {
    Iterative,
    Threaded,
    EventDriven,
}

/// Entry point of `tcpserver`.
pub fn server_main(args: &[OsString]) -> i32 {
    let parsed = (|| {
        let (pos, flags) = common::split_flags(args, &["--model", "--timeout"])?;
        let [port] = pos.as_slice() else {
            return Err("expected exactly one port argument".to_owned());
        };
        let port = common::parse_port(port, 1, u16::MAX)?;
        let model = match common::flag(&flags, "--model").map(|m| m.to_str()) {
            None | Some(Some("iterative")) => Model::Iterative,
            Some(Some("threaded")) => Model::Threaded,
            Some(Some("event-driven")) => Model::EventDriven,
            Some(other) => {
                return Err(format!(
                    "unknown model {other:?}: expected iterative, threaded or event-driven"
                ));
            }
        };
        let timeout = match common::flag(&flags, "--timeout") {
            Some(t) => common::parse_secs(t, "timeout")?,
            None => DEFAULT_TIMEOUT,
        };
        Ok((port, model, timeout))
    })();
    let (port, model, timeout) = match parsed {
        Ok(p) => p,
        Err(msg) => {
            err_line(&format!("tcpserver: {msg}"));
            err_line(SERVER_USAGE);
            return USAGE_EXIT;
        }
    };
    common::raise_nofile_limit();
    let listener = match common::listen(port) {
        Ok(l) => l,
        Err(msg) => {
            err_line(&format!("tcpserver: {msg}"));
            return FAIL_EXIT;
        }
    };
    let err = match model {
        Model::Iterative => iterative(listener, timeout),
        Model::Threaded => threaded(listener, timeout),
        Model::EventDriven => event::serve(listener, timeout),
    };
    err_line(&format!("tcpserver: {err}"));
    FAIL_EXIT
}

/// Accept one connection, riding out errors that concern only that connection.
fn accept(listener: &TcpListener) -> TcpStream {
    loop {
        match listener.accept() {
            Ok((stream, _)) => return stream,
            Err(e) if accept_error_is_transient(&e) => {}
            Err(e) => {
                err_line(&format!("tcpserver: accept failed: {e}"));
                std::thread::sleep(ACCEPT_BACKOFF);
            }
        }
    }
}

fn iterative(listener: TcpListener, timeout: Duration) -> String {
    loop {
        serve_connection(accept(&listener), timeout);
    }
}

fn threaded(listener: TcpListener, timeout: Duration) -> String {
    let live = Arc::new((Mutex::new(0usize), Condvar::new()));
    loop {
        // A free place first, then accept: beyond the bound, clients wait in the backlog.
        {
            let (count, freed) = &*live;
            let mut n = count.lock().unwrap_or_else(PoisonError::into_inner);
            while *n >= MAX_THREADS {
                n = freed.wait(n).unwrap_or_else(PoisonError::into_inner);
            }
            *n += 1;
        }
        let stream = accept(&listener);
        let mine = Arc::clone(&live);
        // The guard gives the slot back even if the thread could not start.
        let slot = Slot(mine);
        let spawned = std::thread::Builder::new()
            .stack_size(THREAD_STACK)
            .spawn(move || {
                let _slot = slot;
                serve_connection(stream, timeout);
            });
        if let Err(e) = spawned {
            err_line(&format!("tcpserver: cannot start a thread: {e}"));
            std::thread::sleep(ACCEPT_BACKOFF);
        }
    }
}

/// One live connection thread; dropping it frees its place.
struct Slot(Arc<(Mutex<usize>, Condvar)>);

impl Drop for Slot {
    fn drop(&mut self) {
        let (count, freed) = &*self.0;
        let mut n = count.lock().unwrap_or_else(PoisonError::into_inner);
        *n = n.saturating_sub(1);
        freed.notify_one();
    }
}

/// Report a failed read on a server connection: stdout gets `ERROR` only for a malformed
/// message (the seed's "ERROR" lines); the rest is a note on stderr.
fn report(received: &Received, which: &str) {
    match received {
        Received::Message(_) => {}
        Received::Malformed(why) => {
            out_line("ERROR");
            err_line(&format!("tcpserver: malformed {which}: {why}"));
        }
        Received::Closed => err_line(&format!("tcpserver: the client closed before its {which}")),
        Received::TimedOut => err_line(&format!("tcpserver: no {which} in time; closing")),
        Received::Failed(e) => err_line(&format!("tcpserver: reading the {which} failed: {e}")),
    }
}

/// The whole handshake on one blocking connection. The stream is closed on return.
fn serve_connection(mut stream: TcpStream, timeout: Duration) {
    let mut asm = Assembler::default();
    let greeting = read_message(&mut stream, &mut asm, Instant::now() + timeout);
    let Received::Message(hello) = greeting else {
        report(&greeting, "greeting");
        return;
    };
    let x = hello.seq;
    out_line(&format!("HELLO {x}"));
    let (Some(y), Some(z_expected)) = (x.checked_add(1), x.checked_add(2)) else {
        out_line("ERROR");
        err_line(&format!("tcpserver: HELLO {x} has no successor in 64 bits"));
        return;
    };
    if let Err(e) = write_all_by(&mut stream, &bare(y), Instant::now() + timeout) {
        err_line(&format!("tcpserver: sending HELLO {y} failed: {e}"));
        return;
    }
    let third = read_message(&mut stream, &mut asm, Instant::now() + timeout);
    let Received::Message(hello) = third else {
        report(&third, "HELLO Z");
        return;
    };
    out_line(&format!("HELLO {}", hello.seq));
    if hello.seq != z_expected {
        out_line("ERROR");
        err_line(&format!(
            "tcpserver: expected HELLO {z_expected}, got HELLO {}",
            hello.seq
        ));
    }
}

// ---------------------------------------------------------------------------------------
// Event-driven server
// ---------------------------------------------------------------------------------------

mod event {
    //! The event-driven model: one thread, mio (edge-triggered epoll), a state machine per
    //! connection, and an ordered set of wake-up times (quiet periods and deadlines).

    use std::collections::BTreeSet;
    use std::io::{ErrorKind, Read, Write};
    use std::net::TcpListener;
    use std::time::{Duration, Instant};

    use mio::net::{TcpListener as MioListener, TcpStream};
    use mio::{Events, Interest, Poll, Token};

    use super::{Assembler, Malformed, Step, bare};
    use crate::common::{ACCEPT_BACKOFF, accept_error_is_transient, err_line, out_line};

    const LISTENER: Token = Token(usize::MAX);

    enum Phase {
        /// Waiting for `HELLO X`.
        Greeting,
        /// Sending `HELLO X+1`: the bytes and how many went out.
        Reply { x: i64, out: Vec<u8>, sent: usize },
        /// Waiting for `HELLO Z`.
        Third { x: i64 },
    }

    struct Conn {
        stream: TcpStream,
        asm: Assembler,
        phase: Phase,
        /// When the current message must have arrived.
        deadline: Instant,
        /// When the current quiet period ends, if one runs.
        quiet_until: Option<Instant>,
        /// The entry of this connection in the timer set.
        wake: Instant,
        /// A readiness event came while the reply was being sent: read once it is out.
        unread: bool,
    }

    impl Conn {
        fn next_wake(&self) -> Instant {
            self.quiet_until
                .map_or(self.deadline, |q| q.min(self.deadline))
        }
    }

    /// What became of a connection after handling it.
    enum Fate {
        Keep,
        Close,
    }

    struct Server {
        poll: Poll,
        conns: Vec<Option<Conn>>,
        free: Vec<usize>,
        timers: BTreeSet<(Instant, usize)>,
        timeout: Duration,
    }

    pub(super) fn serve(listener: TcpListener, timeout: Duration) -> String {
        match run(listener, timeout) {
            Ok(never) => match never {},
            Err(e) => e,
        }
    }

    enum Never {}

    fn run(listener: TcpListener, timeout: Duration) -> Result<Never, String> {
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("cannot make the listener non-blocking: {e}"))?;
        let mut listener = MioListener::from_std(listener);
        let poll = Poll::new().map_err(|e| format!("cannot create the poller: {e}"))?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)
            .map_err(|e| format!("cannot register the listener: {e}"))?;
        let mut server = Server {
            poll,
            conns: Vec::new(),
            free: Vec::new(),
            timers: BTreeSet::new(),
            timeout,
        };
        let mut events = Events::with_capacity(1024);
        let mut accept_retry: Option<Instant> = None;
        loop {
            let now = Instant::now();
            let mut wait = server
                .timers
                .first()
                .map(|(at, _)| at.saturating_duration_since(now));
            if let Some(at) = accept_retry {
                let d = at.saturating_duration_since(now);
                wait = Some(wait.map_or(d, |w| w.min(d)));
            }
            if let Err(e) = server.poll.poll(&mut events, wait) {
                if e.kind() == ErrorKind::Interrupted {
                    continue;
                }
                return Err(format!("poll failed: {e}"));
            }
            let mut accept_now = accept_retry.is_some_and(|at| Instant::now() >= at);
            for event in events.iter() {
                if event.token() == LISTENER {
                    accept_now = true;
                } else {
                    server.ready(event.token().0);
                }
            }
            if accept_now {
                accept_retry = None;
                loop {
                    match listener.accept() {
                        Ok((stream, _)) => server.add(stream),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) if accept_error_is_transient(&e) => {}
                        Err(e) => {
                            // Out of descriptors: edge-triggered readiness will not repeat
                            // for connections already queued, so retry on a timer.
                            err_line(&format!("tcpserver: accept failed: {e}"));
                            accept_retry = Some(Instant::now() + ACCEPT_BACKOFF);
                            break;
                        }
                    }
                }
            }
            server.expire(Instant::now());
        }
    }

    impl Server {
        fn add(&mut self, mut stream: TcpStream) {
            let key = self.free.pop().unwrap_or(self.conns.len());
            if let Err(e) = self.poll.registry().register(
                &mut stream,
                Token(key),
                Interest::READABLE | Interest::WRITABLE,
            ) {
                err_line(&format!("tcpserver: cannot register a connection: {e}"));
                self.free.push(key);
                return;
            }
            let deadline = Instant::now() + self.timeout;
            let conn = Conn {
                stream,
                asm: Assembler::default(),
                phase: Phase::Greeting,
                deadline,
                quiet_until: None,
                wake: deadline,
                unread: false,
            };
            self.timers.insert((deadline, key));
            if key == self.conns.len() {
                self.conns.push(Some(conn));
            } else if let Some(slot) = self.conns.get_mut(key) {
                *slot = Some(conn);
            }
            // No read here: epoll reports a socket's current readiness when it is added
            // (writable at least), so data that came with the handshake is seen next poll.
        }

        fn ready(&mut self, key: usize) {
            let Some(Some(conn)) = self.conns.get_mut(key) else {
                return;
            };
            let fate = drive(conn, self.timeout);
            self.settle(key, fate);
        }

        /// Update the timer set after a connection was handled, or close it.
        fn settle(&mut self, key: usize, fate: Fate) {
            let Some(Some(conn)) = self.conns.get_mut(key) else {
                return;
            };
            self.timers.remove(&(conn.wake, key));
            match fate {
                Fate::Keep => {
                    conn.wake = conn.next_wake();
                    self.timers.insert((conn.wake, key));
                }
                Fate::Close => {
                    // Closing the socket removes it from epoll: no deregister call needed.
                    drop(self.conns.get_mut(key).and_then(Option::take));
                    self.free.push(key);
                }
            }
        }

        /// Handle every connection whose quiet period or deadline has passed.
        fn expire(&mut self, now: Instant) {
            while let Some(&(at, key)) = self.timers.first() {
                if at > now {
                    break;
                }
                let Some(Some(conn)) = self.conns.get_mut(key) else {
                    self.timers.remove(&(at, key));
                    continue;
                };
                let mut fate = on_timer(conn, now, self.timeout);
                if matches!(fate, Fate::Keep) && conn.next_wake() <= now {
                    // Nothing moved this connection's clock: close it rather than spin.
                    fate = Fate::Close;
                }
                self.settle(key, fate);
            }
        }
    }

    fn which(phase: &Phase) -> &'static str {
        match phase {
            Phase::Greeting => "greeting",
            _ => "HELLO Z",
        }
    }

    /// A quiet period or the deadline passed.
    fn on_timer(conn: &mut Conn, now: Instant, timeout: Duration) -> Fate {
        let what = which(&conn.phase);
        if conn.asm.is_empty() || now >= conn.deadline && conn.quiet_until.is_none() {
            if matches!(conn.phase, Phase::Reply { .. }) {
                err_line("tcpserver: the client did not take the reply in time; closing");
            } else {
                err_line(&format!("tcpserver: no {what} in time; closing"));
            }
            return Fate::Close;
        }
        conn.quiet_until = None;
        let judged = conn.asm.finish();
        match message(conn, judged, timeout) {
            Fate::Keep if matches!(conn.phase, Phase::Reply { .. }) => flush(conn, timeout),
            fate => fate,
        }
    }

    /// Read what is there, and act on it.
    fn drive(conn: &mut Conn, timeout: Duration) -> Fate {
        if let Phase::Reply { .. } = conn.phase {
            conn.unread = true;
            return flush(conn, timeout);
        }
        let mut buf = [0u8; 1024];
        loop {
            let want = conn.asm.room().clamp(1, buf.len());
            match conn.stream.read(&mut buf[..want]) {
                Ok(0) => {
                    if conn.asm.is_empty() {
                        err_line(&format!(
                            "tcpserver: the client closed before its {}",
                            which(&conn.phase)
                        ));
                        return Fate::Close;
                    }
                    let judged = conn.asm.finish();
                    return match message(conn, judged, timeout) {
                        // The peer is gone: nothing more can arrive.
                        Fate::Keep if matches!(conn.phase, Phase::Reply { .. }) => {
                            flush(conn, timeout)
                        }
                        _ => Fate::Close,
                    };
                }
                Ok(n) => {
                    conn.asm.push(&buf[..n]);
                    conn.quiet_until = None;
                    match conn.asm.step() {
                        Step::Done(hello) => match message(conn, Ok(hello), timeout) {
                            Fate::Keep => {
                                if let Phase::Reply { .. } = conn.phase {
                                    return flush(conn, timeout);
                                }
                            }
                            Fate::Close => return Fate::Close,
                        },
                        Step::Bad(why) => return message(conn, Err(why), timeout),
                        Step::Wait(quiet) => {
                            conn.quiet_until = quiet.map(|q| Instant::now() + q);
                        }
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Fate::Keep,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    err_line(&format!(
                        "tcpserver: reading the {} failed: {e}",
                        which(&conn.phase)
                    ));
                    return Fate::Close;
                }
            }
        }
    }

    /// A message was judged: print, and move to the next phase.
    fn message(
        conn: &mut Conn,
        judged: Result<codec::hello::Hello, Malformed>,
        timeout: Duration,
    ) -> Fate {
        let what = which(&conn.phase);
        let hello = match judged {
            Ok(h) => h,
            Err(why) => {
                out_line("ERROR");
                err_line(&format!("tcpserver: malformed {what}: {why}"));
                return Fate::Close;
            }
        };
        match conn.phase {
            Phase::Greeting => {
                let x = hello.seq;
                out_line(&format!("HELLO {x}"));
                // Z = X+2 must fit too, or the third message could never be right.
                let (Some(y), Some(_)) = (x.checked_add(1), x.checked_add(2)) else {
                    out_line("ERROR");
                    err_line(&format!("tcpserver: HELLO {x} has no successor in 64 bits"));
                    return Fate::Close;
                };
                conn.phase = Phase::Reply {
                    x,
                    out: bare(y),
                    sent: 0,
                };
                conn.deadline = Instant::now() + timeout;
                Fate::Keep
            }
            Phase::Third { x } => {
                out_line(&format!("HELLO {}", hello.seq));
                if Some(hello.seq) != x.checked_add(2) {
                    out_line("ERROR");
                    err_line(&format!(
                        "tcpserver: expected HELLO {}, got HELLO {}",
                        x.saturating_add(2),
                        hello.seq
                    ));
                }
                Fate::Close
            }
            Phase::Reply { .. } => Fate::Keep,
        }
    }

    /// Send what is left of the reply; then wait for `HELLO Z`.
    fn flush(conn: &mut Conn, timeout: Duration) -> Fate {
        let Phase::Reply { x, out, sent } = &mut conn.phase else {
            return Fate::Keep;
        };
        while *sent < out.len() {
            match conn.stream.write(out.get(*sent..).unwrap_or_default()) {
                Ok(0) => return Fate::Close,
                Ok(n) => *sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Fate::Keep,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    err_line(&format!("tcpserver: sending the reply failed: {e}"));
                    return Fate::Close;
                }
            }
        }
        let x = *x;
        conn.phase = Phase::Third { x };
        conn.deadline = Instant::now() + timeout;
        conn.quiet_until = None;
        // Bytes of HELLO Z may already be buffered (sent with the greeting) or waiting.
        match conn.asm.step() {
            Step::Done(hello) => message(conn, Ok(hello), timeout),
            Step::Bad(why) => message(conn, Err(why), timeout),
            Step::Wait(quiet) => {
                conn.quiet_until = quiet.map(|q| Instant::now() + q);
                // Bytes that arrive from now on raise a new event; only an event consumed
                // while the reply was pending may have left bytes unread.
                if std::mem::take(&mut conn.unread) {
                    drive(conn, timeout)
                } else {
                    Fate::Keep
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------

/// Entry point of `tcpclient`.
pub fn client_main(args: &[OsString]) -> i32 {
    let parsed = (|| {
        let [host, port, x] = args else {
            return Err(format!("expected 3 arguments, got {}", args.len()));
        };
        let host = common::arg_str(host, "host")?;
        let port = common::parse_port(port, 1, u16::MAX)?;
        let x_text = common::arg_str(x, "sequence number")?;
        let x: i64 = x_text
            .parse()
            .map_err(|_| format!("the sequence number `{x_text}` is not a 64-bit integer"))?;
        if x.checked_add(2).is_none() {
            return Err(format!("the sequence number {x} is too large to add 2"));
        }
        Ok((host.to_owned(), port, x))
    })();
    let (host, port, x) = match parsed {
        Ok(p) => p,
        Err(msg) => {
            err_line(&format!("tcpclient: {msg}"));
            err_line(CLIENT_USAGE);
            return USAGE_EXIT;
        }
    };
    match client(&host, port, x) {
        Ok(()) => 0,
        Err(msg) => {
            out_line("ERROR");
            err_line(&format!("tcpclient: {msg}"));
            FAIL_EXIT
        }
    }
}

/// Connect to the first address of `host` that accepts, within `timeout` each.
pub(crate) fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, String> {
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve `{host}`: {e}"))?;
    let mut last = format!("`{host}` has no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(last)
}

fn client(host: &str, port: u16, x: i64) -> Result<(), String> {
    let mut stream = connect(host, port, DEFAULT_TIMEOUT)?;
    let deadline = Instant::now() + DEFAULT_TIMEOUT;
    write_all_by(&mut stream, &bare(x), deadline)
        .map_err(|e| format!("sending HELLO {x} failed: {e}"))?;
    let mut asm = Assembler::default();
    let y = match read_message(&mut stream, &mut asm, Instant::now() + DEFAULT_TIMEOUT) {
        Received::Message(hello) => hello.seq,
        Received::Malformed(why) => return Err(format!("malformed reply: {why}")),
        Received::Closed => return Err("the server closed without replying".into()),
        Received::TimedOut => return Err("no reply in time".into()),
        Received::Failed(e) => return Err(format!("reading the reply failed: {e}")),
    };
    out_line(&format!("HELLO {y}"));
    // Checked when parsing the arguments.
    let (Some(expected), Some(z)) = (x.checked_add(1), x.checked_add(2)) else {
        return Err("the sequence number overflows".into());
    };
    if y != expected {
        return Err(format!("expected HELLO {expected}, got HELLO {y}"));
    }
    write_all_by(&mut stream, &bare(z), Instant::now() + DEFAULT_TIMEOUT)
        .map_err(|e| format!("sending HELLO {z} failed: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fed(bytes: &[u8]) -> Assembler {
        let mut asm = Assembler::default();
        asm.push(bytes);
        asm
    }

    #[test]
    fn terminated_message_is_done_at_once() {
        for input in [
            &b"HELLO 5\n"[..],
            b"HELLO 5\r\n",
            b"HELLO 5\0",
            b"HELLO 5\n\0",
        ] {
            assert_eq!(
                fed(input).step(),
                Step::Done(Hello {
                    seq: 5,
                    ..Hello::decode(input).unwrap().1
                })
            );
        }
    }

    #[test]
    fn bare_message_is_taken_at_once() {
        let mut asm = fed(b"HELLO 12");
        assert!(matches!(asm.step(), Step::Done(Hello { seq: 12, .. })));
        assert!(asm.is_empty());
    }

    #[test]
    fn split_keyword_waits_for_the_rest() {
        let mut asm = fed(b"HEL");
        assert_eq!(asm.step(), Step::Wait(Some(QUIET_PREFIX)));
        asm.push(b"LO 34");
        assert!(matches!(asm.step(), Step::Done(Hello { seq: 34, .. })));
    }

    #[test]
    fn prefix_waits_longer_and_is_malformed_when_finished() {
        for input in [&b"HEL"[..], b"HELLO", b"HELLO "] {
            let mut asm = fed(input);
            assert_eq!(asm.step(), Step::Wait(Some(QUIET_PREFIX)), "{input:?}");
            assert!(asm.finish().is_err());
        }
    }

    #[test]
    fn garbage_is_malformed_at_once() {
        for input in [&b"GARBAGE"[..], b"HELLO abc", b"HELLOX 1"] {
            assert!(matches!(fed(input).step(), Step::Bad(_)), "{input:?}");
        }
    }

    #[test]
    fn nul_padding_before_the_next_message_is_skipped() {
        let mut asm = fed(b"HELLO 5\0\0\0\0");
        assert!(matches!(asm.step(), Step::Done(h) if h.seq == 5));
        asm.push(b"\0\0\0HELLO 7\n");
        assert!(matches!(asm.step(), Step::Done(h) if h.seq == 7));
    }

    #[test]
    fn endless_bytes_are_bounded() {
        let mut asm = Assembler::default();
        asm.push(b"HELLO 1");
        asm.push(&[b'1'; 10_000]);
        assert!(matches!(asm.step(), Step::Bad(_)));
    }
}
