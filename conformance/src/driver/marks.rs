//! Timing marks: the windows and deadlines a check judged a subject's timing against (a
//! periodic tick's acceptance window, the moment a stalled connection must be closed by),
//! kept beside the transcript so that the report can draw what was seen against what was
//! due. They are a picture of the verdict only: no verdict is read from them.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// At most this many marks per check: a check in a loop cannot grow a report without bound.
pub const MAX_MARKS: usize = 64;

/// What a mark shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkKind {
    /// A span in which something was due (drawn as a shaded band).
    Window,
    /// A moment by which something was due (drawn as a vertical line).
    Deadline,
    /// A moment the check judged (a tick line seen; drawn as a short marker).
    Seen,
}

/// One mark, as offsets from the check's start on the transcript's clock ([`Instant`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimingMark {
    /// What it is ("tick 1 window", "closed by").
    pub label: String,
    /// Band, line or marker.
    pub kind: MarkKind,
    /// Its start after the check's start.
    pub from: Duration,
    /// Its end after the check's start (equal to `from` for a deadline or a seen moment).
    pub to: Duration,
}

/// The marks of one check, shared by whatever records them (a clone records into the same
/// list, so a scenario helper that holds no [`super::Ctx`] can take one along).
#[derive(Debug, Clone)]
pub struct Marks {
    start: Instant,
    list: Arc<Mutex<Vec<TimingMark>>>,
}

impl Marks {
    /// An empty list whose offsets count from `start`.
    pub fn new(start: Instant) -> Marks {
        Marks {
            start,
            list: Arc::default(),
        }
    }

    /// The instant offsets count from (the check's start).
    pub fn start(&self) -> Instant {
        self.start
    }

    fn push(&self, label: impl Into<String>, kind: MarkKind, from: Instant, to: Instant) {
        let mut list = self.list.lock().unwrap_or_else(|e| e.into_inner());
        if list.len() >= MAX_MARKS {
            return;
        }
        let from = from.saturating_duration_since(self.start);
        let to = to.saturating_duration_since(self.start).max(from);
        list.push(TimingMark {
            label: label.into(),
            kind,
            from,
            to,
        });
    }

    /// Records a window from `from` to `to`.
    pub fn window(&self, label: impl Into<String>, from: Instant, to: Instant) {
        self.push(label, MarkKind::Window, from, to);
    }

    /// Records a deadline at `at`.
    pub fn deadline(&self, label: impl Into<String>, at: Instant) {
        self.push(label, MarkKind::Deadline, at, at);
    }

    /// Records a judged moment at `at`.
    pub fn seen(&self, label: impl Into<String>, at: Instant) {
        self.push(label, MarkKind::Seen, at, at);
    }

    /// The marks recorded so far, in order.
    pub fn list(&self) -> Vec<TimingMark> {
        self.list.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
