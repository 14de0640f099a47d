//! Per-target checks shared by the cargo-fuzz targets (`fuzz/`) and the stable corpus replay
//! test (`codec/tests/fuzz_corpus.rs`), so that a fuzz finding committed under
//! `fuzz/corpus/<target>/` or `fuzz/artifacts/<target>/` is a regression test.
//!
//! Not a stable API. Each function panics when a property fails (that is how a fuzzer
//! reports a finding) and never otherwise.

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

/// `hello` target.
pub fn hello(data: &[u8]) {
    let _ = crate::hello::Hello::decode_exact(data);
    let _ = crate::hello::Hello::decode(data);
}

/// `framed_stream` target.
pub fn framed_stream(data: &[u8]) {
    let _ = crate::framed::Frame::decode(data, u32::MAX);
}

/// `messages_request` target.
pub fn messages_request(data: &[u8]) {
    let _ = crate::messages::Request::decode(data);
}

/// `messages_response` target.
pub fn messages_response(data: &[u8]) {
    let _ = crate::messages::Response::decode(data);
}
