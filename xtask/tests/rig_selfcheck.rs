//! Tests of the rig itself: they run on the host and boot VMs through `xtask vm`.
//!
//! They need root and boot kernels, so a plain `cargo test` skips them; `cargo xtask test` runs
//! them (on the host, before the kernel tests) with `--ignored --test-threads=1`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `xtask vm ARGS…`, the binary cargo built for these tests.
fn xtask_vm(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.arg("vm").args(args).stdin(Stdio::null());
    cmd
}

/// An instance name unique to this test process.
fn instance(test: &str) -> String {
    format!("selfcheck-{test}-{}", std::process::id())
}

/// Processes still carrying the instance's marker (see `xtask/src/vm/process.rs`).
fn leftovers(instance: &str) -> Vec<String> {
    let marker = format!("lvsrig_instance={instance}");
    std::fs::read_dir("/proc")
        .expect("cannot list /proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let has = cmdline
                .split(|b| *b == 0 || *b == b' ')
                .any(|w| w == marker.as_bytes());
            has.then(|| format!("{pid}: {}", String::from_utf8_lossy(&cmdline)))
        })
        .collect()
}

#[test]
#[ignore = "boots the rig: run with `cargo xtask test`"]
fn exit_status_stdout_and_stderr_come_back_unchanged() {
    let Output {
        status,
        stdout,
        stderr,
    } = xtask_vm(&[
        "--",
        "bash",
        "-c",
        r#"printf 'out\x00\xff\r\n'; printf 'err line\n\x01' >&2; exit 7"#,
    ])
    .output()
    .unwrap();
    assert_eq!(stdout, b"out\x00\xff\r\n");
    assert_eq!(stderr, b"err line\n\x01");
    assert_eq!(status.code(), Some(7));
}

#[test]
#[ignore = "boots the rig: run with `cargo xtask test`"]
fn the_command_is_an_argv_never_reparsed_by_a_shell() {
    let output = xtask_vm(&[
        "--",
        "printf",
        "[%s]",
        "a  b",
        "$(echo no)",
        "'q' \"d\"",
        "",
        "*",
        ";exit 3",
    ])
    .output()
    .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "[a  b][$(echo no)]['q' \"d\"][][*][;exit 3]"
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
}

#[test]
#[ignore = "boots the rig: run with `cargo xtask test`"]
fn a_hanging_command_is_stopped_at_the_timeout_and_nothing_is_left_running() {
    let name = instance("timeout");
    let started = Instant::now();
    let output = xtask_vm(&["--timeout", "8s", "--instance", &name, "--", "sleep", "600"])
        .output()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(output.status.code(), Some(124), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("timed out after 8s"),
        "{output:?}"
    );
    // 8 s, plus at most 3 s for the VM to stop after SIGTERM, plus slack for a loaded machine.
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert_eq!(leftovers(&name), Vec::<String>::new());
}

