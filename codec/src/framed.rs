//! Length-prefixed frames of assignment 003, and a reassembly buffer for them.
//!
//! # Byte layout
//!
//! | offset | bytes | content |
//! | --- | --- | --- |
//! | 0 | 4 | payload length `n`, unsigned, big-endian (network byte order) |
//! | 4 | n | payload (any bytes; the assignment sends UTF-8 text) |
//!
//! # Guarantees
//!
//! - [`Frame::decode`] never panics, never allocates, and borrows the payload from its input.
//!   The declared length is checked against the caller's maximum as soon as the 4 header
//!   bytes are in: [`DecodeError::TooLarge`] comes before any byte of payload is awaited.
//!   A cut-off frame is [`DecodeError::Incomplete`] at every prefix length.
//! - [`FrameBuffer`] copies pushed bytes once into its own buffer and hands out each complete
//!   payload as a borrow of that buffer. It grows only by the bytes actually pushed, never by
//!   a declared length, so a header announcing 4 GiB followed by a close costs nothing. The
//!   space of returned frames is reused: at once when everything was returned, else by moving
//!   the unreturned tail to the front once the returned prefix is at least 64 KiB and at least
//!   as long as the tail (so a byte is moved at most once more, on average, and memory stays
//!   within about twice the bytes not yet returned plus 64 KiB).
//!
//! # The reply rule
//!
//! The server answers each frame with the payload decoded as UTF-8 minus its first
//! [`DROPPED_CHARS`] characters (characters, not bytes; 10 or fewer characters give an
//! empty frame): see [`expected_reply`].

use crate::{DecodeError, wire};

/// Field offsets.
mod field {
    use core::ops::Range;
    /// The big-endian payload length.
    pub const LENGTH: Range<usize> = 0..4;
    /// Where the payload starts.
    pub const PAYLOAD: usize = LENGTH.end;
}

/// Length of the frame header (the big-endian u32 length).
pub const HEADER_LEN: usize = field::PAYLOAD;

/// How many characters the server drops from the front of each payload.
pub const DROPPED_CHARS: usize = 10;

/// One frame; the payload borrows from the decoded input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Frame<'a> {
    /// The payload bytes.
    pub payload: &'a [u8],
}

impl<'a> Frame<'a> {
    /// Decodes one frame whose payload is at most `max` bytes; returns the bytes after it.
    ///
    /// [`DecodeError::TooLarge`] as soon as the 4 header bytes are in and declare more than
    /// `max`; [`DecodeError::Incomplete`] (with the exact number of missing bytes) otherwise
    /// while the frame is cut off.
    #[inline]
    pub fn decode(input: &'a [u8], max: u32) -> Result<(&'a [u8], Frame<'a>), DecodeError> {
        let (body, len) = wire::be_u32(input)?;
        if len > max {
            return Err(DecodeError::TooLarge { len, max });
        }
        // A u32 that does not fit usize (16-bit targets) cannot be present in memory either.
        let want = usize::try_from(len).unwrap_or(usize::MAX);
        let (rest, payload) = wire::take(body, want)?;
        Ok((rest, Frame { payload }))
    }

    /// Appends the header and the payload.
    ///
    /// # Panics
    ///
    /// If the payload is longer than `u32::MAX` bytes: such a frame does not exist on the
    /// wire, so building one is a bug in the caller (no decoded frame can be that long).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let len = u32::try_from(self.payload.len())
            .expect("a frame payload longer than u32::MAX bytes cannot be encoded");
        out.reserve(HEADER_LEN + self.payload.len());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(self.payload);
    }
}

/// Consumed bytes at the front of a [`FrameBuffer`] are given back (the live tail moved to
/// the front) only once they are at least this many and at least as many as the live bytes,
/// so that each byte is moved at most about once on average.
const COMPACT_MIN: usize = 64 * 1024;

/// Reassembly buffer: push bytes in any pieces, take every complete frame as a slice.
///
/// Bytes are copied once, on [`push`](FrameBuffer::push); [`next_frame`](FrameBuffer::next_frame)
/// returns a borrow of the buffer and only advances a read cursor. The buffer's size follows
/// the bytes pushed, never a declared length (see the module doc for how space is reused).
#[derive(Debug, Clone, Default)]
pub struct FrameBuffer {
    buf: Vec<u8>,
    /// Index of the first byte not yet returned.
    start: usize,
    max: u32,
}

impl FrameBuffer {
    /// An empty buffer that accepts payloads of at most `max` bytes.
    pub fn new(max: u32) -> FrameBuffer {
        FrameBuffer {
            buf: Vec::new(),
            start: 0,
            max,
        }
    }

