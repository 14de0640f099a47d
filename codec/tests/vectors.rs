//! Runs every row of fixtures/vectors/*.toml: good vectors decode to the expected value,
//! re-encode to their bytes, and every proper prefix is `Incomplete` (with a `needed` that
//! never overstates); bad vectors give the expected error; every `DecodeError` variant is
//! covered by some row. `write_fuzz_seeds` (ignored) regenerates fuzz/corpus/ from them.

mod common;

use codec::DecodeError;
use codec::framed::{self, Frame, FrameBuffer};
use codec::hello::{Hello, Terminator};
use codec::messages::{
    Item, ItemHeader, Request, RequestHeader, RequestKind, Response, ResponseHeader,
};
use common::{parse_bytes, repo_root};
use std::collections::BTreeSet;
use toml::Value;

struct Row {
    file: &'static str,
    name: String,
    bytes: Vec<u8>,
    table: toml::Table,
}

impl Row {
    fn str(&self, key: &str) -> Option<&str> {
        self.table.get(key).and_then(Value::as_str)
    }
    fn bytes_of(&self, key: &str) -> Vec<u8> {
        self.str(key).map(parse_bytes).unwrap_or_default()
    }
    fn ctx(&self) -> String {
        format!("{}: {}", self.file, self.name)
    }
}

fn load(file: &'static str) -> Vec<Row> {
    let path = repo_root().join("fixtures/vectors").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: toml::Table = text.parse().unwrap_or_else(|e| panic!("{file}: {e}"));
    let rows = doc["vector"].as_array().expect("[[vector]] rows");
    let mut names = BTreeSet::new();
    rows.iter()
        .map(|v| {
            let table = v.as_table().expect("a row is a table").clone();
            let name = table["name"].as_str().expect("name").to_owned();
            assert!(names.insert(name.clone()), "{file}: duplicate name {name}");
            let bytes = parse_bytes(table["bytes"].as_str().expect("bytes"));
            Row {
                file,
                name,
                bytes,
                table,
            }
        })
        .collect()
}

/// An expected error: a variant name, or the Debug form when it has a `{`.
fn error_matches(expected: &str, got: &DecodeError) -> bool {
    if expected.contains('{') {
        format!("{got:?}") == expected
    } else {
        got.name() == expected
    }
}

fn check_error<T: std::fmt::Debug>(
    row: &Row,
    expected: &str,
    got: Result<T, DecodeError>,
    seen: &mut BTreeSet<&'static str>,
) {
    match got {
        Err(e) => {
            assert!(
                error_matches(expected, &e),
                "{}: expected {expected}, got {e:?}",
                row.ctx()
            );
            seen.insert(e.name());
        }
        Ok(v) => panic!("{}: expected {expected}, decoded {v:?}", row.ctx()),
    }
}

/// Every proper prefix of `whole` is Incomplete, and its `needed` never overstates.
fn prefixes_incomplete(ctx: &str, whole: &[u8], decode: impl Fn(&[u8]) -> Result<(), DecodeError>) {
    let step = (whole.len() / 2048).max(1);
    for at in (0..whole.len())
        .step_by(step)
        .chain([whole.len().saturating_sub(1)])
    {
        if at >= whole.len() {
            continue;
        }
        match decode(&whole[..at]) {
            Err(DecodeError::Incomplete { needed }) => {
                assert!(
                    needed >= 1 && needed <= whole.len() - at,
                    "{ctx}: prefix {at}: needed {needed} overstates"
                );
            }
            other => panic!("{ctx}: proper prefix of {at} bytes gave {other:?}"),
        }
    }
}

fn terminator(s: &str) -> Terminator {
    match s {
        "None" => Terminator::None,
        "Lf" => Terminator::Lf,
        "CrLf" => Terminator::CrLf,
        "Nul" => Terminator::Nul,
        "LfNul" => Terminator::LfNul,
        _ => {
            let n = s
                .strip_prefix("NulPad(")
                .and_then(|r| r.strip_suffix(')'))
                .expect("terminator name");
            Terminator::NulPad(n.parse().expect("NulPad count"))
        }
    }
}

