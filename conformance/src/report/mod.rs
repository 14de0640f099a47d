//! Reports of a run: human text, JSON (docs/report.schema.json), JUnit XML, Gradescope's
//! results.json, a self-contained HTML page, points, and the check list (human, JSON,
//! Markdown for docs/checks.md). Every format is built from the same [`RunInfo`] and the
//! [`CheckReport`]s, so any number of them come from one run.

pub mod gradescope;
pub mod html;
pub mod human;
pub mod json;
pub mod junit;
pub mod list;
pub mod points;
pub mod progress;

use std::time::{Duration, SystemTime};

use crate::check::{Level, Outcome};
use crate::driver::CheckReport;
pub use points::Rubric;

/// A report format (`--format`, `--report FORMAT=FILE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Text for people (coloured on a terminal).
    Human,
    /// docs/report.schema.json.
    Json,
    /// JUnit XML (GitLab, Jenkins, GitHub test reporters).
    Junit,
    /// Gradescope's results.json.
    Gradescope,
    /// One self-contained HTML page.
    Html,
}

impl Format {
    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Human => "human",
            Format::Json => "json",
            Format::Junit => "junit",
            Format::Gradescope => "gradescope",
            Format::Html => "html",
        }
    }
}

/// What a run was, beside its reports: every format shows it.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// Suites run (with checks).
    pub suites: Vec<String>,
    /// The user's commands (None: reference or not run).
    pub server: Option<String>,
    /// The user's client command.
    pub client: Option<String>,
    /// The model, when one was given.
    pub model: Option<String>,
    /// `--strict`.
    pub strict: bool,
    /// `--slack`.
    pub slack: Duration,
    /// The periodic interval in force (multiclient).
    pub period: Duration,
    /// When the run started.
    pub started: SystemTime,
    /// Wall time of the run.
    pub duration: Duration,
    /// Points.
    pub rubric: Rubric,
}

impl RunInfo {
    /// `pass` or `fail`.
    pub fn verdict(&self, reports: &[CheckReport]) -> &'static str {
        if passes(reports, self.strict) {
            "pass"
        } else {
            "fail"
        }
    }

    /// The start time as RFC 3339 (UTC).
    pub fn started_rfc3339(&self) -> String {
        chrono::DateTime::<chrono::Utc>::from(self.started)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }
}

/// Renders one format (human without colour: files and pipes).
pub fn render(format: Format, info: &RunInfo, reports: &[CheckReport]) -> String {
    match format {
        Format::Human => {
            let mut t = human::render(&info.suites, reports, false, false, true);
            t.push_str(&human::final_line(info, reports));
            t.push('\n');
            t
        }
        Format::Json => json::to_string(info, reports),
        Format::Junit => junit::render(info, reports),
        Format::Gradescope => gradescope::to_string(info, reports),
        Format::Html => html::render(info, reports),
    }
}

/// Counts of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Checks reported.
    pub total: usize,
    /// Passed.
    pub passed: usize,
    /// Failed.
    pub failed: usize,
    /// Skipped.
    pub skipped: usize,
    /// Blocked by a failed prerequisite.
    pub blocked: usize,
    /// Errored.
    pub errored: usize,
    /// Required checks that failed or errored.
    pub required_failed: usize,
}

/// Counts `reports`.
pub fn summarize<'a>(reports: impl IntoIterator<Item = &'a CheckReport>) -> Summary {
    let mut s = Summary::default();
    for r in reports {
        s.total += 1;
        match r.outcome {
            Outcome::Passed => s.passed += 1,
            Outcome::Failed(_) => s.failed += 1,
            Outcome::Skipped(_) => s.skipped += 1,
            Outcome::Blocked { .. } => s.blocked += 1,
            Outcome::Errored(_) => s.errored += 1,
        }
        if r.check.level == Level::Required
            && matches!(
                r.outcome,
                Outcome::Failed(_) | Outcome::Blocked { .. } | Outcome::Errored(_)
            )
        {
            s.required_failed += 1;
        }
    }
    s
}

/// Whether a report fails the run: a required check that failed or errored, or with
/// `strict` a recommended one. Informational checks never fail a run.
pub fn fails_run(r: &CheckReport, strict: bool) -> bool {
    let bad = matches!(
        r.outcome,
        Outcome::Failed(_) | Outcome::Blocked { .. } | Outcome::Errored(_)
    );
    bad && match r.check.level {
        Level::Required => true,
        Level::Recommended => strict,
        Level::Informational => false,
    }
}

/// Whether the whole run passes.
pub fn passes(reports: &[CheckReport], strict: bool) -> bool {
    !reports.iter().any(|r| fails_run(r, strict))
}
