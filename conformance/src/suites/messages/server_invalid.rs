//! Server checks of invalid records (004 3.3.1): each is refused (no response, the
//! connection closed), nothing is stored, and the server serves on. The refused-record
//! checks are one runner ([`refused_family`]) and a table per check: a new case is one
//! line of [`Bad`] in its table.

use std::time::{Duration, Instant};

use codec::messages::RequestKind;

use super::HINT_VALIDATE;
use super::records::{create_record, raw_request, read_record, secs, set_id, set_magic};
use super::server_store::EMPTY_READ_ID;
use super::session::{Server, with_server};
use crate::check::{Check, CheckResult, Level, Stop, fail};
use crate::driver::{End, describe_bytes};

/// One invalid record.
#[derive(Debug, Clone, Copy)]
enum Bad {
    /// A create from `mallory` to `bob` with this MagicNo.
    Magic(u16),
    /// A create from `mallory` to `bob` with this ID.
    CreateId(u8),
    /// A read of `bob` with this ID.
    ReadId(u8),
    /// A header of this kind and these lengths (NameLen, ReceiverLen, MessageLen), this
    /// body, and how to name it.
    Lens(
        RequestKind,
        (u8, u8, u16),
        &'static [&'static [u8]],
        &'static str,
    ),
}

impl Bad {
    fn record(self) -> Result<Vec<u8>, Stop> {
        Ok(match self {
            Bad::Magic(m) => set_magic(create_record(b"mallory", b"bob", b"bad magic")?, m),
            Bad::CreateId(id) => set_id(create_record(b"mallory", b"bob", b"bad id")?, id),
            Bad::ReadId(id) => set_id(read_record(b"bob")?, id),
            Bad::Lens(kind, lens, body, _) => raw_request(kind, lens, body),
        })
    }

    fn what(self) -> String {
        match self {
            Bad::Magic(m) => format!("a create with MagicNo 0x{m:04X}"),
            Bad::CreateId(id) => format!("a create-shaped record with ID {id}"),
            Bad::ReadId(id) => format!("a read-shaped record with ID {id}"),
            Bad::Lens(.., what) => what.to_owned(),
        }
    }
}

/// A family's cases and what the later read of `bob` (nothing stored) says on failure.
struct Family {
    cases: &'static [Bad],
    after: &'static str,
    hint: &'static str,
}

/// Every case is refused, then a read of `bob` shows that nothing was stored.
fn refused_family(s: &mut Server, family: &Family) -> CheckResult {
    for case in family.cases {
        s.refuses(&case.record()?, &case.what())?;
    }
    s.expect_empty(b"bob", family.after, family.hint)
}

static BAD_MAGIC_CASES: Family = Family {
    cases: &[Bad::Magic(0x73AE), Bad::Magic(0x0000)],
    after: "creates to `bob` with wrong magic numbers",
    hint: "compare MagicNo with 0xAE73 (big-endian) and refuse the record otherwise",
};

pub static BAD_MAGIC: Check = Check::new(
    "messages.server.bad-magic",
    Level::Required,
    "004 3.3.1 (MagicNo must equal 0xAE73)",
    "a create with a wrong magic number: the connection is closed, nothing is stored, the server serves on",
    |ctx| with_server(ctx, |s| refused_family(s, &BAD_MAGIC_CASES)),
)
.needs(&[EMPTY_READ_ID]);

static BAD_ID_CASES: Family = Family {
    cases: &[
        Bad::CreateId(0),
        Bad::CreateId(3),
        Bad::CreateId(4),
        Bad::CreateId(6),
        Bad::CreateId(130),
        Bad::CreateId(254),
        Bad::CreateId(255),
        Bad::ReadId(0),
        Bad::ReadId(5),
        Bad::ReadId(129),
    ],
    after: "records to `bob` with IDs other than 1 and 2",
    hint: "ID 1 is a read, 2 a create: refuse every other ID (compare the whole byte, not \
           some of its bits)",
};

