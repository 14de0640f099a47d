//! Capturing a subject's stdout and stderr: a thread per stream reads line by line and
//! stamps each line with its arrival time. Storage is bounded for any subject: per stream,
//! the first lines are kept up to [`MAX_STREAM_BYTES`] (each record costing its bytes plus
//! [`RECORD_COST`], so a flood of bare newlines is bounded too) and [`MAX_HEAD_LINES`]
//! records; after that, a ring keeps the last [`LATE_LINES`] lines (a periodic line after a
//! flood is still seen by [`Capture::wait_line`]) and the rest is counted as dropped. Reading
//! goes on so the subject never blocks on a full pipe. The first [`MAX_RAW_BYTES`] of each
//! stream are also kept as raw bytes (runs: `Finished::stdout`).

use std::collections::VecDeque;
use std::io::Read;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// Bytes kept per stream; the rest is counted and dropped.
pub const MAX_STREAM_BYTES: usize = 1 << 20;
/// Longest line kept; a longer one is cut (and marked `truncated`).
pub const MAX_LINE_BYTES: usize = 4096;
/// Lines of the report's tail (the last ones, of both streams).
const TAIL_LINES: usize = 20;
/// Records kept at the head of each stream (besides the byte cap).
pub const MAX_HEAD_LINES: usize = 10_000;
/// What a stored record costs beyond its text (the `Line` itself), for the byte cap.
pub const RECORD_COST: usize = 64;
/// Lines kept in each stream's ring after the head is full.
pub const LATE_LINES: usize = 256;
/// Raw bytes kept per stream.
pub const MAX_RAW_BYTES: usize = 1 << 20;

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
    /// The first lines (sequence numbers 0..lines.len()).
    lines: Vec<Line>,
    /// The last lines of each stream after the head was full, with their sequence numbers
    /// (one ring per stream: a flood on one never pushes out the other's last lines).
    late: [VecDeque<(usize, Line)>; 2],
    /// Whether the head is full (later lines go to `late` only).
    head_full: bool,
    /// Lines pushed so far (the next sequence number).
    seq: usize,
    kept: [usize; 2],
    head_lines: [usize; 2],
    dropped_bytes: [u64; 2],
    dropped_lines: [u64; 2],
    raw: [Vec<u8>; 2],
    open: [bool; 2],
}

fn line(at: Instant, stream: Stream, bytes: &[u8], truncated: bool) -> Line {
    Line {
        at,
        stream,
        text: String::from_utf8_lossy(bytes).into_owned(),
        truncated,
    }
}

impl State {
    fn push(&mut self, line: Line) {
        let i = idx(line.stream);
        let len = line.text.len();
        let cost = len + 1 + RECORD_COST;
        let seq = self.seq;
        self.seq += 1;
        let fits = self.kept[i] + cost <= MAX_STREAM_BYTES && self.head_lines[i] < MAX_HEAD_LINES;
        if !self.head_full && fits {
            self.kept[i] += cost;
            self.head_lines[i] += 1;
            self.lines.push(line);
        } else {
            // Once one stream's head is full, the other's lines go to the ring too: the
            // head must stay a prefix of the sequence for indices to mean positions.
            self.head_full = true;
            self.dropped_bytes[i] += len as u64 + 1;
            self.dropped_lines[i] += 1;
            let ring = &mut self.late[i];
            ring.push_back((seq, line));
            if ring.len() > LATE_LINES {
                ring.pop_front();
            }
        }
    }

    /// Lines with sequence number >= `from`, in order (head, then the ring).
    fn since(&self, from: usize) -> impl Iterator<Item = (usize, &Line)> {
        let head = self.lines.iter().enumerate().skip(from);
        let mut late: Vec<(usize, &Line)> = self
            .late
            .iter()
            .flatten()
            .filter(|(i, _)| *i >= from)
            .map(|(i, l)| (*i, l))
            .collect();
        late.sort_unstable_by_key(|(i, _)| *i);
        head.chain(late)
    }
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
                    // One lock and one wake-up per read, not per line: a flood of bare
                    // newlines must cost the suite little CPU.
                    let at = Instant::now();
                    let mut st = cap.lock();
                    let raw = &mut st.raw[idx(stream)];
                    let room = MAX_RAW_BYTES.saturating_sub(raw.len());
                    raw.extend_from_slice(&buf[..n.min(room)]);
                    for &b in &buf[..n] {
                        if b == b'\n' {
                            st.push(line(at, stream, &partial, cut));
                            partial.clear();
                            cut = false;
                        } else if partial.len() < MAX_LINE_BYTES {
                            partial.push(b);
                        } else {
                            cut = true;
                        }
                    }
                    drop(st);
                    cap.changed.notify_all();
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

    fn push_raw(&self, stream: Stream, bytes: &[u8]) {
        let mut st = self.lock();
        let raw = &mut st.raw[idx(stream)];
        let room = MAX_RAW_BYTES.saturating_sub(raw.len());
        raw.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn push(&self, stream: Stream, bytes: &[u8], truncated: bool) {
        let mut st = self.lock();
        st.push(line(Instant::now(), stream, bytes, truncated));
        drop(st);
        self.changed.notify_all();
    }

    /// Every kept line of both streams, in arrival order: the head, then the last lines
    /// (with a gap between them when lines were dropped).
    pub fn lines(&self) -> Vec<Line> {
        let st = self.lock();
        st.since(0).map(|(_, l)| l.clone()).collect()
    }

    /// The sequence number the next line will get: `from` for a [`Capture::wait_line`] that
    /// must see only lines to come.
    pub fn next_index(&self) -> usize {
        self.lock().seq
    }

    /// The first bytes of `stream` as read (up to [`MAX_RAW_BYTES`]).
    pub fn raw(&self, stream: Stream) -> Vec<u8> {
        self.lock().raw[idx(stream)].clone()
    }

    /// Lines not kept per stream (stdout, stderr), beyond the head (the last
    /// [`LATE_LINES`] of them are still in the ring).
    pub fn dropped_lines(&self) -> (u64, u64) {
        let st = self.lock();
        (st.dropped_lines[0], st.dropped_lines[1])
    }

    /// Kept lines of one stream.
    pub fn lines_of(&self, stream: Stream) -> Vec<Line> {
        self.lock()
            .since(0)
            .filter(|(_, l)| l.stream == stream)
            .map(|(_, l)| l.clone())
            .collect()
    }

    /// The last lines of both streams (kept even past the cap), for reports.
    pub fn tail(&self) -> Vec<Line> {
        let st = self.lock();
        let all: Vec<&Line> = st.since(0).map(|(_, l)| l).collect();
        let start = all.len().saturating_sub(TAIL_LINES);
        all[start..].iter().map(|l| (*l).clone()).collect()
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

    /// Waits until a kept line at index (sequence number) `from` or later satisfies
    /// `pred`, or `timeout` passes, or both streams close. Returns the index and the line.
    /// Past the head, lines are seen while they are in the ring of the last ones.
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
            let mut found = None;
            for (i, l) in st.since(scanned) {
                if pred(l) {
                    found = Some((i, l.clone()));
                    break;
                }
            }
            if found.is_some() {
                return found;
            }
            scanned = scanned.max(st.seq);
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
        self.push_raw(stream, bytes);
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
