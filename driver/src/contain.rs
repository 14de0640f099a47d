//! Containment: every subject runs in its own PID namespace (and, where the machine allows,
//! its own cgroup), so that nothing it starts outlives it, its check, or the suite, however
//! it detached (setsid, an empty environment, a double fork).
//!
//! The driver forks the subject as usual; the child (P, in the suite's namespace, the
//! process std's `Child` and the process group stand for) unshares a PID namespace and forks
//! a tiny init (A, PID 1 there), which forks the subject proper (B) and reaps orphans. When B
//! exits, A exits with B's status, and the kernel kills everything else in the namespace;
//! P relays that status to the suite. Killing P's group kills A, and with it the namespace.
//! Everything P and A do runs between fork and exec of a multithreaded program: raw system
//! calls only, no allocation, no lock (every path and string is prepared before the fork).
//!
//! Where PID namespaces are refused (not root), an unprivileged user namespace carries one;
//! where that is refused too, the subject runs in its own process group, as before, and the
//! survivor scan also follows parentage (the suite is a child subreaper) rather than only
//! the environment marker.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use super::procfs;

/// How subjects are contained on this machine (probed once per process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Own PID namespace, created directly (root).
    PidNamespace,
    /// Own PID namespace inside an unprivileged user namespace.
    UserNamespace,
    /// Own process group only (no namespaces allowed here).
    ProcessGroup,
}

impl Kind {
    /// For the report's note.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::PidNamespace => "its own PID namespace",
            Kind::UserNamespace => "its own user and PID namespace (unprivileged)",
            Kind::ProcessGroup => {
                "its own process group only (namespaces are not allowed here: a process that \
                 leaves the group is found by parentage and the environment marker)"
            }
        }
    }
}

/// Set to force a weaker containment (`group`, `userns`), for tests of the fallbacks.
pub const FORCE_VAR: &str = "CONFORMANCE_CONTAINMENT";

/// The containment subjects get here.
pub fn kind() -> Kind {
    static KIND: OnceLock<Kind> = OnceLock::new();
    *KIND.get_or_init(|| {
        let forced = std::env::var(FORCE_VAR).unwrap_or_default();
        let k = if forced == "group" {
            Kind::ProcessGroup
        } else if forced != "userns" && probe(libc::CLONE_NEWPID) {
            Kind::PidNamespace
        } else if probe(libc::CLONE_NEWUSER | libc::CLONE_NEWPID) {
            Kind::UserNamespace
        } else {
            Kind::ProcessGroup
        };
        if k == Kind::ProcessGroup {
            // Orphans of subjects come to the suite instead of init, so the survivor scan
            // finds them by parentage whatever their environment.
            // SAFETY: prctl with integer arguments.
            unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        }
        k
    })
}

/// Whether a forked child may `unshare(flags)`: the child exits in pre_exec, never execs.
fn probe(flags: libc::c_int) -> bool {
    let Ok(exe) = std::env::current_exe() else {
        return false;
    };
    let mut cmd = Command::new(exe);
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: between fork and exec: unshare and _exit are system calls.
    unsafe {
        cmd.pre_exec(move || {
            if libc::unshare(flags) != 0 {
                return Err(io::Error::last_os_error());
            }
            libc::_exit(0)
        });
    }
    cmd.spawn()
        .and_then(|mut c| c.wait())
        .is_ok_and(|s| s.success())
}

/// Whether each check may get its own network namespace (root only: an unprivileged user
/// namespace is per process, and the suite's threads must join the check's loopback).
pub fn netns_available() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        std::env::var(FORCE_VAR).unwrap_or_default().is_empty()
            && kind() == Kind::PidNamespace
            && std::thread::spawn(|| {
                // SAFETY: unshare of this (short-lived) thread's network namespace only.
                unsafe { libc::unshare(libc::CLONE_NEWNET) == 0 }
            })
            .join()
            .unwrap_or(false)
    })
}

