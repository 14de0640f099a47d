//! Error messages are sentences a student can act on: they name the field and what was found.

use codec::messages::{Request, Response};
use codec::{DecodeError, EncodeError};

#[test]
fn bad_magic_names_the_value_found_and_the_one_expected() {
    let e = Request::decode(&[0x12, 0x34, 1, 1, 0, 0, 0, b'a']).unwrap_err();
    assert_eq!(e, DecodeError::BadMagic { found: 0x1234 });
    let text = e.to_string();
    assert!(text.contains("0x1234") && text.contains("0xAE73"), "{text}");
}

#[test]
fn incomplete_says_how_many_bytes_are_missing() {
    assert_eq!(
        DecodeError::Incomplete { needed: 3 }.to_string(),
        "the message is cut off: at least 3 more bytes are needed"
    );
    assert_eq!(
        DecodeError::Incomplete { needed: 1 }.to_string(),
        "the message is cut off: at least 1 more byte is needed"
    );
    assert!(DecodeError::Incomplete { needed: 1 }.is_incomplete());
    assert!(!DecodeError::EmptyName.is_incomplete());
}

#[test]
fn too_large_gives_the_length_and_the_limit() {
    let text = DecodeError::TooLarge {
        len: 4_294_967_295,
        max: 650_000,
    }
    .to_string();
    assert!(
        text.contains("4294967295") && text.contains("650000"),
        "{text}"
    );
}

#[test]
fn response_errors_name_the_field() {
    let e = Response::decode(&[0xAE, 0x73, 3, 0, 7]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the MoreMsgs field is 7, but it must be 0 or 1"
    );
    let e = Response::decode(&[0xAE, 0x73, 9]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the MessageResponse ID is 9, but it must be 3"
    );
}

#[test]
fn hello_errors_show_the_expected_form() {
    assert!(DecodeError::NoDigits.to_string().contains("HELLO 5"));
    assert!(DecodeError::TrailingJunk.to_string().contains("\\r\\n"));
}

#[test]
fn encode_errors_give_the_length_and_the_limit() {
    let text = EncodeError::MessageTooLong { len: 70_000 }.to_string();
    assert_eq!(
        text,
        "the message is 70000 bytes long; at most 65535 bytes fit"
    );
    let e: Box<dyn std::error::Error> = Box::new(EncodeError::EmptyReceiver);
    assert_eq!(e.to_string(), "the receiver name must not be empty");
}

#[test]
fn every_decode_error_has_a_sentence() {
    let all = [
        DecodeError::BadKeyword,
        DecodeError::MissingSpace,
        DecodeError::NoDigits,
        DecodeError::Overflow,
        DecodeError::TrailingJunk,
        DecodeError::BadRequestId { found: 9 },
        DecodeError::BadResponseId { found: 9 },
        DecodeError::EmptyName,
        DecodeError::ReadWithReceiver,
        DecodeError::ReadWithMessage,
        DecodeError::EmptyReceiver,
        DecodeError::EmptyMessage,
        DecodeError::EmptySender,
        DecodeError::EmptyText,
    ];
    for e in all {
        let text = e.to_string();
        // A sentence, not a Debug dump; it follows "error: ", so no capital and no full stop.
        assert!(text.len() > 20 && !text.contains('{'), "{e:?}: {text}");
        assert!(
            !text.starts_with(|c: char| c.is_ascii_uppercase()),
            "{e:?}: {text}"
        );
        assert!(!text.ends_with('.'), "{e:?}: {text}");
    }
}
