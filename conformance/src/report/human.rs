//! The human report: a line per check, then every failure in detail (expected versus
//! actual, hint, spec passage, last bytes exchanged, the subject's last output), then a
//! summary line per suite. Colour only when asked (stdout is a terminal).

use std::fmt::Write as _;

use super::summarize;
use crate::check::Outcome;
use crate::driver::CheckReport;
use crate::driver::peer::{Dir, Event};

/// Transcript events shown for a failure.
const SHOWN_EVENTS: usize = 8;
/// Bytes shown per event in hex.
const SHOWN_HEX: usize = 48;
/// Output lines shown per subject.
const SHOWN_LINES: usize = 8;

fn paint(color: bool, code: &str, text: &str) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

/// The status word, padded and coloured.
pub fn status_word(o: &Outcome, color: bool) -> String {
    match o {
        Outcome::Passed => paint(color, "32", "PASS "),
        Outcome::Failed(_) => paint(color, "1;31", "FAIL "),
        Outcome::Skipped(_) => paint(color, "33", "SKIP "),
        Outcome::Blocked { .. } => paint(color, "33", "BLOCK"),
        Outcome::Errored(_) => paint(color, "1;35", "ERROR"),
    }
}

/// The name of a check with its model when the run covered several.
pub fn display_id(r: &CheckReport, with_model: bool) -> String {
    match (with_model, r.model) {
        (true, Some(m))
            if !r.check.models.is_empty() || r.check.role == crate::check::Role::Server =>
        {
            format!("{}[{m}]", r.check.id)
        }
        _ => r.check.id.to_owned(),
    }
}

/// `PASS id (level) summary`, with the skip reason or error appended.
pub fn line(r: &CheckReport, color: bool, with_model: bool) -> String {
    let mut s = format!(
        "{} {} ({}) {}",
        status_word(&r.outcome, color),
        display_id(r, with_model),
        r.check.level,
        r.check.summary
    );
    match &r.outcome {
        Outcome::Skipped(why) => {
            let _ = write!(s, " -- {why}");
        }
        Outcome::Errored(e) => {
            let _ = write!(s, " -- {e}");
        }
        Outcome::Blocked { by, .. } => {
            let _ = write!(s, " -- blocked by {by} (not judged: see that check)");
        }
        _ => {}
    }
    s
}

fn hex(bytes: &[u8]) -> String {
    bytes[..bytes.len().min(SHOWN_HEX)]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn event_line(e: &Event, t0: std::time::Instant) -> String {
    let at = e.at.saturating_duration_since(t0).as_millis();
    match e.dir {
        Dir::Note => format!(
            "      +{at:>5} ms {}: {}",
            e.peer,
            String::from_utf8_lossy(&e.bytes)
        ),
        Dir::Sent | Dir::Received => {
            let verb = if e.dir == Dir::Sent {
                "<- suite sent"
            } else {
                "-> suite received"
            };
            let more = if e.len > e.bytes.len() {
                format!(" (first {} of {} bytes)", e.bytes.len(), e.len)
            } else {
                String::new()
            };
            format!(
                "      +{at:>5} ms {}: {verb} {}{more}\n{:>16}hex: {}",
                e.peer,
                crate::driver::describe_bytes(&e.bytes),
                "",
                hex(&e.bytes)
            )
        }
    }
}

/// Everything about one failed or errored check.
pub fn details(r: &CheckReport, color: bool, with_model: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} {} ({})",
        status_word(&r.outcome, color),
        display_id(r, with_model),
        r.check.level
    );
    match &r.outcome {
        Outcome::Failed(f) => {
            let _ = writeln!(s, "    expected: {}", f.expected);
            let _ = writeln!(s, "      actual: {}", f.actual);
            if let Some(h) = &f.hint {
                let _ = writeln!(s, "        hint: {h}");
            }
        }
        Outcome::Errored(e) => {
            let _ = writeln!(
                s,
                "       error: {e} (a problem of the suite or the machine, not a verdict)"
            );
        }
        Outcome::Blocked { by, why } => {
            let _ = writeln!(
                s,
                "     blocked: not judged, because {by} did not pass (fix that first)"
            );
            if !why.is_empty() {
                let _ = writeln!(s, "        seen: {why}");
            }
        }
        _ => {}
    }
    let _ = writeln!(s, "        spec: {}", r.check.spec);
    for n in &r.details.notes {
        let _ = writeln!(s, "        note: {n}");
    }
    let ev = &r.details.transcript;
    if let Some(first) = ev.first() {
        let start = ev.len().saturating_sub(SHOWN_EVENTS);
        let skipped = if start > 0 {
            format!(" (last {SHOWN_EVENTS})")
        } else {
            String::new()
        };
        let _ = writeln!(s, "    exchanged{skipped}:");
        for e in &ev[start..] {
            let _ = writeln!(s, "{}", event_line(e, first.at));
        }
    }
    for (cmd, lines) in &r.details.outputs {
        let _ = writeln!(s, "    output of `{cmd}`:");
        if lines.is_empty() {
            let _ = writeln!(s, "      (none)");
        }
        let start = lines.len().saturating_sub(SHOWN_LINES);
        for l in &lines[start..] {
            let cut = if l.truncated { " [line cut]" } else { "" };
            let _ = writeln!(s, "      {}: {}{cut}", l.stream.as_str(), l.text);
        }
    }
    s
}

