//! The command line of `cargo xtask`, parsed into a [`Task`].

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::duration;
use crate::report::{Report, ReportFlags};
use crate::vm::Backend;

/// Usage text, printed on `help` and on errors.
pub(crate) const USAGE: &str = "\
usage:
  cargo xtask test [--allow-skip] [--backend uml|qemu]
      fmt --check, clippy -D warnings, host tests, then the kernel tests in the rig
  cargo xtask vm [OPTIONS] -- COMMAND [ARGS...]
      run one command (an argv) as root in a throw-away kernel with IPVS; exit with its status
      (124 on timeout, 125 when the rig itself fails)
        --backend uml|qemu     kernel to boot (env LVS_RIG_BACKEND; default: UML where it
                               runs, qemu where its guest kernel panics, said in one line)
        --cpus N               qemu only: number of vCPUs (default 1; UML always has one)
        --mem MIB              guest memory (default 1024)
        --timeout DURATION     stop the VM after DURATION, e.g. 90s, 10m (default 30m)
        --cwd DIR              working directory in the guest (default: the current one)
        --env NAME[=VALUE]     pass one more environment variable (repeatable)
        --verbose              stream the guest console to stderr and print timings
        --prepare              only install packages and prepare the cache, run nothing
        --instance NAME        name the VM (each of its processes has lvsrig_instance=NAME)
  cargo xtask demo [--backend uml|qemu] [-- DEMO ARGS...]
      the director's demo in the rig (qemu with 2 CPUs unless --backend uml): the seed's NAT
      deployment with a backup router, its IPVS table, a failover and the downtime a client saw;
      DEMO ARGS: --fast (1 s/3 s timers instead of the seed's 6 s/18 s), --runs N
  cargo xtask bench-report [--quick] [--only SECTION,...] [--out FILE]
      the side-by-side benchmarks (benches/) against ipvsadm and keepalived, run on the host
      and in the rig (qemu, 2 CPUs), written to BENCHMARKS.md; sections: ipvs, checks,
      host-checks, failover, scrape, lvscf; --quick: small sizes and few runs
  cargo xtask reliability [--quick] [--only SECTION,...] [--out FILE]
      the fault, hostile-input and load campaigns, written to RELIABILITY.md; sections: fuzz
      (every fuzz target 10 minutes, its finds merged into the kept corpus), forgery (100,000
      forged, replayed, truncated and reordered heartbeats of each kind), storms (a minute of
      100 SIGHUPs a second and a flapping real server), resources (descriptors, threads and
      memory after 10,000 failed checks and 1,000 reloads), netlink (1,000 dumps racing
      changes), crashes (200 SIGKILLs in reloads and start-ups), partitions (netem on the
      heartbeat's paths, a partition healed); --quick: short runs
  cargo xtask dist [--debug]
      the Debian package of the director and its tools (dpkg-deb), in target/dist/; --debug
      packs debug binaries (for tests)
  cargo xtask kernel-test [--backend uml|qemu] [CARGO TEST ARGS...]
      `cargo test CARGO TEST ARGS...` with the rig as cargo's target runner: every test binary
      boots one VM, e.g. cargo xtask kernel-test -p testkit --test kernel_rig -- --ignored;
      with no arguments: --workspace --test 'kernel*' -- --ignored --test-threads=1";

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Task {
    /// `cargo xtask test`
    Test(TestFlags),
    /// `cargo xtask vm`
    Vm(VmFlags),
    /// `cargo xtask kernel-test`
    KernelTest {
        /// Kernel to boot; `None` chooses automatically.
        backend: Option<Backend>,
        /// Arguments for `cargo test`.
        cargo_args: Vec<OsString>,
    },
    /// `cargo xtask demo`
    Demo {
        /// Kernel to boot.
        backend: Backend,
        /// Arguments for the demo program.
        args: Vec<OsString>,
    },
    /// `cargo xtask bench-report`
    BenchReport(ReportFlags),
    /// `cargo xtask reliability`
    Reliability(ReportFlags),
    /// `cargo xtask dist`
    Dist {
        /// Debug binaries instead of release ones.
        debug: bool,
    },
    /// `cargo xtask help`
    Help,
}

/// Options of `cargo xtask test`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TestFlags {
    /// Outside CI, succeed even when the rig cannot start (the kernel tests are then skipped).
    pub(crate) allow_skip: bool,
    /// Kernel to boot; `None` chooses automatically.
    pub(crate) backend: Option<Backend>,
}

/// Options of `cargo xtask vm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VmFlags {
    /// Kernel to boot; `None` chooses automatically.
    pub(crate) backend: Option<Backend>,
    /// qemu's vCPUs.
    pub(crate) cpus: u32,
    /// Guest memory in MiB.
    pub(crate) mem_mib: u32,
    /// When to stop the VM.
    pub(crate) timeout: Duration,
    /// Working directory in the guest; `None` is the current one.
    pub(crate) cwd: Option<PathBuf>,
    /// Extra environment: `NAME` (take the host's value) or `NAME=VALUE`.
    pub(crate) env: Vec<OsString>,
    /// Stream the guest console to stderr, print timings.
    pub(crate) verbose: bool,
    /// Only prepare, run nothing.
    pub(crate) prepare_only: bool,
    /// A name for this VM instance (appears on the kernel command line); generated when `None`.
    pub(crate) instance: Option<String>,
    /// The command, an argv.
    pub(crate) command: Vec<OsString>,
}

