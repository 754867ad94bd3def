//! Fuzz everything that reads a real server's bytes: the HTTP response reader (head, framing,
//! chunked bodies, keep-alive), the send/expect matcher fed in arbitrary pieces, the load
//! average parser, and the ICMP echo reply reader. Run with `RUSTC_BOOTSTRAP=1 cargo fuzz run reply`.
//!
//! The checks are in `checks.rs`, shared with the replay of the kept corpus
//! (`fuzz/seeds/reply/`) by the test command (`tests/fuzz_corpus.rs`).
#![no_main]

#[allow(dead_code)]
#[path = "checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::reply::check(data));
