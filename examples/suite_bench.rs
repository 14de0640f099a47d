//! A benchmark of the suite itself (issue 11): how fast it reaches its verdicts and how little
//! of the machine it takes beside the programs it tests. Timings are figures to report, never
//! assertions (the tests have none).
//!
//! `cargo build --release && cargo run --release --example suite_bench [-- --skip-checks]`
//!
//! 1. Every check against the references, one at a time, in this process: its wall time, the
//!    suite's own CPU time (this process, every thread: /proc/self/stat utime+stime) and the
//!    subjects' CPU time (the children it reaped: cutime+cstime). Ticks of 10 ms, so a single
//!    check's figures are coarse; the totals are not.
//! 2. `run all` against the references (every check, 8 at a time, longest first): its wall time
//!    against its longest check.
//! 3. From the last self-test run (`cargo test --test selftest` records each trial's duration in
//!    target/tmp/selftest-durations.tsv): the time to verdict of each fixture family (suite,
//!    role, known-good or known-bad) and the self-test's time per suite.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use conformance::check::{Check, Model};
use conformance::driver::{CheckReport, RunConfig, run_check, run_checks};
use conformance::suites;
use conformance::timing::Timing;

/// CPU time of this process (all threads) and of its reaped children, from /proc/self/stat.
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    own: Duration,
    children: Duration,
}

fn cpu_now() -> Cpu {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // utime stime cutime cstime are fields 14..=17 of stat(5); `rest` starts at field 3.
    let tick = |i: usize| Duration::from_millis(10 * f.get(i - 3).copied().unwrap_or(0));
    Cpu {
        own: tick(14) + tick(15),
        children: tick(16) + tick(17),
    }
}

fn reference_config() -> Result<RunConfig, String> {
    // The reference programs run as `conformance ref ...`: the release binary beside us.
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let bin = exe
        .parent()
        .and_then(|examples| examples.parent())
        .map(|dir| dir.join("conformance"))
        .filter(|p| p.is_file())
        .ok_or("target/release/conformance not found: run `cargo build --release` first")?;
    let mut cfg = RunConfig::reference(bin);
    cfg.model = Some(Model::Threaded);
    cfg.timing = Timing::default().with_period(None, true);
    Ok(cfg)
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn per_check(cfg: &Arc<RunConfig>, checks: &[&'static Check]) {
    println!("1. every check against the references, one at a time");
    println!(
        "   {:<44} {:>8} {:>10} {:>12}",
        "check", "wall s", "suite CPU", "subject CPU"
    );
    let mut total = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut rows = Vec::new();
    for check in checks {
        let before = cpu_now();
        let r = run_check(check, cfg);
        let after = cpu_now();
        let own = after.own.saturating_sub(before.own);
        let subj = after.children.saturating_sub(before.children);
        total.0 += r.duration;
        total.1 += own;
        total.2 += subj;
        rows.push((check.id, r.duration, own, subj, r.outcome.clone()));
    }
    // The checks that cost the suite most CPU first.
    rows.sort_by_key(|r| std::cmp::Reverse(r.2));
    for (id, wall, own, subj, outcome) in rows.iter().take(15) {
        println!(
            "   {id:<44} {:>8.2} {:>9.2}s {:>11.2}s  {outcome:?}",
            secs(*wall),
            secs(*own),
            secs(*subj)
        );
    }
    println!(
        "   ({} more)\n   all {} checks: wall {:.1} s, suite CPU {:.2} s ({:.0} ms per check), subjects' CPU {:.2} s",
        rows.len().saturating_sub(15),
        rows.len(),
        secs(total.0),
        secs(total.1),
        1000.0 * secs(total.1) / rows.len().max(1) as f64,
        secs(total.2)
    );
}

fn run_all(cfg: &Arc<RunConfig>, checks: &[&'static Check]) {
    println!("\n2. `run all` against the references (8 at a time, longest first)");
    let before = cpu_now();
    let started = Instant::now();
    let reports: Vec<CheckReport> = run_checks(checks, cfg, 8, &|_| {});
    let wall = started.elapsed();
    let after = cpu_now();
    let longest = reports.iter().max_by_key(|r| r.duration);
    if let Some(l) = longest {
        println!(
            "   wall {:.2} s, longest check {} {:.2} s: {:.2}x; suite CPU {:.2} s, subjects' CPU {:.2} s",
            secs(wall),
            l.check.id,
            secs(l.duration),
            secs(wall) / secs(l.duration).max(1e-9),
            secs(after.own.saturating_sub(before.own)),
            secs(after.children.saturating_sub(before.children))
        );
    }
}

/// The self-test's last recorded durations, by trial name.
fn selftest_history() -> BTreeMap<String, Duration> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tmp/selftest-durations.tsv");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (name, ms) = l.split_once('\t')?;
            Some((name.to_owned(), Duration::from_millis(ms.parse().ok()?)))
        })
        .collect()
}