/// The default `--timeout` of `cargo xtask vm`.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

impl VmFlags {
    /// Defaults for `backend`, with no command.
    pub(crate) fn new(backend: Option<Backend>) -> Self {
        Self {
            backend,
            cpus: 1,
            mem_mib: 1024,
            timeout: DEFAULT_TIMEOUT,
            cwd: None,
            env: Vec::new(),
            verbose: false,
            prepare_only: false,
            instance: None,
            command: Vec::new(),
        }
    }
}

/// Parses the arguments after `cargo xtask`. `default_backend` is `LVS_RIG_BACKEND`, or `None`
/// for an automatic choice.
pub(crate) fn parse(args: Vec<OsString>, default_backend: Option<Backend>) -> Result<Task> {
    let mut args = args.into_iter();
    let Some(task) = args.next() else {
        bail!("no task given");
    };
    let mut args = Args(args.collect::<Vec<_>>().into_iter());
    match task.to_str() {
        Some("test") => {
            let mut flags = TestFlags {
                allow_skip: false,
                backend: default_backend,
            };
            while let Some(arg) = args.next_str()? {
                match arg.as_str() {
                    "--allow-skip" => flags.allow_skip = true,
                    "--backend" => flags.backend = Some(args.value(&arg)?.parse()?),
                    _ => bail!("unknown option {arg} for `test`"),
                }
            }
            Ok(Task::Test(flags))
        }
        Some("vm") => parse_vm(args, default_backend).map(Task::Vm),
        Some("kernel-test") => {
            let mut backend = default_backend;
            let mut cargo_args: Vec<OsString> = args.0.collect();
            if cargo_args.first().is_some_and(|a| a == "--backend") {
                let value = cargo_args
                    .get(1)
                    .and_then(|v| v.to_str())
                    .context("--backend needs a value")?;
                backend = Some(value.parse()?);
                cargo_args.drain(..2);
            }
            Ok(Task::KernelTest {
                backend,
                cargo_args,
            })
        }
        Some("demo") => {
            // qemu unless forced: the demo's timings want its 2 CPUs.
            let mut backend = default_backend.unwrap_or(Backend::Qemu);
            let mut demo_args = Vec::new();
            while let Some(arg) = args.0.next() {
                match arg.to_str() {
                    Some("--backend") => backend = args.value("--backend")?.parse()?,
                    Some("--") => {
                        demo_args.extend(args.0.by_ref());
                    }
                    _ => bail!("unknown option {} for `demo`", arg.to_string_lossy()),
                }
            }
            Ok(Task::Demo {
                backend,
                args: demo_args,
            })
        }
        Some("dist") => {
            let mut debug = false;
            while let Some(arg) = args.next_str()? {
                match arg.as_str() {
                    "--debug" => debug = true,
                    other => bail!("unknown option {other:?} for dist"),
                }
            }
            Ok(Task::Dist { debug })
        }
        Some("bench-report") => Ok(Task::BenchReport(parse_report(
            args,
            &crate::bench_report::REPORT,
            crate::bench_report::default_out(),
        )?)),
        Some("reliability") => Ok(Task::Reliability(parse_report(
            args,
            &crate::reliability::REPORT,
            crate::reliability::default_out(),
        )?)),
        Some("help" | "--help" | "-h") => Ok(Task::Help),
        _ => bail!("unknown task {}", task.to_string_lossy()),
    }
}

