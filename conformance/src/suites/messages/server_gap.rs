//! Server checks of the 1-second gap (004 3.1, 3.5): a stalled record ends its connection
//! in time with nothing stored, pauses under the gap are no gap, and a silent connection
//! does not hold the next client up for more than the gap.

use std::time::{Duration, Instant};

use codec::messages::{REQUEST_HEADER_LEN, Response};

use super::records::{Msg, create_record, incomplete, read_record, secs, show_items};
use super::session::{Server, describe_end, mailbox, with_server};
use super::{HINT_GAP, or_hint};
use crate::check::{Check, CheckResult, Level, fail};
use crate::driver::{Marks, describe_bytes};
use crate::timing::{GAP, RESPONSE};

/// Sends `part` and stays silent: the server must close within the gap plus slack.
fn stalled(s: &mut Server, marks: &Marks, part: &[u8], what: &str) -> CheckResult {
    let mut peer = s.connect(format!("{what}, then silence"))?;
    peer.send(part)?;
    let since = Instant::now();
    let limit = s.timing().within(GAP);
    let r = peer.recv_until_closed(limit);
    marks.window("silence", since, Instant::now());
    marks.deadline(format!("gap {}", secs(GAP)), since + GAP);
    marks.deadline("closed by (gap + slack)", since + limit);
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

pub static HEADER_STALL: Check = Check::new(
    "messages.server.header-stall",
    Level::Required,
    "004 3.1 and 3.5 (one second)",
    "3 bytes of the fixed header, then silence: closed within 1 s (plus slack), the server serves on",
    |ctx| {
        let marks = ctx.marks();
        with_server(ctx, |s| header_stall(s, &marks))
    },
)
.needs(&[super::server_store::EMPTY_READ_ID]);

fn header_stall(s: &mut Server, marks: &Marks) -> CheckResult {
    let record = create_record(b"zoe", b"bob", b"stalled")?;
    stalled(
        s,
        marks,
        record.get(..3).unwrap_or_default(),
        "3 bytes of the fixed header",
    )?;
    s.expect_empty(b"bob", "a create stalled in its header", HINT_GAP)
}

pub static BODY_STALL: Check = Check::new(
    "messages.server.body-stall",
    Level::Required,
    "004 3.1 and 3.5 (one second)",
    "a create stalled inside its body: closed within 1 s (plus slack), nothing stored, the server serves on",
    |ctx| {
        let marks = ctx.marks();
        with_server(ctx, |s| body_stall(s, &marks))
    },
)
.needs(&[super::server_store::EMPTY_READ_ID]);

fn body_stall(s: &mut Server, marks: &Marks) -> CheckResult {
    let record = create_record(b"zoe", b"bob", b"stalled in the middle")?;
    let part = record
        .get(..REQUEST_HEADER_LEN + 3 + 3 + 5)
        .unwrap_or_default();
    stalled(
        s,
        marks,
        part,
        "the fixed header, the names and 5 bytes of the message",
    )?;
    s.expect_empty(b"bob", "a create stalled inside its message", HINT_GAP)
}

/// Pause between the pieces of slow-pieces: under the gap, 600 ms in all.
const PIECE_PAUSE: Duration = Duration::from_millis(300);

pub static SLOW_PIECES: Check = Check::new(
    "messages.server.slow-pieces",
    Level::Required,
    "004 3.5 (gaps of one second or more)",
    "a create sent in three pieces 300 ms apart is stored",
    |ctx| with_server(ctx, slow_pieces),
)
.needs(&[super::server_store::CREATE_THEN_READ_ID]);

fn slow_pieces(s: &mut Server) -> CheckResult {
    const HINT: &str = "pauses under 1 s are not gaps: keep reading (recv may return part of \
                        the record) until the record is complete; the timeout is 1 s";
    let record = create_record(b"zoe", b"bob", b"slowly but surely")?;
    s.send_create(
        &record,
        &[4, REQUEST_HEADER_LEN + 5],
        PIECE_PAUSE,
        "a create in three pieces 300 ms apart",
    )
    .map_err(|e| or_hint(s.explain(e), HINT))?;
    s.expect(
        b"bob",
        &[Msg::new("zoe", "slowly but surely")],
        false,
        "a create sent in three pieces 300 ms apart",
    )
    .map_err(|e| or_hint(s.explain(e), HINT))
}

pub static STALL_NO_BLOCK: Check = Check::new(
    "messages.server.stall-no-block",
    Level::Required,
    "004 3.1 and 3.5",
    "a silent connection does not hold the next client up beyond the 1 s gap (plus slack)",
    |ctx| {
        let marks = ctx.marks();
        with_server(ctx, |s| stall_no_block(s, &marks))
    },
)
.needs(&[super::server_store::EMPTY_READ_ID]);

fn stall_no_block(s: &mut Server, marks: &Marks) -> CheckResult {
    let silent = s.connect("a connection that stays silent")?;
    let silent_from = Instant::now();
    let record = read_record(b"nobody")?;
    let mut peer = s.connect("a read of `nobody` while the other stays silent")?;
    peer.send(&record)?;
    let since = Instant::now();
    // The silent connection's gap, then the read's own response time.
    let limit = s.timing().within(GAP + RESPONSE);
    let r = peer.recv_until(limit, None, |b| !incomplete(&Response::decode(b)));
    let answered = Instant::now();
    drop(silent);
    marks.window("silent connection", silent_from, answered);
    marks.deadline(format!("silent one's gap {}", secs(GAP)), silent_from + GAP);
    marks.deadline("answer due (gap + response + slack)", since + limit);
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
    let got = mailbox(&r, b"nobody")?;
    if !got.items.is_empty() || got.more {
        return Err(fail(
            "a read of `nobody` returns no messages",
            format!("it returned {}", show_items(&got.items)),
        ));
    }
    Ok(())
}
