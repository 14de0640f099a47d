//! The JSON report: DESIGN.md's schema, stable (scripts and CI gates read it).

use serde::Serialize;

use super::{Summary, passes, summarize};
use crate::driver::CheckReport;

/// `tool`.
#[derive(Debug, Serialize)]
pub struct Tool {
    /// "conformance".
    pub name: &'static str,
    /// The crate version.
    pub version: &'static str,
}

/// `subjects`: the user's commands; null where the role ran against the reference or not at all.
#[derive(Debug, Serialize)]
pub struct Subjects {
    /// `--server-cmd`.
    pub server: Option<String>,
    /// `--client-cmd`.
    pub client: Option<String>,
}

/// One entry of `checks`.
#[derive(Debug, Serialize)]
pub struct JsonCheck {
    /// Check ID.
    pub id: &'static str,
    /// Suite.
    pub suite: &'static str,
    /// `server` or `client`.
    pub role: &'static str,
    /// `required`, `recommended`, `informational`.
    pub level: &'static str,
    /// `passed`, `failed`, `skipped`, `errored`.
    pub status: &'static str,
    /// The assignment passage.
    pub spec: &'static str,
    /// One-line summary.
    pub summary: &'static str,
    /// Expected versus actual, the skip reason, or the error.
    pub message: Option<String>,
    /// The hint for a failure.
    pub hint: Option<String>,
    /// Wall time of the check.
    pub duration_ms: u64,
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct JsonReport {
    /// The tool.
    pub tool: Tool,
    /// Suites run.
    pub suites: Vec<String>,
    /// Commands under test.
    pub subjects: Subjects,
    /// The model, when one was given.
    pub model: Option<String>,
    /// `pass` or `fail`.
    pub verdict: &'static str,
    /// Counts.
    pub summary: Summary,
    /// Every check, in run order.
    pub checks: Vec<JsonCheck>,
}

/// Builds the report of a run.
pub fn build(
    suites: Vec<String>,
    subjects: Subjects,
    model: Option<String>,
    reports: &[CheckReport],
    strict: bool,
) -> JsonReport {
    JsonReport {
        tool: Tool {
            name: "conformance",
            version: env!("CARGO_PKG_VERSION"),
        },
        suites,
        subjects,
        model,
        verdict: if passes(reports, strict) {
            "pass"
        } else {
            "fail"
        },
        summary: summarize(reports),
        checks: reports
            .iter()
            .map(|r| JsonCheck {
                id: r.check.id,
                suite: r.check.suite,
                role: r.check.role.as_str(),
                level: r.check.level.as_str(),
                status: r.outcome.status(),
                spec: r.check.spec,
                summary: r.check.summary,
                message: r.outcome.message(),
                hint: r.outcome.hint().map(str::to_owned),
                duration_ms: u64::try_from(r.duration.as_millis()).unwrap_or(u64::MAX),
            })
            .collect(),
    }
}
