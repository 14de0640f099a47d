//! Fuzz target `hello`: the check is codec::fuzzing::hello (shared with codec/tests/fuzz_corpus.rs,
//! which replays fuzz/corpus/hello/ and fuzz/artifacts/hello/ on stable).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| codec::fuzzing::hello(data));
