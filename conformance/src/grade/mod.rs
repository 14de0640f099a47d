//! `conformance grade`: a whole class in one command. Each submission folder is built with
//! the config's commands (with a timeout), its programs looked for, then run by `conformance
//! run` in a child process (its own limits and timeout; one submission cannot take the
//! grader down) writing report.json, junit.xml, results.json and report.html into
//! `OUT/<name>/`. A build failure, a build timeout or a missing program is a row with score
//! 0 and the reason, never a missing row. Then OUT/grades.csv, grades.json and index.html.
//! `--shard K/N` grades every N-th submission so CI matrices spread a class over machines;
//! `--merge` joins shard outputs into one gradebook.

pub mod book;
pub mod bundle;
pub mod config;
pub mod submission;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

pub use book::Row;
pub use config::Config;

/// `conformance grade`.
#[derive(clap::Args, Debug)]
pub struct GradeArgs {
    /// The grading config (grade.toml).
    #[arg(long, value_name = "FILE", required_unless_present = "merge")]
    pub config: Option<PathBuf>,
    /// Submission folders (with --merge: the shard output folders).
    #[arg(value_name = "DIR", required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where the gradebook goes.
    #[arg(long, value_name = "DIR", default_value = "grades")]
    pub out: PathBuf,
    /// Checks run at once over all submissions.
    #[arg(short = 'j', long, value_name = "N", default_value_t = 8)]
    pub jobs: usize,
    /// Grade the K-th of N slices of the submissions (1-based).
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<(usize, usize)>,
    /// Grade again the submissions already graded in OUT.
    #[arg(long)]
    pub force: bool,
    /// Join the gradebooks of shard outputs (the DIRs) into OUT.
    #[arg(long)]
    pub merge: bool,
}

fn parse_shard(v: &str) -> Result<(usize, usize), String> {
    let bad = || format!("--shard takes K/N with 1 <= K <= N, not {v:?}");
    let (k, n) = v.split_once('/').ok_or_else(bad)?;
    let (k, n): (usize, usize) = (k.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("conformance grade: {msg}");
    ExitCode::from(2)
}

/// The submissions of shard `k` of `n`: sorted by name, every n-th from the k-th, so each
/// shard gets its share however the folders were listed.
pub fn shard(mut dirs: Vec<PathBuf>, shard: Option<(usize, usize)>) -> Vec<PathBuf> {
    dirs.sort_by_key(|d| submission::name_of(d));
    match shard {
        None => dirs,
        Some((k, n)) => dirs
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % n == k - 1)
            .map(|(_, d)| d)
            .collect(),
    }
}

/// Runs `conformance grade`.
pub fn grade(a: GradeArgs) -> ExitCode {
    if let Err(e) = std::fs::create_dir_all(&a.out) {
        return fail(format!("cannot create {}: {e}", a.out.display()));
    }
    if a.merge {
        return match book::merge(&a.dirs, &a.out) {
            Ok(rows) => {
                eprintln!(
                    "conformance grade: merged {} submissions into {}",
                    rows.len(),
                    a.out.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        };
    }
    let Some(config_path) = &a.config else {
        return fail("--config is required");
    };
    let config = match Config::load(config_path) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let config_path = match std::path::absolute(config_path) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    for d in &a.dirs {
        if !d.is_dir() {
            return fail(format!("{} is not a folder", d.display()));
        }
    }
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return fail(format!("cannot find my own executable: {e}")),
    };
    let mut names: Vec<String> = a.dirs.iter().map(|d| submission::name_of(d)).collect();
    names.sort();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return fail(format!(
            "two submission folders are named {:?}: their grades would overwrite each other",
            w[0]
        ));
    }
    let dirs = shard(a.dirs.clone(), a.shard);
    // One budget of checks at once: each run gets a share, a fixed port allows one run.
    let per_run = if config.run.port.is_some() {
        1
    } else {
        config.run.jobs.unwrap_or(4).clamp(1, a.jobs.max(1))
    };
    let at_once = if config.run.port.is_some() {
        1
    } else {
        (a.jobs.max(1) / per_run).max(1)
    };
    // Absolute: each run's working folder is its submission.
    let out = match std::path::absolute(&a.out) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let fingerprint =
        submission::fingerprint(&std::fs::read_to_string(&config_path).unwrap_or_default());
    let env = submission::Env {
        fingerprint,
        exe,
        config_path,
        config: config.clone(),
        out,
        jobs: per_run,
        force: a.force,
    };
    let progress = book::Progress::start(dirs.len());
    let next = AtomicUsize::new(0);
    let rows: Mutex<Vec<Row>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..at_once.min(dirs.len()) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(dir) = dirs.get(i) else { break };
                    let row = submission::grade_one(&env, dir);
                    progress.done(&row);
                    rows.lock().unwrap_or_else(|e| e.into_inner()).push(row);
                }
            });
        }
    });
    progress.finish();
    let mut rows = rows.into_inner().unwrap_or_else(|e| e.into_inner());
    // Rows graded before (skipped now) and rows of this run make one gradebook.
    rows.sort_by(|x, y| x.submission.cmp(&y.submission));
    match book::write_gradebook(&a.out, &book::collect(&a.out).unwrap_or(rows)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}
