//! `cargo xtask test`: the project's test command.
//!
//! 1. `cargo fmt --all -- --check`
//! 2. `cargo clippy --workspace --all-targets -- -D warnings`
//! 3. `cargo test --workspace`: host tests (kernel tests are `#[ignore]`d there)
//! 4. `cargo test --workspace --no-run --message-format=json`: find the test executables
//! 5. prepare the rig and boot it once (`true`); with no backend forced, this boot chooses it
//!    (UML, or qemu where UML's guest kernel panics)
//! 6. the rig's self-check (`xtask/tests/rig_selfcheck.rs`, on the host: it boots VMs itself)
//! 7. every kernel test binary (integration tests named `kernel*`) in ONE VM each:
//!    `EXE --ignored --test-threads=1`; those named `kernel_timing*` under qemu with 2 CPUs
//!
//! Under `CI=true`, a rig that cannot start is a failure. Elsewhere it is reported loudly, with
//! the tests that could not run, and is a failure unless `--allow-skip` is given.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cargo_json::{self, TestExecutable};
use crate::flags::TestFlags;
use crate::vm::{self, Backend, Outcome, RunSpec};

/// The test target of the rig's own tests (in the xtask package).
const SELF_CHECK: &str = "rig_selfcheck";
/// How long one kernel test binary may take in the rig.
const KERNEL_BINARY_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// vCPUs for timing-sensitive kernel tests (`kernel_timing*`, run under qemu).
const TIMING_CPUS: u32 = 2;
/// libtest arguments for kernel test binaries: only the ignored (kernel) tests, one at a time
/// (they share kernel state).
const KERNEL_TEST_ARGS: [&str; 2] = ["--ignored", "--test-threads=1"];

