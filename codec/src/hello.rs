//! The HELLO handshake of assignment 001: ASCII `HELLO <decimal>`, optionally terminated.
//!
//! # Byte layout
//!
//! | offset | bytes | content |
//! | --- | --- | --- |
//! | 0 | 5 | `HELLO` (ASCII, case-sensitive) |
//! | 5 | 1 | one space (0x20) |
//! | 6 | 1.. | optional `-`, then one or more decimal digits `0-9` (an `i64`) |
//! | after | 0.. | terminator: nothing, `\n`, `\r\n`, `\0`, `\n\0`, or n >= 2 NUL bytes |
//!
//! # Readings of a loose text
//!
//! - A leading `-` is accepted (negative numbers). A leading `+` is not (it is [`NoDigits`]):
//!   the assignment never sends one and the suite does not test it.
//! - Leading zeros are accepted (`HELLO 007` is 7), as C's `atoi`/`strtol` and Python's `int`
//!   accept them; `-0` is 0. The encoder writes canonical decimal (no `+`, no leading zero,
//!   `-` only for negative values), so a [`Hello`] remembers its value and terminator only.
//!   Canonical input therefore re-encodes to the same bytes; non-canonical input re-encodes to
//!   bytes that decode to the same value.
//! - [`Hello::decode_exact`] takes a buffer holding exactly one message (what one `read`
//!   returned, which is how nearly every student program works): the terminator is optional
//!   and is remembered, so the message encodes back as it came.
//! - [`Hello::decode_lenient`] is the suite's reader of a reply or a printed line: any mix of
//!   trailing whitespace and NUL bytes is dropped, then exactly `HELLO <decimal>` must remain.
//! - [`Hello::decode`] is for a stream: it needs a terminator (`\n`, `\r\n`, `\0`, `\n\0`).
//!   A `\n` is taken as [`Terminator::Lf`] at once, or as [`Terminator::LfNul`] when the `\0`
//!   is already there (a line reader cannot wait for a NUL that may never come). NUL padding
//!   decodes as [`Terminator::Nul`] with the other NUL bytes left in `rest`.
//!
//! # Guarantees
//!
//! Decoding never panics and never allocates. Input that is a proper prefix of a valid
//! message is [`DecodeError::Incomplete`], never a malformation (for `decode_exact` this
//! concerns the bytes before the first digit and a lone `\r` after it, since a number
//! without terminator is complete there). Malformations are reported as soon as a prefix
//! proves them: `HELLX` is [`BadKeyword`] without waiting for more. A number that does not
//! fit an `i64` is [`Overflow`] as soon as its digits prove it.
//!
//! [`NoDigits`]: DecodeError::NoDigits
//! [`BadKeyword`]: DecodeError::BadKeyword
//! [`Overflow`]: DecodeError::Overflow

use crate::{DecodeError, wire};

/// Field offsets of the fixed part of the message.
mod field {
    use core::ops::Range;
    /// The keyword.
    pub const KEYWORD: Range<usize> = 0..5;
    /// The single space after it.
    pub const SPACE: usize = 5;
    /// Where the (optionally signed) number starts.
    pub const NUMBER: usize = 6;
}

/// The keyword every message starts with.
pub const KEYWORD: &[u8] = b"HELLO";

const _: () = assert!(field::KEYWORD.end == KEYWORD.len() && field::SPACE == field::KEYWORD.end);
const _: () = assert!(field::NUMBER == field::SPACE + 1);

/// The shortest complete message, `HELLO 0`, in bytes.
pub const MIN_LEN: usize = field::NUMBER + 1;

/// The largest NUL padding [`Terminator::NulPad`] can remember; more NUL bytes after the
/// number are [`DecodeError::TrailingJunk`] for [`Hello::decode_exact`].
pub const MAX_NUL_PAD: usize = 65_535;

/// How a message ended on the wire, remembered so that it encodes back as it came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Terminator {
    /// Nothing after the number (the bare form).
    #[default]
    None,
    /// `\n`.
    Lf,
    /// `\r\n`.
    CrLf,
    /// One `\0` (a C string sent with its terminator).
    Nul,
    /// `\n\0`.
    LfNul,
    /// n >= 2 NUL bytes (a C program sending its whole buffer). `NulPad(0)` and `NulPad(1)`
    /// never come out of a decoder; they encode as 0 and 1 NUL bytes.
    NulPad(u16),
}