fn hello_value(t: &toml::Table) -> Hello {
    Hello {
        seq: t["seq"].as_integer().expect("seq"),
        terminator: terminator(t["terminator"].as_str().expect("terminator")),
    }
}

#[test]
fn hello_vectors() {
    let mut seen = BTreeSet::new();
    for row in load("hello.toml") {
        let canonical = row
            .table
            .get("canonical")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        match &row.table["exact"] {
            Value::String(e) => check_error(&row, e, Hello::decode_exact(&row.bytes), &mut seen),
            Value::Table(t) => {
                let want = hello_value(t);
                assert_eq!(Hello::decode_exact(&row.bytes), Ok(want), "{}", row.ctx());
                let mut out = Vec::new();
                want.encode(&mut out);
                assert_eq!(Hello::decode_exact(&out), Ok(want), "{}", row.ctx());
                if canonical {
                    assert_eq!(
                        out,
                        row.bytes,
                        "{}: does not re-encode to its bytes",
                        row.ctx()
                    );
                } else {
                    assert_ne!(
                        out,
                        row.bytes,
                        "{}: marked non-canonical but re-encodes the same",
                        row.ctx()
                    );
                }
                // Before the first digit, every prefix is Incomplete.
                let first_digit = row
                    .bytes
                    .iter()
                    .position(u8::is_ascii_digit)
                    .expect("a digit");
                prefixes_incomplete(&row.ctx(), &row.bytes[..=first_digit], |b| {
                    Hello::decode_exact(b).map(drop)
                });
            }
            v => panic!("{}: bad exact {v:?}", row.ctx()),
        }
        match &row.table["stream"] {
            Value::String(e) => check_error(&row, e, Hello::decode(&row.bytes), &mut seen),
            Value::Table(t) => {
                let want = hello_value(t);
                let rest = t
                    .get("rest")
                    .and_then(Value::as_str)
                    .map(parse_bytes)
                    .unwrap_or_default();
                assert_eq!(
                    Hello::decode(&row.bytes),
                    Ok((&rest[..], want)),
                    "{}",
                    row.ctx()
                );
                let consumed = &row.bytes[..row.bytes.len() - rest.len()];
                // Where both entry points apply they agree.
                assert_eq!(Hello::decode_exact(consumed), Ok(want), "{}", row.ctx());
                let mut out = Vec::new();
                want.encode(&mut out);
                if canonical {
                    assert_eq!(out, consumed, "{}", row.ctx());
                }
                // A `\n` is a complete terminator by itself, so `\n\0` has one non-Incomplete prefix.
                let cut = if want.terminator == Terminator::LfNul {
                    consumed.len() - 1
                } else {
                    consumed.len()
                };
                prefixes_incomplete(&row.ctx(), &consumed[..cut], |b| Hello::decode(b).map(drop));
            }
            v => panic!("{}: bad stream {v:?}", row.ctx()),
        }
    }
    let want = [
        "Incomplete",
        "BadKeyword",
        "MissingSpace",
        "NoDigits",
        "Overflow",
        "TrailingJunk",
    ];
    assert_eq!(
        seen,
        want.into_iter().collect(),
        "hello vectors must cover every hello error"
    );
}

