//! framed (assignment 003): `[u32 big-endian length][payload]` frames; the server answers
//! each payload without its first 10 characters. Check IDs and levels: docs/contracts.md
//! section 3; readings and the process contracts: DESIGN.md "framed (003)".
//!
//! The assignment's interface is a pair of Python classes; DESIGN.md turns it into processes:
//! a server `PROG <port>` serving clients one after another until killed, and a client
//! `PROG <host> <port>` that sends each stdin line as a frame and prints each reply payload
//! as a line (fixtures/adapters/framed.py runs the classes that way). "Served" always means
//! that a frame gets exactly the right reply, not merely that a connection is accepted.
//!
//! The suite's payloads are ASCII unless a check says otherwise, so characters are bytes and
//! every reading of "the first 10 characters" agrees; multibyte text is informational.

use std::time::Duration;

use codec::framed::{DROPPED_CHARS, Frame, HEADER_LEN, expected_reply};

use crate::check::{Check, CheckResult, Failure, Level, Role, Stop, fail};
use crate::driver::{
    Ctx, End, FakeServer, Finished, Launch, Peer, Stopwatch, Stream, Subject, describe_bytes,
    subject::describe_status,
};
use crate::suites::Suite;
use crate::suites::common::quote_lines;

fn alive(server: &mut Subject, what: &str) -> Result<(), Stop> {
    crate::suites::common::alive(server, what, HINT_SERVE_ON)
}
use crate::timing::{EXIT, REPLY_SILENCE, RESPONSE, Timing};

/// The framed suite.
pub const SUITE: Suite = Suite {
    name: "framed",
    seed: "003",
    checks: CHECKS,
    models: &[],
    server_program: "framed-server",
    client_program: "framed-client",
    server_args: &["{port}"],
    client_args: &["{host}", "{port}"],
    period_flag: false,
};

const fn server(
    id: &'static str,
    level: Level,
    spec: &'static str,
    summary: &'static str,
    run: fn(&mut Ctx) -> CheckResult,
) -> Check {
    let c = Check::new(id, level, spec, summary, run);
    assert!(matches!(c.role, Role::Server), "role of the ID");
    c
}

const fn client(
    id: &'static str,
    spec: &'static str,
    summary: &'static str,
    run: fn(&mut Ctx) -> CheckResult,
) -> Check {
    let c = Check::new(id, Level::Required, spec, summary, run);
    assert!(matches!(c.role, Role::Client), "role of the ID");
    c
}

use Level::{Informational as I, Recommended as C, Required as R};

/// Every framed check, in report order.
pub static CHECKS: &[Check] = &[
    server(
        "framed.server.echo-small",
        R,
        "003 §3 test 1 (short message); §1.1 message format",
        "a 32-byte payload is answered without its first 10 characters",
        echo_small,
    ),
    server(
        "framed.server.echo-medium",
        R,
        "003 §3 test 1 (medium message); §2.4.2 buffering",
        "a 1245-byte payload is answered without its first 10 characters",
        echo_medium,
    ),
    server(
        "framed.server.echo-large",
        R,
        "003 §3 test 1 (long message); §2.4.2 buffering",
        "a 650000-byte payload is answered without its first 10 characters",
        echo_large,
    ),
    server(
        "framed.server.series",
        R,
        "003 §3 test 1 (multiple messages in series)",
        "three 1500-byte messages, each answered before the next is sent",
        series,
    ),
    server(
        "framed.server.pipelined",
        R,
        "003 §3 test 1 (multiple messages in parallel); §2.4.2",
        "three 1500-byte frames sent back to back before any read: three replies in order",
        pipelined,
    ),
    server(
        "framed.server.pieces",
        R,
        "003 §2.4.2 (recv() may return part of a packet)",
        "header and payload arriving in small pieces with pauses are answered",
        pieces,
    ),
    server(
        "framed.server.coalesced",
        R,
        "003 §2.4.2 (recv() may return data from multiple packets)",
        "two frames in one write get two replies",
        coalesced,
    ),
    server(
        "framed.server.short-payloads",
        R,
        "003 §1 start(): removes the first 10 characters",
        "payloads of 0, 1 and 10 characters are each answered with an empty frame",
        short_payloads,
    ),
    server(
        "framed.server.next-client-after-close",
        R,
        "003 §3 test 3 (client disconnects, new client connects)",
        "a client closes, then a new client is served",
        next_client_after_close,
    ),
    server(
        "framed.server.next-client-after-reset",
        R,
        "003 §2.5 (ConnectionResetError); §3 test 3",
        "a client resets its connection, then a new client is served",
        next_client_after_reset,
    ),
    server(
        "framed.server.backlog",
        R,
        "003 §2.2 (listen backlog; one connection at a time)",
        "a second client connected while the first is served is served when the first leaves",
        backlog,
    ),
    server(
        "framed.server.huge-length",
        C,
        "003 §2.4.2 (buffer until the message is received)",
        "a declared length of 0xFFFFFFFF then a close: the server lives on and serves the next client",
        huge_length,
    ),
    server(
        "framed.server.invalid-utf8",
        C,
        "003 §1 start() (the payload is a string)",
        "a payload that is not UTF-8: the server serves the next client",
        invalid_utf8,
    ),
    server(
        "framed.server.multibyte",
        I,
        "003 §1 start(): the first 10 characters",
        "multibyte UTF-8: the first 10 characters (not bytes) are dropped",
        multibyte,
    ),
    client(
        "framed.client.sends-frames",
        "003 §1 send_message(); §1.1 message format",
        "each stdin line arrives as one frame with the right length",
        client_sends_frames,
    ),
    client(
        "framed.client.prints-replies",
        "003 §1 receive_message()",
        "each reply payload is printed as a line, in order",
        client_prints_replies,
    ),
    client(
        "framed.client.split-reply",
        "003 §1 receive_message() (buffer incoming messages)",
        "a reply delivered in small pieces with pauses is printed whole",
        client_split_reply,
    ),
    client(
        "framed.client.large-reply",
        "003 §1 receive_message(); §3 test 1 (long message)",
        "a 650000-byte reply is printed whole",
        client_large_reply,
    ),
    client(
        "framed.client.server-close",
        "003 §3 test 2 (server shuts down); §2.5",
        "the server closes: a line starting `ERROR`, a non-zero exit, in time",
        client_server_close,
    ),
    client(
        "framed.client.server-reset",
        "003 §2.5 (Connection Reset by Peer); §3 test 2",
        "the server resets: a line starting `ERROR`, a non-zero exit, in time",
        client_server_reset,
    ),
    // Not in the first list of docs/contracts.md: the client side of `server.multibyte`,
    // the same informational reading (a length counts bytes, not characters).
    Check::new(
        "framed.client.multibyte",
        I,
        "003 §1.1 ([payload length] stores the number of bytes)",
        "a multibyte UTF-8 line is sent with its length in bytes, and its reply printed",
        client_multibyte,
    ),
];

