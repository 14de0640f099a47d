//! messages (assignment 004): MessageRequest / MessageResponse records (magic 0xAE73), the
//! 1-second gap rule, argument checks, for the server and the client.
//! Check IDs and levels: docs/contracts.md section 3; readings: DESIGN.md "messages (004)".
//!
//! Every record the suite builds or parses goes through `codec::messages`. The invalid
//! records the server checks need are built from the codec's types too: `RequestHeader` and
//! `ItemHeader` encode any lengths (empty names, a read with a receiver); only a wrong magic
//! number, a wrong ID and a MoreMsgs other than 0 or 1 cannot be held by the codec's types,
//! so `set_magic`, `set_id` and one byte write overwrite exactly those bytes of a valid
//! encoding.
//!
//! "Nothing stored" is proved by a later read on the same server (a valid MessageResponse
//! with no items), which also proves that the server serves on. Output wording is free: the
//! checks look for the senders and texts, never for phrases.
//!
//! Timing: the gap checks wait at most the gap plus slack after the last byte; argument runs
//! may take the start-up deadline plus the exit deadline (an interpreter starting on a busy
//! machine); only a program that hangs waits that long. The checks on fixed ports (1023, 0,
//! 1024, 64000, 64001, 65535) take a lock, so one run never races itself for them.

use std::process::ExitStatus;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use codec::messages::{
    ItemHeader, MAGIC, REQUEST_HEADER_LEN, RESPONSE_HEADER_LEN, Request, RequestHeader,
    RequestKind, Response, ResponseHeader,
};
use codec::{DecodeError, EncodeError};

use crate::check::{Check, CheckResult, Level, Role, Stop, fail, harness_error};
use crate::driver::{
    Ctx, End, FakeServer, Finished, Launch, Line, Received, Subject, anyone_listens_on,
    describe_bytes, wait_until,
};
use crate::suites::Suite;
use crate::suites::common::{explain_exit, quote_lines};
use crate::timing::{GAP, REPLY_SILENCE, RESPONSE};

/// The messages suite.
pub const SUITE: Suite = Suite {
    name: "messages",
    seed: "004",
    checks: CHECKS,
    models: &[],
    server_program: "messages-server",
    client_program: "messages-client",
    server_args: &["{port}"],
    client_args: &["{host}", "{port}", "{user}", "{request}"],
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
    level: Level,
    spec: &'static str,
    summary: &'static str,
    run: fn(&mut Ctx) -> CheckResult,
) -> Check {
    let c = Check::new(id, level, spec, summary, run);
    assert!(matches!(c.role, Role::Client), "role of the ID");
    c
}

use Level::{Informational as I, Recommended as C, Required as R};

/// Every messages check, in report order.
pub static CHECKS: &[Check] = &[
    server(
        "messages.server.arg-count",
        R,
        "004 3.1 (one parameter)",
        "no argument, two arguments: a message, an exit within 2 s, no listening socket",
        server_arg_count,
    ),
    server(
        "messages.server.arg-not-number",
        R,
        "004 3.1 (the port number)",
        "`abc` as the port: a message, an exit within 2 s, no listening socket",
        server_arg_not_number,
    ),
    server(
        "messages.server.port-range",
        R,
        "004 3.1 (between 1,024 and 64,000 inclusive)",
        "ports 1023, 0, 64001, 65535 are refused: a message, an exit, no listening socket",
        server_port_range,
    ),
    server(
        "messages.server.port-bounds",
        R,
        "004 3.1 (between 1,024 and 64,000 inclusive)",
        "ports 1024 and 64000 are accepted: the server listens on them",
        server_port_bounds,
    ),
    server(
        "messages.server.arg-exit-status",
        C,
        "004 3.1 (print an error message and exit)",
        "argument errors end with a non-zero exit status",
        server_arg_exit_status,
    ),
    server(
        "messages.server.create-then-read",
        R,
        "004 3.1 (create and read requests)",
        "a stored message is returned to its receiver's read with its sender and text",
        create_then_read,
    ),
    server(
        "messages.server.empty-read",
        R,
        "004 3.1 (read requests), 3.3.2",
        "a read for a user with no messages gets a MessageResponse with NumItems 0, MoreMsgs 0",
        empty_read,
    ),
    server(
        "messages.server.fifo-order",
        R,
        "004 3.1 (first-in, first-out)",
        "three messages to one receiver come back in the order they were stored",
        fifo_order,
    ),
    server(
        "messages.server.removed-after-read",
        R,
        "004 3.1 (the sent messages should be removed)",
        "a second read returns nothing: sent messages are removed",
        removed_after_read,
    ),
    server(
        "messages.server.more-msgs",
        R,
        "004 3.1 (up to 255), 3.3.2 (MoreMsgs)",
        "300 messages: a read returns the first 255 with MoreMsgs 1, the next read the other 45 with MoreMsgs 0",
        more_msgs,
    ),
    server(
        "messages.server.receivers-apart",
        R,
        "004 3.1 (stored under the receiver's name)",
        "messages to two receivers: each read returns only that receiver's messages",
        receivers_apart,
    ),
    server(
        "messages.server.utf8-lengths",
        R,
        "004 3.6 (lengths are UTF-8 byte counts)",
        "non-ASCII names and text are stored and returned byte for byte with byte lengths",
        utf8_lengths,
    ),
    server(
        "messages.server.largest-fields",
        C,
        "004 3.3.1 (8-bit and 16-bit length fields)",
        "a 255-byte sender and receiver and a 65535-byte message are stored and returned",
        largest_fields,
    ),
    server(
        "messages.server.bad-magic",
        R,
        "004 3.3.1 (MagicNo must equal 0xAE73)",
        "a create with a wrong magic number: the connection is closed, nothing is stored, the server serves on",
        bad_magic,
    ),
    server(
        "messages.server.bad-id",
        R,
        "004 3.3.1 (ID must be 1 or 2)",
        "records with ID 0, 3, 255: the connection is closed, nothing is stored or answered, the server serves on",
        bad_id,
    ),
    server(
        "messages.server.empty-name",
        R,
        "004 3.3.1 (NameLen at least 1)",
        "a create and a read with NameLen 0: closed, nothing stored or answered, the server serves on",
        empty_name,
    ),
    server(
        "messages.server.read-with-receiver",
        R,
        "004 3.3.1 (ReceiverLen 0 for a read)",
        "a read with ReceiverLen 3: closed without a response, the server serves on",
        read_with_receiver,
    ),
    server(
        "messages.server.read-with-message",
        R,
        "004 3.3.1 (MessageLen 0 for a read)",
        "a read with MessageLen 5: closed without a response, the server serves on",
        read_with_message,
    ),
    server(
        "messages.server.create-empty-receiver",
        R,
        "004 3.3.1 (ReceiverLen at least 1 for a create; checked before the body is read)",
        "a create with ReceiverLen 0: closed as soon as the fixed header is in, the server serves on",
        create_empty_receiver,
    ),
    server(
        "messages.server.create-empty-message",
        R,
        "004 3.3.1 (MessageLen at least 1 for a create)",
        "a create with MessageLen 0: closed, nothing stored, the server serves on",
        create_empty_message,
    ),
    server(
        "messages.server.truncated-record",
        R,
        "004 3.3.1 (fewer than the expected number of bytes)",
        "a create cut short, then the client's close: nothing stored, the server serves on",
        truncated_record,
    ),
    server(
        "messages.server.extra-bytes",
        I,
        "004 3.3.1 (more than the expected number of bytes)",
        "a create followed by 3 bytes beyond its declared lengths is refused: nothing stored",
        extra_bytes,
    ),
    server(
        "messages.server.header-stall",
        R,
        "004 3.1 and 3.5 (one second)",
        "3 bytes of the fixed header, then silence: closed within 1 s (plus slack), the server serves on",
        header_stall,
    ),
    server(
        "messages.server.body-stall",
        R,
        "004 3.1 and 3.5 (one second)",
        "a create stalled inside its body: closed within 1 s (plus slack), nothing stored, the server serves on",
        body_stall,
    ),
    server(
        "messages.server.slow-pieces",
        R,
        "004 3.5 (gaps of one second or more)",
        "a create sent in three pieces 300 ms apart is stored",
        slow_pieces,
    ),
    server(
        "messages.server.stall-no-block",
        R,
        "004 3.1 and 3.5",
        "a silent connection does not hold the next client up beyond the 1 s gap (plus slack)",
        stall_no_block,
    ),
    server(
        "messages.server.log-lines",
        C,
        "004 3.1 (for logging purposes, the server prints ...; informational messages)",
        "prints the client's IP address and port on accept, the sender and receiver of a create, the count a read sent",
        log_lines,
    ),
    client(
        "messages.client.arg-count",
        R,
        "004 3.2 (fewer or more than four parameters)",
        "3 and 5 arguments: a message, an exit, no connection attempted",
        client_arg_count,
    ),
    client(
        "messages.client.bad-host",
        R,
        "004 3.2 (getaddrinfo() conversion fails)",
        "hosts `no.such.host.invalid` and `256.1.1.1`: a message, an exit, no connection attempted",
        client_bad_host,
    ),
    client(
        "messages.client.bad-port",
        R,
        "004 3.2 (port between 1,024 and 64,000 inclusive)",
        "ports `abc`, 1023, 64001: a message, an exit, no connection attempted (the suite listens there)",
        client_bad_port,
    ),
    client(
        "messages.client.bad-user",
        R,
        "004 3.2 (user names 1 to 255 bytes)",
        "user names of 256 bytes, 400 bytes (200 `é`) and empty: a message, an exit, no connection attempted",
        client_bad_user,
    ),
    client(
        "messages.client.bad-type",
        R,
        "004 3.2 (either \"read\" or \"create\")",
        "request types `delete` and `READ`: a message, an exit, no connection attempted",
        client_bad_type,
    ),
    client(
        "messages.client.arg-exit-status",
        C,
        "004 3.2 (print an error message and exit)",
        "argument errors end with a non-zero exit status",
        client_arg_exit_status,
    ),
    client(
        "messages.client.connect-error",
        R,
        "004 3.2 (if any of these steps do not succeed ...)",
        "nobody listens on the server's port: an error message and an exit, no traceback",
        client_connect_error,
    ),
    client(
        "messages.client.read-record",
        R,
        "004 3.2, 3.3.1",
        "`read` as user `alice` sends exactly the read MessageRequest",
        client_read_record,
    ),
    client(
        "messages.client.create-record",
        R,
        "004 3.2.1, 3.3.1",
        "`create`: receiver and message from stdin, then exactly the create MessageRequest",
        client_create_record,
    ),
    client(
        "messages.client.prompt-before-connect",
        R,
        "004 3.2 (prepare the MessageRequest, then connect()), 3.2.1",
        "a create asks for the receiver and message before it connects",
        client_prompt_before_connect,
    ),
    client(
        "messages.client.create-reprompt",
        R,
        "004 3.2.1 (prompts again until valid)",
        "an empty receiver, a 300-byte receiver and an empty message are refused and asked again",
        client_create_reprompt,
    ),
    client(
        "messages.client.prints-messages",
        R,
        "004 3.2.2 (print each message's sender and text)",
        "three messages: every sender and text is printed, in order",
        client_prints_messages,
    ),
    client(
        "messages.client.empty-response",
        R,
        "004 3.2.2 (no messages: an informational message)",
        "NumItems 0: a message and a clean exit (status 0)",
        client_empty_response,
    ),
    client(
        "messages.client.more-msgs",
        R,
        "004 3.2.2 (MoreMsgs: print an appropriate message)",
        "MoreMsgs 1 is mentioned: a line the MoreMsgs 0 run does not print",
        client_more_msgs,
    ),
    client(
        "messages.client.bad-response",
        R,
        "004 3.3.2 (the client's checks)",
        "bad magic, ID 1, MoreMsgs 2, an empty sender, an empty text: an error message and an exit, nothing printed as a message",
        client_bad_response,
    ),
    client(
        "messages.client.response-stall",
        R,
        "004 3.2.2 and 3.5 (a gap of more than one second)",
        "the response stalls (in its header, inside an item): the client ends within 1 s (plus slack)",
        client_response_stall,
    ),
    client(
        "messages.client.utf8",
        R,
        "004 3.6 (UTF-8 byte lengths)",
        "user `Zoë`: exact read and create records with byte lengths; a non-ASCII message printed",
        client_utf8,
    ),
];