/// Gives the calling thread a fresh network namespace with `lo` up: the check's subject and
/// its peers (threads spawned from here on) then share a loopback no other check sees.
/// False where that is not possible (the thread keeps the machine's network).
///
/// The namespace is made from [`small_hash_parent`] where that exists, so it gets a TCP
/// hash table of its own, sized for one check.
pub fn enter_fresh_netns() -> bool {
    if !netns_available() {
        return false;
    }
    if let Some(parent) = small_hash_parent() {
        // SAFETY: setns of the calling thread's network namespace to one the process holds
        // open; should it fail, the thread makes its namespace from its current one.
        unsafe { libc::setns(parent.as_raw_fd(), libc::CLONE_NEWNET) };
    }
    // SAFETY: unshare affects the calling thread only (network namespaces are per thread).
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return false;
    }
    lo_up()
}

/// Buckets of each check's own TCP hash table of connections.
///
/// By default every network namespace shares the machine's table (262,144 buckets here),
/// and every read of /proc/net/tcp walks all of it, whatever the namespace: in a self-test
/// run that walk was about a tenth of all CPU. 8,192 buckets make it 32 times shorter and
/// still allow 4,096 connections in TIME_WAIT (the kernel allows half the buckets) and the
/// kernel's minimum SYN backlog of 128.
pub const CHECK_EHASH_BUCKETS: u32 = 8192;

/// A network namespace the suite holds open for the life of the process, whose
/// `net.ipv4.tcp_child_ehash_entries` is [`CHECK_EHASH_BUCKETS`]: a namespace made from it
/// gets a TCP hash table of that size (Linux 6.1 and later). The machine's own setting is
/// never touched. None where this cannot be done; checks' namespaces then share the
/// machine's table, as they did before.
pub fn small_hash_parent() -> Option<&'static std::os::fd::OwnedFd> {
    static PARENT: OnceLock<Option<std::os::fd::OwnedFd>> = OnceLock::new();
    PARENT
        .get_or_init(|| {
            std::thread::spawn(|| {
                // SAFETY: unshare of this (short-lived) thread's network namespace only.
                if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                    return None;
                }
                // /proc/sys/net is the opening thread's namespace: this new one's.
                fs::write(
                    "/proc/sys/net/ipv4/tcp_child_ehash_entries",
                    CHECK_EHASH_BUCKETS.to_string(),
                )
                .ok()?;
                fs::File::open("/proc/thread-self/ns/net")
                    .ok()
                    .map(std::os::fd::OwnedFd::from)
            })
            .join()
            .ok()
            .flatten()
        })
        .as_ref()
}

thread_local! {
    /// Contexts alive on this thread, and whether the thread is in a namespace of its own.
    static NETNS_USERS: std::cell::Cell<(usize, bool)> = const { std::cell::Cell::new((0, false)) };
}

/// A context's hold on its thread's network namespace: the first context alive on a thread
/// gets a fresh one; a context made while another lives on the same thread (a fuzzer's
/// fresh server beside its first) shares it, so the first's peers still reach its subject.
#[derive(Debug)]
pub struct NetnsHold {
    thread: std::thread::ThreadId,
    private: bool,
}

impl NetnsHold {
    /// Takes the calling thread's namespace (fresh if no other context holds it).
    pub fn take() -> NetnsHold {
        let (users, private) = NETNS_USERS.with(std::cell::Cell::get);
        let private = if users == 0 {
            enter_fresh_netns()
        } else {
            private
        };
        NETNS_USERS.with(|c| c.set((users + 1, private)));
        NetnsHold {
            thread: std::thread::current().id(),
            private,
        }
    }

    /// Whether the namespace is the context's own (not the machine's).
    pub fn private(&self) -> bool {
        self.private
    }
}

impl Drop for NetnsHold {
    fn drop(&mut self) {
        if std::thread::current().id() == self.thread {
            NETNS_USERS.with(|c| {
                let (users, private) = c.get();
                c.set((users.saturating_sub(1), private));
            });
        }
    }
}

fn lo_up() -> bool {
    // SAFETY: a socket, two ioctls on a zeroed ifreq naming "lo", close.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return false;
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo\0".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        let ok = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) == 0 && {
            req.ifr_ifru.ifru_flags |= libc::c_short::try_from(libc::IFF_UP).unwrap_or(1);
            libc::ioctl(fd, libc::SIOCSIFFLAGS, &req) == 0
        };
        libc::close(fd);
        ok
    }
}

