//! A messages server under test, spoken to in the protocol's verbs: `create`, `read`,
//! `expect`, `refuses`. Every connection is remembered, so that when the server dies the
//! failure names the connection after which it died and what its death showed
//! (see [`super::diagnose`]), instead of blaming the check's next step.

use std::time::{Duration, Instant};

use codec::DecodeError;
use codec::messages::Response;

use super::diagnose::{Exchange, blamed, death};
use super::records::{Mailbox, Msg, create_record, incomplete, read_record, show, show_items};
use super::{HINT_ORDER, HINT_VALIDATE, or_hint};
use crate::check::{Cause, CheckResult, Failure, Stop, fail};
use crate::driver::{Ctx, End, Peer, Received, Subject, describe_bytes};
use crate::timing::Timing;

/// A running server and what the suite did with it.
pub(super) struct Server {
    subject: Subject,
    timing: Timing,
    exchanges: Vec<Exchange>,
}

/// Runs `body` against a fresh server; a failure while the server is dead is explained by
/// its death.
pub(super) fn with_server(
    ctx: &mut Ctx,
    body: impl FnOnce(&mut Server) -> CheckResult,
) -> CheckResult {
    let mut server = Server::start(ctx)?;
    body(&mut server).map_err(|e| server.explain(e))
}

impl Server {
    /// A fresh server on its own port, listening.
    pub fn start(ctx: &mut Ctx) -> Result<Server, Stop> {
        Ok(Server {
            subject: ctx.server()?,
            timing: *ctx.timing(),
            exchanges: Vec::new(),
        })
    }

    /// The process (its output, its status).
    pub fn subject(&mut self) -> &mut Subject {
        &mut self.subject
    }

    /// The run's deadlines.
    pub fn timing(&self) -> &Timing {
        &self.timing
    }

    /// A new connection for `what`; a server found dead before it is blamed on the last one.
    pub fn connect(&mut self, what: impl Into<String>) -> Result<Peer, Stop> {
        let what = what.into();
        if self.subject.try_exit().is_some() {
            return Err(self.explain(fail(
                format!("the server keeps running and serves {what}"),
                "it was no longer running",
            )));
        }
        let at = Instant::now();
        match self.subject.connect(self.timing.response()) {
            Ok(peer) => {
                self.exchanges.push(Exchange {
                    label: peer.label().to_owned(),
                    what,
                    at,
                    port: peer.local_port(),
                });
                Ok(peer)
            }
            // Subject::connect says itself when the server had ended; the session says
            // more (the connection to blame, the traceback), so its words replace those.
            Err(Stop::Fail(_)) if self.subject.wait_exit(Duration::from_millis(300)).is_some() => {
                Err(self.explain(fail(
                    format!("the server keeps running and serves {what}"),
                    "the connection was refused",
                )))
            }
            Err(e) => Err(e),
        }
    }

    /// If the server has ended, `stop` is explained by its death (status, traceback, the
    /// connection after which it died); otherwise it stays as it is.
    pub fn explain(&mut self, stop: Stop) -> Stop {
        let Stop::Fail(f) = stop else { return stop };
        if matches!(
            f.cause,
            Some(Cause::Exited { .. } | Cause::Signal { .. } | Cause::Traceback { .. })
        ) {
            return Stop::Fail(f);
        }
        // A process closes its sockets before it becomes a zombie: give it a moment.
        let Some(status) = self.subject.wait_exit(Duration::from_millis(300)) else {
            return Stop::Fail(f);
        };
        let seen = Instant::now();
        self.subject
            .capture()
            .wait_closed(Duration::from_millis(300));
        let lines = self.subject.lines();
        let d = death(status, &lines, blamed(&self.exchanges, &lines, seen));
        Stop::Fail(Failure {
            expected: "the server keeps running and serves client after client".to_owned(),
            actual: format!("{} (the check then saw: {})", d.actual, f.actual),
            hint: Some(d.hint),
            cause: Some(d.cause),
        })
    }

    /// Stores a message: a create request, no reply, the server's close.
    pub fn create(&mut self, sender: &[u8], receiver: &[u8], text: &[u8]) -> CheckResult {
        let record = create_record(sender, receiver, text)?;
        let what = format!("a create from {} to {}", show(sender), show(receiver));
        self.send_create(&record, &[], Duration::ZERO, &what)
    }

    /// Sends an encoded create (in one write, or split at `cuts` with `pause` between) and
    /// expects no reply and the server's close.
    pub fn send_create(
        &mut self,
        record: &[u8],
        cuts: &[usize],
        pause: Duration,
        what: &str,
    ) -> CheckResult {
        let mut peer = self.connect(what)?;
        let mut pieces = Vec::new();
        let mut at = 0;
        for &c in cuts {
            pieces.push(record.get(at..c).unwrap_or_default());
            at = c;
        }
        pieces.push(record.get(at..).unwrap_or_default());
        peer.send_pieces(&pieces, pause)?;
        let r = peer.recv_until_closed(self.timing.response());
        if !r.bytes.is_empty() {
            return Err(fail(
                "no reply to a create request: the server stores it and closes the connection",
                format!("it sent {}{}", describe_bytes(&r.bytes), describe_end(&r)),
            )
            .hint("3.1: for a create request no response is sent back to the client"));
        }
        if r.end == End::Deadline {
            return Err(fail(
                "the server closes the connection after storing a create request",
                format!(
                    "the connection was still open {:?} after the request",
                    self.timing.response()
                ),
            )
            .hint("close the socket obtained from accept() once the request is handled"));
        }
        Ok(())
    }

