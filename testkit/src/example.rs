//! Finding a package's programs (examples and binaries) from its tests, or another package's.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The path of example `name` of `package`, built next to the test binaries
/// (`target/<profile>/examples/`). `cargo test` builds a package's examples with its tests; when
/// a single test target was asked for, the example is built here with `cargo build`.
///
/// Panics when the example cannot be found or built: this is test support.
pub fn example(package: &str, name: &str) -> PathBuf {
    program(package, "example", name, Path::new("examples"))
}

/// The path of binary `name` of `package` (`target/<profile>/NAME`), built with `cargo build`
/// when it is not there (`cargo test --workspace` builds every package's binaries).
///
/// Panics when the binary cannot be found or built: this is test support.
pub fn binary(package: &str, name: &str) -> PathBuf {
    program(package, "bin", name, Path::new(""))
}

fn program(package: &str, kind: &str, name: &str, under: &Path) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binaries live in target/<profile>/deps");
    let bin = profile_dir.join(under).join(name);
    if !bin.exists() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        // The profile of the tests asking (`target/release`: `cargo test --release`).
        let release = profile_dir.file_name().is_some_and(|p| p == "release");
        let status = Command::new(cargo)
            .args(["build", "-p", package, &format!("--{kind}"), name])
            .args(release.then_some("--release"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cannot build {kind} {name} of {package}");
    }
    bin
}
