//! Per-target checks shared by the cargo-fuzz targets (`fuzz/`) and the stable corpus replay
//! test (`codec/tests/fuzz_corpus.rs`), so that a fuzz finding committed under
//! `fuzz/corpus/<target>/` or `fuzz/artifacts/<target>/` is a regression test.
//!
//! Not a stable API. Each function panics when a property fails (that is how a fuzzer
//! reports a finding) and never otherwise. The properties, for every input:
//!
//! - no decoder panics;
//! - whatever decodes re-encodes to bytes that decode to the same value, and for canonical
//!   input (every framed and messages record; a HELLO whose number has no leading zero and
//!   is not `-0`) to exactly the bytes consumed;
//! - every proper prefix of what a streaming decoder consumed is `Incomplete` (hello `\n\0`:
//!   the prefix ending in `\n` may decode as `\n`-terminated, with the same number);
//! - header decoders agree with whole-record decoders on header-level errors;
//! - `FrameBuffer` fed in pieces yields the frames `Frame::decode` finds in one go.

use crate::DecodeError;
use crate::framed::{self, Frame, FrameBuffer};
use crate::hello::{Hello, Terminator};
use crate::messages::{
    Item, ItemHeader, Request, RequestHeader, RequestKind, Response, ResponseHeader,
};

/// The fuzz target names, as folders under `fuzz/corpus/`.
pub const TARGETS: &[&str] = &[
    "hello",
    "framed_stream",
    "messages_request",
    "messages_response",
];

/// Runs the check of the target called `name`; false when there is no such target.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "hello" => hello(data),
        "framed_stream" => framed_stream(data),
        "messages_request" => messages_request(data),
        "messages_response" => messages_response(data),
        _ => return false,
    }
    true
}

/// Proper prefix lengths worth trying: all of them for short inputs, an even spread of 4096
/// for long ones (a 65 KiB record would otherwise cost 65536 decodes).
fn prefix_lengths(len: usize) -> impl Iterator<Item = usize> {
    let step = (len / 4096).max(1);
    (0..len).step_by(step)
}

fn assert_incomplete<T: core::fmt::Debug>(r: Result<T, DecodeError>, what: &str, at: usize) {
    match r {
        Err(DecodeError::Incomplete { needed }) => {
            assert!(needed >= 1, "{what}: needed 0 at prefix {at}")
        }
        other => panic!("{what}: proper prefix of {at} bytes gave {other:?}, not Incomplete"),
    }
}

/// The front of `input` that a decoder consumed, given the `rest` it returned.
fn consumed<'a>(input: &'a [u8], rest: &[u8]) -> &'a [u8] {
    let used = input
        .len()
        .checked_sub(rest.len())
        .expect("rest longer than the input");
    &input[..used]
}

/// Bytes a terminator occupies.
fn terminator_len(t: Terminator) -> usize {
    let mut v = Vec::new();
    t.encode(&mut v);
    v.len()
}