// ---------------------------------------------------------------------------------------
// Hints.

const HINT_GAP: &str = "set a 1-second timeout on the accepted socket right after accept() \
                        (settimeout(1) / SO_RCVTIMEO) and treat a timeout as an error: print \
                        it, close that socket, go back to accept()";
const HINT_CLIENT_GAP: &str = "set a 1-second timeout on the socket right after creating it \
                               (settimeout(1) / SO_RCVTIMEO); a timeout while reading the \
                               response is an error: print it, close the socket, exit";
const HINT_VALIDATE: &str = "check every field of the fixed header (3.3.1) before storing or \
                             answering anything; on an invalid record print an error, close \
                             that socket and go back to accept()";
const HINT_BYTES: &str = "lengths are UTF-8 byte counts: len(s.encode('utf-8')), not len(s); \
                          send the encoded bytes";
const HINT_ORDER: &str = "16-bit fields are big-endian (network byte order): \
                          struct.pack('!H', ...) / htons(), or int.to_bytes(2, 'big')";
const HINT_TRACEBACK: &str = "catch the error (try/except) and print a message of your own: a \
                              traceback is not an appropriate error message";

// ---------------------------------------------------------------------------------------
// Records (all through codec::messages).

/// A message as the suite stores and expects it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Msg {
    sender: Vec<u8>,
    text: Vec<u8>,
}

impl Msg {
    fn new(sender: impl AsRef<[u8]>, text: impl AsRef<[u8]>) -> Msg {
        Msg {
            sender: sender.as_ref().to_vec(),
            text: text.as_ref().to_vec(),
        }
    }
}

/// A read's answer: its items and MoreMsgs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mailbox {
    items: Vec<Msg>,
    more: bool,
}

fn encoded(r: Result<Request<'_>, EncodeError>) -> Result<Vec<u8>, Stop> {
    let r = r.map_err(|e| harness_error(format!("the suite built an invalid record: {e}")))?;
    let mut out = Vec::new();
    r.encode(&mut out);
    Ok(out)
}

fn create_record(sender: &[u8], receiver: &[u8], text: &[u8]) -> Result<Vec<u8>, Stop> {
    encoded(Request::create(sender, receiver, text))
}

fn read_record(user: &[u8]) -> Result<Vec<u8>, Stop> {
    encoded(Request::read(user))
}

/// A request header with any lengths (the codec's header type encodes what it holds,
/// valid or not), followed by `body`.
fn raw_request(kind: RequestKind, lens: (u8, u8, u16), body: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    RequestHeader {
        kind,
        name_len: lens.0,
        receiver_len: lens.1,
        message_len: lens.2,
    }
    .encode(&mut out);
    for part in body {
        out.extend_from_slice(part);
    }
    out
}

/// The length of the magic number at the front of both records.
const MAGIC_LEN: usize = MAGIC.to_be_bytes().len();

/// Overwrites the magic number of an encoded record (the codec's types always hold 0xAE73).
fn set_magic(mut record: Vec<u8>, magic: u16) -> Vec<u8> {
    if let Some(m) = record.get_mut(..MAGIC_LEN) {
        m.copy_from_slice(&magic.to_be_bytes());
    }
    record
}

/// Overwrites the ID byte (right after the magic) of an encoded record.
fn set_id(mut record: Vec<u8>, id: u8) -> Vec<u8> {
    if let Some(b) = record.get_mut(MAGIC_LEN) {
        *b = id;
    }
    record
}

fn incomplete<T>(r: &Result<T, DecodeError>) -> bool {
    matches!(r, Err(e) if e.is_incomplete())
}

fn show(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    if s.chars().count() > 40 {
        let head: String = s.chars().take(24).collect();
        format!("`{head}...` ({} bytes)", b.len())
    } else {
        format!("`{s}`")
    }
}

/// A measured duration for a student: `3.13 s`.
fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn show_items(items: &[Msg]) -> String {
    if items.is_empty() {
        return "no messages".to_owned();
    }
    let shown: Vec<String> = items
        .iter()
        .take(4)
        .map(|m| format!("{} from {}", show(&m.text), show(&m.sender)))
        .collect();
    let more = if items.len() > 4 {
        format!(" ... ({} in all)", items.len())
    } else {
        String::new()
    };
    format!("{}{more}", shown.join(", "))
}

/// Adds `hint` to a failure that has none yet (a more specific one stays).
fn or_hint(stop: Stop, hint: &str) -> Stop {
    match stop {
        Stop::Fail(f) if f.hint.is_none() => Stop::Fail(f.hint(hint)),
        other => other,
    }
}

fn describe_end(r: &Received) -> &'static str {
    match r.end {
        End::Done | End::Silence => "",
        End::Closed => " and then the connection was closed",
        End::Reset => " and then the connection was reset",
        End::Deadline => " and then nothing more before the deadline",
        End::Overflow => " (too much)",
    }
}

// ---------------------------------------------------------------------------------------
// Server scenarios.

/// Stores a message: a create request, no reply, the server's close.
fn create(
    ctx: &Ctx,
    server: &mut Subject,
    sender: &[u8],
    receiver: &[u8],
    text: &[u8],
) -> Result<(), Stop> {
    let record = create_record(sender, receiver, text)?;
    send_create(ctx, server, &record, &[], Duration::ZERO).map_err(|e| explain_exit(server, e))
}

/// Sends an encoded create (in one write, or split at `cuts` with `pause` between) and
/// expects no reply and the server's close.
fn send_create(
    ctx: &Ctx,
    server: &mut Subject,
    record: &[u8],
    cuts: &[usize],
    pause: Duration,
) -> Result<(), Stop> {
    let mut peer = server.connect(ctx.timing().response())?;
    let mut pieces = Vec::new();
    let mut at = 0;
    for &c in cuts {
        pieces.push(record.get(at..c).unwrap_or_default());
        at = c;
    }
    pieces.push(record.get(at..).unwrap_or_default());
    peer.send_pieces(&pieces, pause)?;
    let r = peer.recv_until_closed(ctx.timing().response());
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
                ctx.timing().response()
            ),
        )
        .hint("close the socket obtained from accept() once the request is handled"));
    }
    Ok(())
}

/// Reads `user`'s messages: a read request and a whole, valid MessageResponse.
fn read(ctx: &Ctx, server: &mut Subject, user: &[u8]) -> Result<Mailbox, Stop> {
    read_inner(ctx, server, user).map_err(|e| explain_exit(server, e))
}