    /// Reads `user`'s messages: a read request and a whole, valid MessageResponse.
    pub fn read(&mut self, user: &[u8]) -> Result<Mailbox, Stop> {
        let record = read_record(user)?;
        let mut peer = self.connect(format!("a read of {}", show(user)))?;
        peer.send(&record)?;
        let r = peer.recv_until(self.timing.response(), None, |b| {
            !incomplete(&Response::decode(b))
        });
        peer.close();
        mailbox(&r, user)
    }

    /// The read of `user` must return exactly `want` with MoreMsgs `more`.
    pub fn expect(&mut self, user: &[u8], want: &[Msg], more: bool, after: &str) -> CheckResult {
        let got = self.read(user)?;
        if got.items == want && got.more == more {
            return Ok(());
        }
        Err(mismatch(user, want, more, after, &got))
    }

    /// Nothing was stored for `user` (and the server serves on); `hint` explains a failure
    /// that has no more specific hint (the server's death has its own).
    pub fn expect_empty(&mut self, user: &[u8], after: &str, hint: &str) -> CheckResult {
        self.expect(user, &[], false, after)
            .map_err(|e| or_hint(self.explain(e), hint))
    }

    /// `record` (described by `what`) is refused: no byte comes back, the server closes
    /// the connection.
    pub fn refuses(&mut self, record: &[u8], what: &str) -> CheckResult {
        let mut peer = self.connect(what)?;
        // A server that refuses at the header may close (and reset) before all of it is sent.
        let _ = peer.try_send(record);
        let r = peer.recv_until_closed(self.timing.response());
        let expected = format!("{what} is refused: no response, the connection is closed");
        if !r.bytes.is_empty() {
            return Err(fail(
                expected,
                format!(
                    "the server answered {}{}",
                    describe_bytes(&r.bytes),
                    describe_end(&r)
                ),
            )
            .hint(HINT_VALIDATE));
        }
        if r.end == End::Deadline {
            return Err(fail(
                expected,
                format!(
                    "the connection was still open {:?} later",
                    self.timing.response()
                ),
            )
            .hint(HINT_VALIDATE));
        }
        Ok(())
    }
}

/// How a receive ended, as a clause after the bytes.
pub(super) fn describe_end(r: &Received) -> &'static str {
    match r.end {
        End::Done | End::Silence => "",
        End::Closed => " and then the connection was closed",
        End::Reset => " and then the connection was reset",
        End::Deadline => " and then nothing more before the deadline",
        End::Overflow => " (too much)",
    }
}

/// Decodes a received MessageResponse into owned items.
pub(super) fn mailbox(r: &Received, user: &[u8]) -> Result<Mailbox, Stop> {
    let expected = format!("a MessageResponse to the read request of {}", show(user));
    match Response::decode(&r.bytes) {
        Ok((_, resp)) => Ok(Mailbox {
            items: resp
                .items()
                .map(|it| Msg::new(it.sender, it.text))
                .collect(),
            more: resp.more(),
        }),
        Err(e) if e.is_incomplete() => {
            let actual = if r.bytes.is_empty() {
                match r.end {
                    End::Closed | End::Reset => {
                        "the server closed the connection without sending anything".to_owned()
                    }
                    _ => "nothing came before the deadline".to_owned(),
                }
            } else {
                format!(
                    "an incomplete response: {}{} ({e})",
                    describe_bytes(&r.bytes),
                    describe_end(r)
                )
            };
            Err(fail(expected, actual).hint(
                "a read is always answered, even with no messages: MagicNo 0xAE73, ID 3, \
                 NumItems 0, MoreMsgs 0; then the items, each SenderLen (1 byte), MessageLen \
                 (2 bytes, big-endian), sender, text",
            ))
        }
        Err(e) => {
            let mut stop = fail(
                expected,
                format!("an invalid response: {} ({e})", describe_bytes(&r.bytes)),
            );
            if let DecodeError::BadMagic { found: 0x73AE } = e {
                stop = stop.hint(HINT_ORDER);
            }
            Err(stop)
        }
    }
}

/// The failure of a read that returned `got` instead of `want`.
fn mismatch(user: &[u8], want: &[Msg], more: bool, after: &str, got: &Mailbox) -> Stop {
    let expected = format!(
        "after {after}, a read of {} returns {} with MoreMsgs {}",
        show(user),
        show_items(want),
        u8::from(more)
    );
    let mut actual = format!(
        "it returned {} with MoreMsgs {}",
        show_items(&got.items),
        u8::from(got.more)
    );
    if got.items.len() == want.len() {
        if let Some((i, (g, w))) = got
            .items
            .iter()
            .zip(want)
            .enumerate()
            .find(|(_, (g, w))| g != w)
        {
            actual.push_str(&format!(
                "; message {} is {} from {} instead of {} from {}",
                i + 1,
                show(&g.text),
                show(&g.sender),
                show(&w.text),
                show(&w.sender)
            ));
        }
    } else {
        actual = format!("{actual} ({} instead of {})", got.items.len(), want.len());
    }
    fail(expected, actual)
}
