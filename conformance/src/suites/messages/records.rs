//! The records the messages checks send and expect, all through `codec::messages`, and how
//! they are shown to a student.
//!
//! The invalid records the server checks need are built from the codec's types too:
//! `RequestHeader` and `ItemHeader` encode any lengths (empty names, a read with a
//! receiver); only a wrong magic number, a wrong ID and a MoreMsgs other than 0 or 1 cannot
//! be held by the codec's types, so [`set_magic`], [`set_id`] and [`set_more`] overwrite
//! exactly those bytes of a valid encoding.

use std::time::Duration;

use codec::messages::{
    Item, ItemHeader, MAGIC, RESPONSE_HEADER_LEN, Request, RequestHeader, RequestKind, Response,
    ResponseHeader,
};
use codec::{DecodeError, EncodeError};

use crate::check::{Stop, harness_error};
use crate::driver::describe_bytes;

/// A message as the suite stores and expects it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Msg {
    pub sender: Vec<u8>,
    pub text: Vec<u8>,
}

impl Msg {
    pub fn new(sender: impl AsRef<[u8]>, text: impl AsRef<[u8]>) -> Msg {
        Msg {
            sender: sender.as_ref().to_vec(),
            text: text.as_ref().to_vec(),
        }
    }
}

/// A read's answer: its items and MoreMsgs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Mailbox {
    pub items: Vec<Msg>,
    pub more: bool,
}

fn encoded(r: Result<Request<'_>, EncodeError>) -> Result<Vec<u8>, Stop> {
    let r = r.map_err(|e| harness_error(format!("the suite built an invalid record: {e}")))?;
    let mut out = Vec::new();
    r.encode(&mut out);
    Ok(out)
}

/// A valid create request.
pub(super) fn create_record(sender: &[u8], receiver: &[u8], text: &[u8]) -> Result<Vec<u8>, Stop> {
    encoded(Request::create(sender, receiver, text))
}

/// A valid read request.
pub(super) fn read_record(user: &[u8]) -> Result<Vec<u8>, Stop> {
    encoded(Request::read(user))
}

/// A request header with any lengths (the codec's header type encodes what it holds,
/// valid or not), followed by `body`.
pub(super) fn raw_request(kind: RequestKind, lens: (u8, u8, u16), body: &[&[u8]]) -> Vec<u8> {
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

/// A valid MessageResponse holding `items`.
pub(super) fn response(items: &[Msg], more: bool) -> Result<Vec<u8>, Stop> {
    let items: Vec<Item<'_>> = items
        .iter()
        .map(|m| Item {
            sender: &m.sender,
            text: &m.text,
        })
        .collect();
    let mut out = Vec::new();
    Response::encode_items(&items, more, &mut out)
        .map_err(|e| harness_error(format!("the suite built an invalid response: {e}")))?;
    Ok(out)
}

/// A response of one item whose header declares these lengths, followed by `body`.
pub(super) fn raw_response(lens: (u8, u16), body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    ResponseHeader {
        num_items: 1,
        more: false,
    }
    .encode(&mut out);
    ItemHeader {
        sender_len: lens.0,
        text_len: lens.1,
    }
    .encode(&mut out);
    out.extend_from_slice(body);
    out
}

/// The length of the magic number at the front of both records.
const MAGIC_LEN: usize = MAGIC.to_be_bytes().len();

/// Overwrites the magic number of an encoded record (the codec's types always hold 0xAE73).
pub(super) fn set_magic(mut record: Vec<u8>, magic: u16) -> Vec<u8> {
    if let Some(m) = record.get_mut(..MAGIC_LEN) {
        m.copy_from_slice(&magic.to_be_bytes());
    }
    record
}

/// Overwrites the ID byte (right after the magic) of an encoded record.
pub(super) fn set_id(mut record: Vec<u8>, id: u8) -> Vec<u8> {
    if let Some(b) = record.get_mut(MAGIC_LEN) {
        *b = id;
    }
    record
}

/// Overwrites the MoreMsgs byte (the last of the fixed header) of an encoded response.
pub(super) fn set_more(mut record: Vec<u8>, more: u8) -> Vec<u8> {
    if let Some(b) = record.get_mut(RESPONSE_HEADER_LEN - 1) {
        *b = more;
    }
    record
}

/// Whether a decode ran out of input (more bytes may still come).
pub(super) fn incomplete<T>(r: &Result<T, DecodeError>) -> bool {
    matches!(r, Err(e) if e.is_incomplete())
}

/// A name or text for a student: quoted, long ones cut.
pub(super) fn show(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    if s.chars().count() > 40 {
        let head: String = s.chars().take(24).collect();
        format!("`{head}...` ({} bytes)", b.len())
    } else {
        format!("`{s}`")
    }
}

/// A measured duration for a student: `3.13 s`.
pub(super) fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// A list of messages for a student.
pub(super) fn show_items(items: &[Msg]) -> String {
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

/// A received request for a student: its decoded fields, or its bytes and what is wrong.
pub(super) fn describe_request(b: &[u8]) -> String {
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