/// `hello` target: both entry points.
pub fn hello(data: &[u8]) {
    let exact = Hello::decode_exact(data);
    let stream = Hello::decode(data);

    if let Ok(h) = exact {
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(
            Hello::decode_exact(&out),
            Ok(h),
            "decode_exact(encode(v)) != v"
        );
        let number_end = data.len().checked_sub(terminator_len(h.terminator));
        let number = number_end
            .and_then(|end| data.get(6..end))
            .expect("decoded HELLO too short");
        let mut canonical = Vec::new();
        Hello::new(h.seq).encode(&mut canonical);
        if canonical.get(6..) == Some(number) {
            assert_eq!(
                out, data,
                "canonical HELLO does not re-encode to the same bytes"
            );
        }
    }

    // Errors found before the number ends do not depend on the entry point.
    if let Err(
        e @ (DecodeError::BadKeyword
        | DecodeError::MissingSpace
        | DecodeError::NoDigits
        | DecodeError::Overflow),
    ) = exact
    {
        assert_eq!(
            stream.map(|(_, h)| h),
            Err(e),
            "decode and decode_exact disagree"
        );
    }

    if let Ok((rest, h)) = stream {
        assert!(matches!(
            h.terminator,
            Terminator::Lf | Terminator::CrLf | Terminator::Nul | Terminator::LfNul
        ));
        let consumed = consumed(data, rest);
        // Where both apply they agree: the consumed bytes are one whole message.
        assert_eq!(
            Hello::decode_exact(consumed),
            Ok(h),
            "decode_exact disagrees with decode"
        );
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(
            Hello::decode(&out),
            Ok((&[][..], h)),
            "decode(encode(v)) != v"
        );
        if consumed.len() <= 64 {
            for at in prefix_lengths(consumed.len()) {
                let prefix = &consumed[..at];
                match Hello::decode(prefix) {
                    Ok((r, p)) if h.terminator == Terminator::LfNul && at + 1 == consumed.len() => {
                        assert!(
                            r.is_empty()
                                && p == Hello {
                                    seq: h.seq,
                                    terminator: Terminator::Lf
                                }
                        );
                    }
                    r => assert_incomplete(r, "hello", at),
                }
            }
        }
    }
}

/// `framed_stream` target: byte 0 picks the maximum payload, byte 1 the piece size for
/// `FrameBuffer`; the rest is a stream of frames.
pub fn framed_stream(data: &[u8]) {
    let [sel, piece, stream @ ..] = data else {
        return;
    };
    const MAXES: [u32; 8] = [0, 1, 10, 16, 255, 4096, 65536, u32::MAX];
    let max = MAXES[usize::from(sel % 8)];
    let piece = usize::from(*piece).max(1);

    // In one go.
    let mut frames: Vec<&[u8]> = Vec::new();
    let mut input = stream;
    let end = loop {
        match Frame::decode(input, max) {
            Ok((rest, f)) => {
                assert!(
                    u32::try_from(f.payload.len()).is_ok_and(|n| n <= max),
                    "payload over the maximum"
                );
                frames.push(f.payload);
                input = rest;
            }
            Err(e) => break e,
        }
    };
    assert!(
        end.is_incomplete()
            || matches!(end, DecodeError::TooLarge { len, max: m } if len > m && m == max)
    );
    let consumed = consumed(stream, input);

    // Canonical: the frames re-encode to exactly the consumed bytes.
    let mut out = Vec::new();
    for f in &frames {
        Frame { payload: f }.encode(&mut out);
        if let Some(reply) = framed::expected_reply(f) {
            let chars = |b: &[u8]| {
                core::str::from_utf8(b)
                    .expect("reply of UTF-8 is UTF-8")
                    .chars()
                    .count()
            };
            assert!(f.ends_with(reply), "reply is not a tail of the payload");
            assert_eq!(chars(reply), chars(f).saturating_sub(framed::DROPPED_CHARS));
        } else {
            assert!(
                core::str::from_utf8(f).is_err(),
                "UTF-8 payload got no reply"
            );
        }
    }
    assert_eq!(out, consumed, "frames do not re-encode to the same bytes");

    // Every proper prefix of the first frame is Incomplete (TooLarge only with a full header).
    if let Some(first) = frames.first() {
        for at in prefix_lengths(framed::HEADER_LEN + first.len()) {
            assert_incomplete(Frame::decode(&stream[..at], max), "frame", at);
        }
    }

    // In pieces, through the reassembly buffer.
    let mut fb = FrameBuffer::new(max);
    let mut got: Vec<Vec<u8>> = Vec::new();
    let mut fb_err = None;
    'feed: for chunk in stream.chunks(piece) {
        fb.push(chunk);
        loop {
            match fb.next_frame() {
                Ok(Some(p)) => got.push(p.to_vec()),
                Ok(None) => break,
                Err(e) => {
                    assert_eq!(fb.next_frame(), Err(e), "TooLarge is not sticky");
                    fb_err = Some(e);
                    break 'feed;
                }
            }
        }
    }
    assert_eq!(got, frames, "FrameBuffer and Frame::decode disagree");
    match fb_err {
        Some(e) => assert_eq!(e, end),
        None => {
            assert!(end.is_incomplete(), "FrameBuffer missed {end:?}");
            assert_eq!(fb.buffered(), input.len());
            assert_eq!(fb.pending(), input);
        }
    }
}