// ---------------------------------------------------------------------------------------
// Payloads, frames, hints.

/// The course's own sizes.
const SMALL: usize = 32;
const MEDIUM: usize = 1245;
const LARGE: usize = 650_000;
const SERIES: usize = 1500;

/// Ten 2-byte characters, then 3- and 4-byte ones: 10 characters are 20 bytes here.
const MULTIBYTE: &str = "ÄÖÜäöüßéèê€🎉 and the rest of the message";

/// The seed's own example: `[30][Four score and seven years ago]` -> `[20][ and seven years ago]`.
const SEED_EXAMPLE: &[u8] = b"Four score and seven years ago";

const HINT_PARTIAL: &str = "TCP is a byte stream: one recv() may return only part of a frame \
                            (or of its 4-byte length); keep calling recv() until the 4 header \
                            bytes, then all the payload bytes they announce, are in";
const HINT_KEEP_REST: &str = "one recv() may return the end of a frame and the start of the \
                              next: keep the bytes beyond the current frame for the next one, \
                              never throw them away";
const HINT_BYTE_ORDER: &str = "the length is a 4-byte unsigned integer in network (big-endian) \
                               order: htonl()/ntohl() in C, struct.pack('!I', n) in Python";
const HINT_DROP: &str = "the reply is the payload without its first 10 characters \
                         (payload[10:] on the decoded string)";
const HINT_EMPTY: &str = "a payload of 10 characters or fewer leaves nothing, and the reply is \
                          still a frame: the 4-byte length 0 with no payload";
const HINT_BYTES_REPR: &str = "print(payload) on bytes shows b'...': decode the payload first \
                               (print(payload.decode())), or write the bytes to \
                               sys.stdout.buffer";
const HINT_CHARS: &str = "drop 10 characters, not 10 bytes: decode the payload as UTF-8 first \
                          (payload.decode()[10:]), then encode the rest";
const HINT_SERVE_ON: &str = "a server serves clients until it is killed: loop around accept(), \
                             and when a client leaves or fails close its socket and accept the \
                             next, do not exit";

/// `len` bytes of readable ASCII text: the seed's "Four score" (the 10 characters dropped),
/// then `tag`, then the running offset every few bytes, so that a reply with a chunk lost,
/// repeated or moved differs from the right one, and the replies of different tags differ.
fn text(tag: &str, len: usize) -> Vec<u8> {
    let mut v = format!("Four score and seven years ago, {tag}:").into_bytes();
    while v.len() < len {
        let word = format!(" {}", v.len());
        v.extend_from_slice(word.as_bytes());
    }
    v.truncate(len);
    v
}

/// The frame carrying `payload`.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    Frame { payload }.encode(&mut out);
    out
}

/// The right reply to `sent` (the suite only asks this of UTF-8 payloads; for others the
/// first 10 bytes, as the reference does).
fn reply_of(sent: &[u8]) -> &[u8] {
    expected_reply(sent).unwrap_or_else(|| {
        sent.get(DROPPED_CHARS.min(sent.len())..)
            .unwrap_or_default()
    })
}