/// The options of a report task (`bench-report`, `reliability`).
fn parse_report(mut args: Args, report: &Report, out: PathBuf) -> Result<ReportFlags> {
    let mut flags = ReportFlags {
        quick: false,
        only: Vec::new(),
        out,
    };
    while let Some(arg) = args.0.next() {
        match arg.to_str() {
            Some("--quick") => flags.quick = true,
            Some("--only") => {
                let list = args.value("--only")?;
                for name in list.split(',') {
                    if !report.sections.contains(&name) {
                        bail!(
                            "unknown section {name} (known: {})",
                            report.sections.join(", ")
                        );
                    }
                    flags.only.push(name.to_string());
                }
            }
            Some("--out") => flags.out = PathBuf::from(args.value("--out")?),
            _ => bail!(
                "unknown option {} for `{}`",
                arg.to_string_lossy(),
                report.task
            ),
        }
    }
    Ok(flags)
}

fn parse_vm(mut args: Args, default_backend: Option<Backend>) -> Result<VmFlags> {
    let mut flags = VmFlags::new(default_backend);
    while let Some(arg) = args.0.next() {
        let Some(text) = arg.to_str().filter(|a| a.starts_with('-')) else {
            // The first word that is not an option starts the command.
            flags.command.push(arg);
            break;
        };
        let text = text.to_owned();
        match text.as_str() {
            "--" => break,
            "--backend" => flags.backend = Some(args.value(&text)?.parse()?),
            "--cpus" => {
                flags.cpus = args
                    .value(&text)?
                    .parse()
                    .ok()
                    .filter(|n| *n >= 1)
                    .context("--cpus needs a number >= 1")?;
            }
            "--mem" => {
                flags.mem_mib = args
                    .value(&text)?
                    .parse()
                    .ok()
                    .filter(|n| *n >= 64)
                    .context("--mem needs a number of MiB >= 64")?;
            }
            "--timeout" => flags.timeout = duration::parse(&args.value(&text)?)?,
            "--cwd" => flags.cwd = Some(PathBuf::from(args.os_value(&text)?)),
            "--env" => flags.env.push(args.os_value(&text)?),
            "--instance" => flags.instance = Some(args.value(&text)?),
            "--verbose" | "-v" => flags.verbose = true,
            "--prepare" => flags.prepare_only = true,
            _ => bail!("unknown option {text} for `vm`"),
        }
    }
    flags.command.extend(args.0);
    if flags.command.is_empty() && !flags.prepare_only {
        bail!("no command given: cargo xtask vm [OPTIONS] -- COMMAND [ARGS...]");
    }
    Ok(flags)
}

/// The remaining arguments.
struct Args(std::vec::IntoIter<OsString>);

impl Args {
    /// The next argument, which must be UTF-8 (an option name).
    fn next_str(&mut self) -> Result<Option<String>> {
        self.0
            .next()
            .map(|a| {
                a.into_string()
                    .map_err(|a| anyhow::anyhow!("invalid argument {}", a.to_string_lossy()))
            })
            .transpose()
    }

    /// The value of `option`, which must be UTF-8.
    fn value(&mut self, option: &str) -> Result<String> {
        self.next_str()?
            .with_context(|| format!("{option} needs a value"))
    }