/// A v1 cgroup per subject in the pids and memory hierarchies (under the suite's own
/// cgroups, so the machine's limits on the suite still hold).
#[derive(Debug)]
struct Cgroup {
    dirs: Vec<PathBuf>,
    memory: Option<PathBuf>,
}

static CGROUPS: AtomicU64 = AtomicU64::new(0);

/// The suite's own cgroup directory in v1 hierarchy `controller`, if mounted and writable.
fn own_cgroup(controller: &str) -> Option<PathBuf> {
    let root = Path::new("/sys/fs/cgroup").join(controller);
    let text = fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = text.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
        ctrls
            .split(',')
            .any(|c| c == controller)
            .then(|| path.to_owned())
    })?;
    let dir = root.join(rel.trim_start_matches('/'));
    dir.join("cgroup.procs").exists().then_some(dir)
}

impl Cgroup {
    fn create(limits: &super::command::Limits) -> Option<Cgroup> {
        let n = CGROUPS.fetch_add(1, Ordering::Relaxed);
        let name = format!("conformance-{}-{n}", std::process::id());
        let mut cg = Cgroup {
            dirs: Vec::new(),
            memory: None,
        };
        if let Some(base) = own_cgroup("pids") {
            let dir = base.join(&name);
            if fs::create_dir(&dir).is_ok() {
                let _ = fs::write(dir.join("pids.max"), limits.max_procs.to_string());
                cg.dirs.push(dir);
            }
        }
        if let Some(base) = own_cgroup("memory") {
            let dir = base.join(&name);
            if fs::create_dir(&dir).is_ok() {
                let set = fs::write(dir.join("memory.limit_in_bytes"), limits.memory.to_string());
                // No swap either, where swap is accounted (the limit is on memory in use).
                let _ = fs::write(
                    dir.join("memory.memsw.limit_in_bytes"),
                    limits.memory.to_string(),
                );
                if set.is_ok() {
                    cg.memory = Some(dir.clone());
                }
                cg.dirs.push(dir);
            }
        }
        (!cg.dirs.is_empty()).then_some(cg)
    }

    fn pids(&self) -> Vec<i32> {
        let mut out: Vec<i32> = self
            .dirs
            .iter()
            .filter_map(|d| fs::read_to_string(d.join("cgroup.procs")).ok())
            .flat_map(|t| {
                t.split_ascii_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect::<Vec<i32>>()
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    fn oom_kills(&self) -> u64 {
        let Some(dir) = &self.memory else { return 0 };
        fs::read_to_string(dir.join("memory.oom_control"))
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("oom_kill ")?.trim().parse().ok())
            })
            .unwrap_or(0)
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        for d in &self.dirs {
            // Fails while a member lives; the kill before the drop leaves none.
            let _ = fs::remove_dir(d);
        }
    }
}

/// The containment of one subject: made before the spawn ([`Jail::new`], [`Jail::apply`]),
/// told the pid after it ([`Jail::started`]).
#[derive(Debug)]
pub struct Jail {
    kind: Kind,
    cgroup: Option<Cgroup>,
    /// The outer pid of the process std started (P), which is also the process group.
    outer: Option<i32>,
    /// The subject's PID namespace (its inode), once started.
    ns: Option<u64>,
    /// The namespace itself, held open for as long as the jail lives: a namespace's inode
    /// number is free for the next new namespace as soon as the last reference to it goes,
    /// and the kill loop kills the init (ending the namespace) before it scans /proc for
    /// members. Held, the number cannot come to name another subject's namespace, whose
    /// processes the scan would then kill.
    _ns_hold: Option<fs::File>,
    /// The memory limit asked for (bytes).
    memory: u64,
    /// P and the namespace's init A, each with its start time (a pid may be reused once
    /// the process is reaped; namespace inodes are reused as soon as one is freed).
    procs: Vec<(i32, u64)>,
}

