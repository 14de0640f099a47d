//! The MessageRequest and MessageResponse records of assignment 004 (section 3.3).
//!
//! # Byte layout
//!
//! MessageRequest (client to server):
//!
//! | offset | bytes | field | rule |
//! | --- | --- | --- | --- |
//! | 0 | 2 | MagicNo | 0xAE73, big-endian |
//! | 2 | 1 | ID | 1 read, 2 create |
//! | 3 | 1 | NameLen | >= 1 |
//! | 4 | 1 | ReceiverLen | 0 for a read, >= 1 for a create |
//! | 5 | 2 | MessageLen | big-endian; 0 for a read, >= 1 for a create |
//! | 7 | NameLen | user name | |
//! | .. | ReceiverLen | receiver name | |
//! | .. | MessageLen | message | |
//!
//! MessageResponse (server to client):
//!
//! | offset | bytes | field | rule |
//! | --- | --- | --- | --- |
//! | 0 | 2 | MagicNo | 0xAE73, big-endian |
//! | 2 | 1 | ID | 3 |
//! | 3 | 1 | NumItems | number of items that follow |
//! | 4 | 1 | MoreMsgs | 0 or 1 |
//! | 5 | .. | NumItems items | |
//!
//! Each item:
//!
//! | offset | bytes | field | rule |
//! | --- | --- | --- | --- |
//! | 0 | 1 | SenderLen | >= 1 |
//! | 1 | 2 | MessageLen | big-endian, >= 1 |
//! | 3 | SenderLen | sender name | |
//! | .. | MessageLen | text | |
//!
//! Names and texts are bytes (UTF-8 in practice); lengths are byte counts.
//!
//! # Guarantees
//!
//! Decoders never panic, never allocate, borrow every name and text from their input, and
//! check each field as soon as its bytes are in: a prefix that is already provably wrong
//! (bad magic, bad ID, a zero length where the text forbids it) is that error, any other
//! cut-off record is [`DecodeError::Incomplete`] with the least number of bytes that could
//! complete it (reading exactly that many never reads into the next record). Bytes after a
//! record are returned as `rest`: the assignment allows none, and what to do about them is the
//! caller's reading.
//! Declared lengths are at most 255 or 65535 by their field widths; no length is trusted
//! before the bytes are there. Values are validated on construction ([`Request::read`],
//! [`Request::create`]) or decode, so encoding is infallible; [`Response::encode_items`]
//! validates its items before writing anything.
//!
//! The header decoders ([`RequestHeader`], [`ResponseHeader`], [`ItemHeader`]) serve
//! programs that read a record in pieces, with a timeout on each read.

use crate::{DecodeError, EncodeError, wire};

/// Field offsets (request fixed header, response fixed header, item header).
mod field {
    use core::ops::Range;
    /// Magic number, both records.
    pub const MAGIC: Range<usize> = 0..2;
    /// Record ID, both records.
    pub const ID: usize = 2;
    /// Request: user name length.
    pub const NAME_LEN: usize = 3;
    /// Request: receiver name length.
    pub const RECEIVER_LEN: usize = 4;
    /// Request: message length (big-endian).
    pub const MESSAGE_LEN: Range<usize> = 5..7;
    /// Request: where the user name starts.
    pub const REQUEST_BODY: usize = MESSAGE_LEN.end;
    /// Response: number of items.
    pub const NUM_ITEMS: usize = 3;
    /// Response: MoreMsgs flag.
    pub const MORE_MSGS: usize = 4;
    /// Response: where the first item starts.
    pub const RESPONSE_BODY: usize = MORE_MSGS + 1;
    /// Item: sender name length.
    pub const SENDER_LEN: usize = 0;
    /// Item: text length (big-endian).
    pub const TEXT_LEN: Range<usize> = 1..3;
    /// Item: where the sender name starts.
    pub const ITEM_BODY: usize = TEXT_LEN.end;

