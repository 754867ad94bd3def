//! Replaying fuzz targets' kept corpora in the test command.

use std::path::Path;

/// Feeds every file of `CRATE_DIR/fuzz/seeds/TARGET/` to `check` (the fuzz target's own checks)
/// and panics, naming the file, on the first input whose check panics; also when the corpus is
/// empty or missing.
///
/// ```no_run
/// fn check(data: &[u8]) {
///     let _ = std::str::from_utf8(data);
/// }
/// testkit::replay_corpus(env!("CARGO_MANIFEST_DIR"), "parse", check);
/// ```
pub fn replay_corpus(crate_dir: &str, target: &str, check: fn(&[u8])) {
    let dir = Path::new(crate_dir).join("fuzz/seeds").join(target);
    let mut n = 0;
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("the corpus {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("an entry").path();
        let data = std::fs::read(&path).expect("a file");
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(
            outcome.is_ok(),
            "{} fails its fuzz target's checks",
            path.display()
        );
        n += 1;
    }
    assert!(n > 0, "no input in {}", dir.display());
}
