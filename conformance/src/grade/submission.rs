//! Grading one submission: build (with a timeout, the whole process group killed at it),
//! look for its programs, run the suite in a child `conformance run`, and turn what came out
//! into a [`Row`] plus the per-submission files. Every way it can go wrong ends in a row.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::book::{BuildStatus, Row};
use super::config::Config;
use crate::report::gradescope;

/// What every submission's grading shares.
#[derive(Debug, Clone)]
pub struct Env {
    /// This binary (runs `conformance run`).
    pub exe: PathBuf,
    /// The config, as an absolute path (for `run --points`).
    pub config_path: PathBuf,
    /// The config.
    pub config: Config,
    /// The gradebook folder.
    pub out: PathBuf,
    /// `-j` of each run.
    pub jobs: usize,
    /// Grade again what is graded.
    pub force: bool,
    /// Digest of the config's text ([`Row::config`]).
    pub fingerprint: String,
}

/// A digest of a config's text: equal texts, equal digests (within one build of the tool,
/// which is all a re-run needs; a different build grades again, the safe side).
pub fn fingerprint(text: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    format!("{:016x}", h.finish())
}

/// The submission's name in the gradebook: its folder's name.
pub fn name_of(dir: &Path) -> String {
    std::path::absolute(dir)
        .ok()
        .as_deref()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string())
}

/// Waits for `child` until `timeout`; at the deadline kills its whole process group.
/// None: it timed out.
fn wait_deadline(child: &mut Child, timeout: Duration) -> std::io::Result<Option<ExitStatus>> {
    let mut status = None;
    crate::driver::wait_until(timeout, || {
        if let Ok(Some(st)) = child.try_wait() {
            status = Some(st);
        }
        status.is_some()
    });
    if status.is_some() {
        return Ok(status);
    }
    if let Some(pid) = i32::try_from(child.id())
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    let _ = child.kill();
    child.wait()?;
    Ok(None)
}

/// Runs the build commands; Err is the row's build status and reason.
fn build(env: &Env, dir: &Path, log_path: &Path) -> Result<(), (BuildStatus, String)> {
    let failed = |why: String| (BuildStatus::Failed, why);
    let log = File::create(log_path).map_err(|e| failed(format!("cannot write build.log: {e}")))?;
    let deadline = Instant::now() + env.config.build_timeout();
    for cmd in &env.config.build.commands {
        let out = log.try_clone().map_err(|e| failed(e.to_string()))?;
        let err = log.try_clone().map_err(|e| failed(e.to_string()))?;
        {
            use std::io::Write;
            let _ = writeln!(&log, "$ {cmd}");
        }
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| failed(format!("cannot run `{cmd}`: {e}")))?;
        let left = deadline.saturating_duration_since(Instant::now());
        match wait_deadline(&mut child, left) {
            Ok(Some(st)) if st.success() => {}
            Ok(Some(st)) => {
                return Err(failed(format!(
                    "build failed: `{cmd}` {st} (see build.log)"
                )));
            }
            Ok(None) => {
                return Err((
                    BuildStatus::Timeout,
                    format!(
                        "build timed out: `{cmd}` still ran after {:.0} s (see build.log)",
                        env.config.build_timeout().as_secs_f64()
                    ),
                ));
            }
            Err(e) => return Err(failed(format!("build: {e}"))),
        }
    }
    Ok(())
}

/// Whether a command's program (and a script it names: `python3 server.py`) exists in the
/// submission; Err names what is missing.
fn find_program(dir: &Path, line: &str) -> Result<(), String> {
    let words = shlex::split(line)
        .filter(|w| !w.is_empty())
        .ok_or_else(|| {
            format!("the command {line:?} cannot be split like a shell (fix grade.toml)")
        })?;
    let program = &words[0];
    let found = if program.contains('/') {
        use std::os::unix::fs::PermissionsExt;
        dir.join(program)
            .metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    } else {
        crate::driver::command::resolve_program(program).is_ok()
    };
    if !found {
        return Err(format!(
            "missing program: {program} (from `{line}`) is not an executable file in the \
             submission after the build"
        ));
    }
    const SCRIPTS: &[&str] = &[".py", ".sh", ".pl", ".rb", ".js", ".jar"];
    for w in &words[1..] {
        if !w.contains('{') && SCRIPTS.iter().any(|x| w.ends_with(x)) && !dir.join(w).is_file() {
            return Err(format!(
                "missing program: {w} (from `{line}`) is not in the submission"
            ));
        }
    }
    Ok(())
}

fn zero_row(env: &Env, name: &str, out: &Path, build: BuildStatus, reason: String) -> Row {
    let max = env.config.max_score();
    let gs = gradescope::zero(&reason, max, 0);
    let _ = std::fs::write(
        out.join("results.json"),
        serde_json::to_string_pretty(&gs).unwrap_or_default() + "\n",
    );
    let _ = std::fs::write(
        out.join("junit.xml"),
        super::book::zero_junit(name, &reason),
    );
    let _ = std::fs::write(
        out.join("report.html"),
        super::book::zero_html(name, &reason),
    );
    Row {
        submission: name.to_owned(),
        score: 0.0,
        max_score: max,
        verdict: "fail".to_owned(),
        build,
        reason,
        failed: Vec::new(),
        checks: Default::default(),
        seconds: 0.0,
        config: String::new(),
        skipped: false,
    }
}