/// A payload for a student: quoted (cut after 120 bytes), or "empty".
fn describe_payload(p: &[u8]) -> String {
    if p.is_empty() {
        "empty".to_owned()
    } else {
        describe_bytes(p)
    }
}

/// How a receive ended, as the tail of a sentence ("..., then the server closed").
fn describe_end(end: End, timeout: Duration, who: &str) -> String {
    match end {
        End::Done | End::Silence => String::new(),
        End::Closed => format!(", then the {who} closed the connection"),
        End::Reset => format!(", then the {who} reset the connection"),
        End::Deadline => format!(", then nothing more within {timeout:?}"),
        End::Overflow => " (far too much)".to_owned(),
    }
}

/// The header's length, when exactly the 4 header bytes are given.
fn header_len(head: &[u8]) -> Option<usize> {
    let bytes: [u8; HEADER_LEN] = head.try_into().ok()?;
    usize::try_from(u32::from_be_bytes(bytes)).ok()
}

/// Whether `got` is `want`'s length with its bytes swapped (host order instead of network).
fn swapped(got: usize, want: usize) -> bool {
    match u32::try_from(want) {
        Ok(w) => w.swap_bytes() != w && usize::try_from(w.swap_bytes()).ok() == Some(got),
        Err(_) => false,
    }
}

/// The first byte offset where `a` and `b` differ.
fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()))
}

/// What went wrong with one frame read by the suite (a reply, or a client's frame).
struct BadFrame {
    actual: String,
    hint: Option<&'static str>,
    /// The length its header declared, when it had one (and it was not the expected one).
    declared: Option<usize>,
}

/// Reads one frame whose payload should be `want`, from a server (`who` = "server") or a
/// client ("client"). Only lengths up to `want`'s are ever awaited: a wrong header is
/// reported as it is, without waiting for a payload of its declared size.
fn read_frame(
    peer: &mut Peer,
    want: &[u8],
    timeout: Duration,
    who: &str,
) -> Result<Vec<u8>, BadFrame> {
    let head = peer.recv_exact(HEADER_LEN, timeout);
    let Some(len) = header_len(&head.bytes) else {
        let actual = if head.bytes.is_empty() {
            match head.end {
                End::Closed => format!("the {who} closed the connection without a frame"),
                End::Reset => format!("the {who} reset the connection without a frame"),
                _ => format!("nothing within {timeout:?}"),
            }
        } else {
            format!(
                "only {} ({} of the 4 length bytes){}",
                describe_bytes(&head.bytes),
                head.bytes.len(),
                describe_end(head.end, timeout, who)
            )
        };
        return Err(BadFrame {
            actual,
            hint: None,
            declared: None,
        });
    };
    if len != want.len() {
        // Show what follows, without waiting for a length that may be absurd.
        let more = peer.recv_until_silence(REPLY_SILENCE, REPLY_SILENCE);
        let actual = format!(
            "a frame declaring {len} bytes (length bytes {}), followed by {}{}",
            describe_bytes(&head.bytes),
            describe_bytes(&more.bytes),
            describe_end(more.end, REPLY_SILENCE, who)
        );
        let hint = if swapped(len, want.len()) {
            Some(HINT_BYTE_ORDER)
        } else {
            None
        };
        return Err(BadFrame {
            actual,
            hint,
            declared: Some(len),
        });
    }
    if len == 0 {
        // Nothing to await (a receive of 0 bytes would wait for its deadline).
        return Ok(Vec::new());
    }
    let body = peer.recv_exact(len, timeout);
    if body.bytes.len() < len {
        return Err(BadFrame {
            actual: format!(
                "a frame declaring {len} bytes, but only {} of them arrived{}: {}",
                body.bytes.len(),
                describe_end(body.end, timeout, who),
                describe_payload(&body.bytes)
            ),
            hint: Some(
                "send the whole frame: loop until send() has taken every byte, or use sendall()",
            ),
            declared: None,
        });
    }
    Ok(body.bytes)
}

// ---------------------------------------------------------------------------------------
// Server checks: the suite plays the clients.

/// Deadline for a large transfer (650000 bytes each way through a recv(1024) loop).
fn bulk(t: &Timing) -> Duration {
    t.within(Duration::from_secs(5))
}

/// A failure seen by a client is explained by the server's end when it has ended.
fn explain_exit(server: &mut Subject, stop: Stop) -> Stop {
    let Stop::Fail(f) = stop else { return stop };
    if f.actual.contains("the server had ended") {
        return Stop::Fail(f);
    }
    // A process closes its sockets before it becomes a zombie: give it a moment.
    match server.wait_exit(Duration::from_millis(300)) {
        Some(s) => {
            server.capture().wait_closed(Duration::from_millis(300));
            Stop::Fail(Failure {
                expected: f.expected,
                actual: format!(
                    "{}; the server had ended with {}{}",
                    f.actual,
                    describe_status(s),
                    server.stderr_quote()
                ),
                hint: Some(f.hint.unwrap_or_else(|| HINT_SERVE_ON.to_owned())),
                cause: f.cause,
            })
        }
        None => Stop::Fail(f),
    }
}

