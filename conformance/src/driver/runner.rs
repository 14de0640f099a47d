//! Running checks: each in its own [`Ctx`], a panic caught and reported as errored, many at
//! once on worker threads (each with its own processes and ports), the longest first, so the
//! run's wall time is its longest wait.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::ctx::{Ctx, RunConfig};
use super::output::Line;
use super::peer::Event;
use crate::check::{Check, HarnessError, Model, Outcome};
use crate::suites;
use crate::timing::Timing;

/// How long a check takes against a conforming subject, for ordering only (never a deadline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// About this many milliseconds.
    Millis(u64),
    /// `n` periods of the run's `--period` plus `plus_ms` (a check that watches periodic lines).
    Periods {
        /// Periods watched.
        n: u32,
        /// Milliseconds on top.
        plus_ms: u64,
    },
}

/// What an unlisted check is expected to take: most are a start, an exchange and a kill.
pub const EXPECT_DEFAULT: Expect = Expect::Millis(250);

/// The checks that take clearly longer than [`EXPECT_DEFAULT`], by ID, measured against the
/// references (`conformance run all --format json`, `duration_ms`). Only the order of the
/// run depends on it: started first, a long wait overlaps all the short checks instead of
/// beginning after them. An engine test holds every ID here to a registered check.
pub const EXPECTED: &[(&str, Expect)] = &[
    (
        "multiclient.server.periodic-count",
        Expect::Periods {
            n: 2,
            plus_ms: 1500,
        },
    ),
    (
        "messages.client.prompt-before-connect",
        Expect::Millis(3000),
    ),
    ("messages.client.response-stall", Expect::Millis(2000)),
    ("messages.server.stall-no-block", Expect::Millis(1150)),
    ("messages.server.header-stall", Expect::Millis(1150)),
    ("messages.server.body-stall", Expect::Millis(1100)),
    ("messages.server.port-range", Expect::Millis(900)),
    ("hello.server.serves-after-malformed", Expect::Millis(900)),
    ("messages.server.slow-pieces", Expect::Millis(850)),
    ("framed.server.pieces", Expect::Millis(850)),
    ("hello.server.many-connections", Expect::Millis(650)),
    ("hello.server.concurrent-load", Expect::Millis(650)),
    ("framed.client.split-reply", Expect::Millis(550)),
    ("messages.server.port-bounds", Expect::Millis(500)),
    ("hello.server.split-greeting", Expect::Millis(500)),
];

/// The expected duration of `check` in a run with `timing` (see [`EXPECTED`]).
pub fn expected_duration(check: &Check, timing: &Timing) -> Duration {
    let expect = EXPECTED
        .iter()
        .find(|(id, _)| *id == check.id)
        .map_or(EXPECT_DEFAULT, |(_, e)| *e);
    match expect {
        Expect::Millis(ms) => Duration::from_millis(ms),
        Expect::Periods { n, plus_ms } => timing.period * n + Duration::from_millis(plus_ms),
    }
}

/// The order to start `checks` in: longest expected first, ties in registry order.
pub fn start_order(checks: &[&'static Check], timing: &Timing) -> Vec<usize> {
    let mut order: Vec<usize> = (0..checks.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(expected_duration(checks[i], timing)));
    order
}

/// What the report shows beside a verdict.
#[derive(Debug, Clone, Default)]
pub struct Details {
    /// The last bytes exchanged.
    pub transcript: Vec<Event>,
    /// Each subject started by the check, with its last output lines.
    pub outputs: Vec<(String, Vec<Line>)>,
    /// Notes added by the check or the driver (survivors).
    pub notes: Vec<String>,
    /// When the check's context was made: the origin of [`Details::marks`] (None for a
    /// check that never ran).
    pub started: Option<Instant>,
    /// The windows and deadlines the check judged timing against (HTML report only).
    pub marks: Vec<super::marks::TimingMark>,
}

/// The verdict on one check, with what it saw.
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// The registry entry.
    pub check: &'static Check,
    /// The model it ran for.
    pub model: Option<Model>,
    /// The verdict.
    pub outcome: Outcome,
    /// Wall time.
    pub duration: Duration,
    /// Transcript, output tails, notes.
    pub details: Details,
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without message".to_owned()
    }
}

