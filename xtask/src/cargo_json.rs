//! Test executables out of `cargo test --no-run --message-format=json`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::Value;

/// One test executable cargo built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TestExecutable {
    /// The test target's name: the integration-test file name without `.rs`, or the crate name
    /// for unit tests.
    pub(crate) target: String,
    /// Whether it is an integration test (`tests/*.rs`) rather than a library's or binary's unit
    /// tests.
    pub(crate) integration: bool,
    /// The executable.
    pub(crate) executable: PathBuf,
    /// The directory of the package's Cargo.toml: cargo runs tests there.
    pub(crate) package_dir: PathBuf,
}

impl TestExecutable {
    /// Whether this is a kernel test binary: an integration test whose name starts with `kernel`.
    pub(crate) fn is_kernel_test(&self) -> bool {
        self.integration && self.target.starts_with("kernel")
    }

    /// A kernel test whose assertions are about time (failover, client-visible downtime): it
    /// runs under qemu with several CPUs, whatever the backend, because UML's one CPU (shared by
    /// every process of the test) distorts what it measures.
    pub(crate) fn is_timing_test(&self) -> bool {
        self.is_kernel_test() && self.target.starts_with("kernel_timing")
    }
}

/// Every test executable announced in `output` (one JSON message per line; other lines and other
/// messages are skipped).
pub(crate) fn test_executables(output: &str) -> Result<Vec<TestExecutable>> {
    let mut found = Vec::new();
    for line in output.lines().filter(|l| l.starts_with('{')) {
        let message: Value = serde_json::from_str(line)
            .with_context(|| format!("cargo printed invalid JSON: {line}"))?;
        if let Some(exe) = test_executable(&message) {
            found.push(exe);
        }
    }
    Ok(found)
}

/// The program (`kind` `bin` or `example`) named `name` that `output` announces being built (not
/// its test build).
pub(crate) fn program(output: &str, kind: &str, name: &str) -> Option<PathBuf> {
    output
        .lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find_map(|m| {
            let target = m.get("target")?;
            let wanted = m.get("reason")?.as_str()? == "compiler-artifact"
                && !m.pointer("/profile/test")?.as_bool()?
                && target.get("name")?.as_str()? == name
                && target.get("kind")?.as_array()?.iter().any(|k| k == kind);
            let exe = m.get("executable")?.as_str()?;
            wanted.then(|| PathBuf::from(exe))
        })
}

/// The workspace members that may be published (no `publish = false`), out of
/// `cargo metadata --no-deps --format-version 1`.
pub(crate) fn publishable(metadata: &str) -> Result<Vec<String>> {
    let metadata: Value =
        serde_json::from_str(metadata).context("cargo metadata printed invalid JSON")?;
    let packages = (metadata.get("packages").and_then(Value::as_array))
        .context("cargo metadata without packages")?;
    Ok(packages
        .iter()
        .filter(|p| {
            p.get("publish")
                .is_none_or(|v| !v.as_array().is_some_and(Vec::is_empty))
        })
        .filter_map(|p| Some(p.get("name")?.as_str()?.to_owned()))
        .collect())
}

