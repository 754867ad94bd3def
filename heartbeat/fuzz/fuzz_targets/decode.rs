//! Fuzz the packet decoders and the state machine's receive path: any datagram decodes to a
//! heartbeat or a rejection, never a panic; what decodes re-encodes to the same bytes; a
//! rejected datagram changes nothing. Run with `RUSTC_BOOTSTRAP=1 cargo fuzz run decode`.
//!
//! The checks are in `checks.rs`, shared with the replay of the kept corpus
//! (`fuzz/seeds/decode/`) by the test command (`tests/fuzz_corpus.rs`).
#![no_main]

#[allow(dead_code)]
#[path = "checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::decode::check(data));