/// Why a check restricted to some models does not apply.
pub fn skip_reason(check: &Check, model: Option<Model>) -> String {
    let list: Vec<&str> = check.models.iter().map(|m| m.as_str()).collect();
    let this = match model {
        Some(m) => format!(
            "this run tests {} {m} server",
            if m == Model::Iterative { "an" } else { "a" }
        ),
        None => "no --model was given (pass --model to run it)".to_owned(),
    };
    format!("only for {} servers; {this}", list.join(" and "))
}

/// Runs one check to its verdict; never panics, never hangs past the check's deadlines.
pub fn run_check(check: &'static Check, cfg: &Arc<RunConfig>) -> CheckReport {
    let started = Instant::now();
    let model = cfg.model;
    if !check.applies_to(model) {
        return CheckReport {
            check,
            model,
            outcome: Outcome::Skipped(skip_reason(check, model)),
            duration: Duration::ZERO,
            details: Details::default(),
        };
    }
    let Some(suite) = suites::find(check.suite) else {
        return CheckReport {
            check,
            model,
            outcome: Outcome::Errored(format!("unknown suite {}", check.suite).into()),
            duration: Duration::ZERO,
            details: Details::default(),
        };
    };
    let mut ctx = Ctx::new(check, suite, Arc::clone(cfg));
    let result = catch_unwind(AssertUnwindSafe(|| (check.run)(&mut ctx)));
    let mut outcome = match result {
        Ok(r) => Outcome::from(r),
        Err(p) => Outcome::Errored(format!("the check panicked: {}", panic_text(&*p)).into()),
    };
    let survivors = ctx.survivors();
    if outcome == Outcome::Passed && !survivors.is_empty() {
        outcome = Outcome::Errored(HarnessError::Survivors {
            what: survivors.join("; "),
        });
    }
    CheckReport {
        check,
        model,
        outcome,
        duration: started.elapsed(),
        details: ctx.finish(),
    }
}

/// Runs `checks` with up to `jobs` at once; `done` sees each report as it completes.
/// Reports come back in the order of `checks`.
pub fn run_checks(
    checks: &[&'static Check],
    cfg: &Arc<RunConfig>,
    jobs: usize,
    done: &(dyn Fn(&CheckReport) + Sync),
) -> Vec<CheckReport> {
    let jobs = if cfg.fixed_port.is_some() && !super::contain::netns_available() {
        1
    } else {
        jobs.max(1)
    };
    let order = start_order(checks, &cfg.timing);
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<CheckReport>>> = checks.iter().map(|_| Mutex::new(None)).collect();
    thread::scope(|s| {
        for _ in 0..jobs.min(checks.len()) {
            s.spawn(|| {
                while let Some(&i) = order.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let check = checks[i];
                    let report = run_check(check, cfg);
                    done(&report);
                    super::signals::record(&report);
                    *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(report);
                }
            });
        }
    });
    let mut reports: Vec<CheckReport> = slots
        .into_iter()
        .filter_map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect();
    mark_blocked(&mut reports);
    reports
}

/// A failed check whose prerequisite ([`Check::needs`]) failed or was blocked itself is
/// reported as blocked by it: one defect is told once, by the check about it.
pub fn mark_blocked(reports: &mut [CheckReport]) {
    let not_passed = |id: &str, reports: &[CheckReport]| {
        reports.iter().any(|r| {
            r.check.id == id && matches!(r.outcome, Outcome::Failed(_) | Outcome::Blocked { .. })
        })
    };
    // Prerequisites may chain; a few rounds settle any chain the registry can hold.
    for _ in 0..4 {
        let mut changed = false;
        for i in 0..reports.len() {
            if !matches!(reports[i].outcome, Outcome::Failed(_)) {
                continue;
            }
            if let Some(by) = reports[i]
                .check
                .needs
                .iter()
                .copied()
                .find(|id| not_passed(id, reports))
            {
                let why = match &reports[i].outcome {
                    Outcome::Failed(f) => f.actual.clone(),
                    _ => String::new(),
                };
                reports[i].outcome = Outcome::Blocked { by, why };
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}
