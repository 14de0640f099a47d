//! Port allocation: every check gets its own port, never reused within a run. Ports come
//! from below the kernel's ephemeral range (so a client's source port never takes one).
//! Several runs at once (the self-test starts dozens of `conformance run`) must not hand
//! out the same port between a probe and the subject's bind: each port is reserved with an
//! flock on `$TMPDIR/conformance-ports/<port>`, held until this process ends. Fixed
//! ports (`--port N`, 1024, 64000) are locked the same way, per check ([`ready_fixed`]),
//! where a check has no network namespace of its own. Ports are probed: a bind without SO_REUSEADDR succeeds on 0.0.0.0 and 127.0.0.1 (so no socket
//! of any state, TIME_WAIT included, holds it).

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rustix::net::{AddressFamily, SocketType, bind, socket};

/// A fixed port another program holds (conformance turns it into `HarnessError::PortBusy`:
/// the machine's problem, never the student's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("port {port} is held by another program{}", holder.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
pub struct PortBusy {
    /// The port.
    pub port: u16,
    /// `pid N: program` when it could be found, or why the port is still taken.
    pub holder: Option<String>,
}

/// First port handed out.
pub const FIRST: u16 = 20000;
/// One past the last (32768 starts Linux's default ephemeral range).
pub const END: u16 = 32000;

static CURSOR: AtomicU32 = AtomicU32::new(u32::MAX);

fn start() -> u32 {
    // Spread concurrent runs (other terminals, other test binaries) over the range.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (std::process::id().wrapping_mul(7919) ^ nanos) % u32::from(END - FIRST)
}

/// Reservation files held open (and locked) for the life of the process.
static HELD: Mutex<Vec<File>> = Mutex::new(Vec::new());

fn lock_dir() -> PathBuf {
    std::env::temp_dir().join("conformance-ports")
}

/// Opens (creating it) the lock file `name` in [`lock_dir`]; None where it cannot be made.
fn lock_file(name: &str) -> Option<File> {
    let dir = lock_dir();
    let _ = std::fs::create_dir_all(&dir);
    File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(name))
        .ok()
}

/// Takes an exclusive flock on `file`, trying every `pause` until `deadline`: false then.
fn flock_by(file: &File, deadline: std::time::Instant, pause: std::time::Duration) -> bool {
    use rustix::fs::{FlockOperation, flock};
    loop {
        if flock(file, FlockOperation::NonBlockingLockExclusive).is_ok() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(pause);
    }
}

/// Takes the cross-process reservation of `port`: false if another live process holds it.
/// Where the lock files cannot be made (read-only /tmp), the bind probe alone decides.
fn reserve(port: u16) -> bool {
    let Some(file) = lock_file(&port.to_string()) else {
        return true;
    };
    if !flock_by(&file, std::time::Instant::now(), crate::POLL) {
        return false;
    }
    HELD.lock().unwrap_or_else(|e| e.into_inner()).push(file);
    true
}

/// A free port, or None when the whole range is taken.
pub fn allocate() -> Option<u16> {
    let span = u32::from(END - FIRST);
    let _ = CURSOR.compare_exchange(u32::MAX, start(), Ordering::SeqCst, Ordering::SeqCst);
    for _ in 0..span {
        let n = CURSOR.fetch_add(1, Ordering::SeqCst) % span;
        let port = FIRST + u16::try_from(n).ok()?;
        if is_free(port) && reserve(port) && is_free(port) {
            ALLOCATED
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(port);
            return Some(port);
        }
    }
    None
}

/// Whether `port` binds without SO_REUSEADDR on 0.0.0.0 and 127.0.0.1: that fails while
/// any socket, TIME_WAIT included, holds the port, so no /proc scan is needed.
pub fn is_free(port: u16) -> bool {
    binds(Ipv4Addr::UNSPECIFIED, port) && binds(Ipv4Addr::LOCALHOST, port)
}

fn binds(ip: Ipv4Addr, port: u16) -> bool {
    // std's TcpListener sets SO_REUSEADDR, which would hide a TIME_WAIT: use a raw socket.
    let Ok(fd) = socket(AddressFamily::INET, SocketType::STREAM, None) else {
        return false;
    };
    bind(&fd, &SocketAddrV4::new(ip, port)).is_ok()
}

/// Whether `port` was handed out by [`allocate`] in this process (then it is reserved).
pub fn is_allocated(port: u16) -> bool {
    ALLOCATED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains(&port)
}

static ALLOCATED: Mutex<Vec<u16>> = Mutex::new(Vec::new());

/// How long a fixed port is waited for: another run's check (the lock), or the sockets of
/// an earlier run (TIME_WAIT lasts 60 s on Linux).
pub const FIXED_PORT_WAIT: std::time::Duration = std::time::Duration::from_secs(75);

/// The cross-process lock of a fixed port, released on drop.
#[derive(Debug)]
pub struct PortLock {
    port: u16,
    _file: Option<File>,
}

impl PortLock {
    /// The locked port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

/// Locks fixed `port` across processes (waiting for another run's check to release it),
/// then waits until no socket holds it, TIME_WAIT included. A LISTEN socket of a program
/// that is not waiting its turn is [`PortBusy`] naming it, at once; sockets
/// still there at [`FIXED_PORT_WAIT`] are too.
pub fn ready_fixed(port: u16) -> Result<PortLock, PortBusy> {
    let deadline = std::time::Instant::now() + FIXED_PORT_WAIT;
    let file = lock_file(&format!("fixed-{port}"));
    if let Some(f) = &file
        && !flock_by(f, deadline, crate::POLL * 5)
    {
        return Err(PortBusy {
            port,
            holder: Some("another run of the suite holds its lock".to_owned()),
        });
    }
    let lock = PortLock { port, _file: file };
    loop {
        if is_free(port) {
            return Ok(lock);
        }
        let listening = super::procfs::anyone_listens_on(port);
        if listening || std::time::Instant::now() >= deadline {
            return Err(PortBusy {
                port,
                holder: super::procfs::port_holder(port).or_else(|| {
                    (!listening)
                        .then(|| format!("sockets in TIME_WAIT for more than {FIXED_PORT_WAIT:?}"))
                }),
            });
        }
        std::thread::sleep(crate::POLL * 10);
    }
}

/// A fixed port held against every other process of the suite on this machine, by the
/// messages suite's own port checks (a lock file apart from [`ready_fixed`]'s, so a check
/// holding both never waits for itself); released when dropped.
#[derive(Debug)]
pub struct FixedPort {
    _lock: File,
}

/// Waits, up to `within`, until no other run of the suite on this machine holds `port`, and
/// holds it (the same flock files as [`allocate`]; an flock also excludes other threads of
/// this process, each opening the file anew). None after `within`, or where the lock files
/// cannot be made: the caller then goes on and finds the port busy by itself. Several
/// `conformance run` at once (the self-test runs trials side by side) would otherwise take
/// each other's fixed ports between the look and the bind.
pub fn hold_fixed(port: u16, within: std::time::Duration) -> Option<FixedPort> {
    let file = lock_file(&port.to_string())?;
    flock_by(&file, std::time::Instant::now() + within, crate::POLL)
        .then_some(FixedPort { _lock: file })
}
