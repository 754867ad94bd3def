//! The fuzz targets' minimised corpora (`fuzz/seeds/TARGET/`: the seeds, and every input that
//! once failed), replayed through the targets' own checks (`fuzz/fuzz_targets/checks.rs`) by the
//! test command: what the fuzzer found once stays found. `cargo +nightly fuzz run overlay
//! fuzz/corpus/overlay
//! fuzz/seeds/overlay` (in `director-core/`) fuzzes from them, writing what it finds to the first.

#[allow(dead_code, unreachable_pub)]
#[path = "../fuzz/fuzz_targets/checks.rs"]
mod checks;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("the corpus") {
        let path = entry.expect("an entry").path();
        let data = std::fs::read(&path).expect("a file");
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{}", path.display());
        n += 1;
    }
    assert!(n >= 5, "{n} inputs in {}", dir.display());
}

#[test]
fn the_overlay_corpus_replays() {
    replay("overlay", checks::overlay);
}

#[test]
fn the_control_corpus_replays() {
    replay("control", checks::control);
}