impl Jail {
    /// The containment for a subject under `limits`.
    pub fn new(limits: &super::command::Limits) -> Jail {
        let kind = kind();
        let cgroup = if kind == Kind::ProcessGroup || rustix::process::geteuid().as_raw() != 0 {
            None
        } else {
            Cgroup::create(limits)
        };
        Jail {
            kind,
            cgroup,
            outer: None,
            ns: None,
            _ns_hold: None,
            memory: limits.memory,
            procs: Vec::new(),
        }
    }

    /// The memory limit (bytes) this subject was given.
    pub fn memory_limit(&self) -> u64 {
        self.memory
    }

    /// Which containment this subject got.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Whether its memory is limited by a cgroup (then RLIMIT_AS is not needed: ASan and
    /// runtimes that reserve address space run).
    pub fn limits_memory(&self) -> bool {
        self.cgroup.as_ref().is_some_and(|c| c.memory.is_some())
    }

    /// Whether its pids are limited by a cgroup.
    pub fn limits_pids(&self) -> bool {
        self.cgroup
            .as_ref()
            .is_some_and(|c| c.dirs.len() > usize::from(c.memory.is_some()))
    }

    /// A line for the report: how the subject was contained.
    pub fn describe(&self) -> String {
        let mut s = format!("contained in {}", self.kind.describe());
        if self.cgroup.is_some() {
            s.push_str(" and a cgroup");
            if self.limits_pids() {
                s.push_str(" (pids.max");
                s.push_str(if self.limits_memory() {
                    ", memory)"
                } else {
                    ")"
                });
            } else if self.limits_memory() {
                s.push_str(" (memory)");
            }
        }
        s
    }

    /// Makes `cmd` start contained. Must be the last pre_exec hook: those registered after
    /// it run in the subject itself, in its namespace.
    pub fn apply(&self, cmd: &mut Command) {
        let procs: Vec<CString> = self
            .cgroup
            .iter()
            .flat_map(|c| &c.dirs)
            .filter_map(|d| CString::new(d.join("cgroup.procs").into_os_string().into_vec()).ok())
            .collect();
        let flags = match self.kind {
            Kind::PidNamespace => libc::CLONE_NEWPID,
            Kind::UserNamespace => libc::CLONE_NEWUSER | libc::CLONE_NEWPID,
            Kind::ProcessGroup => 0,
        };
        let maps = (self.kind == Kind::UserNamespace).then(|| {
            let (uid, gid) = (
                rustix::process::getuid().as_raw(),
                rustix::process::getgid().as_raw(),
            );
            UserMaps {
                uid: format!("{uid} {uid} 1\n").into_bytes(),
                gid: format!("{gid} {gid} 1\n").into_bytes(),
            }
        });
        // SAFETY: `enter` makes only async-signal-safe system calls on data prepared here.
        unsafe {
            cmd.pre_exec(move || enter(&procs, flags, maps.as_ref()));
        }
    }

