//! The self-test: proof that the suite's verdicts are right (docs/contracts.md section 4),
//! and, as modules of this one binary, the suite's other self-tests.
//!
//! Every `fixtures/impls/<suite>/manifest.toml` lists known-good and known-bad
//! implementations and the exact set of required/recommended checks each must fail. This
//! harness builds the C ones once, runs `conformance run <suite> --server-cmd|--client-cmd
//! CMD --format json` on each (one libtest-mimic trial per impl, `selftest::<suite>::<name>`),
//! asserts exactly those verdicts and that nothing of the impl survives the run. One more
//! trial, `selftest::manifests`, proves the manifests name real checks and that every
//! required/recommended check fails on at least one known-bad impl: no check is untested.
//!
//! The modules' trials are named by module: `engine::` (driver, commands, /proc, hints),
//! `interop::` (interop matrices and fuzzing), `grading::` (gradebooks, the Gradescope
//! bundle), `containment::` (hostile subjects, interrupts) and `reports::` (report formats
//! against their schemas). They were test binaries of their own, which cargo runs one after
//! another; most of their time is spent waiting (for deadlines, periods, subjects), so in one
//! pool with the fixture trials, ordered longest-first by the last run's durations, those
//! waits overlap the self-test's CPU-bound trials instead of adding to them
//! (`cargo test --test selftest -- engine::` runs one module).
//!
//! `cargo test -- --server-cmd ./tcpserver` passes that flag to every test binary of the
//! package; a student checking their own program does not want this self-test, so with a
//! subject command it runs nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use conformance_driver::command::MARKER_VAR;
use conformance_driver::procfs;
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use serde::Deserialize;
use serde_json::Value;

mod containment;
mod engine;
mod grading;
mod interop;
mod reports;

/// The suite under test, built by cargo for this test.
const CONFORMANCE: &str = env!("CARGO_BIN_EXE_conformance");

/// A whole `conformance run` on one impl must end within this (the slowest hello checks
/// run in parallel; this is far beyond them). `CONFORMANCE_SELFTEST_DEADLINE` (seconds)
/// overrides it for very slow machines.
const DEFAULT_RUN_DEADLINE: Duration = Duration::from_secs(120);

/// How long the impl's processes may take to vanish after the suite returned (the suite
/// already SIGKILLed and reaped them; this only absorbs /proc lag on a busy machine).
const SURVIVOR_GRACE: Duration = Duration::from_secs(5);

/// The expected duration of a module's trial (engine::, interop::...) that has no recorded
/// one (a fresh checkout, as in CI). Most take milliseconds, the long ones (interop
/// matrices, fuzz fixtures, gradebooks, hostile subjects) 5 to 40 s, and the name does not
/// tell which. 5 s: the guess for a fixture trial without a period ([`Job::guess_duration`]),
/// so that the two kinds tie and [`build_trials`] alternates them: the fixtures' interpreter
/// starts (CPU) then overlap the modules' waits. With 10 s all module trials ran first and
/// the fixture trials all together after them: a first run took 221 s instead of 188 s
/// (10 threads, two cores; the messages trials' sum 785 s instead of 398 s).
const MODULE_TRIAL_GUESS: Duration = Duration::from_secs(5);

/// How often we poll a child or /proc while waiting.
const POLL: Duration = Duration::from_millis(50);

#[derive(Debug, Deserialize)]
struct Manifest {
    #[serde(rename = "impl", default)]
    impls: Vec<Impl>,
}

/// One `[[impl]]` of a manifest, exactly the fields of docs/contracts.md section 4.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Impl {
    name: String,
    source: Option<String>,
    #[serde(default)]
    cflags: Vec<String>,
    role: String,
    command: String,
    model: Option<String>,
    period: Option<Number>,
    fail: Vec<String>,
    /// The exact set of required/recommended checks that must be reported `blocked`
    /// (not judged because a prerequisite failed); default none.
    #[serde(default)]
    blocked: Vec<String>,
    /// What the hint of a failed check must say: check id -> words it must contain
    /// (case-insensitive); words after a leading `not:` must not be in it. A failure that
    /// names the wrong cause is a wrong verdict for the student who reads it.
    #[serde(default)]
    hints: BTreeMap<String, String>,
    why: String,
}

/// `period` may be written as an integer or a float.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
enum Number {
    Int(i64),
    Float(f64),
}

impl std::fmt::Display for Number {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Number::Int(i) => write!(f, "{i}"),
            Number::Float(x) => write!(f, "{x}"),
        }
    }
}

/// A check as `conformance list --format json` describes it.
#[derive(Debug, Clone)]
struct CheckInfo {
    id: String,
    suite: String,
    role: String,
    level: String,
}

impl CheckInfo {
    /// Required and recommended checks are asserted; informational ones never.
    fn asserted(&self) -> bool {
        self.level == "required" || self.level == "recommended"
    }
}

/// A manifest read from disk: its suite (the folder name), folder and parsed content.
struct SuiteFixtures {
    suite: String,
    dir: PathBuf,
    manifest: Result<Manifest, String>,
}

/// What the harness was asked to do, after our own flags were taken out.
struct Options {
    args: Arguments,
    subject_given: bool,
    only_suite: Option<String>,
    /// `--slack SECS` for the suite's runs. None: the suite's own default, so the verdicts
    /// are proved at the settings students and CI use; a busy machine can pass more.
    slack: Option<String>,
}