    const _: () = assert!(MAGIC.end == ID && ID + 1 == NAME_LEN && NAME_LEN + 1 == RECEIVER_LEN);
    const _: () = assert!(RECEIVER_LEN + 1 == MESSAGE_LEN.start && ID + 1 == NUM_ITEMS);
    const _: () = assert!(SENDER_LEN + 1 == TEXT_LEN.start);
}

/// The magic number both records start with.
pub const MAGIC: u16 = 0xAE73;
/// Length of the MessageRequest fixed header.
pub const REQUEST_HEADER_LEN: usize = field::REQUEST_BODY;
/// Length of the MessageResponse fixed header.
pub const RESPONSE_HEADER_LEN: usize = field::RESPONSE_BODY;
/// Length of one item's header in a MessageResponse.
pub const ITEM_HEADER_LEN: usize = field::ITEM_BODY;
/// The most items a MessageResponse carries.
pub const MAX_ITEMS: usize = 255;
/// The ID byte of a MessageResponse.
pub const RESPONSE_ID: u8 = 3;
/// The longest name (user, receiver, sender) a length byte can declare.
pub const MAX_NAME_LEN: usize = 255;
/// The longest message a length field can declare.
pub const MAX_MESSAGE_LEN: usize = 65_535;

/// The two kinds of MessageRequest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// ID 1: fetch the messages stored for the user.
    Read = 1,
    /// ID 2: store a message from the user for a receiver.
    Create = 2,
}

impl RequestKind {
    /// The ID byte on the wire.
    pub fn id(self) -> u8 {
        match self {
            RequestKind::Read => 1,
            RequestKind::Create => 2,
        }
    }

    /// The kind for an ID byte, if it is 1 or 2.
    pub fn from_id(id: u8) -> Option<RequestKind> {
        match id {
            1 => Some(RequestKind::Read),
            2 => Some(RequestKind::Create),
            _ => None,
        }
    }
}

/// Checks the magic number as soon as its two bytes are in.
#[inline]
fn magic(input: &[u8]) -> Result<&[u8], DecodeError> {
    let (rest, found) = wire::be_u16(input)?;
    if found == MAGIC {
        Ok(rest)
    } else {
        Err(DecodeError::BadMagic { found })
    }
}

/// The validated 7-byte fixed header (what a server reads first, before the body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestHeader {
    /// Read or create.
    pub kind: RequestKind,
    /// Length of the user name (>= 1).
    pub name_len: u8,
    /// Length of the receiver name (0 for a read, >= 1 for a create).
    pub receiver_len: u8,
    /// Length of the message (0 for a read, >= 1 for a create).
    pub message_len: u16,
}

impl RequestHeader {
    /// Decodes and validates the fixed header; every rule of section 3.3.1 is checked as
    /// soon as its byte is in.
    #[inline]
    pub fn decode(input: &[u8]) -> Result<(&[u8], RequestHeader), DecodeError> {
        Self::decode_fields(input).map_err(|e| whole_header(e, REQUEST_HEADER_LEN, input))
    }

    #[inline]
    fn decode_fields(input: &[u8]) -> Result<(&[u8], RequestHeader), DecodeError> {
        let rest = magic(input)?;
        let (rest, id) = wire::u8(rest)?;
        let kind = RequestKind::from_id(id).ok_or(DecodeError::BadRequestId { found: id })?;
        let (rest, name_len) = wire::u8(rest)?;
        if name_len == 0 {
            return Err(DecodeError::EmptyName);
        }
        let (rest, receiver_len) = wire::u8(rest)?;
        match (kind, receiver_len) {
            (RequestKind::Read, 1..) => return Err(DecodeError::ReadWithReceiver),
            (RequestKind::Create, 0) => return Err(DecodeError::EmptyReceiver),
            _ => {}
        }
        let (rest, message_len) = wire::be_u16(rest)?;
        match (kind, message_len) {
            (RequestKind::Read, 1..) => return Err(DecodeError::ReadWithMessage),
            (RequestKind::Create, 0) => return Err(DecodeError::EmptyMessage),
            _ => {}
        }
        let header = RequestHeader {
            kind,
            name_len,
            receiver_len,
            message_len,
        };
        Ok((rest, header))
    }