/// Receives the reply to `sent` (described as `what`) and compares it with the right one.
fn expect_reply(
    server: &mut Subject,
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
            let hint = bad.hint.or(match bad.declared {
                Some(n) if n == sent.len() => Some(HINT_DROP),
                Some(n) if n < want.len() => Some(HINT_PARTIAL),
                Some(_) => Some(
                    "the reply's length must count exactly the bytes of payload[10:]; is an old \
                     buffer or a terminator sent along?",
                ),
                None if bad.actual.starts_with("nothing within") => Some(if want.is_empty() {
                    HINT_EMPTY
                } else {
                    HINT_PARTIAL
                }),
                None => None,
            });
            let stop = fail(expected, bad.actual);
            let stop = match hint {
                Some(h) => stop.hint(h),
                None => stop,
            };
            return Err(explain_exit(server, stop));
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
        stop.hint("compare the reply with payload[10:] of what was sent; were bytes lost or reordered while buffering?")
    })
}

/// Sends the frame of `payload` and checks its reply.
fn exchange(
    server: &mut Subject,
    peer: &mut Peer,
    payload: &[u8],
    what: &str,
    timeout: Duration,
) -> Result<(), Stop> {
    peer.send_within(&frame(payload), timeout)
        .map_err(|e| explain_exit(server, e))?;
    expect_reply(server, peer, payload, what, timeout)
}

/// One client that connects, has one exchange, and leaves with a clean close.
fn one_client(ctx: &Ctx, server: &mut Subject, tag: &str) -> Result<(), Stop> {
    let t = *ctx.timing();
    let mut peer = server.connect(t.response())?;
    let payload = text(tag, SMALL * 2);
    exchange(
        server,
        &mut peer,
        &payload,
        &format!("a frame of {} bytes from a new client", payload.len()),
        t.response(),
    )?;
    peer.close();
    Ok(())
}

fn echo_size(ctx: &mut Ctx, size: usize, timeout: Duration) -> CheckResult {
    let mut server = ctx.server()?;
    let mut peer = server.connect(ctx.timing().response())?;
    let payload = text(&format!("a message of {size} bytes"), size);
    exchange(
        &mut server,
        &mut peer,
        &payload,
        &format!("one frame of {size} bytes"),
        timeout,
    )
}

fn echo_small(ctx: &mut Ctx) -> CheckResult {
    let t = ctx.timing().response();
    echo_size(ctx, SMALL, t)
}

fn echo_medium(ctx: &mut Ctx) -> CheckResult {
    let t = ctx.timing().response();
    echo_size(ctx, MEDIUM, t)
}

fn echo_large(ctx: &mut Ctx) -> CheckResult {
    let t = bulk(ctx.timing());
    echo_size(ctx, LARGE, t)
}

fn series(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let mut peer = server.connect(ctx.timing().response())?;
    for i in 1..=3 {
        let payload = text(&format!("message {i} of 3"), SERIES);
        exchange(
            &mut server,
            &mut peer,
            &payload,
            &format!("message {i} of 3 ({SERIES} bytes, each sent after the previous reply)"),
            ctx.timing().response(),
        )?;
    }
    Ok(())
}

fn pipelined(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let t = ctx.timing().response();
    let mut peer = server.connect(t)?;
    let payloads: Vec<Vec<u8>> = (1..=3)
        .map(|i| text(&format!("message {i} of 3"), SERIES))
        .collect();
    // All three frames in one write, as the course's "parallel" test sends them before any
    // read: on loopback one write is queued whole before the server reads, so a server that
    // throws away what follows a frame in its buffer is caught every time. (Split writes made
    // the verdict of a server doing one recv() per frame depend on scheduling; `pieces` is
    // the check that catches that defect.)
    let all: Vec<u8> = payloads.iter().flat_map(|p| frame(p)).collect();
    peer.send_within(&all, t)
        .map_err(|e| explain_exit(&mut server, e))?;
    for (i, p) in payloads.iter().enumerate() {
        expect_reply(
            &mut server,
            &mut peer,
            p,
            &format!(
                "message {} of 3 ({SERIES} bytes; all three were sent back to back in one write, before any reply was read)",
                i + 1
            ),
            t,
        )
        .map_err(|e| e.hint(HINT_KEEP_REST))?;
    }
    Ok(())
}

fn pieces(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let t = ctx.timing().response();
    let mut peer = server.connect(t)?;
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
    peer.send_pieces(&parts, Duration::from_millis(150))
        .map_err(|e| explain_exit(&mut server, e))?;
    expect_reply(
        &mut server,
        &mut peer,
        SEED_EXAMPLE,
        "the seed's example frame [30][Four score and seven years ago], sent in 6 pieces 150 ms apart",
        t,
    )
    .map_err(|e| e.hint(HINT_PARTIAL))
}

