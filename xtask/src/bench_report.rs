//! `cargo xtask bench-report`: builds the side-by-side benchmarks (`benches/`), runs each where
//! it belongs (the host, or the rig's qemu backend with 2 CPUs for everything that needs IPVS),
//! and writes `BENCHMARKS.md` from the Markdown sections they print.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::report::{self, Report, ReportFlags, capture, in_rig, in_rig_with, os, package_version};
use crate::{cargo, cargo_json, install, vm::Backend, workspace_root};

/// The report.
pub(crate) const REPORT: Report = Report {
    task: "bench-report",
    sections: &SECTIONS,
    opt_in: &[],
};

/// The sections, in the report's order.
const SECTIONS: [&str; 8] = [
    "ipvs",
    "checks",
    "shared-checks",
    "host-checks",
    "failover",
    "scrape",
    "lvscf",
    "console",
];

/// The programs the report runs.
struct Built {
    director: PathBuf,
    ipvs_curve: PathBuf,
    checks: PathBuf,
    failover: PathBuf,
    lvscf_size: PathBuf,
    bench_targets: PathBuf,
    scrape: PathBuf,
    console: PathBuf,
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
        console: find("bin", "console")?,
    })
}

fn section(name: &str, built: &Built, quick: bool) -> Result<String> {
    match name {
        "ipvs" => {
            // 100,000 services (the 1% change only) need 1.1 million objects in two
            // namespaces, besides the smaller sizes' namespaces kept alive: 6 GiB for the VM.
            let (sizes, large) = if quick {
                ("200,1000", "2000")
            } else {
                ("1000,5000,10000", "100000")
            };
            capture(&mut in_rig_with(
                &os(&[
                    &built.ipvs_curve,
                    &"--sizes",
                    &sizes,
                    &"--change-sizes",
                    &large,
                ]),
                "120m",
                "6144",
            )?)
        }
        "checks" => {
            let mut argv = os(&[&built.checks, &"--director", &built.director]);
            if quick {
                argv.extend(os(&[&"--window", &"10", &"--kills", &"3"]));
            }
            capture(&mut in_rig(&argv, "60m")?)
        }
        "shared-checks" => {
            let mut argv = os(&[&built.checks, &"--director", &built.director, &"--shared"]);
            argv.extend(os(&[&"--kills", &"0"]));
            if quick {
                argv.extend(os(&[&"--window", &"10"]));
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
        "console" => capture(
            Command::new(&built.console)
                .arg("--director")
                .arg(&built.director)
                .args(["--virtuals", "1000"]),
        ),
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

fn environment() -> Result<String> {
    Ok(format!(
        "{}- Peers, Debian's packages (the same binaries on the host and in the rig): keepalived \
         {}, ipvsadm {}; busybox {} for the real servers' httpd; every tool in the same VM boot, \
         same kernel.\n",
        report::machines()?,
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
    let mut head = String::from(
        "# Benchmarks: side by side with the tools we replace\n\n\
         Generated by `cargo xtask bench-report` (needs root, qemu, and Debian's keepalived and \
         ipvsadm, which it installs): every number below comes from that one command, in about \
         20 minutes. `--only SECTION,...` re-runs some sections (",
    );
    head += &SECTIONS.join(", ");
    head += ") and keeps the others; `--quick` runs the same programs on small sizes. The \
             programs are in `benches/src/bin/`; each states its method at the top, and each \
             section says when, at which commit and how long it was measured.\n\n";
    head += "## Environment\n\n";
    head += &environment()?;
    head += "\n";
    REPORT.write(flags, &head, |name| section(name, &built, flags.quick))
}

/// Default output: `BENCHMARKS.md` at the workspace root.
pub(crate) fn default_out() -> PathBuf {
    workspace_root().join("BENCHMARKS.md")
}