    /// Records the started process (P's pid): finds its namespace.
    ///
    /// Its namespace is taken only once it differs from the suite's own: a pid may be
    /// reported (run.rs) before P has unshared, and the suite's own namespace must never
    /// be mistaken for the subject's (its members would all be killed).
    pub fn started(&mut self, outer: i32) {
        self.outer = Some(outer);
        if self.kind == Kind::ProcessGroup {
            return;
        }
        let own = ns_inode("/proc/self/ns/pid");
        let link = format!("/proc/{outer}/ns/pid_for_children");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            match ns_inode(&link) {
                Some(ns) if Some(ns) != own => {
                    // P is our unreaped child: its pid, and so the link, is still its own.
                    let Some((hold, ns)) = fs::File::open(&link).ok().and_then(|f| {
                        use std::os::unix::fs::MetadataExt;
                        let ino = f.metadata().ok()?.ino();
                        Some((f, ino))
                    }) else {
                        return;
                    };
                    if Some(ns) == own {
                        return;
                    }
                    self.ns = Some(ns);
                    self._ns_hold = Some(hold);
                    let init = children(outer).into_iter().next();
                    for p in std::iter::once(outer).chain(init) {
                        if let Some(t) = procfs::start_time(p) {
                            self.procs.push((p, t));
                        }
                    }
                    return;
                }
                // Gone: it exited, and with it its namespace.
                None => return,
                Some(_) if std::time::Instant::now() >= deadline => return,
                Some(_) => std::thread::sleep(std::time::Duration::from_millis(1)),
            }
        }
    }

    /// The subject's PID namespace (its inode number), once started in one. While the jail
    /// lives no other namespace gets this number.
    pub fn namespace(&self) -> Option<u64> {
        self.ns
    }

    /// The pid (in the suite's namespace) of the subject program proper: B, the child of the
    /// namespace's init; P itself without a namespace. None once it is gone.
    pub fn subject_pid(&self) -> Option<i32> {
        let outer = self.outer?;
        if self.kind == Kind::ProcessGroup {
            return Some(outer);
        }
        let init = children(outer).into_iter().next()?;
        // B is the init's first child (the only one it makes; later ones are orphans).
        children(init)
            .into_iter()
            .min_by_key(|&p| procfs::start_time(p).unwrap_or(u64::MAX))
    }

    /// Whether the subject's namespace may still hold processes: its P or its init A is
    /// still the process it was (neither reaped nor its pid reused). When both are gone the
    /// namespace is empty (A exits only once it is), and its inode may already name another
    /// subject's namespace. Always true without a namespace.
    pub fn may_hold_processes(&self) -> bool {
        if self.kind == Kind::ProcessGroup || self.ns.is_none() {
            return self.kind == Kind::ProcessGroup
                || self.outer.is_some_and(|p| procfs::stat(p).is_some());
        }
        self.procs.iter().any(|&(p, t)| {
            procfs::start_time(p) == Some(t) && procfs::stat(p).is_some_and(|s| s.state != 'X')
        })
    }

    /// Every live process of the subject: its namespace's or cgroup's members (whatever
    /// their group, session or environment). Empty in the process-group mode.
    pub fn members(&self) -> Vec<i32> {
        let mut out = self.cgroup.as_ref().map(Cgroup::pids).unwrap_or_default();
        let ns = self
            .ns
            .filter(|&ns| Some(ns) != ns_inode("/proc/self/ns/pid"))
            .filter(|_| self.init_alive());
        if let Some(ns) = ns {
            out.extend(
                procfs::all_pids()
                    .into_iter()
                    .filter(|&p| ns_inode(&format!("/proc/{p}/ns/pid")) == Some(ns)),
            );
        }
        out.sort_unstable();
        out.dedup();
        out.retain(|&p| procfs::stat(p).is_some_and(|s| s.state != 'Z' && s.state != 'X'));
        out
    }

    /// Whether the namespace's init is still the process it was (alive or a zombie being
    /// torn down): only then can the namespace's inode be trusted to name this subject's.
    fn init_alive(&self) -> bool {
        self.procs.get(1).is_some_and(|&(p, t)| {
            procfs::start_time(p) == Some(t) && procfs::stat(p).is_some_and(|s| s.state != 'Z')
        })
    }

    /// Whether the kernel's OOM killer ended a process of the subject (cgroup limit).
    pub fn out_of_memory(&self) -> bool {
        self.cgroup.as_ref().is_some_and(|c| c.oom_kills() > 0)
    }
}

/// The uid and gid maps written for an unprivileged user namespace.
#[derive(Debug)]
struct UserMaps {
    uid: Vec<u8>,
    gid: Vec<u8>,
}

fn ns_inode(link: &str) -> Option<u64> {
    let target = fs::read_link(link).ok()?;
    let s = target.to_str()?;
    s.strip_prefix("pid:[")?.strip_suffix(']')?.parse().ok()
}

