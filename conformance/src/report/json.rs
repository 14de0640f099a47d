//! The JSON report (docs/report.schema.json; `schema_version` 2): scripts and CI gates read
//! it. Everything the human report shows is here as data: expected and actual apart, the
//! typed cause, the transcript (bytes, direction, milliseconds), the subjects' output tails,
//! notes, and the points.

use std::time::Instant;

use serde::Serialize;

use super::{RunInfo, Summary, summarize};
use crate::check::{Cause, HarnessError, Outcome};
use crate::driver::peer::Dir;
use crate::driver::{CheckReport, MarkKind};

/// Bumped when a field changes meaning or goes away (adding one does not bump it).
pub const SCHEMA_VERSION: u32 = 2;

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

/// One exchange on a socket, or a note of the check.
#[derive(Debug, Serialize)]
pub struct JsonEvent {
    /// Milliseconds since the check's first recorded event or output line.
    pub at_ms: u64,
    /// "client 1", "server".
    pub peer: String,
    /// `sent` (by the suite), `received` (by the suite) or `note`.
    pub dir: &'static str,
    /// Full length before the cut.
    pub len: usize,
    /// The bytes kept, in hex.
    pub hex: String,
    /// The bytes kept, as text (invalid UTF-8 replaced).
    pub text: String,
}

/// One output line of a subject.
#[derive(Debug, Serialize)]
pub struct JsonLine {
    /// Milliseconds since the check's first recorded event or output line.
    pub at_ms: u64,
    /// `stdout` or `stderr`.
    pub stream: &'static str,
    /// The line without its newline.
    pub text: String,
    /// Cut at the line cap.
    pub truncated: bool,
}

/// The output tail of one subject a check started.
#[derive(Debug, Serialize)]
pub struct JsonOutput {
    /// Its command line.
    pub command: String,
    /// Its last lines.
    pub lines: Vec<JsonLine>,
}