fn coalesced(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let t = ctx.timing().response();
    let mut peer = server.connect(t)?;
    let first = text("first of two frames in one write", 60);
    let second = text("second of two frames in one write", 45);
    let mut both = frame(&first);
    both.extend_from_slice(&frame(&second));
    peer.send(&both).map_err(|e| explain_exit(&mut server, e))?;
    for (p, what) in [(&first, "the first"), (&second, "the second")] {
        expect_reply(
            &mut server,
            &mut peer,
            p,
            &format!("{what} of two frames sent in one write"),
            t,
        )
        .map_err(|e| e.hint(HINT_KEEP_REST))?;
    }
    Ok(())
}

fn short_payloads(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let t = ctx.timing().response();
    let mut peer = server.connect(t)?;
    for (p, what) in [
        (&b""[..], "an empty payload (the 4 bytes 00 00 00 00)"),
        (b"x", "the 1-character payload \"x\""),
        (b"0123456789", "the 10-character payload \"0123456789\""),
    ] {
        exchange(&mut server, &mut peer, p, what, t).map_err(|e| e.hint(HINT_EMPTY))?;
    }
    Ok(())
}

fn next_client_after_close(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    one_client(ctx, &mut server, "the first client")?;
    one_client(ctx, &mut server, "the second client, after the first closed").map_err(|e| {
        e.hint("recv() returning 0 (b'' in Python) means the client left: close its socket and accept() the next")
    })?;
    alive(&mut server, "two clients in turn")
}

fn next_client_after_reset(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let t = *ctx.timing();
    let mut peer = server.connect(t.response())?;
    let payload = text("the first client", SMALL * 2);
    exchange(
        &mut server,
        &mut peer,
        &payload,
        "a frame from the first client",
        t.response(),
    )?;
    peer.reset();
    one_client(ctx, &mut server, "the second client, after the first reset").map_err(|e| {
        e.hint("a reset makes recv() fail (ECONNRESET, ConnectionResetError in Python): catch it, close that client's socket and accept() the next")
    })?;
    alive(&mut server, "a client reset its connection")
}

fn backlog(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let t = ctx.timing().response();
    let mut first = server.connect(t)?;
    let a = text("the first client's first message", 50);
    exchange(&mut server, &mut first, &a, "the first client's frame", t)?;
    // The second client connects (the kernel completes it from the listen backlog) and sends
    // its frame while the first is still being served; a one-at-a-time server answers it
    // only after the first leaves, a concurrent one at once: both are fine.
    let mut second = server.connect(t)?;
    let c = text("the second client, waiting in the backlog", 70);
    second
        .send(&frame(&c))
        .map_err(|e| explain_exit(&mut server, e))?;
    let b = text("the first client's second message", 50);
    exchange(
        &mut server,
        &mut first,
        &b,
        "the first client's second frame, while a second client waits",
        t,
    )?;
    first.close();
    expect_reply(
        &mut server,
        &mut second,
        &c,
        "the frame the second client sent while it waited, once the first left",
        t,
    )
    .map_err(|e| {
        e.hint("when a client leaves, accept() the next one: a client waiting in the listen backlog must be served, not refused or dropped")
    })?;
    let d = text("the second client's second message", 50);
    exchange(
        &mut server,
        &mut second,
        &d,
        "the second client's next frame",
        t,
    )?;
    second.close();
    alive(&mut server, "two clients, one waiting in the backlog")
}

fn huge_length(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let t = *ctx.timing();
    let mut peer = server.connect(t.response())?;
    peer.send(&[0xFF; HEADER_LEN])
        .map_err(|e| explain_exit(&mut server, e))?;
    // Let the server read the header (and maybe start waiting for 4 GiB of payload) before
    // the close; anything it sends back is ignored.
    let _ = peer.recv_until_silence(REPLY_SILENCE, REPLY_SILENCE);
    peer.close();
    let hint = "a length read from the network can be anything (here 4 GiB, beyond the 2 GiB \
                the server may use): do not allocate the declared length up front; grow the \
                buffer with the bytes that actually arrive, or refuse lengths above a limit, \
                and when the client leaves serve the next";
    one_client(
        ctx,
        &mut server,
        "the next client, after one declared 0xFFFFFFFF bytes and closed",
    )
    .map_err(|e| e.hint(hint))?;
    alive(
        &mut server,
        "a client declared a length of 0xFFFFFFFF and closed",
    )
    .map_err(|e| e.hint(hint))
}

fn invalid_utf8(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let t = *ctx.timing();
    let mut peer = server.connect(t.response())?;
    let bad = b"\xff\xfe not UTF-8: \xc3\x28 and \x80\x80 stray continuation bytes";
    peer.send(&frame(bad))
        .map_err(|e| explain_exit(&mut server, e))?;
    // Any reply (or none) is fine; it is read before the close, so the close is not a reset
    // (closing with unread bytes would be one), then the next client must be served.
    let _ = peer.recv_until(t.response(), Some(REPLY_SILENCE), |b| {
        b.get(..HEADER_LEN)
            .and_then(header_len)
            .is_some_and(|n| b.len() >= HEADER_LEN.saturating_add(n))
    });
    peer.close();
    let hint = "decode with error handling (payload.decode('utf-8', 'replace') or catch \
                UnicodeDecodeError): a payload that is not UTF-8 must not end the server";
    one_client(
        ctx,
        &mut server,
        "the next client, after a payload that is not UTF-8",
    )
    .map_err(|e| e.hint(hint))?;
    alive(&mut server, "a payload that is not UTF-8").map_err(|e| e.hint(hint))
}

