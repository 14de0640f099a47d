//! Minimisation of a finding by delta debugging (Zeller's ddmin), each candidate replayed on
//! a fresh server: first the connections kept before the finding, then each connection's
//! steps (sends, pauses, reads), its ending, its split/pause schedule (all sends merged,
//! pauses shortened), and last the bytes of each send. A candidate counts only when it shows
//! the same finding (same signature), so a crash never shrinks into a different hang.
//! Bounded by time and by the number of replays.

use std::time::Instant;

use super::{Case, Ending, Finding, Options, Script, Step, replay};
use crate::suites::Suite;

/// Most replays per finding.
pub const MAX_TESTS: usize = 400;

/// The fewest of connection `i`'s steps in `best` that `test` still keeps.
fn fewer_steps(best: &[Script], i: usize, test: &mut dyn FnMut(&[Script]) -> bool) -> Vec<Step> {
    ddmin(best[i].steps.clone(), &mut |s: &[Step]| {
        let mut c = best.to_vec();
        c[i].steps = s.to_vec();
        test(&c)
    })
}

/// ddmin: a smallest-found subsequence of `items` for which `keep` holds (`keep(items)` is
/// assumed). Removes chunks of halving size; 1-minimal when the budget lets it finish.
pub fn ddmin<T: Clone>(items: Vec<T>, keep: &mut dyn FnMut(&[T]) -> bool) -> Vec<T> {
    let mut items = items;
    let mut n = 2usize;
    while items.len() >= 2 {
        let chunk = items.len().div_ceil(n);
        let mut reduced = false;
        let mut start = 0;
        while start < items.len() {
            let end = (start + chunk).min(items.len());
            let mut candidate = items[..start].to_vec();
            candidate.extend_from_slice(&items[end..]);
            if keep(&candidate) {
                items = candidate;
                n = (n - 1).max(2);
                reduced = true;
                break;
            }
            start = end;
        }
        if !reduced {
            if n >= items.len() {
                break;
            }
            n = (n * 2).min(items.len());
        }
    }
    if items.len() == 1 && keep(&[]) {
        items.clear();
    }
    items
}

/// Minimises `case`; returns it and whether it reproduced on a fresh server at all.
pub fn minimise(suite: &'static Suite, opts: &Options, case: Case) -> (Case, bool) {
    let deadline = Instant::now() + opts.shrink_time;
    let signature = case.finding.signature.clone();
    let mut tests = 0usize;
    let mut last: Option<Finding> = None;
    let mut test = |conns: &[Script]| -> bool {
        if Instant::now() >= deadline || tests >= MAX_TESTS {
            return false;
        }
        tests += 1;
        match replay(suite, &opts.cmd, &opts.exe, opts.timing, conns) {
            Ok(Some(f)) if f.signature == signature => {
                last = Some(f);
                true
            }
            _ => false,
        }
    };
    let mut best: Vec<Script> = match case.connections.last() {
        Some(l) if test(std::slice::from_ref(l)) => vec![l.clone()],
        _ if test(&case.connections) => ddmin(case.connections.clone(), &mut |c: &[Script]| {
            !c.is_empty() && test(c)
        }),
        _ => return (case, false),
    };
    for i in 0..best.len() {
        // Steps.
        best[i].steps = fewer_steps(&best, i, &mut test);
        // A plain close instead of a half-close or reset.
        if best[i].ending != Ending::Close {
            let mut c = best.clone();
            c[i].ending = Ending::Close;
            if test(&c) {
                best = c;
            }
        }
        // The schedule: every send in one write, no pauses.
        if best[i].steps.len() > 1 {
            let bytes = best[i].bytes();
            let mut c = best.clone();
            c[i].steps = vec![Step::Send { hex: bytes }];
            if test(&c) {
                best = c;
            }
        }
        // Pauses shortened to nothing, one at a time.
        for j in 0..best[i].steps.len() {
            if matches!(best[i].steps[j], Step::Pause { ms } if ms > 0) {
                let mut c = best.clone();
                c[i].steps[j] = Step::Pause { ms: 0 };
                if test(&c) {
                    best = c;
                }
            }
        }
        // The bytes of each send.
        for j in 0..best[i].steps.len() {
            let Step::Send { hex: bytes } = &best[i].steps[j] else {
                continue;
            };
            let base = best.clone();
            let smaller = ddmin(bytes.clone(), &mut |b: &[u8]| {
                let mut c = base.clone();
                c[i].steps[j] = Step::Send { hex: b.to_vec() };
                test(&c)
            });
            best[i].steps[j] = Step::Send { hex: smaller };
        }
        // Once the bytes are small, steps that the first pass still needed may go: empty
        // sends, and pauses or reads between pieces that are gone.
        let mut c = best.clone();
        c[i].steps
            .retain(|s| !matches!(s, Step::Send { hex: b } if b.is_empty()));
        if c[i].steps.len() < best[i].steps.len() && test(&c) {
            best = c;
        }
        best[i].steps = fewer_steps(&best, i, &mut test);
    }
    let finding = last.unwrap_or(case.finding);
    (
        Case {
            suite: case.suite,
            seed: case.seed,
            finding,
            connections: best,
        },
        true,
    )
}

/// The minimised case's connections in words.
pub fn describe(conns: &[Script]) -> Vec<String> {
    let mut v = Vec::new();
    for (i, c) in conns.iter().enumerate() {
        v.push(format!("connection {}:", i + 1));
        v.extend(c.describe().into_iter().map(|l| format!("  {l}")));
    }
    v
}
