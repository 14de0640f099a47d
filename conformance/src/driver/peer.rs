//! The scripted TCP peer: the suite's fake client (connected to a server subject) or fake
//! server (accepting a client subject). It sends exact bytes, in chosen pieces with chosen
//! pauses, and receives with a deadline until a length, a condition, a silence, or the
//! close. Everything sent and received goes to the check's [`Transcript`] for the report.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::check::{Stop, fail, harness_error};
use crate::timing::{POLL, REPLY_SILENCE};

/// Most bytes one peer keeps from one receive; the rest ends the receive as `Overflow`.
pub const MAX_RECEIVE: usize = 16 << 20;
/// Events kept by a transcript (the oldest go first).
const MAX_EVENTS: usize = 64;
/// Bytes kept per transcript event.
const MAX_EVENT_BYTES: usize = 256;

/// Direction of a transcript event, seen from the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// The suite sent these bytes.
    Sent,
    /// The suite received these bytes.
    Received,
    /// Something happened to the connection (connect, close, reset).
    Note,
}

/// One transcript event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// When.
    pub at: Instant,
    /// Which connection ("client 1", "server").
    pub peer: String,
    /// Which way.
    pub dir: Dir,
    /// The bytes (at most 256 kept), or the note's text.
    pub bytes: Vec<u8>,
    /// The full length before the cut.
    pub len: usize,
}

/// The exchanges of one check, shared by its peers; capped.
#[derive(Debug, Clone, Default)]
pub struct Transcript(Arc<Mutex<Vec<Event>>>);

impl Transcript {
    /// Records an event.
    pub fn record(&self, peer: &str, dir: Dir, bytes: &[u8]) {
        let mut ev = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if ev.len() >= MAX_EVENTS {
            ev.remove(0);
        }
        ev.push(Event {
            at: Instant::now(),
            peer: peer.to_owned(),
            dir,
            bytes: bytes[..bytes.len().min(MAX_EVENT_BYTES)].to_vec(),
            len: bytes.len(),
        });
    }

    /// A copy of the kept events.
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// How a receive ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The condition (length, predicate) was met.
    Done,
    /// Bytes came, then nothing for the silence interval.
    Silence,
    /// The other side closed (FIN).
    Closed,
    /// The other side reset the connection (RST).
    Reset,
    /// The deadline passed first.
    Deadline,
    /// More than [`MAX_RECEIVE`] bytes.
    Overflow,
}

/// What one receive returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The bytes, in order.
    pub bytes: Vec<u8>,
    /// Why the receive ended.
    pub end: End,
}

impl Received {
    /// The bytes as text (lossy), for messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
    /// Whether the other side closed or reset.
    pub fn closed(&self) -> bool {
        matches!(self.end, End::Closed | End::Reset)
    }
}