fn main() {
    let opts = parse_options();
    if opts.subject_given {
        // A student's `cargo test -- --server-cmd ./tcpserver`: the conformance harness
        // serves them; the self-test has nothing to say about their program.
        libtest_mimic::run(&opts.args, Vec::new()).exit();
    }
    // SAFETY: no other thread exists yet: the trials (which start processes, reading the
    // environment) run on libtest-mimic's pool, started below; nothing before spawns one.
    unsafe {
        for (k, v) in engine::BUFFERING_ENV {
            std::env::set_var(k, v);
        }
    }
    let started = Instant::now();
    let trials = build_trials(&opts);
    let conclusion = libtest_mimic::run(&opts.args, trials);
    let durations = std::mem::take(&mut *lock(&DURATIONS));
    write_history(&durations);
    print_summary(&durations, started.elapsed());
    conclusion.exit();
}

fn parse_options() -> Options {
    let mut rest = Vec::new();
    let mut subject_given = false;
    let mut only_suite = None;
    let mut slack = None;
    let mut argv = std::env::args_os();
    if let Some(program) = argv.next() {
        rest.push(program);
    }
    while let Some(arg) = argv.next() {
        let text = arg.to_string_lossy().into_owned();
        let (flag, inline) = match text.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (text.clone(), None),
        };
        // One table of the harness flags for every test binary: conformance::args::FLAGS.
        if let Some(ours) = conformance::args::flag(&flag) {
            let value = match inline {
                Some(v) => Some(v),
                None if ours.takes_value => argv.next().map(|v| v.to_string_lossy().into_owned()),
                None => None,
            };
            match flag.as_str() {
                "--server-cmd" | "--client-cmd" => subject_given = true,
                "--suite" => only_suite = value,
                "--slack" => slack = value,
                _ => {}
            }
            continue;
        }
        rest.push(arg);
    }
    for var in ["CONFORMANCE_SERVER_CMD", "CONFORMANCE_CLIENT_CMD"] {
        if std::env::var_os(var).is_some_and(|v| !v.is_empty()) {
            subject_given = true;
        }
    }
    if only_suite.is_none() {
        only_suite = std::env::var("CONFORMANCE_SUITE")
            .ok()
            .filter(|s| !s.is_empty());
    }
    let mut args = Arguments::from_iter(rest);
    if args.test_threads.is_none() {
        args.test_threads = Some(default_threads());
    }
    Options {
        args,
        subject_given,
        only_suite,
        slack,
    }
}

/// Trials run at once unless `--test-threads` says otherwise: five per core, at least 2 and
/// at most 10. A trial spends most of its time waiting (for a deadline, a period, a
/// subject's reply); its CPU is nearly all the subjects' interpreters starting. Measured on
/// two cores with all 320 trials (fixtures and modules) in the pool: 8 threads took 191 to
/// 214 s (3 runs; both cores 76-82 % busy), 10 took 171 to 189 s (4 runs; 80-89 % busy),
/// every verdict holding at load 30-34; 12 took 170 and 194 s, and in one of the two runs at
/// load 44 an interop client did not exit within its 5 s and the memory hog of
/// containment::hostile::allocates-3-gb did not reach its limit (then 1 GiB) within the
/// startup deadline. The six test binaries one after another, as before: 258 s.
fn default_threads() -> usize {
    thread::available_parallelism().map_or(2, |n| (5 * n.get()).clamp(2, 10))
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `fixtures/impls/*/manifest.toml`, sorted by suite.
fn read_fixtures() -> Vec<SuiteFixtures> {
    let impls = repo_root().join("fixtures").join("impls");
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(&impls) else {
        return out;
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        let path = dir.join("manifest.toml");
        if !path.is_file() {
            continue;
        }
        let suite = entry.file_name().to_string_lossy().into_owned();
        let manifest = std::fs::read_to_string(&path)
            .map_err(|e| format!("{}: {e}", path.display()))
            .and_then(|text| {
                toml::from_str::<Manifest>(&text).map_err(|e| format!("{}: {e}", path.display()))
            });
        out.push(SuiteFixtures {
            suite,
            dir,
            manifest,
        });
    }
    out.sort_by(|a, b| a.suite.cmp(&b.suite));
    out
}

/// `conformance list --format json`: every check the suite knows. Accepts a top-level
/// array of checks or an object holding one under `checks`.
fn list_checks() -> Result<Vec<CheckInfo>, String> {
    let out = Command::new(CONFORMANCE)
        .args(["list", "--format", "json"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {CONFORMANCE}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`conformance list --format json` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let json: Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "`conformance list --format json` printed no JSON ({e}): {}",
            truncate(&String::from_utf8_lossy(&out.stdout), 400)
        )
    })?;
    let items = match &json {
        Value::Array(a) => a,
        Value::Object(o) => match o.get("checks") {
            Some(Value::Array(a)) => a,
            _ => return Err("`conformance list --format json`: no `checks` array".into()),
        },
        _ => return Err("`conformance list --format json`: neither array nor object".into()),
    };
    let field = |item: &Value, key: &str| {
        item.get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("a listed check has no string `{key}`: {item}"))
    };
    items
        .iter()
        .map(|item| {
            let id = field(item, "id")?;
            let suite = match field(item, "suite") {
                Ok(s) => s,
                Err(_) => id.split('.').next().unwrap_or_default().to_owned(),
            };
            Ok(CheckInfo {
                suite,
                role: field(item, "role")?,
                level: field(item, "level")?,
                id,
            })
        })
        .collect()
}