fn multibyte(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let t = ctx.timing().response();
    let mut peer = server.connect(t)?;
    let payload = MULTIBYTE.as_bytes();
    exchange(
        &mut server,
        &mut peer,
        payload,
        "a UTF-8 payload whose first 10 characters take 2 bytes each",
        t,
    )
    .map_err(|e| e.hint(HINT_CHARS))
}

// ---------------------------------------------------------------------------------------
// Client checks: the suite plays the server.

/// What the fake server saw of one client run.
#[derive(Default)]
struct Seen {
    connected: bool,
    /// The payloads of the frames received and answered, in order.
    frames: Vec<Vec<u8>>,
    /// The first frame that was not the expected one (then the scenario stopped).
    bad: Option<(usize, BadFrame)>,
    /// Started when the fake server closed or reset (After::Close, After::Reset).
    gone: Option<Stopwatch>,
}

/// How the fake server behaves after its scripted replies.
#[derive(Clone, Copy, PartialEq, Eq)]
enum After {
    /// Answers every line, then waits for the client to leave.
    Serve,
    /// Answers the first line only, then closes its sending side (FIN) and keeps reading, so
    /// the client's next frame is taken and its next receive sees the close.
    Close,
    /// Answers the first line, waits for the second frame (the first reply was consumed by
    /// then), then resets the connection (RST).
    Reset,
}

/// The stdin given to a client: each line followed by `\n`.
fn stdin_of(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut v = Vec::new();
    for l in lines {
        v.extend_from_slice(l);
        v.push(b'\n');
    }
    v
}

/// Runs the client with `lines` on stdin against a fake server that checks each frame and
/// answers it, the reply of `split` (index) in pieces with pauses; `after` says how it ends.
fn run_client(
    ctx: &mut Ctx,
    lines: &[Vec<u8>],
    split: Option<usize>,
    after: After,
    transfer: Duration,
) -> Result<(Finished, Seen), Stop> {
    let t = *ctx.timing();
    let launch = Launch::new()
        .stdin(stdin_of(lines))
        .timeout(t.startup() + t.response() * 2 + t.exit() + transfer * 2);
    let lines = lines.to_vec();
    ctx.run_with_fake_server(launch, move |fake: &mut FakeServer| {
        let mut seen = Seen::default();
        let Some(mut peer) = fake.accept(t.startup()) else {
            return seen;
        };
        seen.connected = true;
        for (i, line) in lines.iter().enumerate() {
            if after != After::Serve && i == 1 {
                break;
            }
            match read_frame(&mut peer, line, transfer, "client") {
                Ok(p) => seen.frames.push(p),
                Err(bad) => {
                    seen.bad = Some((i, bad));
                    return seen;
                }
            }
            let reply = frame(reply_of(line));
            let sent = if split == Some(i) {
                send_split(&mut peer, &reply)
            } else {
                peer.send_within(&reply, transfer)
            };
            if sent.is_err() {
                return seen;
            }
        }
        match after {
            After::Serve => {
                let _ = peer.recv_until_closed(t.response() + t.exit());
            }
            After::Close => {
                peer.shutdown_write();
                seen.gone = Some(Stopwatch::start());
                let _ = peer.recv_until_closed(t.response() + t.exit());
            }
            After::Reset => {
                // The second frame shows the client took the first reply (a client that
                // sends every line before reading may lose it to the reset: also fine).
                let _ = peer.recv_until(t.response(), None, |b| b.len() >= HEADER_LEN);
                peer.reset();
                seen.gone = Some(Stopwatch::start());
            }
        }
        seen
    })
}

/// The reply header in two pieces, then the payload in two, 150 ms apart.
fn send_split(peer: &mut Peer, reply: &[u8]) -> Result<(), Stop> {
    let (head, body) = reply.split_at(HEADER_LEN.min(reply.len()));
    let mid = body.len() / 2;
    let (b1, b2) = body.split_at(mid);
    peer.send_pieces(
        &[&head[..2], &head[2..], b1, b2],
        Duration::from_millis(150),
    )
}

