//! `cargo xtask`: the project's automation.
//!
//! * `cargo xtask test`: every test of the workspace: formatting, clippy, host tests, then the
//!   rig's self-check and the kernel tests inside the rig.
//! * `cargo xtask vm -- COMMAND [ARGS…]`: run one command in a throw-away kernel with IPVS.
//! * `cargo xtask kernel-test [CARGO TEST ARGS…]`: `cargo test` with the rig as target runner.
//! * `cargo xtask bench-report`, `cargo xtask reliability`: `BENCHMARKS.md`, `RELIABILITY.md`.
//! * `cargo xtask dist [--debug]`: the Debian package.
//!
//! See `cargo xtask help` and the README.

mod bench_report;
mod cargo_json;
mod dist;
mod duration;
mod flags;
mod install;
mod reliability;
mod report;
mod signals;
mod test;
mod vm;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

use flags::{Task, VmFlags};
use vm::{Backend, Outcome, RunSpec};

/// Exit status when the rig itself fails (as `timeout(1)` does).
const RIG_FAILED: u8 = 125;
/// Exit status when the command timed out (as `timeout(1)` does).
const TIMED_OUT: u8 = 124;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let is_vm = args.first().is_some_and(|a| a == "vm");
    let usage_error = if is_vm { RIG_FAILED } else { 2 };
    let task = default_backend().and_then(|backend| flags::parse(args, backend));
    let task = match task {
        Ok(task) => task,
        Err(e) => {
            eprintln!("xtask: {e:#}\n{}", flags::USAGE);
            return ExitCode::from(usage_error);
        }
    };
    if let Err(e) = signals::install() {
        eprintln!("xtask: cannot take over signals: {e}");
        return ExitCode::from(usage_error);
    }
    match task {
        Task::Help => {
            println!("{}", flags::USAGE);
            ExitCode::SUCCESS
        }
        Task::Test(flags) => match test::run(&flags) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("xtask test: {e:#}");
                ExitCode::FAILURE
            }
        },
        Task::Vm(flags) => vm_task(&flags).unwrap_or_else(|e| {
            eprintln!("xtask vm: {e:#}");
            ExitCode::from(RIG_FAILED)
        }),
        Task::BenchReport(flags) => match bench_report::run(&flags) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("xtask bench-report: {e:#}");
                ExitCode::FAILURE
            }
        },
        Task::Reliability(flags) => match reliability::run(&flags) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("xtask reliability: {e:#}");
                ExitCode::FAILURE
            }
        },
        Task::Dist { debug } => match dist::run(debug) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("xtask dist: {e:#}");
                ExitCode::FAILURE
            }
        },
        Task::Demo { backend, args } => demo(backend, &args).unwrap_or_else(|e| {
            eprintln!("xtask demo: {e:#}");
            ExitCode::FAILURE
        }),
        Task::KernelTest {
            backend,
            cargo_args,
        } => kernel_test(backend, &cargo_args).unwrap_or_else(|e| {
            eprintln!("xtask kernel-test: {e:#}");
            ExitCode::FAILURE
        }),
    }
}

/// `LVS_RIG_BACKEND`, or `None`: the rig chooses (UML where it runs, else qemu).
fn default_backend() -> Result<Option<Backend>> {
    match std::env::var("LVS_RIG_BACKEND") {
        Ok(name) if !name.is_empty() => name.parse().map(Some).context("LVS_RIG_BACKEND"),
        _ => Ok(None),
    }
}

/// `cargo xtask vm`.
fn vm_task(flags: &VmFlags) -> Result<ExitCode> {
    if flags.backend == Some(Backend::Uml) && flags.cpus > 1 {
        eprintln!(
            "xtask vm: UML has one CPU; --cpus {} is ignored (use --backend qemu)",
            flags.cpus
        );
    }
    let mut rig = vm::prepare(flags.backend)?;
    // Said when verbose only: the command's stderr comes back byte for byte.
    if let Some(line) = rig.choice().filter(|_| flags.verbose || flags.prepare_only) {
        eprintln!("{line}");
    }
    if flags.prepare_only {
        eprintln!("xtask vm: the {} backend is ready", rig.backend());
        return Ok(ExitCode::SUCCESS);
    }
    let cwd = match &flags.cwd {
        Some(dir) => dir.clone(),
        None => std::env::current_dir()?,
    };
    let spec = RunSpec {
        command: flags.command.clone(),
        env: vm::guest_env(std::env::vars_os(), &flags.env),
        cwd: cwd
            .canonicalize()
            .with_context(|| format!("no such directory {}", cwd.display()))?,
        timeout: flags.timeout,
        mem_mib: flags.mem_mib,
        cpus: flags.cpus,
        verbose: flags.verbose,
        instance: flags.instance.clone(),
    };
    let (outcome, _) = rig.run(&spec)?;
    Ok(match outcome {
        Outcome::Exited(status) => ExitCode::from(status),
        Outcome::TimedOut => {
            eprintln!(
                "xtask vm: timed out after {:?}; the VM was stopped",
                flags.timeout
            );
            ExitCode::from(TIMED_OUT)
        }
        Outcome::Interrupted(signal) => {
            ExitCode::from(u8::try_from(128 + signal).unwrap_or(RIG_FAILED))
        }
        Outcome::NoStatus { console, .. } => {
            eprintln!("xtask vm: {console}");
            ExitCode::from(RIG_FAILED)
        }
    })
}

