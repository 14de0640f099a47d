//! Turning a command line (`--server-cmd "python3 server.py"`) into a process: split like a
//! shell (no shell runs), fill placeholders or append the role's standard arguments, and
//! prepare a `std::process::Command` in its own process group, with rlimits and a scrubbed
//! environment.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

/// The placeholders a command may hold.
pub const PLACEHOLDERS: &[&str] = &["{host}", "{port}", "{seq}", "{user}", "{request}"];

/// Environment variables removed from every subject: the suite must see the subject's own
/// output buffering (this machine sets PYTHONUNBUFFERED=1, which would hide a missing flush).
pub const SCRUBBED_ENV: &[&str] = &["PYTHONUNBUFFERED", "LD_PRELOAD"];
/// Prefix of variables removed as well (stdbuf's settings travel as `_STDBUF_I/O/E`).
pub const SCRUBBED_ENV_PREFIX: &str = "_STDBUF_";
/// The variable that marks every process of a subject (found again in /proc/PID/environ).
pub const MARKER_VAR: &str = "CONFORMANCE_SUBJECT";

/// A command line given by the user, split into words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    /// As the user typed it (for reports).
    pub display: String,
    /// Split like a shell.
    pub words: Vec<String>,
}

/// Why a command line is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Unbalanced quotes or an empty command.
    #[error("cannot split the command {0:?} like a shell (empty, or an unclosed quote)")]
    Unsplittable(String),
    /// The program is neither a path to an executable file nor found on PATH.
    #[error(
        "command not found: {0} (give a path like ./tcpserver, or a program on PATH; \
         is it executable? chmod +x)"
    )]
    NotFound(String),
}

impl CommandSpec {
    /// Splits `line` like a POSIX shell would (quotes, backslashes; no expansion).
    pub fn parse(line: &str) -> Result<CommandSpec, CommandError> {
        match shlex::split(line) {
            Some(words) if !words.is_empty() => Ok(CommandSpec {
                display: line.to_owned(),
                words,
            }),
            _ => Err(CommandError::Unsplittable(line.to_owned())),
        }
    }

    /// Whether any word holds a placeholder (then no standard arguments are appended).
    pub fn has_placeholders(&self) -> bool {
        self.words.iter().any(|w| has_placeholder(w))
    }

    /// The argv to run: placeholders filled from `vars`, or `standard` (itself a list of
    /// placeholder templates) appended. With `override_args`, the words holding
    /// placeholders (or, without any, the standard arguments) are replaced by those
    /// arguments: argument checks run the program with exactly the arguments they test.
    pub fn argv(
        &self,
        vars: &[(&str, String)],
        standard: &[&str],
        override_args: Option<&[String]>,
    ) -> Vec<String> {
        let mut out = Vec::with_capacity(self.words.len() + standard.len());
        let mut inserted = false;
        for w in &self.words {
            if has_placeholder(w) {
                if let Some(over) = override_args {
                    if !inserted {
                        out.extend(over.iter().cloned());
                        inserted = true;
                    }
                    continue;
                }
                out.push(fill(w, vars));
            } else {
                out.push(w.clone());
            }
        }
        if !self.has_placeholders() {
            match override_args {
                Some(over) => out.extend(over.iter().cloned()),
                None => out.extend(standard.iter().map(|w| fill(w, vars))),
            }
        }
        out
    }

    /// Checks that the program exists: a path (with a `/`) to a file, or a name on PATH.
    pub fn resolve(&self) -> Result<PathBuf, CommandError> {
        resolve_program(&self.words[0])
    }
}

fn has_placeholder(word: &str) -> bool {
    PLACEHOLDERS.iter().any(|p| word.contains(p))
}

/// Replaces every `{name}` of `vars` in `word`; unknown placeholders stay as they are.
pub fn fill(word: &str, vars: &[(&str, String)]) -> String {
    let mut s = word.to_owned();
    for (name, value) in vars {
        s = s.replace(&format!("{{{name}}}"), value);
    }
    s
}

/// Finds `program` as the shell would: a word with a `/` is a path, else each PATH entry.
pub fn resolve_program(program: &str) -> Result<PathBuf, CommandError> {
    // A regular file with an execute bit (the kernel decides the rest at exec).
    let is_file = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return if is_file(&p) {
            Ok(p)
        } else {
            Err(CommandError::NotFound(program.to_owned()))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_file(p))
        .ok_or_else(|| CommandError::NotFound(program.to_owned()))
}

/// Resource limits of every subject (README "Limits"; `--memory`, `--cpu-time`,
/// `--max-procs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// CPU seconds (a busy loop ends, never the machine).
    pub cpu_secs: u64,
    /// Address space in bytes (RLIMIT_AS), used only where no memory cgroup limits the
    /// subject: the cgroup limit counts memory in use, so ASan builds and runtimes that
    /// reserve address space still run.
    pub address_space: u64,
    /// Open files. 1024 on purpose: 1100 handshakes catch a server that never closes.
    pub open_files: u64,
    /// Largest file the subject may write.
    pub file_size: u64,
    /// Memory in use by all the subject's processes (cgroup `memory.limit_in_bytes`).
    pub memory: u64,
    /// Processes and threads of the subject at once (cgroup `pids.max`): a fork bomb ends
    /// there.
    pub max_procs: u64,
}