/// A window or deadline the check judged timing against, or a moment it judged.
#[derive(Debug, Serialize)]
pub struct JsonMark {
    /// What it is ("tick 1 window", "closed by (gap + slack)").
    pub label: String,
    /// `window`, `deadline` or `seen`.
    pub kind: &'static str,
    /// Its start, in milliseconds on the transcript's `at_ms` clock (negative: before the
    /// first recorded event).
    pub from_ms: i64,
    /// Its end, likewise (equal to `from_ms` but for a window).
    pub to_ms: i64,
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
    /// The model it ran for.
    pub model: Option<&'static str>,
    /// `passed`, `failed`, `skipped`, `blocked`, `errored`.
    pub status: &'static str,
    /// The assignment passage.
    pub spec: &'static str,
    /// One-line summary.
    pub summary: &'static str,
    /// One line: expected and actual, the skip reason, the block or the error.
    pub message: Option<String>,
    /// What a conforming program does (failed checks).
    pub expected: Option<String>,
    /// What this one did (failed checks; for blocked ones what was seen).
    pub actual: Option<String>,
    /// The hint for a failure.
    pub hint: Option<String>,
    /// Why it failed, as data (`kind` and its fields).
    pub cause: Option<serde_json::Value>,
    /// The prerequisite that did not pass (blocked checks).
    pub blocked_by: Option<&'static str>,
    /// What kept the suite from judging (errored checks): `kind`, its fields, `message`.
    pub error: Option<serde_json::Value>,
    /// Why it was skipped.
    pub skip_reason: Option<String>,
    /// Points earned.
    pub score: f64,
    /// Points it is worth (0 when skipped).
    pub max_score: f64,
    /// Wall time of the check.
    pub duration_ms: u64,
    /// Notes of the check and the driver.
    pub notes: Vec<String>,
    /// The last bytes exchanged.
    pub transcript: Vec<JsonEvent>,
    /// The subjects' output tails.
    pub outputs: Vec<JsonOutput>,
    /// The windows and deadlines the check judged timing against.
    pub marks: Vec<JsonMark>,
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct JsonReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The tool.
    pub tool: Tool,
    /// Suites run.
    pub suites: Vec<String>,
    /// Commands under test.
    pub subjects: Subjects,
    /// The model, when one was given.
    pub model: Option<String>,
    /// `--strict`.
    pub strict: bool,
    /// `--slack` in seconds.
    pub slack_s: f64,
    /// The periodic interval in force, seconds (multiclient).
    pub period_s: f64,
    /// Start of the run, RFC 3339 UTC.
    pub started_at: String,
    /// Wall time of the run.
    pub duration_ms: u64,
    /// `pass` or `fail`.
    pub verdict: &'static str,
    /// Points earned.
    pub score: f64,
    /// Points possible.
    pub max_score: f64,
    /// Counts.
    pub summary: Summary,
    /// Every check, in run order.
    pub checks: Vec<JsonCheck>,
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Points as people write them: `3`, `2.5`.
pub fn points_text(p: f64) -> String {
    if p.fract() == 0.0 {
        format!("{p:.0}")
    } else {
        format!("{p:.2}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned()
    }
}

/// The first instant a check recorded (transcript or output), the origin of its `at_ms`.
pub fn origin(r: &CheckReport) -> Option<Instant> {
    let events = r.details.transcript.iter().map(|e| e.at);
    let lines = r
        .details
        .outputs
        .iter()
        .flat_map(|(_, l)| l.iter().map(|l| l.at));
    events.chain(lines).min()
}

/// A cause as `{"kind": ..., fields}`.
pub fn cause_value(c: &Cause) -> serde_json::Value {
    serde_json::to_value(c)
        .unwrap_or_else(|_| serde_json::json!({"kind": "other", "text": format!("{c:?}")}))
}

/// A harness error as `{"kind": ..., fields, "message": its text}`.
pub fn error_value(e: &HarnessError) -> serde_json::Value {
    let mut v = serde_json::to_value(e).unwrap_or_else(|_| serde_json::json!({"kind": "other"}));
    if let Some(m) = v.as_object_mut() {
        m.insert("message".into(), e.to_string().into());
    }
    v
}

/// The marks of `r` on the clock of its transcript's `at_ms`.
fn marks(r: &CheckReport) -> Vec<JsonMark> {
    let Some(started) = r.details.started else {
        return Vec::new();
    };
    let t0 = origin(r).unwrap_or(started);
    let signed = |i: Instant| match i.checked_duration_since(t0) {
        Some(d) => i64::try_from(millis(d)).unwrap_or(i64::MAX),
        None => -i64::try_from(millis(t0.saturating_duration_since(i))).unwrap_or(i64::MAX),
    };
    r.details
        .marks
        .iter()
        .map(|m| JsonMark {
            label: m.label.clone(),
            kind: match m.kind {
                MarkKind::Window => "window",
                MarkKind::Deadline => "deadline",
                MarkKind::Seen => "seen",
            },
            from_ms: signed(started + m.from),
            to_ms: signed(started + m.to),
        })
        .collect()
}

fn check(info: &RunInfo, r: &CheckReport) -> JsonCheck {
    let t0 = origin(r);
    let at = |i: Instant| t0.map_or(0, |t0| millis(i.saturating_duration_since(t0)));
    let (score, max_score) = info.rubric.score(r);
    let (mut expected, mut actual, mut hint, mut cause) = (None, None, None, None);
    let (mut blocked_by, mut error, mut skip_reason) = (None, None, None);
    match &r.outcome {
        Outcome::Passed => {}
        Outcome::Failed(f) => {
            expected = Some(f.expected.clone());
            actual = Some(f.actual.clone());
            hint = f.hint.clone();
            cause = f.cause.as_ref().map(cause_value);
        }
        Outcome::Skipped(why) => skip_reason = Some(why.clone()),
        Outcome::Blocked { by, why } => {
            blocked_by = Some(*by);
            actual = Some(why.clone()).filter(|w| !w.is_empty());
        }
        Outcome::Errored(e) => error = Some(error_value(e)),
    }
    JsonCheck {
        id: r.check.id,
        suite: r.check.suite,
        role: r.check.role.as_str(),
        level: r.check.level.as_str(),
        model: r.model.map(|m| m.as_str()),
        status: r.outcome.status(),
        spec: r.check.spec,
        summary: r.check.summary,
        message: r.outcome.message(),
        expected,
        actual,
        hint,
        cause,
        blocked_by,
        error,
        skip_reason,
        score,
        max_score,
        duration_ms: millis(r.duration),
        notes: r.details.notes.clone(),
        marks: marks(r),
        transcript: r
            .details
            .transcript
            .iter()
            .map(|e| JsonEvent {
                at_ms: at(e.at),
                peer: e.peer.clone(),
                dir: match e.dir {
                    Dir::Sent => "sent",
                    Dir::Received => "received",
                    Dir::Note => "note",
                },
                len: e.len,
                hex: e.bytes.iter().map(|b| format!("{b:02x}")).collect(),
                text: String::from_utf8_lossy(&e.bytes).into_owned(),
            })
            .collect(),
        outputs: r
            .details
            .outputs
            .iter()
            .map(|(command, lines)| JsonOutput {
                command: command.clone(),
                lines: lines
                    .iter()
                    .map(|l| JsonLine {
                        at_ms: at(l.at),
                        stream: l.stream.as_str(),
                        text: l.text.clone(),
                        truncated: l.truncated,
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Builds the report of a run.
pub fn build(info: &RunInfo, reports: &[CheckReport]) -> JsonReport {
    let (score, max_score) = info.rubric.total(reports);
    JsonReport {
        schema_version: SCHEMA_VERSION,
        tool: Tool {
            name: "conformance",
            version: env!("CARGO_PKG_VERSION"),
        },
        suites: info.suites.clone(),
        subjects: Subjects {
            server: info.server.clone(),
            client: info.client.clone(),
        },
        model: info.model.clone(),
        strict: info.strict,
        slack_s: info.slack.as_secs_f64(),
        period_s: info.period.as_secs_f64(),
        started_at: info.started_rfc3339(),
        duration_ms: millis(info.duration),
        verdict: info.verdict(reports),
        score,
        max_score,
        summary: summarize(reports),
        checks: reports.iter().map(|r| check(info, r)).collect(),
    }
}

/// The report as pretty JSON with a final newline.
pub fn to_string(info: &RunInfo, reports: &[CheckReport]) -> String {
    let mut s = serde_json::to_string_pretty(&build(info, reports)).unwrap_or_else(|_| "{}".into());
    s.push('\n');
    s
}