/// `cargo xtask demo`: builds the director and its demo, then runs the demo in the rig (as
/// root in a kernel with IPVS, which the demo needs), with 2 CPUs under qemu.
fn demo(backend: Backend, args: &[OsString]) -> Result<ExitCode> {
    let mut build = cargo();
    build.args([
        "build",
        "-p",
        "director",
        "--bin",
        "director",
        "--example",
        "demo",
        "--message-format=json-render-diagnostics",
    ]);
    build.stderr(std::process::Stdio::inherit());
    eprintln!("xtask: building the director and its demo");
    let output = build.output().context("cannot run cargo build")?;
    if !output.status.success() {
        bail!("cargo build failed: {}", output.status);
    }
    let built = String::from_utf8_lossy(&output.stdout);
    let director = cargo_json::program(&built, "bin", "director")
        .context("cargo did not announce the director binary")?;
    let program = cargo_json::program(&built, "example", "demo")
        .context("cargo did not announce the demo example")?;
    let mut rig = vm::prepare(Some(backend))?;
    let mut command: Vec<OsString> = vec![program.into(), "--director".into(), director.into()];
    command.extend(args.iter().cloned());
    let spec = RunSpec {
        command,
        env: vm::guest_env(std::env::vars_os(), &[]),
        cwd: workspace_root(),
        timeout: std::time::Duration::from_secs(30 * 60),
        mem_mib: 1024,
        cpus: if backend == Backend::Qemu { 2 } else { 1 },
        verbose: false,
        instance: None,
    };
    let (outcome, _) = rig.run(&spec)?;
    Ok(match outcome {
        Outcome::Exited(status) => ExitCode::from(status),
        other => bail!("the demo did not finish: {other:?}"),
    })
}

/// What `cargo xtask kernel-test` passes to `cargo test` when given nothing: every kernel test.
const DEFAULT_KERNEL_TEST_ARGS: [&str; 6] = [
    "--workspace",
    "--test",
    "kernel*",
    "--",
    "--ignored",
    "--test-threads=1",
];

/// `cargo xtask kernel-test`: `cargo test` with this rig as the target runner, set through the
/// environment only (in `.cargo/config.toml` it would send every host test into the VM). An
/// automatic choice of backend is settled first, by one boot, and passed on to the runner.
fn kernel_test(backend: Option<Backend>, cargo_args: &[OsString]) -> Result<ExitCode> {
    let backend = match backend {
        Some(backend) => backend,
        None => vm::start(None)?.backend(),
    };
    let exe = std::env::current_exe()?;
    let exe = exe.to_str().context("xtask's path is not UTF-8")?;
    if exe.contains(char::is_whitespace) {
        bail!("xtask's path {exe:?} has whitespace: cargo would split the runner there");
    }
    let mut cmd = cargo();
    cmd.arg("test");
    if cargo_args.is_empty() {
        cmd.args(DEFAULT_KERNEL_TEST_ARGS);
    } else {
        cmd.args(cargo_args);
    }
    cmd.env(
        runner_variable(),
        format!("{exe} vm --backend {backend} --"),
    );
    eprintln!("xtask: running {cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("failed to run {cmd:?}"))?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

/// `CARGO_TARGET_<HOST TRIPLE>_RUNNER`.
fn runner_variable() -> String {
    format!(
        "CARGO_TARGET_{}_UNKNOWN_LINUX_GNU_RUNNER",
        std::env::consts::ARCH.to_uppercase()
    )
}

/// The workspace's root directory.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `cargo`, in the workspace root.
fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(workspace_root());
    cmd
}
