//! Server checks on what a server answers: payload sizes, frames in series or back to back,
//! short and multibyte payloads (one family, [`EXCHANGES`]), and a frame in pieces.

use std::time::Duration;

use codec::framed::HEADER_LEN;

use super::frames::{LARGE, MEDIUM, MULTIBYTE, SEED_EXAMPLE, SERIES, SMALL, frame, text};
use super::hints::{HINT_CHARS, HINT_EMPTY, HINT_KEEP_REST, HINT_PARTIAL};
use super::session::Session;
use super::{NEEDS_ECHO as NEEDS, bulk, case_of};
use crate::check::{Check, CheckResult, Level};
use crate::driver::Ctx;

use Level::{Recommended as C, Required as R};

/// A payload of one exchange.
#[derive(Debug, Clone, Copy)]
pub(super) enum Payload {
    /// `n` bytes of the suite's readable ASCII text (`frames::text`).
    Text(usize),
    /// These bytes, described so.
    Given(&'static [u8], &'static str),
}

/// How the frames of a case are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Write {
    /// Each frame after the reply to the previous one.
    EachAfterReply,
    /// All frames back to back in one write, before any reply is read.
    OneWrite,
}

/// One case of the exchanges family: frames sent one way, each reply checked in order.
#[derive(Debug, Clone, Copy)]
pub(super) struct Exchanges {
    pub check: Check,
    payloads: &'static [Payload],
    write: Write,
    /// A large transfer (the bulk deadline instead of the response deadline).
    large: bool,
    /// The mistake the case tests for, when no more precise evidence names one.
    scenario: Option<&'static str>,
}

impl Exchanges {
    const fn new(
        check: Check,
        payloads: &'static [Payload],
        write: Write,
        large: bool,
        scenario: Option<&'static str>,
    ) -> Exchanges {
        Exchanges {
            check,
            payloads,
            write,
            large,
            scenario,
        }
    }
}

use Payload::{Given, Text};
use Write::{EachAfterReply as Each, OneWrite as One};

/// The exchanges family, one line per case (the runner finds its case by the check's ID).
#[rustfmt::skip]
pub(super) const EXCHANGES: &[Exchanges] = &[
    Exchanges::new(Check::new("framed.server.echo-small", R, "003 §3 test 1 (short message); §1.1 message format", "a 32-byte payload is answered without its first 10 characters", exchanges), &[Text(SMALL)], Each, false, None),
    Exchanges::new(Check::new("framed.server.echo-medium", R, "003 §3 test 1 (medium message); §2.4.2 buffering", "a 1245-byte payload is answered without its first 10 characters", exchanges).needs(NEEDS), &[Text(MEDIUM)], Each, false, None),
    Exchanges::new(Check::new("framed.server.echo-large", R, "003 §3 test 1 (long message); §2.4.2 buffering", "a 650000-byte payload is answered without its first 10 characters", exchanges).needs(NEEDS), &[Text(LARGE)], Each, true, None),
    Exchanges::new(Check::new("framed.server.series", R, "003 §3 test 1 (multiple messages in series)", "three 1500-byte messages, each answered before the next is sent", exchanges).needs(NEEDS), &[Text(SERIES), Text(SERIES), Text(SERIES)], Each, false, None),
    Exchanges::new(Check::new("framed.server.pipelined", R, "003 §3 test 1 (multiple messages in parallel); §2.4.2", "three 1500-byte frames sent back to back before any read: three replies in order", exchanges).needs(NEEDS), &[Text(SERIES), Text(SERIES), Text(SERIES)], One, false, Some(HINT_KEEP_REST)),
    Exchanges::new(Check::new("framed.server.coalesced", R, "003 §2.4.2 (recv() may return data from multiple packets)", "two frames in one write get two replies", exchanges).needs(NEEDS), &[Text(60), Text(45)], One, false, Some(HINT_KEEP_REST)),
    Exchanges::new(Check::new("framed.server.short-payloads", R, "003 §1 start(): removes the first 10 characters", "payloads of 0, 1 and 10 characters are each answered with an empty frame", exchanges).needs(NEEDS), &[Given(b"", "an empty payload (the 4 bytes 00 00 00 00)"), Given(b"x", "the 1-character payload \"x\""), Given(b"0123456789", "the 10-character payload \"0123456789\"")], Each, false, Some(HINT_EMPTY)),
    Exchanges::new(Check::new("framed.server.multibyte", C, "003 §1 start(): the first 10 characters; §1.1 ([payload length] stores the number of bytes)", "multibyte UTF-8: the first 10 characters (not bytes) are dropped, and the reply's length counts bytes", exchanges).needs(NEEDS), &[Given(MULTIBYTE.as_bytes(), "a UTF-8 payload whose first 10 characters take 2 bytes each")], Each, false, Some(HINT_CHARS)),
];

