//! The wire side of the framed suite: the payloads it sends, the frames they make, the reply a
//! conforming server gives, and reading one frame from a subject as data ([`BadFrame`] says
//! what was wrong with it, so hints are chosen from what arrived, never from a sentence).

use std::time::Duration;

use codec::framed::{DROPPED_CHARS, Frame, HEADER_LEN, expected_reply};

use crate::driver::{End, Peer, describe_bytes};
use crate::suites::common::describe_end;
use crate::timing::REPLY_SILENCE;

/// The course's own sizes.
pub(super) const SMALL: usize = 32;
pub(super) const MEDIUM: usize = 1245;
pub(super) const LARGE: usize = 650_000;
pub(super) const SERIES: usize = 1500;

/// Ten 2-byte characters, then 3- and 4-byte ones: 10 characters are 20 bytes here.
pub(super) const MULTIBYTE: &str = "ÄÖÜäöüßéèê€🎉 and the rest of the message";

/// The seed's own example: `[30][Four score and seven years ago]` -> `[20][ and seven years ago]`.
pub(super) const SEED_EXAMPLE: &[u8] = b"Four score and seven years ago";

/// `len` bytes of readable ASCII text: the seed's "Four score" (the 10 characters dropped),
/// then `tag`, then the running offset every few bytes, so that a reply with a chunk lost,
/// repeated or moved differs from the right one, and the replies of different tags differ.
pub(super) fn text(tag: &str, len: usize) -> Vec<u8> {
    let mut v = format!("Four score and seven years ago, {tag}:").into_bytes();
    while v.len() < len {
        let word = format!(" {}", v.len());
        v.extend_from_slice(word.as_bytes());
    }
    v.truncate(len);
    v
}

/// The frame carrying `payload`.
pub(super) fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    Frame { payload }.encode(&mut out);
    out
}

/// The right reply to `sent` (the suite only asks this of UTF-8 payloads; for others the
/// first 10 bytes, as the reference does).
pub(super) fn reply_of(sent: &[u8]) -> &[u8] {
    expected_reply(sent).unwrap_or_else(|| {
        sent.get(DROPPED_CHARS.min(sent.len())..)
            .unwrap_or_default()
    })
}

/// A payload for a student: quoted (cut after 120 bytes), or "empty".
pub(super) fn describe_payload(p: &[u8]) -> String {
    if p.is_empty() {
        "empty".to_owned()
    } else {
        describe_bytes(p)
    }
}

/// The header's length, when exactly the 4 header bytes are given.
pub(super) fn header_len(head: &[u8]) -> Option<usize> {
    let bytes: [u8; HEADER_LEN] = head.try_into().ok()?;
    usize::try_from(u32::from_be_bytes(bytes)).ok()
}

/// Whether `got` is `want`'s length with its bytes swapped (host order instead of network).
pub fn swapped(got: usize, want: usize) -> bool {
    match u32::try_from(want) {
        Ok(w) => w.swap_bytes() != w && usize::try_from(w.swap_bytes()).ok() == Some(got),
        Err(_) => false,
    }
}

/// The first byte offset where `a` and `b` differ.
pub(super) fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()))
}

/// What was wrong with one frame read by the suite (a reply, or a client's frame), as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameFault {
    /// Fewer than the 4 header bytes came (`got` of them) before the receive ended.
    NoHeader {
        /// Header bytes that arrived.
        got: usize,
        /// How the receive ended.
        end: End,
    },
    /// The header declared `declared` bytes where `want` were right.
    WrongLength {
        /// The declared length.
        declared: usize,
        /// The right length.
        want: usize,
    },
    /// The header was right, but only `got` of its `declared` payload bytes came.
    ShortPayload {
        /// The declared (and right) length.
        declared: usize,
        /// Payload bytes that arrived.
        got: usize,
        /// How the receive ended.
        end: End,
    },
}

/// One bad frame: the fault as data, and what arrived in words.
pub(super) struct BadFrame {
    pub fault: FrameFault,
    pub actual: String,
}

/// Reads one frame whose payload should be `want`, from a server (`who` = "server") or a
/// client ("client"). Only lengths up to `want`'s are ever awaited: a wrong header is
/// reported as it is, without waiting for a payload of its declared size.
pub(super) fn read_frame(
    peer: &mut Peer,
    want: &[u8],
    timeout: Duration,
    who: &str,
) -> Result<Vec<u8>, BadFrame> {
    let head = peer.recv_exact(HEADER_LEN, timeout);
    let Some(len) = header_len(&head.bytes) else {
        let actual = if head.bytes.is_empty() {
            match head.end {
                End::Closed => format!("the {who} closed the connection without a frame"),
                End::Reset => format!("the {who} reset the connection without a frame"),
                _ => format!("nothing within {timeout:?}"),
            }
        } else {
            format!(
                "only {} ({} of the 4 length bytes){}",
                describe_bytes(&head.bytes),
                head.bytes.len(),
                describe_end(head.end, who)
            )
        };
        return Err(BadFrame {
            fault: FrameFault::NoHeader {
                got: head.bytes.len(),
                end: head.end,
            },
            actual,
        });
    };
    if len != want.len() {
        // Show what follows, without waiting for a length that may be absurd.
        let more = peer.recv_until_silence(REPLY_SILENCE, REPLY_SILENCE);
        let actual = format!(
            "a frame declaring {len} bytes (length bytes {}), followed by {}{}",
            describe_bytes(&head.bytes),
            describe_bytes(&more.bytes),
            describe_end(more.end, who)
        );
        return Err(BadFrame {
            fault: FrameFault::WrongLength {
                declared: len,
                want: want.len(),
            },
            actual,
        });
    }
    if len == 0 {
        // Nothing to await (a receive of 0 bytes would wait for its deadline).
        return Ok(Vec::new());
    }
    let body = peer.recv_exact(len, timeout);
    if body.bytes.len() < len {
        return Err(BadFrame {
            fault: FrameFault::ShortPayload {
                declared: len,
                got: body.bytes.len(),
                end: body.end,
            },
            actual: format!(
                "a frame declaring {len} bytes, but only {} of them arrived{}: {}",
                body.bytes.len(),
                describe_end(body.end, who),
                describe_payload(&body.bytes)
            ),
        });
    }
    Ok(body.bytes)
}