pub static BAD_ID: Check = Check::new(
    "messages.server.bad-id",
    Level::Required,
    "004 3.3.1 (ID must be 1 or 2)",
    "records with ID 0, 3 to 254 (some), 255: the connection is closed, nothing is stored or answered, the server serves on",
    |ctx| with_server(ctx, |s| refused_family(s, &BAD_ID_CASES)),
)
.needs(&[EMPTY_READ_ID]);

static EMPTY_NAME_CASES: Family = Family {
    cases: &[
        Bad::Lens(
            RequestKind::Create,
            (0, 3, 7),
            &[b"bob", b"no name"],
            "a create with NameLen 0",
        ),
        Bad::Lens(RequestKind::Read, (0, 0, 0), &[], "a read with NameLen 0"),
    ],
    after: "a create with NameLen 0 to `bob`",
    hint: "NameLen must be at least 1: refuse a record with NameLen 0",
};

pub static EMPTY_NAME: Check = Check::new(
    "messages.server.empty-name",
    Level::Required,
    "004 3.3.1 (NameLen at least 1)",
    "a create and a read with NameLen 0: closed, nothing stored or answered, the server serves on",
    |ctx| with_server(ctx, |s| refused_family(s, &EMPTY_NAME_CASES)),
)
.needs(&[EMPTY_READ_ID]);

static READ_WITH_RECEIVER_CASES: Family = Family {
    cases: &[Bad::Lens(
        RequestKind::Read,
        (3, 3, 0),
        &[b"bob", b"eve"],
        "a read of `bob` with ReceiverLen 3",
    )],
    after: "a refused read of `bob`",
    hint: HINT_VALIDATE,
};

pub static READ_WITH_RECEIVER: Check = Check::new(
    "messages.server.read-with-receiver",
    Level::Required,
    "004 3.3.1 (ReceiverLen 0 for a read)",
    "a read with ReceiverLen 3: closed without a response, the server serves on",
    |ctx| with_server(ctx, |s| refused_family(s, &READ_WITH_RECEIVER_CASES)),
)
.needs(&[EMPTY_READ_ID]);

static READ_WITH_MESSAGE_CASES: Family = Family {
    cases: &[Bad::Lens(
        RequestKind::Read,
        (3, 0, 5),
        &[b"bob", b"hello"],
        "a read of `bob` with MessageLen 5",
    )],
    after: "a refused read of `bob`",
    hint: HINT_VALIDATE,
};

pub static READ_WITH_MESSAGE: Check = Check::new(
    "messages.server.read-with-message",
    Level::Required,
    "004 3.3.1 (MessageLen 0 for a read)",
    "a read with MessageLen 5: closed without a response, the server serves on",
    |ctx| with_server(ctx, |s| refused_family(s, &READ_WITH_MESSAGE_CASES)),
)
.needs(&[EMPTY_READ_ID]);

/// Pause between the body bytes of create-empty-receiver: well under the gap.
const SLOW_BYTE: Duration = Duration::from_millis(300);

pub static CREATE_EMPTY_RECEIVER: Check = Check::new(
    "messages.server.create-empty-receiver",
    Level::Required,
    "004 3.3.1 (ReceiverLen at least 1 for a create; checked before the body is read)",
    "a create with ReceiverLen 0: closed as soon as the fixed header is in, the server serves on",
    |ctx| with_server(ctx, create_empty_receiver),
)
.needs(&[EMPTY_READ_ID]);

fn create_empty_receiver(s: &mut Server) -> CheckResult {
    // A server that stores under the empty name is invisible to every later read (NameLen 0
    // is refused). What the text does show: the header's fields are checked before the body
    // is read, so the server closes while the body is still coming (one byte per 300 ms,
    // under the gap).
    let header = raw_request(RequestKind::Create, (3, 0, 5), &[]);
    let body = b"zoehello";
    let mut peer = s.connect("a create with ReceiverLen 0, its body one byte at a time")?;
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
    s.expect_empty(b"zoe", "a create with ReceiverLen 0", HINT_VALIDATE)
}

