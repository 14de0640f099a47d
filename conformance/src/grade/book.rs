//! The gradebook: a [`Row`] per submission (saved as `OUT/<name>/grade.json`, which is what
//! makes a re-run skip it and what `--merge` joins), and the class files made from all rows:
//! grades.csv, grades.json and index.html (submissions x checks). Also the progress of a
//! grading run and the files of a zero row.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::report::html::esc;
use crate::report::json::points_text;

/// How the build went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BuildStatus {
    /// Built (or nothing to build) and the programs are there.
    Ok,
    /// A build command failed.
    Failed,
    /// The build ran past its timeout.
    Timeout,
    /// Built, but a program of `[run]` is not there.
    MissingProgram,
    /// The grader could not get that far (its own problem).
    NotRun,
}

impl BuildStatus {
    /// The word in grades.csv.
    pub fn as_str(self) -> &'static str {
        match self {
            BuildStatus::Ok => "ok",
            BuildStatus::Failed => "failed",
            BuildStatus::Timeout => "timeout",
            BuildStatus::MissingProgram => "missing-program",
            BuildStatus::NotRun => "not-run",
        }
    }
}

/// One submission's line of the gradebook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The submission folder's name.
    pub submission: String,
    /// Points earned.
    pub score: f64,
    /// Points possible.
    pub max_score: f64,
    /// `pass`, `fail`, or `error` (the suite could not judge: the machine, not the student).
    pub verdict: String,
    /// The build.
    pub build: BuildStatus,
    /// Why the score is what it is when it is not the suite's verdict (build, missing
    /// program, grader error); empty otherwise.
    pub reason: String,
    /// IDs of the checks that did not pass (failed, blocked, errored).
    pub failed: Vec<String>,
    /// Every check's status.
    pub checks: BTreeMap<String, String>,
    /// Wall time of grading it.
    pub seconds: f64,
    /// The digest of the grade.toml it was graded with: a re-run skips the row only under
    /// the same config (another assignment's `good-c` in the same folder is graded anew).
    #[serde(default)]
    pub config: String,
    /// Read back from a previous run (not graded again).
    #[serde(skip)]
    pub skipped: bool,
}

impl Row {
    /// The grader itself could not grade the submission.
    pub fn errored(name: &str, reason: String) -> Row {
        Row {
            submission: name.to_owned(),
            score: 0.0,
            max_score: 0.0,
            verdict: "error".to_owned(),
            build: BuildStatus::NotRun,
            reason,
            failed: Vec::new(),
            checks: BTreeMap::new(),
            seconds: 0.0,
            config: String::new(),
            skipped: false,
        }
    }

    /// The row of a report.json (docs/report.schema.json); `could_not_run`: the run
    /// exited 2 (every check errored).
    pub fn from_report(name: &str, report: &Value, could_not_run: bool) -> Row {
        let num = |k: &str| report.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        let checks: Vec<&Value> = report
            .get("checks")
            .and_then(Value::as_array)
            .map(|v| v.iter().collect())
            .unwrap_or_default();
        let key = |c: &Value| {
            let id = c.get("id").and_then(Value::as_str).unwrap_or("?");
            match c.get("model").and_then(Value::as_str) {
                Some(m) if checks.iter().filter(|o| o.get("id") == c.get("id")).count() > 1 => {
                    format!("{id}[{m}]")
                }
                _ => id.to_owned(),
            }
        };
        let status = |c: &Value| {
            c.get("status")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_owned()
        };
        let failed = checks
            .iter()
            .filter(|c| matches!(status(c).as_str(), "failed" | "blocked" | "errored"))
            .map(|c| key(c))
            .collect();
        let verdict = if could_not_run {
            "error".to_owned()
        } else {
            report
                .get("verdict")
                .and_then(Value::as_str)
                .unwrap_or("error")
                .to_owned()
        };
        Row {
            submission: name.to_owned(),
            score: num("score"),
            max_score: num("max_score"),
            reason: if could_not_run {
                "the suite could not run any check (see run.log)".to_owned()
            } else {
                String::new()
            },
            verdict,
            build: BuildStatus::Ok,
            failed,
            checks: checks.iter().map(|c| (key(c), status(c))).collect(),
            seconds: 0.0,
            config: String::new(),
            skipped: false,
        }
    }
}