fn read_inner(ctx: &Ctx, server: &mut Subject, user: &[u8]) -> Result<Mailbox, Stop> {
    let record = read_record(user)?;
    let mut peer = server.connect(ctx.timing().response())?;
    peer.send(&record)?;
    let r = peer.recv_until(ctx.timing().response(), None, |b| {
        !incomplete(&Response::decode(b))
    });
    peer.close();
    mailbox(&r, user)
}

/// Decodes a received MessageResponse into owned items.
fn mailbox(r: &Received, user: &[u8]) -> Result<Mailbox, Stop> {
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

/// The read of `user` must return exactly `want` with MoreMsgs `more`.
fn expect_mailbox(
    ctx: &Ctx,
    server: &mut Subject,
    user: &[u8],
    want: &[Msg],
    more: bool,
    after: &str,
) -> Result<(), Stop> {
    let got = read(ctx, server, user)?;
    if got.items == want && got.more == more {
        return Ok(());
    }
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
    Err(fail(expected, actual))
}

/// The record is refused: no byte comes back, the server closes the connection.
fn refused(ctx: &Ctx, server: &mut Subject, record: &[u8], what: &str) -> Result<(), Stop> {
    let mut peer = server.connect(ctx.timing().response())?;
    // A server that refuses at the header may close (and reset) before all of it is sent.
    let _ = peer.try_send(record);
    let r = peer.recv_until_closed(ctx.timing().response());
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
                ctx.timing().response()
            ),
        )
        .hint(HINT_VALIDATE));
    }
    Ok(())
}

/// Nothing was stored for `user` (and the server serves on); `hint` explains a failure
/// that has no more specific hint (the server's death has its own).
fn expect_empty(
    ctx: &Ctx,
    server: &mut Subject,
    user: &[u8],
    after: &str,
    hint: &str,
) -> Result<(), Stop> {
    expect_mailbox(ctx, server, user, &[], false, after).map_err(|e| or_hint(e, hint))
}

// ---------------------------------------------------------------------------------------
// Server argument checks.

/// How an argument-error run of the server ended.
struct ArgRun {
    /// What the arguments were, for messages.
    what: String,
    status: Option<ExitStatus>,
    listened: Vec<u16>,
    lines: Vec<Line>,
}

/// One lock per fixed port the checks use, so that the server and client checks of one run
/// never take each other's port (port-range and bad-port both want 64001). Port 0 binds an
/// ephemeral port and needs none.
static FIXED_PORTS: [(u16, Mutex<()>); 5] = [
    (1023, Mutex::new(())),
    (1024, Mutex::new(())),
    (64000, Mutex::new(())),
    (64001, Mutex::new(())),
    (65535, Mutex::new(())),
];

/// A fixed port held within this run (the mutex) and against other runs on this machine.
type PortGuard = (
    std::sync::MutexGuard<'static, ()>,
    Option<crate::driver::ports::FixedPort>,
);

/// Holds `port` while the guard lives (None: not a shared fixed port).
fn lock_port(port: u16) -> Option<PortGuard> {
    let (_, m) = FIXED_PORTS.iter().find(|(p, _)| *p == port)?;
    let guard = m.lock().unwrap_or_else(|e| e.into_inner());
    let held = crate::driver::ports::hold_fixed(port, Duration::from_secs(120));
    Some((guard, held))
}

/// Waits a little for a fixed port to be free (another run on this machine may hold it
/// for a moment); still busy is the suite's problem, not the subject's.
fn wait_port_free(port: u16) -> Result<(), Stop> {
    if port == 0 || wait_until(Duration::from_secs(10), || !anyone_listens_on(port)) {
        Ok(())
    } else {
        Err(harness_error(format!(
            "port {port} is in use on this machine: this check needs it free"
        )))
    }
}

/// How long an argument-error run may take: the exit deadline (2 s plus slack) after the
/// program's own start-up (an interpreter may take seconds to start on a loaded machine).
/// Only a program that hangs ever waits this long.
fn arg_deadline(ctx: &Ctx) -> Duration {
    ctx.timing().startup() + ctx.timing().exit()
}

/// Runs the server with `args` (an argument error) until it exits, watching whether it
/// listens (on any port) meanwhile.
fn server_arg_run(ctx: &mut Ctx, args: &[&str], port: u16) -> Result<ArgRun, Stop> {
    let limit = arg_deadline(ctx);
    let launch = Launch::new()
        .args(args.iter().map(|s| (*s).to_owned()))
        .port(port);
    let mut s = ctx.spawn(Role::Server, launch)?;
    let mut listened = Vec::new();
    let ended = wait_until(limit, || {
        let ports = s.listening_ports();
        if !ports.is_empty() {
            listened = ports;
            return true;
        }
        s.try_exit().is_some()
    });
    let status = if ended { s.try_exit() } else { None };
    if status.is_some() {
        s.capture().wait_closed(Duration::from_millis(500));
    }
    let lines = s.lines();
    s.kill();
    Ok(ArgRun {
        what: if args.is_empty() {
            "no argument".to_owned()
        } else {
            format!("the arguments `{}`", args.join(" "))
        },
        status,
        listened,
        lines,
    })
}

fn traceback(lines: &[Line]) -> Option<&Line> {
    lines
        .iter()
        .find(|l| l.text.contains("Traceback (most recent call last)"))
}

/// The verdict of the required argument checks: a message, an exit in time, no listening.
fn judge_server_arg(ctx: &Ctx, run: &ArgRun) -> Result<(), Stop> {
    let expected = format!(
        "with {} the server prints an error message and exits within {:?}, without listening",
        run.what,
        arg_deadline(ctx)
    );
    if !run.listened.is_empty() {
        return Err(fail(
            expected,
            format!("it listens on port(s) {:?}", run.listened),
        )
        .hint(
            "check the arguments before creating the socket: exactly one, a number between \
             1024 and 64000 inclusive",
        ));
    }
    let Some(status) = run.status else {
        return Err(fail(
            expected,
            format!(
                "it was still running after {:?}; {}",
                arg_deadline(ctx),
                quote_lines(&run.lines)
            ),
        )
        .hint("after printing the error, exit (sys.exit(1) / exit(1))"));
    };
    if let Some(t) = traceback(&run.lines) {
        return Err(fail(
            expected,
            format!(
                "it crashed with a Python traceback ({}: {:?}) and {}",
                t.stream.as_str(),
                run.lines
                    .last()
                    .map(|l| l.text.as_str())
                    .unwrap_or_default(),
                crate::driver::subject::describe_status(status)
            ),
        )
        .hint(HINT_TRACEBACK));
    }
    if run.lines.iter().all(|l| l.trimmed().trim().is_empty()) {
        return Err(fail(
            expected,
            format!(
                "it printed nothing and {}",
                crate::driver::subject::describe_status(status)
            ),
        )
        .hint("print an error message that says what is wrong (and the usage) before exiting"));
    }
    Ok(())
}

fn server_arg_check(ctx: &mut Ctx, cases: &[&[&str]]) -> CheckResult {
    for args in cases {
        let port = ctx.port()?;
        let run = server_arg_run(ctx, args, port)?;
        judge_server_arg(ctx, &run)?;
    }
    Ok(())
}

fn server_arg_count(ctx: &mut Ctx) -> CheckResult {
    let (a, b) = (ctx.port()?.to_string(), ctx.port()?.to_string());
    server_arg_check(ctx, &[&[], &[a.as_str(), b.as_str()]])
}

fn server_arg_not_number(ctx: &mut Ctx) -> CheckResult {
    server_arg_check(ctx, &[&["abc"]])
}

/// A refused fixed port: run under the fixed-port lock; a pass while another program
/// held the port proves nothing (the bind failed for that reason), so it is retried.
fn refused_port(ctx: &mut Ctx, port: u16) -> CheckResult {
    let text = port.to_string();
    for _ in 0..3 {
        let _guard = lock_port(port);
        wait_port_free(port)?;
        let run = server_arg_run(ctx, &[text.as_str()], port)?;
        judge_server_arg(ctx, &run).map_err(|e| {
            e.hint("the port must be between 1024 and 64000 inclusive: compare before bind()")
        })?;
        if port == 0 || !anyone_listens_on(port) {
            return Ok(());
        }
    }
    Err(harness_error(format!(
        "port {port} was taken by another program during the check: cannot tell whether \
         the server refused it"
    )))
}

fn server_port_range(ctx: &mut Ctx) -> CheckResult {
    for port in [1023, 0, 64001, 65535] {
        refused_port(ctx, port)?;
    }
    Ok(())
}

fn server_port_bounds(ctx: &mut Ctx) -> CheckResult {
    for port in [1024, 64000] {
        accepted_port(ctx, port)?;
    }
    Ok(())
}

/// The server listens on `port`. Another program on this machine (another run of the
/// suite) may take the port between our look and the server's bind, so a refusal is tried
/// three times: a server that refuses the port refuses it every time.
fn accepted_port(ctx: &mut Ctx, port: u16) -> CheckResult {
    let mut last = None;
    for _ in 0..3 {
        let _guard = lock_port(port);
        wait_port_free(port)?;
        match ctx.server_on(port) {
            Ok(server) => {
                drop(server);
                return Ok(());
            }
            Err(Stop::Fail(mut f)) => {
                f.expected = format!(
                    "port {port} is accepted (1024 to 64000 inclusive): the server listens on it"
                );
                last = Some(Stop::Fail(
                    f.hint("the range is inclusive: 1024 <= port <= 64000"),
                ));
            }
            Err(other) => return Err(other),
        }
    }
    Err(last.unwrap_or_else(|| harness_error("no attempt ran")))
}

