//! What `cargo xtask bench-report` and `cargo xtask reliability` share: a Markdown report made
//! of sections, each run by a program on the host or in the rig, kept between runs so that
//! `--only` re-runs some and keeps the others, each signed with its date, commit, duration and
//! the host's CPU.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::workspace_root;

/// Options of a report task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReportFlags {
    /// Small sizes and short runs: checks that every part works, in minutes.
    pub(crate) quick: bool,
    /// The sections to run (all by default).
    pub(crate) only: Vec<String>,
    /// Where the report goes.
    pub(crate) out: PathBuf,
}

/// One kind of report.
pub(crate) struct Report {
    /// The xtask task that writes it, e.g. `bench-report`.
    pub(crate) task: &'static str,
    /// Its sections, in the report's order.
    pub(crate) sections: &'static [&'static str],
    /// Sections that run only when `--only` names them (e.g. an hour's soak); a default run
    /// keeps what the file has of them.
    pub(crate) opt_in: &'static [&'static str],
}

impl Report {
    /// Runs the sections `flags` asks for with `run` and writes the report: `head` (title,
    /// introduction, environment), then every section, those not run this time as the file
    /// already had them. False when a section failed (its block says why).
    pub(crate) fn write(
        &self,
        flags: &ReportFlags,
        head: &str,
        mut run: impl FnMut(&str) -> Result<String>,
    ) -> Result<bool> {
        let task = self.task;
        let only: Vec<&str> = if flags.only.is_empty() {
            (self.sections.iter())
                .filter(|s| !self.opt_in.contains(s))
                .copied()
                .collect()
        } else {
            flags.only.iter().map(String::as_str).collect()
        };
        let mut blocks = match std::fs::read_to_string(&flags.out) {
            Ok(old) => parse_blocks(&old),
            _ => BTreeMap::new(),
        };
        if flags.only.is_empty() {
            // A whole run replaces every section but those it does not run.
            blocks.retain(|name, _| self.opt_in.contains(&name.as_str()));
        }
        let mut ok = true;
        for name in &only {
            // Read for each section: its programs are built from the tree as it is then.
            let commit = commit();
            let t0 = Instant::now();
            let mut block = format!("<!-- section {name} -->\n");
            match run(name) {
                Ok(text) => block += &text,
                Err(e) => {
                    ok = false;
                    eprintln!("xtask {task}: {name}: {e:#}");
                    let _ = write!(block, "## {name}\n\n**Failed**: {e:#}\n\n");
                }
            }
            let date = first_line(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]));
            let _ = write!(
                block,
                "Measured {date} at commit `{commit}` in {:.0} s on a host with {}{}. Reproduce: \
                 `cargo xtask {task} --only {name}{}`.\n<!-- end {name} -->\n\n",
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
                "xtask {task}: {name} took {:.0} s",
                t0.elapsed().as_secs_f64()
            );
            blocks.insert((*name).to_string(), block);
        }
        let mut report = head.to_string();
        for name in self.sections {
            if let Some(block) = blocks.get(*name) {
                report += block;
            }
        }
        std::fs::write(&flags.out, report)
            .with_context(|| format!("cannot write {}", flags.out.display()))?;
        eprintln!("xtask {task}: wrote {}", flags.out.display());
        Ok(ok)
    }
}

/// The commit checked out, with `+changes` when the tree differs from it.
fn commit() -> String {
    let git =
        |args: &[&str]| first_line(Command::new("git").args(args).current_dir(workspace_root()));
    let head = git(&["rev-parse", "--short", "HEAD"]);
    let changed = !git(&["status", "--porcelain", "--untracked-files=no"]).is_empty();
    if changed {
        format!("{head}+changes")
    } else {
        head
    }
}

/// The host and the rig, for a report's "Environment".
pub(crate) fn machines() -> Result<String> {
    let model = host_cpu();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let host_kernel = first_line(Command::new("uname").arg("-sr"));
    let guest_kernel = capture(&mut in_rig(&os(&[&"uname", &"-sr"]), "5m")?)?;
    Ok(format!(
        "- Host of the latest run: {model}, {cores} cores, {host_kernel} (each section names the \
         CPU it was measured on). Host runs: no other load was started by the report, but the \
         machine may be shared.\n\
         - Rig: `cargo xtask vm --backend qemu --cpus 2`: {} under qemu TCG (no KVM), 2 vCPUs, \
         2 GiB.\n",
        guest_kernel.trim(),
    ))
}

/// Runs `command` and returns its stdout (its stderr shows progress as it goes).
pub(crate) fn capture(command: &mut Command) -> Result<String> {
    let (ok, out) = capture_any(command)?;
    if !ok {
        bail!("{command:?} failed");
    }
    Ok(out)
}

/// Runs `command`: whether it succeeded, and its stdout either way (a failed test's figures
/// are figures too).
pub(crate) fn capture_any(command: &mut Command) -> Result<(bool, String)> {
    let shown = format!("{command:?}");
    eprintln!("xtask: running {shown}");
    let output = command
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {shown}"))?;
    if !output.status.success() {
        eprintln!("xtask: {shown} failed: {}", output.status);
    }
    Ok((
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    ))
}

/// `ARGV` in the rig: qemu, 2 CPUs (the kernel's IPVS under TCG), through this very xtask.
pub(crate) fn in_rig(argv: &[OsString], timeout: &str) -> Result<Command> {
    in_rig_with(argv, timeout, "2048")
}

/// [`in_rig`] with `mem` MiB for the VM.
pub(crate) fn in_rig_with(argv: &[OsString], timeout: &str, mem: &str) -> Result<Command> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["vm", "--backend", "qemu", "--cpus", "2", "--mem", mem])
        .args(["--timeout", timeout, "--cwd"])
        .arg(workspace_root())
        .arg("--")
        .args(argv);
    Ok(cmd)
}

pub(crate) fn os(items: &[&dyn AsRef<std::ffi::OsStr>]) -> Vec<OsString> {
    items.iter().map(|i| i.as_ref().to_os_string()).collect()
}

/// The first line of `cmd`'s output (stdout, then stderr), or what went wrong.
pub(crate) fn first_line(cmd: &mut Command) -> String {
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
pub(crate) fn package_version(name: &str) -> String {
    first_line(Command::new("dpkg-query").args(["-W", "-f", "${Version}\\n", name]))
}

/// The host's CPU model, from `/proc/cpuinfo`.
pub(crate) fn host_cpu() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The sections of an earlier report, by name: from `<!-- section NAME -->` to
/// `<!-- end NAME -->` and the blank line after it.
fn parse_blocks(text: &str) -> BTreeMap<String, String> {
    let mut blocks = BTreeMap::new();
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
