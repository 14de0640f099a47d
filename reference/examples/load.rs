//! Load generator for the reference servers (a benchmark, not a test). Loopback only, bounded
//! in count and time.
//!
//! ```text
//! cargo run --release -p reference --example load -- [--secs S] [--conns N] [--threaded-conns N] [--no-hold]
//! ```
//!
//! Reports, for each tcpserver model, handshakes per second with 1, 16 and 256 concurrent
//! clients (bare greetings, as the suite's peer sends them, and `\n`-terminated ones, which
//! skip the server's quiet period); for the event-driven model the number of simultaneous idle
//! connections held and the server's memory per connection (VmRSS before and after, divided).
//! Then the same holding test for multiclient-server in both models, with how fast the
//! connect lines came.
//!
//! The servers run as child processes of this program (it re-executes itself with
//! `--serve <program> [args]`, which calls `reference::run`), so their memory is their own.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if args.first().is_some_and(|a| a == "--serve") {
        let program = args
            .get(1)
            .and_then(|p| p.to_str())
            .unwrap_or("")
            .to_owned();
        std::process::exit(reference::run(&program, args.get(2..).unwrap_or_default()));
    }
    let mut secs = 3.0f64;
    let mut conns = 10_000usize;
    let mut threaded_conns = 1_000usize;
    let mut hold_tests = true;
    let mut it = args.iter().filter_map(|a| a.to_str());
    while let Some(flag) = it.next() {
        if flag == "--no-hold" {
            hold_tests = false;
            continue;
        }
        let value = it.next().unwrap_or_default();
        match flag {
            "--secs" => secs = value.parse().expect("--secs: a number"),
            "--conns" => conns = value.parse().expect("--conns: a count"),
            "--threaded-conns" => {
                threaded_conns = value.parse().expect("--threaded-conns: a count")
            }
            other => panic!("unknown option {other}"),
        }
    }
    raise_nofile();
    let window = Duration::from_secs_f64(secs);

    // Holding tests first: the handshake runs leave tens of thousands of sockets in
    // TIME_WAIT, which slows later connects.
    if hold_tests {
        let mut srv = Spawned::start(
            "tcpserver",
            &["--model", "event-driven", "--timeout", "120"],
        );
        let _ = srv.reader(false);
        let held = hold("tcpserver event-driven", &srv, conns, None);
        let ok = one_handshake(srv.port, 41, b"");
        println!(
            "  a handshake while they are held: {}",
            if ok { "completed" } else { "FAILED" }
        );
        drop(held);
    }
    for (model, n) in [("threaded", threaded_conns), ("event-driven", conns)] {
        if !hold_tests {
            break;
        }
        let mut srv = Spawned::start("multiclient-server", &["--model", model]);
        let lines = srv.lines();
        drop(hold(
            &format!("multiclient-server {model}"),
            &srv,
            n,
            Some(lines),
        ));
    }

    println!();
    println!("tcpserver handshakes/s ({secs} s per measurement):");
    println!(
        "{:<14} {:>6} {:>14} {:>14}",
        "model", "conc", "bare", "newline"
    );
    for model in ["iterative", "threaded", "event-driven"] {
        let mut srv = Spawned::start("tcpserver", &["--model", model, "--timeout", "120"]);
        let _ = srv.reader(false);
        for conc in [1usize, 16, 256] {
            let bare = handshakes(srv.port, conc, window, b"");
            let nl = handshakes(srv.port, conc, window, b"\n");
            println!("{model:<14} {conc:>6} {bare:>14.0} {nl:>14.0}");
        }
    }
}

/// Raise this process's open-file limit to the hard limit (it holds as many sockets as the
/// server).
fn raise_nofile() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let l = getrlimit(Resource::Nofile);
    let _ = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: l.maximum,
            maximum: l.maximum,
        },
    );
}

struct Spawned {
    child: Child,
    port: u16,
}

impl Spawned {
    fn start(program: &str, extra: &[&str]) -> Spawned {
        let me = std::env::current_exe().expect("own path");
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("free port")
                .port();
            let mut child = Command::new(&me)
                .args(["--serve", program, &port.to_string()])
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn the server");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if listening(port) {
                    return Spawned { child, port };
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("{program} did not start");
    }

    /// The server's stdout lines, as they come (read on a thread).
    fn lines(&mut self) -> mpsc::Receiver<(Instant, String)> {
        self.reader(true).expect("stdout not taken yet")
    }

