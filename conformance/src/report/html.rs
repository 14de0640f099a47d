//! One self-contained HTML page per run (no script, no network: inline CSS and SVG): the
//! verdict and points, then the checks that did not pass first, each with expected/actual/
//! hint, its transcript and output tail, and a small timeline picture of what happened when
//! (bytes sent and received, notes, output lines) against the check's own duration, which
//! with the windows and deadlines the check judged timing against ([`Details::marks`]:
//! shaded bands and vertical lines) drawn over it, which shows a periodic server's ticks
//! against their windows or a stall against its deadline.
//!
//! [`Details::marks`]: crate::driver::Details::marks

use std::fmt::Write as _;
use std::time::Instant;

use super::RunInfo;
use crate::check::Outcome;
use crate::driver::peer::Dir;
use crate::driver::{CheckReport, MarkKind};

/// Escapes text for HTML bodies and attributes.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\
h1{font-size:1.4em}table{border-collapse:collapse}td,th{padding:2px 8px;text-align:left;\
border-bottom:1px solid #ddd}pre{background:#f6f6f6;padding:8px;overflow-x:auto;\
white-space:pre-wrap}.passed{color:#176b1b}.failed,.errored{color:#b00020}.blocked,\
.skipped{color:#8a6d00}section{border:1px solid #ccc;border-radius:6px;padding:8px 12px;\
margin:12px 0}.verdict-pass{color:#176b1b}.verdict-fail{color:#b00020}svg{display:block}";

/// Where a mark goes on the timeline, and its colour.
struct Mark {
    ms: f64,
    lane: usize,
    color: &'static str,
    label: String,
}

/// At most this many timing marks get a label row of their own (the rest: a tooltip).
const MARK_ROWS: usize = 12;

/// A timeline of the check: lane 0 what the suite sent, 1 what it received, 2 notes, 3 the
/// subjects' output lines; under them a row per timing mark (window, deadline, judged
/// moment), each drawn across the lanes; the axis runs over the check's duration.
pub fn timeline(r: &CheckReport) -> Option<String> {
    let events = super::json::origin(r);
    let started = r.details.started.filter(|_| !r.details.marks.is_empty());
    let t0: Instant = match (events, started) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b)?,
    };
    let ms = |i: Instant| i.saturating_duration_since(t0).as_secs_f64() * 1000.0;
    // Marks count from the check's start, which may come after the first event.
    let mark_base = started.map_or(0.0, ms);
    let mark_ms = |d: std::time::Duration| mark_base + d.as_secs_f64() * 1000.0;
    let mut marks = Vec::new();
    for e in &r.details.transcript {
        let (lane, color) = match e.dir {
            Dir::Sent => (0, "#1f5fbf"),
            Dir::Received => (1, "#176b1b"),
            Dir::Note => (2, "#8a6d00"),
        };
        marks.push(Mark {
            ms: ms(e.at),
            lane,
            color,
            label: format!("{} {}", e.peer, crate::driver::describe_bytes(&e.bytes)),
        });
    }
    for (cmd, lines) in &r.details.outputs {
        for l in lines {
            marks.push(Mark {
                ms: ms(l.at),
                lane: 3,
                color: "#555",
                label: format!("{cmd} {}: {}", l.stream.as_str(), l.text),
            });
        }
    }
    let timing = &r.details.marks;
    let span = marks
        .iter()
        .map(|m| m.ms)
        .chain(timing.iter().map(|m| mark_ms(m.to)))
        .fold(r.duration.as_secs_f64() * 1000.0, f64::max)
        .max(1.0);
    let (w, left, lane_h, row_h) = (640.0, 70.0, 18.0, 14.0);
    let scale = (w - left - 10.0) / span;
    let rows = timing.len().min(MARK_ROWS);
    let lanes_end = lane_h * 4.0;
    let axis_y = lanes_end + row_h * rows as f64 + 4.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{}' role='img' \
         aria-label='timeline of {}'>",
        axis_y + 20.0,
        esc(r.check.id)
    );
    // Bands first, so that what was seen is drawn over what was due.
    for (i, m) in timing.iter().enumerate() {
        let (from, to) = (left + mark_ms(m.from) * scale, left + mark_ms(m.to) * scale);
        let tip = format!(
            "{}: {}",
            esc(&m.label),
            if m.kind == MarkKind::Window {
                format!("{:.2} to {:.2} s", m.from.as_secs_f64(), m.to.as_secs_f64())
            } else {
                format!("{:.2} s", m.from.as_secs_f64())
            }
        );
        let shape = match m.kind {
            MarkKind::Window => format!(
                "<rect class='mark-window' x='{from:.1}' y='0' width='{:.1}' height='{axis_y}' \
                 fill='#1f5fbf' fill-opacity='0.13' stroke='#1f5fbf' stroke-opacity='0.4'>\
                 <title>{tip}</title></rect>",
                (to - from).max(1.0)
            ),
            MarkKind::Deadline => format!(
                "<line class='mark-deadline' x1='{from:.1}' y1='0' x2='{from:.1}' \
                 y2='{axis_y}' stroke='#b00020' stroke-width='1.5' stroke-dasharray='4 3'>\
                 <title>{tip}</title></line>"
            ),
            MarkKind::Seen => format!(
                "<line class='mark-seen' x1='{from:.1}' y1='0' x2='{from:.1}' y2='{axis_y}' \
                 stroke='#6a1b9a' stroke-width='1.5'><title>{tip}</title></line>"
            ),
        };
        s.push_str(&shape);
        if i < rows {
            let y = lanes_end + row_h * (i as f64) + 11.0;
            let color = match m.kind {
                MarkKind::Window => "#1f5fbf",
                MarkKind::Deadline => "#b00020",
                MarkKind::Seen => "#6a1b9a",
            };
            // A label near the right edge runs leftwards so that it stays on the picture.
            let (x, anchor) = if from > left + (w - left) * 0.6 {
                (from - 3.0, "end")
            } else {
                (from + 3.0, "start")
            };
            let _ = write!(
                s,
                "<text x='{x:.1}' y='{y}' font-size='10' fill='{color}' \
                 text-anchor='{anchor}'>{tip}</text>"
            );
        }
    }
    if rows > 0 {
        let _ = write!(
            s,
            "<text x='0' y='{}' font-size='11'>timing</text>",
            lanes_end + 11.0
        );
    }
    for (i, name) in ["sent", "received", "notes", "output"].iter().enumerate() {
        let y = lane_h * (i as f64) + 12.0;
        let _ = write!(
            s,
            "<text x='0' y='{y}' font-size='11'>{name}</text><line x1='{left}' y1='{}' \
             x2='{}' y2='{}' stroke='#ddd'/>",
            y - 4.0,
            w - 10.0,
            y - 4.0
        );
    }
    for m in &marks {
        let x = left + m.ms * scale;
        let y = lane_h * (m.lane as f64) + 2.0;
        let _ = write!(
            s,
            "<rect x='{x:.1}' y='{y}' width='3' height='12' fill='{}'><title>+{:.0} ms {}\
             </title></rect>",
            m.color,
            m.ms,
            esc(&m.label)
        );
    }
    // A deadline past the check's end (a stall closed early) stretches the axis: the end
    // then gets a tick of its own.
    let ended = r.duration.as_secs_f64() * 1000.0;
    let ended_here = ended + 1.0 >= span;
    if !ended_here {
        let x = left + ended * scale;
        let _ = write!(
            s,
            "<line x1='{x:.1}' y1='{}' x2='{x:.1}' y2='{}' stroke='#222'/>\
             <text x='{x:.1}' y='{}' font-size='11' text-anchor='middle'>{:.1} s check \
             ended</text>",
            axis_y - 4.0,
            axis_y + 4.0,
            axis_y + 14.0,
            ended / 1000.0
        );
    }
    let _ = write!(
        s,
        "<line x1='{left}' y1='{axis_y}' x2='{}' y2='{axis_y}' stroke='#888'/>\
         <text x='{left}' y='{}' font-size='11'>0</text>\
         <text x='{}' y='{}' font-size='11' text-anchor='end'>{:.1} s{}</text></svg>",
        w - 10.0,
        axis_y + 14.0,
        w - 10.0,
        axis_y + 14.0,
        span / 1000.0,
        if ended_here { " (check ended)" } else { "" }
    );
    Some(s)
}

