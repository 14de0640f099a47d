//! Progress of a long run (a multiclient run lasts minutes): on a terminal a live line
//! (indicatif) `[10/11] still running: periodic-count, 45 s of ~125 s`; in a log (stderr not
//! a terminal) a heartbeat line every [`HEARTBEAT`] so CI never sits silent. The runner
//! starts the longest checks first, so the run's elapsed time is the longest pending check's,
//! and `~125 s` is what that check is expected to take (`driver::runner::expected_duration`).

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::check::Check;
use crate::driver::CheckReport;
use crate::driver::runner::expected_duration;
use crate::timing::Timing;

/// How often a log gets a line while checks run.
pub const HEARTBEAT: Duration = Duration::from_secs(30);

/// Where progress goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Nothing (quiet runs, tests).
    Off,
    /// A live bar on stderr (a terminal).
    Bar,
    /// Heartbeat lines on stderr (a log).
    Heartbeat,
}

impl Mode {
    /// Bar on a terminal, heartbeat otherwise.
    pub fn for_stderr() -> Mode {
        use std::io::IsTerminal;
        if std::io::stderr().is_terminal() {
            Mode::Bar
        } else {
            Mode::Heartbeat
        }
    }
}

/// `45 s of ~125 s`: elapsed, and the longest expected duration of what is pending.
fn time_text(elapsed: Duration, pending: &[&'static Check], timing: &Timing) -> String {
    let longest = pending
        .iter()
        .map(|c| expected_duration(c, timing))
        .max()
        .unwrap_or_default();
    if longest > elapsed {
        format!(
            "{} s of ~{} s",
            elapsed.as_secs(),
            longest.as_secs_f64().ceil()
        )
    } else {
        format!("{} s", elapsed.as_secs())
    }
}

/// The checks not finished yet, by short name.
fn pending_text(pending: &[&'static Check]) -> String {
    const SHOWN: usize = 3;
    if pending.is_empty() {
        return "nothing (finishing)".to_owned();
    }
    let names: Vec<&str> = pending.iter().take(SHOWN).map(|c| c.behaviour()).collect();
    let more = pending.len().saturating_sub(SHOWN);
    if more > 0 {
        format!("{} and {more} more", names.join(", "))
    } else {
        names.join(", ")
    }
}

/// A run's progress display; [`Progress::done`] for each finished check, then
/// [`Progress::finish`].
pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    timing: Timing,
    pending: Arc<Mutex<Vec<&'static Check>>>,
    stop: Option<Sender<()>>,
    ticker: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts showing progress of `checks`.
    pub fn start(checks: &[&'static Check], timing: &Timing, mode: Mode) -> Progress {
        let pending = Arc::new(Mutex::new(checks.to_vec()));
        let total = checks.len() as u64;
        let bar = (mode == Mode::Bar).then(|| {
            let b = ProgressBar::new(total);
            let style = ProgressStyle::with_template("[{pos}/{len}] still running: {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            b.set_style(style);
            b.enable_steady_tick(Duration::from_millis(500));
            b
        });
        let (stop, rx) = mpsc::channel::<()>();
        let ticker = {
            let pending = Arc::clone(&pending);
            let bar = bar.clone();
            let timing = *timing;
            (mode != Mode::Off).then(|| {
                std::thread::spawn(move || {
                    let started = Instant::now();
                    let every = if bar.is_some() {
                        Duration::from_millis(500)
                    } else {
                        HEARTBEAT
                    };
                    loop {
                        match rx.recv_timeout(every) {
                            Err(RecvTimeoutError::Timeout) => {}
                            _ => return,
                        }
                        let p = pending.lock().unwrap_or_else(|e| e.into_inner());
                        let names = pending_text(&p);
                        let time = time_text(started.elapsed(), &p, &timing);
                        match &bar {
                            Some(b) => b.set_message(format!("{names}, {time}")),
                            None => eprintln!(
                                "conformance: {time}, {} of {total} checks done; still running: \
                                 {names}",
                                total - p.len() as u64
                            ),
                        }
                    }
                })
            })
        };
        if let Some(b) = &bar {
            b.set_message(pending_text(
                &pending.lock().unwrap_or_else(|e| e.into_inner()),
            ));
        }
        Progress {
            bar,
            started: Instant::now(),
            timing: *timing,
            pending,
            stop: Some(stop),
            ticker,
        }
    }

    /// A check finished; `line` (if any) is printed on stdout above the bar.
    pub fn done(&self, r: &CheckReport, line: Option<String>) {
        let text = {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(i) = p.iter().position(|c| std::ptr::eq(*c, r.check)) {
                p.remove(i);
            }
            format!(
                "{}, {}",
                pending_text(&p),
                time_text(self.started.elapsed(), &p, &self.timing)
            )
        };
        match &self.bar {
            Some(b) => {
                // Counted and renamed before the line goes out, so the bar never shows a
                // finished check as running.
                b.inc(1);
                b.set_message(text);
                if let Some(l) = line {
                    b.suspend(|| println!("{l}"));
                }
            }
            None => {
                if let Some(l) = line {
                    println!("{l}");
                }
            }
        }
    }

    /// Removes the bar and stops the heartbeat.
    pub fn finish(mut self) {
        drop(self.stop.take());
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}
