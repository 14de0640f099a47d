//! Fuzz target `messages_request`: the check is codec::fuzzing::messages_request (shared with codec/tests/fuzz_corpus.rs,
//! which replays fuzz/corpus/messages_request/ and fuzz/artifacts/messages_request/ on stable).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| codec::fuzzing::messages_request(data));
