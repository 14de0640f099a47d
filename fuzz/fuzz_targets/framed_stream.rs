//! Fuzz target `framed_stream`: the check is codec::fuzzing::framed_stream (shared with codec/tests/fuzz_corpus.rs,
//! which replays fuzz/corpus/framed_stream/ and fuzz/artifacts/framed_stream/ on stable).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| codec::fuzzing::framed_stream(data));
