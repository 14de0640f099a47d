//! The crate's two error types: [`DecodeError`] for bytes that came off the wire and
//! [`EncodeError`] for values that cannot be put on it.
//!
//! Both are flat, `Copy` and `PartialEq` so that tests can `assert_eq!` on them, and their
//! `Display` is a sentence a student can act on (it names the field and, where useful, the
//! value found).

use core::fmt;

/// Why a byte string is not (yet) a valid message.
///
/// [`DecodeError::Incomplete`] is the only variant that is not a malformation: the input
/// seen so far is a proper prefix of some valid message, so a reader should wait for more
/// bytes. Every other variant is final: no further byte can make the input valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecodeError {
    /// More input is needed; `needed` is the least number of further bytes that could help (>= 1).
    Incomplete {
        /// The least number of further bytes that could complete the value (at least 1): it
        /// never overstates, so reading exactly `needed` more bytes never reads past the end
        /// of the value.
        needed: usize,
    },
    /// hello: the message does not start with `HELLO`.
    BadKeyword,
    /// hello: `HELLO` is not followed by exactly one space.
    MissingSpace,
    /// hello: no decimal digits after `HELLO `.
    NoDigits,
    /// hello: the number does not fit in a signed 64-bit integer.
    Overflow,
    /// hello: bytes after the number that are no accepted terminator.
    TrailingJunk,
    /// framed: the declared payload length exceeds the receiver's maximum.
    TooLarge {
        /// The length the header declared.
        len: u32,
        /// The largest length the receiver accepts.
        max: u32,
    },
    /// messages: the first two bytes are not the magic number 0xAE73.
    BadMagic {
        /// The 16-bit value found instead (big-endian).
        found: u16,
    },
    /// messages: a MessageRequest ID that is neither 1 (read) nor 2 (create).
    BadRequestId {
        /// The ID byte found.
        found: u8,
    },
    /// messages: a MessageResponse ID that is not 3.
    BadResponseId {
        /// The ID byte found.
        found: u8,
    },
    /// messages: a request with NameLen 0.
    EmptyName,
    /// messages: a read request (ID 1) with ReceiverLen other than 0.
    ReadWithReceiver,
    /// messages: a read request (ID 1) with MessageLen other than 0.
    ReadWithMessage,
    /// messages: a create request (ID 2) with ReceiverLen 0.
    EmptyReceiver,
    /// messages: a create request (ID 2) with MessageLen 0.
    EmptyMessage,
    /// messages: a response whose MoreMsgs byte is neither 0 nor 1.
    BadMoreMsgs {
        /// The MoreMsgs byte found.
        found: u8,
    },
    /// messages: a response item with SenderLen 0.
    EmptySender,
    /// messages: a response item with MessageLen 0.
    EmptyText,
}

impl DecodeError {
    /// True for [`DecodeError::Incomplete`]: the input may still become valid with more bytes.
    pub fn is_incomplete(&self) -> bool {
        matches!(self, DecodeError::Incomplete { .. })
    }

