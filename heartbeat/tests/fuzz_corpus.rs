//! The fuzz targets' kept corpora (`fuzz/seeds/TARGET/`: minimised by `cargo xtask reliability
//! --only fuzz`, with every input that once failed), replayed through the targets' own checks
//! (`fuzz/fuzz_targets/checks.rs`): what the fuzzer found once stays found.

#[allow(dead_code, unreachable_pub)]
#[path = "../fuzz/fuzz_targets/checks.rs"]
mod checks;

#[test]
fn the_decode_corpus_replays() {
    testkit::replay_corpus(env!("CARGO_MANIFEST_DIR"), "decode", checks::decode::check);
}

#[test]
fn the_signed_corpus_replays() {
    testkit::replay_corpus(env!("CARGO_MANIFEST_DIR"), "signed", checks::signed::check);
}
