//! `cargo xtask bench-report`: builds the side-by-side benchmarks (`benches/`), runs each where
//! it belongs (the host, or the rig's qemu backend with 2 CPUs for everything that needs IPVS),
//! and writes `BENCHMARKS.md` from the Markdown sections they print.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::{cargo, cargo_json, install, vm::Backend, workspace_root};

/// The sections, in the report's order.
pub(crate) const SECTIONS: [&str; 6] = [
    "ipvs",
    "checks",
    "host-checks",
    "failover",
    "scrape",
    "lvscf",
];

/// Options of `cargo xtask bench-report`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReportFlags {
    /// Small sizes and few runs: checks that every part works, in minutes.
    pub(crate) quick: bool,
    /// The sections to run (all by default).
    pub(crate) only: Vec<String>,
    /// Where the report goes.
    pub(crate) out: PathBuf,
}

/// The programs the report runs.
struct Built {
    director: PathBuf,
    ipvs_curve: PathBuf,
    checks: PathBuf,
    failover: PathBuf,
    lvscf_size: PathBuf,
    bench_targets: PathBuf,
    scrape: PathBuf,
}

fn build() -> Result<Built> {
    let mut cmd = cargo();
    cmd.args([
        "build",
        "--release",
        "-p",
        "director",
        "--bin",
        "director",
        "-p",
        "lvs-benches",
        "--bins",
        "-p",
        "lvs-healthcheck",
        "--example",
        "bench_targets",
        "--message-format=json-render-diagnostics",
    ])
    .stderr(Stdio::inherit());
    eprintln!("xtask: building the benchmarks (release)");
    let output = cmd.output().context("cannot run cargo build")?;
    if !output.status.success() {
        bail!("cargo build failed: {}", output.status);
    }
    let out = String::from_utf8_lossy(&output.stdout);
    let find = |kind: &str, name: &str| {
        cargo_json::program(&out, kind, name)
            .with_context(|| format!("cargo did not announce the {kind} {name}"))
    };
    Ok(Built {
        director: find("bin", "director")?,
        ipvs_curve: find("bin", "ipvs_curve")?,
        checks: find("bin", "checks")?,
        failover: find("bin", "failover")?,
        lvscf_size: find("bin", "lvscf_size")?,
        bench_targets: find("example", "bench_targets")?,
        scrape: find("bin", "scrape")?,
    })
}

