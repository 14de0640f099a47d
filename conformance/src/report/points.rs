//! Points: a rubric (check ID or glob -> points) from the grading config, and the score of
//! each report under it. Default: 1 point per required check, 0 otherwise. A check that was
//! skipped (not for this model or role) is not part of the total; blocked and errored
//! checks score 0 of their points, like failed ones.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::check::{Check, Level, Outcome};
use crate::driver::CheckReport;

/// `[points]` of grade.toml: `"hello.server.handshake" = 3`, `"hello.server.*" = 1`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct Rubric(pub BTreeMap<String, f64>);

/// `*` matches any run of characters; without `*` the pattern matches as a substring. Either
/// spelling of a check name works (`hello.server.x`, `hello::server::x`).
pub fn matches(pattern: &str, id: &str) -> bool {
    let pattern = crate::args::id_spelling(pattern);
    if !pattern.contains('*') {
        return id.contains(pattern.as_str());
    }
    glob(&pattern, id)
}

/// Whole-ID glob: `*` matches any run of characters, everything else itself.
fn glob(pattern: &str, id: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !id.starts_with(first) || id.len() < first.len() + last.len() || !id.ends_with(last) {
        return false;
    }
    let mut rest = &id[first.len()..id.len() - last.len()];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

impl Rubric {
    /// Rubric entries that are neither a check ID nor a glob matching one: a typo there
    /// would silently grade with the default.
    pub fn unknown_entries<'a>(&'a self, all: &[&Check]) -> Vec<&'a str> {
        self.0
            .keys()
            .filter(|k| {
                let k = crate::args::id_spelling(k);
                !all.iter()
                    .any(|c| c.id == k || (k.contains('*') && glob(&k, c.id)))
            })
            .map(String::as_str)
            .collect()
    }

    /// The points a check is worth: its own entry, else the most specific (longest) glob
    /// that matches it, else the default.
    pub fn max_points(&self, c: &Check) -> f64 {
        let exact = self
            .0
            .iter()
            .find(|(k, _)| crate::args::id_spelling(k) == c.id);
        if let Some((_, &p)) = exact {
            return p;
        }
        let best = self
            .0
            .iter()
            .filter(|(k, _)| k.contains('*') && glob(&crate::args::id_spelling(k), c.id))
            .max_by_key(|(k, _)| k.len());
        match best {
            Some((_, &p)) => p,
            None if c.level == Level::Required => 1.0,
            None => 0.0,
        }
    }

    /// (score, max) of one report.
    pub fn score(&self, r: &CheckReport) -> (f64, f64) {
        match r.outcome {
            Outcome::Skipped(_) => (0.0, 0.0),
            Outcome::Passed => {
                let p = self.max_points(r.check);
                (p, p)
            }
            _ => (0.0, self.max_points(r.check)),
        }
    }

    /// (score, max) of a run.
    pub fn total(&self, reports: &[CheckReport]) -> (f64, f64) {
        reports
            .iter()
            .map(|r| self.score(r))
            .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1))
    }
}
