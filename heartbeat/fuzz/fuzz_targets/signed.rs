//! Fuzz the state machine with authenticated datagrams that pass the HMAC (the fuzzer picks the
//! header, this target signs it), interleaved with local events and time steps. Checks: no
//! panic; role changes alternate and match `role()`; the next wake-up is always in the future.
//! Run with `RUSTC_BOOTSTRAP=1 cargo fuzz run signed`.
//!
//! The checks are in `checks.rs`, shared with the replay of the kept corpus
//! (`fuzz/seeds/signed/`) by the test command (`tests/fuzz_corpus.rs`).
#![no_main]

#[allow(dead_code)]
#[path = "checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::signed::check(data));