/// Runs `command` and returns its stdout (its stderr shows progress as it goes).
fn capture(command: &mut Command) -> Result<String> {
    let shown = format!("{command:?}");
    eprintln!("xtask: running {shown}");
    let output = command
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {shown}"))?;
    if !output.status.success() {
        bail!("{shown} failed: {}", output.status);
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `ARGV` in the rig: qemu, 2 CPUs (the kernel's IPVS under TCG), through this very xtask.
fn in_rig(argv: &[OsString], timeout: &str) -> Result<Command> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["vm", "--backend", "qemu", "--cpus", "2", "--mem", "2048"])
        .args(["--timeout", timeout, "--cwd"])
        .arg(workspace_root())
        .arg("--")
        .args(argv);
    Ok(cmd)
}

fn os(items: &[&dyn AsRef<std::ffi::OsStr>]) -> Vec<OsString> {
    items.iter().map(|i| i.as_ref().to_os_string()).collect()
}

fn section(name: &str, built: &Built, quick: bool) -> Result<String> {
    match name {
        "ipvs" => {
            let sizes = if quick { "200,1000" } else { "1000,5000,10000" };
            capture(&mut in_rig(
                &os(&[&built.ipvs_curve, &"--sizes", &sizes]),
                "120m",
            )?)
        }
        "checks" => {
            let mut argv = os(&[&built.checks, &"--director", &built.director]);
            if quick {
                argv.extend(os(&[&"--window", &"10", &"--kills", &"3"]));
            }
            capture(&mut in_rig(&argv, "60m")?)
        }
        "failover" => {
            let runs = if quick { "3" } else { "20" };
            capture(&mut in_rig(
                &os(&[
                    &built.failover,
                    &"--director",
                    &built.director,
                    &"--runs",
                    &runs,
                ]),
                "90m",
            )?)
        }
        "scrape" => {
            let mut argv = os(&[&built.scrape, &"--director", &built.director]);
            if quick {
                argv.extend(os(&[
                    &"--services",
                    &"1000",
                    &"--window",
                    &"10",
                    &"--settle",
                    &"5",
                ]));
            }
            capture(&mut in_rig(&argv, "60m")?)
        }
        "lvscf" => {
            let sizes = if quick {
                "1000,10000"
            } else {
                "1000,10000,100000,400000"
            };
            capture(Command::new(&built.lvscf_size).args(["--virtuals", sizes]))
        }
        "host-checks" => {
            let seconds = if quick { "10" } else { "60" };
            let mut text = String::from(
                "## Health checking: ours alone, 10,000 HTTP targets on the host\n\n\
                 The `healthcheck` crate's monitor (what the director runs) checking 10,000 \
                 `GET /` targets on `lo` every second, on the host (no rig): \
                 `healthcheck/examples/bench_targets.rs`, described in `healthcheck/BENCH.md`. \
                 Target: under 25% of one core and 64 MiB.\n",
            );
            for mode in [None, Some("keep-alive")] {
                let mut cmd = Command::new(&built.bench_targets);
                cmd.args(["10000", "1s", seconds]).args(mode);
                let out = capture(&mut cmd)?;
                let _ = write!(
                    text,
                    "\n{}:\n\n```text\n{}```\n",
                    mode.map_or("A fresh connection per check (the default)", |_| {
                        "One kept-alive connection per target"
                    }),
                    out.lines()
                        .filter(|l| !l.starts_with("  "))
                        .map(|l| format!("{l}\n"))
                        .collect::<String>()
                );
            }
            Ok(text + "\n")
        }
        other => bail!("unknown section {other} (known: {})", SECTIONS.join(", ")),
    }
}

/// The first line of `cmd`'s output (stdout, then stderr), or what went wrong.
fn first_line(cmd: &mut Command) -> String {
    match cmd.stdin(Stdio::null()).output() {
        Ok(o) => String::from_utf8_lossy(&[o.stdout, o.stderr].concat())
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string(),
        Err(e) => format!("unknown ({e})"),
    }
}

/// The installed version of a Debian package.
fn package_version(name: &str) -> String {
    first_line(Command::new("dpkg-query").args(["-W", "-f", "${Version}\\n", name]))
}

/// The host's CPU model, from `/proc/cpuinfo`.
fn host_cpu() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn environment() -> Result<String> {
    let model = host_cpu();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let host_kernel = first_line(Command::new("uname").arg("-sr"));
    let guest_kernel = capture(&mut in_rig(&os(&[&"uname", &"-sr"]), "5m")?)?;
    Ok(format!(
        "- Host of the latest run: {model}, {cores} cores, {host_kernel} (each section names the \
         CPU it was measured on). Host runs: no other load was started by the report, but the \
         machine may be shared.\n\
         - Rig: `cargo xtask vm --backend qemu --cpus 2`: {} under qemu TCG (no KVM), 2 vCPUs, \
         2 GiB; every tool in the same VM boot, same kernel.\n\
         - Peers, Debian's packages (the same binaries on the host and in the rig): keepalived \
         {}, ipvsadm {}; busybox {} for the real servers' httpd.\n",
        guest_kernel.trim(),
        package_version("keepalived"),
        package_version("ipvsadm"),
        package_version("busybox-static"),
    ))
}

/// `cargo xtask bench-report`.
pub(crate) fn run(flags: &ReportFlags) -> Result<bool> {
    let log = std::env::temp_dir().join("xtask-bench-apt.log");
    install::ensure_packages(&["keepalived", "ipvsadm"], &log)?;
    crate::vm::prepare(Some(Backend::Qemu))?;
    let built = build()?;
    let only: Vec<&str> = if flags.only.is_empty() {
        SECTIONS.to_vec()
    } else {
        flags.only.iter().map(String::as_str).collect()
    };
    let commit = first_line(
        Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .current_dir(workspace_root()),
    );
    // Sections not run this time keep what the file already has.
    let mut blocks = match std::fs::read_to_string(&flags.out) {
        Ok(old) if !flags.only.is_empty() => parse_blocks(&old),
        _ => std::collections::BTreeMap::new(),
    };
    let mut ok = true;
    for name in &only {
        let t0 = Instant::now();
        let mut block = format!("<!-- section {name} -->\n");
        match section(name, &built, flags.quick) {
            Ok(text) => block += &text,
            Err(e) => {
                ok = false;
                eprintln!("xtask bench-report: {name}: {e:#}");
                let _ = write!(block, "## {name}\n\n**Failed**: {e:#}\n\n");
            }
        }
        let date = first_line(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]));
        let _ = write!(
            block,
            "Measured {date} at commit `{commit}` in {:.0} s on a host with {}{}. Reproduce: \
             `cargo xtask bench-report --only {name}{}`.\n<!-- end {name} -->\n\n",
            t0.elapsed().as_secs_f64(),
            host_cpu(),
            if flags.quick {
                ", **a `--quick` run**"
            } else {
                ""
            },
            if flags.quick { " --quick" } else { "" }
        );
        eprintln!(
            "xtask bench-report: {name} took {:.0} s",
            t0.elapsed().as_secs_f64()
        );
        blocks.insert((*name).to_string(), block);
    }
    let mut report = String::from(
        "# Benchmarks: side by side with the tools we replace\n\n\
         Generated by `cargo xtask bench-report` (needs root, qemu, and Debian's keepalived and \
         ipvsadm, which it installs): every number below comes from that one command, in about \
         20 minutes. `--only SECTION,...` re-runs some sections (",
    );
    report += &SECTIONS.join(", ");
    report += ") and keeps the others; `--quick` runs the same programs on small sizes. The \
               programs are in `benches/src/bin/`; each states its method at the top, and each \
               section says when, at which commit and how long it was measured.\n\n";
    report += "## Environment\n\n";
    report += &environment()?;
    report += "\n";
    for name in SECTIONS {
        if let Some(block) = blocks.get(name) {
            report += block;
        }
    }
    std::fs::write(&flags.out, report)
        .with_context(|| format!("cannot write {}", flags.out.display()))?;
    eprintln!("xtask bench-report: wrote {}", flags.out.display());
    Ok(ok)
}

