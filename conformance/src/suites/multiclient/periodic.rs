//! The periodic count (002: "every 1 minute (+/-1 sec) regardless of whether there are other
//! events"): two periods watched from the moment the server listens, with clients coming
//! and going all through the first, each tick's count compared with the suite's own.

use std::time::{Duration, Instant};

use super::lines::{Event, parse_tick};
use super::session::{HINT_CONCURRENT, HINT_FLUSH, Session, events_in};
use crate::check::{Cause, Check, CheckResult, Level, fail};
use crate::driver::{Ctx, Line, Stopwatch};
use crate::timing::PERIOD_TOLERANCE;

pub static PERIODIC_COUNT: Check = Check::new(
    "multiclient.server.periodic-count",
    Level::Required,
    "002 requirements: the number of clients every 1 minute (+/-1 sec), regardless of events",
    "the count is printed every period +- 1 s from listening, and is right, while clients come and go",
    periodic_count,
);

/// When a tick is due: `k` periods after the server started (its timer may start before it
/// listens) up to `k` periods after it was seen listening, each widened by the tolerance
/// and a small margin for a loaded machine.
fn tick_window(ctx: &Ctx, started: Instant, listening: Instant, k: u32) -> (Instant, Instant) {
    let t = ctx.timing();
    let margin = t.tick_margin();
    let early = (started + t.period * k)
        .checked_sub(PERIOD_TOLERANCE + margin)
        .unwrap_or(started);
    (early, listening + t.period * k + PERIOD_TOLERANCE + margin)
}

/// Every line a capture holds, oldest first: the kept head, then those of the tail ring
/// that came after it (a server that flooded its output past the cap still has its newest
/// lines, the late ticks among them, judged).
pub fn newest_lines(kept: Vec<Line>, tail: Vec<Line>) -> Vec<Line> {
    let fresh: Vec<Line> = tail.into_iter().filter(|l| !kept.contains(l)).collect();
    let mut all = kept;
    all.extend(fresh);
    all.sort_by_key(|l| l.at);
    all
}

