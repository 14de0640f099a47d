//! What a running subject is doing, read from /proc without touching it: whether it has
//! accepted a given connection, whether its threads are all asleep, how much CPU it used.
//! Checks use these to wait for a state (a silent client accepted and waited on) instead of
//! racing it, and to measure a server that should be idle.

use std::fs;
use std::time::Duration;

/// /proc reports CPU time in USER_HZ ticks, which Linux fixes at 100 for user space.
const USER_HZ: u64 = 100;

/// Whether the connection from local port `client_port` to `server_port` has been taken
/// by `accept()`: a connection still in the listen queue has no socket file yet, so its
/// /proc/net/tcp line shows inode 0. Read in the calling thread's network namespace (a
/// check's own; /proc/net is the main thread's, which never holds a check's connections).
pub fn accepted(server_port: u16, client_port: u16) -> bool {
    super::procfs::tcp_files().iter().any(|file| {
        fs::read_to_string(file).is_ok_and(|text| {
            text.lines()
                .skip(1)
                .filter_map(parse_conn)
                .any(|c| c.local == server_port && c.remote == client_port && c.inode != 0)
        })
    })
}

/// One /proc/net/tcp line: local and remote port, inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conn {
    /// Local port.
    pub local: u16,
    /// Remote port.
    pub remote: u16,
    /// Socket inode (0: no file yet).
    pub inode: u64,
}

/// Parses `sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...`.
pub fn parse_conn(line: &str) -> Option<Conn> {
    let mut f = line.split_ascii_whitespace();
    let port = |s: &str| u16::from_str_radix(s.rsplit(':').next()?, 16).ok();
    let local = port(f.nth(1)?)?;
    let remote = port(f.next()?)?;
    let inode = f.nth(6)?.parse().ok()?;
    Some(Conn {
        local,
        remote,
        inode,
    })
}

/// The states (`R`, `S`, `D`...) of every thread of process `pid`.
pub fn thread_states(pid: i32) -> Vec<char> {
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let text = fs::read_to_string(e.ok()?.path().join("stat")).ok()?;
        text[text.rfind(')')? + 1..]
            .split_whitespace()
            .next()?
            .chars()
            .next()
    })
    .collect()
}

/// Whether every thread of `pid` is asleep (waiting in a system call), i.e. it has done
/// all it can with what it was given.
pub fn all_asleep(pid: i32) -> bool {
    let s = thread_states(pid);
    !s.is_empty() && s.iter().all(|&c| c == 'S' || c == 'D')
}

/// CPU time (user + system) process `pid` has used so far, all its threads.
pub fn cpu_time(pid: i32) -> Option<Duration> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    cpu_time_of(&text)
}

/// Parses the CPU time out of the text of a /proc/PID/stat file.
pub fn cpu_time_of(text: &str) -> Option<Duration> {
    let mut f = text[text.rfind(')')? + 1..].split_whitespace();
    // After the command: state ppid pgrp session tty tpgid flags minflt cminflt majflt
    // cmajflt utime stime.
    let utime: u64 = f.nth(11)?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 1000 / USER_HZ))
}
