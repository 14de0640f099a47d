//! A TCP relay between a client subject and a server subject: it accepts the client's
//! connection, connects to the server, and copies bytes both ways, recording what passes
//! (capped) so that a cell of the interop matrix is judged on the wire as well as on the two
//! programs' output. Closes and resets are passed on, so each side sees what the other did.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::driver::describe_bytes;

/// Bytes kept per direction of one connection; more are counted, not kept.
pub const MAX_KEPT: usize = 1 << 20;
/// Connections relayed per relay (each has two threads); later ones are closed at once.
pub const MAX_CONNS: usize = 64;
/// How often the copy and accept loops look at the stop flag.
const TICK: Duration = Duration::from_millis(20);

/// Which way bytes went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// From the client to the server.
    Up,
    /// From the server to the client.
    Down,
}

impl Way {
    /// `client → server` or `server → client`.
    pub fn arrow(self) -> &'static str {
        match self {
            Way::Up => "client → server",
            Way::Down => "server → client",
        }
    }
}

/// One thing the relay saw on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireEvent {
    /// Bytes, in the order they were read.
    Data {
        at: Duration,
        way: Way,
        bytes: Vec<u8>,
    },
    /// The sending side of `way` closed (FIN).
    Closed { at: Duration, way: Way },
    /// The sending side of `way` reset the connection.
    Reset { at: Duration, way: Way },
}

/// One relayed connection.
#[derive(Debug, Clone, Default)]
pub struct Conn {
    /// What passed, in order.
    pub events: Vec<WireEvent>,
    /// Bytes that passed but were not kept ([`MAX_KEPT`]).
    pub dropped: [usize; 2],
    /// The relay could not reach the server for this client.
    pub refused: Option<String>,
    /// Both directions have ended.
    pub done: bool,
}

impl Conn {
    /// Every byte kept that went `way`, joined.
    pub fn bytes(&self, way: Way) -> Vec<u8> {
        self.events
            .iter()
            .filter_map(|e| match e {
                WireEvent::Data { way: w, bytes, .. } if *w == way => Some(bytes.as_slice()),
                _ => None,
            })
            .flatten()
            .copied()
            .collect()
    }

    /// The bytes that went `way` before the first byte of the other direction, and after.
    pub fn split_at_first_reply(&self, way: Way) -> (Vec<u8>, Vec<u8>) {
        let (mut before, mut after) = (Vec::new(), Vec::new());
        let mut answered = false;
        for e in &self.events {
            if let WireEvent::Data { way: w, bytes, .. } = e {
                if *w != way {
                    answered = true;
                } else if answered {
                    after.extend_from_slice(bytes);
                } else {
                    before.extend_from_slice(bytes);
                }
            }
        }
        (before, after)
    }

    /// Whether the side sending `way` reset the connection.
    pub fn reset_by(&self, way: Way) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, WireEvent::Reset { way: w, .. } if *w == way))
    }

    /// The connection as readable lines, one per event.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(r) = &self.refused {
            out.push(format!("relay could not reach the server: {r}"));
        }
        for e in &self.events {
            out.push(match e {
                WireEvent::Data { at, way, bytes } => format!(
                    "+{:.3}s {} {} ({} B)",
                    at.as_secs_f64(),
                    way.arrow(),
                    describe_bytes(bytes),
                    bytes.len()
                ),
                WireEvent::Closed { at, way } => {
                    format!("+{:.3}s {} closed", at.as_secs_f64(), side_of(*way))
                }
                WireEvent::Reset { at, way } => {
                    format!(
                        "+{:.3}s {} reset the connection",
                        at.as_secs_f64(),
                        side_of(*way)
                    )
                }
            });
        }
        for (way, n) in [Way::Up, Way::Down].into_iter().zip(self.dropped) {
            if n > 0 {
                out.push(format!("({n} more bytes {} not kept)", way.arrow()));
            }
        }
        out
    }
}

fn side_of(way: Way) -> &'static str {
    match way {
        Way::Up => "client",
        Way::Down => "server",
    }
}

type Shared = Arc<Mutex<Vec<Arc<Mutex<Conn>>>>>;

#[derive(Debug)]
struct Inner {
    listener: Mutex<TcpListener>,
    server_port: u16,
    stop: AtomicBool,
    conns: Shared,
    workers: Mutex<Vec<JoinHandle<()>>>,
    start: Instant,
}

impl Inner {
    /// Accepts every connection waiting in the backlog now (the lock makes the background
    /// loop and [`Relay::sync`] take each one exactly once, in order).
    fn accept_pending(self: &Arc<Self>) {
        let listener = self.listener.lock().unwrap_or_else(|e| e.into_inner());
        while let Ok((client, _)) = listener.accept() {
            let conn = Arc::new(Mutex::new(Conn::default()));
            {
                let mut all = self.conns.lock().unwrap_or_else(|e| e.into_inner());
                // No exchange needs more: a client connecting in a loop must not cost a
                // thread per connection. Later ones are closed unrelayed.
                if all.len() >= MAX_CONNS {
                    continue;
                }
                all.push(Arc::clone(&conn));
            }
            let me = Arc::clone(self);
            let w =
                thread::spawn(move || relay_one(client, me.server_port, &conn, &me.stop, me.start));
            self.workers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(w);
        }
    }
}