fn children(pid: i32) -> Vec<i32> {
    if procfs::lists_children() {
        fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .map(|t| {
                t.split_ascii_whitespace()
                    .filter_map(|c| c.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    } else {
        procfs::all_pids()
            .into_iter()
            .filter(|&p| procfs::stat(p).is_some_and(|s| s.ppid == pid))
            .collect()
    }
}

/// Runs in P between fork and exec. Returns (in B only) to let std exec the subject.
///
/// SAFETY (for the caller): only system calls; no allocation, no lock.
unsafe fn enter(procs: &[CString], flags: libc::c_int, maps: Option<&UserMaps>) -> io::Result<()> {
    // SAFETY: each call below is a plain system call on prepared, NUL-terminated data.
    unsafe {
        for p in procs {
            let fd = libc::open(p.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd >= 0 {
                libc::write(fd, b"0".as_ptr().cast(), 1);
                libc::close(fd);
            }
        }
        if flags == 0 {
            return Ok(());
        }
        // The suite's signal handlers (a SIGCHLD self-pipe of a crate) were copied by the
        // fork but no exec will reset them in P and A: a handler there would run on a
        // closed pipe. The subject gets defaults from its exec anyway.
        for sig in 1..=64 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        if libc::unshare(flags) != 0 {
            return Err(io::Error::last_os_error());
        }
        if let Some(m) = maps {
            write_file(c"/proc/self/setgroups", b"deny");
            if !write_file(c"/proc/self/uid_map", &m.uid)
                || !write_file(c"/proc/self/gid_map", &m.gid)
            {
                return Err(io::Error::last_os_error());
            }
        }
        let mut status_pipe = [0 as libc::c_int; 2];
        if libc::pipe2(status_pipe.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return Err(io::Error::last_os_error());
        }
        let [rd, wr] = status_pipe;
        let init = libc::fork();
        if init < 0 {
            return Err(io::Error::last_os_error());
        }
        if init == 0 {
            // A: PID 1 of the namespace.
            libc::close(rd);
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            let subject = libc::fork();
            if subject < 0 {
                libc::_exit(127);
            }
            if subject == 0 {
                // B: the subject. Its parent's death ends the namespace anyway.
                libc::close(wr);
                return Ok(());
            }
            close_all_but(wr);
            let mut st: libc::c_int = 0;
            loop {
                let pid = libc::waitpid(-1, &mut st, 0);
                if pid == subject {
                    libc::write(wr, (&raw const st).cast(), 4);
                    libc::_exit(0);
                }
                if pid < 0 && *libc::__errno_location() != libc::EINTR {
                    libc::_exit(127);
                }
            }
        }
        // P: relays the subject's status once the namespace is empty (A's exit waits for it).
        libc::close(wr);
        close_all_but(rd);
        let mut st: libc::c_int = 0;
        while libc::waitpid(init, &mut st, 0) < 0 && *libc::__errno_location() == libc::EINTR {}
        let mut sub: libc::c_int = 0;
        if libc::read(rd, (&raw mut sub).cast(), 4) == 4 {
            st = sub;
        }
        if libc::WIFEXITED(st) {
            libc::_exit(libc::WEXITSTATUS(st));
        }
        if libc::WIFSIGNALED(st) {
            let sig = libc::WTERMSIG(st);
            libc::signal(sig, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, sig);
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::kill(libc::getpid(), sig);
            libc::_exit(128 + sig);
        }
        libc::_exit(127)
    }
}

/// Closes every descriptor but `keep`: the stdio pipes (their readers then see end of file
/// exactly when the subject's processes are gone) and std's exec-error pipe (whose end of
/// file tells std that the subject was exec'd).
unsafe fn close_all_but(keep: libc::c_int) {
    // SAFETY: close_range is a system call; closing descriptors we do not use.
    unsafe {
        let k = libc::c_uint::try_from(keep).unwrap_or(0);
        if k > 0 {
            libc::syscall(libc::SYS_close_range, 0u32, k - 1, 0u32);
        }
        libc::syscall(libc::SYS_close_range, k + 1, libc::c_uint::MAX, 0u32);
    }
}

/// Writes `data` to `path` in one write; true if it was taken whole.
unsafe fn write_file(path: &std::ffi::CStr, data: &[u8]) -> bool {
    // SAFETY: open, write, close on a NUL-terminated path and a live buffer.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return false;
        }
        let n = libc::write(fd, data.as_ptr().cast(), data.len());
        libc::close(fd);
        usize::try_from(n).is_ok_and(|n| n == data.len())
    }
}
