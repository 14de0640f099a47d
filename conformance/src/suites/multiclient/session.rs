//! A multiclient server under test and the suite's clients of it: connects and closes as
//! steps (so a server that dies is blamed on the step after which it died), the server's ID
//! scheme learnt from its first connect line (every later ID is judged relative to it), and
//! event lines awaited by what they say, with a diagnosis drawn from what was printed.

use std::time::{Duration, Instant};

use super::lines::{Event, Kind, exact, parse_event};
use crate::check::{CheckResult, Failure, Stop};
use crate::driver::{Ctx, Line, Peer, Subject};
use crate::suites::common::exit::death;
use crate::suites::common::{exit_hint, quote_lines, start_server};
use crate::timing::Timing;

pub(super) const HINT_FLUSH: &str = "print each line as it happens and flush it: \
     print(..., flush=True) in Python, fflush(stdout) after printf in C (stdout is a pipe \
     here, not a terminal)";
pub(super) const HINT_CONCURRENT: &str = "accept() must not wait for a client to finish: \
     give each client its own thread (method 1), or watch every socket with select() (method 2)";
const HINT_FORMAT: &str = "an event line names the client, the event and the count, as in \
     `Client 3 connected. Number of connected clients = 2` (or `disconnected`)";
const HINT_SERVE_ON: &str = "a server serves clients until it is killed: on one client's \
     close, reset or error, close that client's socket and go on, never exit";

/// A running server and what the suite did to it.
#[derive(Debug)]
pub struct Session {
    /// The server subject.
    pub server: Subject,
    timing: Timing,
    /// The ID the server gave its first client (its ID scheme), once seen.
    base: Option<u64>,
    /// Connections the suite has made.
    connects: u64,
    /// The suite's steps, in order (`client 2 connected`, `client 1 reset its connection`).
    steps: Vec<String>,
    /// The step after which the server was first found to have ended.
    died_after: Option<String>,
}

impl Session {
    /// Starts the server on a fresh port (waits until it listens).
    pub fn start(ctx: &mut Ctx) -> Result<Session, Stop> {
        Ok(Session::of(start_server(ctx)?, ctx))
    }

    /// Takes over a server the check started.
    pub fn of(server: Subject, ctx: &Ctx) -> Session {
        Session {
            server,
            timing: *ctx.timing(),
            base: None,
            connects: 0,
            steps: Vec::new(),
            died_after: None,
        }
    }

    /// Gives the server back (to be killed and restarted).
    pub fn into_server(self) -> Subject {
        self.server
    }

    /// The ID the server should print for the suite's `n`-th client (1-based), by its own
    /// scheme: the first connect line's ID, rising by one (1 until that line is seen).
    pub fn id(&self, n: u64) -> u64 {
        self.base.unwrap_or(1) + n.saturating_sub(1)
    }

    /// The ID its first client got, if a connect line was read.
    pub fn base(&self) -> Option<u64> {
        self.base
    }

    /// How long a printed line may take.
    pub fn response(&self) -> Duration {
        self.timing.response()
    }

    /// Records the step the suite is about to take. Called before the action, so a server
    /// that the action itself kills at once is not blamed on the step before it.
    fn step(&mut self, what: String) {
        if self.died_after.is_none() && self.server.try_exit().is_some() {
            self.died_after = Some(
                self.steps
                    .last()
                    .cloned()
                    .unwrap_or_else(|| "it started".to_owned()),
            );
        }
        self.steps.push(what);
    }

    /// Connects the next client (no line awaited). Returns it and its number (1-based).
    pub fn connect(&mut self) -> Result<(Peer, u64), Stop> {
        let n = self.connects + 1;
        self.step(format!("client {n} connected"));
        let peer = self.server.connect(self.timing.response())?;
        self.connects = n;
        Ok((peer, n))
    }

    /// Closes client `n` cleanly.
    pub fn close(&mut self, peer: Peer, n: u64) {
        self.step(format!("client {n} closed its connection"));
        peer.close();
    }

    /// Resets client `n`'s connection (RST).
    pub fn reset(&mut self, peer: Peer, n: u64) {
        self.step(format!("client {n} reset its connection"));
        peer.reset();
    }

    /// Records a step the check is about to make itself (`client 1 sent half a message`).
    pub fn note(&mut self, what: impl Into<String>) {
        self.step(what.into());
    }

    /// The event lines printed so far, with when they arrived.
    pub fn events(&self) -> Vec<(Instant, Event)> {
        events_in(&self.server.lines())
    }

    /// Waits for the first connect line, whatever its ID, and learns the ID scheme from it.
    pub fn learn_scheme(&mut self, when: &str) -> Result<Event, Stop> {
        let found = self.server.wait_line(0, self.response(), |l| {
            parse_event(&l.text).is_some_and(|e| e.kind == Kind::Connected)
        });
        match found.and_then(|(_, l)| parse_event(&l.text)) {
            Some(e) => {
                self.base.get_or_insert(e.id);
                Ok(e)
            }
            None => Err(self.missing(Kind::Connected, 1, 1, when)),
        }
    }