fn periodic_count(ctx: &mut Ctx) -> CheckResult {
    let mut s = Session::start(ctx)?;
    let clock = Stopwatch::start();
    let started = s.server.started();
    let p = ctx.timing().period;
    let at = |f: f64| p.mul_f64(f);
    // Events all through the first period and into the second: a wait that every event
    // restarts (select() with a whole period as its timeout) then never fires on time.
    // Three clients are connected at the first tick (a one-at-a-time server counts one),
    // one at the second. `truth`: how many the suite has connected after each step, and when.
    let mut truth = vec![(clock.instant(), 0u64)];
    let mut step = |count: u64| truth.push((Instant::now(), count));
    let (a, _) = s.connect()?;
    step(1);
    clock.pause_until(at(0.2));
    let (b, _) = s.connect()?;
    step(2);
    clock.pause_until(at(0.45));
    s.close(a, 1);
    step(1);
    clock.pause_until(at(0.7));
    let (c, _) = s.connect()?;
    step(2);
    clock.pause_until(at(0.95));
    let (d, _) = s.connect()?;
    step(3);
    clock.pause_until(at(1.3));
    s.close(b, 2);
    step(2);
    clock.pause_until(at(1.6));
    s.close(c, 3);
    step(1);
    // Watch until the second tick's window has closed; every line is timestamped on arrival.
    let (_, last) = tick_window(ctx, started, clock.instant(), 2);
    clock.pause_until(last.saturating_duration_since(clock.instant()));
    drop(d);

    // The newest lines too: a late tick after a flood of output is judged, not lost.
    let capture = s.server.capture();
    let lines = newest_lines(capture.lines(), capture.tail());
    let capped = capture.dropped() != (0, 0);
    let mut ticks: Vec<(&Line, u64)> = lines
        .iter()
        .filter(|l| l.at <= last)
        .filter_map(|l| parse_tick(&l.text).map(|n| (l, n)))
        .collect();
    // A count printed once at start-up, before the first period, is allowed (the text says
    // only "every 1 minute"): the first count line, if it came before the first window and
    // within a moment of listening, is not a tick.
    let (first_early, _) = tick_window(ctx, started, clock.instant(), 1);
    let startup_by = clock.instant() + Duration::from_secs(1) + ctx.timing().tick_margin();
    if ticks
        .first()
        .is_some_and(|(l, _)| l.at < first_early && l.at <= startup_by)
    {
        ticks.remove(0);
    }
    // The picture of the verdict: each tick's window and the count lines it was judged on.
    let listening = clock.instant();
    ctx.mark_seen("listening", listening);
    for k in 1..=u32::try_from(ticks.len()).unwrap_or(u32::MAX).clamp(2, 8) {
        let (early, late) = tick_window(ctx, started, listening, k);
        ctx.mark_window(format!("tick {k} window"), early, late);
    }
    for (k, (line, n)) in (1u32..).zip(&ticks).take(8) {
        ctx.mark_seen(format!("tick {k} (count {n})"), line.at);
    }
    let since = |l: &Line| {
        l.at.saturating_duration_since(clock.instant())
            .as_secs_f64()
    };
    let seen = || {
        if ticks.is_empty() {
            "no count line at all".to_owned()
        } else {
            ticks
                .iter()
                .map(|(l, _)| format!("`{}` at {:.2} s", l.trimmed(), since(l)))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let hint_timer = "print the count from a timer that keeps its own schedule (next += period): \
         a thread that sleeps until the next due time, or select() with the time left until \
         it as its timeout, never a whole period after the last event";
    // The k-th count line must fall in the k-th window. Windows are taken in order, not by
    // position: with a short --period and a slow start they overlap, and a third line that
    // is early only because the timer started before the server listened is no extra line.
    for (k, (line, n)) in (1u32..).zip(&ticks) {
        let (early, late) = tick_window(ctx, started, clock.instant(), k);
        let due = p.as_secs_f64() * f64::from(k);
        let expected = format!(
            "count line {k} about {due:.0} s after the server started listening (+- {:.0} s)",
            PERIOD_TOLERANCE.as_secs_f64()
        );
        if line.at < early {
            return Err(fail(
                expected,
                format!("it came at {:.2} s; count lines: {}", since(line), seen()),
            )
            .hint("print the count once per period, from the timer only"));
        }
        if line.at > late {
            return Err(fail(
                expected,
                format!("it came at {:.2} s; count lines: {}", since(line), seen()),
            )
            .hint(hint_timer));
        }
        if k <= 2 {
            check_tick_count(&truth, &events_in(&lines), line, *n, since(line))?;
        }
    }
    if ticks.len() < 2 {
        let f = fail(
            format!(
                "a count line every {:.0} s (+- {:.0} s): two in the first {:.0} s",
                p.as_secs_f64(),
                PERIOD_TOLERANCE.as_secs_f64(),
                2.0 * p.as_secs_f64() + PERIOD_TOLERANCE.as_secs_f64()
            ),
            format!(
                "count lines: {}{}",
                seen(),
                if capped {
                    " (its output went past the suite's cap; only its first and last lines were kept)"
                } else {
                    ""
                }
            ),
        )
        .hint(if lines.is_empty() { HINT_FLUSH } else { hint_timer });
        return Err(if capped {
            f.cause(Cause::OutputCapped)
        } else {
            f
        });
    }
    Ok(())
}

/// How long a server may take to notice a connect or a close before its count shows it.
const NOTICE: Duration = Duration::from_millis(500);

/// A tick's count must be the number of clients connected when it was printed: what the
/// suite's own steps make it at that moment, or shortly before (the server may not have
/// noticed the last step yet).
///
/// A wrong tick that agrees with the server's own last event line is no timer fault: the
/// server had not taken all the suite's connections (it serves one client at a time).
fn check_tick_count(
    truth: &[(Instant, u64)],
    events: &[(Instant, Event)],
    tick: &Line,
    n: u64,
    secs: f64,
) -> CheckResult {
    let from = tick.at.checked_sub(NOTICE).unwrap_or(tick.at);
    let at = |t: Instant| {
        truth
            .iter()
            .rev()
            .find(|(when, _)| *when <= t)
            .map_or(0, |s| s.1)
    };
    let mut valid: Vec<u64> = truth
        .iter()
        .filter(|(when, _)| *when > from && *when <= tick.at)
        .map(|s| s.1)
        .collect();
    valid.push(at(from));
    if valid.contains(&n) {
        return Ok(());
    }
    let expected = format!(
        "the count line at {secs:.2} s gives the number of clients connected then ({})",
        at(tick.at)
    );
    let own = events
        .iter()
        .rev()
        .find(|(when, _)| *when <= tick.at)
        .and_then(|(_, e)| e.count);
    if own == Some(n) {
        return Err(fail(
            expected,
            format!(
                "`{}`, as its own last event line said: it had announced only {n} of the \
                 suite's {} connections",
                tick.trimmed(),
                at(tick.at)
            ),
        )
        .hint(HINT_CONCURRENT));
    }
    Err(fail(expected, format!("`{}`", tick.trimmed()))
    .hint("the timer must read the count that connects and disconnects keep up to date (shared, under a lock)"))
}
