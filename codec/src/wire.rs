//! The byte-level primitives every decoder is built from, with their failures already in our
//! error type, so that no nom type leaks into a public signature.
//!
//! Why most of them are plain slice code and not nom's: in nom 8.0.0 every `&[u8]` primitive
//! (`take`, `be_u16`, `be_u32`, `u8`, `tag`) ends in `<&[u8] as Input>::take_from`, which is
//! not `#[inline]`, so each field read is an out-of-line call with its own bounds check. The
//! profile of 1M requests showed that call as 28% of the time and the codec 8x slower than a
//! hand-written slice parser (`cargo bench -p codec`, `requests`). The fixed-width reads and
//! `take` below are therefore `split_first_chunk`/`split_at_checked`, which compile to one
//! length check and no call; nom keeps the one place where it costs nothing measurable and
//! says what it means: the HELLO keyword ([`tag`]).

use crate::DecodeError;

/// `Incomplete` when `want` bytes are needed and `have` are present (at least 1).
#[inline]
pub(crate) fn missing(want: usize, have: usize) -> DecodeError {
    DecodeError::Incomplete {
        needed: want.saturating_sub(have).max(1),
    }
}

/// Takes exactly `n` bytes.
#[inline]
pub(crate) fn take(input: &[u8], n: usize) -> Result<(&[u8], &[u8]), DecodeError> {
    match input.split_at_checked(n) {
        Some((taken, rest)) => Ok((rest, taken)),
        None => Err(missing(n, input.len())),
    }
}

/// `N` bytes as an array.
#[inline]
fn array<const N: usize>(input: &[u8]) -> Result<(&[u8], [u8; N]), DecodeError> {
    match input.split_first_chunk::<N>() {
        Some((bytes, rest)) => Ok((rest, *bytes)),
        None => Err(missing(N, input.len())),
    }
}

/// One byte.
#[inline]
pub(crate) fn u8(input: &[u8]) -> Result<(&[u8], u8), DecodeError> {
    array::<1>(input).map(|(rest, [b])| (rest, b))
}

/// A big-endian (network byte order) u16.
#[inline]
pub(crate) fn be_u16(input: &[u8]) -> Result<(&[u8], u16), DecodeError> {
    array(input).map(|(rest, b)| (rest, u16::from_be_bytes(b)))
}

/// A big-endian (network byte order) u32.
#[inline]
pub(crate) fn be_u32(input: &[u8]) -> Result<(&[u8], u32), DecodeError> {
    array(input).map(|(rest, b)| (rest, u32::from_be_bytes(b)))
}

/// Matches a literal with nom's streaming `tag`. `Ok(Some(rest))` on a match, `Ok(None)` on a
/// mismatch (the caller picks the malformation), `Err(Incomplete)` when the input is a proper
/// prefix of `lit`.
#[inline]
pub(crate) fn tag<'a>(
    input: &'a [u8],
    lit: &'static [u8],
) -> Result<Option<&'a [u8]>, DecodeError> {
    let r: nom::IResult<&'a [u8], &'a [u8], ()> = nom::bytes::streaming::tag(lit)(input);
    match r {
        Ok((rest, _)) => Ok(Some(rest)),
        Err(nom::Err::Incomplete(_)) => Err(missing(lit.len(), input.len())),
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_reads_say_how_many_bytes_are_missing() {
        assert_eq!(be_u32(&[1, 2]), Err(DecodeError::Incomplete { needed: 2 }));
        assert_eq!(be_u16(&[0xAE, 0x73, 9]), Ok((&[9][..], 0xAE73)));
        assert_eq!(
            take(&[1, 2, 3], 5),
            Err(DecodeError::Incomplete { needed: 2 })
        );
        assert_eq!(take(&[1, 2, 3], 2), Ok((&[3][..], &[1, 2][..])));
        assert_eq!(u8(&[]), Err(DecodeError::Incomplete { needed: 1 }));
    }

    #[test]
    fn tag_tells_a_prefix_from_a_mismatch() {
        assert_eq!(
            tag(b"HEL", b"HELLO"),
            Err(DecodeError::Incomplete { needed: 2 })
        );
        assert_eq!(tag(b"HELP", b"HELLO"), Ok(None));
        assert_eq!(tag(b"HELLO 1", b"HELLO"), Ok(Some(&b" 1"[..])));
    }
}
