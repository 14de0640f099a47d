//! A framed server session: the suite's clients of one server under test. It sends frames
//! (whole, or in chosen pieces), expects the reply to a payload, and remembers what each
//! client did, so that when the server dies the failure blames the client action after which
//! it was first seen dead, with the exit status, signal or traceback as the cause.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use super::frames::{
    FrameFault, describe_payload, first_difference, frame, read_frame, reply_of, text,
};
use super::hints::{self, Death, HINT_CHARS, Step};
use crate::check::{Failure, Stop, fail};
use crate::driver::peer::Dir;
use crate::driver::subject::describe_status;
use crate::driver::{Ctx, End, Peer, Stream, Subject, Transcript};
use crate::suites::common::start_server;
use crate::timing::Timing;
use codec::framed::DROPPED_CHARS;

/// One server under test and the suite's clients of it.
pub(super) struct Session {
    server: Subject,
    t: Timing,
    log: Transcript,
    /// What the suite's clients did, in order.
    steps: Vec<Step>,
    /// When the suite saw the server close or reset each connection.
    server_ended: Vec<(String, Instant)>,
    /// How many steps were done when the server was first seen to have ended.
    seen_dead_at: Option<usize>,
    /// The hint for what the current part of the scenario tests (see [`Session::scenario`]).
    scenario: Option<&'static str>,
}

impl Session {
    /// Starts the server on a fresh port and waits until it listens.
    pub fn start(ctx: &mut Ctx) -> Result<Session, Stop> {
        Ok(Session {
            server: start_server(ctx)?,
            t: *ctx.timing(),
            log: ctx.transcript().clone(),
            steps: Vec::new(),
            server_ended: Vec::new(),
            seen_dead_at: None,
            scenario: None,
        })
    }

    /// The run's timing.
    pub fn timing(&self) -> Timing {
        self.t
    }

    /// Names the mistake the next steps test for (e.g. not keeping the bytes after a frame):
    /// the hint of a failure that no more precise evidence explains.
    pub fn scenario(&mut self, hint: Option<&'static str>) {
        self.scenario = hint;
    }

    /// How long a server that failed a client is given to be seen ended: a process closes its
    /// sockets before it becomes a zombie, and on a loaded machine the gap is not small.
    fn exit_grace(&self) -> Duration {
        self.t.within(Duration::from_millis(300))
    }

    /// Notes that a client did `what`, after looking whether the server is still running
    /// (so a death is bracketed between two of the suite's actions).
    fn step(&mut self, peer: &Peer, what: &str) {
        self.look();
        self.steps.push(Step {
            client: peer.label().to_owned(),
            what: what.to_owned(),
            at: Instant::now(),
        });
    }

    fn look(&mut self) {
        if self.seen_dead_at.is_none() && self.server.try_exit().is_some() {
            self.seen_dead_at = Some(self.steps.len());
        }
    }

    /// The client action the death is blamed on ([`hints::blame`]).
    fn blamed(&self) -> Option<String> {
        let events = self.log.events();
        let last_reply = events
            .iter()
            .rev()
            .find(|e| e.dir == Dir::Received && e.len > 0)
            .map(|e| (e.peer.as_str(), e.at));
        hints::blame(
            &self.steps,
            self.seen_dead_at,
            last_reply,
            &self.server_ended,
        )
        .map(|i| format!("{} {}", self.steps[i].client, self.steps[i].what))
    }

    /// Connects a new client ("client N").
    pub fn connect(&mut self) -> Result<Peer, Stop> {
        self.look();
        if self.seen_dead_at.is_some() {
            return Err(self.ended_failure(
                "the server keeps running and accepts client after client",
                "the next client could not connect",
                self.scenario,
            ));
        }
        match self.server.connect(self.t.response()) {
            Ok(p) => {
                self.step(&p, "connected");
                Ok(p)
            }
            Err(e) => Err(self.explain_connect(e)),
        }
    }

    fn explain_connect(&mut self, e: Stop) -> Stop {
        match self.server.wait_exit(self.exit_grace()) {
            Some(_) => {
                self.look();
                self.ended_failure(
                    "the server keeps running and accepts client after client",
                    "the next client could not connect",
                    self.scenario,
                )
            }
            None => e,
        }
    }

    /// Sends `bytes` (described as `what` for the blame) within `timeout`.
    pub fn send(
        &mut self,
        peer: &mut Peer,
        bytes: &[u8],
        what: &str,
        timeout: Duration,
    ) -> Result<(), Stop> {
        self.step(peer, &format!("sent {what}"));
        peer.send_within(bytes, timeout)
            .map_err(|e| self.explain(e, None))
    }

    /// Sends `pieces` with `pause` between them.
    pub fn send_pieces(
        &mut self,
        peer: &mut Peer,
        pieces: &[&[u8]],
        pause: Duration,
        what: &str,
    ) -> Result<(), Stop> {
        self.step(peer, &format!("sent {what}"));
        peer.send_pieces(pieces, pause)
            .map_err(|e| self.explain(e, None))
    }

    /// Notes how a receive on `peer` ended: a close or reset by the server bounds the blame.
    pub fn saw(&mut self, peer: &Peer, end: End) {
        if matches!(end, End::Closed | End::Reset) {
            self.server_ended
                .push((peer.label().to_owned(), Instant::now()));
        }
    }

