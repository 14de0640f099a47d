//! Reading /proc: process groups, listening sockets, thread counts, bytes written.
//! Everything here is a snapshot; callers poll with a deadline. Unreadable entries (a
//! process that just exited) are skipped, never errors.

use std::collections::HashSet;
use std::fs;

/// One process as /proc/PID/stat shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Its pid.
    pub pid: i32,
    /// Its parent.
    pub ppid: i32,
    /// Its process group.
    pub pgrp: i32,
    /// One-letter state (`R`, `S`, `Z`...).
    pub state: char,
}

/// Parses /proc/PID/stat (the command name may hold spaces and parentheses: fields are
/// counted from the last `)`).
pub fn stat(pid: i32) -> Option<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(pid, &text)
}

/// Parses the text of a /proc/PID/stat file.
pub fn parse_stat(pid: i32, text: &str) -> Option<ProcStat> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut f = rest.split_whitespace();
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    let pgrp = f.next()?.parse().ok()?;
    Some(ProcStat {
        pid,
        ppid,
        pgrp,
        state,
    })
}

/// When process `pid` started (clock ticks since boot, field 22 of /proc/PID/stat).
pub fn start_time(pid: i32) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    rest.split_ascii_whitespace().nth(19)?.parse().ok()
}

/// Whether process `pid` is in its exit (PF_EXITING in the flags of /proc/PID/stat): its
/// files, sockets included, are closing, and it will be a zombie in a moment.
pub fn exiting(pid: i32) -> bool {
    const PF_EXITING: u64 = 0x4;
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|t| {
            let rest = &t[t.rfind(')')? + 1..];
            rest.split_ascii_whitespace().nth(6)?.parse::<u64>().ok()
        })
        .is_some_and(|f| f & PF_EXITING != 0)
}

/// Every pid in /proc.
pub fn all_pids() -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Live (not zombie) members of process group `pgid`.
pub fn group_members(pgid: i32) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter_map(stat)
        .filter(|s| s.pgrp == pgid && s.state != 'Z' && s.state != 'X')
        .map(|s| s.pid)
        .collect()
}

/// Whether the kernel lists children in /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN).
pub fn lists_children() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| std::path::Path::new("/proc/thread-self/children").exists())
}

/// Members of group `pgid` for polling: its leader's descendants where the kernel lists
/// children; otherwise the leader alone, or (`thorough`) a scan of all of /proc.
pub fn group_pids(pgid: i32, thorough: bool) -> Vec<i32> {
    if lists_children() {
        group_descendants(pgid)
    } else if thorough {
        group_members(pgid)
    } else {
        stat(pgid)
            .filter(|s| s.state != 'Z' && s.state != 'X')
            .map(|s| vec![s.pid])
            .unwrap_or_default()
    }
}

/// The children of `pid` as the kernel lists them (/proc/PID/task/TID/children, every
/// thread's: a child is listed under the thread that forked it).
fn children(pid: i32) -> Vec<i32> {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|text| {
            text.split_ascii_whitespace()
                .filter_map(|c| c.parse::<i32>().ok())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Live members of group `pgid` found by walking the children of its leader (and theirs)
/// through /proc/PID/task/TID/children: a few reads instead of a scan of all of /proc.
/// A member that was reparented away (double fork) is missed; the check after a kill
/// uses [`group_members`].
pub fn group_descendants(pgid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let mut todo = vec![pgid];
    while let Some(pid) = todo.pop() {
        if out.len() >= 4096 {
            break;
        }
        match stat(pid) {
            Some(s) if s.state != 'Z' && s.state != 'X' => {
                if s.pgrp == pgid {
                    out.push(pid);
                }
            }
            _ => continue,
        }
        todo.extend(children(pid));
    }
    out
}

/// Live descendants of `root` (itself included when alive), whatever their group or session:
/// in a subject's PID namespace every orphan is reparented to its init, so the tree of the
/// init is the whole namespace. Walks /proc/PID/task/TID/children where the kernel lists
/// them, else parentage over all of /proc.
pub fn tree_pids(root: i32) -> Vec<i32> {
    let alive = |p: i32| stat(p).is_some_and(|s| s.state != 'Z' && s.state != 'X');
    if !lists_children() {
        let stats: Vec<ProcStat> = all_pids().into_iter().filter_map(stat).collect();
        let mut out = vec![root];
        let mut i = 0;
        while i < out.len() && out.len() < 4096 {
            let parent = out[i];
            out.extend(stats.iter().filter(|s| s.ppid == parent).map(|s| s.pid));
            i += 1;
        }
        out.retain(|&p| alive(p));
        return out;
    }
    let mut out = Vec::new();
    let mut todo = vec![root];
    while let Some(pid) = todo.pop() {
        if out.len() >= 4096 {
            break;
        }
        if !alive(pid) {
            continue;
        }
        out.push(pid);
        todo.extend(children(pid));
    }
    out
}

/// The command line of `pid` (its argv, each word lossily decoded), or None when it is gone.
pub fn cmdline(pid: i32) -> Option<Vec<String>> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
    )
}

