//! Fuzz target `messages_response`: the check is codec::fuzzing::messages_response (shared with codec/tests/fuzz_corpus.rs,
//! which replays fuzz/corpus/messages_response/ and fuzz/artifacts/messages_response/ on stable).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| codec::fuzzing::messages_response(data));