    /// The largest payload this buffer accepts.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Appends bytes as they arrived (any piece: part of a header, several frames...).
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start == self.buf.len() {
            // Everything was returned: start over without moving anything.
            self.buf.clear();
            self.start = 0;
        } else if self.start >= COMPACT_MIN && self.start >= self.buffered() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame's payload, borrowed from the buffer; `Ok(None)` when more
    /// bytes are needed. `Err(TooLarge)` when the next header declares more than the maximum;
    /// the stream cannot be resynchronised then, and every later call returns the same error.
    #[inline]
    pub fn next_frame(&mut self) -> Result<Option<&[u8]>, DecodeError> {
        // `start <= buf.len()` always holds; a branch out (not a clamp to an empty slice)
        // keeps the hot loop as short as the hand-written reassembly's.
        let Some(live) = self.buf.get(self.start..) else {
            return Ok(None);
        };
        // Fast path: a whole frame within the limit is already here (nearly every call when
        // frames are small). Same result as `Frame::decode`, without building its error.
        if let Some((header, body)) = live.split_first_chunk::<HEADER_LEN>() {
            let len = u32::from_be_bytes(*header);
            if len <= self.max {
                let want = usize::try_from(len).unwrap_or(usize::MAX);
                if let Some((payload, rest)) = body.split_at_checked(want) {
                    // `rest` is the tail of `buf`, so this cannot underflow.
                    self.start = self.buf.len() - rest.len();
                    return Ok(Some(payload));
                }
            }
        }
        match Frame::decode(live, self.max) {
            Ok((rest, frame)) => {
                // `rest` is the tail of `buf` after this frame.
                self.start = self.buf.len().saturating_sub(rest.len());
                Ok(Some(frame.payload))
            }
            Err(e) if e.is_incomplete() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Bytes held and not yet returned as part of a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len().saturating_sub(self.start)
    }

    /// The bytes held and not yet returned (e.g. to report a cut-off frame).
    pub fn pending(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    /// Forgets every buffered byte (keeps the allocation).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.start = 0;
    }
}

/// The assignment's reply rule: the payload decoded as UTF-8 without its first 10 characters
/// (an empty slice when it has 10 or fewer). `None` when the payload is not valid UTF-8.
pub fn expected_reply(payload: &[u8]) -> Option<&[u8]> {
    let text = core::str::from_utf8(payload).ok()?;
    let cut = text
        .char_indices()
        .nth(DROPPED_CHARS)
        .map_or(text.len(), |(i, _)| i);
    text.as_bytes().get(cut..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_large_comes_with_the_header_before_any_payload() {
        assert_eq!(
            Frame::decode(&[0, 0, 1, 0], 255),
            Err(DecodeError::TooLarge { len: 256, max: 255 })
        );
        assert_eq!(
            Frame::decode(&[0, 0, 1], 255),
            Err(DecodeError::Incomplete { needed: 1 })
        );
    }

    #[test]
    fn encode_appends_header_and_payload() {
        let mut out = vec![0xEE];
        Frame { payload: b"abc" }.encode(&mut out);
        assert_eq!(out, [0xEE, 0, 0, 0, 3, b'a', b'b', b'c']);
    }

    #[test]
    fn buffer_stays_bounded_when_every_read_ends_inside_a_frame() {
        // Each push completes one frame and starts the next: the buffer never empties, so
        // only compaction keeps it from growing with the total stream.
        let payload = vec![1u8; 10_000];
        let mut frame = Vec::new();
        Frame { payload: &payload }.encode(&mut frame);
        let (head, tail) = frame.split_at(7);
        let mut fb = FrameBuffer::new(1 << 20);
        fb.push(head);
        for _ in 0..2_000 {
            fb.push(tail);
            fb.push(head);
            assert_eq!(
                fb.next_frame().map(|p| p.map(<[u8]>::len)),
                Ok(Some(10_000))
            );
            assert_eq!(fb.next_frame(), Ok(None));
        }
        assert_eq!(fb.buffered(), head.len());
        // 20 MB went through; the buffer holds at most about twice the compaction threshold.
        assert!(
            fb.buf.capacity() < 4 * COMPACT_MIN,
            "capacity {}",
            fb.buf.capacity()
        );
    }

    #[test]
    fn reply_drops_characters_not_bytes() {
        assert_eq!(
            expected_reply("ééééééééééxyz".as_bytes()),
            Some(&b"xyz"[..])
        );
        assert_eq!(expected_reply(b"short"), Some(&b""[..]));
        assert_eq!(expected_reply(&[0xC3]), None);
    }
}