/// The sections of an earlier report, by name: from `<!-- section NAME -->` to
/// `<!-- end NAME -->` and the blank line after it.
fn parse_blocks(text: &str) -> std::collections::BTreeMap<String, String> {
    let mut blocks = std::collections::BTreeMap::new();
    let mut rest = text;
    while let Some(start) = rest.find("<!-- section ") {
        let from = &rest[start..];
        let Some(name) = from["<!-- section ".len()..].split(' ').next() else {
            break;
        };
        let end_marker = format!("<!-- end {name} -->\n");
        let Some(end) = from.find(&end_marker) else {
            break;
        };
        let mut block = from[..end + end_marker.len()].to_string();
        block += "\n";
        blocks.insert(name.to_string(), block);
        rest = &from[end + end_marker.len()..];
    }
    blocks
}

/// Default output: `BENCHMARKS.md` at the workspace root.
pub(crate) fn default_out() -> PathBuf {
    workspace_root().join("BENCHMARKS.md")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_of_an_earlier_report_are_found_by_their_markers() {
        let text = "# T\n\n## Environment\n\n- x\n\n<!-- section ipvs -->\n## IPVS\n\nrows\n\
                    <!-- end ipvs -->\n\n<!-- section lvscf -->\n## lvs.cf\n<!-- end lvscf -->\n\n\
                    <!-- section checks -->\n## cut short\n";
        let blocks = parse_blocks(text);
        assert_eq!(blocks.len(), 2);
        assert_eq!(
            blocks["ipvs"],
            "<!-- section ipvs -->\n## IPVS\n\nrows\n<!-- end ipvs -->\n\n"
        );
        assert!(blocks["lvscf"].contains("## lvs.cf"));
        assert!(!blocks.contains_key("checks"));
    }
}