/// The frames the client sent were those of its stdin lines.
fn check_frames(fin: &Finished, seen: &mut Seen, lines: &[Vec<u8>]) -> Result<(), Stop> {
    if !seen.connected {
        return Err(fail(
            "the client connects to the host and port of its two arguments",
            format!("no connection within the deadline; {}", fin.ended()),
        )
        .hint("usage is: PROG <host> <port>; the lines to send come on stdin"));
    }
    if let Some((i, bad)) = seen.bad.take() {
        let line = lines.get(i).map(Vec::as_slice).unwrap_or_default();
        let stop = fail(
            format!(
                "stdin line {} ({}) sent as one frame: the 4-byte big-endian length {}, then the line without its newline",
                i + 1,
                describe_payload(line),
                line.len()
            ),
            bad.actual,
        );
        return Err(match bad.hint {
            Some(h) => stop.hint(h),
            None => stop.hint(
                "send the length (struct.pack('!I', len(data))) and then the encoded line; drop the newline, nothing else",
            ),
        });
    }
    if let Some((i, (got, want))) = seen
        .frames
        .iter()
        .zip(lines)
        .enumerate()
        .find(|(_, (g, w))| g != w)
    {
        return Err(fail(
            format!(
                "stdin line {} sent as the payload {}",
                i + 1,
                describe_payload(want)
            ),
            format!("the payload was {}", describe_payload(got)),
        )
        .hint("send the line exactly as read, without its newline"));
    }
    Ok(())
}

/// The stdout lines, trimmed on both sides (what a line holds is the check, not its margins).
fn stdout_texts(fin: &Finished) -> Vec<String> {
    fin.lines_of(Stream::Stdout)
        .iter()
        .map(|l| l.trimmed().trim_start().to_owned())
        .collect()
}

/// Every reply in `wants` appears as a stdout line, in order (other lines may come between).
fn check_printed(fin: &Finished, wants: &[&[u8]]) -> Result<(), Stop> {
    let texts = stdout_texts(fin);
    let mut from = 0;
    for (i, want) in wants.iter().enumerate() {
        let w = String::from_utf8_lossy(want);
        let w = w.trim();
        match texts.iter().skip(from).position(|t| t == w) {
            Some(k) => from += k + 1,
            None => {
                let earlier = texts.iter().take(from).any(|t| t == w);
                let stop = fail(
                    format!(
                        "stdout line {:?} (the payload of reply {}), after the lines of the replies before it",
                        String::from_utf8_lossy(want),
                        i + 1
                    ),
                    quote_lines(&fin.lines()),
                );
                let repr = texts.iter().any(|t| {
                    t.strip_prefix("b'")
                        .or_else(|| t.strip_prefix("b\""))
                        .is_some_and(|rest| rest.contains(w.trim_start()))
                });
                return Err(if earlier {
                    stop.hint("print each reply once, in the order received")
                } else if repr {
                    stop.hint(HINT_BYTES_REPR)
                } else if fin.timed_out {
                    stop.hint("the client was killed at the deadline: flush stdout after each line (fflush(stdout), print(..., flush=True)), and exit at the end of stdin")
                } else {
                    stop.hint("print the payload of each reply (without its 4-byte length) on its own line, to stdout")
                });
            }
        }
    }
    Ok(())
}

fn lines_of(items: &[&[u8]]) -> Vec<Vec<u8>> {
    items.iter().map(|l| l.to_vec()).collect()
}

fn client_sends_frames(ctx: &mut Ctx) -> CheckResult {
    let lines = lines_of(&[
        SEED_EXAMPLE,
        b"a second line, a little longer than the first one",
        b"#3: short",
    ]);
    let response = ctx.timing().response();
    let (fin, mut seen) = run_client(ctx, &lines, None, After::Serve, response)?;
    check_frames(&fin, &mut seen, &lines)?;
    if seen.frames.len() < lines.len() {
        return Err(fail(
            format!("{} frames, one per stdin line", lines.len()),
            format!("{} frame(s), then {}", seen.frames.len(), fin.ended()),
        ));
    }
    Ok(())
}

fn client_prints_replies(ctx: &mut Ctx) -> CheckResult {
    let lines = lines_of(&[
        SEED_EXAMPLE,
        b"0123456789the second reply",
        b"0123456789and the third one",
    ]);
    let response = ctx.timing().response();
    let (fin, mut seen) = run_client(ctx, &lines, None, After::Serve, response)?;
    check_frames(&fin, &mut seen, &lines)?;
    let wants: Vec<&[u8]> = lines.iter().map(|l| reply_of(l)).collect();
    check_printed(&fin, &wants)
}

fn client_split_reply(ctx: &mut Ctx) -> CheckResult {
    let lines = lines_of(&[SEED_EXAMPLE, b"0123456789then a reply in one piece"]);
    let response = ctx.timing().response();
    let (fin, mut seen) = run_client(ctx, &lines, Some(0), After::Serve, response)?;
    check_frames(&fin, &mut seen, &lines)?;
    let wants: Vec<&[u8]> = lines.iter().map(|l| reply_of(l)).collect();
    check_printed(&fin, &wants).map_err(|e| match e {
        Stop::Fail(mut f) => {
            f.expected = format!(
                "{} (the first reply arrived as 2 + 2 header bytes, then its payload in 2 pieces, 150 ms apart)",
                f.expected
            );
            // A cut reply is the likely cause, unless a more precise hint was found.
            if f.hint.as_deref() != Some(HINT_BYTES_REPR) {
                f.hint = Some(HINT_PARTIAL.to_owned());
            }
            Stop::Fail(f)
        }
        other => other,
    })
}