#[test]
fn framed_vectors() {
    let mut seen = BTreeSet::new();
    for row in load("framed.toml") {
        let max = u32::try_from(row.table["max"].as_integer().expect("max")).expect("max is a u32");
        if let Some(e) = row.str("error") {
            check_error(&row, e, Frame::decode(&row.bytes, max), &mut seen);
            // The reassembly buffer agrees: TooLarge is an error, Incomplete is "not yet".
            let mut fb = FrameBuffer::new(max);
            fb.push(&row.bytes);
            match fb.next_frame() {
                Ok(None) => assert!(e.starts_with("Incomplete"), "{}", row.ctx()),
                Err(got) => assert!(error_matches(e, &got), "{}", row.ctx()),
                Ok(Some(p)) => panic!(
                    "{}: FrameBuffer gave a frame of {} bytes",
                    row.ctx(),
                    p.len()
                ),
            }
            assert_eq!(fb.buffered(), row.bytes.len(), "{}", row.ctx());
            continue;
        }
        let payload = row.bytes_of("payload");
        let rest = row.bytes_of("rest");
        let got = Frame::decode(&row.bytes, max);
        assert_eq!(
            got,
            Ok((&rest[..], Frame { payload: &payload })),
            "{}",
            row.ctx()
        );
        let consumed = &row.bytes[..row.bytes.len() - rest.len()];
        let mut out = Vec::new();
        Frame { payload: &payload }.encode(&mut out);
        assert_eq!(out, consumed, "{}", row.ctx());
        prefixes_incomplete(&row.ctx(), consumed, |b| Frame::decode(b, max).map(drop));
        // Byte by byte through the reassembly buffer: the same frame, once, at the last byte.
        let mut fb = FrameBuffer::new(max);
        for (i, b) in consumed.iter().enumerate() {
            fb.push(std::slice::from_ref(b));
            let frame = fb.next_frame().expect("no error").map(<[u8]>::to_vec);
            if i + 1 < consumed.len() {
                assert_eq!(frame, None, "{}: frame before its last byte", row.ctx());
            } else {
                assert_eq!(frame.as_deref(), Some(&payload[..]), "{}", row.ctx());
            }
        }
        assert_eq!(fb.buffered(), 0);
        match &row.table["reply"] {
            Value::Boolean(false) => {
                assert_eq!(framed::expected_reply(&payload), None, "{}", row.ctx())
            }
            Value::String(r) => assert_eq!(
                framed::expected_reply(&payload),
                Some(&parse_bytes(r)[..]),
                "{}",
                row.ctx()
            ),
            v => panic!("{}: bad reply {v:?}", row.ctx()),
        }
    }
    assert_eq!(seen, ["Incomplete", "TooLarge"].into_iter().collect());
}

#[test]
fn messages_request_vectors() {
    let mut seen = BTreeSet::new();
    for row in load("messages_request.toml") {
        if let Some(e) = row.str("error") {
            check_error(&row, e, Request::decode(&row.bytes), &mut seen);
            let header_level = row
                .table
                .get("header_error")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            if header_level && !e.starts_with("Incomplete") {
                check_error(&row, e, RequestHeader::decode(&row.bytes), &mut seen);
            }
            continue;
        }
        let (user, receiver, message, rest) = (
            row.bytes_of("user"),
            row.bytes_of("receiver"),
            row.bytes_of("message"),
            row.bytes_of("rest"),
        );
        let want = match row.str("kind") {
            Some("read") => Request::read(&user),
            Some("create") => Request::create(&user, &receiver, &message),
            k => panic!("{}: bad kind {k:?}", row.ctx()),
        }
        .expect("the expected value is valid");
        let (got_rest, got) =
            Request::decode(&row.bytes).unwrap_or_else(|e| panic!("{}: {e:?}", row.ctx()));
        assert_eq!((got_rest, got), (&rest[..], want), "{}", row.ctx());
        assert_eq!(
            (got.user(), got.receiver(), got.message()),
            (&user[..], &receiver[..], &message[..])
        );
        let (_, header) = RequestHeader::decode(&row.bytes).expect("header");
        assert_eq!(header, got.header());
        assert_eq!(
            header.body_len(),
            user.len() + receiver.len() + message.len()
        );
        let consumed = &row.bytes[..row.bytes.len() - rest.len()];
        let mut out = Vec::new();
        want.encode(&mut out);
        assert_eq!(out, consumed, "{}", row.ctx());
        prefixes_incomplete(&row.ctx(), consumed, |b| Request::decode(b).map(drop));
        prefixes_incomplete(
            &row.ctx(),
            &consumed[..codec::messages::REQUEST_HEADER_LEN],
            |b| RequestHeader::decode(b).map(drop),
        );
    }
    let want = [
        "Incomplete",
        "BadMagic",
        "BadRequestId",
        "EmptyName",
        "ReadWithReceiver",
        "ReadWithMessage",
        "EmptyReceiver",
        "EmptyMessage",
    ];
    assert_eq!(seen, want.into_iter().collect());
}