    /// The variant's name, as the fixture vectors spell expected errors (`"TooLarge"`).
    pub fn name(&self) -> &'static str {
        match self {
            DecodeError::Incomplete { .. } => "Incomplete",
            DecodeError::BadKeyword => "BadKeyword",
            DecodeError::MissingSpace => "MissingSpace",
            DecodeError::NoDigits => "NoDigits",
            DecodeError::Overflow => "Overflow",
            DecodeError::TrailingJunk => "TrailingJunk",
            DecodeError::TooLarge { .. } => "TooLarge",
            DecodeError::BadMagic { .. } => "BadMagic",
            DecodeError::BadRequestId { .. } => "BadRequestId",
            DecodeError::BadResponseId { .. } => "BadResponseId",
            DecodeError::EmptyName => "EmptyName",
            DecodeError::ReadWithReceiver => "ReadWithReceiver",
            DecodeError::ReadWithMessage => "ReadWithMessage",
            DecodeError::EmptyReceiver => "EmptyReceiver",
            DecodeError::EmptyMessage => "EmptyMessage",
            DecodeError::BadMoreMsgs { .. } => "BadMoreMsgs",
            DecodeError::EmptySender => "EmptySender",
            DecodeError::EmptyText => "EmptyText",
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeError::Incomplete { needed: 1 } => {
                f.write_str("the message is cut off: at least 1 more byte is needed")
            }
            DecodeError::Incomplete { needed } => write!(
                f,
                "the message is cut off: at least {needed} more bytes are needed"
            ),
            DecodeError::BadKeyword => f.write_str("the message does not start with \"HELLO\""),
            DecodeError::MissingSpace => {
                f.write_str("\"HELLO\" must be followed by exactly one space, then the number")
            }
            DecodeError::NoDigits => {
                f.write_str("there is no decimal number after \"HELLO \" (expected e.g. \"HELLO 5\")")
            }
            DecodeError::Overflow => {
                f.write_str("the number after \"HELLO \" is too large for a 64-bit integer")
            }
            DecodeError::TrailingJunk => f.write_str(
                "unexpected bytes after the number (accepted endings: nothing, \"\\n\", \"\\r\\n\", \"\\0\", \"\\n\\0\" or NUL padding)",
            ),
            DecodeError::TooLarge { len, max } => write!(
                f,
                "the frame header declares {len} payload bytes, more than the limit of {max}"
            ),
            DecodeError::BadMagic { found } => write!(
                f,
                "the record starts with magic number 0x{found:04X}, but it must be 0xAE73 (in network byte order)"
            ),
            DecodeError::BadRequestId { found } => write!(
                f,
                "the MessageRequest ID is {found}, but it must be 1 (read) or 2 (create)"
            ),
            DecodeError::BadResponseId { found } => {
                write!(f, "the MessageResponse ID is {found}, but it must be 3")
            }
            DecodeError::EmptyName => f.write_str("the user name is empty (NameLen is 0)"),
            DecodeError::ReadWithReceiver => {
                f.write_str("a read request must have ReceiverLen 0, but it is not")
            }
            DecodeError::ReadWithMessage => {
                f.write_str("a read request must have MessageLen 0, but it is not")
            }
            DecodeError::EmptyReceiver => {
                f.write_str("a create request has an empty receiver name (ReceiverLen is 0)")
            }
            DecodeError::EmptyMessage => {
                f.write_str("a create request has an empty message (MessageLen is 0)")
            }
            DecodeError::BadMoreMsgs { found } => {
                write!(f, "the MoreMsgs field is {found}, but it must be 0 or 1")
            }
            DecodeError::EmptySender => {
                f.write_str("a message in the response has an empty sender name (SenderLen is 0)")
            }
            DecodeError::EmptyText => {
                f.write_str("a message in the response has an empty text (MessageLen is 0)")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Why a value cannot be put on the wire: a field is empty or too long for its length
/// field, or a response has too many items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EncodeError {
    /// The user name is empty.
    EmptyName,
    /// The user name is longer than 255 bytes.
    NameTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// A create request's receiver name is empty.
    EmptyReceiver,
    /// The receiver name is longer than 255 bytes.
    ReceiverTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// A create request's message is empty.
    EmptyMessage,
    /// The message is longer than 65535 bytes.
    MessageTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// A response with more than 255 items.
    TooManyItems {
        /// The number of items given.
        count: usize,
    },
    /// A response item's sender name is empty.
    EmptySender,
    /// A response item's sender name is longer than 255 bytes.
    SenderTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// A response item's text is empty.
    EmptyText,
    /// A response item's text is longer than 65535 bytes.
    TextTooLong {
        /// Its length in bytes.
        len: usize,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EncodeError::EmptyName => f.write_str("the user name must not be empty"),
            EncodeError::NameTooLong { len } => {
                write!(
                    f,
                    "the user name is {len} bytes long; at most 255 bytes fit"
                )
            }
            EncodeError::EmptyReceiver => f.write_str("the receiver name must not be empty"),
            EncodeError::ReceiverTooLong { len } => {
                write!(
                    f,
                    "the receiver name is {len} bytes long; at most 255 bytes fit"
                )
            }
            EncodeError::EmptyMessage => f.write_str("the message must not be empty"),
            EncodeError::MessageTooLong { len } => {
                write!(
                    f,
                    "the message is {len} bytes long; at most 65535 bytes fit"
                )
            }
            EncodeError::TooManyItems { count } => write!(
                f,
                "a response carries at most 255 messages, but {count} were given"
            ),
            EncodeError::EmptySender => f.write_str("a message's sender name must not be empty"),
            EncodeError::SenderTooLong { len } => write!(
                f,
                "a message's sender name is {len} bytes long; at most 255 bytes fit"
            ),
            EncodeError::EmptyText => f.write_str("a message's text must not be empty"),
            EncodeError::TextTooLong { len } => write!(
                f,
                "a message's text is {len} bytes long; at most 65535 bytes fit"
            ),
        }
    }
}

impl std::error::Error for EncodeError {}