/// Runs the whole test command.
pub(crate) fn run(flags: &TestFlags) -> Result<()> {
    let started = Instant::now();
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    step(&["fmt", "--all", "--", "--check"])?;
    step(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    // The console's browser test drives Debian's Chromium through its WebDriver.
    let log = std::env::temp_dir().join("xtask-test-apt.log");
    crate::install::ensure_packages(&["chromium", "chromium-driver"], &log)?;
    step(&["test", "--workspace"])?;
    package_libraries()?;
    // The Debian package (debug binaries), for the rig's installation test, and its unit verified
    // (systemd-analyze; strip from binutils).
    crate::install::ensure_packages(&["systemd", "binutils", "dpkg"], &log)?;
    let deb = crate::dist::run(true)?;
    crate::dist::verify_unit(&deb)?;
    let executables = build_test_executables()?;
    let kernel: Vec<&TestExecutable> = executables.iter().filter(|t| t.is_kernel_test()).collect();
    let self_check = executables
        .iter()
        .find(|t| t.integration && t.target == SELF_CHECK)
        .context("the rig's self-check tests (xtask/tests/rig_selfcheck.rs) were not built")?;

    let mut failures = Vec::new();
    for test in &kernel {
        let unmarked = unignored_tests(&test.executable)?;
        if !unmarked.is_empty() {
            failures.push(format!(
                "{} has kernel tests without #[ignore] (a host `cargo test` would run them, and the rig, \
                 which runs only ignored tests, would not): {}",
                test.target,
                unmarked.join(", ")
            ));
        }
    }

    let mut rig = match vm::start(flags.backend) {
        Ok(rig) => rig,
        Err(e) => {
            rig_unavailable(&e, self_check, &kernel, ci, flags.allow_skip)?;
            return verdict(&failures);
        }
    };
    let backend = rig.backend();
    // The timing tests' rig: qemu, also when the others run under UML.
    let timing: Vec<&TestExecutable> = kernel
        .iter()
        .copied()
        .filter(|t| t.is_timing_test())
        .collect();
    let mut qemu = if backend == Backend::Qemu || timing.is_empty() {
        None
    } else {
        match vm::start(Some(Backend::Qemu)) {
            Ok(rig) => Some(rig),
            Err(e) => {
                rig_unavailable(&e, self_check, &timing, ci, flags.allow_skip)?;
                None
            }
        }
    };
    // Every backend that booted here, for the self-check's cases that run on each.
    let mut booted = vec![backend.to_string()];
    if qemu.is_some() {
        booted.push(Backend::Qemu.to_string());
    }

    let mut self_check_cmd = Command::new(&self_check.executable);
    self_check_cmd
        .args(KERNEL_TEST_ARGS)
        .current_dir(&self_check.package_dir)
        .env("LVS_RIG_BACKEND", backend.to_string())
        .env("LVS_RIG_BACKENDS", booted.join(","));
    eprintln!("xtask: rig self-check: {}", command_line(&self_check_cmd));
    let status = self_check_cmd
        .status()
        .with_context(|| format!("cannot run {}", self_check.executable.display()))?;
    if !status.success() {
        failures.push(format!(
            "rig self-check failed ({status}): {} (in {})",
            command_line(&self_check_cmd),
            self_check.package_dir.display()
        ));
    }

    let mut binaries_passed = 0;
    let mut skipped = 0;
    for test in &kernel {
        let spec = kernel_spec(test);
        let (backend, rig) = match (&mut qemu, test.is_timing_test()) {
            (Some(qemu), true) => (Backend::Qemu, qemu),
            // No qemu rig for them (it could not start, and skipping was allowed).
            (None, true) if backend != Backend::Qemu => {
                skipped += 1;
                continue;
            }
            _ => (backend, &mut rig),
        };
        let line = format!(
            "cargo xtask vm --backend {backend}{} --timeout {}s --cwd {} -- {}",
            if spec.cpus > 1 {
                format!(" --cpus {}", spec.cpus)
            } else {
                String::new()
            },
            KERNEL_BINARY_TIMEOUT.as_secs(),
            test.package_dir.display(),
            words(&spec.command)
        );
        eprintln!("xtask: kernel tests {}: {line}", test.target);
        let (outcome, timings) = rig.run(&spec)?;
        eprintln!(
            "xtask: kernel tests {}: {outcome:?} in {:.1?}",
            test.target, timings.total
        );
        let failure = match outcome {
            Outcome::Exited(0) => None,
            Outcome::Exited(status) => Some(format!(
                "kernel tests failed (exit status {status}): {line}"
            )),
            Outcome::TimedOut => Some(format!(
                "kernel tests timed out after {KERNEL_BINARY_TIMEOUT:?}: {line}"
            )),
            Outcome::Interrupted(signal) => bail!("interrupted by signal {signal}"),
            Outcome::NoStatus { console, .. } => {
                Some(format!("the rig failed while running: {line}\n{console}"))
            }
        };
        match failure {
            None => binaries_passed += 1,
            Some(failure) => failures.push(failure),
        }
    }
    eprintln!(
        "xtask: kernel test binaries: {binaries_passed} passed, {} failed, {skipped} not run; {} failure(s) in all; {:.0?} overall",
        kernel.len() - binaries_passed - skipped,
        failures.len(),
        started.elapsed()
    );
    verdict(&failures)
}

/// Fails with every failure listed, if there are any.
fn verdict(failures: &[String]) -> Result<()> {
    if !failures.is_empty() {
        bail!(
            "{} failure(s):\n  {}",
            failures.len(),
            failures.join("\n  ")
        );
    }
    Ok(())
}

/// Runs `cargo ARGS`; fails if it does.
fn step(args: &[&str]) -> Result<()> {
    let mut cmd = crate::cargo();
    cmd.args(args);
    eprintln!("xtask: running {}", command_line(&cmd));
    let status = cmd
        .status()
        .with_context(|| format!("failed to run {cmd:?}"))?;
    if !status.success() {
        bail!("`{}` failed: {status}", command_line(&cmd));
    }
    Ok(())
}

/// Removes what earlier `cargo package` runs unpacked of `crates` from their temporary local
/// registries (`$CARGO_HOME/registry/src/-HASH/NAME-VERSION`, one per workspace path). Cargo
/// unpacks a crate there once per name and version and does not look again, so a crate changed
/// since, at the same version, would be verified against its old sources by the crates that use
/// it. The crates.io sources (`index.crates.io-…`) are left alone.
fn forget_packaged_sources(crates: &[String]) -> Result<()> {
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cargo")));
    let Some(src) = home.map(|h| h.join("registry").join("src")) else {
        return Ok(());
    };
    let Ok(registries) = std::fs::read_dir(&src) else {
        return Ok(());
    };
    for registry in registries.flatten() {
        if !registry.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        for unpacked in std::fs::read_dir(registry.path())?.flatten() {
            if is_one_of(&unpacked.file_name().to_string_lossy(), crates) {
                std::fs::remove_dir_all(unpacked.path())
                    .with_context(|| format!("cannot remove {}", unpacked.path().display()))?;
            }
        }
    }
    Ok(())
}

/// `cargo package` of every publishable crate (the libraries), verified: each builds from what
/// would be uploaded, against the others as packaged.
fn package_libraries() -> Result<()> {
    let output = crate::cargo()
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .context("cannot run cargo metadata")?;
    if !output.status.success() {
        bail!("cargo metadata failed: {}", output.status);
    }
    let crates = crate::cargo_json::publishable(&String::from_utf8_lossy(&output.stdout))?;
    forget_packaged_sources(&crates)?;
    // The packages are verified in a target directory of their own, where what was built of
    // our crates from the temporary registry is forgotten first: cargo takes a registry crate
    // it has built as fresh as long as its version is the same, however its sources changed.
    let target = crate::workspace_root()
        .join("target")
        .join("package-verify");
    forget_built(&target.join("debug").join(".fingerprint"), &crates)?;
    let target = target
        .to_str()
        .context("the workspace's path is not UTF-8")?;
    let mut args = vec!["package", "--target-dir", target];
    for name in &crates {
        args.extend(["-p", name.as_str()]);
    }
    step(&args)
}

/// Whether `entry` (a directory name such as `lvscf-0.1.0` or `lvscf-1f2e…`) is one of
/// `crates`, followed by a version or a hash.
fn is_one_of(entry: &str, crates: &[String]) -> bool {
    crates.iter().any(|c| {
        entry
            .strip_prefix(c.as_str())
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|rest| {
                !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
            })
    })
}