#[test]
fn messages_response_vectors() {
    let mut seen = BTreeSet::new();
    for row in load("messages_response.toml") {
        if let Some(e) = row.str("error") {
            check_error(&row, e, Response::decode(&row.bytes), &mut seen);
            let header_level = row
                .table
                .get("header_error")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            if header_level && !e.starts_with("Incomplete") {
                check_error(&row, e, ResponseHeader::decode(&row.bytes), &mut seen);
            }
            continue;
        }
        let times = row
            .table
            .get("items_times")
            .and_then(Value::as_integer)
            .unwrap_or(1);
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = row.table["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|p| {
                let p = p.as_array().expect("[sender, text]");
                (
                    parse_bytes(p[0].as_str().expect("sender")),
                    parse_bytes(p[1].as_str().expect("text")),
                )
            })
            .collect();
        let pairs: Vec<_> = (0..times).flat_map(|_| pairs.iter().cloned()).collect();
        let items: Vec<Item<'_>> = pairs
            .iter()
            .map(|(s, t)| Item { sender: s, text: t })
            .collect();
        let more = row.table["more"].as_bool().expect("more");
        let rest = row.bytes_of("rest");
        let (got_rest, got) =
            Response::decode(&row.bytes).unwrap_or_else(|e| panic!("{}: {e:?}", row.ctx()));
        assert_eq!(got_rest, &rest[..], "{}", row.ctx());
        assert_eq!(got.more(), more, "{}", row.ctx());
        assert_eq!(usize::from(got.num_items()), items.len(), "{}", row.ctx());
        assert_eq!(got.items().len(), items.len());
        assert_eq!(got.items().collect::<Vec<_>>(), items, "{}", row.ctx());
        let consumed = &row.bytes[..row.bytes.len() - rest.len()];
        let mut out = Vec::new();
        got.encode(&mut out);
        assert_eq!(out, consumed, "{}", row.ctx());
        let mut out = Vec::new();
        Response::encode_items(&items, more, &mut out).expect("valid items");
        assert_eq!(out, consumed, "{}", row.ctx());
        prefixes_incomplete(&row.ctx(), consumed, |b| Response::decode(b).map(drop));
        prefixes_incomplete(
            &row.ctx(),
            &consumed[..codec::messages::RESPONSE_HEADER_LEN],
            |b| ResponseHeader::decode(b).map(drop),
        );
        // The piecewise reader a client uses: fixed header, then each item header and body.
        let (mut body, header) = ResponseHeader::decode(consumed).expect("header");
        assert_eq!((header.num_items, header.more), (got.num_items(), more));
        for it in &items {
            let (b, ih) = ItemHeader::decode(body).expect("item header");
            assert_eq!(ih.body_len(), it.sender.len() + it.text.len());
            body = &b[ih.body_len()..];
        }
        assert!(body.is_empty());
    }
    let want = [
        "Incomplete",
        "BadMagic",
        "BadResponseId",
        "BadMoreMsgs",
        "EmptySender",
        "EmptyText",
    ];
    assert_eq!(seen, want.into_iter().collect());
}

#[test]
fn byte_syntax_parses_every_form() {
    assert_eq!(parse_bytes("ae73 01"), vec![0xae, 0x73, 1]);
    assert_eq!(parse_bytes("61*3 'b c'"), b"aaab c".to_vec());
    assert_eq!(parse_bytes("[01 'x']*2 ff"), vec![1, b'x', 1, b'x', 0xff]);
    assert_eq!(parse_bytes("'é'"), "é".as_bytes().to_vec());
    assert_eq!(parse_bytes(""), Vec::<u8>::new());
    assert_eq!(parse_bytes("'ab'*2"), b"abab".to_vec());
}

