//! Server checks on serving on: a first client that leaves or misbehaves, then a next client
//! that must be served (one family, [`NEXT_CLIENT`]), and a client waiting in the backlog.

use codec::framed::HEADER_LEN;

use super::frames::{SMALL, frame, header_len, text};
use super::session::Session;
use super::{NEEDS_ECHO as NEEDS, case_of};
use crate::check::{Check, CheckResult, Level};
use crate::driver::Ctx;
use crate::timing::REPLY_SILENCE;

use Level::{Recommended as C, Required as R};

/// What the first client does before it leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum First {
    /// One exchange, then a clean close.
    Close,
    /// One exchange, then a reset (RST).
    Reset,
    /// A header declaring 0xFFFFFFFF bytes, then a close.
    HugeLength,
    /// A frame whose payload is not UTF-8 (any reply, or none), then a close.
    InvalidUtf8,
}

/// One case of the next-client family.
#[derive(Debug, Clone, Copy)]
pub(super) struct NextClient {
    pub check: Check,
    first: First,
    /// What the first client did, for "the server keeps running after ...".
    what: &'static str,
    /// The usual mistake when the next client is not served.
    hint: &'static str,
}

impl NextClient {
    const fn new(check: Check, first: First, what: &'static str, hint: &'static str) -> NextClient {
        NextClient {
            check,
            first,
            what,
            hint,
        }
    }
}

const HINT_CLOSED: &str = "recv() returning 0 (b'' in Python) means the client left: close its \
    socket and accept() the next";
const HINT_RESET: &str = "a reset makes recv() fail (ECONNRESET, ConnectionResetError in \
    Python): catch it, close that client's socket and accept() the next";
const HINT_HUGE: &str = "a length read from the network can be anything (here 4 GiB, beyond the \
    2 GiB the server may use): do not allocate the declared length up front; grow the buffer \
    with the bytes that actually arrive, or refuse lengths above a limit, and when the client \
    leaves serve the next";
const HINT_UTF8: &str = "decode with error handling (payload.decode('utf-8', 'replace') or \
    catch UnicodeDecodeError): a payload that is not UTF-8 must not end the server";

/// The next-client family, one line per case (the runner finds its case by the check's ID).
#[rustfmt::skip]
pub(super) const NEXT_CLIENT: &[NextClient] = &[
    NextClient::new(Check::new("framed.server.next-client-after-close", R, "003 §3 test 3 (client disconnects, new client connects)", "a client closes, then a new client is served", next_client).needs(NEEDS), First::Close, "two clients in turn", HINT_CLOSED),
    NextClient::new(Check::new("framed.server.next-client-after-reset", R, "003 §2.5 (ConnectionResetError); §3 test 3", "a client resets its connection, then a new client is served", next_client).needs(NEEDS), First::Reset, "a client reset its connection", HINT_RESET),
    NextClient::new(Check::new("framed.server.huge-length", C, "003 §2.4.2 (buffer until the message is received)", "a declared length of 0xFFFFFFFF then a close: the server lives on and serves the next client", next_client).needs(NEEDS), First::HugeLength, "a client declared a length of 0xFFFFFFFF and closed", HINT_HUGE),
    NextClient::new(Check::new("framed.server.invalid-utf8", C, "003 §1 start() (the payload is a string)", "a payload that is not UTF-8: the server serves the next client", next_client).needs(NEEDS), First::InvalidUtf8, "a payload that is not UTF-8", HINT_UTF8),
];

/// The runner of [`NEXT_CLIENT`].
fn next_client(ctx: &mut Ctx) -> CheckResult {
    let case = case_of(NEXT_CLIENT, ctx, |c| &c.check)?;
    let mut s = Session::start(ctx)?;
    let t = s.timing();
    let mut peer = s.connect()?;
    // The first client's own exchange fails on its own evidence; only from its misbehaviour
    // on is the case's mistake the likely one.
    match case.first {
        First::Close | First::Reset => {
            let payload = text("the first client", SMALL * 2);
            s.exchange(
                &mut peer,
                &payload,
                "a frame from the first client",
                t.response(),
            )?;
            s.scenario(Some(case.hint));
            if case.first == First::Close {
                s.close(peer);
            } else {
                s.reset(peer);
            }
        }
        First::HugeLength => {
            s.scenario(Some(case.hint));
            s.send(
                &mut peer,
                &[0xFF; HEADER_LEN],
                "a header declaring 0xFFFFFFFF bytes",
                t.response(),
            )?;
            // Let the server read the header (and maybe start waiting for 4 GiB of payload)
            // before the close; anything it sends back is ignored.
            let got = peer.recv_until_silence(REPLY_SILENCE, REPLY_SILENCE);
            s.saw(&peer, got.end);
            s.close(peer);
        }
        First::InvalidUtf8 => {
            s.scenario(Some(case.hint));
            let bad = b"\xff\xfe not UTF-8: \xc3\x28 and \x80\x80 stray continuation bytes";
            s.send(
                &mut peer,
                &frame(bad),
                "a frame whose payload is not UTF-8",
                t.response(),
            )?;
            // Any reply (or none) is fine; it is read before the close, so the close is not a
            // reset (closing with unread bytes would be one), then the next client must be
            // served.
            let got = peer.recv_until(t.response(), Some(REPLY_SILENCE), |b| {
                b.get(..HEADER_LEN)
                    .and_then(header_len)
                    .is_some_and(|n| b.len() >= HEADER_LEN.saturating_add(n))
            });
            s.saw(&peer, got.end);
            s.close(peer);
        }
    }
    s.one_client(&format!("the next client, after {}", case.what))?;
    s.alive(case.what)
}

pub static BACKLOG: Check = Check::new(
    "framed.server.backlog",
    R,
    "003 §2.2 (listen backlog; one connection at a time)",
    "a second client connected while the first is served is served when the first leaves",
    backlog,
)
.needs(NEEDS);

fn backlog(ctx: &mut Ctx) -> CheckResult {
    let mut s = Session::start(ctx)?;
    let t = s.timing().response();
    let mut first = s.connect()?;
    let a = text("the first client's first message", 50);
    s.exchange(&mut first, &a, "the first client's frame", t)?;
    // The second client connects (the kernel completes it from the listen backlog) and sends
    // its frame while the first is still being served; a one-at-a-time server answers it
    // only after the first leaves, a concurrent one at once: both are fine.
    let mut second = s.connect()?;
    let c = text("the second client, waiting in the backlog", 70);
    s.send(
        &mut second,
        &frame(&c),
        "a frame while it waited in the backlog",
        t,
    )?;
    let b = text("the first client's second message", 50);
    s.exchange(
        &mut first,
        &b,
        "the first client's second frame, while a second client waits",
        t,
    )?;
    s.close(first);
    s.scenario(Some(
        "when a client leaves, accept() the next one: a client waiting in the listen backlog \
         must be served, not refused or dropped",
    ));
    s.expect_reply(
        &mut second,
        &c,
        "the frame the second client sent while it waited, once the first left",
        t,
    )?;
    s.scenario(None);
    let d = text("the second client's second message", 50);
    s.exchange(&mut second, &d, "the second client's next frame", t)?;
    s.close(second);
    s.alive("two clients, one waiting in the backlog")
}