/// Default `--memory`: 2 GiB.
pub const DEFAULT_MEMORY: u64 = 2 << 30;
/// Default `--cpu-time`: 300 s.
pub const DEFAULT_CPU_SECS: u64 = 300;
/// Default `--max-procs`: 512.
pub const DEFAULT_MAX_PROCS: u64 = 512;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            cpu_secs: DEFAULT_CPU_SECS,
            address_space: DEFAULT_MEMORY,
            open_files: 1024,
            file_size: 64 << 20,
            memory: DEFAULT_MEMORY,
            max_procs: DEFAULT_MAX_PROCS,
        }
    }
}

impl Limits {
    /// These limits with `memory` bytes of memory (the cgroup limit, and RLIMIT_AS where
    /// there is no cgroup).
    pub fn with_memory(mut self, memory: u64) -> Limits {
        self.memory = memory;
        self.address_space = memory;
        self
    }
}

static MARKERS: AtomicU64 = AtomicU64::new(0);

/// A fresh `CONFORMANCE_SUBJECT=<harness pid>.<n>` marker.
pub fn new_marker() -> String {
    let n = MARKERS.fetch_add(1, Ordering::Relaxed);
    format!("{MARKER_VAR}={}.{n}", std::process::id())
}

/// A `Command` for `argv`: own process group, rlimits, scrubbed environment, the marker,
/// all three standard streams piped. Not yet contained: see [`prepare_in`].
pub fn prepare(argv: &[OsString], limits: Limits, marker: &str) -> Command {
    prepare_with(argv, limits, marker, true)
}

/// As [`prepare`], for a subject contained by `jail`. The caller applies the jail last
/// ([`super::contain::Jail::apply`]), after any other pre_exec hook.
///
/// Under a memory cgroup (which counts memory in use) the address space is still capped,
/// at twice the memory limit: an allocation far beyond the limit (a `malloc` of a length
/// read from the network) fails as it would on a modest machine, instead of succeeding
/// untouched. A program built with a sanitizer (which reserves terabytes of address space)
/// gets no address-space limit at all: the cgroup alone limits it.
pub fn prepare_in(
    argv: &[OsString],
    mut limits: Limits,
    marker: &str,
    jail: &super::contain::Jail,
) -> Command {
    let mut rlimit_as = true;
    if jail.limits_memory() {
        limits.address_space = limits.address_space.max(limits.memory.saturating_mul(2));
        rlimit_as = !argv.iter().any(|w| is_sanitized(Path::new(w)));
    }
    prepare_with(argv, limits, marker, rlimit_as)
}

/// Whether `path` is an executable built with ASan, TSan or MSan (their runtime's init
/// symbol is in the file, or it links the runtime's shared library).
pub fn is_sanitized(path: &Path) -> bool {
    static SEEN: std::sync::Mutex<Vec<(PathBuf, bool)>> = std::sync::Mutex::new(Vec::new());
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, s)) = seen.iter().find(|(p, _)| p == path) {
        return *s;
    }
    let s = scan_sanitized(path);
    seen.push((path.to_path_buf(), s));
    s
}

fn scan_sanitized(path: &Path) -> bool {
    use std::io::Read;
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return false;
    }
    let mut head = Vec::new();
    if file.take(64 << 20).read_to_end(&mut head).is_err() || !head.starts_with(b"\x7fELF") {
        return false;
    }
    let needles: [&[u8]; 6] = [
        b"__asan_init",
        b"__tsan_init",
        b"__msan_init",
        b"libasan.so",
        b"libtsan.so",
        b"libmsan.so",
    ];
    needles
        .iter()
        .any(|n| memchr::memmem::find(&head, n).is_some())
}

fn prepare_with(argv: &[OsString], limits: Limits, marker: &str, rlimit_as: bool) -> Command {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    for (key, _) in std::env::vars_os() {
        let drop = key
            .to_str()
            .is_some_and(|k| SCRUBBED_ENV.contains(&k) || k.starts_with(SCRUBBED_ENV_PREFIX));
        if drop {
            cmd.env_remove(&key);
        }
    }
    for k in SCRUBBED_ENV {
        cmd.env_remove(k);
    }
    if let Some((k, v)) = marker.split_once('=') {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: the closure runs in the child between fork and exec; it only makes
    // setrlimit system calls (async-signal-safe) and touches no lock or allocation.
    unsafe {
        let parent = rustix::process::getpid();
        cmd.pre_exec(move || apply_limits(limits, rlimit_as, parent));
    }
    cmd
}

fn apply_limits(l: Limits, rlimit_as: bool, parent: rustix::process::Pid) -> std::io::Result<()> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    // Never ask above the current hard limit: raising it needs privileges.
    let set = |r, soft: u64, hard: u64| {
        let cap = getrlimit(r).maximum.unwrap_or(u64::MAX);
        let (soft, hard) = (soft.min(cap), hard.min(cap));
        setrlimit(
            r,
            Rlimit {
                current: Some(soft),
                maximum: Some(hard),
            },
        )
    };
    // CPU: the hard limit a little above the soft one so SIGXCPU comes before SIGKILL.
    set(Resource::Cpu, l.cpu_secs, l.cpu_secs + 5)?;
    if rlimit_as {
        set(Resource::As, l.address_space, l.address_space)?;
    }
    set(Resource::Nofile, l.open_files, l.open_files)?;
    set(Resource::Core, 0, 0)?;
    set(Resource::Fsize, l.file_size, l.file_size)?;
    // If the suite itself is killed (Ctrl-C, a CI timeout), the subject goes too.
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    // The suite may have died between the fork and the line above: then no signal comes.
    if rustix::process::getppid() != Some(parent) {
        return Err(std::io::Error::other("the suite ended during the start"));
    }
    Ok(())
}
