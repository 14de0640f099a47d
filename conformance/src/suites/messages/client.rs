//! Client checks where the suite is the server (004 3.2, 3.3): the fake server that runs
//! them, and the records the client sends and its prompts. What it makes of the responses
//! it gets is [`super::client_read`]'s.

use std::time::{Duration, Instant};

use codec::DecodeError;
use codec::messages::{Request, RequestKind};

use super::records::{Msg, create_record, describe_request, incomplete, read_record, response};
use super::{HINT_BYTES, HINT_ORDER, or_hint};
use crate::check::{Check, CheckResult, Level, Role, Stop, fail};
use crate::driver::{Ctx, Finished, Launch, describe_bytes};
use crate::suites::common::quote_lines;
use crate::timing::{GAP, REPLY_SILENCE, Timing};

/// What the fake server saw of one client run.
#[derive(Debug, Default)]
pub(super) struct Seen {
    pub connected: bool,
    pub request: Vec<u8>,
    /// When the last byte of the reply was sent.
    pub replied_at: Option<Instant>,
    /// When the client's close was seen.
    pub closed_at: Option<Instant>,
}

/// How the fake server answers a request.
#[derive(Debug, Clone)]
pub(super) enum Answer {
    /// Nothing (a create).
    Nothing,
    /// These bytes, then our close (a server's normal end).
    Bytes(Vec<u8>),
    /// These bytes, then silence with the connection held open (a stall).
    Stall(Vec<u8>),
    /// These bytes cut at these offsets, each piece sent once the client has read the
    /// previous one and a pause under the gap has passed; then our close.
    Pieces(Vec<u8>, Vec<usize>),
}

/// The pause between the pieces of response-pieces: well under the gap.
pub(super) const PIECE_PAUSE: Duration = Duration::from_millis(100);

/// How long the fake server holds a stalled or finished connection open for the client to
/// end it: the gap plus slack, then the exit deadline.
pub(super) fn hold_time(t: &Timing) -> Duration {
    t.within(GAP) + t.exit()
}