fn section(info: &RunInfo, r: &CheckReport) -> String {
    let mut s = String::new();
    let (score, max) = info.rubric.score(r);
    let status = r.outcome.status();
    let _ = write!(
        s,
        "<section id='{id}'><h3><span class='{status}'>{}</span> {id} <small>({}, {}/{} \
         points, {:.1} s)</small></h3><p>{}</p>",
        status.to_uppercase(),
        r.check.level,
        super::json::points_text(score),
        super::json::points_text(max),
        r.duration.as_secs_f64(),
        esc(r.check.summary),
        id = esc(&super::human::display_id(r, r.model.is_some())),
    );
    if !matches!(r.outcome, Outcome::Passed) {
        let _ = write!(
            s,
            "<pre>{}</pre>",
            esc(&super::human::details(r, false, false))
        );
    }
    if let Some(svg) = timeline(r) {
        s.push_str(&svg);
    }
    s.push_str("</section>");
    s
}

/// The page of a run.
pub fn render(info: &RunInfo, reports: &[CheckReport]) -> String {
    let verdict = info.verdict(reports);
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>conformance: {} \
         {}</title><style>{STYLE}</style></head><body><h1>conformance {}: <span \
         class='verdict-{verdict}'>{}</span></h1><p>{}</p><p>server: <code>{}</code>, client: \
         <code>{}</code>, model: {}, strict: {}, slack {:.1} s, started {}</p>",
        esc(&info.suites.join(", ")),
        verdict.to_uppercase(),
        esc(&info.suites.join(", ")),
        verdict.to_uppercase(),
        esc(&super::human::final_line(info, reports)),
        esc(info.server.as_deref().unwrap_or("reference / not run")),
        esc(info.client.as_deref().unwrap_or("reference / not run")),
        esc(info.model.as_deref().unwrap_or("not given")),
        info.strict,
        info.slack.as_secs_f64(),
        esc(&info.started_rfc3339()),
    );
    let bad: Vec<&CheckReport> = reports
        .iter()
        .filter(|r| !matches!(r.outcome, Outcome::Passed | Outcome::Skipped(_)))
        .collect();
    if !bad.is_empty() {
        s.push_str("<h2>Did not pass</h2>");
        for r in &bad {
            s.push_str(&section(info, r));
        }
    }
    s.push_str(
        "<h2>Every check</h2><table><tr><th>check</th><th>level</th><th>status</th>\
                <th>points</th><th>time</th></tr>",
    );
    for r in reports {
        let (score, max) = info.rubric.score(r);
        let id = super::human::display_id(r, r.model.is_some());
        let _ = write!(
            s,
            "<tr><td><a href='#{}'>{}</a></td><td>{}</td><td class='{}'>{}</td><td>{}/{}</td>\
             <td>{:.1} s</td></tr>",
            esc(&id),
            esc(&id),
            r.check.level,
            r.outcome.status(),
            r.outcome.status(),
            super::json::points_text(score),
            super::json::points_text(max),
            r.duration.as_secs_f64()
        );
    }
    s.push_str("</table><h2>Passed and skipped</h2>");
    for r in reports
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Passed | Outcome::Skipped(_)))
    {
        s.push_str(&section(info, r));
    }
    s.push_str("</body></html>\n");
    s
}