/// A running relay to 127.0.0.1:`server_port`; stopped (threads joined) on drop.
#[derive(Debug)]
pub struct Relay {
    port: u16,
    inner: Arc<Inner>,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    /// Listens on a fresh loopback port and relays every connection to `server_port`.
    pub fn start(server_port: u16) -> std::io::Result<Relay> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let inner = Arc::new(Inner {
            listener: Mutex::new(listener),
            server_port,
            stop: AtomicBool::new(false),
            conns: Arc::default(),
            workers: Mutex::default(),
            start: Instant::now(),
        });
        let me = Arc::clone(&inner);
        let thread = thread::spawn(move || {
            while !me.stop.load(Ordering::Relaxed) {
                me.accept_pending();
                thread::sleep(TICK);
            }
        });
        Ok(Relay {
            port,
            inner,
            thread: Some(thread),
        })
    }

    /// The port clients are given.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Takes every connection already made to the relay: a client that has exited made
    /// its connection (if any) before it exited, so after this it is counted.
    pub fn sync(&self) {
        self.inner.accept_pending();
    }

    /// How many connections were accepted so far.
    pub fn count(&self) -> usize {
        self.inner
            .conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// A copy of connection `i` (0-based, in accept order).
    pub fn conn(&self, i: usize) -> Option<Conn> {
        let all = self.inner.conns.lock().unwrap_or_else(|e| e.into_inner());
        all.get(i)
            .map(|c| c.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }

    /// Waits up to `timeout` until connection `i` has ended both ways; its state then.
    pub fn wait_done(&self, i: usize, timeout: Duration) -> Option<Conn> {
        crate::driver::wait_until(timeout, || self.conn(i).is_some_and(|c| c.done));
        self.conn(i)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let workers =
            std::mem::take(&mut *self.inner.workers.lock().unwrap_or_else(|e| e.into_inner()));
        for w in workers {
            let _ = w.join();
        }
    }
}

fn relay_one(
    client: TcpStream,
    server_port: u16,
    conn: &Arc<Mutex<Conn>>,
    stop: &AtomicBool,
    start: Instant,
) {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, server_port));
    let server = match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Ok(s) => s,
        Err(e) => {
            let mut c = conn.lock().unwrap_or_else(|e| e.into_inner());
            c.refused = Some(e.to_string());
            c.done = true;
            // The client sees what it would see without us: a refusal looks like a reset.
            let _ = rustix::net::sockopt::set_socket_linger(&client, Some(Duration::ZERO));
            return;
        }
    };
    for s in [&client, &server] {
        let _ = s.set_nonblocking(false);
        let _ = s.set_nodelay(true);
        let _ = s.set_read_timeout(Some(TICK));
        let _ = s.set_write_timeout(Some(crate::timing::SEND));
    }
    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
        conn.lock().unwrap_or_else(|e| e.into_inner()).done = true;
        return;
    };
    thread::scope(|sc| {
        sc.spawn(|| copy(client, s2, Way::Up, conn, stop, start));
        sc.spawn(|| copy(server, c2, Way::Down, conn, stop, start));
    });
    conn.lock().unwrap_or_else(|e| e.into_inner()).done = true;
}

fn copy(
    mut from: TcpStream,
    mut to: TcpStream,
    way: Way,
    conn: &Arc<Mutex<Conn>>,
    stop: &AtomicBool,
    start: Instant,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let idx = usize::from(way == Way::Down);
    loop {
        if stop.load(Ordering::Relaxed) {
            let _ = to.shutdown(Shutdown::Both);
            return;
        }
        match from.read(&mut buf) {
            Ok(0) => {
                record(
                    conn,
                    WireEvent::Closed {
                        at: start.elapsed(),
                        way,
                    },
                );
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => {
                {
                    let mut c = conn.lock().unwrap_or_else(|e| e.into_inner());
                    let kept: usize = c.bytes_kept(way);
                    let room = MAX_KEPT.saturating_sub(kept).min(n);
                    if room > 0 {
                        c.events.push(WireEvent::Data {
                            at: start.elapsed(),
                            way,
                            bytes: buf[..room].to_vec(),
                        });
                    }
                    c.dropped[idx] += n - room;
                }
                if to.write_all(&buf[..n]).is_err() {
                    // The receiver is gone: the sender learns it as a reset would tell it.
                    let _ = rustix::net::sockopt::set_socket_linger(&from, Some(Duration::ZERO));
                    let _ = from.shutdown(Shutdown::Both);
                    return;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => {
                record(
                    conn,
                    WireEvent::Reset {
                        at: start.elapsed(),
                        way,
                    },
                );
                let _ = rustix::net::sockopt::set_socket_linger(&to, Some(Duration::ZERO));
                let _ = to.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

fn record(conn: &Arc<Mutex<Conn>>, e: WireEvent) {
    conn.lock()
        .unwrap_or_else(|e| e.into_inner())
        .events
        .push(e);
}

impl Conn {
    fn bytes_kept(&self, way: Way) -> usize {
        self.events
            .iter()
            .map(|e| match e {
                WireEvent::Data { way: w, bytes, .. } if *w == way => bytes.len(),
                _ => 0,
            })
            .sum()
    }
}