/// Describes received bytes for a student: quoted text, or hex when not printable.
pub fn describe_bytes(b: &[u8]) -> String {
    if b.is_empty() {
        return "nothing".to_owned();
    }
    let shown = &b[..b.len().min(120)];
    let mut s = String::from("\"");
    for &c in shown {
        match c {
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            0 => s.push_str("\\0"),
            b'"' => s.push_str("\\\""),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    if b.len() > shown.len() {
        s.push_str(&format!(" ... ({} bytes)", b.len()));
    }
    s
}

/// One TCP connection driven by the suite.
#[derive(Debug)]
pub struct Peer {
    stream: TcpStream,
    label: String,
    log: Transcript,
    pending: Vec<u8>,
    eof: Option<End>,
}

impl Peer {
    /// Connects to 127.0.0.1:`port` within `timeout`. A refusal is the subject's fault.
    pub fn connect(
        port: u16,
        label: &str,
        log: &Transcript,
        timeout: Duration,
    ) -> Result<Peer, Stop> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                log.record(label, Dir::Note, b"connected");
                Ok(Peer::from_stream(stream, label, log))
            }
            Err(e) => Err(fail(
                format!("the server accepts a connection on 127.0.0.1:{port}"),
                format!("{label} could not connect: {e}"),
            )
            .hint("is the server still running? (see its stderr below)")),
        }
    }

    /// Wraps an accepted or connected stream.
    pub fn from_stream(stream: TcpStream, label: &str, log: &Transcript) -> Peer {
        // Small writes must leave at once: the scenario decides how bytes are split.
        let _ = stream.set_nodelay(true);
        // A subject that stops reading must not hang a send.
        let _ = stream.set_write_timeout(Some(crate::timing::SEND));
        Peer {
            stream,
            label: label.to_owned(),
            log: log.clone(),
            pending: Vec::new(),
            eof: None,
        }
    }

    /// This connection's name in the transcript.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The local port of this connection.
    pub fn local_port(&self) -> Option<u16> {
        self.stream.local_addr().ok().map(|a| a.port())
    }

    /// Sends `bytes` in one write; an error (the subject closed or reset) is returned.
    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.log.record(&self.label, Dir::Sent, bytes);
        self.stream.write_all(bytes)
    }

    /// Sends `bytes` in one write; failing to send is the subject's fault.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), Stop> {
        self.try_send(bytes).map_err(|e| {
            let why = if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) {
                format!(
                    "the other side stopped reading for {:?}",
                    crate::timing::SEND
                )
            } else {
                e.to_string()
            };
            fail(
                "the connection stays open and is read while the suite sends",
                format!("sending {} failed: {why}", describe_bytes(bytes)),
            )
        })
    }

    /// Sends `pieces` one write each, pausing `pause` between them.
    pub fn send_pieces(&mut self, pieces: &[&[u8]], pause: Duration) -> Result<(), Stop> {
        for (i, p) in pieces.iter().enumerate() {
            if i > 0 {
                self.pause(pause);
            }
            self.send(p)?;
        }
        Ok(())
    }

    /// Sends `bytes` (possibly large) within `timeout`. [`Peer::send`] blocks for as long as
    /// the subject does not read, so a large send to a subject that stopped reading would
    /// hang the check; this one ends at the deadline. Failing (the subject stopped reading,
    /// closed or reset) is the subject's fault.
    pub fn send_within(&mut self, bytes: &[u8], timeout: Duration) -> Result<(), Stop> {
        self.log.record(&self.label, Dir::Sent, bytes);
        let deadline = Instant::now() + timeout;
        let mut sent = 0;
        let result = loop {
            let Some(rest) = bytes.get(sent..).filter(|r| !r.is_empty()) else {
                break Ok(());
            };
            let now = Instant::now();
            if now >= deadline {
                break Err(format!(
                    "the subject took only {sent} of {} bytes within {timeout:?} (it stopped \
                     reading)",
                    bytes.len()
                ));
            }
            let _ = self
                .stream
                .set_write_timeout(Some((deadline - now).max(Duration::from_millis(1))));
            match self.stream.write(rest) {
                Ok(0) => break Err(format!("the connection took no more after {sent} bytes")),
                Ok(n) => sent += n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => {
                    break Err(format!(
                        "sending failed after {sent} of {} bytes: {e}",
                        bytes.len()
                    ));
                }
            }
        };
        let _ = self.stream.set_write_timeout(None);
        result.map_err(|actual| {
            fail(
                format!(
                    "the connection stays open and the subject reads the {} bytes the suite sends",
                    bytes.len()
                ),
                actual,
            )
        })
    }

    /// Waits until the other side has read everything sent so far (its receive queue in
    /// /proc/net/tcp is empty), or `timeout`. True when it has. Sending the next piece only
    /// then makes "the message arrives in pieces" hold even when the subject is slow to be
    /// scheduled (loopback connections only).
    pub fn wait_consumed(&self, timeout: Duration) -> bool {
        let (Ok(me), Ok(them)) = (self.stream.local_addr(), self.stream.peer_addr()) else {
            return false;
        };
        let deadline = Instant::now() + timeout;
        loop {
            if super::procfs::unread_bytes(them.port(), me.port()) == Some(0) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(POLL);
        }
    }

    /// Sends `pieces` one write each; before each next piece, waits until the other side
    /// has read the previous ones (up to `timeout`), then pauses `pause`. So a program that
    /// reads once really gets only the first piece.
    pub fn send_pieces_consumed(
        &mut self,
        pieces: &[&[u8]],
        pause: Duration,
        timeout: Duration,
    ) -> Result<(), Stop> {
        for (i, p) in pieces.iter().enumerate() {
            if i > 0 {
                self.wait_consumed(timeout);
                self.pause(pause);
            }
            self.send(p)?;
        }
        Ok(())
    }

    /// Waits `d` on purpose, as part of a scenario (a client that takes its time).
    pub fn pause(&self, d: Duration) {
        thread::sleep(d);
    }

    /// Receives until `done(bytes so far)` holds, the peer closes, or `timeout` passes.
    /// With `silence`, also ends once bytes came and then nothing for that long.
    pub fn recv_until(
        &mut self,
        timeout: Duration,
        silence: Option<Duration>,
        mut done: impl FnMut(&[u8]) -> bool,
    ) -> Received {
        let deadline = Instant::now() + timeout;
        let mut got = std::mem::take(&mut self.pending);
        let mut buf = [0u8; 16384];
        let end = loop {
            if !got.is_empty() && done(&got) {
                break End::Done;
            }
            if let Some(e) = self.eof {
                break e;
            }
            if got.len() > MAX_RECEIVE {
                break End::Overflow;
            }
            let now = Instant::now();
            if now >= deadline {
                break End::Deadline;
            }
            let mut wait = deadline - now;
            if let (Some(s), false) = (silence, got.is_empty()) {
                wait = wait.min(s);
            }
            let _ = self
                .stream
                .set_read_timeout(Some(wait.max(Duration::from_millis(1))));
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    self.log
                        .record(&self.label, Dir::Note, b"closed by the other side");
                    self.eof = Some(End::Closed);
                }
                Ok(n) => {
                    self.log.record(&self.label, Dir::Received, &buf[..n]);
                    got.extend_from_slice(&buf[..n]);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if silence.is_some() && !got.is_empty() && Instant::now() < deadline {
                        break End::Silence;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.log
                        .record(&self.label, Dir::Note, b"reset by the other side");
                    self.eof = Some(End::Reset);
                }
            }
        };
        Received { bytes: got, end }
    }

    /// Receives exactly `n` bytes (what comes beyond stays for the next receive).
    pub fn recv_exact(&mut self, n: usize, timeout: Duration) -> Received {
        let mut r = self.recv_until(timeout, None, |b| b.len() >= n);
        if r.bytes.len() > n {
            self.pending = r.bytes.split_off(n);
        }
        r
    }

    /// Receives until bytes came and then `silence` passed without more, or the close.
    pub fn recv_until_silence(&mut self, silence: Duration, timeout: Duration) -> Received {
        self.recv_until(timeout, Some(silence), |_| false)
    }

    /// Receives a reply that may lack a terminator: until `expected_len` bytes, or
    /// [`REPLY_SILENCE`] after the first bytes, or the close.
    pub fn recv_reply(&mut self, expected_len: usize, timeout: Duration) -> Received {
        self.recv_until(timeout, Some(REPLY_SILENCE), |b| b.len() >= expected_len)
    }

    /// Receives everything until the other side closes (or `timeout`).
    pub fn recv_until_closed(&mut self, timeout: Duration) -> Received {
        self.recv_until(timeout, None, |_| false)
    }

    /// Half-closes: sends FIN, still receives.
    pub fn shutdown_write(&mut self) {
        self.log
            .record(&self.label, Dir::Note, b"suite shut down its sending side");
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Closes the connection cleanly (FIN).
    pub fn close(self) {
        self.log
            .record(&self.label, Dir::Note, b"closed by the suite");
        drop(self);
    }

    /// Resets the connection on purpose (SO_LINGER 0, then close: the kernel sends RST).
    pub fn reset(self) {
        self.log
            .record(&self.label, Dir::Note, b"reset by the suite");
        let _ = rustix::net::sockopt::set_socket_linger(&self.stream, Some(Duration::ZERO));
        drop(self);
    }
}