    /// Bytes that follow the header: name + receiver + message.
    pub fn body_len(&self) -> usize {
        usize::from(self.name_len) + usize::from(self.receiver_len) + usize::from(self.message_len)
    }

    /// Appends the 7 header bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&MAGIC.to_be_bytes());
        out.push(self.kind.id());
        out.push(self.name_len);
        out.push(self.receiver_len);
        out.extend_from_slice(&self.message_len.to_be_bytes());
    }
}

/// A validated MessageRequest. Fields are private: [`Request::read`] and [`Request::create`]
/// check every length, so [`Request::encode`] is infallible for every value that exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Request<'a> {
    kind: RequestKind,
    user: &'a [u8],
    receiver: &'a [u8],
    message: &'a [u8],
}

/// Adds `extra` bytes that must follow to an `Incomplete`, so that `needed` counts up to the
/// end of the whole value (reading exactly `needed` bytes never reads past it).
fn and_then_at_least(e: DecodeError, extra: usize) -> DecodeError {
    match e {
        DecodeError::Incomplete { needed } => DecodeError::Incomplete {
            needed: needed.saturating_add(extra),
        },
        e => e,
    }
}

/// A header parser stops at its first missing field; its `Incomplete` counts up to the end
/// of the whole fixed header instead.
#[inline]
fn whole_header(e: DecodeError, header_len: usize, input: &[u8]) -> DecodeError {
    if e.is_incomplete() {
        wire::missing(header_len, input.len())
    } else {
        e
    }
}

/// The shortest item: its header, a 1-byte sender and a 1-byte text.
const MIN_ITEM_LEN: usize = ITEM_HEADER_LEN + 2;