/// Writes fuzz/corpus/<target>/<vector name> for every vector (good and bad), the seed
/// corpus. Run: `cargo test -p codec --test vectors -- --ignored write_fuzz_seeds`.
#[test]
#[ignore = "writes files: run by hand to regenerate the fuzz seed corpus"]
fn write_fuzz_seeds() {
    let corpus = repo_root().join("fuzz/corpus");
    let sets = [
        ("hello", "hello.toml"),
        ("framed_stream", "framed.toml"),
        ("messages_request", "messages_request.toml"),
        ("messages_response", "messages_response.toml"),
    ];
    for (target, file) in sets {
        let dir = corpus.join(target);
        std::fs::create_dir_all(&dir).expect("mkdir");
        for row in load(file) {
            // Keep the corpus small: the 64 KiB boundary vectors are covered by the tests.
            if row.bytes.len() > 4096 {
                continue;
            }
            let data = if target == "framed_stream" {
                // Byte 0 picks the maximum (see codec::fuzzing::framed_stream), byte 1 the piece size.
                let max = row.table["max"].as_integer().expect("max");
                let sel: u8 = match max {
                    0 => 0,
                    1 => 1,
                    10 => 2,
                    16 => 3,
                    255 => 4,
                    4096 => 5,
                    65536 => 6,
                    _ => 7,
                };
                let mut d = vec![sel, 3];
                d.extend_from_slice(&row.bytes);
                d
            } else {
                row.bytes.clone()
            };
            std::fs::write(dir.join(&row.name), data).expect("write seed");
        }
    }
}

#[test]
fn every_decode_error_variant_is_covered_by_a_vector() {
    // The per-format tests assert their own sets; this lists the union once, so that a new
    // variant without a vector is noticed here.
    let all = [
        DecodeError::Incomplete { needed: 1 },
        DecodeError::BadKeyword,
        DecodeError::MissingSpace,
        DecodeError::NoDigits,
        DecodeError::Overflow,
        DecodeError::TrailingJunk,
        DecodeError::TooLarge { len: 1, max: 0 },
        DecodeError::BadMagic { found: 0 },
        DecodeError::BadRequestId { found: 0 },
        DecodeError::BadResponseId { found: 0 },
        DecodeError::EmptyName,
        DecodeError::ReadWithReceiver,
        DecodeError::ReadWithMessage,
        DecodeError::EmptyReceiver,
        DecodeError::EmptyMessage,
        DecodeError::BadMoreMsgs { found: 2 },
        DecodeError::EmptySender,
        DecodeError::EmptyText,
    ];
    let mut text = String::new();
    for f in [
        "hello.toml",
        "framed.toml",
        "messages_request.toml",
        "messages_response.toml",
    ] {
        text +=
            &std::fs::read_to_string(repo_root().join("fixtures/vectors").join(f)).expect("read");
    }
    for e in all {
        // Exhaustive match: adding a variant breaks the build here until it is listed.
        match e {
            DecodeError::Incomplete { .. }
            | DecodeError::BadKeyword
            | DecodeError::MissingSpace
            | DecodeError::NoDigits
            | DecodeError::Overflow
            | DecodeError::TrailingJunk
            | DecodeError::TooLarge { .. }
            | DecodeError::BadMagic { .. }
            | DecodeError::BadRequestId { .. }
            | DecodeError::BadResponseId { .. }
            | DecodeError::EmptyName
            | DecodeError::ReadWithReceiver
            | DecodeError::ReadWithMessage
            | DecodeError::EmptyReceiver
            | DecodeError::EmptyMessage
            | DecodeError::BadMoreMsgs { .. }
            | DecodeError::EmptySender
            | DecodeError::EmptyText => {}
        }
        assert!(
            text.contains(&format!("\"{}", e.name())),
            "no vector expects {}",
            e.name()
        );
    }
    let _ = RequestKind::Read;
}