impl Terminator {
    /// Appends the terminator's bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            Terminator::None => {}
            Terminator::Lf => out.push(b'\n'),
            Terminator::CrLf => out.extend_from_slice(b"\r\n"),
            Terminator::Nul => out.push(0),
            Terminator::LfNul => out.extend_from_slice(b"\n\0"),
            Terminator::NulPad(n) => out.resize(out.len() + usize::from(n), 0),
        }
    }
}

/// One HELLO message: its number and how it was terminated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hello {
    /// The number after `HELLO `.
    pub seq: i64,
    /// How the message ended.
    pub terminator: Terminator,
}

/// Where the number ends: the index after its last digit, and its value.
struct Number {
    end: usize,
    seq: i64,
}

/// Why `input` does not start with `HELLO `: a bad keyword, a missing space, or too few bytes.
#[cold]
fn keyword_and_space(input: &[u8], tail: usize) -> Result<(), DecodeError> {
    let after_kw = match wire::tag(input, KEYWORD) {
        Ok(Some(rest)) => rest,
        Ok(None) => return Err(DecodeError::BadKeyword),
        Err(_) => return Err(wire::missing(MIN_LEN + tail, input.len())),
    };
    match after_kw.first() {
        None => Err(wire::missing(MIN_LEN + tail, input.len())),
        Some(b' ') => Ok(()),
        Some(_) => Err(DecodeError::MissingSpace),
    }
}

/// Parses `HELLO -?[0-9]+` and stops at the first non-digit. `Incomplete` when the input
/// ends before the first digit; `stream` adds the terminator byte a stream message needs to
/// the `needed` count.
#[inline]
fn number(input: &[u8], stream: bool) -> Result<Number, DecodeError> {
    // In stream mode the shortest completion also needs one terminator byte.
    let tail = usize::from(stream);
    // Nearly every message starts right: one 6-byte compare, no nom call.
    if !input.starts_with(b"HELLO ") {
        keyword_and_space(input, tail)?;
    }
    let mut i = field::NUMBER;
    let negative = input.get(i) == Some(&b'-');
    if negative {
        i += 1;
    }
    let first_digit = i;
    // Accumulate towards the sign so that i64::MIN fits.
    let mut seq: i64 = 0;
    while let Some(&b) = input.get(i) {
        if !b.is_ascii_digit() {
            break;
        }
        let d = i64::from(b - b'0');
        seq = seq
            .checked_mul(10)
            .and_then(|v| {
                if negative {
                    v.checked_sub(d)
                } else {
                    v.checked_add(d)
                }
            })
            .ok_or(DecodeError::Overflow)?;
        i += 1;
    }
    if i == first_digit {
        return match input.get(i) {
            None => Err(wire::missing(i + 1 + tail, input.len())),
            Some(_) => Err(DecodeError::NoDigits),
        };
    }
    Ok(Number { end: i, seq })
}

impl Hello {
    /// The bare form: `HELLO <seq>` with no terminator.
    pub fn new(seq: i64) -> Hello {
        Hello {
            seq,
            terminator: Terminator::None,
        }
    }

    /// Decodes a buffer holding exactly one message (what one read returned): the terminator
    /// is optional and every byte must belong to the message.
    ///
    /// `Incomplete` when the buffer ends before the first digit (or in a `\r` that a `\n`
    /// would complete); `TrailingJunk` for anything after the number that is no accepted
    /// terminator (including more than [`MAX_NUL_PAD`] NUL bytes).
    #[inline]
    pub fn decode_exact(input: &[u8]) -> Result<Hello, DecodeError> {
        let Number { end, seq } = number(input, false)?;
        let tail = input.get(end..).unwrap_or_default();
        let terminator = match tail {
            [] => Terminator::None,
            [b'\n'] => Terminator::Lf,
            [b'\r', b'\n'] => Terminator::CrLf,
            [b'\r'] => return Err(DecodeError::Incomplete { needed: 1 }),
            [0] => Terminator::Nul,
            [b'\n', 0] => Terminator::LfNul,
            pad if pad.iter().all(|&b| b == 0) => {
                Terminator::NulPad(u16::try_from(pad.len()).map_err(|_| DecodeError::TrailingJunk)?)
            }
            _ => return Err(DecodeError::TrailingJunk),
        };
        Ok(Hello { seq, terminator })
    }