/// Every row saved under `out` (`out/*/grade.json`), sorted by submission.
pub fn collect(out: &Path) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    let entries =
        std::fs::read_dir(out).map_err(|e| format!("cannot read {}: {e}", out.display()))?;
    for e in entries.flatten() {
        let p = e.path().join("grade.json");
        if let Ok(text) = std::fs::read_to_string(&p) {
            let row: Row = serde_json::from_str(&text)
                .map_err(|e| format!("{}: not a grade row: {e}", p.display()))?;
            rows.push(row);
        }
    }
    rows.sort_by(|a, b| a.submission.cmp(&b.submission));
    Ok(rows)
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), target)?;
        }
    }
    Ok(())
}

/// `grade --merge`: the rows (and per-submission folders) of every shard output in
/// `shards`, joined in `out`. A submission graded by two shards is an error (the shards
/// overlap).
pub fn merge(shards: &[PathBuf], out: &Path) -> Result<Vec<Row>, String> {
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    let out_abs = std::path::absolute(out).map_err(|e| e.to_string())?;
    for shard in shards {
        let same = std::path::absolute(shard).map_err(|e| e.to_string())? == out_abs;
        for row in collect(shard)? {
            if let Some(other) = seen.insert(row.submission.clone(), shard.clone()) {
                return Err(format!(
                    "{} was graded in both {} and {} (overlapping shards)",
                    row.submission,
                    other.display(),
                    shard.display()
                ));
            }
            if !same {
                copy_dir(&shard.join(&row.submission), &out.join(&row.submission))
                    .map_err(|e| format!("copying {}: {e}", row.submission))?;
            }
        }
    }
    let rows = collect(out)?;
    write_gradebook(out, &rows)?;
    Ok(rows)
}

/// grades.csv, grades.json and index.html of `rows`.
pub fn write_gradebook(out: &Path, rows: &[Row]) -> Result<(), String> {
    let werr = |what: &str, e: &dyn std::fmt::Display| format!("cannot write {what}: {e}");
    let mut w =
        csv::Writer::from_path(out.join("grades.csv")).map_err(|e| werr("grades.csv", &e))?;
    w.write_record([
        "submission",
        "score",
        "max_score",
        "verdict",
        "build",
        "reason",
        "failed",
    ])
    .map_err(|e| werr("grades.csv", &e))?;
    for r in rows {
        w.write_record([
            r.submission.as_str(),
            &points_text(r.score),
            &points_text(r.max_score),
            &r.verdict,
            r.build.as_str(),
            &r.reason,
            &r.failed.join(" "),
        ])
        .map_err(|e| werr("grades.csv", &e))?;
    }
    w.flush().map_err(|e| werr("grades.csv", &e))?;
    let json = serde_json::to_string_pretty(rows).map_err(|e| werr("grades.json", &e))?;
    std::fs::write(out.join("grades.json"), json + "\n").map_err(|e| werr("grades.json", &e))?;
    std::fs::write(out.join("index.html"), index_html(rows)).map_err(|e| werr("index.html", &e))
}

