//! Server checks of storing and reading (004 3.1): what a create stores is what a read of
//! its receiver returns, first in first out, removed once sent, 255 at most per response,
//! apart per receiver, byte lengths; and the log lines 3.1 asks for.

use super::records::{Msg, create_record, show, show_items};
use super::session::{Server, with_server};
use super::{HINT_BYTES, or_hint};
use crate::check::{Check, CheckResult, Level, fail, harness_error};

use crate::suites::common::quote_lines;

/// The check every store-and-read-back check needs: without it they cannot be judged.
pub const CREATE_THEN_READ_ID: &str = "messages.server.create-then-read";
/// The check every "nothing was stored" check needs: an empty read is how they see it.
pub const EMPTY_READ_ID: &str = "messages.server.empty-read";

pub static CREATE_THEN_READ: Check = Check::new(
    CREATE_THEN_READ_ID,
    Level::Required,
    "004 3.1 (create and read requests)",
    "a stored message is returned to its receiver's read with its sender and text",
    |ctx| with_server(ctx, create_then_read),
);

fn create_then_read(s: &mut Server) -> CheckResult {
    s.create(b"alice", b"bob", b"hello bob")?;
    s.expect(
        b"bob",
        &[Msg::new("alice", "hello bob")],
        false,
        "a create from `alice` to `bob`",
    )
    .map_err(|e| {
        or_hint(
            e,
            "store the message and its sender under the receiver's name; a read by the \
             receiver returns them",
        )
    })
}

pub static EMPTY_READ: Check = Check::new(
    EMPTY_READ_ID,
    Level::Required,
    "004 3.1 (read requests), 3.3.2",
    "a read for a user with no messages gets a MessageResponse with NumItems 0, MoreMsgs 0",
    |ctx| with_server(ctx, |s| s.expect(b"nobody", &[], false, "no create at all")),
);

pub static FIFO_ORDER: Check = Check::new(
    "messages.server.fifo-order",
    Level::Required,
    "004 3.1 (first-in, first-out)",
    "three messages to one receiver come back in the order they were stored",
    |ctx| with_server(ctx, fifo_order),
)
.needs(&[CREATE_THEN_READ_ID]);

fn fifo_order(s: &mut Server) -> CheckResult {
    let want = [
        Msg::new("alice", "first"),
        Msg::new("carol", "second"),
        Msg::new("dave", "third"),
    ];
    for m in &want {
        s.create(&m.sender, b"bob", &m.text)?;
    }
    // The order of the texts: whose name comes with each is two-senders' business.
    let got = s.read(b"bob")?;
    if texts(&got.items) == texts(&want) && !got.more {
        return Ok(());
    }
    Err(fail(
        format!(
            "after three creates to `bob`, a read of `bob` returns {} in that order, MoreMsgs 0",
            show_items(&want)
        ),
        format!(
            "it returned {} with MoreMsgs {}",
            show_items(&got.items),
            u8::from(got.more)
        ),
    )
    .hint("first in, first out: append new messages, send from the front"))
}

/// The texts of `items`, in order.
fn texts(items: &[Msg]) -> Vec<&[u8]> {
    items.iter().map(|m| m.text.as_slice()).collect()
}

pub static REMOVED_AFTER_READ: Check = Check::new(
    "messages.server.removed-after-read",
    Level::Required,
    "004 3.1 (the sent messages should be removed)",
    "a second read returns nothing: sent messages are removed",
    |ctx| with_server(ctx, removed_after_read),
)
.needs(&[CREATE_THEN_READ_ID, EMPTY_READ_ID]);

fn removed_after_read(s: &mut Server) -> CheckResult {
    s.create(b"alice", b"bob", b"only once")?;
    s.expect(
        b"bob",
        &[Msg::new("alice", "only once")],
        false,
        "a create to `bob`",
    )?;
    s.expect(b"bob", &[], false, "that message was read")
        .map_err(|e| or_hint(e, "remove the messages you sent from the storage"))
}

/// Messages stored by more-msgs: more than one response holds.
pub const MORE_MSGS: usize = 300;

pub static MORE_MSGS_CHECK: Check = Check::new(
    "messages.server.more-msgs",
    Level::Required,
    "004 3.1 (up to 255), 3.3.2 (MoreMsgs)",
    "300 messages: a read returns the first 255 with MoreMsgs 1, the next read the other 45 with MoreMsgs 0",
    |ctx| with_server(ctx, more_msgs),
)
.needs(&[CREATE_THEN_READ_ID]);

fn more_msgs(s: &mut Server) -> CheckResult {
    let all: Vec<Msg> = (0..MORE_MSGS)
        .map(|i| Msg::new("alice", format!("m{i}")))
        .collect();
    for m in &all {
        s.create(&m.sender, b"bob", &m.text)?;
    }
    let max = codec::messages::MAX_ITEMS;
    let hint = "send at most 255 messages, the oldest first, with MoreMsgs 1 when more remain; \
                remove only those you sent";
    s.expect(b"bob", &all[..max], true, "300 creates to `bob`")
        .map_err(|e| or_hint(e, hint))?;
    s.expect(
        b"bob",
        &all[max..],
        false,
        "300 creates to `bob` and a first read",
    )
    .map_err(|e| or_hint(e, hint))
}

pub static RECEIVERS_APART: Check = Check::new(
    "messages.server.receivers-apart",
    Level::Required,
    "004 3.1 (stored under the receiver's name)",
    "messages to two receivers: each read returns only that receiver's messages",
    |ctx| with_server(ctx, receivers_apart),
)
.needs(&[CREATE_THEN_READ_ID]);

