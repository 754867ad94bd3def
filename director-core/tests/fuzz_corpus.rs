//! The fuzz targets' minimised corpora (`fuzz/seeds/TARGET/`: the seeds, and every input that
//! once failed), replayed through the targets' own checks (`fuzz/fuzz_targets/checks.rs`) by the
//! test command: what the fuzzer found once stays found. `cargo +nightly fuzz run overlay
//! fuzz/corpus/overlay
//! fuzz/seeds/overlay` (in `director-core/`) fuzzes from them, writing what it finds to the first.

#[allow(dead_code, unreachable_pub)]
#[path = "../fuzz/fuzz_targets/checks.rs"]
mod checks;

#[test]
fn the_overlay_corpus_replays() {
    testkit::replay_corpus(env!("CARGO_MANIFEST_DIR"), "overlay", checks::overlay);
}

#[test]
fn the_control_corpus_replays() {
    testkit::replay_corpus(env!("CARGO_MANIFEST_DIR"), "control", checks::control);
}