/// The value of `name` in the environment `pid` started with, or None (unset, or the
/// process is gone or not ours to read).
pub fn env_var(pid: i32, name: &str) -> Option<String> {
    let env = fs::read(format!("/proc/{pid}/environ")).ok()?;
    env.split(|&b| b == 0).find_map(|kv| {
        let value = kv.strip_prefix(name.as_bytes())?.strip_prefix(b"=")?;
        Some(String::from_utf8_lossy(value).into_owned())
    })
}

/// Live processes whose environment holds `marker` (a `NAME=value` entry): finds a
/// subject's processes even after one escaped its group with setsid.
pub fn marked_pids(marker: &str) -> Vec<i32> {
    let needle = marker.as_bytes();
    all_pids()
        .into_iter()
        .filter(|&pid| {
            fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|&b| b == 0).any(|kv| kv == needle))
                .unwrap_or(false)
        })
        .filter(|&pid| stat(pid).is_some_and(|s| s.state != 'Z' && s.state != 'X'))
        .collect()
}

/// A TCP socket as /proc/net/tcp{,6} lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpEntry {
    /// Local port.
    pub port: u16,
    /// Kernel state (0x0A = LISTEN, 0x06 = TIME_WAIT).
    pub state: u8,
    /// Socket inode (0 for TIME_WAIT entries).
    pub inode: u64,
}

/// Bytes received but not yet read by the process, on the socket whose local port is
/// `local` and remote port `remote` (the subject's end of a connection the suite made):
/// the `rx_queue` of /proc/net/tcp{,6}. None if no such socket is listed.
pub fn unread_bytes(local: u16, remote: u16) -> Option<u32> {
    for file in tcp_files() {
        let Ok(text) = fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let mut f = line.split_ascii_whitespace();
            let (Some(l), Some(r), Some(queues)) = (f.nth(1), f.next(), f.nth(1)) else {
                continue;
            };
            let port_of = |a: &str| {
                a.rsplit(':')
                    .next()
                    .and_then(|p| u16::from_str_radix(p, 16).ok())
            };
            if port_of(l) == Some(local) && port_of(r) == Some(remote) {
                return queues
                    .split(':')
                    .nth(1)
                    .and_then(|q| u32::from_str_radix(q, 16).ok());
            }
        }
    }
    None
}

/// The kernel's LISTEN state code.
pub const TCP_LISTEN: u8 = 0x0A;

/// The TCP tables of the calling thread's network namespace: a check's thread may be in its
/// own (see [`super::contain::enter_fresh_netns`]), and /proc/net shows the main thread's.
pub fn tcp_files() -> [&'static str; 2] {
    static THREAD_SELF: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *THREAD_SELF.get_or_init(|| std::path::Path::new("/proc/thread-self/net/tcp").exists()) {
        ["/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6"]
    } else {
        ["/proc/net/tcp", "/proc/net/tcp6"]
    }
}

/// Every TCP socket of the calling thread's network namespace, IPv4 and IPv6.
pub fn tcp_entries() -> Vec<TcpEntry> {
    let mut out = Vec::new();
    for file in tcp_files() {
        if let Ok(text) = fs::read_to_string(file) {
            out.extend(text.lines().skip(1).filter_map(parse_tcp_line));
        }
    }
    out
}

/// Parses one line of /proc/net/tcp: `sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...`.
pub fn parse_tcp_line(line: &str) -> Option<TcpEntry> {
    // No allocation per line: a busy machine lists tens of thousands of sockets.
    let mut f = line.split_ascii_whitespace();
    let local = f.nth(1)?;
    let port = u16::from_str_radix(local.rsplit(':').next()?, 16).ok()?;
    let state = u8::from_str_radix(f.nth(1)?, 16).ok()?;
    let inode = f.nth(5)?.parse().ok()?;
    Some(TcpEntry { port, state, inode })
}