    /// Decodes a buffer holding one message as a lenient line reader does: trailing ASCII
    /// whitespace and NUL bytes (any mix, any number) are dropped first, then what is left
    /// must be exactly `HELLO <decimal>`. The terminator is not remembered (the result is the
    /// bare form). This is how the suite reads a reply or a printed line: it accepts every
    /// terminator of the layout table and also what a sloppy sender adds (`HELLO 6 \n`).
    ///
    /// `Incomplete` when nothing but whitespace and NUL is there, or the bytes end before
    /// the first digit.
    #[inline]
    pub fn decode_lenient(input: &[u8]) -> Result<Hello, DecodeError> {
        let end = input
            .iter()
            .rposition(|&b| b != 0 && !b.is_ascii_whitespace())
            .map_or(0, |i| i + 1);
        let body = input.get(..end).unwrap_or_default();
        let Number { end, seq } = number(body, false)?;
        if end != body.len() {
            return Err(DecodeError::TrailingJunk);
        }
        Ok(Hello::new(seq))
    }

    /// Decodes one message from a stream: it needs a terminator (`\n`, `\r\n`, `\0` or
    /// `\n\0`), and returns the bytes after it. `Incomplete` while the input could still
    /// become a valid message.
    #[inline]
    pub fn decode(input: &[u8]) -> Result<(&[u8], Hello), DecodeError> {
        let Number { end, seq } = number(input, true)?;
        let tail = input.get(end..).unwrap_or_default();
        let (terminator, len) = match tail {
            [] | [b'\r'] => return Err(DecodeError::Incomplete { needed: 1 }),
            [b'\n', 0, ..] => (Terminator::LfNul, 2),
            [b'\n', ..] => (Terminator::Lf, 1),
            [b'\r', b'\n', ..] => (Terminator::CrLf, 2),
            [0, ..] => (Terminator::Nul, 1),
            _ => return Err(DecodeError::TrailingJunk),
        };
        let rest = tail.get(len..).unwrap_or_default();
        Ok((rest, Hello { seq, terminator }))
    }

    /// Appends `HELLO <seq>` in canonical decimal, then the terminator.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"HELLO ");
        // i64::MIN has 19 digits plus the sign.
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut n = self.seq.unsigned_abs();
        loop {
            i -= 1;
            // n % 10 < 10, so the narrowing cannot lose anything.
            digits[i] = b'0' + u8::try_from(n % 10).unwrap_or(0);
            n /= 10;
            if n == 0 {
                break;
            }
        }
        if self.seq < 0 {
            i -= 1;
            digits[i] = b'-';
        }
        out.extend_from_slice(&digits[i..]);
        self.terminator.encode(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_into_a_buffer_without_touching_what_was_there() {
        let mut out = vec![0xEE; 3];
        Hello {
            seq: -120,
            terminator: Terminator::CrLf,
        }
        .encode(&mut out);
        assert_eq!(out, b"\xEE\xEE\xEEHELLO -120\r\n");
    }

    #[test]
    fn encodes_the_extremes() {
        for (seq, text) in [
            (i64::MIN, "-9223372036854775808"),
            (i64::MAX, "9223372036854775807"),
            (0, "0"),
        ] {
            let mut out = Vec::new();
            Hello::new(seq).encode(&mut out);
            assert_eq!(out, format!("HELLO {text}").as_bytes());
        }
    }

    #[test]
    fn rejects_overflow_as_soon_as_the_digits_prove_it() {
        // Still cut off (no terminator), yet no further byte can make it fit.
        assert_eq!(
            Hello::decode(b"HELLO 92233720368547758070"),
            Err(DecodeError::Overflow)
        );
    }

    #[test]
    fn reports_a_wrong_keyword_before_the_keyword_is_complete() {
        assert_eq!(Hello::decode_exact(b"HX"), Err(DecodeError::BadKeyword));
        assert_eq!(
            Hello::decode_exact(b"HE"),
            Err(DecodeError::Incomplete { needed: 5 })
        );
    }

    #[test]
    fn stream_leaves_nul_padding_for_the_next_read() {
        let (rest, h) = Hello::decode(b"HELLO 3\0\0\0").expect("decodes");
        assert_eq!(
            (rest, h),
            (
                &b"\0\0"[..],
                Hello {
                    seq: 3,
                    terminator: Terminator::Nul
                }
            )
        );
    }
}