/// How long each trial took in this run, by trial name: every trial is built with [`timed`],
/// which records here.
static DURATIONS: Mutex<BTreeMap<String, Duration>> = Mutex::new(BTreeMap::new());

/// Records the trial's duration in [`DURATIONS`] when dropped: also when the trial panics.
struct Stopwatch {
    name: String,
    started: Instant,
}

impl Drop for Stopwatch {
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.name);
        lock(&DURATIONS).insert(name, self.started.elapsed());
    }
}

/// A trial whose duration is recorded (the next run starts the longest first).
pub(crate) fn timed(
    name: impl Into<String>,
    f: impl FnOnce() -> Result<(), Failed> + Send + 'static,
) -> Trial {
    timed_ignorable(name, move || f().map(|()| Completion::Completed))
}

/// [`timed`] for a trial that may find at run time that it cannot run here (a tool absent).
pub(crate) fn timed_ignorable(
    name: impl Into<String>,
    f: impl FnOnce() -> Result<Completion, Failed> + Send + 'static,
) -> Trial {
    let name = name.into();
    let key = name.clone();
    Trial::ignorable_test(name, move || {
        let _watch = Stopwatch {
            name: key,
            started: Instant::now(),
        };
        f()
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where each trial's last duration is kept between runs (cargo's scratch folder for
/// integration tests). Only the order of the trials depends on it.
fn history_path() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("selftest-durations.tsv")
}

/// The last recorded duration of each trial: `name<TAB>milliseconds` lines. A missing or
/// garbled file is no history (the trials are then ordered by [`Job::guess_duration`]).
fn read_history() -> BTreeMap<String, Duration> {
    std::fs::read_to_string(history_path())
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let (name, ms) = line.split_once('\t')?;
            Some((
                name.to_owned(),
                Duration::from_millis(ms.trim().parse().ok()?),
            ))
        })
        .collect()
}

/// Adds this run's durations to the history (trials not run keep their old figure).
fn write_history(now: &BTreeMap<String, Duration>) {
    if now.is_empty() {
        return;
    }
    let mut all = read_history();
    all.extend(now.iter().map(|(k, v)| (k.clone(), *v)));
    let text: String = all
        .iter()
        .map(|(k, v)| format!("{k}\t{}\n", v.as_millis()))
        .collect();
    // Best effort: without the file the next run is only ordered less well.
    let _ = std::fs::write(history_path(), text);
}

/// Per group (a fixture suite for `selftest::<suite>::x`, else the module: `engine`,
/// `interop`...): the trials run, the sum of their durations and the longest one; then the
/// run's wall time (stderr, after libtest's summary).
fn print_summary(durations: &BTreeMap<String, Duration>, wall: Duration) {
    let mut per_suite: BTreeMap<&str, (usize, Duration, Duration, &str)> = BTreeMap::new();
    for (name, d) in durations {
        let mut segments = name.split("::");
        let first = segments.next().unwrap_or("?");
        let suite = if first == "selftest" {
            segments.next().unwrap_or("?")
        } else {
            first
        };
        let e = per_suite
            .entry(suite)
            .or_insert((0, Duration::ZERO, Duration::ZERO, ""));
        e.0 += 1;
        e.1 += *d;
        if *d > e.2 {
            e.2 = *d;
            e.3 = name;
        }
    }
    if per_suite.is_empty() {
        return;
    }
    eprintln!("self-test time per suite or module (sum of its trials; longest trial):");
    for (suite, (n, sum, max, name)) in &per_suite {
        eprintln!(
            "  {suite:<12} {n:>3} trials {:>7.1} s  longest {:>5.1} s ({name})",
            sum.as_secs_f64(),
            max.as_secs_f64()
        );
    }
    let sum: Duration = durations.values().sum();
    eprintln!(
        "  all          {:>3} trials {:>7.1} s in {:.1} s of wall time",
        durations.len(),
        sum.as_secs_f64(),
        wall.as_secs_f64()
    );
}

/// Every trial, the longest expected first: the trials run on a pool of threads in this
/// order, so the long waits overlap each other and the short trials fill in around them.
/// Trials expected to take as long as each other keep the order they are collected in: a
/// module trial, a fixture trial, a module trial... (see [`MODULE_TRIAL_GUESS`]).
fn build_trials(opts: &Options) -> Vec<Trial> {
    let history = read_history();
    let fixtures = collect_trials(opts, &history);
    let modules = [
        engine::trials(),
        interop::trials(),
        grading::trials(),
        containment::trials(),
        reports::trials(),
    ];
    let modules = modules.into_iter().flatten().map(|trial| {
        let expected = history
            .get(trial.name())
            .copied()
            .unwrap_or(MODULE_TRIAL_GUESS);
        (expected, trial)
    });
    let mut trials = interleave(modules, fixtures);
    trials.sort_by_key(|(expected, _)| std::cmp::Reverse(*expected));
    trials.into_iter().map(|(_, t)| t).collect()
}

/// `a0, b0, a1, b1...`, then what remains of the longer one.
fn interleave<T>(a: impl IntoIterator<Item = T>, b: impl IntoIterator<Item = T>) -> Vec<T> {
    let (mut a, mut b) = (a.into_iter().fuse(), b.into_iter().fuse());
    let mut out = Vec::new();
    loop {
        match (a.next(), b.next()) {
            (None, None) => return out,
            (x, y) => out.extend(x.into_iter().chain(y)),
        }
    }
}