    /// Connects the next client and waits for its connect line with `count`.
    pub fn join(&mut self, count: u64, when: &str) -> Result<Peer, Stop> {
        let (peer, n) = self.connect()?;
        if self.base.is_none() {
            self.learn_scheme(when)?;
        }
        self.expect(Kind::Connected, n, count, when)?;
        Ok(peer)
    }

    /// Waits for the line of `kind` for client `n` with `count`; fails with a diagnosis.
    pub fn expect(&mut self, kind: Kind, n: u64, count: u64, when: &str) -> CheckResult {
        let id = self.id(n);
        let want = Event {
            kind,
            id,
            count: Some(count),
        };
        let found = self
            .server
            .wait_line(0, self.response(), |l| parse_event(&l.text) == Some(want));
        if found.is_some() {
            return Ok(());
        }
        Err(self.missing(kind, n, count, when))
    }

    /// The failure for a line of `kind` for client `n` with `count` that did not come.
    pub fn missing(&mut self, kind: Kind, n: u64, count: u64, when: &str) -> Stop {
        let id = self.id(n);
        let expected = format!("{when}, a line saying `{}`", exact(kind, id, count));
        let lines = self.server.lines();
        let printed = quote_lines(&lines);
        let within = self.response().as_secs_f64();
        // Its pipes close a moment before it can be reaped: closed output means "look".
        let ended = self.server.capture().closed() || self.server.try_exit().is_some();
        if let Some(d) = ended.then(|| death(&mut self.server)).flatten() {
            let after = self
                .died_after
                .clone()
                .or_else(|| self.steps.last().cloned())
                .unwrap_or_else(|| "it started".to_owned());
            return Stop::Fail(
                Failure::new(
                    expected,
                    format!(
                        "the server {} after {after}{}; it printed: {}",
                        d.clause(),
                        self.server.stderr_quote(),
                        quote_lines(&self.server.lines())
                    ),
                )
                .hint(exit_hint(&d.cause, Some(&after), HINT_SERVE_ON))
                .cause(d.cause),
            );
        }
        let same: Vec<Event> = events_in(&lines)
            .into_iter()
            .map(|(_, e)| e)
            .filter(|e| e.kind == kind && e.id == id)
            .collect();
        let (actual, hint) = if let Some(e) = same.iter().find(|e| e.count.is_some()) {
            (
                format!(
                    "its line for client {id} gives the count {}; the server printed: {printed}",
                    e.count.unwrap_or_default()
                ),
                format!(
                    "the count is the number of clients connected after this {}: update it \
                     before printing, and count every open connection",
                    if kind == Kind::Connected {
                        "connect"
                    } else {
                        "disconnect"
                    }
                ),
            )
        } else if !same.is_empty() {
            (
                format!("its line for client {id} gives no count; the server printed: {printed}"),
                HINT_FORMAT.to_owned(),
            )
        } else if lines.is_empty() {
            (
                format!("no output at all within {within:.1} s"),
                HINT_FLUSH.to_owned(),
            )
        } else if events_in(&lines).is_empty() {
            (
                format!(
                    "no line reads as a connect or disconnect line; the server printed: {printed}"
                ),
                HINT_FORMAT.to_owned(),
            )
        } else if let Some((newest, reused)) =
            newest_connect(&lines, n).filter(|_| kind == Kind::Connected)
        {
            let what = if reused {
                format!("gives ID {} again, an ID it gave before", newest.id)
            } else {
                format!("names client {}", newest.id)
            };
            (
                format!(
                    "its newest connect line {what}, where by its own numbering (first client \
                     {}) this connection is client {id}; the server printed: {printed}",
                    self.base.unwrap_or(1)
                ),
                "keep a counter that only ever grows for IDs (one more per accepted connection); \
                 do not reuse a free slot's number"
                    .to_owned(),
            )
        } else {
            (
                format!("none within {within:.1} s; the server printed: {printed}"),
                match self.base {
                    Some(b) if kind == Kind::Connected => format!(
                        "IDs rise by one per connection and are never reused: this server's \
                         first client was {b}, so the suite's client {n} is {id}"
                    ),
                    _ => "print the line as soon as the event happens, with the client's ID \
                          and the count"
                        .to_owned(),
                },
            )
        };
        Stop::Fail(Failure::new(expected, actual).hint(hint))
    }
}

/// When the server has printed a connect line for each of the suite's `n` connections (so
/// the last one announced this connection under another ID): the newest connect line's
/// event, and whether its ID was given before.
fn newest_connect(lines: &[Line], n: u64) -> Option<(Event, bool)> {
    let connects: Vec<Event> = events_in(lines)
        .into_iter()
        .map(|(_, e)| e)
        .filter(|e| e.kind == Kind::Connected)
        .collect();
    if u64::try_from(connects.len()).unwrap_or(u64::MAX) < n {
        return None;
    }
    let (newest, before) = connects.split_last()?;
    Some((*newest, before.iter().any(|e| e.id == newest.id)))
}

/// The event lines among `lines`, with when they arrived.
pub fn events_in(lines: &[Line]) -> Vec<(Instant, Event)> {
    lines
        .iter()
        .filter_map(|l| parse_event(&l.text).map(|e| (l.at, e)))
        .collect()
}