/// Inodes of the sockets process `pid` holds open.
pub fn socket_inodes(pid: i32) -> HashSet<u64> {
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return HashSet::new();
    };
    dir.filter_map(|e| {
        let link = fs::read_link(e.ok()?.path()).ok()?;
        let s = link.to_str()?;
        s.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
    })
    .collect()
}

/// Ports on which a process of group `pgid` holds a LISTEN socket.
pub fn group_listening_ports(pgid: i32) -> Vec<u16> {
    pids_listening_ports(&group_members(pgid))
}

/// Ports on which one of `pids` holds a LISTEN socket.
pub fn pids_listening_ports(pids: &[i32]) -> Vec<u16> {
    let listening: Vec<TcpEntry> = tcp_entries()
        .into_iter()
        .filter(|e| e.state == TCP_LISTEN && e.inode != 0)
        .collect();
    if listening.is_empty() {
        return Vec::new();
    }
    let mut inodes = HashSet::new();
    for &pid in pids {
        inodes.extend(socket_inodes(pid));
    }
    let mut ports: Vec<u16> = listening
        .iter()
        .filter(|e| inodes.contains(&e.inode))
        .map(|e| e.port)
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// Whether a process of group `pgid` holds a LISTEN socket on `port`.
pub fn group_listens_on(pgid: i32, port: u16) -> bool {
    pids_listen_on(&group_members(pgid), port)
}

/// Whether one of `pids` holds a LISTEN socket on `port`.
pub fn pids_listen_on(pids: &[i32], port: u16) -> bool {
    // The processes' own sockets first (a few fds): the machine-wide table, which can be
    // megabytes on a busy machine, is read only once the subject holds a socket at all.
    let mut ours = HashSet::new();
    for &pid in pids {
        ours.extend(socket_inodes(pid));
    }
    !ours.is_empty()
        && tcp_entries()
            .iter()
            .any(|e| e.port == port && e.state == TCP_LISTEN && ours.contains(&e.inode))
}

/// Those of `pids` that hold a LISTEN socket on `port` (0: on any port).
pub fn pids_listening_on(pids: &[i32], port: u16) -> Vec<i32> {
    let listening: HashSet<u64> = tcp_entries()
        .into_iter()
        .filter(|e| e.state == TCP_LISTEN && e.inode != 0 && (port == 0 || e.port == port))
        .map(|e| e.inode)
        .collect();
    if listening.is_empty() {
        return Vec::new();
    }
    pids.iter()
        .copied()
        .filter(|&p| socket_inodes(p).iter().any(|i| listening.contains(i)))
        .collect()
}

/// The pid and program name (`pid N: prog`) of a process holding a socket on `port`, found
/// among all processes this suite may read.
pub fn port_holder(port: u16) -> Option<String> {
    let inodes: HashSet<u64> = tcp_entries()
        .into_iter()
        .filter(|e| e.port == port && e.inode != 0)
        .map(|e| e.inode)
        .collect();
    if inodes.is_empty() {
        return None;
    }
    all_pids().into_iter().find_map(|p| {
        socket_inodes(p)
            .iter()
            .any(|i| inodes.contains(i))
            .then(|| {
                let name = fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
                format!("pid {p}: {}", name.trim())
            })
    })
}

/// Whether anybody at all listens on `port`.
pub fn anyone_listens_on(port: u16) -> bool {
    tcp_entries()
        .iter()
        .any(|e| e.port == port && e.state == TCP_LISTEN)
}

/// Whether any TCP socket (any state, TIME_WAIT included) uses local port `port`.
pub fn port_in_use(port: u16) -> bool {
    tcp_entries().iter().any(|e| e.port == port)
}

/// Number of threads of process `pid` (entries of /proc/PID/task).
pub fn thread_count(pid: i32) -> Option<usize> {
    Some(fs::read_dir(format!("/proc/{pid}/task")).ok()?.count())
}

/// Bytes process `pid` has written so far (any fd: pipes, sockets), from /proc/PID/io.
pub fn bytes_written(pid: i32) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("wchar:"))
        .and_then(|v| v.trim().parse().ok())
}
