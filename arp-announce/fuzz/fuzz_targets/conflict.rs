//! Fuzz the reading of received frames for RFC 5227 conflicts: any bytes give an answer, never
//! a panic; our own MAC is never a conflict. Run with `RUSTC_BOOTSTRAP=1 cargo fuzz run conflict`.
//!
//! The checks are in `checks.rs`, shared with the replay of the kept corpus
//! (`fuzz/seeds/conflict/`) by the test command (`tests/fuzz_corpus.rs`).
#![no_main]

#[allow(dead_code)]
#[path = "checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::conflict::check(data));
