//! Client checks where the suite is the server (004 3.2, 3.3): the records the client
//! sends, its prompts, and what it makes of the responses it gets (messages, none, MoreMsgs,
//! invalid ones, a stall).

use std::time::{Duration, Instant};

use codec::DecodeError;
use codec::messages::{RESPONSE_HEADER_LEN, Request, RequestKind};

use super::client_args::crashed;
use super::records::{
    Msg, create_record, describe_request, incomplete, raw_response, read_record, response, secs,
    set_id, set_magic, set_more, show, show_items,
};
use super::{HINT_BYTES, HINT_ORDER, HINT_TRACEBACK, or_hint};
use crate::check::{Check, CheckResult, Level, Role, Stop, fail};
use crate::driver::{Ctx, Finished, Launch, describe_bytes};
use crate::suites::common::quote_lines;
use crate::timing::{GAP, REPLY_SILENCE, Timing};

const HINT_CLIENT_GAP: &str = "set a 1-second timeout on the socket right after creating it \
                               (settimeout(1) / SO_RCVTIMEO); a timeout while reading the \
                               response is an error: print it, close the socket, exit";

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
    /// These bytes cut at these offsets, each piece sent once the client has read the
    /// previous one and a pause under the gap has passed; then our close.
    Pieces(Vec<u8>, Vec<usize>),
}

/// The pause between the pieces of response-pieces: well under the gap.
const PIECE_PAUSE: Duration = Duration::from_millis(200);