fn client_large_reply(ctx: &mut Ctx) -> CheckResult {
    let line = text("a line of 650010 characters", LARGE + DROPPED_CHARS);
    let lines = vec![line];
    let transfer = bulk(ctx.timing());
    let (fin, mut seen) = run_client(ctx, &lines, None, After::Serve, transfer)?;
    check_frames(&fin, &mut seen, &lines)?;
    let want = reply_of(&lines[0]);
    // The captured lines are cut at 4 KiB: compare with the raw stdout.
    let printed: Vec<&[u8]> = fin
        .stdout
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect();
    if printed.contains(&want) {
        return Ok(());
    }
    let longest = printed.iter().map(|l| l.len()).max().unwrap_or(0);
    let prefix = printed
        .iter()
        .filter(|l| !l.is_empty())
        .map(|l| first_difference(l, want))
        .max()
        .unwrap_or(0);
    let stop = fail(
        format!(
            "a stdout line of {} characters: the reply's whole payload",
            want.len()
        ),
        format!(
            "the longest stdout line has {longest} characters (it matches the reply for {prefix} characters); {}",
            fin.ended()
        ),
    );
    Err(if printed.iter().any(|l| l.starts_with(b"b'")) {
        stop.hint(HINT_BYTES_REPR)
    } else if longest < want.len() {
        stop.hint(HINT_PARTIAL)
    } else {
        stop
    })
}

fn client_multibyte(ctx: &mut Ctx) -> CheckResult {
    let lines = vec![MULTIBYTE.as_bytes().to_vec()];
    let response = ctx.timing().response();
    let (fin, mut seen) = run_client(ctx, &lines, None, After::Serve, response)?;
    check_frames(&fin, &mut seen, &lines).map_err(|e| {
        e.hint(
            "the length counts the bytes of the encoded payload: len(line.encode()), not len(line)",
        )
    })?;
    check_printed(&fin, &[reply_of(&lines[0])])
}

/// After the first exchange the server goes (close or reset): the client must print a line
/// starting ERROR and exit non-zero, in time.
fn lost_server(ctx: &mut Ctx, after: After) -> CheckResult {
    let how = if after == After::Reset {
        "reset the connection"
    } else {
        "closed the connection"
    };
    // One good exchange, then five more lines, as the course's own test sends them.
    let lines: Vec<Vec<u8>> = (1..=6)
        .map(|i| format!("0123456789message {i} of 6").into_bytes())
        .collect();
    let response = ctx.timing().response();
    let (fin, mut seen) = run_client(ctx, &lines, None, after, response)?;
    check_frames(&fin, &mut seen, &lines)?;
    let expected = format!(
        "after the first reply the server {how}: at its next send or receive the client prints a line starting `ERROR` and exits with a non-zero status"
    );
    if fin.timed_out || fin.flooded {
        return Err(fail(expected, fin.describe_end()).hint(
            "recv() returning 0 (b'' in Python) or failing means the server is gone: print ERROR and exit(1); do not wait or retry",
        ));
    }
    let error_line = fin
        .lines()
        .iter()
        .any(|l| l.trimmed().trim_start().starts_with("ERROR"));
    if !error_line {
        let stderr = fin.stderr_text();
        let hint = if stderr.contains("Traceback") {
            "an exception ended the client: catch ConnectionResetError / OSError around send and \
             recv (a reset raises), then print ERROR and exit(1)"
        } else if fin.status.is_some_and(|s| {
            use std::os::unix::process::ExitStatusExt;
            s.signal() == Some(13)
        }) {
            "SIGPIPE killed the client when it wrote to the closed connection: \
             signal(SIGPIPE, SIG_IGN) or send(..., MSG_NOSIGNAL), then treat the error as the \
             server's loss"
        } else {
            "when recv() returns 0 or fails (receive_message() returns success False), print a \
             line starting ERROR"
        };
        return Err(fail(
            expected,
            format!("{}; {}", quote_lines(&fin.lines()), fin.ended()),
        )
        .hint(hint));
    }
    // The ERROR is due at the client's next send or receive after the server went.
    let limit = ctx.timing().within(RESPONSE + EXIT);
    if let Some(took) = seen.gone.map(|g| g.elapsed()).filter(|d| *d > limit) {
        return Err(fail(
            expected,
            format!("it printed ERROR but exited only {took:?} after the server {how} (allowed: {limit:?})"),
        )
        .hint("do not wait or retry when the server is gone: report it and exit at once"));
    }
    if fin.code() == Some(0) {
        return Err(fail(
            expected,
            "it printed the ERROR line but exited with status 0",
        )
        .hint("exit(1) / sys.exit(1) after printing ERROR: scripts and graders read the status"));
    }
    Ok(())
}

fn client_server_close(ctx: &mut Ctx) -> CheckResult {
    lost_server(ctx, After::Close)
}

fn client_server_reset(ctx: &mut Ctx) -> CheckResult {
    lost_server(ctx, After::Reset)
}
