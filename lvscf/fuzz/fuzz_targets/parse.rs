//! Any bytes: parsing never panics; a document that parses prints back the same bytes, its
//! canonical layout parses to the same model, and its model written out parses back equal.
//!
//! The checks are in `checks.rs`, shared with the replay of the kept corpus
//! (`fuzz/seeds/parse/`) by the test command (`tests/fuzz_corpus.rs`).
#![no_main]

#[allow(dead_code)]
#[path = "checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::parse::check(data));