fn collect_trials(opts: &Options, history: &BTreeMap<String, Duration>) -> Vec<(Duration, Trial)> {
    let fixtures = read_fixtures();
    let listed = list_checks();
    let known: BTreeSet<String> = match &listed {
        Ok(checks) => checks.iter().map(|c| c.suite.clone()).collect(),
        Err(_) => BTreeSet::new(),
    };
    let wanted = |suite: &str| opts.only_suite.as_deref().is_none_or(|s| s == suite);

    let mut trials = Vec::new();
    {
        let listed = listed.clone();
        let problems = manifest_problems_all(&fixtures, listed);
        trials.push((
            Duration::MAX,
            timed("selftest::manifests", move || {
                if problems.is_empty() {
                    Ok(())
                } else {
                    Err(problems.join("\n").into())
                }
            }),
        ));
    }

    // Each trial builds its own C program when it starts: only what runs is built, and the
    // builds overlap as the trials do. `--list` builds nothing.
    let build_dir = if opts.args.list {
        None
    } else {
        match tempfile::Builder::new().prefix("selftest-build").tempdir() {
            Ok(d) => Some(Arc::new(d)),
            Err(e) => {
                let msg = format!("cannot create a temporary build folder: {e}");
                trials.push((
                    Duration::MAX,
                    timed("selftest::build", move || Err(msg.into())),
                ));
                None
            }
        }
    };
    {
        let problems = match &listed {
            Ok(checks) => readme_problems(&fixtures, checks),
            Err(e) => vec![e.clone()],
        };
        trials.push((
            Duration::MAX,
            timed("selftest::readmes", move || {
                if problems.is_empty() {
                    Ok(())
                } else {
                    Err(problems.join("\n").into())
                }
            }),
        ));
    }

    for fx in &fixtures {
        let Ok(manifest) = &fx.manifest else { continue };
        if !wanted(&fx.suite) {
            continue;
        }
        let checks: Vec<CheckInfo> = match &listed {
            Ok(c) => c.iter().filter(|c| c.suite == fx.suite).cloned().collect(),
            Err(_) => Vec::new(),
        };
        for imp in &manifest.impls {
            let name = format!("selftest::{}::{}", fx.suite, imp.name);
            let kind = fx.suite.clone();
            if !known.contains(&fx.suite) {
                // The CLI does not list this suite yet: nothing to hold it to.
                trials.push((
                    Duration::ZERO,
                    timed(name, || Ok(()))
                        .with_kind(kind)
                        .with_ignored_flag(true),
                ));
                continue;
            }
            let job = Job {
                suite: fx.suite.clone(),
                dir: fx.dir.clone(),
                imp: imp.clone(),
                checks: checks.clone(),
                slack: opts.slack.clone(),
                // Keeps the build folder alive until the last trial is done.
                build_dir: build_dir.clone(),
            };
            let expected = history
                .get(&name)
                .copied()
                .unwrap_or_else(|| job.guess_duration());
            trials.push((expected, timed(name, move || job.run()).with_kind(kind)));
        }
    }
    trials
}

/// The lines that open and close the generated coverage table in a fixture README.
const TABLE_BEGIN: &str = "<!-- coverage: generated from manifest.toml by the self-test \
(SELFTEST_BLESS=1 cargo test --test selftest -- selftest::readmes); do not edit -->";
const TABLE_END: &str = "<!-- end coverage -->";

/// The coverage table of one suite: every check in registry order, with the known-bad impls
/// whose `fail` names it and those that must report it blocked. From the manifest only, so
/// the README cannot say what the self-test does not assert.
fn coverage_table(manifest: &Manifest, checks: &[&CheckInfo]) -> String {
    let mut t = String::from(
        "| check | level | known-bad implementations that must fail it |\n| --- | --- | --- |\n",
    );
    for c in checks {
        let code = |name: &str| format!("`{name}`");
        let mut cell: Vec<String> = manifest
            .impls
            .iter()
            .filter(|i| i.role == c.role && i.fail.contains(&c.id))
            .map(|i| code(&i.name))
            .collect();
        cell.extend(
            manifest
                .impls
                .iter()
                .filter(|i| i.role == c.role && i.blocked.contains(&c.id))
                .map(|i| format!("{} (blocked)", code(&i.name))),
        );
        let cell = if !c.asserted() {
            "(informational: not asserted)".to_owned()
        } else if cell.is_empty() {
            "(none: the self-test's manifests trial fails)".to_owned()
        } else {
            cell.join(", ")
        };
        let _ = writeln!(t, "| `{}` | {} | {cell} |", c.id, c.level);
    }
    t
}

/// `text` with the block between [`TABLE_BEGIN`] and [`TABLE_END`] replaced by `table`;
/// None when the markers are missing or out of order.
fn with_table(text: &str, table: &str) -> Option<String> {
    let begin = text.find(TABLE_BEGIN)? + TABLE_BEGIN.len();
    let end = begin + text.get(begin..)?.find(TABLE_END)?;
    Some(format!("{}\n{table}{}", &text[..begin], &text[end..]))
}