    /// The value of `option`, any bytes.
    fn os_value(&mut self, option: &str) -> Result<OsString> {
        self.0
            .next()
            .with_context(|| format!("{option} needs a value"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    fn vm(words: &[&str]) -> Result<VmFlags> {
        let mut all = vec!["vm"];
        all.extend_from_slice(words);
        match parse(args(&all), None)? {
            Task::Vm(flags) => Ok(flags),
            other => panic!("not a vm task: {other:?}"),
        }
    }

    #[test]
    fn report_tasks_take_their_own_sections() {
        let task = parse(args(&["reliability", "--quick", "--only", "fuzz"]), None).unwrap();
        let Task::Reliability(flags) = task else {
            panic!("{task:?}")
        };
        assert!(flags.quick);
        assert_eq!(flags.only, ["fuzz"]);
        assert!(flags.out.ends_with("RELIABILITY.md"));
        let err = parse(args(&["reliability", "--only", "ipvs"]), None).unwrap_err();
        assert!(err.to_string().contains("unknown section ipvs"), "{err}");
        let task = parse(args(&["bench-report", "--only", "ipvs,scrape"]), None).unwrap();
        let Task::BenchReport(flags) = task else {
            panic!("{task:?}")
        };
        assert_eq!(flags.only, ["ipvs", "scrape"]);
        assert!(flags.out.ends_with("BENCHMARKS.md"));
        assert!(parse(args(&["bench-report", "--only", "fuzz"]), None).is_err());
    }

    #[test]
    fn vm_options_then_command_after_double_dash() {
        let flags = vm(&[
            "--backend",
            "qemu",
            "--cpus",
            "2",
            "--timeout",
            "90s",
            "--",
            "ls",
            "--all",
            "-l",
        ])
        .unwrap();
        assert_eq!(flags.backend, Some(Backend::Qemu));
        assert_eq!(flags.cpus, 2);
        assert_eq!(flags.timeout, Duration::from_secs(90));
        assert_eq!(flags.command, args(&["ls", "--all", "-l"]));
    }

    #[test]
    fn vm_command_words_are_kept_verbatim() {
        let flags = vm(&["--", "sh", "-c", "echo 'a  b'; exit 3", "--", "--timeout"]).unwrap();
        assert_eq!(
            flags.command,
            args(&["sh", "-c", "echo 'a  b'; exit 3", "--", "--timeout"])
        );
        assert_eq!(flags.timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn vm_command_may_start_without_double_dash() {
        let flags = vm(&["--verbose", "true", "--help"]).unwrap();
        assert!(flags.verbose);
        assert_eq!(flags.command, args(&["true", "--help"]));
    }

    #[test]
    fn vm_refuses_bad_options() {
        assert!(vm(&["--", ""]).is_ok());
        assert!(vm(&[]).is_err());
        assert!(vm(&["--"]).is_err());
        assert!(vm(&["--timeout", "90", "--", "true"]).is_err());
        assert!(vm(&["--cpus", "0", "--", "true"]).is_err());
        assert!(vm(&["--backend", "kvm", "--", "true"]).is_err());
        assert!(vm(&["--frobnicate", "--", "true"]).is_err());
        assert!(vm(&["--timeout"]).is_err());
        assert!(vm(&["--prepare"]).is_ok());
    }

    #[test]
    fn test_task() {
        assert_eq!(
            parse(args(&["test", "--allow-skip"]), None).unwrap(),
            Task::Test(TestFlags {
                allow_skip: true,
                backend: None
            })
        );
        assert_eq!(
            parse(args(&["test"]), Some(Backend::Qemu)).unwrap(),
            Task::Test(TestFlags {
                allow_skip: false,
                backend: Some(Backend::Qemu)
            })
        );
        assert_eq!(
            parse(args(&["test", "--backend", "uml"]), Some(Backend::Qemu)).unwrap(),
            Task::Test(TestFlags {
                allow_skip: false,
                backend: Some(Backend::Uml)
            })
        );
        assert!(parse(args(&["test", "--nope"]), None).is_err());
        assert!(parse(args(&["bogus"]), None).is_err());
        assert!(parse(args(&[]), None).is_err());
    }

    #[test]
    fn kernel_test_passes_the_rest_to_cargo() {
        assert_eq!(
            parse(
                args(&[
                    "kernel-test",
                    "--backend",
                    "qemu",
                    "-p",
                    "x",
                    "--",
                    "--ignored"
                ]),
                None
            )
            .unwrap(),
            Task::KernelTest {
                backend: Some(Backend::Qemu),
                cargo_args: args(&["-p", "x", "--", "--ignored"]),
            }
        );
    }
}