fn receivers_apart(s: &mut Server) -> CheckResult {
    s.create(b"alice", b"bob", b"for bob")?;
    s.create(b"alice", b"carol", b"for carol")?;
    s.create(b"dave", b"bob", b"also for bob")?;
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
        // Which messages, not their order (fifo-order's) nor their senders (two-senders').
        let got = s.read(user)?.items;
        let (mut a, mut b) = (texts(&got), texts(&want));
        a.sort();
        b.sort();
        if a != b {
            want.sort_by(|x, y| x.text.cmp(&y.text));
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

pub static TWO_SENDERS: Check = Check::new(
    "messages.server.two-senders",
    Level::Required,
    "004 3.1 (store the message text and sender name)",
    "messages from two senders to one receiver come back each with its own sender",
    |ctx| with_server(ctx, two_senders),
)
.needs(&[CREATE_THEN_READ_ID]);

fn two_senders(s: &mut Server) -> CheckResult {
    let sent = [
        Msg::new("alice", "from alice"),
        Msg::new("carol", "from carol"),
        Msg::new("alice", "alice again"),
    ];
    for m in &sent {
        s.create(&m.sender, b"bob", &m.text)?;
    }
    let mut got = s.read(b"bob")?.items;
    let mut want = sent.to_vec();
    // Which sender comes with which text, not the order (fifo-order's).
    got.sort_by(|a, b| a.text.cmp(&b.text));
    want.sort_by(|a, b| a.text.cmp(&b.text));
    if got == want {
        return Ok(());
    }
    let wrong = got.iter().find(|g| {
        want.iter()
            .any(|w| w.text == g.text && w.sender != g.sender)
    });
    let actual = match wrong {
        Some(g) => format!(
            "it returned {}: {} came with sender {}",
            show_items(&got),
            show(&g.text),
            show(&g.sender)
        ),
        None => format!("it returned {}", show_items(&got)),
    };
    Err(fail(
        format!(
            "after creates from `alice`, `carol`, `alice` to `bob`, a read of `bob` returns {} \
             (in any order)",
            show_items(&want)
        ),
        actual,
    )
    .hint(
        "store each message with its own sender: a list of (sender, text) pairs per receiver, \
         appended on every create",
    ))
}

pub static UTF8_LENGTHS: Check = Check::new(
    "messages.server.utf8-lengths",
    Level::Required,
    "004 3.6 (lengths are UTF-8 byte counts)",
    "non-ASCII names and text are stored and returned byte for byte with byte lengths",
    |ctx| with_server(ctx, utf8_lengths),
)
.needs(&[CREATE_THEN_READ_ID]);

fn utf8_lengths(s: &mut Server) -> CheckResult {
    let (sender, receiver, text) = ("Zoë", "Ünïcødé", "grüße ✓ 日本語 ok");
    s.create(sender.as_bytes(), receiver.as_bytes(), text.as_bytes())?;
    s.expect(
        receiver.as_bytes(),
        &[Msg::new(sender, text)],
        false,
        "a create from `Zoë` to `Ünïcødé`",
    )
    .map_err(|e| or_hint(e, HINT_BYTES))
}

pub static LARGEST_FIELDS: Check = Check::new(
    "messages.server.largest-fields",
    Level::Recommended,
    "004 3.3.1 (8-bit and 16-bit length fields)",
    "a 255-byte sender and receiver and a 65535-byte message are stored and returned",
    |ctx| with_server(ctx, largest_fields),
)
.needs(&[CREATE_THEN_READ_ID]);

fn largest_fields(s: &mut Server) -> CheckResult {
    let sender = vec![b's'; codec::messages::MAX_NAME_LEN];
    let receiver = vec![b'r'; codec::messages::MAX_NAME_LEN];
    let text: Vec<u8> = (0..codec::messages::MAX_MESSAGE_LEN)
        .map(|i| b"abcdefghijklmnopqrstuvwxyz"[i % 26])
        .collect();
    let record = create_record(&sender, &receiver, &text)?;
    // A server that refuses the lengths may close before the 66 KB are sent: what it
    // stored is what counts, so a failed send is no verdict by itself.
    {
        let mut peer = s.connect("a create with the largest lengths")?;
        let _ = peer.try_send(&record);
        let _ = peer.recv_until_closed(s.timing().response());
    }
    s.expect(
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

pub static LOG_LINES: Check = Check::new(
    "messages.server.log-lines",
    Level::Recommended,
    "004 3.1 (for logging purposes, the server prints ...; informational messages)",
    "prints the client's IP address and port on accept, the sender and receiver of a create, the count a read sent",
    |ctx| with_server(ctx, log_lines),
);

/// Whether `word` is one of the words of `text` (split at every non-alphanumeric character),
/// so that `2` is not found inside a port number.
fn has_word(text: &str, word: &str) -> bool {
    text.split(|c: char| !c.is_alphanumeric())
        .any(|w| w == word)
}

fn log_lines(s: &mut Server) -> CheckResult {
    let response = s.timing().response();
    let record = create_record(b"amelia", b"bruno", b"logged once")?;
    let mut peer = s.connect("a create from `amelia` to `bruno`")?;
    let port = peer
        .local_port()
        .ok_or_else(|| harness_error("the suite's connection has no local port"))?
        .to_string();
    peer.send(&record)?;
    let _ = peer.recv_until_closed(response);
    drop(peer);
    let hint = "3.1 asks for these log lines; print them with flush=True / fflush(stdout) so \
                they show while the server runs";
    let server = s.subject();
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
    s.create(b"amelia", b"bruno", b"logged twice")?;
    let from = s.subject().lines().len();
    let count = s.read(b"bruno")?.items.len().to_string();
    let server = s.subject();
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