/// Every fixture README whose coverage table is not what its manifest generates. With
/// `SELFTEST_BLESS=1` the tables are rewritten instead (and only unmarked READMEs remain).
fn readme_problems(fixtures: &[SuiteFixtures], listed: &[CheckInfo]) -> Vec<String> {
    let bless = std::env::var_os("SELFTEST_BLESS").is_some_and(|v| v == "1");
    let mut problems = Vec::new();
    for fx in fixtures {
        let Ok(manifest) = &fx.manifest else { continue };
        let checks: Vec<&CheckInfo> = listed.iter().filter(|c| c.suite == fx.suite).collect();
        if checks.is_empty() {
            continue;
        }
        let path = fx.dir.join("README.md");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let Some(want) = with_table(&text, &coverage_table(manifest, &checks)) else {
            problems.push(format!(
                "{}: no generated coverage table: add the two lines\n{TABLE_BEGIN}\n{TABLE_END}",
                path.display()
            ));
            continue;
        };
        if want == text {
            continue;
        }
        if bless {
            if let Err(e) = std::fs::write(&path, want) {
                problems.push(format!("{}: {e}", path.display()));
            }
        } else {
            problems.push(format!(
                "{}: the coverage table differs from manifest.toml: run \
                 SELFTEST_BLESS=1 cargo test --test selftest -- selftest::readmes",
                path.display()
            ));
        }
    }
    problems
}

/// gcc exactly as the contract says: `gcc -O2 -Wall -Werror -pthread <cflags> -o OUT SRC`.
fn build_c(dir: &Path, imp: &Impl, out: &Path) -> Result<PathBuf, String> {
    let source = dir.join(imp.source.as_deref().unwrap_or_default());
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    let result = Command::new("gcc")
        .args(["-O2", "-Wall", "-Werror", "-pthread"])
        .args(&imp.cflags)
        .arg("-o")
        .arg(out)
        .arg(&source)
        .stdin(Stdio::null())
        .output();
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(
            "gcc not found on PATH: the C fixtures are built with gcc; install it (apt-get install gcc)"
                .into(),
        ),
        Err(e) => Err(format!("cannot run gcc: {e}")),
        Ok(o) if !o.status.success() => Err(format!(
            "gcc -O2 -Wall -Werror -pthread {} -o {} {} failed:\n{}",
            imp.cflags.join(" "),
            out.display(),
            source.display(),
            String::from_utf8_lossy(&o.stderr)
        )),
        Ok(_) => Ok(out.to_path_buf()),
    }
}

fn manifest_problems_all(
    fixtures: &[SuiteFixtures],
    listed: Result<Vec<CheckInfo>, String>,
) -> Vec<String> {
    let checks = match listed {
        Ok(c) => c,
        Err(e) => return vec![e],
    };
    let mut problems = Vec::new();
    for fx in fixtures {
        match &fx.manifest {
            Err(e) => problems.push(e.clone()),
            Ok(m) => {
                let suite_checks: Vec<&CheckInfo> =
                    checks.iter().filter(|c| c.suite == fx.suite).collect();
                if suite_checks.is_empty() {
                    // Not listed by the CLI yet: only its syntax is held to account.
                    continue;
                }
                problems.extend(manifest_problems(&fx.suite, &fx.dir, m, &suite_checks));
            }
        }
    }
    problems
}

/// Everything wrong with one manifest, as sentences.
fn manifest_problems(
    suite: &str,
    dir: &Path,
    manifest: &Manifest,
    checks: &[&CheckInfo],
) -> Vec<String> {
    let mut p = Vec::new();
    let by_id: BTreeMap<&str, &CheckInfo> = checks.iter().map(|c| (c.id.as_str(), *c)).collect();
    let mut names = BTreeSet::new();
    for imp in &manifest.impls {
        let at = format!("{suite}/{}", imp.name);
        if !names.insert(imp.name.as_str()) {
            p.push(format!("{at}: the name is used twice"));
        }
        if imp.role != "server" && imp.role != "client" {
            p.push(format!(
                "{at}: role `{}` is neither server nor client",
                imp.role
            ));
        }
        if let Some(m) = &imp.model {
            if !["iterative", "threaded", "event-driven"].contains(&m.as_str()) {
                p.push(format!("{at}: unknown model `{m}`"));
            }
        }
        if imp.why.trim().is_empty() {
            p.push(format!("{at}: `why` is empty"));
        }
        if shlex::split(&imp.command).is_none_or(|t| t.is_empty()) {
            p.push(format!(
                "{at}: command `{}` does not split into words",
                imp.command
            ));
        }
        match &imp.source {
            Some(src) => {
                if !dir.join(src).is_file() {
                    p.push(format!("{at}: source {src} does not exist"));
                }
                if !imp.command.contains("{bin}") {
                    p.push(format!(
                        "{at}: has a source but its command does not use {{bin}}"
                    ));
                }
            }
            None => {
                if imp.command.contains("{bin}") {
                    p.push(format!("{at}: command uses {{bin}} but there is no source"));
                }
                if !imp.cflags.is_empty() {
                    p.push(format!("{at}: cflags without a source"));
                }
            }
        }
        for (id, words) in &imp.hints {
            if !imp.fail.contains(id) {
                p.push(format!(
                    "{at}: hints names {id}, which is not in `fail` (only a failure has a hint)"
                ));
            }
            if words.trim().is_empty() || words.trim() == "not:" {
                p.push(format!("{at}: the hint words for {id} are empty"));
            }
        }
        let mut seen = BTreeSet::new();
        for id in imp.fail.iter().chain(&imp.blocked) {
            if !seen.insert(id) {
                p.push(format!("{at}: {id} is listed twice"));
            }
            match by_id.get(id.as_str()) {
                None => p.push(format!("{at}: {id} is no check of suite {suite}")),
                Some(c) if c.role != imp.role => p.push(format!(
                    "{at}: {id} is a {} check, the impl a {}",
                    c.role, imp.role
                )),
                Some(c) if !c.asserted() => p.push(format!(
                    "{at}: {id} is {}: only required/recommended checks are asserted",
                    c.level
                )),
                Some(_) => {}
            }
        }
    }
    // No check is untested: each one fails on some known-bad impl of its role.
    for c in checks.iter().filter(|c| c.asserted()) {
        let covered = manifest
            .impls
            .iter()
            .any(|i| i.role == c.role && i.fail.contains(&c.id));
        if !covered {
            p.push(format!(
                "{suite}: {} ({}) fails on no known-bad impl: add one to fixtures/impls/{suite}/",
                c.id, c.level
            ));
        }
    }
    p
}

