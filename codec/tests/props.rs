//! Property tests: values round-trip, arbitrary bytes never panic any decoder (and satisfy the
//! fuzz targets' checks), FrameBuffer is independent of how the stream is split, and the two
//! HELLO entry points agree.

use codec::framed::{Frame, FrameBuffer};
use codec::hello::{Hello, Terminator};
use codec::messages::{Item, ItemHeader, Request, RequestHeader, Response, ResponseHeader};
use codec::{DecodeError, EncodeError, fuzzing};
use proptest::collection::vec;
use proptest::prelude::*;

fn terminator() -> impl Strategy<Value = Terminator> {
    prop_oneof![
        Just(Terminator::None),
        Just(Terminator::Lf),
        Just(Terminator::CrLf),
        Just(Terminator::Nul),
        Just(Terminator::LfNul),
        (2u16..=600).prop_map(Terminator::NulPad),
        Just(Terminator::NulPad(u16::MAX)),
    ]
}

fn seq() -> impl Strategy<Value = i64> {
    prop_oneof![any::<i64>(), -1000i64..1000, Just(i64::MIN), Just(i64::MAX)]
}

/// Bytes that often start like a real message, so decoders get past their first check.
fn near_miss(prefix: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    (0..=prefix.len(), vec(any::<u8>(), 0..64)).prop_map(move |(n, tail)| {
        let mut v = prefix[..n].to_vec();
        v.extend(tail);
        v
    })
}