/// `messages_request` target.
pub fn messages_request(data: &[u8]) {
    let whole = Request::decode(data);
    let header = RequestHeader::decode(data);
    match (&whole, &header) {
        (Ok((_, r)), Ok((_, h))) => assert_eq!(r.header(), *h),
        (Err(e), Err(h)) if !e.is_incomplete() => assert_eq!(e, h, "header-level error differs"),
        (Err(e), Ok((body, h))) => {
            assert!(e.is_incomplete(), "body error {e:?} after a valid header");
            assert!(body.len() < h.body_len());
        }
        (Err(_), Err(h)) => assert!(h.is_incomplete()),
        (Ok(_), Err(h)) => panic!("request decodes but its header gives {h:?}"),
    }
    if let Ok((rest, r)) = whole {
        let consumed = consumed(data, rest);
        let rebuilt = match r.kind() {
            RequestKind::Read => Request::read(r.user()),
            RequestKind::Create => Request::create(r.user(), r.receiver(), r.message()),
        };
        assert_eq!(
            rebuilt,
            Ok(r),
            "a decoded request fails its own constructor"
        );
        let mut out = Vec::new();
        r.encode(&mut out);
        assert_eq!(
            out, consumed,
            "request does not re-encode to the same bytes"
        );
        for at in prefix_lengths(consumed.len()) {
            assert_incomplete(Request::decode(&consumed[..at]), "request", at);
        }
    }
}

/// `messages_response` target.
pub fn messages_response(data: &[u8]) {
    let whole = Response::decode(data);
    let header = ResponseHeader::decode(data);
    match (&whole, &header) {
        (Ok((_, r)), Ok((_, h))) => assert_eq!(r.header(), *h),
        (Err(e), Err(h)) if !e.is_incomplete() => assert_eq!(e, h, "header-level error differs"),
        (Err(e), Ok((body, _))) => {
            // An item-level error must be the one ItemHeader finds on some item.
            if !e.is_incomplete() {
                assert!(
                    matches!(e, DecodeError::EmptySender | DecodeError::EmptyText),
                    "{e:?}"
                );
                assert!(!body.is_empty());
            }
        }
        (Err(_), Err(h)) => assert!(h.is_incomplete()),
        (Ok(_), Err(h)) => panic!("response decodes but its header gives {h:?}"),
    }
    if let Ok((rest, r)) = whole {
        let consumed = consumed(data, rest);
        let items: Vec<Item<'_>> = r.items().collect();
        assert_eq!(
            items.len(),
            usize::from(r.num_items()),
            "items() lost an item"
        );
        for it in &items {
            let mut h = Vec::new();
            let header = ItemHeader {
                sender_len: u8::try_from(it.sender.len()).expect("sender fits"),
                text_len: u16::try_from(it.text.len()).expect("text fits"),
            };
            header.encode(&mut h);
            assert_eq!(ItemHeader::decode(&h), Ok((&[][..], header)));
        }
        let mut out = Vec::new();
        r.encode(&mut out);
        assert_eq!(
            out, consumed,
            "response does not re-encode to the same bytes"
        );
        let mut again = Vec::new();
        Response::encode_items(&items, r.more(), &mut again).expect("decoded items encode");
        assert_eq!(
            again, consumed,
            "encode_items differs from the decoded bytes"
        );
        for at in prefix_lengths(consumed.len()) {
            assert_incomplete(Response::decode(&consumed[..at]), "response", at);
        }
    }
}