/// One impl's trial.
struct Job {
    suite: String,
    dir: PathBuf,
    imp: Impl,
    checks: Vec<CheckInfo>,
    slack: Option<String>,
    build_dir: Option<Arc<tempfile::TempDir>>,
}

impl Job {
    /// Without a recorded duration: a multiclient run watches two periods; any other run is
    /// taken as short. Only the order of the trials depends on it.
    fn guess_duration(&self) -> Duration {
        let period = self.imp.period.map_or(0.0, |p| match p {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        });
        Duration::from_secs_f64(2.0 * period.max(0.0) + 5.0)
    }

    fn run(&self) -> Result<(), Failed> {
        let bin = match &self.imp.source {
            Some(_) => {
                let dir = self
                    .build_dir
                    .as_ref()
                    .ok_or("no build folder for the C source")?;
                let out = dir.path().join(&self.suite).join(&self.imp.name);
                Some(build_c(&self.dir, &self.imp, &out)?)
            }
            None => None,
        };
        let mut command = self.command(bin.as_deref())?;
        if let Some(rest) = command.strip_prefix("python3 ") {
            let exe = python_exe()?;
            let exe = shlex::try_quote(&exe)
                .map_err(|e| format!("cannot quote {exe}: {e}"))?
                .into_owned();
            // -S: no `site` at start-up. The fixtures use only the standard library, and the
            // .pth hooks of site-packages run at every start, whatever they do: on the
            // machine this was measured on, one imports certifi, 53 ms of CPU per start
            // instead of 10 ms. The self-test starts thousands of interpreters and is bound
            // by that CPU; the fixtures then behave the same on any installation.
            command = format!("{exe} -S {rest}");
        }
        let words = shlex::split(&command)
            .filter(|w| !w.is_empty())
            .ok_or_else(|| format!("command `{command}` does not split into words"))?;

        let mut args: Vec<String> = vec!["run".into(), self.suite.clone()];
        args.push(
            if self.imp.role == "client" {
                "--client-cmd"
            } else {
                "--server-cmd"
            }
            .into(),
        );
        args.push(command.clone());
        if let Some(m) = &self.imp.model {
            args.extend(["--model".into(), m.clone()]);
        }
        if let Some(p) = self.imp.period {
            args.extend(["--period".into(), p.to_string()]);
        }
        if let Some(slack) = &self.slack {
            args.extend(["--slack".into(), slack.clone()]);
        }
        args.extend(["--format".into(), "json".into()]);

        let mut suite_pid = None;
        let verdict = run_suite(&args, &mut suite_pid).and_then(|out| self.judge(&out));
        // Always look for survivors, even after a wrong verdict: a leak is worth knowing.
        let survivors = survivors(&words, suite_pid);
        let mut msg = String::new();
        if let Err(e) = verdict {
            msg.push_str(&e);
        }
        if !survivors.is_empty() {
            if !msg.is_empty() {
                msg.push('\n');
            }
            let _ = write!(
                msg,
                "processes of the impl survived the run (killed now):\n{}",
                survivors.join("\n")
            );
        }
        if msg.is_empty() {
            Ok(())
        } else {
            Err(format!("{}\n  [conformance {}]", msg, shell_words(&args)).into())
        }
    }

    /// The manifest's command with `{bin}` and `{dir}` filled in (shell-quoted).
    fn command(&self, bin: Option<&Path>) -> Result<String, String> {
        let quote = |p: &Path| {
            let s = p.to_string_lossy().into_owned();
            shlex::try_quote(&s)
                .map(|q| q.into_owned())
                .map_err(|e| format!("cannot quote {s}: {e}"))
        };
        let mut cmd = self.imp.command.replace("{dir}", &quote(&self.dir)?);
        if let Some(b) = bin {
            cmd = cmd.replace("{bin}", &quote(b)?);
        }
        Ok(cmd)
    }

