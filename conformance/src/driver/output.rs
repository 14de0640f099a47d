//! Capturing a subject's stdout and stderr: a thread per stream reads line by line and
//! stamps each line with its arrival time. Storage is capped (bytes per stream, line
//! length); beyond the cap lines are counted and dropped, and reading goes on so the
//! subject never blocks on a full pipe.

use std::collections::VecDeque;
use std::io::Read;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// Bytes kept per stream; the rest is counted and dropped.
pub const MAX_STREAM_BYTES: usize = 1 << 20;
/// Longest line kept; a longer one is cut (and marked `truncated`).
pub const MAX_LINE_BYTES: usize = 4096;
/// Lines kept for the report's tail even after the byte cap is reached.
const TAIL_LINES: usize = 20;

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    /// `stdout` or `stderr`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One line of output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// When the driver read it.
    pub at: Instant,
    /// Where it came from.
    pub stream: Stream,
    /// The text without its `\n` (invalid UTF-8 replaced).
    pub text: String,
    /// Cut at [`MAX_LINE_BYTES`].
    pub truncated: bool,
}

impl Line {
    /// The text without trailing whitespace and NULs (DESIGN.md: how lines are compared).
    pub fn trimmed(&self) -> &str {
        trim_line(&self.text)
    }
}

/// Trims trailing whitespace and NUL characters.
pub fn trim_line(s: &str) -> &str {
    s.trim_end_matches(|c: char| c.is_whitespace() || c == '\0')
}

#[derive(Debug, Default)]
struct State {
    lines: Vec<Line>,
    tail: VecDeque<Line>,
    kept: [usize; 2],
    dropped_bytes: [u64; 2],
    open: [bool; 2],
}

/// The shared capture of both streams of one subject.
#[derive(Debug)]
pub struct Capture {
    state: Mutex<State>,
    changed: Condvar,
}

fn idx(s: Stream) -> usize {
    match s {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

impl Capture {
    /// An empty capture with both streams open.
    pub fn new() -> Arc<Capture> {
        Arc::new(Capture {
            state: Mutex::new(State {
                open: [true, true],
                ..State::default()
            }),
            changed: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a reader thread panicked mid-push: the data is usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the reader thread of one stream.
    pub fn read_from(self: &Arc<Self>, stream: Stream, mut pipe: impl Read + Send + 'static) {
        let cap = Arc::clone(self);
        let spawned = thread::Builder::new()
            .name(format!("capture-{}", stream.as_str()))
            .spawn(move || {
                let mut buf = vec![0u8; 8192];
                let mut partial: Vec<u8> = Vec::new();
                let mut cut = false;
                loop {
                    let n = match pipe.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(_) => break,
                    };
                    for &b in &buf[..n] {
                        if b == b'\n' {
                            cap.push(stream, &partial, cut);
                            partial.clear();
                            cut = false;
                        } else if partial.len() < MAX_LINE_BYTES {
                            partial.push(b);
                        } else {
                            cut = true;
                        }
                    }
                }
                if !partial.is_empty() || cut {
                    cap.push(stream, &partial, cut);
                }
                let mut st = cap.lock();
                st.open[idx(stream)] = false;
                drop(st);
                cap.changed.notify_all();
            });
        if spawned.is_err() {
            // No thread, no reader: mark the stream closed so waits end at once.
            self.lock().open[idx(stream)] = false;
        }
    }

    fn push(&self, stream: Stream, bytes: &[u8], truncated: bool) {
        let line = Line {
            at: Instant::now(),
            stream,
            text: String::from_utf8_lossy(bytes).into_owned(),
            truncated,
        };
        let mut st = self.lock();
        let i = idx(stream);
        st.tail.push_back(line.clone());
        if st.tail.len() > TAIL_LINES {
            st.tail.pop_front();
        }
        if st.kept[i] + bytes.len() < MAX_STREAM_BYTES {
            st.kept[i] += bytes.len() + 1;
            st.lines.push(line);
        } else {
            st.dropped_bytes[i] += bytes.len() as u64 + 1;
        }
        drop(st);
        self.changed.notify_all();
    }

    /// Every kept line of both streams, in arrival order.
    pub fn lines(&self) -> Vec<Line> {
        self.lock().lines.clone()
    }

    /// Kept lines of one stream.
    pub fn lines_of(&self, stream: Stream) -> Vec<Line> {
        self.lock()
            .lines
            .iter()
            .filter(|l| l.stream == stream)
            .cloned()
            .collect()
    }

    /// The last lines of both streams (kept even past the cap), for reports.
    pub fn tail(&self) -> Vec<Line> {
        self.lock().tail.iter().cloned().collect()
    }

    /// Bytes dropped per stream (stdout, stderr) because of the cap.
    pub fn dropped(&self) -> (u64, u64) {
        let st = self.lock();
        (st.dropped_bytes[0], st.dropped_bytes[1])
    }

    /// Whether both streams reached end of file.
    pub fn closed(&self) -> bool {
        let st = self.lock();
        !st.open[0] && !st.open[1]
    }

    /// Waits until a kept line at index `from` or later satisfies `pred`, or `timeout`
    /// passes, or both streams close. Returns the index and the line.
    pub fn wait_line(
        &self,
        from: usize,
        timeout: Duration,
        mut pred: impl FnMut(&Line) -> bool,
    ) -> Option<(usize, Line)> {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        let mut scanned = from;
        loop {
            while scanned < st.lines.len() {
                if pred(&st.lines[scanned]) {
                    return Some((scanned, st.lines[scanned].clone()));
                }
                scanned += 1;
            }
            if !st.open[0] && !st.open[1] {
                return None;
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            st = self
                .changed
                .wait_timeout(st, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// Waits until both streams close or `timeout` passes; true when closed.
    pub fn wait_closed(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        loop {
            if !st.open[0] && !st.open[1] {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self
                .changed
                .wait_timeout(st, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// Stores a whole buffer (output collected by assert_cmd) as lines, stamped now.
    pub fn push_buffer(&self, stream: Stream, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            let (line, next) = match rest.iter().position(|&b| b == b'\n') {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &rest[rest.len()..]),
            };
            let cut = line.len() > MAX_LINE_BYTES;
            self.push(stream, &line[..line.len().min(MAX_LINE_BYTES)], cut);
            rest = next;
        }
    }

    /// Marks both streams closed (for captures filled by [`Capture::push_buffer`]).
    pub fn close(&self) {
        self.lock().open = [false, false];
        self.changed.notify_all();
    }
}
