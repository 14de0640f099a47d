//! SIGINT and SIGTERM: every subject ends at once (its group killed, and with it its PID
//! namespace), the caller prints the partial report of the checks that finished, and the
//! suite exits 130 or 143. The handler only writes the signal's number to a pipe; a
//! watcher thread does the rest outside signal context. A second signal exits at once.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Mutex, OnceLock};

use super::runner::CheckReport;

static PIPE_WR: AtomicI32 = AtomicI32::new(-1);
static FIRED: AtomicBool = AtomicBool::new(false);
static INSTALLED: OnceLock<()> = OnceLock::new();
static FINISHED: Mutex<Vec<CheckReport>> = Mutex::new(Vec::new());
/// Process groups of the subjects alive now (each a contained subject's relay: killing it
/// ends the subject's namespace).
static LIVE: Mutex<Vec<i32>> = Mutex::new(Vec::new());
/// Held (shared) by every start from its fork to its registration, and (exclusively) by the
/// signal's end: no subject is half-started, hence missed, when every subject is killed.
static STARTING: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Held while a subject starts and until its group is registered.
pub(super) fn starting() -> std::sync::RwLockReadGuard<'static, ()> {
    STARTING.read().unwrap_or_else(|e| e.into_inner())
}

extern "C" fn on_signal(sig: libc::c_int) {
    if FIRED.swap(true, Ordering::SeqCst) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(128 + sig) };
    }
    let fd = PIPE_WR.load(Ordering::SeqCst);
    let b = u8::try_from(sig).unwrap_or(0);
    // SAFETY: write is async-signal-safe; `b` lives on this stack.
    unsafe { libc::write(fd, (&raw const b).cast(), 1) };
}

/// Installs the handlers (once per process). `report(signal, finished)` prints the partial
/// report; then the process exits with 128 + signal.
pub fn install(report: impl Fn(i32, &[CheckReport]) + Send + 'static) {
    if INSTALLED.set(()).is_err() {
        return;
    }
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 fills the two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return;
    }
    PIPE_WR.store(fds[1], Ordering::SeqCst);
    let rd = fds[0];
    let watcher = std::thread::Builder::new()
        .name("signals".to_owned())
        .spawn(move || {
            let mut b = 0u8;
            loop {
                // SAFETY: read into a live byte.
                let n = unsafe { libc::read(rd, (&raw mut b).cast(), 1) };
                if n == 1 {
                    break;
                }
                if n < 0
                    && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
                {
                    continue;
                }
                return;
            }
            let sig = i32::from(b);
            // Kept until the exit: no new subject starts after this.
            let _no_more = STARTING.write().unwrap_or_else(|e| e.into_inner());
            kill_all();
            let done = FINISHED.lock().unwrap_or_else(|e| e.into_inner()).clone();
            report(sig, &done);
            std::process::exit(128 + sig);
        });
    if watcher.is_err() {
        return;
    }
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction with our handler (it only writes to a pipe).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Whether SIGINT or SIGTERM arrived (the run is ending).
pub fn interrupted() -> bool {
    FIRED.load(Ordering::SeqCst)
}

/// Keeps a finished check for the partial report (only once [`install`] ran).
pub fn record(report: &CheckReport) {
    if INSTALLED.get().is_some() {
        FINISHED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(report.clone());
    }
}

/// Notes a live subject's process group (killed on a signal).
pub(super) fn register(pgid: i32) {
    LIVE.lock().unwrap_or_else(|e| e.into_inner()).push(pgid);
}

/// Forgets a subject's process group once it was killed and reaped.
pub(super) fn unregister(pgid: i32) {
    LIVE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|&g| g != pgid);
}

/// SIGKILL to every live subject's group: each contained subject's namespace ends with it.
pub fn kill_all() {
    let groups = LIVE.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for g in groups {
        if g > 1 {
            // SAFETY: kill with a negative pid: the subject's own process group.
            unsafe { libc::kill(-g, libc::SIGKILL) };
        }
    }
}