#[test]
#[ignore = "boots the rig: run with `cargo xtask test`"]
fn an_interrupted_run_stops_the_vm_and_leaves_nothing_running() {
    let name = instance("interrupt");
    let mut xtask = xtask_vm(&[
        "--instance",
        &name,
        "--",
        "sh",
        "-c",
        "echo ready; exec sleep 600",
    ])
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    // Once the guest says "ready", the VM is fully up.
    let mut line = String::new();
    BufReader::new(xtask.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    assert!(
        !leftovers(&name).is_empty(),
        "the VM's processes carry the marker"
    );
    let kill = Command::new("kill")
        .args(["-INT", &xtask.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = xtask.wait().unwrap();
    assert_eq!(status.code(), Some(130), "128 + SIGINT");
    assert_eq!(leftovers(&name), Vec::<String>::new());
}

#[test]
#[ignore = "boots the rig: run with `cargo xtask test`"]
fn a_guest_that_dies_without_a_status_is_a_rig_failure_with_the_console_shown() {
    // The guest powers off at once: no exit status ever reaches the host.
    let output = xtask_vm(&[
        "--",
        "sh",
        "-c",
        "echo o > /proc/sysrq-trigger; exec sleep 60",
    ])
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(125), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("without reporting an exit status"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Power down"),
        "the guest console is shown: {stderr}"
    );
}

#[test]
#[ignore = "boots the rig: run with `cargo xtask test`"]
fn a_killed_xtask_leaves_nothing_running() {
    let name = instance("sigkill");
    let mut xtask = xtask_vm(&[
        "--instance",
        &name,
        "--",
        "sh",
        "-c",
        "echo ready; exec sleep 600",
    ])
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let mut line = String::new();
    BufReader::new(xtask.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    // No chance to clean up: the VM must go by itself (parent-death signal, PID namespace).
    xtask.kill().unwrap();
    xtask.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut left = leftovers(&name);
    while !left.is_empty() && Instant::now() < deadline {
        // Polling for a condition, with a deadline: the kernel tears the VM down asynchronously.
        std::thread::sleep(Duration::from_millis(50));
        left = leftovers(&name);
    }
    assert_eq!(left, Vec::<String>::new());
}

/// The file status flags of descriptor `fd` of this process, from `/proc/self/fdinfo`.
fn status_flags(fd: i32) -> u32 {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).expect("fdinfo");
    let octal = info
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .expect("a flags: line");
    u32::from_str_radix(octal.trim(), 8).expect("octal flags")
}

#[test]
#[ignore = "boots the rig: run with `cargo xtask test`"]
fn the_callers_stdout_is_not_left_non_blocking() {
    use std::os::fd::AsRawFd;
    // xtask's stdout shares its open file description with ours, as with a shell or cargo.
    let (ours, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let before = status_flags(ours.as_raw_fd());
    let status = xtask_vm(&["--", "true"])
        .stdout(std::os::fd::OwnedFd::from(ours.try_clone().unwrap()))
        .status()
        .unwrap();
    assert!(status.success());
    const O_NONBLOCK: u32 = 0o4000;
    assert_eq!(before & O_NONBLOCK, 0);
    assert_eq!(status_flags(ours.as_raw_fd()), before);
}

/// The backends to check a case on: `LVS_RIG_BACKENDS` (set by `cargo xtask test` to every
/// backend that booted on this host), else the one of `LVS_RIG_BACKEND`, else the rig's choice.
fn backends() -> Vec<Option<String>> {
    let list = std::env::var("LVS_RIG_BACKENDS")
        .or_else(|_| std::env::var("LVS_RIG_BACKEND"))
        .unwrap_or_default();
    let named: Vec<Option<String>> = list
        .split(',')
        .filter(|b| !b.is_empty())
        .map(|b| Some(b.to_owned()))
        .collect();
    if named.is_empty() { vec![None] } else { named }
}

#[test]
#[ignore = "boots the rig: run with `cargo xtask test`"]
fn a_guest_kernel_panic_is_a_rig_failure_within_15_seconds_on_each_backend() {
    for backend in backends() {
        let mut args = Vec::new();
        if let Some(backend) = &backend {
            args.extend(["--backend", backend.as_str()]);
        }
        args.extend([
            "--timeout",
            "5m",
            "--",
            "sh",
            "-c",
            "echo c > /proc/sysrq-trigger; exec sleep 600",
        ]);
        let started = Instant::now();
        let output = xtask_vm(&args).output().unwrap();
        let took = started.elapsed();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(125), "{backend:?}: {stderr}");
        assert!(
            stderr.contains(
                "the guest kernel panicked (Kernel panic - not syncing: sysrq triggered crash)"
            ),
            "{backend:?}: {stderr}"
        );
        assert!(
            took < Duration::from_secs(15),
            "{backend:?}: a panicked guest took {took:?} to be reported"
        );
    }
}

#[test]
#[ignore = "boots the rig: run with `cargo xtask test`"]
fn where_uml_cannot_boot_the_rig_says_so_in_one_line_and_runs_the_command_under_qemu() {
    // The init hook makes a UML guest panic before the command starts, as UML does on hosts
    // whose CPUs it cannot handle; the extra kernel argument of this process makes the kept
    // verdict this test's own (the verdict is keyed on the kernel arguments too).
    let kernel_args = format!(
        "lvsrig_uml_cannot_boot=1 lvsrig_selfcheck={}",
        std::process::id()
    );
    let run = |verbose: bool| {
        let mut args = vec!["--", "uname", "-m"];
        if verbose {
            args.insert(0, "--verbose");
        }
        xtask_vm(&args)
            .env_remove("LVS_RIG_BACKEND")
            .env("LVS_RIG_KERNEL_ARGS", &kernel_args)
            .output()
            .unwrap()
    };
    let said = |output: &Output| -> Vec<String> {
        String::from_utf8_lossy(&output.stderr)
            .lines()
            .filter(|l| l.starts_with("xtask: UML cannot run on this host (guest kernel panic: "))
            .map(str::to_owned)
            .collect()
    };
    let first = run(false);
    assert_eq!(first.status.code(), Some(0), "{first:?}");
    // Once, under qemu's kernel (UML's machine is "um").
    assert_eq!(String::from_utf8_lossy(&first.stdout), "x86_64\n");
    let lines = said(&first);
    assert_eq!(lines.len(), 1, "{first:?}");
    assert!(lines[0].ends_with("); using qemu"), "{}", lines[0]);

    // The second time the verdict comes from the cache, and UML is not booted again; `vm` says
    // so only when verbose (the command's stderr comes back byte for byte).
    let quiet = run(false);
    assert_eq!(quiet.status.code(), Some(0), "{quiet:?}");
    assert_eq!(said(&quiet), Vec::<String>::new());
    assert_eq!(String::from_utf8_lossy(&quiet.stdout), "x86_64\n");
    let second = run(true);
    assert_eq!(second.status.code(), Some(0), "{second:?}");
    let lines = said(&second);
    assert_eq!(lines.len(), 1, "{second:?}");
    let kept = lines[0]
        .split_once("seen before, kept in ")
        .and_then(|(_, rest)| rest.strip_suffix("); using qemu"))
        .unwrap_or_else(|| panic!("not from the cache: {}", lines[0]));
    std::fs::remove_file(kept).unwrap();
}

#[test]
#[ignore = "boots the rig: run with `cargo xtask test`"]
fn output_into_a_regular_file_lands_at_its_position_and_moves_it_on_each_backend() {
    use std::io::{Seek, Write};
    for backend in backends() {
        // As `cmd > log` in a shell: one open file description, shared by the caller and xtask,
        // whose position each write moves on. What the caller writes after the VM must follow
        // the guest's output, not overwrite it.
        let path = std::env::temp_dir().join(format!("selfcheck-log-{}", std::process::id()));
        let mut log = std::fs::File::create(&path).unwrap();
        log.write_all(b"before\n").unwrap();
        let mut args = Vec::new();
        if let Some(backend) = &backend {
            args.extend(["--backend", backend.as_str()]);
        }
        args.extend(["--", "sh", "-c", "echo out; echo err >&2"]);
        let status = xtask_vm(&args)
            .stdout(log.try_clone().unwrap())
            .stderr(log.try_clone().unwrap())
            .status()
            .unwrap();
        assert!(status.success(), "{backend:?}");
        log.write_all(b"after\n").unwrap();
        let end = log.stream_position().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(end, text.len() as u64, "{backend:?}: {text:?}");
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| ["before", "out", "err", "after"].contains(l))
            .collect();
        assert_eq!(lines.first(), Some(&"before"), "{backend:?}: {text:?}");
        assert_eq!(lines.last(), Some(&"after"), "{backend:?}: {text:?}");
        assert!(
            lines.contains(&"out") && lines.contains(&"err"),
            "{backend:?}: {text:?}"
        );
    }
}
