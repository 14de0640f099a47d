//! Helpers for the integration tests: run a reference program as a process (through the
//! `refprog` driver), watch its output lines with deadlines, and talk to it over raw sockets.
//! Nothing here sleeps blindly: every wait is for an event, with a deadline.
#![allow(dead_code)] // each test file uses a different part

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Generous deadline for anything that should happen "at once" on a busy machine.
pub const SOON: Duration = Duration::from_secs(10);

pub const BIN: &str = env!("CARGO_BIN_EXE_refprog");

/// An assert_cmd command for one program.
pub fn program(name: &str) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(BIN);
    cmd.arg(name).timeout(Duration::from_secs(30));
    cmd
}

/// A port of this test's own: below the ephemeral range and reserved across processes by
/// the conformance driver (so parallel tests and suite runs never take it between the pick
/// and the bind).
pub fn free_port() -> u16 {
    conformance_driver::ports::allocate().expect("a free port in the driver's range")
}

/// Whether a socket listens on `port` (the driver's /proc/net reading, so no connection is
/// made: a connection would count as a client).
pub fn listening(port: u16) -> bool {
    conformance_driver::procfs::anyone_listens_on(port)
}

/// Lines read from a child's pipe, kept and also sent to whoever waits for them.
struct Lines {
    all: Arc<Mutex<Vec<String>>>,
    rx: Receiver<String>,
}

impl Lines {
    fn spawn(pipe: impl Read + Send + 'static) -> Lines {
        let all = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = channel();
        let keep = Arc::clone(&all);
        std::thread::spawn(move || {
            let mut reader = BufReader::new(pipe);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf).trim_end().to_owned();
                        keep.lock().unwrap().push(line.clone());
                        let _ = tx.send(line);
                    }
                }
            }
        });
        Lines { all, rx }
    }
}

/// A server process, killed when dropped.
pub struct Server {
    pub port: u16,
    child: Child,
    stdout: Lines,
    stderr: Lines,
}

impl Server {
    /// Start `program` with the arguments `args(port)` on a free port, retrying on another port
    /// if it could not listen, and wait until it listens.
    pub fn start(program: &str, args: impl Fn(u16) -> Vec<String>) -> Server {
        for _ in 0..5 {
            let port = free_port();
            let server = Server::spawn(program, &args(port), port);
            if let Some(server) = server.until_listening() {
                return server;
            }
        }
        panic!("{program} did not start listening");
    }

    /// Start on a given port without waiting.
    pub fn spawn(program: &str, args: &[String], port: u16) -> Server {
        let mut child = Command::new(BIN)
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn refprog");
        let stdout = Lines::spawn(child.stdout.take().expect("stdout"));
        let stderr = Lines::spawn(child.stderr.take().expect("stderr"));
        Server {
            port,
            child,
            stdout,
            stderr,
        }
    }

