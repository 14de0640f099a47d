//! The crate's only contact with nom: streaming byte-level primitives whose nom errors are
//! turned into [`DecodeError`] here, so that no nom type leaks into a public signature.
//!
//! nom's streaming `take`/`be_u16`/`be_u32`/`u8` on `&[u8]` compile to a length check and a
//! slice split; the `needed` count is computed here from the lengths rather than taken from
//! nom's `Needed`, which for some parsers is `Unknown`.

use crate::DecodeError;
use nom::number::streaming as num;

type NomResult<'a, T> = nom::IResult<&'a [u8], T, ()>;

/// Maps a streaming nom failure to our error; `short_by` is how many bytes were missing.
fn incomplete(short_by: usize) -> DecodeError {
    DecodeError::Incomplete {
        needed: short_by.max(1),
    }
}

/// Missing bytes when `want` bytes are needed and `have` are present (at least 1).
pub(crate) fn missing(want: usize, have: usize) -> DecodeError {
    incomplete(want.saturating_sub(have))
}

/// Takes exactly `n` bytes.
#[inline]
pub(crate) fn take(input: &[u8], n: usize) -> Result<(&[u8], &[u8]), DecodeError> {
    let r: NomResult<'_, &[u8]> = nom::bytes::streaming::take(n)(input);
    r.map_err(|_| missing(n, input.len()))
}

/// One byte.
#[inline]
pub(crate) fn u8(input: &[u8]) -> Result<(&[u8], u8), DecodeError> {
    let r: NomResult<'_, u8> = num::u8(input);
    r.map_err(|_| missing(1, input.len()))
}

/// A big-endian (network byte order) u16.
#[inline]
pub(crate) fn be_u16(input: &[u8]) -> Result<(&[u8], u16), DecodeError> {
    let r: NomResult<'_, u16> = num::be_u16(input);
    r.map_err(|_| missing(2, input.len()))
}

/// A big-endian (network byte order) u32.
#[inline]
pub(crate) fn be_u32(input: &[u8]) -> Result<(&[u8], u32), DecodeError> {
    let r: NomResult<'_, u32> = num::be_u32(input);
    r.map_err(|_| missing(4, input.len()))
}

/// Matches a literal. `Ok(Some(rest))` on a match, `Ok(None)` on a mismatch (the caller
/// picks the malformation), `Err(Incomplete)` when the input is a proper prefix of `lit`.
#[inline]
pub(crate) fn tag<'a>(
    input: &'a [u8],
    lit: &'static [u8],
) -> Result<Option<&'a [u8]>, DecodeError> {
    let r: NomResult<'a, &'a [u8]> = nom::bytes::streaming::tag(lit)(input);
    match r {
        Ok((rest, _)) => Ok(Some(rest)),
        Err(nom::Err::Incomplete(_)) => Err(missing(lit.len(), input.len())),
        Err(_) => Ok(None),
    }
}