/// The test executable a `compiler-artifact` message announces, if it announces one.
fn test_executable(message: &Value) -> Option<TestExecutable> {
    if message.get("reason")?.as_str()? != "compiler-artifact" {
        return None;
    }
    if !message.pointer("/profile/test")?.as_bool()? {
        return None;
    }
    let target = message.get("target")?;
    let kinds: Vec<&str> = target
        .get("kind")?
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let manifest = PathBuf::from(message.get("manifest_path")?.as_str()?);
    Some(TestExecutable {
        target: target.get("name")?.as_str()?.to_owned(),
        integration: kinds == ["test"],
        executable: PathBuf::from(message.get("executable")?.as_str()?),
        package_dir: manifest.parent()?.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Abridged messages as cargo 1.95 prints them.
    const OUTPUT: &str = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/testkit#0.0.0","manifest_path":"/w/testkit/Cargo.toml","target":{"kind":["lib"],"crate_types":["lib"],"name":"testkit","src_path":"/w/testkit/src/lib.rs","edition":"2024","doc":true,"doctest":true,"test":true},"profile":{"opt_level":"0","debuginfo":2,"debug_assertions":true,"overflow_checks":true,"test":false},"features":[],"filenames":["/w/target/debug/deps/libtestkit-1.rlib"],"executable":null,"fresh":true}
{"reason":"compiler-artifact","package_id":"path+file:///w/testkit#0.0.0","manifest_path":"/w/testkit/Cargo.toml","target":{"kind":["lib"],"crate_types":["lib"],"name":"testkit","src_path":"/w/testkit/src/lib.rs","edition":"2024","doc":true,"doctest":true,"test":true},"profile":{"opt_level":"0","debuginfo":2,"debug_assertions":true,"overflow_checks":true,"test":true},"features":[],"filenames":["/w/target/debug/deps/testkit-2"],"executable":"/w/target/debug/deps/testkit-2","fresh":true}
{"reason":"compiler-artifact","package_id":"path+file:///w/testkit#0.0.0","manifest_path":"/w/testkit/Cargo.toml","target":{"kind":["test"],"crate_types":["bin"],"name":"kernel_rig","src_path":"/w/testkit/tests/kernel_rig.rs","edition":"2024","doc":false,"doctest":false,"test":true},"profile":{"opt_level":"0","debuginfo":2,"debug_assertions":true,"overflow_checks":true,"test":true},"features":[],"filenames":["/w/target/debug/deps/kernel_rig-3"],"executable":"/w/target/debug/deps/kernel_rig-3","fresh":true}
{"reason":"compiler-artifact","package_id":"path+file:///w/xtask#0.0.0","manifest_path":"/w/xtask/Cargo.toml","target":{"kind":["bin"],"crate_types":["bin"],"name":"xtask","src_path":"/w/xtask/src/main.rs","edition":"2024","doc":true,"doctest":false,"test":true},"profile":{"opt_level":"0","debuginfo":2,"debug_assertions":true,"overflow_checks":true,"test":false},"features":[],"filenames":["/w/target/debug/xtask"],"executable":"/w/target/debug/xtask","fresh":true}
{"reason":"compiler-artifact","package_id":"path+file:///w/xtask#0.0.0","manifest_path":"/w/xtask/Cargo.toml","target":{"kind":["test"],"crate_types":["bin"],"name":"kernelish_but_host","src_path":"/w/xtask/tests/k.rs","edition":"2024","doc":false,"doctest":false,"test":true},"profile":{"opt_level":"0","debuginfo":2,"debug_assertions":true,"overflow_checks":true,"test":true},"features":[],"filenames":["/w/target/debug/deps/k-4"],"executable":"/w/target/debug/deps/k-4","fresh":true}
{"reason":"compiler-artifact","package_id":"path+file:///w/ipvs#0.1.0","manifest_path":"/w/ipvs/Cargo.toml","target":{"kind":["bench"],"crate_types":["bin"],"name":"kernel_bench","src_path":"/w/ipvs/benches/kernel_bench.rs","edition":"2024","doc":false,"doctest":false,"test":true},"profile":{"opt_level":"0","debuginfo":2,"debug_assertions":true,"overflow_checks":true,"test":true},"features":[],"filenames":["/w/target/debug/deps/kernel_bench-5"],"executable":"/w/target/debug/deps/kernel_bench-5","fresh":true}
{"reason":"build-finished","success":true}
"#;

    #[test]
    fn finds_a_program_by_kind_and_name() {
        assert_eq!(
            program(OUTPUT, "bin", "xtask"),
            Some(PathBuf::from("/w/target/debug/xtask"))
        );
        assert_eq!(program(OUTPUT, "example", "xtask"), None);
        assert_eq!(
            program(OUTPUT, "test", "kernel_rig"),
            None,
            "test builds are not programs"
        );
    }

    #[test]
    fn finds_test_executables_only() {
        let found = test_executables(OUTPUT).unwrap();
        let names: Vec<&str> = found.iter().map(|t| t.target.as_str()).collect();
        assert_eq!(
            names,
            [
                "testkit",
                "kernel_rig",
                "kernelish_but_host",
                "kernel_bench"
            ]
        );
        assert_eq!(
            found[1].executable,
            PathBuf::from("/w/target/debug/deps/kernel_rig-3")
        );
        assert_eq!(found[1].package_dir, PathBuf::from("/w/testkit"));
    }

    #[test]
    fn kernel_tests_are_integration_tests_named_kernel_something() {
        let found = test_executables(OUTPUT).unwrap();
        let kernel: Vec<&str> = found
            .iter()
            .filter(|t| t.is_kernel_test())
            .map(|t| t.target.as_str())
            .collect();
        // A bench target named kernel* is not a kernel test; the file-name convention is checked
        // on the target name, so `kernelish_but_host` counts (the README says: `kernel*`).
        assert_eq!(kernel, ["kernel_rig", "kernelish_but_host"]);
    }

    #[test]
    fn skips_non_json_lines_and_rejects_broken_json() {
        assert!(test_executables("   Compiling x\n").unwrap().is_empty());
        assert!(test_executables("{not json\n").is_err());
    }

    #[test]
    fn only_crates_without_publish_false_are_packaged() {
        let metadata = r#"{"packages":[
            {"name":"lvs-ipvs","publish":null},
            {"name":"xtask","publish":[]},
            {"name":"internal","publish":["my-registry"]}
        ]}"#;
        assert_eq!(
            publishable(metadata).unwrap(),
            ["lvs-ipvs".to_string(), "internal".to_string()]
        );
        assert!(publishable("{}").is_err());
    }
}