fn server_arg_exit_status(ctx: &mut Ctx) -> CheckResult {
    let two = [ctx.port()?.to_string(), ctx.port()?.to_string()];
    // The refused ports are port-range's: these cases need no fixed port.
    let cases: [Vec<&str>; 3] = [vec![], vec![two[0].as_str(), two[1].as_str()], vec!["abc"]];
    for args in cases {
        let port = ctx.port()?;
        let run = server_arg_run(ctx, &args, port)?;
        if run.status.is_some_and(|s| s.success()) {
            return Err(fail(
                format!("with {} the server exits with a non-zero status", run.what),
                format!("it exited with status 0; {}", quote_lines(&run.lines)),
            )
            .hint("exit with a non-zero status on errors: sys.exit(1) / exit(EXIT_FAILURE)"));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Server checks: storing and reading.

fn create_then_read(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    create(ctx, &mut server, b"alice", b"bob", b"hello bob")?;
    expect_mailbox(
        ctx,
        &mut server,
        b"bob",
        &[Msg::new("alice", "hello bob")],
        false,
        "a create from `alice` to `bob`",
    )
    .map_err(|e| or_hint(e, "store the message and its sender under the receiver's name; a read by the receiver returns them"))
}

fn empty_read(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    expect_mailbox(ctx, &mut server, b"nobody", &[], false, "no create at all")
}

fn fifo_order(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let want = [
        Msg::new("alice", "first"),
        Msg::new("carol", "second"),
        Msg::new("dave", "third"),
    ];
    for m in &want {
        create(ctx, &mut server, &m.sender, b"bob", &m.text)?;
    }
    expect_mailbox(
        ctx,
        &mut server,
        b"bob",
        &want,
        false,
        "three creates to `bob`",
    )
    .map_err(|e| {
        or_hint(
            e,
            "first in, first out: append new messages, send from the front",
        )
    })
}

fn removed_after_read(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    create(ctx, &mut server, b"alice", b"bob", b"only once")?;
    expect_mailbox(
        ctx,
        &mut server,
        b"bob",
        &[Msg::new("alice", "only once")],
        false,
        "a create to `bob`",
    )?;
    expect_mailbox(
        ctx,
        &mut server,
        b"bob",
        &[],
        false,
        "that message was read",
    )
    .map_err(|e| or_hint(e, "remove the messages you sent from the storage"))
}

/// Messages stored by more-msgs: more than one response holds.
pub const MORE_MSGS: usize = 300;

fn more_msgs(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let all: Vec<Msg> = (0..MORE_MSGS)
        .map(|i| Msg::new("alice", format!("m{i}")))
        .collect();
    for m in &all {
        create(ctx, &mut server, &m.sender, b"bob", &m.text)?;
    }
    let max = codec::messages::MAX_ITEMS;
    let hint = "send at most 255 messages, the oldest first, with MoreMsgs 1 when more remain; \
                remove only those you sent";
    expect_mailbox(
        ctx,
        &mut server,
        b"bob",
        &all[..max],
        true,
        "300 creates to `bob`",
    )
    .map_err(|e| or_hint(e, hint))?;
    expect_mailbox(
        ctx,
        &mut server,
        b"bob",
        &all[max..],
        false,
        "300 creates to `bob` and a first read",
    )
    .map_err(|e| or_hint(e, hint))
}

fn receivers_apart(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    create(ctx, &mut server, b"alice", b"bob", b"for bob")?;
    create(ctx, &mut server, b"alice", b"carol", b"for carol")?;
    create(ctx, &mut server, b"dave", b"bob", b"also for bob")?;
    let after = "creates to `bob`, `carol`, `bob`";
    for (user, mut want) in [
        (&b"carol"[..], vec![Msg::new("alice", "for carol")]),
        (
            &b"bob"[..],
            vec![
                Msg::new("alice", "for bob"),
                Msg::new("dave", "also for bob"),
            ],
        ),
    ] {
        // Which messages, not their order: that is fifo-order's business.
        let mut got = read(ctx, &mut server, user)?.items;
        got.sort_by(|a, b| a.text.cmp(&b.text));
        want.sort_by(|a, b| a.text.cmp(&b.text));
        if got != want {
            return Err(fail(
                format!(
                    "after {after}, a read of {} returns {} (in any order)",
                    show(user),
                    show_items(&want)
                ),
                format!("it returned {}", show_items(&got)),
            )
            .hint(
                "store each message under its receiver's name (a dict of lists) and answer a \
                 read with the requesting user's messages only",
            ));
        }
    }
    Ok(())
}

fn utf8_lengths(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let (sender, receiver, text) = ("Zoë", "Ünïcødé", "grüße ✓ 日本語 ok");
    create(
        ctx,
        &mut server,
        sender.as_bytes(),
        receiver.as_bytes(),
        text.as_bytes(),
    )?;
    expect_mailbox(
        ctx,
        &mut server,
        receiver.as_bytes(),
        &[Msg::new(sender, text)],
        false,
        "a create from `Zoë` to `Ünïcødé`",
    )
    .map_err(|e| or_hint(e, HINT_BYTES))
}

fn largest_fields(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let sender = vec![b's'; codec::messages::MAX_NAME_LEN];
    let receiver = vec![b'r'; codec::messages::MAX_NAME_LEN];
    let text: Vec<u8> = (0..codec::messages::MAX_MESSAGE_LEN)
        .map(|i| b"abcdefghijklmnopqrstuvwxyz"[i % 26])
        .collect();
    let record = create_record(&sender, &receiver, &text)?;
    // A server that refuses the lengths may close before the 66 KB are sent: what it
    // stored is what counts, so a failed send is no verdict by itself.
    {
        let mut peer = server.connect(ctx.timing().response())?;
        let _ = peer.try_send(&record);
        let _ = peer.recv_until_closed(ctx.timing().response());
    }
    expect_mailbox(
        ctx,
        &mut server,
        &receiver,
        &[Msg::new(&sender, &text)],
        false,
        "a create with a 255-byte sender and receiver and a 65535-byte message",
    )
    .map_err(|e| {
        or_hint(
            e,
            "the server accepts every length its fields can hold: names up to 255 bytes, \
             messages up to 65535 (the client's \"less than\" limits are the client's)",
        )
    })
}

// ---------------------------------------------------------------------------------------
// Server checks: invalid records.

fn bad_magic(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    for magic in [0x73AE, 0x0000] {
        let record = set_magic(create_record(b"mallory", b"bob", b"bad magic")?, magic);
        refused(
            ctx,
            &mut server,
            &record,
            &format!("a create with MagicNo 0x{magic:04X}"),
        )?;
    }
    expect_empty(
        ctx,
        &mut server,
        b"bob",
        "creates to `bob` with wrong magic numbers",
        "compare MagicNo with 0xAE73 (big-endian) and refuse the record otherwise",
    )
}

fn bad_id(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    for id in [0u8, 3, 255] {
        let record = set_id(create_record(b"mallory", b"bob", b"bad id")?, id);
        refused(
            ctx,
            &mut server,
            &record,
            &format!("a create-shaped record with ID {id}"),
        )?;
    }
    let record = set_id(read_record(b"bob")?, 0);
    refused(ctx, &mut server, &record, "a read-shaped record with ID 0")?;
    expect_empty(
        ctx,
        &mut server,
        b"bob",
        "records to `bob` with IDs 0, 3, 255",
        "ID 1 is a read, 2 a create: refuse every other ID",
    )
}

fn empty_name(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let record = raw_request(RequestKind::Create, (0, 3, 7), &[b"bob", b"no name"]);
    refused(ctx, &mut server, &record, "a create with NameLen 0")?;
    let record = raw_request(RequestKind::Read, (0, 0, 0), &[]);
    refused(ctx, &mut server, &record, "a read with NameLen 0")?;
    expect_empty(
        ctx,
        &mut server,
        b"bob",
        "a create with NameLen 0 to `bob`",
        "NameLen must be at least 1: refuse a record with NameLen 0",
    )
}

fn read_with_receiver(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let record = raw_request(RequestKind::Read, (3, 3, 0), &[b"bob", b"eve"]);
    refused(
        ctx,
        &mut server,
        &record,
        "a read of `bob` with ReceiverLen 3",
    )
    .map_err(|e| {
        or_hint(
            e,
            "a read request (ID 1) must have ReceiverLen 0: refuse it otherwise",
        )
    })?;
    expect_empty(
        ctx,
        &mut server,
        b"bob",
        "a refused read of `bob`",
        HINT_VALIDATE,
    )
}

fn read_with_message(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let record = raw_request(RequestKind::Read, (3, 0, 5), &[b"bob", b"hello"]);
    refused(
        ctx,
        &mut server,
        &record,
        "a read of `bob` with MessageLen 5",
    )
    .map_err(|e| {
        or_hint(
            e,
            "a read request (ID 1) must have MessageLen 0: refuse it otherwise",
        )
    })?;
    expect_empty(
        ctx,
        &mut server,
        b"bob",
        "a refused read of `bob`",
        HINT_VALIDATE,
    )
}

/// Pause between the body bytes of create-empty-receiver: well under the gap.
const SLOW_BYTE: Duration = Duration::from_millis(300);

fn create_empty_receiver(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    // A server that stores under the empty name is invisible to every later read (NameLen 0
    // is refused). What the text does show: the header's fields are checked before the body
    // is read, so the server closes while the body is still coming (one byte per 300 ms,
    // under the gap).
    let header = raw_request(RequestKind::Create, (3, 0, 5), &[]);
    let body = b"zoehello";
    let mut peer = server.connect(ctx.timing().response())?;
    peer.send(&header)?;
    let started = Instant::now();
    let mut closed = None;
    for (i, b) in body.iter().enumerate() {
        let r = peer.recv_until_closed(SLOW_BYTE);
        if !r.bytes.is_empty() {
            return Err(fail(
                "a create with ReceiverLen 0 is refused: no response, the connection is closed",
                format!("the server answered {}", describe_bytes(&r.bytes)),
            )
            .hint(HINT_VALIDATE));
        }
        if r.closed() {
            closed = Some(i);
            break;
        }
        if i + 1 == body.len() {
            break;
        }
        if peer.try_send(std::slice::from_ref(b)).is_err() {
            closed = Some(i);
            break;
        }
    }
    if closed.is_none() {
        return Err(fail(
            "a create with ReceiverLen 0 is refused as soon as its fixed header is in: the \
             connection is closed before the body is complete",
            format!(
                "the connection was still open {} after the header, while the body came one \
                 byte per {SLOW_BYTE:?}",
                secs(started.elapsed())
            ),
        )
        .hint(
            "3.3.1: check the fixed header (a create needs ReceiverLen >= 1) right after its 7 \
             bytes are read, before reading the body",
        ));
    }
    drop(peer);
    expect_empty(
        ctx,
        &mut server,
        b"zoe",
        "a create with ReceiverLen 0",
        HINT_VALIDATE,
    )
}

fn create_empty_message(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let record = raw_request(RequestKind::Create, (3, 3, 0), &[b"zoe", b"bob"]);
    refused(ctx, &mut server, &record, "a create with MessageLen 0")?;
    expect_empty(
        ctx,
        &mut server,
        b"bob",
        "a create with MessageLen 0 to `bob`",
        "a create request (ID 2) needs MessageLen >= 1: refuse it otherwise",
    )
}

fn truncated_record(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let record = create_record(b"zoe", b"bob", b"this message is cut short")?;
    let cut = record
        .get(..record.len().saturating_sub(5))
        .unwrap_or_default();
    let mut peer = server.connect(ctx.timing().response())?;
    peer.send(cut)?;
    peer.shutdown_write();
    let r = peer.recv_until_closed(ctx.timing().response());
    if !r.bytes.is_empty() || r.end == End::Deadline {
        return Err(fail(
            "a create cut short by the client's close is refused: no response, the connection closed",
            format!(
                "the server {}",
                if r.bytes.is_empty() {
                    format!(
                        "kept the connection open {:?} after the client's close",
                        ctx.timing().response()
                    )
                } else {
                    format!("answered {}", describe_bytes(&r.bytes))
                }
            ),
        )
        .hint("recv() returning 0 bytes before the record is complete is an error: close the socket"));
    }
    drop(peer);
    expect_empty(
        ctx,
        &mut server,
        b"bob",
        "a create to `bob` cut 5 bytes short",
        "read exactly NameLen + ReceiverLen + MessageLen bytes; fewer (the client \
                 closed) is an error: store nothing",
    )
}

fn extra_bytes(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let mut record = create_record(b"zoe", b"bob", b"with a tail")?;
    record.extend_from_slice(b"xyz");
    let mut peer = server.connect(ctx.timing().response())?;
    let _ = peer.try_send(&record);
    let _ = peer.recv_until_closed(ctx.timing().response());
    drop(peer);
    expect_empty(
        ctx,
        &mut server,
        b"bob",
        "a create to `bob` with 3 bytes beyond its lengths",
        "3.3.1: reading more than the expected number of bytes makes the record \
                 erroneous (a read with a timeout after the body shows them)",
    )
}

// ---------------------------------------------------------------------------------------
// Server checks: the gap.

/// Sends `part` and stays silent: the server must close within the gap plus slack.
fn stalled(ctx: &Ctx, server: &mut Subject, part: &[u8], what: &str) -> Result<(), Stop> {
    let mut peer = server.connect(ctx.timing().response())?;
    peer.send(part)?;
    let since = Instant::now();
    let limit = ctx.timing().within(GAP);
    let r = peer.recv_until_closed(limit);
    let expected = format!(
        "after {what}, then silence, the server closes the connection within {GAP:?} (plus \
         slack: {limit:?})"
    );
    if !r.bytes.is_empty() {
        return Err(fail(
            expected,
            format!(
                "it answered {}{}",
                describe_bytes(&r.bytes),
                describe_end(&r)
            ),
        ));
    }
    if !r.closed() {
        return Err(fail(
            expected,
            format!(
                "the connection was still open {} later",
                secs(since.elapsed())
            ),
        )
        .hint(HINT_GAP));
    }
    Ok(())
}

fn header_stall(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let record = create_record(b"zoe", b"bob", b"stalled")?;
    stalled(
        ctx,
        &mut server,
        record.get(..3).unwrap_or_default(),
        "3 bytes of the fixed header",
    )?;
    expect_empty(
        ctx,
        &mut server,
        b"bob",
        "a create stalled in its header",
        HINT_GAP,
    )
}

fn body_stall(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let record = create_record(b"zoe", b"bob", b"stalled in the middle")?;
    let part = record
        .get(..REQUEST_HEADER_LEN + 3 + 3 + 5)
        .unwrap_or_default();
    stalled(
        ctx,
        &mut server,
        part,
        "the fixed header, the names and 5 bytes of the message",
    )?;
    expect_empty(
        ctx,
        &mut server,
        b"bob",
        "a create stalled inside its message",
        HINT_GAP,
    )
}

/// Pause between the pieces of slow-pieces: under the gap, 600 ms in all.
const PIECE_PAUSE: Duration = Duration::from_millis(300);

fn slow_pieces(ctx: &mut Ctx) -> CheckResult {
    const HINT: &str = "pauses under 1 s are not gaps: keep reading (recv may return part of \
                        the record) until the record is complete; the timeout is 1 s";
    let mut server = ctx.server()?;
    let record = create_record(b"zoe", b"bob", b"slowly but surely")?;
    send_create(
        ctx,
        &mut server,
        &record,
        &[4, REQUEST_HEADER_LEN + 5],
        PIECE_PAUSE,
    )
    .map_err(|e| or_hint(explain_exit(&mut server, e), HINT))?;
    expect_mailbox(
        ctx,
        &mut server,
        b"bob",
        &[Msg::new("zoe", "slowly but surely")],
        false,
        "a create sent in three pieces 300 ms apart",
    )
    .map_err(|e| or_hint(e, HINT))
}

fn stall_no_block(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let silent = server.connect(ctx.timing().response())?;
    let record = read_record(b"nobody")?;
    let mut peer = server.connect(ctx.timing().response())?;
    peer.send(&record)?;
    let since = Instant::now();
    // The silent connection's gap, then the read's own response time.
    let limit = ctx.timing().within(GAP + RESPONSE);
    let r = peer.recv_until(limit, None, |b| !incomplete(&Response::decode(b)));
    drop(silent);
    if incomplete(&Response::decode(&r.bytes)) && !r.closed() {
        return Err(fail(
            format!(
                "while another connection stays silent, a read is answered within the {GAP:?} \
                 gap and a response time ({limit:?} with slack): the silent one is dropped \
                 after the gap"
            ),
            format!(
                "{} after {}",
                if r.bytes.is_empty() {
                    "no response".to_owned()
                } else {
                    format!("only {}", describe_bytes(&r.bytes))
                },
                secs(since.elapsed())
            ),
        )
        .hint(HINT_GAP));
    }
    let got = mailbox(&r, b"nobody").map_err(|e| explain_exit(&mut server, e))?;
    if !got.items.is_empty() || got.more {
        return Err(fail(
            "a read of `nobody` returns no messages",
            format!("it returned {}", show_items(&got.items)),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Server checks: what it prints.

/// Whether `word` is one of the words of `text` (split at every non-alphanumeric character),
/// so that `2` is not found inside a port number.
fn has_word(text: &str, word: &str) -> bool {
    text.split(|c: char| !c.is_alphanumeric())
        .any(|w| w == word)
}

fn log_lines(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let response = ctx.timing().response();
    let record = create_record(b"amelia", b"bruno", b"logged once")?;
    let mut peer = server.connect(response)?;
    let port = peer
        .local_port()
        .ok_or_else(|| harness_error("the suite's connection has no local port"))?
        .to_string();
    peer.send(&record)?;
    let _ = peer.recv_until_closed(response);
    drop(peer);
    let hint = "3.1 asks for these log lines; print them with flush=True / fflush(stdout) so \
                they show while the server runs";
    if server
        .wait_line(0, response, |l| {
            l.text.contains("127.0.0.1") && has_word(&l.text, &port)
        })
        .is_none()
    {
        return Err(fail(
            format!(
                "when it accepts a connection, the server prints the client's IP address \
                 (127.0.0.1) and port ({port})"
            ),
            quote_lines(&server.lines()),
        )
        .hint(format!(
            "after accept(), print the address it returned, e.g. \
             print(f\"Connection from {{ip}} port {{port}}\", flush=True); {hint}"
        )));
    }
    if server
        .wait_line(0, response, |l| {
            l.text.contains("amelia") && l.text.contains("bruno")
        })
        .is_none()
    {
        return Err(fail(
            "after a create from `amelia` to `bruno`, a line naming the sender and the receiver",
            quote_lines(&server.lines()),
        )
        .hint(hint));
    }
    create(ctx, &mut server, b"amelia", b"bruno", b"logged twice")?;
    let from = server.lines().len();
    let count = read(ctx, &mut server, b"bruno")?.items.len().to_string();
    if server
        .wait_line(from, response, |l| has_word(&l.text, &count))
        .is_none()
    {
        return Err(fail(
            format!("after a read that sent {count} messages, a line with that number"),
            quote_lines(&server.lines()),
        )
        .hint(hint));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Client checks: arguments. The suite listens where the client would connect.

/// How an argument-error run of the client ended.
struct ClientArgRun {
    what: String,
    fin: Finished,
    connected: bool,
}

fn client_arg_run(
    ctx: &mut Ctx,
    fake: &mut FakeServer,
    args: &[String],
) -> Result<ClientArgRun, Stop> {
    let launch = Launch::new()
        .args(args.iter().cloned())
        .port(fake.port())
        .timeout(arg_deadline(ctx));
    let fin = ctx.run(Role::Client, launch)?;
    let connected = fake.has_pending() || fake.accepted() > 0;
    let shown: Vec<String> = args
        .iter()
        .map(|a| {
            if a.len() > 24 {
                format!("<{} bytes>", a.len())
            } else if a.is_empty() {
                "\"\"".to_owned()
            } else {
                a.clone()
            }
        })
        .collect();
    Ok(ClientArgRun {
        what: format!("the arguments `{}`", shown.join(" ")),
        fin,
        connected,
    })
}

fn judge_client_arg(ctx: &Ctx, run: &ClientArgRun, hint: &str) -> Result<(), Stop> {
    let expected = format!(
        "with {} the client prints an error message and exits within {:?}, without connecting",
        run.what,
        arg_deadline(ctx)
    );
    let lines = run.fin.lines();
    if run.connected {
        return Err(fail(expected, "it connected to the server".to_owned()).hint(hint.to_owned()));
    }
    if run.fin.timed_out || run.fin.flooded {
        return Err(fail(expected, run.fin.describe_end()).hint(hint.to_owned()));
    }
    if let Some(t) = traceback(&lines) {
        return Err(fail(
            expected,
            format!(
                "it crashed with a Python traceback ({}: {:?})",
                t.stream.as_str(),
                lines.last().map(|l| l.text.as_str()).unwrap_or_default()
            ),
        )
        .hint(HINT_TRACEBACK));
    }
    if lines.iter().all(|l| l.trimmed().trim().is_empty()) {
        return Err(fail(
            expected,
            format!(
                "it printed nothing and {}",
                run.fin.ended().trim_start_matches("it ")
            ),
        )
        .hint(hint.to_owned()));
    }
    Ok(())
}

fn std_args(fake: &FakeServer, user: &str, kind: &str) -> Vec<String> {
    vec![
        "127.0.0.1".to_owned(),
        fake.port().to_string(),
        user.to_owned(),
        kind.to_owned(),
    ]
}

fn client_arg_count(ctx: &mut Ctx) -> CheckResult {
    let hint = "count the arguments first: exactly four (host, port, user, read|create)";
    let mut fake = ctx.fake_server()?;
    let mut three = std_args(&fake, "alice", "read");
    three.pop();
    let run = client_arg_run(ctx, &mut fake, &three)?;
    judge_client_arg(ctx, &run, hint)?;
    let mut fake = ctx.fake_server()?;
    let mut five = std_args(&fake, "alice", "read");
    five.push("extra".to_owned());
    let run = client_arg_run(ctx, &mut fake, &five)?;
    judge_client_arg(ctx, &run, hint)
}

fn client_bad_host(ctx: &mut Ctx) -> CheckResult {
    let hint = "resolve the host with getaddrinfo() and check the result: on failure print an \
                error and exit (socket.gaierror in Python)";
    for host in ["no.such.host.invalid", "256.1.1.1"] {
        let mut fake = ctx.fake_server()?;
        let mut args = std_args(&fake, "alice", "read");
        args[0] = host.to_owned();
        let run = client_arg_run(ctx, &mut fake, &args)?;
        judge_client_arg(ctx, &run, hint)?;
    }
    Ok(())
}

fn client_bad_port(ctx: &mut Ctx) -> CheckResult {
    let hint = "the port must be a number between 1024 and 64000 inclusive: check it before \
                connecting";
    let mut fake = ctx.fake_server()?;
    let mut args = std_args(&fake, "alice", "read");
    args[1] = "abc".to_owned();
    let run = client_arg_run(ctx, &mut fake, &args)?;
    judge_client_arg(ctx, &run, hint)?;
    for port in [1023u16, 64001] {
        let _guard = lock_port(port);
        wait_port_free(port)?;
        // The suite listens on the refused port itself: a client without the range check
        // connects there (and would otherwise only fail to connect and look right).
        let mut fake = match fake_on(ctx, port) {
            Ok(f) => f,
            // Below 1024 only root may listen: without it, an attempt there goes unseen.
            Err(_) if port < 1024 => {
                ctx.note(format!(
                    "cannot listen on port {port} (not root?): a connection attempt there is not seen"
                ));
                ctx.fake_server()?
            }
            Err(e) => return Err(e),
        };
        let mut args = std_args(&fake, "alice", "read");
        args[1] = port.to_string();
        let run = client_arg_run(ctx, &mut fake, &args)?;
        judge_client_arg(ctx, &run, hint)?;
    }
    Ok(())
}

/// A fake server on a fixed port; another run on this machine may hold it for a moment.
fn fake_on(ctx: &Ctx, port: u16) -> Result<FakeServer, Stop> {
    let mut result = ctx.fake_server_on(port);
    for _ in 0..2 {
        if result.is_ok() {
            break;
        }
        wait_port_free(port)?;
        result = ctx.fake_server_on(port);
    }
    result
}

fn client_bad_user(ctx: &mut Ctx) -> CheckResult {
    let hint = "the user name must be 1 to 255 BYTES: len(name.encode('utf-8')) / strlen()";
    for user in ["u".repeat(256), "é".repeat(200), String::new()] {
        let mut fake = ctx.fake_server()?;
        let args = std_args(&fake, &user, "read");
        let run = client_arg_run(ctx, &mut fake, &args)?;
        judge_client_arg(ctx, &run, hint)?;
    }
    Ok(())
}

fn client_bad_type(ctx: &mut Ctx) -> CheckResult {
    let hint = "the fourth argument must be exactly `read` or `create`; anything else is an error";
    for kind in ["delete", "READ"] {
        let mut fake = ctx.fake_server()?;
        let args = std_args(&fake, "alice", kind);
        let run = client_arg_run(ctx, &mut fake, &args)?;
        judge_client_arg(ctx, &run, hint)?;
    }
    Ok(())
}

fn client_arg_exit_status(ctx: &mut Ctx) -> CheckResult {
    let cases: [fn(&FakeServer) -> Vec<String>; 4] = [
        |f| {
            let mut a = std_args(f, "alice", "read");
            a.pop();
            a
        },
        |f| {
            let mut a = std_args(f, "alice", "read");
            a[1] = "abc".to_owned();
            a
        },
        |f| std_args(f, &"u".repeat(256), "read"),
        |f| std_args(f, "alice", "delete"),
    ];
    for case in cases {
        let mut fake = ctx.fake_server()?;
        let args = case(&fake);
        let run = client_arg_run(ctx, &mut fake, &args)?;
        if run.fin.status.is_some_and(|s| s.success()) {
            return Err(fail(
                format!("with {} the client exits with a non-zero status", run.what),
                format!("it exited with status 0; {}", quote_lines(&run.fin.lines())),
            )
            .hint("exit with a non-zero status on errors: sys.exit(1) / exit(EXIT_FAILURE)"));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Client checks: the suite is the server.

/// What the fake server saw of one client run.
#[derive(Debug, Default)]
struct Seen {
    connected: bool,
    request: Vec<u8>,
    /// When the last byte of the reply was sent.
    replied_at: Option<Instant>,
    /// When the client's close was seen.
    closed_at: Option<Instant>,
}

/// How the fake server answers a request.
#[derive(Debug, Clone)]
enum Answer {
    /// Nothing (a create).
    Nothing,
    /// These bytes, then our close (a server's normal end).
    Bytes(Vec<u8>),
    /// These bytes, then silence with the connection held open (a stall).
    Stall(Vec<u8>),
}

/// How long the fake server holds a stalled or finished connection open for the client to
/// end it: the gap plus slack, then the exit deadline.
fn hold_time(t: &crate::timing::Timing) -> Duration {
    t.within(GAP) + t.exit()
}

/// Runs the client (`user`, `request`, `stdin`) against a fake server that takes the request
/// leniently (up to its declared lengths, or a short silence) and answers `answer`.
fn run_client(
    ctx: &mut Ctx,
    user: &str,
    request: &str,
    stdin: &[u8],
    answer: Answer,
) -> Result<(Finished, Seen), Stop> {
    let t = *ctx.timing();
    let timeout = t.startup() + t.within(GAP) + t.response() + t.exit();
    let launch = Launch::new()
        .var("user", user)
        .var("request", request)
        .stdin(stdin.to_vec())
        .timeout(timeout);
    ctx.run_with_fake_server(launch, move |fake| {
        let mut seen = Seen::default();
        // A create prompts before connecting: the connection comes once stdin is read.
        let Some(mut peer) = fake.accept(t.startup() + t.response()) else {
            return seen;
        };
        seen.connected = true;
        let r = peer.recv_until(t.response(), Some(REPLY_SILENCE), |b| {
            !incomplete(&Request::decode(b))
        });
        seen.request = r.bytes;
        let (bytes, hold) = match &answer {
            Answer::Nothing => (&[][..], false),
            Answer::Bytes(b) => (b.as_slice(), false),
            Answer::Stall(b) => (b.as_slice(), true),
        };
        if !bytes.is_empty() && peer.try_send(bytes).is_err() {
            return seen;
        }
        seen.replied_at = Some(Instant::now());
        if hold || matches!(answer, Answer::Nothing) {
            let r = peer.recv_until_closed(hold_time(&t));
            if r.closed() {
                seen.closed_at = Some(Instant::now());
            }
        } else {
            peer.close();
        }
        seen
    })
}

fn no_connection(fin: &Finished, what: &str) -> Stop {
    fail(
        format!(
            "the client connects to the host and port of its first two arguments and sends {what}"
        ),
        format!(
            "no connection; {}; {}",
            fin.ended(),
            quote_lines(&fin.lines())
        ),
    )
    .hint("usage is: client <host> <port> <user> <read|create>")
}

fn describe_request(b: &[u8]) -> String {
    match Request::decode(b) {
        Ok((rest, r)) => {
            let kind = match r.kind() {
                RequestKind::Read => "read",
                RequestKind::Create => "create",
            };
            let mut s = format!(
                "a {kind} request of user {} (receiver {}, message {})",
                show(r.user()),
                show(r.receiver()),
                show(r.message())
            );
            if !rest.is_empty() {
                s.push_str(&format!(" followed by {} more bytes", rest.len()));
            }
            s
        }
        Err(e) => format!("{} ({e})", describe_bytes(b)),
    }
}

/// The request must be exactly `want`'s encoding.
fn expect_request(fin: &Finished, seen: &Seen, want: &[u8], what: &str) -> Result<(), Stop> {
    if !seen.connected {
        return Err(no_connection(fin, what));
    }
    if seen.request == want {
        return Ok(());
    }
    let mut stop = fail(
        format!("{what}: {}", describe_bytes(want)),
        format!("it sent {}", describe_request(&seen.request)),
    );
    let sent = Request::decode(&seen.request).map(|(_, r)| r);
    let wanted = Request::decode(want).map(|(_, r)| r);
    // The names and message are non-ASCII: a wrong split is most likely a character count.
    let non_ascii = wanted.as_ref().is_ok_and(|w| {
        ![w.user(), w.receiver(), w.message()]
            .iter()
            .all(|f| f.is_ascii())
    });
    if let Err(DecodeError::BadMagic { found: 0x73AE }) = sent {
        stop = stop.hint(HINT_ORDER);
    } else if let (Ok(s), Ok(w)) = (&sent, &wanted)
        && s.kind() == RequestKind::Create
        && s.user() == w.user()
        && [s.receiver(), s.message()].concat() == [w.message(), w.receiver()].concat()
    {
        stop = stop.hint(
            "the fields follow the fixed header in this order: user name, receiver name, \
             message",
        );
    } else if non_ascii {
        stop = stop.hint(HINT_BYTES);
    }
    Err(stop)
}

fn response(items: &[Msg], more: bool) -> Result<Vec<u8>, Stop> {
    let items: Vec<codec::messages::Item<'_>> = items
        .iter()
        .map(|m| codec::messages::Item {
            sender: &m.sender,
            text: &m.text,
        })
        .collect();
    let mut out = Vec::new();
    Response::encode_items(&items, more, &mut out)
        .map_err(|e| harness_error(format!("the suite built an invalid response: {e}")))?;
    Ok(out)
}

fn client_connect_error(ctx: &mut Ctx) -> CheckResult {
    // A port the suite listened on a moment ago and closed: a connection is refused.
    let port = ctx.fake_server()?.port();
    let launch = Launch::new()
        .var("user", "alice")
        .var("request", "read")
        .port(port)
        .timeout(arg_deadline(ctx));
    let fin = ctx.run(Role::Client, launch)?;
    let expected = format!(
        "when nobody listens on 127.0.0.1:{port}, the client prints an error message and exits \
         within {:?}",
        arg_deadline(ctx)
    );
    let lines = fin.lines();
    if fin.timed_out || fin.flooded {
        return Err(fail(expected, fin.describe_end()));
    }
    if let Some(t) = traceback(&lines) {
        return Err(fail(
            expected,
            format!(
                "it crashed with a Python traceback ({}: {:?})",
                t.stream.as_str(),
                lines.last().map(|l| l.text.as_str()).unwrap_or_default()
            ),
        )
        .hint(
            "connect() fails when no server runs: catch the error (try/except OSError), print \
             a message, close the socket and exit",
        ));
    }
    if lines.iter().all(|l| l.trimmed().trim().is_empty()) {
        return Err(fail(
            expected,
            format!(
                "it printed nothing and {}",
                fin.ended().trim_start_matches("it ")
            ),
        )
        .hint("check the result of connect() and print an error when it fails"));
    }
    Ok(())
}

fn client_read_record(ctx: &mut Ctx) -> CheckResult {
    let (fin, seen) = run_client(
        ctx,
        "alice",
        "read",
        b"",
        Answer::Bytes(response(&[], false)?),
    )?;
    expect_request(
        &fin,
        &seen,
        &read_record(b"alice")?,
        "the read request of `alice`",
    )
}

fn client_create_record(ctx: &mut Ctx) -> CheckResult {
    let (fin, seen) = run_client(
        ctx,
        "alice",
        "create",
        b"bob\nhello there\n",
        Answer::Nothing,
    )?;
    expect_request(
        &fin,
        &seen,
        &create_record(b"alice", b"bob", b"hello there")?,
        "after the answers `bob` and `hello there`, the create request from `alice` to `bob`",
    )
}

fn client_prompt_before_connect(ctx: &mut Ctx) -> CheckResult {
    let t = *ctx.timing();
    let mut fake = ctx.fake_server()?;
    let launch = Launch::new()
        .var("user", "alice")
        .var("request", "create")
        .port(fake.port());
    let mut client = ctx.spawn(Role::Client, launch)?;
    // Its stdin is still open and empty: a conforming client waits at its first prompt and
    // has not connected. (A late start can only make a wrong client pass, never a right
    // one fail.)
    if fake.accept(t.response()).is_some() {
        return Err(fail(
            "a create asks for the receiver and the message first, and connects only then",
            "it connected before it was given any answer on stdin",
        )
        .hint(
            "3.2: prepare the whole MessageRequest (prompts included) before connect(): a \
             server closes a connection that stays silent for 1 s while the user types",
        ));
    }
    if !client.write_stdin(b"bob\nhello there\n") {
        client.wait_exit(Duration::from_millis(300));
        return Err(fail(
            "a create waits for the receiver and the message on stdin",
            format!("it no longer read stdin; {}", quote_lines(&client.lines())),
        ));
    }
    client.close_stdin();
    if fake.accept(t.response()).is_none() {
        return Err(fail(
            "after the answers `bob` and `hello there` on stdin, the client connects",
            format!(
                "no connection within {:?}; {}",
                t.response(),
                quote_lines(&client.lines())
            ),
        ));
    }
    Ok(())
}

fn client_create_reprompt(ctx: &mut Ctx) -> CheckResult {
    let mut stdin = b"\n".to_vec();
    stdin.extend(std::iter::repeat_n(b'r', 300));
    stdin.extend_from_slice(b"\nbob\n\nhi there\n");
    let (fin, seen) = run_client(ctx, "alice", "create", &stdin, Answer::Nothing)?;
    expect_request(
        &fin,
        &seen,
        &create_record(b"alice", b"bob", b"hi there")?,
        "after the answers `` (refused), 300 x `r` (refused), `bob`, `` (refused), `hi there`, \
         the create request from `alice` to `bob` of `hi there`",
    )
    .map_err(|e| {
        or_hint(
            e,
            "a receiver must be 1 to 254 bytes and a message 1 to 65534 bytes: on a refused \
             answer print an error and prompt again (a loop around input())",
        )
    })
}

/// Whether `needles` appear in `hay` in this order (each after the previous one).
fn in_order(hay: &str, needles: &[&str]) -> Result<(), String> {
    let mut at = 0;
    for n in needles {
        match hay.get(at..).and_then(|h| h.find(n)) {
            Some(i) => at += i + n.len(),
            None => {
                return Err(if hay.contains(n) {
                    format!("`{n}` is printed, but not in order")
                } else {
                    format!("`{n}` is not printed")
                });
            }
        }
    }
    Ok(())
}

fn client_prints_messages(ctx: &mut Ctx) -> CheckResult {
    let items = [
        Msg::new("amelia", "first note one"),
        Msg::new("bruno", "second note two"),
        Msg::new("chiara", "third note three"),
    ];
    let (fin, seen) = run_client(
        ctx,
        "reader",
        "read",
        b"",
        Answer::Bytes(response(&items, false)?),
    )?;
    if !seen.connected {
        return Err(no_connection(&fin, "a read request"));
    }
    let out = fin.stdout_text();
    for needles in [
        ["first note one", "second note two", "third note three"],
        ["amelia", "bruno", "chiara"],
    ] {
        if let Err(why) = in_order(&out, &needles) {
            return Err(fail(
                "stdout shows every message's sender and text, in the order received \
                 (amelia: first note one, bruno: second note two, chiara: third note three)",
                format!("{why}; {}", quote_lines(&fin.lines())),
            )
            .hint("loop over NumItems items: read each item's header, sender and text, and print them"));
        }
    }
    Ok(())
}

fn client_empty_response(ctx: &mut Ctx) -> CheckResult {
    let (fin, seen) = run_client(
        ctx,
        "alice",
        "read",
        b"",
        Answer::Bytes(response(&[], false)?),
    )?;
    if !seen.connected {
        return Err(no_connection(&fin, "a read request"));
    }
    let lines = fin.lines();
    let expected =
        "with no messages (NumItems 0) the client prints a message and exits with status 0";
    if let Some(t) = traceback(&lines) {
        return Err(fail(
            expected,
            format!("a Python traceback ({}: {:?})", t.stream.as_str(), t.text),
        )
        .hint(HINT_TRACEBACK));
    }
    if fin.code() != Some(0) {
        return Err(fail(
            expected,
            format!("{}; {}", fin.ended(), quote_lines(&lines)),
        )
        .hint("NumItems 0 is a valid response: say there are no messages and exit normally"));
    }
    if lines.iter().all(|l| l.trimmed().trim().is_empty()) {
        return Err(fail(expected, "it printed nothing")
            .hint("print an informational message such as `No messages for alice`"));
    }
    Ok(())
}

/// Lines of both streams (the note may be on either), digits blanked (ports and counts
/// differ between runs).
fn normalised(fin: &Finished) -> Vec<String> {
    fin.lines()
        .iter()
        .map(|l| {
            l.trimmed()
                .chars()
                .map(|c| if c.is_ascii_digit() { '#' } else { c })
                .collect::<String>()
        })
        .filter(|l| !l.trim().is_empty())
        .collect()
}

fn client_more_msgs(ctx: &mut Ctx) -> CheckResult {
    let items = [Msg::new("amelia", "one of many")];
    let (fin_more, seen) = run_client(
        ctx,
        "alice",
        "read",
        b"",
        Answer::Bytes(response(&items, true)?),
    )?;
    if !seen.connected {
        return Err(no_connection(&fin_more, "a read request"));
    }
    let (fin_plain, _) = run_client(
        ctx,
        "alice",
        "read",
        b"",
        Answer::Bytes(response(&items, false)?),
    )?;
    let plain = normalised(&fin_plain);
    let extra: Vec<String> = normalised(&fin_more)
        .into_iter()
        .filter(|l| !plain.contains(l))
        .collect();
    if extra.is_empty() {
        return Err(fail(
            "with MoreMsgs 1 the client prints a message saying more messages wait on the server \
             (a line the MoreMsgs 0 run does not print)",
            format!(
                "the same output as with MoreMsgs 0: {}",
                quote_lines(&fin_more.lines())
            ),
        )
        .hint("after the items, if MoreMsgs is 1, print that there are more messages to read"));
    }
    Ok(())
}

/// A marker that a client that checks the response never prints.
const MARKER: &str = "MARKER-not-a-message";

fn client_bad_response(ctx: &mut Ctx) -> CheckResult {
    let good = response(&[Msg::new("mallory", MARKER)], false)?;
    let mut empty_sender = Vec::new();
    ResponseHeader {
        num_items: 1,
        more: false,
    }
    .encode(&mut empty_sender);
    ItemHeader {
        sender_len: 0,
        text_len: u16::try_from(MARKER.len()).unwrap_or(1),
    }
    .encode(&mut empty_sender);
    empty_sender.extend_from_slice(MARKER.as_bytes());
    let mut empty_text = Vec::new();
    ResponseHeader {
        num_items: 1,
        more: false,
    }
    .encode(&mut empty_text);
    ItemHeader {
        sender_len: u8::try_from(MARKER.len()).unwrap_or(1),
        text_len: 0,
    }
    .encode(&mut empty_text);
    empty_text.extend_from_slice(MARKER.as_bytes());
    let mut bad_more = good.clone();
    if let Some(b) = bad_more.get_mut(RESPONSE_HEADER_LEN - 1) {
        *b = 2;
    }
    let cases = [
        ("MagicNo 0x73AE", set_magic(good.clone(), 0x73AE)),
        ("ID 1 instead of 3", set_id(good.clone(), 1)),
        ("MoreMsgs 2", bad_more),
        ("an item with SenderLen 0", empty_sender),
        ("an item with MessageLen 0", empty_text),
    ];
    for (what, bytes) in cases {
        let (fin, seen) = run_client(ctx, "alice", "read", b"", Answer::Bytes(bytes))?;
        if !seen.connected {
            return Err(no_connection(&fin, "a read request"));
        }
        let expected = format!(
            "a response with {what} is refused: an error message, an exit, nothing printed as a message"
        );
        let lines = fin.lines();
        if fin.timed_out || fin.flooded {
            return Err(fail(expected, fin.describe_end()).hint(
                "check MagicNo, ID and MoreMsgs of the fixed header and SenderLen, MessageLen \
                 of each item; on an error print it, close the socket and exit",
            ));
        }
        if let Some(t) = traceback(&lines) {
            return Err(fail(
                expected,
                format!("a Python traceback ({}: {:?})", t.stream.as_str(), t.text),
            )
            .hint(HINT_TRACEBACK));
        }
        if fin.stdout_text().contains(MARKER) {
            return Err(fail(
                expected,
                format!("it printed the bogus item: {}", quote_lines(&lines)),
            )
            .hint("3.3.2: check MagicNo == 0xAE73, ID == 3, MoreMsgs 0 or 1, and SenderLen, MessageLen >= 1 before printing"));
        }
        if lines.iter().all(|l| l.trimmed().trim().is_empty()) {
            return Err(fail(
                expected,
                format!(
                    "it printed nothing and {}",
                    fin.ended().trim_start_matches("it ")
                ),
            ));
        }
    }
    Ok(())
}

fn client_response_stall(ctx: &mut Ctx) -> CheckResult {
    let full = response(&[Msg::new("amelia", "never complete")], false)?;
    let cases = [
        (
            "3 bytes of the fixed header",
            full.get(..3).unwrap_or_default().to_vec(),
        ),
        (
            "the fixed header and part of an item",
            full.get(..RESPONSE_HEADER_LEN + 5)
                .unwrap_or_default()
                .to_vec(),
        ),
    ];
    for (what, part) in cases {
        let (fin, seen) = run_client(ctx, "alice", "read", b"", Answer::Stall(part))?;
        if !seen.connected {
            return Err(no_connection(&fin, "a read request"));
        }
        let limit = ctx.timing().within(GAP);
        let expected = format!(
            "when the response stalls after {what}, the client prints an error and ends within \
             {GAP:?} (plus slack: {limit:?})"
        );
        let took = match (seen.replied_at, seen.closed_at) {
            (Some(a), Some(b)) => Some(b.saturating_duration_since(a)),
            _ => None,
        };
        match took {
            Some(d) if d <= limit && !fin.timed_out => {}
            _ => {
                return Err(fail(
                    expected,
                    match took {
                        Some(d) => {
                            format!(
                                "it closed the connection {} later; {}",
                                secs(d),
                                fin.ended()
                            )
                        }
                        None => format!(
                            "it was still waiting {} later, when the suite gave up and closed \
                             the connection; then {}",
                            secs(hold_time(ctx.timing())),
                            fin.ended()
                        ),
                    },
                )
                .hint(HINT_CLIENT_GAP));
            }
        }
        let lines = fin.lines();
        if let Some(t) = traceback(&lines) {
            return Err(fail(
                expected,
                format!("a Python traceback ({}: {:?})", t.stream.as_str(), t.text),
            )
            .hint(HINT_TRACEBACK));
        }
    }
    Ok(())
}

fn client_utf8(ctx: &mut Ctx) -> CheckResult {
    let item = Msg::new("Jürgen", "grüße ✓ 日本");
    let (fin, seen) = run_client(
        ctx,
        "Zoë",
        "read",
        b"",
        Answer::Bytes(response(std::slice::from_ref(&item), false)?),
    )?;
    expect_request(
        &fin,
        &seen,
        &read_record("Zoë".as_bytes())?,
        "the read request of `Zoë` (NameLen 4: bytes)",
    )?;
    let out = fin.stdout_text();
    if let Err(why) = in_order(&out, &["Jürgen", "grüße ✓ 日本"]) {
        return Err(fail(
            "stdout shows the sender `Jürgen` and the text `grüße ✓ 日本` (UTF-8)",
            format!("{why}; {}", quote_lines(&fin.lines())),
        )
        .hint("decode the received bytes as UTF-8 (bytes.decode('utf-8')) and print them"));
    }
    let (fin, seen) = run_client(
        ctx,
        "Zoë",
        "create",
        "Ünï\nhéllo ✓\n".as_bytes(),
        Answer::Nothing,
    )?;
    expect_request(
        &fin,
        &seen,
        &create_record("Zoë".as_bytes(), "Ünï".as_bytes(), "héllo ✓".as_bytes())?,
        "the create request from `Zoë` to `Ünï` of `héllo ✓` (lengths in bytes)",
    )
}
