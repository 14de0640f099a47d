//! Stress: many runs of the suite at once against the reference programs and the
//! known-good Python fixtures, under CPU oversubscription, reporting every check whose
//! verdict differs between runs of the same subject (a flip: the suite is not
//! deterministic). Not a timed test: figures for the note.
//!
//!     cargo run --release --example stress -- --runs 8 [--parallel 4] [--jobs 4] [--suite S]
//!
//! The runs share this process (each check still gets its own namespaces, cgroup and
//! ports); the reference programs are this binary's `ref` subcommand.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use conformance::check::{Check, Model, Outcome, Role};
use conformance::driver::command::CommandSpec;
use conformance::driver::{RunConfig, SubjectCmd, run_checks};
use conformance::suites;

/// One subject to run again and again.
struct Subject {
    name: String,
    cfg: Arc<RunConfig>,
    checks: Vec<&'static Check>,
}

/// (subject, check) -> each status seen, with the first message that came with it.
type Seen = BTreeMap<(String, &'static str), BTreeMap<&'static str, String>>;

fn status(o: &Outcome) -> &'static str {
    match o {
        Outcome::Passed => "passed",
        Outcome::Failed(_) => "failed",
        Outcome::Skipped(_) => "skipped",
        Outcome::Errored(_) => "errored",
        Outcome::Blocked { .. } => "blocked",
    }
}

fn arg(args: &[String], flag: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The reference programs, and the known-good Python servers and clients of every manifest.
fn subjects(exe: &std::path::Path, only_suite: Option<&str>) -> Vec<Subject> {
    let mut out = Vec::new();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for suite in suites::SUITES {
        if only_suite.is_some_and(|s| s != suite.name) {
            continue;
        }
        let mut cfg = RunConfig::reference(exe.to_path_buf());
        cfg.model = Some(Model::Threaded);
        cfg.timing = cfg.timing.with_period(None, true);
        out.push(Subject {
            name: format!("{}/references", suite.name),
            cfg: Arc::new(cfg),
            checks: suite.checks.iter().collect(),
        });
        let dir = root.join("fixtures/impls").join(suite.name);
        let Ok(text) = std::fs::read_to_string(dir.join("manifest.toml")) else {
            continue;
        };
        let Ok(doc) = text.parse::<toml::Table>() else {
            continue;
        };
        for imp in doc
            .get("impl")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            let get = |k: &str| imp.get(k).and_then(|v| v.as_str()).unwrap_or("");
            let good = imp
                .get("fail")
                .and_then(|v| v.as_array())
                .is_some_and(|a| a.is_empty())
                && imp.get("blocked").is_none();
            let command = get("command");
            if !good || imp.get("source").is_some() || !command.starts_with("python3") {
                continue;
            }
            let line = command.replace("{dir}", &dir.to_string_lossy());
            let Ok(spec) = CommandSpec::parse(&line) else {
                continue;
            };
            let role = if get("role") == "client" {
                Role::Client
            } else {
                Role::Server
            };
            let mut cfg = RunConfig::reference(exe.to_path_buf());
            match role {
                Role::Server => cfg.server = SubjectCmd::Command(spec),
                Role::Client => cfg.client = SubjectCmd::Command(spec),
            }
            cfg.model = Model::parse(get("model"));
            let period = imp
                .get("period")
                .and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
                .map(Duration::from_secs_f64);
            cfg.timing = cfg.timing.with_period(period, false);
            out.push(Subject {
                name: format!("{}/{}", suite.name, get("name")),
                cfg: Arc::new(cfg),
                checks: suite.checks.iter().filter(|c| c.role == role).collect(),
            });
        }
    }
    out
}

fn main() {
    let raw: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if raw.get(1).is_some_and(|a| a == "ref") {
        let program = raw
            .get(2)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let code = reference::run(&program, &raw[3.min(raw.len())..]);
        std::process::exit(code);
    }
    let args: Vec<String> = std::env::args().collect();
    let runs: usize = arg(&args, "--runs")
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let parallel: usize = arg(&args, "--parallel")
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let jobs: usize = arg(&args, "--jobs")
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let suite = arg(&args, "--suite");
    let exe = std::env::current_exe().expect("own executable");
    let subjects = subjects(&exe, suite.as_deref());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "stress: {runs} runs of {} subjects, {parallel} runs at once x {jobs} checks each on {cores} cores ({}x oversubscribed)",
        subjects.len(),
        (parallel * jobs) / cores.max(1)
    );
    let seen: Mutex<Seen> = Mutex::default();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..parallel.min(runs) {
            s.spawn(|| {
                loop {
                    let run = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if run >= runs {
                        break;
                    }
                    let t = Instant::now();
                    for subj in &subjects {
                        let reports = run_checks(&subj.checks, &subj.cfg, jobs, &|_| {});
                        let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                        for r in reports {
                            let msg = match &r.outcome {
                                Outcome::Failed(f) => f.actual.clone(),
                                Outcome::Errored(e) => e.to_string(),
                                Outcome::Blocked { by, .. } => format!("blocked by {by}"),
                                _ => String::new(),
                            };
                            seen.entry((subj.name.clone(), r.check.id))
                                .or_default()
                                .entry(status(&r.outcome))
                                .or_insert(msg);
                        }
                    }
                    println!("run {run} done in {:.1} s", t.elapsed().as_secs_f64());
                }
            });
        }
    });
    let seen = seen.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut flips = 0;
    let mut subjects_seen = BTreeSet::new();
    for ((subject, id), statuses) in &seen {
        subjects_seen.insert(subject.clone());
        if statuses.len() > 1 {
            flips += 1;
            println!("FLIP {subject} {id}:");
            for (st, msg) in statuses {
                println!("    {st}: {msg}");
            }
        }
    }
    println!(
        "stress: {} checks of {} subjects over {runs} runs in {:.1} s: {flips} verdict flips",
        seen.len(),
        subjects_seen.len(),
        started.elapsed().as_secs_f64()
    );
    std::process::exit(i32::from(flips > 0));
}