/// The least body a request whose header is cut off can have, from the header bytes that are
/// in (a name of at least 1 byte; for a create, a receiver and a message of at least 1 each).
fn min_request_body(header: &[u8]) -> usize {
    let create = header.get(field::ID) == Some(&RequestKind::Create.id());
    let at_least = usize::from(create);
    let name = header
        .get(field::NAME_LEN)
        .map_or(1, |&n| usize::from(n).max(1));
    let receiver = header
        .get(field::RECEIVER_LEN)
        .map_or(at_least, |&n| usize::from(n));
    let message = header
        .get(field::MESSAGE_LEN)
        .map_or(at_least, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
    name + receiver + message
}

/// Checks a name's length: 1..=255 bytes.
fn name_len(
    name: &[u8],
    empty: EncodeError,
    too_long: fn(usize) -> EncodeError,
) -> Result<u8, EncodeError> {
    match u8::try_from(name.len()) {
        Ok(0) => Err(empty),
        Ok(n) => Ok(n),
        Err(_) => Err(too_long(name.len())),
    }
}

/// Checks a message's length: 1..=65535 bytes.
fn text_len(
    text: &[u8],
    empty: EncodeError,
    too_long: fn(usize) -> EncodeError,
) -> Result<u16, EncodeError> {
    match u16::try_from(text.len()) {
        Ok(0) => Err(empty),
        Ok(n) => Ok(n),
        Err(_) => Err(too_long(text.len())),
    }
}

impl<'a> Request<'a> {
    /// A read request for `user` (1 to 255 bytes).
    pub fn read(user: &'a [u8]) -> Result<Request<'a>, EncodeError> {
        name_len(user, EncodeError::EmptyName, |len| {
            EncodeError::NameTooLong { len }
        })?;
        Ok(Request {
            kind: RequestKind::Read,
            user,
            receiver: &[],
            message: &[],
        })
    }

    /// A create request from `user` to `receiver` (each 1 to 255 bytes) carrying `message`
    /// (1 to 65535 bytes). These are the wire's limits; the assignment's client refuses a
    /// receiver of 255 bytes or a message of 65535 ("less than"), which is its own check.
    pub fn create(
        user: &'a [u8],
        receiver: &'a [u8],
        message: &'a [u8],
    ) -> Result<Request<'a>, EncodeError> {
        name_len(user, EncodeError::EmptyName, |len| {
            EncodeError::NameTooLong { len }
        })?;
        name_len(receiver, EncodeError::EmptyReceiver, |len| {
            EncodeError::ReceiverTooLong { len }
        })?;
        text_len(message, EncodeError::EmptyMessage, |len| {
            EncodeError::MessageTooLong { len }
        })?;
        Ok(Request {
            kind: RequestKind::Create,
            user,
            receiver,
            message,
        })
    }

    /// Read or create.
    pub fn kind(&self) -> RequestKind {
        self.kind
    }

    /// The user's name (the reader, or the sender of a create).
    pub fn user(&self) -> &'a [u8] {
        self.user
    }

    /// The receiver's name; empty for a read.
    pub fn receiver(&self) -> &'a [u8] {
        self.receiver
    }

    /// The message; empty for a read.
    pub fn message(&self) -> &'a [u8] {
        self.message
    }

    /// The fixed header this request encodes with.
    pub fn header(&self) -> RequestHeader {
        // The constructors and the decoder guarantee these lengths fit; 0 is unreachable.
        RequestHeader {
            kind: self.kind,
            name_len: u8::try_from(self.user.len()).unwrap_or(0),
            receiver_len: u8::try_from(self.receiver.len()).unwrap_or(0),
            message_len: u16::try_from(self.message.len()).unwrap_or(0),
        }
    }

    /// Decodes and validates a whole request; returns the bytes after it (the assignment
    /// allows none: a server may treat a non-empty rest as an error).
    #[inline]
    pub fn decode(input: &'a [u8]) -> Result<(&'a [u8], Request<'a>), DecodeError> {
        match Self::decode_whole_valid(input) {
            Some(done) => Ok(done),
            None => Self::decode_checked(input),
        }
    }

    /// Fast path: a whole, valid record, the header read at once; `None` for anything else
    /// (then `decode_checked` names the error and counts `needed`).
    #[inline]
    fn decode_whole_valid(input: &'a [u8]) -> Option<(&'a [u8], Request<'a>)> {
        let (h, body) = input.split_first_chunk::<REQUEST_HEADER_LEN>()?;
        if u16::from_be_bytes([h[field::MAGIC.start], h[field::MAGIC.start + 1]]) != MAGIC {
            return None;
        }
        let name_len = usize::from(h[field::NAME_LEN]);
        let receiver_len = usize::from(h[field::RECEIVER_LEN]);
        let message_len = usize::from(u16::from_be_bytes([
            h[field::MESSAGE_LEN.start],
            h[field::MESSAGE_LEN.start + 1],
        ]));
        // The ID and the lengths it allows in one match (a branch per ID, as a hand-written
        // parser has), the kind named only once the record is known to be valid.
        let kind = match RequestKind::from_id(h[field::ID])? {
            RequestKind::Read if name_len != 0 && receiver_len == 0 && message_len == 0 => {
                RequestKind::Read
            }
            RequestKind::Create if name_len != 0 && receiver_len != 0 && message_len != 0 => {
                RequestKind::Create
            }
            _ => return None,
        };
        // One length check for the whole body (the three lengths are at most 65535 + 510,
        // so the sum cannot overflow); the splits below then need no checks of their own.
        if body.len() < name_len + receiver_len + message_len {
            return None;
        }
        let (user, body) = body.split_at(name_len);
        let (receiver, body) = body.split_at(receiver_len);
        let (message, rest) = body.split_at(message_len);
        let request = Request {
            kind,
            user,
            receiver,
            message,
        };
        Some((rest, request))
    }

    /// The field-by-field decoder: the first rule broken, or how many bytes are missing.
    #[cold]
    #[inline(never)]
    fn decode_checked(input: &'a [u8]) -> Result<(&'a [u8], Request<'a>), DecodeError> {
        let (body, header) = RequestHeader::decode(input)
            .map_err(|e| and_then_at_least(e, min_request_body(input)))?;
        let (rest, body) = wire::take(body, header.body_len())?;
        let (user, body) = body.split_at(usize::from(header.name_len));
        let (receiver, message) = body.split_at(usize::from(header.receiver_len));
        let request = Request {
            kind: header.kind,
            user,
            receiver,
            message,
        };
        Ok((rest, request))
    }

    /// Appends the whole record.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(
            REQUEST_HEADER_LEN + self.user.len() + self.receiver.len() + self.message.len(),
        );
        self.header().encode(out);
        out.extend_from_slice(self.user);
        out.extend_from_slice(self.receiver);
        out.extend_from_slice(self.message);
    }
}