/// The class page: a row per submission, a column per check.
pub fn index_html(rows: &[Row]) -> String {
    let ids: BTreeSet<&str> = rows
        .iter()
        .flat_map(|r| r.checks.keys().map(String::as_str))
        .collect();
    let mut s = String::from(
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>gradebook</title>\
         <style>body{font:13px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}\
         td,th{border:1px solid #ddd;padding:2px 6px}th.c{writing-mode:vertical-rl;\
         font-weight:normal}.passed{background:#d9f2d9}.failed,.errored{background:#f7d4d4}\
         .blocked{background:#f7ecc8}.skipped{background:#eee}</style></head><body>\
         <h1>Gradebook</h1><table><tr><th>submission</th><th>score</th><th>verdict</th>\
         <th>build</th>",
    );
    for id in &ids {
        let _ = write!(s, "<th class='c'>{}</th>", esc(id));
    }
    s.push_str("</tr>");
    for r in rows {
        let _ = write!(
            s,
            "<tr><td><a href='{0}/report.html'>{0}</a></td><td>{1}/{2}</td><td>{3}</td>\
             <td title='{5}'>{4}</td>",
            esc(&r.submission),
            points_text(r.score),
            points_text(r.max_score),
            esc(&r.verdict),
            r.build.as_str(),
            esc(&r.reason)
        );
        for id in &ids {
            let st = r.checks.get(*id).map(String::as_str).unwrap_or("");
            let short = st.chars().next().map(|c| c.to_string()).unwrap_or_default();
            let _ = write!(s, "<td class='{st}' title='{st}'>{short}</td>");
        }
        s.push_str("</tr>");
    }
    s.push_str("</table></body></html>\n");
    s
}

/// junit.xml of a submission that never ran: one failed testcase with the reason.
pub fn zero_junit(name: &str, reason: &str) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
    status.set_message(reason);
    status.set_type("build");
    let mut tc = TestCase::new("build", status);
    tc.set_classname(name);
    let mut ts = TestSuite::new("build");
    ts.add_test_case(tc);
    let mut report = Report::new("conformance");
    report.add_test_suite(ts);
    report.to_string().unwrap_or_default()
}

/// report.html of a submission that never ran.
pub fn zero_html(name: &str, reason: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{0}: 0 points\
         </title></head><body><h1>{0}: 0 points</h1><p>{1}</p></body></html>\n",
        esc(name),
        esc(reason)
    )
}

/// Progress of a grading run: a bar on a terminal, a line per submission in a log.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    done: Mutex<usize>,
    total: usize,
    started: Instant,
}

impl Progress {
    /// Starts for `total` submissions.
    pub fn start(total: usize) -> Progress {
        let bar = (crate::report::progress::Mode::for_stderr()
            == crate::report::progress::Mode::Bar)
            .then(|| {
                let b = indicatif::ProgressBar::new(total as u64);
                if let Ok(style) = indicatif::ProgressStyle::with_template(
                    "grading [{bar:30}] {pos}/{len} {elapsed} {msg}",
                ) {
                    b.set_style(style);
                }
                b.enable_steady_tick(std::time::Duration::from_millis(500));
                b
            });
        Progress {
            bar,
            done: Mutex::new(0),
            total,
            started: Instant::now(),
        }
    }

    /// A submission is graded.
    pub fn done(&self, r: &Row) {
        let n = {
            let mut d = self.done.lock().unwrap_or_else(|e| e.into_inner());
            *d += 1;
            *d
        };
        let line = format!(
            "[{n}/{}] {}: {}/{} {}{}{}",
            self.total,
            r.submission,
            points_text(r.score),
            points_text(r.max_score),
            r.verdict,
            if r.reason.is_empty() {
                String::new()
            } else {
                format!(" ({})", r.reason)
            },
            if r.skipped {
                " [graded before; --force grades again]".to_owned()
            } else {
                format!(" in {:.1} s", r.seconds)
            }
        );
        match &self.bar {
            Some(b) => {
                b.println(line);
                b.inc(1);
            }
            None => eprintln!(
                "conformance grade: {line} ({:.0} s elapsed)",
                self.started.elapsed().as_secs_f64()
            ),
        }
    }

    /// Removes the bar.
    pub fn finish(self) {
        if let Some(b) = self.bar {
            b.finish_and_clear();
        }
    }
}