    /// Compares the report with the manifest: the failed required/recommended checks must
    /// be exactly `fail`, and nothing may have errored.
    fn judge(&self, out: &SuiteOutput) -> Result<(), String> {
        let json: Value = serde_json::from_str(&out.stdout).map_err(|e| {
            format!(
                "the suite printed no JSON report ({e}; exit {}):\nstdout: {}\nstderr: {}",
                out.status,
                truncate(&out.stdout, 2000),
                truncate(&out.stderr, 2000)
            )
        })?;
        let reported = json
            .get("checks")
            .and_then(Value::as_array)
            .ok_or("the JSON report has no `checks` array")?;
        let text = |c: &Value, k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_owned();

        let mut failed = BTreeSet::new();
        let mut blocked = BTreeSet::new();
        let mut errored = Vec::new();
        let mut by_id: BTreeMap<String, &Value> = BTreeMap::new();
        for c in reported {
            let id = text(c, "id");
            let level = text(c, "level");
            let status = text(c, "status");
            if status == "errored" {
                errored.push(format!("  {id}: {}", text(c, "message")));
            }
            if (level == "required" || level == "recommended") && status == "failed" {
                failed.insert(id.clone());
            }
            if (level == "required" || level == "recommended") && status == "blocked" {
                blocked.insert(id.clone());
            }
            by_id.insert(id, c);
        }
        let expected: BTreeSet<String> = self.imp.fail.iter().cloned().collect();
        let expected_blocked: BTreeSet<String> = self.imp.blocked.iter().cloned().collect();
        // Every asserted check of the role must appear in the report (passed or skipped
        // counts): a check that silently did not run proves nothing.
        let missing: Vec<&str> = self
            .checks
            .iter()
            .filter(|c| c.asserted() && c.role == self.imp.role && !by_id.contains_key(&c.id))
            .map(|c| c.id.as_str())
            .collect();

        let wrong_hints: Vec<String> = self
            .imp
            .hints
            .iter()
            .filter(|(id, _)| failed.contains(*id))
            .filter_map(|(id, words)| {
                let hint = by_id.get(id).map(|c| text(c, "hint")).unwrap_or_default();
                hint_problem(&hint, words).map(|p| format!("  {id}: {p}"))
            })
            .collect();

        if failed == expected
            && blocked == expected_blocked
            && errored.is_empty()
            && missing.is_empty()
            && wrong_hints.is_empty()
        {
            return Ok(());
        }
        if failed == expected
            && blocked == expected_blocked
            && errored.is_empty()
            && missing.is_empty()
        {
            return Err(format!(
                "{} ({}): the verdicts are right but a hint names the wrong cause\n  why: {}\n{}",
                self.imp.name,
                self.imp.role,
                self.imp.why,
                wrong_hints.join("\n")
            ));
        }
        let mut m = format!(
            "{} ({}): the suite's verdicts differ from the manifest\n  why: {}\n  expected to fail: {}\n  actually failed:  {}\n",
            self.imp.name,
            self.imp.role,
            self.imp.why,
            set_text(&expected),
            set_text(&failed)
        );
        for id in failed.difference(&expected) {
            let c = by_id.get(id);
            let _ = writeln!(
                m,
                "  failed but expected to pass: {id}\n    {}",
                c.map(|c| text(c, "message")).unwrap_or_default()
            );
            if let Some(h) = c.map(|c| text(c, "hint")).filter(|h| !h.is_empty()) {
                let _ = writeln!(m, "    hint: {h}");
            }
        }
        for id in expected.difference(&failed) {
            let (status, message) = match by_id.get(id) {
                Some(c) => (text(c, "status"), text(c, "message")),
                None => ("not reported".into(), String::new()),
            };
            let _ = writeln!(m, "  expected to fail but {status}: {id} {message}");
        }
        if blocked != expected_blocked {
            let _ = writeln!(
                m,
                "  expected blocked: {}\n  actually blocked: {}",
                set_text(&expected_blocked),
                set_text(&blocked)
            );
        }
        if !errored.is_empty() {
            let _ = writeln!(
                m,
                "  errored (the suite could not run them):\n{}",
                errored.join("\n")
            );
        }
        if !missing.is_empty() {
            let _ = writeln!(m, "  not in the report: {}", missing.join(", "));
        }
        Err(m)
    }
}

/// Why `hint` does not say what the manifest's `words` ask (see [`Impl::hints`]), if so.
fn hint_problem(hint: &str, words: &str) -> Option<String> {
    let have = hint.to_lowercase();
    let (want, forbidden) = match words.split_once("not:") {
        Some((want, not)) => (want.trim(), not.trim()),
        None => (words.trim(), ""),
    };
    if hint.is_empty() && !want.is_empty() {
        return Some(format!("no hint; it should say {want:?}"));
    }
    if !want.is_empty() && !have.contains(&want.to_lowercase()) {
        return Some(format!("the hint does not say {want:?}: {hint:?}"));
    }
    if !forbidden.is_empty() && have.contains(&forbidden.to_lowercase()) {
        return Some(format!(
            "the hint says {forbidden:?}, which it must not: {hint:?}"
        ));
    }
    None
}