/// One stored message as it travels in a MessageResponse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Item<'a> {
    /// The sender's name (1 to 255 bytes on the wire).
    pub sender: &'a [u8],
    /// The message text (1 to 65535 bytes on the wire).
    pub text: &'a [u8],
}

/// The 5-byte fixed header of a MessageResponse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResponseHeader {
    /// How many items follow.
    pub num_items: u8,
    /// MoreMsgs: the server holds more messages than it sent.
    pub more: bool,
}

impl ResponseHeader {
    /// Decodes and validates the fixed header (magic, ID 3, MoreMsgs 0 or 1).
    #[inline]
    pub fn decode(input: &[u8]) -> Result<(&[u8], ResponseHeader), DecodeError> {
        Self::decode_fields(input).map_err(|e| whole_header(e, RESPONSE_HEADER_LEN, input))
    }

    #[inline]
    fn decode_fields(input: &[u8]) -> Result<(&[u8], ResponseHeader), DecodeError> {
        let rest = magic(input)?;
        let (rest, id) = wire::u8(rest)?;
        if id != RESPONSE_ID {
            return Err(DecodeError::BadResponseId { found: id });
        }
        let (rest, num_items) = wire::u8(rest)?;
        let (rest, more) = wire::u8(rest)?;
        let more = match more {
            0 => false,
            1 => true,
            found => return Err(DecodeError::BadMoreMsgs { found }),
        };
        Ok((rest, ResponseHeader { num_items, more }))
    }

    /// Appends the 5 header bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&MAGIC.to_be_bytes());
        out.push(RESPONSE_ID);
        out.push(self.num_items);
        out.push(u8::from(self.more));
    }
}

/// The 3-byte header of one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ItemHeader {
    /// Length of the sender name (>= 1).
    pub sender_len: u8,
    /// Length of the text (>= 1).
    pub text_len: u16,
}

impl ItemHeader {
    /// Decodes and validates an item header (both lengths at least 1).
    #[inline]
    pub fn decode(input: &[u8]) -> Result<(&[u8], ItemHeader), DecodeError> {
        Self::decode_fields(input).map_err(|e| whole_header(e, ITEM_HEADER_LEN, input))
    }

    #[inline]
    fn decode_fields(input: &[u8]) -> Result<(&[u8], ItemHeader), DecodeError> {
        let (rest, sender_len) = wire::u8(input)?;
        if sender_len == 0 {
            return Err(DecodeError::EmptySender);
        }
        let (rest, text_len) = wire::be_u16(rest)?;
        if text_len == 0 {
            return Err(DecodeError::EmptyText);
        }
        Ok((
            rest,
            ItemHeader {
                sender_len,
                text_len,
            },
        ))
    }

    /// Bytes that follow the item header: sender + text.
    pub fn body_len(&self) -> usize {
        usize::from(self.sender_len) + usize::from(self.text_len)
    }

    /// Appends the 3 header bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.sender_len);
        out.extend_from_slice(&self.text_len.to_be_bytes());
    }
}

/// Splits one item off the front of `input`.
#[inline]
fn item(input: &[u8]) -> Result<(&[u8], Item<'_>), DecodeError> {
    let (body, header) = ItemHeader::decode(input).map_err(|e| {
        // A cut-off item header: the sender length may be in; the text is at least 1 byte.
        let sender = input.get(field::SENDER_LEN).map_or(1, |&n| usize::from(n));
        and_then_at_least(e, sender + 1)
    })?;
    let (rest, body) = wire::take(body, header.body_len())?;
    let (sender, text) = body.split_at(usize::from(header.sender_len));
    Ok((rest, Item { sender, text }))
}