    /// Wait until the server listens; `None` if it exited first.
    pub fn until_listening(mut self) -> Option<Server> {
        let deadline = Instant::now() + SOON;
        while Instant::now() < deadline {
            if listening(self.port) {
                return Some(self);
            }
            if let Ok(Some(_)) = self.child.try_wait() {
                return None;
            }
            std::thread::sleep(conformance_driver::POLL);
        }
        None
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Connect to the server.
    pub fn connect(&self) -> TcpStream {
        connect(self.port)
    }

    /// Wait for the next stdout line satisfying `pred` (lines before it are skipped).
    pub fn wait_line(&self, pred: impl Fn(&str) -> bool) -> String {
        self.try_wait_line(pred, SOON).unwrap_or_else(|| {
            panic!(
                "no expected line within {SOON:?}; stdout so far: {:?}; stderr: {:?}",
                self.stdout(),
                self.stderr()
            )
        })
    }

    /// The next stdout line equal to `want`.
    pub fn expect_line(&self, want: &str) {
        self.wait_line(|l| l == want);
    }

    pub fn try_wait_line(&self, pred: impl Fn(&str) -> bool, within: Duration) -> Option<String> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.rx.recv_timeout(left) {
                Ok(line) if pred(&line) => return Some(line),
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Wait until the whole stdout so far satisfies `pred` (order-free checks).
    pub fn wait_output(&self, pred: impl Fn(&[String]) -> bool) {
        let deadline = Instant::now() + SOON;
        loop {
            if pred(&self.stdout()) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if self.stdout.rx.recv_timeout(left).is_err() && !pred(&self.stdout()) {
                panic!(
                    "stdout never matched; stdout: {:?}; stderr: {:?}",
                    self.stdout(),
                    self.stderr()
                );
            }
        }
    }

    pub fn stdout(&self) -> Vec<String> {
        self.stdout.all.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> Vec<String> {
        self.stderr.all.lock().unwrap().clone()
    }

    /// Wait for a stderr line containing `needle`.
    pub fn wait_stderr(&self, needle: &str) {
        let deadline = Instant::now() + SOON;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.rx.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return,
                Ok(_) => {}
                Err(_) => panic!(
                    "no stderr line with {needle:?}; stderr: {:?}",
                    self.stderr()
                ),
            }
        }
    }

    /// Threads of the server process.
    pub fn threads(&self) -> usize {
        i32::try_from(self.pid())
            .ok()
            .and_then(conformance_driver::procfs::thread_count)
            .unwrap_or(0)
    }

    /// Kill the process (SIGKILL) and reap it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Connect to 127.0.0.1:port with read and write timeouts of [`SOON`].
pub fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the server");
    stream.set_read_timeout(Some(SOON)).unwrap();
    stream.set_write_timeout(Some(SOON)).unwrap();
    stream
}

/// Close with a reset (SO_LINGER 0) instead of a FIN.
pub fn reset(stream: TcpStream) {
    rustix::net::sockopt::set_socket_linger(&stream, Some(Duration::ZERO)).unwrap();
    drop(stream);
}

/// Read until the peer closes (or [`SOON`] passes, which fails the test).
pub fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    let deadline = Instant::now() + SOON;
    let mut buf = [0u8; 65536];
    loop {
        assert!(
            Instant::now() < deadline,
            "the peer did not close; got {all:?}"
        );
        match stream.read(&mut buf) {
            Ok(0) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return all,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("the peer did not close within {SOON:?}; got {all:?}")
            }
            Err(e) => panic!("read failed: {e}"),
        }
    }
}

/// Read exactly `n` bytes (within the stream's timeout).
pub fn read_n(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    stream
        .read_exact(&mut buf)
        .expect("read the expected bytes");
    buf
}

/// Read what one exchange returns: bytes until `done(bytes)` says they are complete.
pub fn read_until(stream: &mut TcpStream, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    while !done(&all) {
        match stream.read(&mut buf) {
            Ok(0) => panic!("closed early; got {all:?}"),
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) => panic!("read failed after {all:?}: {e}"),
        }
    }
    all
}

pub fn send(stream: &mut TcpStream, bytes: &[u8]) {
    stream.write_all(bytes).expect("send");
}

pub fn half_close(stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
}

/// A fake server for client tests: a listener on a free port.
pub struct FakeServer {
    pub listener: TcpListener,
    pub port: u16,
}

impl FakeServer {
    pub fn new() -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        FakeServer { listener, port }
    }

    /// Accept one connection within [`SOON`].
    pub fn accept(&self) -> TcpStream {
        self.try_accept(SOON).expect("the client did not connect")
    }

    pub fn try_accept(&self, within: Duration) -> Option<TcpStream> {
        self.listener.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + within;
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false).unwrap();
                    stream.set_read_timeout(Some(SOON)).unwrap();
                    stream.set_write_timeout(Some(SOON)).unwrap();
                    return Some(stream);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return None;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("accept failed: {e}"),
            }
        }
    }
}