/// Grades one submission into `OUT/<name>/`; a graded one is read back unless `force`.
pub fn grade_one(env: &Env, dir: &Path) -> Row {
    let name = name_of(dir);
    let out = env.out.join(&name);
    let saved = out.join("grade.json");
    // A row the grader could not finish (verdict error: its problem, not the student's) is
    // graded again on the next run.
    if !env.force
        && let Some(mut row) = std::fs::read_to_string(&saved)
            .ok()
            .and_then(|t| serde_json::from_str::<Row>(&t).ok())
            .filter(|r| r.verdict != "error" && r.config == env.fingerprint)
    {
        row.skipped = true;
        return row;
    }
    let started = Instant::now();
    if let Err(e) = std::fs::create_dir_all(&out) {
        return Row::errored(&name, format!("cannot create {}: {e}", out.display()));
    }
    let dir = match std::path::absolute(dir) {
        Ok(d) => d,
        Err(e) => return Row::errored(&name, e.to_string()),
    };
    let mut row = match build(env, &dir, &out.join("build.log")) {
        Err((status, reason)) => zero_row(env, &name, &out, status, reason),
        Ok(()) => {
            let missing = [&env.config.run.server, &env.config.run.client]
                .into_iter()
                .flatten()
                .find_map(|line| find_program(&dir, line).err());
            match missing {
                Some(reason) => zero_row(env, &name, &out, BuildStatus::MissingProgram, reason),
                None => run_suite(env, &name, &dir, &out),
            }
        }
    };
    row.seconds = started.elapsed().as_secs_f64();
    row.config = env.fingerprint.clone();
    if row.verdict == "error" {
        row.max_score = env.config.max_score();
    }
    let _ = std::fs::write(
        &saved,
        serde_json::to_string_pretty(&row).unwrap_or_default() + "\n",
    );
    row
}

/// The `conformance run` command line for a submission (run in its folder).
fn run_command(env: &Env, out: &Path) -> Command {
    let c = &env.config;
    let mut cmd = Command::new(&env.exe);
    cmd.arg("run")
        .arg(c.suite_names().join(","))
        .arg("-j")
        .arg(env.jobs.to_string())
        .arg("--points")
        .arg(&env.config_path)
        .arg("--format")
        .arg("human")
        .arg("--output")
        .arg(out.join("report.txt"));
    for (f, file) in [
        ("json", "report.json"),
        ("junit", "junit.xml"),
        ("gradescope", "results.json"),
        ("html", "report.html"),
    ] {
        cmd.arg("--report")
            .arg(format!("{f}={}", out.join(file).display()));
    }
    let pairs = [
        ("--server-cmd", c.run.server.clone()),
        ("--client-cmd", c.run.client.clone()),
        ("--model", c.model.clone()),
        ("--slack", c.run.slack.map(|s| s.to_string())),
        ("--period", c.run.period.map(|s| s.to_string())),
        ("--port", c.run.port.map(|s| s.to_string())),
    ];
    for (flag, v) in pairs {
        if let Some(v) = v {
            cmd.arg(flag).arg(v);
        }
    }
    for p in &c.run.only {
        cmd.arg("--only").arg(p);
    }
    for p in &c.run.skip {
        cmd.arg("--skip").arg(p);
    }
    if c.run.strict {
        cmd.arg("--strict");
    }
    cmd.args(c.run.limit_flags());
    cmd.args(&c.run.args);
    cmd
}

fn run_suite(env: &Env, name: &str, dir: &Path, out: &Path) -> Row {
    let log = match File::create(out.join("run.log")) {
        Ok(f) => f,
        Err(e) => return Row::errored(name, format!("cannot write run.log: {e}")),
    };
    let log2 = match log.try_clone() {
        Ok(f) => f,
        Err(e) => return Row::errored(name, e.to_string()),
    };
    let _ = std::fs::remove_file(out.join("report.json"));
    let spawned = run_command(env, out)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .process_group(0)
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => return Row::errored(name, format!("cannot run the suite: {e}")),
    };
    let timeout = env.config.run_timeout();
    let status = match wait_deadline(&mut child, timeout) {
        Ok(Some(st)) => st,
        Ok(None) => {
            return Row::errored(
                name,
                format!(
                    "the suite did not finish within {:.0} s ([run] timeout); see run.log",
                    timeout.as_secs_f64()
                ),
            );
        }
        Err(e) => return Row::errored(name, e.to_string()),
    };
    let report: Option<Value> = std::fs::read_to_string(out.join("report.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let Some(report) = report else {
        let log = std::fs::read_to_string(out.join("run.log")).unwrap_or_default();
        let last = log.lines().last().unwrap_or("").to_owned();
        return Row::errored(
            name,
            format!("the suite wrote no report ({status}): {last}"),
        );
    };
    Row::from_report(name, &report, status.code() == Some(2))
}