/// The whole report of a run; `lines`: start with a line per check (left out when they
/// were printed live).
pub fn render(
    suites: &[String],
    reports: &[CheckReport],
    color: bool,
    with_model: bool,
    lines: bool,
) -> String {
    let mut s = String::new();
    for r in reports.iter().filter(|_| lines) {
        let _ = writeln!(s, "{}", line(r, color, with_model));
    }
    let bad: Vec<&CheckReport> = reports
        .iter()
        .filter(|r| {
            matches!(
                r.outcome,
                Outcome::Failed(_) | Outcome::Blocked { .. } | Outcome::Errored(_)
            )
        })
        .collect();
    if !bad.is_empty() {
        let _ = writeln!(s);
        for r in bad {
            let _ = writeln!(s, "{}", details(r, color, with_model));
        }
    }
    for suite in suites {
        let sum = summarize(reports.iter().filter(|r| r.check.suite == suite));
        let mut parts = vec![
            format!("{} passed", sum.passed),
            format!("{} failed", sum.failed),
        ];
        if sum.blocked > 0 {
            parts.push(format!("{} blocked", sum.blocked));
        }
        if sum.skipped > 0 {
            parts.push(format!("{} skipped", sum.skipped));
        }
        if sum.errored > 0 {
            parts.push(format!("{} errored", sum.errored));
        }
        let _ = writeln!(s, "{suite}: {}", parts.join(", "));
    }
    s
}

/// The run's last line, as pytest and cargo test end: verdict, counts, points, elapsed.
/// `PASS: 29 passed, 2 skipped; 29/29 points; 12.4 s` or
/// `FAIL (2 required checks did not pass): 27 passed, 1 failed, 1 blocked; 27/29 points; 12.4 s`.
pub fn final_line(info: &super::RunInfo, reports: &[CheckReport]) -> String {
    let sum = summarize(reports);
    let mut parts = vec![format!("{} passed", sum.passed)];
    for (n, word) in [
        (sum.failed, "failed"),
        (sum.blocked, "blocked"),
        (sum.errored, "errored"),
        (sum.skipped, "skipped"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    let verdict = if info.verdict(reports) == "pass" {
        "PASS".to_owned()
    } else if sum.required_failed > 0 {
        format!(
            "FAIL ({} required check{} did not pass)",
            sum.required_failed,
            if sum.required_failed == 1 { "" } else { "s" }
        )
    } else {
        "FAIL (recommended checks did not pass, --strict)".to_owned()
    };
    let (score, max) = info.rubric.total(reports);
    format!(
        "{verdict}: {}; {}/{} points; {:.1} s",
        parts.join(", "),
        super::json::points_text(score),
        super::json::points_text(max),
        info.duration.as_secs_f64()
    )
}