/// Removes the build fingerprints of `crates` under `fingerprints`, so that they are built again.
fn forget_built(fingerprints: &std::path::Path, crates: &[String]) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(fingerprints) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        if is_one_of(&entry.file_name().to_string_lossy(), crates) {
            std::fs::remove_dir_all(entry.path())
                .with_context(|| format!("cannot remove {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Builds every test target and returns the executables cargo announces.
fn build_test_executables() -> Result<Vec<TestExecutable>> {
    let mut cmd = crate::cargo();
    cmd.args(["test", "--workspace", "--no-run", "--message-format=json"])
        .stderr(Stdio::inherit());
    eprintln!("xtask: running {}", command_line(&cmd));
    let output = cmd
        .output()
        .with_context(|| format!("failed to run {cmd:?}"))?;
    if !output.status.success() {
        bail!("`{}` failed: {}", command_line(&cmd), output.status);
    }
    cargo_json::test_executables(&String::from_utf8_lossy(&output.stdout))
}

/// The run of one kernel test binary.
fn kernel_spec(test: &TestExecutable) -> RunSpec {
    let mut command: Vec<OsString> = vec![test.executable.clone().into()];
    command.extend(KERNEL_TEST_ARGS.iter().map(OsString::from));
    // As cargo would run it: in its package, with that package's CARGO_MANIFEST_DIR.
    let mut manifest_dir = OsString::from("CARGO_MANIFEST_DIR=");
    manifest_dir.push(&test.package_dir);
    RunSpec {
        command,
        env: vm::guest_env(std::env::vars_os(), &[manifest_dir]),
        cwd: test.package_dir.clone(),
        timeout: KERNEL_BINARY_TIMEOUT,
        mem_mib: 1024,
        cpus: if test.is_timing_test() {
            TIMING_CPUS
        } else {
            1
        },
        verbose: false,
        instance: None,
    }
}

/// Says loudly that the rig cannot start and which tests therefore did not run; an error under
/// CI or without `--allow-skip`.
fn rig_unavailable(
    error: &anyhow::Error,
    self_check: &TestExecutable,
    kernel: &[&TestExecutable],
    ci: bool,
    allow_skip: bool,
) -> Result<()> {
    let mut not_run = Vec::new();
    for test in std::iter::once(&self_check).chain(kernel) {
        for name in ignored_tests(&test.executable) {
            not_run.push(format!("{}: {name}", test.target));
        }
    }
    eprintln!("\n################################################################");
    eprintln!("xtask: THE KERNEL TEST RIG CANNOT START: {error:#}");
    eprintln!(
        "xtask: these {} tests did NOT run:\n    {}",
        not_run.len(),
        not_run.join("\n    ")
    );
    eprintln!("################################################################\n");
    if ci {
        bail!("the rig cannot start, and under CI that is a failure");
    }
    if !allow_skip {
        bail!("the rig cannot start (pass --allow-skip to accept skipping the kernel tests)");
    }
    eprintln!("xtask: --allow-skip given: succeeding without the kernel tests");
    Ok(())
}

/// The names of the ignored tests of a test executable (`--list --ignored`).
fn ignored_tests(executable: &Path) -> Vec<String> {
    let output = Command::new(executable)
        .args(["--list", "--ignored", "--format", "terse"])
        .stderr(Stdio::null())
        .output();
    match output {
        Ok(out) => listed_tests(&String::from_utf8_lossy(&out.stdout)),
        Err(_) => vec![format!("(cannot list {})", executable.display())],
    }
}

/// The tests of a kernel test binary that are not `#[ignore]`d.
fn unignored_tests(executable: &Path) -> Result<Vec<String>> {
    let output = Command::new(executable)
        .args(["--list", "--format", "terse"])
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {}", executable.display()))?;
    if !output.status.success() {
        bail!(
            "`{} --list` failed: {}",
            executable.display(),
            output.status
        );
    }
    let ignored = ignored_tests(executable);
    Ok(listed_tests(&String::from_utf8_lossy(&output.stdout))
        .into_iter()
        .filter(|name| !ignored.contains(name))
        .collect())
}

/// Test names out of libtest's `--list --format terse` output (`NAME: test` lines).
fn listed_tests(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(str::to_owned)
        .collect()
}

/// `cmd` as a command line, for messages.
fn command_line(cmd: &Command) -> String {
    let mut all = vec![cmd.get_program().to_owned()];
    all.extend(cmd.get_args().map(ToOwned::to_owned));
    words(&all)
}

/// Words joined by spaces (lossily decoded), for messages.
fn words(words: &[OsString]) -> String {
    words
        .iter()
        .map(|w| w.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {

    #[test]
    fn our_crates_are_told_from_others_by_name_then_version_or_hash() {
        let crates = ["lvscf".to_string(), "lvs-fos".to_string()];
        for ours in ["lvscf-0.1.0", "lvscf-1f2e3d4c5b6a7988", "lvs-fos-0.1.0"] {
            assert!(is_one_of(ours, &crates), "{ours}");
        }
        for other in [
            "lvscf-fuzz-0a1b",
            "lvs-fos",
            "lvscfx-0.1.0",
            "tokio-1.4.0",
            "lvs-fos-",
        ] {
            assert!(!is_one_of(other, &crates), "{other}");
        }
    }

    use super::*;

    #[test]
    fn listed_tests_from_libtest_terse_output() {
        let text = "a::b: test\nkernel_x: test\nsome_bench: benchmark\n\n";
        assert_eq!(listed_tests(text), ["a::b", "kernel_x"]);
    }

    #[test]
    fn kernel_binaries_run_ignored_tests_one_at_a_time_in_their_package() {
        let test = TestExecutable {
            target: "kernel_rig".into(),
            integration: true,
            executable: "/t/kernel_rig-1".into(),
            package_dir: "/w/testkit".into(),
        };
        let spec = kernel_spec(&test);
        assert_eq!(
            words(&spec.command),
            "/t/kernel_rig-1 --ignored --test-threads=1"
        );
        assert_eq!(spec.cwd, Path::new("/w/testkit"));
        assert!(
            spec.env
                .contains(&("CARGO_MANIFEST_DIR".into(), "/w/testkit".into()))
        );
        assert_eq!(spec.cpus, 1);
    }

    #[test]
    fn timing_tests_get_several_cpus() {
        let test = TestExecutable {
            target: "kernel_timing_failover".into(),
            integration: true,
            executable: "/t/kernel_timing_failover-1".into(),
            package_dir: "/w/director".into(),
        };
        assert!(test.is_timing_test());
        assert_eq!(kernel_spec(&test).cpus, TIMING_CPUS);
    }
}
