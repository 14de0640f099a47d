//! Gradescope's results.json (docs/gradescope-results.schema.json, after
//! <https://gradescope-autograders.readthedocs.io/en/latest/specs/>): a test per check that
//! is worth points or did not pass, with score, max_score, status, visibility and the
//! expected/actual/hint text; the top-level score and execution time.

use serde::Serialize;

use super::RunInfo;
use crate::check::Outcome;
use crate::driver::CheckReport;

/// One entry of `tests`.
#[derive(Debug, Serialize)]
pub struct GsTest {
    /// Points earned.
    pub score: f64,
    /// Points possible.
    pub max_score: f64,
    /// `passed` or `failed` (Gradescope's two).
    pub status: &'static str,
    /// The check ID (and model).
    pub name: String,
    /// Its position, `1.3` (suite, check).
    pub number: String,
    /// Expected, actual, hint, spec.
    pub output: String,
    /// `text`.
    pub output_format: &'static str,
    /// Level and suite.
    pub tags: Vec<String>,
    /// `visible`.
    pub visibility: &'static str,
}

/// The whole file.
#[derive(Debug, Serialize)]
pub struct GsResults {
    /// Points earned.
    pub score: f64,
    /// Seconds.
    pub execution_time: u64,
    /// A summary for the whole submission.
    pub output: String,
    /// `text`.
    pub output_format: &'static str,
    /// `text`.
    pub test_output_format: &'static str,
    /// `visible`.
    pub visibility: &'static str,
    /// `hidden`: the run's stdout is for staff.
    pub stdout_visibility: &'static str,
    /// One per check.
    pub tests: Vec<GsTest>,
}

fn output(r: &CheckReport) -> String {
    match &r.outcome {
        Outcome::Passed => format!("passed: {}\nspec: {}", r.check.summary, r.check.spec),
        Outcome::Skipped(why) => format!("skipped: {why}"),
        _ => super::human::details(r, false, false),
    }
}

/// Builds results.json of a run.
pub fn build(info: &RunInfo, reports: &[CheckReport]) -> GsResults {
    let (score, max) = info.rubric.total(reports);
    let mut tests = Vec::new();
    for (si, suite) in info.suites.iter().enumerate() {
        let mine = reports.iter().filter(|r| r.check.suite == suite);
        for (ci, r) in mine.enumerate() {
            let (s, m) = info.rubric.score(r);
            let status = match r.outcome {
                Outcome::Passed | Outcome::Skipped(_) => "passed",
                _ => "failed",
            };
            tests.push(GsTest {
                score: s,
                max_score: m,
                status,
                name: match r.model {
                    Some(model) => format!("{} [{model}]: {}", r.check.id, r.check.summary),
                    None => format!("{}: {}", r.check.id, r.check.summary),
                },
                number: format!("{}.{}", si + 1, ci + 1),
                output: output(r),
                output_format: "text",
                tags: vec![r.check.suite.to_owned(), r.check.level.as_str().to_owned()],
                visibility: "visible",
            });
        }
    }
    GsResults {
        score,
        execution_time: info.duration.as_secs(),
        output: format!(
            "{}\n{} of {} points.",
            super::human::final_line(info, reports),
            super::json::points_text(score),
            super::json::points_text(max)
        ),
        output_format: "text",
        test_output_format: "text",
        visibility: "visible",
        stdout_visibility: "hidden",
        tests,
    }
}

/// A results.json that gives 0 points with the reason (the build failed, the program is
/// missing): Gradescope shows `output` to the student.
pub fn zero(reason: &str, max_score: f64, execution_time: u64) -> GsResults {
    GsResults {
        score: 0.0,
        execution_time,
        output: format!(
            "0 of {} points: {reason}",
            super::json::points_text(max_score)
        ),
        output_format: "text",
        test_output_format: "text",
        visibility: "visible",
        stdout_visibility: "hidden",
        tests: Vec::new(),
    }
}

/// results.json as pretty JSON.
pub fn to_string(info: &RunInfo, reports: &[CheckReport]) -> String {
    let mut s = serde_json::to_string_pretty(&build(info, reports)).unwrap_or_else(|_| "{}".into());
    s.push('\n');
    s
}