fn set_text(s: &BTreeSet<String>) -> String {
    if s.is_empty() {
        "(none)".into()
    } else {
        s.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

fn shell_words(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            shlex::try_quote(a)
                .map(|q| q.into_owned())
                .unwrap_or_else(|_| a.clone())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &s[..end], s.len())
}

/// The interpreter `python3` really is (`sys.executable`), found once. A version manager's
/// shim (pyenv: bash running more bash) costs ~0.1 s of CPU per start; a busy machine
/// starting a dozen servers at once then misses the suite's startup deadline, which
/// would measure the shim, not the program.
fn python_exe() -> Result<String, String> {
    static EXE: OnceLock<Result<String, String>> = OnceLock::new();
    EXE.get_or_init(|| {
        match Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .stdin(Stdio::null())
            .output()
        {
            Ok(o) if o.status.success() => {
                let exe = String::from_utf8_lossy(&o.stdout).trim().to_owned();
                Ok(if exe.is_empty() {
                    "python3".to_owned()
                } else {
                    exe
                })
            }
            Ok(o) => Err(format!(
                "python3 failed ({}): the Python fixtures need python3",
                o.status
            )),
            Err(e) => Err(format!(
                "python3 not found on PATH ({e}): the Python fixtures need python3"
            )),
        }
    })
    .clone()
}

struct SuiteOutput {
    status: String,
    stdout: String,
    stderr: String,
}

fn run_deadline() -> Duration {
    std::env::var("CONFORMANCE_SELFTEST_DEADLINE")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map_or(DEFAULT_RUN_DEADLINE, Duration::from_secs)
}

/// Runs the suite with a deadline; exit status 2 (usage, or the suite could not run) is
/// an error, 0 and 1 are verdicts.
/// `pid` is set to the suite's process ID as soon as it runs (its subjects carry it in
/// their marker, see [`survivors`]).
fn run_suite(args: &[String], pid: &mut Option<u32>) -> Result<SuiteOutput, String> {
    let mut child = Command::new(CONFORMANCE)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {CONFORMANCE}: {e}"))?;
    *pid = Some(child.id());
    // Drain both pipes on threads so a large report never blocks the suite.
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = run_deadline();
    let status = wait_with_deadline(&mut child, deadline);
    // A process of the subject that escaped the suite could still hold a pipe open: take
    // what has arrived within a grace period rather than wait for its end.
    let stdout = stdout.recv_timeout(SURVIVOR_GRACE).unwrap_or_default();
    let stderr = stderr.recv_timeout(SURVIVOR_GRACE).unwrap_or_default();
    let status = match status {
        Some(s) => s,
        None => {
            return Err(format!(
                "the suite did not finish within {} s (killed)\nstderr: {}",
                deadline.as_secs(),
                truncate(&stderr, 2000)
            ));
        }
    };
    if status.code() == Some(2) || status.code().is_none() {
        return Err(format!(
            "the suite could not run ({status}):\nstderr: {}\nstdout: {}",
            truncate(&stderr, 2000),
            truncate(&stdout, 500)
        ));
    }
    Ok(SuiteOutput {
        status: status.to_string(),
        stdout,
        stderr,
    })
}

/// Reads a pipe to its end on a thread; the text arrives on the returned channel.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
    });
    rx
}

/// The exit status, or None after killing the child at the deadline.
fn wait_with_deadline(child: &mut Child, deadline: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Some(s),
            Ok(None) if start.elapsed() < deadline => thread::sleep(POLL),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// Processes still running the impl once the suite is done, after a grace period; any
/// found are killed (they are ours: started by the suite for this impl).
fn survivors(words: &[String], suite_pid: Option<u32>) -> Vec<String> {
    let start = Instant::now();
    loop {
        let found = matching_processes(words, suite_pid);
        if found.is_empty() {
            return Vec::new();
        }
        if start.elapsed() >= SURVIVOR_GRACE {
            for (pid, _) in &found {
                if let Some(p) = rustix::process::Pid::from_raw(*pid) {
                    let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
                }
            }
            return found
                .into_iter()
                .map(|(pid, cmd)| format!("  pid {pid}: {cmd}"))
                .collect();
        }
        thread::sleep(POLL);
    }
}

/// The processes this trial's suite run left behind. Every subject the suite starts carries
/// `CONFORMANCE_SUBJECT=<suite pid>.<n>` in its environment, and its children inherit it:
/// a process with this run's marker is ours whatever it runs. A process without any marker
/// (one that cleared its environment) is ours when its command line runs this impl: a
/// single-word command (a built binary) matches any argument equal to it; otherwise the
/// words after the interpreter must appear in a row, not followed by another `--option` (so
/// `server.py` does not match a concurrently running `server.py --defect x`). A process with
/// another run's marker belongs to a trial running beside this one and is left alone.
fn matching_processes(words: &[String], suite_pid: Option<u32>) -> Vec<(i32, String)> {
    let ours = suite_pid.map(|p| format!("{p}."));
    let me = std::process::id();
    let mut out = Vec::new();
    for pid in procfs::all_pids() {
        if u32::try_from(pid).ok() == Some(me) {
            continue;
        }
        let Some(argv) = procfs::cmdline(pid) else {
            continue;
        };
        // The suite's own command line carries the impl's command as one argument.
        if argv
            .first()
            .is_some_and(|a| a == CONFORMANCE || a.ends_with("/conformance"))
        {
            continue;
        }
        let mine = match (procfs::env_var(pid, MARKER_VAR), &ours) {
            (Some(m), Some(o)) => m.starts_with(o.as_str()),
            (Some(_), None) | (None, _) => runs_impl(&argv, words),
        };
        if mine {
            out.push((pid, argv.join(" ")));
        }
    }
    out
}

fn runs_impl(argv: &[String], words: &[String]) -> bool {
    match words {
        [] => false,
        [bin] => argv.iter().any(|a| a == bin),
        [_, rest @ ..] => argv.windows(rest.len()).enumerate().any(|(i, w)| {
            w == rest
                && argv
                    .get(i + rest.len())
                    .is_none_or(|next| !next.starts_with("--"))
        }),
    }
}
