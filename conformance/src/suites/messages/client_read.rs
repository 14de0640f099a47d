//! Client checks of what the client makes of the response the suite sends (004 3.2.2,
//! 3.3.2, 3.5): every message printed, whole responses however TCP delivers them, none,
//! MoreMsgs, invalid ones (a table), a stall.

use codec::messages::RESPONSE_HEADER_LEN;

use super::HINT_TRACEBACK;
use super::client::{Answer, hold_time, in_order, no_connection, read_run, run_client};
use super::client_args::crashed;
use super::records::{
    Msg, raw_response, response, secs, set_id, set_magic, set_more, show, show_items,
};
use crate::check::{Check, CheckResult, Level, Stop, fail};
use crate::driver::{Ctx, Finished};
use crate::suites::common::quote_lines;
use crate::timing::GAP;

const HINT_CLIENT_GAP: &str = "set a 1-second timeout on the socket right after creating it \
                               (settimeout(1) / SO_RCVTIMEO); a timeout while reading the \
                               response is an error: print it, close the socket, exit";

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
                format!("{why}; {}; {}", fin.ended(), quote_lines(&fin.lines())),
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
    "a response of two messages delivered in four pieces 100 ms apart: it is read whole (the last message is printed)",
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
        "delivered in four pieces 100 ms apart (under the 1 s gap)",
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
    super::server_args::normalised(&fin.lines())
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
                "the same output as with MoreMsgs 0 ({}): {}",
                fin_more.ended(),
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
        if let Some(stalled_at) = seen.replied_at {
            let end = seen.closed_at.unwrap_or_else(std::time::Instant::now);
            ctx.mark_window(format!("silence after {what}"), stalled_at, end);
            ctx.mark_deadline("closed by (gap + slack)", stalled_at + limit);
        }
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