/// A listening socket on 127.0.0.1 that plays the server for a client subject.
#[derive(Debug)]
pub struct FakeServer {
    listener: TcpListener,
    port: u16,
    log: Transcript,
    accepted: usize,
    gone: Arc<std::sync::atomic::AtomicBool>,
}

impl FakeServer {
    /// Listens on 127.0.0.1 on a port the kernel picks (never the subject's business).
    pub fn bind(log: &Transcript) -> Result<FakeServer, Stop> {
        FakeServer::bind_on(log, 0)
    }

    /// Listens on 127.0.0.1:`port` (0: a port the kernel picks). A fixed port serves checks
    /// that must see whether a client connects to a port it should have refused (e.g. one
    /// out of the assignment's range); a port in use is a harness error.
    pub fn bind_on(log: &Transcript, port: u16) -> Result<FakeServer, Stop> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .map_err(|e| harness_error(format!("fake server cannot listen on port {port}: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| harness_error(format!("fake server has no address: {e}")))?
            .port();
        listener
            .set_nonblocking(true)
            .map_err(|e| harness_error(format!("fake server: {e}")))?;
        Ok(FakeServer {
            listener,
            port,
            log: log.clone(),
            accepted: 0,
            gone: Arc::default(),
        })
    }

    /// A flag to set once the client subject has ended: from then on [`FakeServer::accept`]
    /// takes only connections already made and waits for no more (none can come).
    pub fn client_gone_flag(&self) -> Arc<std::sync::atomic::AtomicBool> {
        Arc::clone(&self.gone)
    }

    /// Whether the client subject has ended (set through [`FakeServer::client_gone_flag`]).
    pub fn client_gone(&self) -> bool {
        self.gone.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The port to give the client.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Accepts the next connection within `timeout`; `None` if nobody connected (at once
    /// when the client subject has ended and no connection is pending).
    pub fn accept(&mut self, timeout: Duration) -> Option<Peer> {
        let deadline = Instant::now() + timeout;
        loop {
            // Read before the accept: a connection made just before the end is still taken.
            let gone = self.client_gone();
            match self.listener.accept() {
                Ok((stream, _)) => {
                    let _ = stream.set_nonblocking(false);
                    self.accepted += 1;
                    let label = if self.accepted == 1 {
                        "connection".to_owned()
                    } else {
                        format!("connection {}", self.accepted)
                    };
                    self.log.record(&label, Dir::Note, b"accepted");
                    return Some(Peer::from_stream(stream, &label, &self.log));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
            if gone || Instant::now() >= deadline {
                return None;
            }
            thread::sleep(POLL.min(deadline.saturating_duration_since(Instant::now())));
        }
    }

    /// How many connections were accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted
    }

    /// True when a connection is waiting to be accepted (a connection attempt was made),
    /// checked without waiting.
    pub fn has_pending(&mut self) -> bool {
        match self.listener.accept() {
            Ok((stream, _)) => {
                self.accepted += 1;
                self.log
                    .record("connection", Dir::Note, b"accepted (unexpected)");
                drop(stream);
                true
            }
            Err(_) => false,
        }
    }
}