/// The bytes after one complete, valid item, or `None` (then `item` says why).
#[inline]
fn skip_valid_item(input: &[u8]) -> Option<&[u8]> {
    let (header, body) = input.split_first_chunk::<ITEM_HEADER_LEN>()?;
    let sender_len = usize::from(header[field::SENDER_LEN]);
    let text_len = usize::from(u16::from_be_bytes([
        header[field::TEXT_LEN.start],
        header[field::TEXT_LEN.start + 1],
    ]));
    if sender_len == 0 || text_len == 0 {
        return None;
    }
    body.get(sender_len + text_len..)
}

/// The error for an item that `skip_valid_item` refused, with `later` items still to come.
#[cold]
fn item_error(input: &[u8], later: u8) -> DecodeError {
    match item(input) {
        Err(e) => and_then_at_least(e, usize::from(later) * MIN_ITEM_LEN),
        // Unreachable: the fast path refuses only what `item` refuses.
        Ok(_) => DecodeError::Incomplete { needed: 1 },
    }
}

/// A whole validated MessageResponse; its items were validated at decode and iterate
/// infallibly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Response<'a> {
    header: ResponseHeader,
    /// The items' wire bytes (headers and bodies), validated.
    items: &'a [u8],
}

impl<'a> Response<'a> {
    /// Decodes and validates a whole response, every item included; returns the bytes after it.
    #[inline]
    pub fn decode(input: &'a [u8]) -> Result<(&'a [u8], Response<'a>), DecodeError> {
        let (body, header) = ResponseHeader::decode(input).map_err(|e| {
            let items = input.get(field::NUM_ITEMS).map_or(0, |&n| usize::from(n));
            and_then_at_least(e, items * MIN_ITEM_LEN)
        })?;
        let mut rest = body;
        for left in (0..header.num_items).rev() {
            // Fast path for a whole, valid item; anything else goes through `item`, which
            // names the error and counts `needed` (kept out of line: it is the rare case).
            match skip_valid_item(rest) {
                Some(after) => rest = after,
                None => return Err(item_error(rest, left)),
            }
        }
        // `rest` is a tail of `body`, so the items are the first `body.len() - rest.len()` bytes.
        let used = body.len().saturating_sub(rest.len());
        let items = body.get(..used).unwrap_or_default();
        Ok((rest, Response { header, items }))
    }

    /// The number of items.
    pub fn num_items(&self) -> u8 {
        self.header.num_items
    }

    /// MoreMsgs: the server holds more messages than it sent.
    pub fn more(&self) -> bool {
        self.header.more
    }

    /// The fixed header.
    pub fn header(&self) -> ResponseHeader {
        self.header
    }

    /// The items, in order.
    pub fn items(&self) -> Items<'a> {
        Items {
            rest: self.items,
            left: self.header.num_items,
        }
    }

    /// Appends a response of `items` (at most 255, each sender 1..=255 bytes, text
    /// 1..=65535). Checks every item before writing: on error `out` is untouched.
    pub fn encode_items(
        items: &[Item<'_>],
        more: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        let num_items = u8::try_from(items.len())
            .map_err(|_| EncodeError::TooManyItems { count: items.len() })?;
        let mut total = RESPONSE_HEADER_LEN;
        for it in items {
            name_len(it.sender, EncodeError::EmptySender, |len| {
                EncodeError::SenderTooLong { len }
            })?;
            text_len(it.text, EncodeError::EmptyText, |len| {
                EncodeError::TextTooLong { len }
            })?;
            total += ITEM_HEADER_LEN + it.sender.len() + it.text.len();
        }
        out.reserve(total);
        ResponseHeader { num_items, more }.encode(out);
        for it in items {
            // Checked above; the fallbacks are unreachable.
            let header = ItemHeader {
                sender_len: u8::try_from(it.sender.len()).unwrap_or(0),
                text_len: u16::try_from(it.text.len()).unwrap_or(0),
            };
            header.encode(out);
            out.extend_from_slice(it.sender);
            out.extend_from_slice(it.text);
        }
        Ok(())
    }

    /// Appends the whole record, as it was decoded.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(RESPONSE_HEADER_LEN + self.items.len());
        self.header.encode(out);
        out.extend_from_slice(self.items);
    }
}