static CREATE_EMPTY_MESSAGE_CASES: Family = Family {
    cases: &[Bad::Lens(
        RequestKind::Create,
        (3, 3, 0),
        &[b"zoe", b"bob"],
        "a create with MessageLen 0",
    )],
    after: "a create with MessageLen 0 to `bob`",
    hint: "a create request (ID 2) needs MessageLen >= 1: refuse it otherwise",
};

pub static CREATE_EMPTY_MESSAGE: Check = Check::new(
    "messages.server.create-empty-message",
    Level::Required,
    "004 3.3.1 (MessageLen at least 1 for a create)",
    "a create with MessageLen 0: closed, nothing stored, the server serves on",
    |ctx| with_server(ctx, |s| refused_family(s, &CREATE_EMPTY_MESSAGE_CASES)),
)
.needs(&[EMPTY_READ_ID]);

pub static TRUNCATED_RECORD: Check = Check::new(
    "messages.server.truncated-record",
    Level::Required,
    "004 3.3.1 (fewer than the expected number of bytes)",
    "a create cut short, then the client's close: nothing stored, the server serves on",
    |ctx| with_server(ctx, truncated_record),
)
.needs(&[EMPTY_READ_ID]);

fn truncated_record(s: &mut Server) -> CheckResult {
    let record = create_record(b"zoe", b"bob", b"this message is cut short")?;
    let cut = record
        .get(..record.len().saturating_sub(5))
        .unwrap_or_default();
    let mut peer = s.connect("a create cut 5 bytes short, then the suite's close")?;
    peer.send(cut)?;
    peer.shutdown_write();
    let response = s.timing().response();
    let r = peer.recv_until_closed(response);
    if !r.bytes.is_empty() || r.end == End::Deadline {
        return Err(fail(
            "a create cut short by the client's close is refused: no response, the connection closed",
            format!(
                "the server {}",
                if r.bytes.is_empty() {
                    format!("kept the connection open {response:?} after the client's close")
                } else {
                    format!("answered {}", describe_bytes(&r.bytes))
                }
            ),
        )
        .hint("recv() returning 0 bytes before the record is complete is an error: close the socket"));
    }
    drop(peer);
    s.expect_empty(
        b"bob",
        "a create to `bob` cut 5 bytes short",
        "read exactly NameLen + ReceiverLen + MessageLen bytes; fewer (the client closed) is \
         an error: store nothing",
    )
}

pub static EMPTY_CONNECTION: Check = Check::new(
    "messages.server.empty-connection",
    Level::Required,
    "004 3.1 (not possible to read the fixed header: error processing, back to the loop)",
    "a connection closed before sending any byte: the server serves on",
    |ctx| with_server(ctx, empty_connection),
)
.needs(&[EMPTY_READ_ID]);

fn empty_connection(s: &mut Server) -> CheckResult {
    let peer = s.connect("a connection closed before sending any byte")?;
    peer.close();
    s.expect_empty(
        b"bob",
        "a connection closed with no data",
        "recv() returning 0 bytes before the fixed header is complete means the client left: \
         close that socket and go back to accept(); never unpack a header that is not all there",
    )
}

pub static EXTRA_BYTES: Check = Check::new(
    "messages.server.extra-bytes",
    Level::Informational,
    "004 3.3.1 (more than the expected number of bytes)",
    "a create followed by 3 bytes beyond its declared lengths is refused: nothing stored",
    |ctx| with_server(ctx, extra_bytes),
)
.needs(&[EMPTY_READ_ID]);

fn extra_bytes(s: &mut Server) -> CheckResult {
    let mut record = create_record(b"zoe", b"bob", b"with a tail")?;
    record.extend_from_slice(b"xyz");
    let mut peer = s.connect("a create with 3 bytes beyond its lengths")?;
    let _ = peer.try_send(&record);
    let _ = peer.recv_until_closed(s.timing().response());
    drop(peer);
    s.expect_empty(
        b"bob",
        "a create to `bob` with 3 bytes beyond its lengths",
        "3.3.1: reading more than the expected number of bytes makes the record erroneous (a \
         read with a timeout after the body shows them)",
    )
}