/// What the `i`-th (from 0) of `n` payloads of a case is called in a failure.
fn describe(p: Payload, i: usize, n: usize, write: Write) -> (Vec<u8>, String) {
    match p {
        Given(bytes, what) => (bytes.to_vec(), what.to_owned()),
        Text(size) if n == 1 => (
            text(&format!("a message of {size} bytes"), size),
            format!("one frame of {size} bytes"),
        ),
        Text(size) => {
            let tag = format!("message {} of {n}", i + 1);
            let what = match write {
                Write::EachAfterReply => {
                    format!("{tag} ({size} bytes, each sent after the previous reply)")
                }
                Write::OneWrite => format!(
                    "{tag} ({size} bytes; all {n} were sent back to back in one write, before any reply was read)"
                ),
            };
            (text(&tag, size), what)
        }
    }
}

/// The runner of [`EXCHANGES`].
fn exchanges(ctx: &mut Ctx) -> CheckResult {
    let case = case_of(EXCHANGES, ctx, |c| &c.check)?;
    let mut s = Session::start(ctx)?;
    let t = s.timing();
    let timeout = if case.large { bulk(&t) } else { t.response() };
    let mut peer = s.connect()?;
    s.scenario(case.scenario);
    let n = case.payloads.len();
    let sent: Vec<(Vec<u8>, String)> = case
        .payloads
        .iter()
        .enumerate()
        .map(|(i, p)| describe(*p, i, n, case.write))
        .collect();
    match case.write {
        Write::EachAfterReply => {
            for (payload, what) in &sent {
                s.exchange(&mut peer, payload, what, timeout)?;
            }
        }
        Write::OneWrite => {
            // One write, as the course's "parallel" test sends them before any read: on
            // loopback it is queued whole before the server reads, so a server that throws
            // away what follows a frame in its buffer is caught every time. (Split writes made
            // the verdict of a server doing one recv() per frame depend on scheduling; `pieces`
            // is the check that catches that defect.)
            let all: Vec<u8> = sent.iter().flat_map(|(p, _)| frame(p)).collect();
            let what = format!("{n} frames in one write");
            s.send(&mut peer, &all, &what, timeout)?;
            // The case's mistake (bytes after a frame lost) shows only once the first reply
            // has come: a first reply missing is something else.
            s.scenario(None);
            for (i, (payload, what)) in sent.iter().enumerate() {
                s.expect_reply(&mut peer, payload, what, timeout)?;
                if i == 0 {
                    s.scenario(case.scenario);
                }
            }
        }
    }
    Ok(())
}

pub static PIECES: Check = Check::new(
    "framed.server.pieces",
    R,
    "003 §2.4.2 (recv() may return part of a packet)",
    "header and payload arriving in small pieces with pauses are answered",
    pieces,
)
.needs(NEEDS);

fn pieces(ctx: &mut Ctx) -> CheckResult {
    let mut s = Session::start(ctx)?;
    let t = s.timing().response();
    let mut peer = s.connect()?;
    s.scenario(Some(HINT_PARTIAL));
    let whole = frame(SEED_EXAMPLE);
    // The header split 1 + 2 + 1 bytes, the payload in three pieces.
    let (head, body) = whole.split_at(HEADER_LEN);
    let parts: [&[u8]; 6] = [
        &head[..1],
        &head[1..3],
        &head[3..],
        &body[..7],
        &body[7..20],
        &body[20..],
    ];
    s.send_pieces(
        &mut peer,
        &parts,
        Duration::from_millis(150),
        "the seed's example frame in 6 pieces",
    )?;
    s.expect_reply(
        &mut peer,
        SEED_EXAMPLE,
        "the seed's example frame [30][Four score and seven years ago], sent in 6 pieces 150 ms apart",
        t,
    )
}