    /// Closes `peer` cleanly (FIN).
    pub fn close(&mut self, peer: Peer) {
        self.step(&peer, "closed its connection");
        peer.close();
    }

    /// Resets `peer` (RST).
    pub fn reset(&mut self, peer: Peer) {
        self.step(&peer, "reset its connection");
        peer.reset();
    }

    /// A failure of the scenario: when the server has ended, it says so (status, traceback,
    /// the action it died after) and the hint comes from that evidence; `fallback` is the
    /// hint for a death without more precise evidence (default: the failure's own hint).
    pub fn explain(&mut self, stop: Stop, fallback: Option<&'static str>) -> Stop {
        let Stop::Fail(f) = stop else { return stop };
        if f.cause.is_some() {
            return Stop::Fail(f);
        }
        if self.server.wait_exit(self.exit_grace()).is_none() {
            return Stop::Fail(f);
        }
        self.look();
        self.ended_failure(&f.expected, &f.actual, fallback.or(self.scenario))
    }

    /// The failure for a server found ended: `actual` then how and after what it ended.
    fn ended_failure(
        &mut self,
        expected: &str,
        actual: &str,
        fallback: Option<&'static str>,
    ) -> Stop {
        let status = self.server.try_exit();
        self.server.capture().wait_closed(self.exit_grace());
        let death = self.death(status);
        let after = match self.blamed() {
            Some(step) => format!(" after {step}"),
            None => " before any client connected".to_owned(),
        };
        let how = status
            .map(describe_status)
            .unwrap_or_else(|| "an unknown status".to_owned());
        let evidence = match &death.traceback {
            Some(tb) => format!("; its traceback ends: {}", tb.text()),
            None => self.server.stderr_quote(),
        };
        Stop::Fail(
            Failure::new(
                expected,
                format!("{actual}: the server had ended with {how}{after}{evidence}"),
            )
            .hint(hints::server_death(&death, fallback))
            .cause(death.cause()),
        )
    }

    fn death(&self, status: Option<ExitStatus>) -> Death {
        let stderr: Vec<String> = self
            .server
            .lines_of(Stream::Stderr)
            .into_iter()
            .map(|l| l.text)
            .collect();
        Death {
            code: status.and_then(|s| s.code()),
            signal: status.and_then(|s| s.signal()),
            traceback: hints::traceback(stderr.iter().map(String::as_str)),
        }
    }

    /// Fails unless the server is still running after `what`.
    pub fn alive(&mut self, what: &str) -> Result<(), Stop> {
        self.look();
        if self.seen_dead_at.is_none() {
            return Ok(());
        }
        Err(self.ended_failure(
            &format!("the server keeps running after {what}"),
            "it did not",
            self.scenario,
        ))
    }

    /// Receives the reply to `sent` (described as `what`) and compares it with the right one.
    pub fn expect_reply(
        &mut self,
        peer: &mut Peer,
        sent: &[u8],
        what: &str,
        timeout: Duration,
    ) -> Result<(), Stop> {
        let want = reply_of(sent);
        let expected = if want.is_empty() {
            format!("the reply to {what}: an empty frame (the 4 bytes 00 00 00 00)")
        } else {
            format!(
                "the reply to {what}: a frame of {} bytes holding {}",
                want.len(),
                describe_payload(want)
            )
        };
        let got = match read_frame(peer, want, timeout, "server") {
            Ok(got) => got,
            Err(bad) => {
                if let FrameFault::NoHeader { end, .. } | FrameFault::ShortPayload { end, .. } =
                    bad.fault
                {
                    self.saw(peer, end);
                }
                let stop = fail(expected, bad.actual);
                let hint = hints::reply_evidence(bad.fault, sent, want)
                    .or(self.scenario)
                    .or(hints::reply_symptom(bad.fault));
                let stop = match hint {
                    Some(h) => stop.hint(h),
                    None => stop,
                };
                return Err(self.explain(stop, None));
            }
        };
        if got == want {
            return Ok(());
        }
        let at = first_difference(&got, want);
        let stop = fail(
            expected,
            format!(
                "a frame of the right length holding {}; it differs from byte {at} on",
                describe_payload(&got)
            ),
        );
        Err(if sent.get(DROPPED_CHARS..) == Some(got.as_slice()) {
            stop.hint(HINT_CHARS)
        } else {
            stop.hint(self.scenario.unwrap_or(
                "compare the reply with payload[10:] of what was sent; were bytes lost or \
                 reordered while buffering?",
            ))
        })
    }

    /// Sends the frame of `payload` and checks its reply.
    pub fn exchange(
        &mut self,
        peer: &mut Peer,
        payload: &[u8],
        what: &str,
        timeout: Duration,
    ) -> Result<(), Stop> {
        self.send(peer, &frame(payload), what, timeout)?;
        self.expect_reply(peer, payload, what, timeout)
    }

    /// One client that connects, has one exchange, and leaves with a clean close.
    pub fn one_client(&mut self, tag: &str) -> Result<(), Stop> {
        let mut peer = self.connect()?;
        let payload = text(tag, super::frames::SMALL * 2);
        let what = format!("a frame of {} bytes from a new client", payload.len());
        self.exchange(&mut peer, &payload, &what, self.t.response())?;
        self.close(peer);
        Ok(())
    }
}