fn name(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 1..=max),
        "[a-zé日]{1,40}".prop_map(|s: String| s.into_bytes())
    ]
    .prop_filter("within the field", move |v| !v.is_empty() && v.len() <= max)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn hello_round_trips(seq in seq(), terminator in terminator()) {
        let h = Hello { seq, terminator };
        let mut out = vec![0xAA]; // encode appends: the junk byte stays in front
        h.encode(&mut out);
        prop_assert_eq!(out[0], 0xAA);
        prop_assert_eq!(Hello::decode_exact(&out[1..]), Ok(h));
        // The value's text is canonical decimal.
        let text = format!("HELLO {seq}");
        prop_assert!(out[1..].starts_with(text.as_bytes()));
    }

    #[test]
    fn hello_stream_round_trips(seq in seq(), t in prop_oneof![
        Just(Terminator::Lf), Just(Terminator::CrLf), Just(Terminator::Nul), Just(Terminator::LfNul)
    ], next in vec(any::<u8>(), 0..8)) {
        let h = Hello { seq, terminator: t };
        let mut out = Vec::new();
        h.encode(&mut out);
        let len = out.len();
        out.extend_from_slice(&next);
        let (rest, got) = Hello::decode(&out).expect("decodes");
        // `\n` followed by a NUL of the next bytes reads as `\n\0`; otherwise exact.
        if t == Terminator::Lf && next.first() == Some(&0) {
            prop_assert_eq!(got, Hello { seq, terminator: Terminator::LfNul });
        } else {
            prop_assert_eq!(got, h);
            prop_assert_eq!(rest, &out[len..]);
        }
    }

    #[test]
    fn hello_decode_exact_and_decode_agree(data in near_miss(b"HELLO -12")) {
        fuzzing::hello(&data);
        if let Ok((rest, h)) = Hello::decode(&data) {
            let consumed = &data[..data.len() - rest.len()];
            prop_assert_eq!(Hello::decode_exact(consumed), Ok(h));
            if rest.is_empty() {
                prop_assert_eq!(Hello::decode_exact(&data), Ok(h));
            }
        }
        if let Ok(h) = Hello::decode_exact(&data) {
            if !matches!(h.terminator, Terminator::None | Terminator::NulPad(_)) {
                prop_assert_eq!(Hello::decode(&data), Ok((&[][..], h)));
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in vec(any::<u8>(), 0..300)) {
        // The fuzz targets' checks include every decoder and panic only on a broken property.
        fuzzing::hello(&data);
        fuzzing::framed_stream(&data);
        fuzzing::messages_request(&data);
        fuzzing::messages_response(&data);
        let _ = ItemHeader::decode(&data);
        let _ = FrameBuffer::new(u32::MAX);
    }

    #[test]
    fn near_miss_bytes_satisfy_the_fuzz_checks(
        req in near_miss(b"\xAE\x73\x02\x03\x02\x00\x04abcdeabcd"),
        resp in near_miss(b"\xAE\x73\x03\x02\x00\x01\x00\x02abc\x02\x00\x01xyz"),
        frames in near_miss(b"\x06\x05\x00\x00\x00\x02hi\x00\x00\x00\x00\x00\x00\x00\x03abc"),
    ) {
        fuzzing::messages_request(&req);
        fuzzing::messages_response(&resp);
        fuzzing::framed_stream(&frames);
    }

    #[test]
    fn frames_round_trip_and_reassemble_at_any_split(
        payloads in vec(vec(any::<u8>(), 0..300), 0..12),
        cuts in vec(any::<prop::sample::Index>(), 0..20),
    ) {
        let mut stream = Vec::new();
        for p in &payloads {
            Frame { payload: p }.encode(&mut stream);
        }
        // One go.
        let mut input = &stream[..];
        for p in &payloads {
            let (rest, f) = Frame::decode(input, 300).expect("decodes");
            prop_assert_eq!(f.payload, &p[..]);
            input = rest;
        }
        prop_assert!(input.is_empty());
        // Pieces cut at arbitrary points.
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        points.push(0);
        points.push(stream.len());
        points.sort_unstable();
        let mut fb = FrameBuffer::new(300);
        let mut got = Vec::new();
        for w in points.windows(2) {
            fb.push(&stream[w[0]..w[1]]);
            while let Some(p) = fb.next_frame().expect("no error") {
                got.push(p.to_vec());
            }
        }
        prop_assert_eq!(got, payloads);
        prop_assert_eq!(fb.buffered(), 0);
    }

    #[test]
    fn requests_round_trip(user in name(255), receiver in name(255), message in vec(any::<u8>(), 1..2000), create: bool) {
        let r = if create {
            Request::create(&user, &receiver, &message)
        } else {
            Request::read(&user)
        }.expect("valid");
        let mut out = vec![0xAA];
        r.encode(&mut out);
        prop_assert_eq!(out[0], 0xAA);
        prop_assert_eq!(Request::decode(&out[1..]), Ok((&[][..], r)));
        prop_assert_eq!(RequestHeader::decode(&out[1..]).map(|(_, h)| h), Ok(r.header()));
    }

    #[test]
    fn responses_round_trip(
        pairs in vec((name(255), vec(any::<u8>(), 1..300)), 0..40),
        more: bool,
    ) {
        let items: Vec<Item<'_>> = pairs.iter().map(|(s, t)| Item { sender: s, text: t }).collect();
        let mut out = vec![0xAA];
        Response::encode_items(&items, more, &mut out).expect("valid");
        prop_assert_eq!(out[0], 0xAA);
        let (rest, r) = Response::decode(&out[1..]).expect("decodes");
        prop_assert!(rest.is_empty());
        prop_assert_eq!(r.more(), more);
        prop_assert_eq!(r.items().collect::<Vec<_>>(), items);
        prop_assert_eq!(ResponseHeader::decode(&out[1..]).map(|(_, h)| h), Ok(r.header()));
        let mut again = Vec::new();
        r.encode(&mut again);
        prop_assert_eq!(&again[..], &out[1..]);
    }
}

#[test]
fn largest_values_round_trip() {
    let big = vec![b'm'; 65_535];
    let name = vec![b'n'; 255];
    let r = Request::create(&name, &name, &big).expect("the wire's limits are allowed");
    let mut out = Vec::new();
    r.encode(&mut out);
    assert_eq!(Request::decode(&out), Ok((&[][..], r)));

    let items = vec![
        Item {
            sender: &name,
            text: &big
        };
        255
    ];
    let mut out = Vec::new();
    Response::encode_items(&items, true, &mut out).expect("255 items fit");
    let (_, resp) = Response::decode(&out).expect("decodes");
    assert_eq!(resp.items().count(), 255);
    assert!(resp.items().eq(items.iter().copied()));
}

#[test]
fn constructors_reject_what_the_wire_cannot_carry() {
    let long = vec![b'x'; 256];
    let huge = vec![b'x'; 65_536];
    assert_eq!(Request::read(b""), Err(EncodeError::EmptyName));
    assert_eq!(
        Request::read(&long),
        Err(EncodeError::NameTooLong { len: 256 })
    );
    assert_eq!(
        Request::create(b"a", b"", b"m"),
        Err(EncodeError::EmptyReceiver)
    );
    assert_eq!(
        Request::create(b"a", &long, b"m"),
        Err(EncodeError::ReceiverTooLong { len: 256 })
    );
    assert_eq!(
        Request::create(b"a", b"b", b""),
        Err(EncodeError::EmptyMessage)
    );
    assert_eq!(
        Request::create(b"a", b"b", &huge),
        Err(EncodeError::MessageTooLong { len: 65_536 })
    );
    assert_eq!(
        Request::create(b"", b"b", b"m"),
        Err(EncodeError::EmptyName)
    );

    let ok = Item {
        sender: b"s",
        text: b"t",
    };
    let mut out = vec![1, 2, 3];
    let too_many = vec![ok; 256];
    assert_eq!(
        Response::encode_items(&too_many, false, &mut out),
        Err(EncodeError::TooManyItems { count: 256 })
    );
    let bad = [
        ok,
        Item {
            sender: b"",
            text: b"t",
        },
    ];
    assert_eq!(
        Response::encode_items(&bad, false, &mut out),
        Err(EncodeError::EmptySender)
    );
    let bad = [
        ok,
        Item {
            sender: b"s",
            text: b"",
        },
    ];
    assert_eq!(
        Response::encode_items(&bad, false, &mut out),
        Err(EncodeError::EmptyText)
    );
    let bad = [Item {
        sender: &long,
        text: b"t",
    }];
    assert_eq!(
        Response::encode_items(&bad, false, &mut out),
        Err(EncodeError::SenderTooLong { len: 256 })
    );
    let bad = [Item {
        sender: b"s",
        text: &huge,
    }];
    assert_eq!(
        Response::encode_items(&bad, false, &mut out),
        Err(EncodeError::TextTooLong { len: 65_536 })
    );
    assert_eq!(out, [1, 2, 3], "a refused response writes nothing");
}

#[test]
fn frame_buffer_never_allocates_by_a_declared_length() {
    let mut fb = FrameBuffer::new(u32::MAX);
    fb.push(&[0xFF, 0xFF, 0xFF, 0xFF, b'a']);
    assert_eq!(fb.next_frame(), Ok(None));
    assert_eq!(fb.buffered(), 5);
    let mut small = FrameBuffer::new(1024);
    small.push(&[0xFF, 0xFF, 0xFF, 0xFF]);
    assert_eq!(
        small.next_frame(),
        Err(DecodeError::TooLarge {
            len: u32::MAX,
            max: 1024
        })
    );
    assert_eq!(
        small.next_frame(),
        Err(DecodeError::TooLarge {
            len: u32::MAX,
            max: 1024
        }),
        "sticky"
    );
}

#[test]
fn frame_buffer_compacts_without_losing_bytes() {
    // Many frames through one buffer, each pushed with the next one's header attached, so the
    // consumed prefix grows past the compaction threshold while live bytes remain.
    let payload = vec![7u8; 40_000];
    let mut one = Vec::new();
    Frame { payload: &payload }.encode(&mut one);
    let mut fb = FrameBuffer::new(100_000);
    let mut count = 0;
    for _ in 0..50 {
        fb.push(&one[..10]);
        fb.push(&one[10..]);
        while let Some(p) = fb.next_frame().expect("ok") {
            assert_eq!(p, &payload[..]);
            count += 1;
        }
        fb.push(&one[..3]);
        assert_eq!(fb.next_frame(), Ok(None));
        fb.push(&one[3..]);
        while let Some(p) = fb.next_frame().expect("ok") {
            assert_eq!(p, &payload[..]);
            count += 1;
        }
    }
    assert_eq!(count, 100);
    assert_eq!(fb.buffered(), 0);
}