/// Iterator over a [`Response`]'s items (validated at decode, so it never fails).
#[derive(Debug, Clone)]
pub struct Items<'a> {
    rest: &'a [u8],
    left: u8,
}

impl<'a> Iterator for Items<'a> {
    type Item = Item<'a>;

    #[inline]
    fn next(&mut self) -> Option<Item<'a>> {
        self.left = self.left.checked_sub(1)?;
        // The bytes were validated by `Response::decode`, so the lengths are not checked
        // again; every slice is still taken with `get`, so even a broken invariant would end
        // the iteration rather than panic.
        let (header, body) = self.rest.split_first_chunk::<ITEM_HEADER_LEN>()?;
        let sender_len = usize::from(header[field::SENDER_LEN]);
        let text_len = usize::from(u16::from_be_bytes([
            header[field::TEXT_LEN.start],
            header[field::TEXT_LEN.start + 1],
        ]));
        let (sender, body) = body.split_at_checked(sender_len)?;
        let (text, rest) = body.split_at_checked(text_len)?;
        self.rest = rest;
        Some(Item { sender, text })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::from(self.left), Some(usize::from(self.left)))
    }
}

impl ExactSizeIterator for Items<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    static CREATE: [u8; 15] = [
        0xAE, 0x73, 2, 1, 2, 0, 5, b'a', b'b', b'c', b'h', b'e', b'l', b'l', b'o',
    ];

    #[test]
    fn splits_a_create_into_its_fields() {
        let (rest, r) = Request::decode(&CREATE).expect("valid");
        assert!(rest.is_empty());
        assert_eq!(
            (r.kind(), r.user(), r.receiver(), r.message()),
            (RequestKind::Create, &b"a"[..], &b"bc"[..], &b"hello"[..])
        );
    }

    #[test]
    fn encode_writes_every_byte_and_only_appends() {
        let r = Request::create(b"a", b"bc", b"hello").expect("valid");
        let mut out = vec![0xEE; 2];
        r.encode(&mut out);
        assert_eq!(&out[..2], [0xEE, 0xEE]);
        assert_eq!(&out[2..], CREATE);
    }

    #[test]
    fn rejects_a_zero_name_length_before_the_rest_of_the_header() {
        assert_eq!(
            RequestHeader::decode(&[0xAE, 0x73, 1, 0]),
            Err(DecodeError::EmptyName)
        );
    }

    #[test]
    fn needed_counts_to_the_end_of_the_record() {
        // Header complete, 7 body bytes declared, 2 present.
        assert_eq!(
            Request::decode(&CREATE[..9]),
            Err(DecodeError::Incomplete { needed: 6 })
        );
        // Only the magic: the rest of the header and at least a 1-byte name.
        assert_eq!(
            Request::decode(&CREATE[..2]),
            Err(DecodeError::Incomplete { needed: 6 })
        );
        // A response announcing 2 items: at least 5 bytes each.
        assert_eq!(
            Response::decode(&[0xAE, 0x73, 3, 2, 0]),
            Err(DecodeError::Incomplete { needed: 10 })
        );
    }

    #[test]
    fn items_iterate_in_order_and_report_their_count() {
        let bytes = [
            0xAE, 0x73, 3, 2, 1, 1, 0, 1, b's', b't', 2, 0, 2, b'u', b'v', b'w', b'x',
        ];
        let (_, r) = Response::decode(&bytes).expect("valid");
        let items = r.items();
        assert_eq!(items.len(), 2);
        let all: Vec<_> = items.collect();
        assert_eq!(
            all,
            [
                Item {
                    sender: b"s",
                    text: b"t"
                },
                Item {
                    sender: b"uv",
                    text: b"wx"
                }
            ]
        );
        assert!(r.more());
    }
}