/// Runs the client (`user`, `request`, `stdin`) against a fake server that takes the request
/// leniently (up to its declared lengths, or a short silence) and answers `answer`.
pub(super) fn run_client(
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
            Answer::Pieces(b, cuts) => {
                let mut pieces = Vec::new();
                let mut at = 0;
                for &c in cuts {
                    pieces.push(b.get(at..c).unwrap_or_default());
                    at = c;
                }
                pieces.push(b.get(at..).unwrap_or_default());
                // A client that gave up after a piece makes the next send fail: its output
                // tells the rest.
                if peer
                    .send_pieces_consumed(&pieces, PIECE_PAUSE, t.response())
                    .is_ok()
                {
                    seen.replied_at = Some(Instant::now());
                }
                peer.close();
                return seen;
            }
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

/// A read run answered with `bytes`; a client that never connected fails here.
pub(super) fn read_run(ctx: &mut Ctx, answer: Answer) -> Result<Finished, Stop> {
    let (fin, seen) = run_client(ctx, "alice", "read", b"", answer)?;
    if !seen.connected {
        return Err(no_connection(&fin, "a read request"));
    }
    Ok(fin)
}

pub(super) fn no_connection(fin: &Finished, what: &str) -> Stop {
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

/// The request must be exactly `want`'s encoding.
fn expect_request(fin: &Finished, seen: &Seen, want: &[u8], what: &str) -> CheckResult {
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

pub static READ_RECORD: Check = Check::new(
    "messages.client.read-record",
    Level::Required,
    "004 3.2, 3.3.1",
    "`read` as user `alice` sends exactly the read MessageRequest",
    client_read_record,
);

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

pub static CREATE_RECORD: Check = Check::new(
    "messages.client.create-record",
    Level::Required,
    "004 3.2.1, 3.3.1",
    "`create`: receiver and message from stdin, then exactly the create MessageRequest",
    client_create_record,
);

fn client_create_record(ctx: &mut Ctx) -> CheckResult {
    let answers: [&[u8]; 2] = [b"bob", b"hello there"];
    let (fin, seen) = run_client(ctx, "alice", "create", &stdin_of(&answers), Answer::Nothing)?;
    expect_create(
        &fin,
        &seen,
        b"alice",
        &answers,
        "after the answers `bob` and `hello there`, the create request from `alice` to `bob` \
         (to `hello there` for a client that asks for the message first)",
    )
    .map(|_| ())
}

/// Stdin lines, one per answer.
fn stdin_of(answers: &[&[u8]]) -> Vec<u8> {
    answers.iter().flat_map(|a| [*a, b"\n"].concat()).collect()
}

/// (receiver, message) that a conforming client takes from `answers` (one per line) when it
/// asks for the receiver first, or the message first: an answer out of its range (receiver
/// 1 to 254 bytes, message 1 to 65534) is refused and the question asked again.
fn answered(answers: &[&[u8]], message_first: bool) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut rest = answers.iter();
    let mut ask = |max: usize| {
        rest.by_ref()
            .find(|a| (1..=max).contains(&a.len()))
            .map(|a| a.to_vec())
    };
    let (receiver_max, message_max) = (
        codec::messages::MAX_NAME_LEN - 1,
        codec::messages::MAX_MESSAGE_LEN - 1,
    );
    if message_first {
        let message = ask(message_max)?;
        Some((ask(receiver_max)?, message))
    } else {
        let receiver = ask(receiver_max)?;
        Some((receiver, ask(message_max)?))
    }
}

/// Which order of questions explains the create request: `Ok(false)` receiver first,
/// `Ok(true)` message first (3.2.1 does not order them). Neither is a failure judged
/// against the receiver-first request (the order the text lists).
fn expect_create(
    fin: &Finished,
    seen: &Seen,
    user: &[u8],
    answers: &[&[u8]],
    what: &str,
) -> Result<bool, Stop> {
    let mut wants = Vec::new();
    for message_first in [false, true] {
        if let Some((r, m)) = answered(answers, message_first) {
            wants.push((message_first, create_record(user, &r, &m)?));
        }
    }
    if seen.connected
        && let Some((message_first, _)) = wants.iter().find(|(_, w)| *w == seen.request)
    {
        return Ok(*message_first);
    }
    let first = wants.first().map(|(_, w)| w.clone()).unwrap_or_default();
    expect_request(fin, seen, &first, what).map(|()| false)
}

pub static PROMPT_BEFORE_CONNECT: Check = Check::new(
    "messages.client.prompt-before-connect",
    Level::Required,
    "004 3.2 (prepare the MessageRequest, then connect()), 3.2.1",
    "a create asks for the receiver and message before it connects",
    client_prompt_before_connect,
);

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

pub static CREATE_REPROMPT: Check = Check::new(
    "messages.client.create-reprompt",
    Level::Required,
    "004 3.2.1 (prompts again until valid)",
    "an empty receiver, a 300-byte receiver and an empty message are refused and asked again",
    client_create_reprompt,
);

fn client_create_reprompt(ctx: &mut Ctx) -> CheckResult {
    const HINT: &str = "a receiver must be 1 to 254 bytes and a message 1 to 65534 bytes: on \
                        a refused answer print an error and prompt again (a loop around input())";
    let long = [b'r'; 300];
    // Asked receiver first, every refusal is met: `` and 300 bytes as the receiver, `` as
    // the message.
    let receiver_first: [&[u8]; 5] = [b"", &long, b"bob", b"", b"hi there"];
    let (fin, seen) = run_client(
        ctx,
        "alice",
        "create",
        &stdin_of(&receiver_first),
        Answer::Nothing,
    )?;
    let message_first = expect_create(
        &fin,
        &seen,
        b"alice",
        &receiver_first,
        "after the answers `` (refused), 300 x `r` (refused), `bob`, `` (refused), `hi there`, \
         the create request from `alice` to `bob` of `hi there`",
    )
    .map_err(|e| or_hint(e, HINT))?;
    if !message_first {
        return Ok(());
    }
    // It asks for the message first, so the 300 bytes were its (valid) message: the same
    // refusals again in the order it asks.
    let answers: [&[u8]; 5] = [b"", b"hi there", b"", &long, b"bob"];
    let (fin, seen) = run_client(ctx, "alice", "create", &stdin_of(&answers), Answer::Nothing)?;
    expect_request(
        &fin,
        &seen,
        &create_record(b"alice", b"bob", b"hi there")?,
        "a client that asks for the message first: after the answers `` (refused), `hi there`, \
         `` (refused), 300 x `r` (refused), `bob`, the create request from `alice` to `bob` of \
         `hi there`",
    )
    .map_err(|e| or_hint(e, HINT))
}

/// Whether `needles` appear in `hay` in this order (each after the previous one).
pub(super) fn in_order(hay: &str, needles: &[&str]) -> Result<(), String> {
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

pub static UTF8: Check = Check::new(
    "messages.client.utf8",
    Level::Required,
    "004 3.6 (UTF-8 byte lengths)",
    "user `Zoë`: exact read and create records with byte lengths; a non-ASCII message printed",
    client_utf8,
);

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
            format!("{why}; {}; {}", fin.ended(), quote_lines(&fin.lines())),
        )
        .hint("decode the received bytes as UTF-8 (bytes.decode('utf-8')) and print them"));
    }
    let answers: [&[u8]; 2] = ["Ünï".as_bytes(), "héllo ✓".as_bytes()];
    let (fin, seen) = run_client(ctx, "Zoë", "create", &stdin_of(&answers), Answer::Nothing)?;
    expect_create(
        &fin,
        &seen,
        "Zoë".as_bytes(),
        &answers,
        "the create request from `Zoë` to `Ünï` of `héllo ✓` (lengths in bytes)",
    )
    .map(|_| ())
}