/// How long the fake server holds a stalled or finished connection open for the client to
/// end it: the gap plus slack, then the exit deadline.
fn hold_time(t: &Timing) -> Duration {
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
fn read_run(ctx: &mut Ctx, answer: Answer) -> Result<Finished, Stop> {
    let (fin, seen) = run_client(ctx, "alice", "read", b"", answer)?;
    if !seen.connected {
        return Err(no_connection(&fin, "a read request"));
    }
    Ok(fin)
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

pub static PRINTS_MESSAGES: Check = Check::new(
    "messages.client.prints-messages",
    Level::Required,
    "004 3.2.2 (print each message's sender and text)",
    "three messages: every sender and text is printed, in order",
    client_prints_messages,
);

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

pub static RESPONSE_PIECES: Check = Check::new(
    "messages.client.response-pieces",
    Level::Required,
    "004 3.5 (TCP may deliver a record in pieces; only gaps of one second are errors)",
    "a response of two messages delivered in four pieces 200 ms apart: it is read whole (the last message is printed)",
    client_response_pieces,
);

fn client_response_pieces(ctx: &mut Ctx) -> CheckResult {
    let items = [
        Msg::new("amelia", "first in pieces"),
        Msg::new("bruno", "second in pieces"),
    ];
    let bytes = response(&items, false)?;
    // Cut inside the fixed header, the first item's header and the first text.
    let cuts = vec![2, RESPONSE_HEADER_LEN + 1, RESPONSE_HEADER_LEN + 3 + 6 + 5];
    let fin = read_run(ctx, Answer::Pieces(bytes, cuts))?;
    expect_printed(
        &fin,
        &items,
        "delivered in four pieces 200 ms apart (under the 1 s gap)",
        "recv(n) may return fewer than n bytes: loop until each field is complete (a pause \
         under 1 s is no gap)",
    )
}

/// Texts of response-large: together more than one recv(4096) returns.
const LARGE_TEXT: usize = 2000;

pub static RESPONSE_LARGE: Check = Check::new(
    "messages.client.response-large",
    Level::Required,
    "004 3.2.2, 3.3.2 (read each message: SenderLen + MessageLen bytes)",
    "a response of three 2000-byte messages (over 6 KB, sent at once): it is read whole (the last message is printed)",
    client_response_large,
);

fn client_response_large(ctx: &mut Ctx) -> CheckResult {
    let items: Vec<Msg> = ["amelia", "bruno", "chiara"]
        .iter()
        .enumerate()
        .map(|(i, who)| {
            let fill: String = (0..LARGE_TEXT - 12)
                .map(|k| char::from(b"abcdefghijklmnopqrstuvwxyz"[(k + i) % 26]))
                .collect();
            Msg::new(who, format!("<{i}>{fill}<end{i}>"))
        })
        .collect();
    let fin = read_run(ctx, Answer::Bytes(response(&items, false)?))?;
    expect_printed(
        &fin,
        &items,
        "of over 6 KB in one write",
        "one recv() returns at most what you ask for (and often less): read the fixed header, \
         then each item's header and its SenderLen + MessageLen bytes, looping until each is \
         complete",
    )
}

/// The last item's sender and text are on stdout: the whole response was read. (Whether
/// every item is printed is prints-messages' business.)
fn expect_printed(fin: &Finished, items: &[Msg], how: &str, hint: &str) -> CheckResult {
    let Some(last) = items.last() else {
        return Ok(());
    };
    let needles = [
        String::from_utf8_lossy(&last.sender).into_owned(),
        String::from_utf8_lossy(&last.text).into_owned(),
    ];
    let expected = format!(
        "a response {how} is read whole: stdout shows its last message, {}",
        show_items(std::slice::from_ref(last))
    );
    let out = fin.stdout_text();
    if let Some(missing) = needles.iter().find(|n| !out.contains(n.as_str())) {
        let mut stop = fail(
            expected,
            format!(
                "{} is not printed; {}; {}",
                show(missing.as_bytes()),
                fin.ended(),
                quote_lines(&fin.lines())
            ),
        )
        .hint(hint);
        if let Some((_, cause)) = crashed(fin) {
            stop = stop.cause(cause);
        }
        return Err(stop);
    }
    Ok(())
}

pub static EMPTY_RESPONSE: Check = Check::new(
    "messages.client.empty-response",
    Level::Required,
    "004 3.2.2 (no messages: an informational message)",
    "NumItems 0: a message and a clean exit (status 0)",
    client_empty_response,
);

fn client_empty_response(ctx: &mut Ctx) -> CheckResult {
    let fin = read_run(ctx, Answer::Bytes(response(&[], false)?))?;
    let lines = fin.lines();
    let expected =
        "with no messages (NumItems 0) the client prints a message and exits with status 0";
    if let Some((actual, cause)) = crashed(&fin) {
        return Err(fail(expected, actual).hint(HINT_TRACEBACK).cause(cause));
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

pub static MORE_MSGS: Check = Check::new(
    "messages.client.more-msgs",
    Level::Required,
    "004 3.2.2 (MoreMsgs: print an appropriate message)",
    "MoreMsgs 1 is mentioned: a line the MoreMsgs 0 run does not print",
    client_more_msgs,
);

fn client_more_msgs(ctx: &mut Ctx) -> CheckResult {
    let items = [Msg::new("amelia", "one of many")];
    let fin_more = read_run(ctx, Answer::Bytes(response(&items, true)?))?;
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

/// One invalid response of bad-response.
#[derive(Debug, Clone, Copy)]
enum BadResponse {
    Magic(u16),
    Id(u8),
    More(u8),
    EmptySender,
    EmptyText,
}

/// bad-response's cases: a new one is a line here.
static BAD_RESPONSES: &[BadResponse] = &[
    BadResponse::Magic(0x73AE),
    BadResponse::Id(1),
    BadResponse::More(2),
    BadResponse::EmptySender,
    BadResponse::EmptyText,
];

impl BadResponse {
    fn bytes(self) -> Result<Vec<u8>, Stop> {
        let good = response(&[Msg::new("mallory", MARKER)], false)?;
        let len = MARKER.len();
        Ok(match self {
            BadResponse::Magic(m) => set_magic(good, m),
            BadResponse::Id(id) => set_id(good, id),
            BadResponse::More(m) => set_more(good, m),
            BadResponse::EmptySender => {
                raw_response((0, u16::try_from(len).unwrap_or(1)), MARKER.as_bytes())
            }
            BadResponse::EmptyText => {
                raw_response((u8::try_from(len).unwrap_or(1), 0), MARKER.as_bytes())
            }
        })
    }

    fn what(self) -> String {
        match self {
            BadResponse::Magic(m) => format!("MagicNo 0x{m:04X}"),
            BadResponse::Id(id) => format!("ID {id} instead of 3"),
            BadResponse::More(m) => format!("MoreMsgs {m}"),
            BadResponse::EmptySender => "an item with SenderLen 0".to_owned(),
            BadResponse::EmptyText => "an item with MessageLen 0".to_owned(),
        }
    }
}

pub static BAD_RESPONSE: Check = Check::new(
    "messages.client.bad-response",
    Level::Required,
    "004 3.3.2 (the client's checks)",
    "bad magic, ID 1, MoreMsgs 2, an empty sender, an empty text: an error message and an exit, nothing printed as a message",
    client_bad_response,
);

fn client_bad_response(ctx: &mut Ctx) -> CheckResult {
    for case in BAD_RESPONSES {
        let fin = read_run(ctx, Answer::Bytes(case.bytes()?))?;
        let expected = format!(
            "a response with {} is refused: an error message, an exit, nothing printed as a message",
            case.what()
        );
        let lines = fin.lines();
        if fin.timed_out || fin.flooded {
            return Err(fail(expected, fin.describe_end()).hint(
                "check MagicNo, ID and MoreMsgs of the fixed header and SenderLen, MessageLen \
                 of each item; on an error print it, close the socket and exit",
            ));
        }
        if let Some((actual, cause)) = crashed(&fin) {
            return Err(fail(expected, actual).hint(HINT_TRACEBACK).cause(cause));
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

pub static RESPONSE_STALL: Check = Check::new(
    "messages.client.response-stall",
    Level::Required,
    "004 3.2.2 and 3.5 (a gap of more than one second)",
    "the response stalls (in its header, inside an item): the client prints an error and ends within 1 s (plus slack)",
    client_response_stall,
);

fn client_response_stall(ctx: &mut Ctx) -> CheckResult {
    let full = response(&[Msg::new("amelia", "never complete")], false)?;
    let normal = read_run(ctx, Answer::Bytes(full.clone()))?;
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
        if let Some((actual, cause)) = crashed(&fin) {
            return Err(fail(expected, actual).hint(HINT_TRACEBACK).cause(cause));
        }
        // The error message: a line the client does not print when the response is whole.
        let whole = normalised(&normal);
        if normalised(&fin).iter().all(|l| whole.contains(l)) {
            return Err(fail(
                expected,
                format!(
                    "it ended in time but printed no error (nothing it does not print for a \
                     whole response): {}",
                    quote_lines(&fin.lines())
                ),
            )
            .hint(
                "on the timeout print an error message saying the server stopped sending, \
                 then close the socket and exit",
            ));
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
            format!("{why}; {}", quote_lines(&fin.lines())),
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
