//! Fuzz the decoder: any datagram must decode to messages or an error, and decoded messages must
//! convert to the typed model or an error, never a panic. Run with `cargo +nightly fuzz run decode`.
//!
//! The checks are in `checks.rs`, shared with the replay of the kept corpus
//! (`fuzz/seeds/decode/`) by the test command (`tests/fuzz_corpus.rs`).
#![no_main]

#[allow(dead_code)]
#[path = "checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::decode::check(data));
