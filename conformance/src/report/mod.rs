//! Reports of a run: human text, JSON (DESIGN.md's stable schema), and the check list
//! (human, JSON, Markdown for docs/checks.md).

pub mod human;
pub mod json;
pub mod list;

use crate::check::{Level, Outcome};
use crate::driver::CheckReport;

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
