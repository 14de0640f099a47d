//! JUnit XML (quick-junit): a testsuite per suite, a testcase per check (classname
//! `suite.role`, the model in brackets when one was given); `failure` for a failed or blocked
//! check, `error` for an errored one, `skipped` with the reason. The body holds what the
//! human report shows for it: expected, actual, hint, transcript and output tail. A failed
//! recommended or informational check that does not fail the run is reported as passed with
//! its failure in system-out, so CI test reporters agree with the exit status.

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::{RunInfo, fails_run};
use crate::check::Outcome;
use crate::driver::CheckReport;

fn case(info: &RunInfo, r: &CheckReport) -> TestCase {
    let body = super::human::details(r, false, false);
    let status = match &r.outcome {
        Outcome::Passed => TestCaseStatus::success(),
        Outcome::Skipped(why) => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(why.as_str());
            s
        }
        Outcome::Failed(_) | Outcome::Blocked { .. } if fails_run(r, info.strict) => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_type(r.outcome.status());
            s.set_message(r.outcome.message().unwrap_or_default());
            s.set_description(body.as_str());
            s
        }
        Outcome::Errored(_) if fails_run(r, info.strict) => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_type("errored");
            s.set_message(r.outcome.message().unwrap_or_default());
            s.set_description(body.as_str());
            s
        }
        _ => TestCaseStatus::success(),
    };
    let name = match r.model {
        Some(m) => format!("{}[{m}]", r.check.id),
        None => r.check.id.to_owned(),
    };
    let mut tc = TestCase::new(name, status);
    tc.set_classname(format!("{}.{}", r.check.suite, r.check.role));
    tc.set_time(r.duration);
    let (score, max) = info.rubric.score(r);
    tc.add_property(Property::new("level", r.check.level.as_str()));
    tc.add_property(Property::new("status", r.outcome.status()));
    tc.add_property(Property::new("score", super::json::points_text(score)));
    tc.add_property(Property::new("max_score", super::json::points_text(max)));
    tc.add_property(Property::new("spec", r.check.spec));
    if !matches!(r.outcome, Outcome::Passed | Outcome::Skipped(_)) && !fails_run(r, info.strict) {
        tc.set_system_out(format!(
            "does not fail the run ({} check{}):\n{body}",
            r.check.level,
            if info.strict {
                ""
            } else {
                ", without --strict"
            }
        ));
    }
    tc
}

/// The JUnit XML of a run.
pub fn render(info: &RunInfo, reports: &[CheckReport]) -> String {
    let mut report = Report::new("conformance");
    let started = chrono::DateTime::<chrono::Utc>::from(info.started).fixed_offset();
    report.set_timestamp(started);
    report.set_time(info.duration);
    for suite in &info.suites {
        let mut ts = TestSuite::new(suite.as_str());
        ts.set_timestamp(started);
        let mine: Vec<&CheckReport> = reports.iter().filter(|r| r.check.suite == suite).collect();
        ts.set_time(mine.iter().map(|r| r.duration).max().unwrap_or_default());
        ts.add_property(Property::new("verdict", info.verdict(reports)));
        ts.add_property(Property::new("strict", info.strict.to_string()));
        if let Some(m) = &info.model {
            ts.add_property(Property::new("model", m.as_str()));
        }
        ts.add_test_cases(mine.iter().map(|r| case(info, r)));
        report.add_test_suite(ts);
    }
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- junit report failed: {e} -->\n"))
}