    /// Read the server's stdout on a thread: forwarded when `forward`, else discarded (an
    /// unread pipe would fill and block the server).
    fn reader(&mut self, forward: bool) -> Option<mpsc::Receiver<(Instant, String)>> {
        let pipe = self.child.stdout.take()?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { return };
                if forward && tx.send((Instant::now(), line)).is_err() {
                    return;
                }
            }
        });
        Some(rx)
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn listening(port: u16) -> bool {
    let needle = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|p| {
        std::fs::read_to_string(p).is_ok_and(|t| {
            t.lines().skip(1).any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.get(1).is_some_and(|a| a.ends_with(&needle)) && f.get(3) == Some(&"0A")
            })
        })
    })
}

/// Complete handshakes with `conc` clients in parallel for `window`; returns handshakes/s.
fn handshakes(port: u16, conc: usize, window: Duration, terminator: &'static [u8]) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let workers: Vec<_> = (0..conc)
        .map(|w| {
            let (done, failed, stop) = (done.clone(), failed.clone(), stop.clone());
            std::thread::Builder::new()
                .stack_size(128 * 1024)
                .spawn(move || {
                    let mut x = i64::try_from(w).unwrap_or(0) * 1_000_000;
                    while !stop.load(Ordering::Relaxed) {
                        x += 3;
                        if one_handshake(port, x, terminator) {
                            done.fetch_add(1, Ordering::Relaxed);
                        } else {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
                .expect("spawn a client thread")
        })
        .collect();
    std::thread::sleep(window);
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let f = failed.load(Ordering::Relaxed);
    if f > 0 {
        eprintln!("  ({f} handshakes failed at concurrency {conc})");
    }
    // Handshakes finished during the join are counted over the time they took.
    done.load(Ordering::Relaxed) as f64 / elapsed
}

fn one_handshake(port: u16, x: i64, terminator: &[u8]) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = s.set_nodelay(true);
    let mut greeting = format!("HELLO {x}").into_bytes();
    greeting.extend_from_slice(terminator);
    if s.write_all(&greeting).is_err() {
        return false;
    }
    let want = format!("HELLO {}", x + 1);
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while got.len() < want.len() {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    if got != want.as_bytes() {
        return false;
    }
    let mut z = format!("HELLO {}", x + 2).into_bytes();
    z.extend_from_slice(terminator);
    s.write_all(&z).is_ok()
}

/// Open up to `n` idle connections and keep them; report how many the server held and its
/// memory per connection. With `lines`, also how fast the connect lines came.
fn hold(
    name: &str,
    srv: &Spawned,
    n: usize,
    lines: Option<mpsc::Receiver<(Instant, String)>>,
) -> Vec<TcpStream> {
    // Let the server settle (it may still be freeing the previous measurement's sockets).
    let base_fds = srv.open_fds();
    let before = srv.rss_kib();
    let start = Instant::now();
    let mut held = Vec::with_capacity(n);
    let mut error = None;
    for i in 0..n {
        // Spread over 127.0.0.1..=127.0.0.250 (the server binds 0.0.0.0): with many sockets
        // of earlier runs in TIME_WAIT towards 127.0.0.1, the kernel's search for a free
        // ephemeral port makes connects slow; other destinations have fresh 4-tuples.
        let host = std::net::Ipv4Addr::new(127, 0, 0, u8::try_from(1 + i % 250).unwrap_or(1));
        match TcpStream::connect((host, srv.port)) {
            Ok(s) => held.push(s),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    let opened = start.elapsed();
    // Wait (bounded) until the server has accepted them all.
    let deadline = Instant::now() + Duration::from_secs(30);
    while srv.open_fds() < base_fds + held.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let accepted = srv.open_fds().saturating_sub(base_fds);
    let after = srv.rss_kib();
    let per_conn = (after.saturating_sub(before) as f64 * 1024.0) / accepted.max(1) as f64;
    println!(
        "{name}: {} connections opened in {:.2} s, {accepted} held by the server; \
         VmRSS {before} KiB -> {after} KiB = {:.0} bytes per connection",
        held.len(),
        opened.as_secs_f64(),
        per_conn
    );
    if let Some(e) = error {
        println!("  (connecting stopped at {}: {e})", held.len());
    }
    if let Some(rx) = lines {
        let want = held.len();
        let mut seen = 0usize;
        let mut last = start;
        let deadline = Instant::now() + Duration::from_secs(30);
        while seen < want {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok((at, line)) if line.contains(" connected. ") => {
                    seen += 1;
                    last = at;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let lag = last.saturating_duration_since(start + opened);
        println!(
            "  {seen} connect lines; the last came {:.0} ms after the last connect returned",
            lag.as_secs_f64() * 1000.0
        );
    }
    held
}