/// Each fixture's role, by (suite, impl name), from `fixtures/impls/*/manifest.toml`.
fn roles() -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/impls");
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let suite = entry.file_name().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(entry.path().join("manifest.toml")).unwrap_or_default();
        let Ok(doc) = text.parse::<toml::Table>() else {
            continue;
        };
        let impls = doc.get("impl").and_then(|v| v.as_array());
        for imp in impls.into_iter().flatten() {
            let field = |k: &str| imp.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
            out.insert((suite.clone(), field("name")), field("role"));
        }
    }
    out
}

/// A fixture's family: suite, role, and known-good or known-bad (an empty `fail` list is
/// known-good; the manifests also name them so).
fn family(suite: &str, name: &str, roles: &BTreeMap<(String, String), String>) -> String {
    let kind = if name.starts_with("bad-") {
        "known-bad"
    } else {
        "known-good"
    };
    let role = roles
        .get(&(suite.to_owned(), name.to_owned()))
        .map_or("?", String::as_str);
    format!("{suite} {role} {kind}")
}

fn selftest_figures() {
    let history = selftest_history();
    let roles = roles();
    println!("\n3. the last self-test run (target/tmp/selftest-durations.tsv)");
    if history.is_empty() {
        println!("   no record: run `cargo test --test selftest` first");
        return;
    }
    let mut families: BTreeMap<String, Vec<(Duration, &str)>> = BTreeMap::new();
    let mut suites: BTreeMap<&str, (usize, Duration)> = BTreeMap::new();
    for (trial, d) in &history {
        // Only the fixture trials (`selftest::<suite>::<impl>`): the file holds the engine,
        // interop... trials of the same binary too.
        let Some(rest) = trial.strip_prefix("selftest::") else {
            continue;
        };
        let mut parts = rest.split("::");
        let (Some(suite), Some(name)) = (parts.next(), parts.next()) else {
            continue;
        };
        families
            .entry(family(suite, name, &roles))
            .or_default()
            .push((*d, name));
        let s = suites.entry(suite).or_default();
        s.0 += 1;
        s.1 += *d;
    }
    println!(
        "   {:<34} {:>6} {:>9} {:>9}  slowest",
        "fixture family", "impls", "median s", "max s"
    );
    for (fam, mut v) in families {
        v.sort();
        let median = v[v.len() / 2].0;
        let (max, slowest) = v[v.len() - 1];
        println!(
            "   {fam:<34} {:>6} {:>9.1} {:>9.1}  {slowest}",
            v.len(),
            secs(median),
            secs(max)
        );
    }
    println!("   self-test time per suite (sum of its trials' times to verdict):");
    for (suite, (n, sum)) in suites {
        println!("   {suite:<12} {n:>3} trials {:>8.1} s", secs(sum));
    }
}

fn main() {
    let cfg = match reference_config() {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("suite_bench: {e}");
            std::process::exit(2);
        }
    };
    let checks: Vec<&'static Check> = suites::all_checks().collect();
    if !std::env::args().any(|a| a == "--skip-checks") {
        per_check(&cfg, &checks);
    }
    run_all(&cfg, &checks);
    selftest_figures();
}
