//! The Debian packages the rig needs, installed with apt-get when missing.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// What the guest runs comes from the host root: static busybox (the init's mount, poweroff,
/// cat), kmod's modprobe, ip, ipvsadm, sysctl, iptables (its legacy backend: UML's kernel has
/// no nf_tables for IPv4), the tools kernel tests use to look at packets, and the peers they
/// run (node_exporter; BIRD for the active-active routes).
pub(crate) const GUEST_PACKAGES: &[&str] = &[
    "busybox-static",
    "kmod",
    "iproute2",
    "ipvsadm",
    "procps",
    "tcpdump",
    "tshark",
    "arping",
    "iptables",
    "prometheus-node-exporter",
    "bird2",
];

/// Installs those of `packages` that are not installed yet (`apt-get update` first, only then).
/// apt's output goes to `log`, and is shown when it fails.
pub(crate) fn ensure_packages(packages: &[&str], log: &Path) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| !is_installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: apt-get install {}", missing.join(" "));
    apt_update(log)?;
    let mut install = apt_get(log)?;
    install
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing);
    run_logged(&mut install, log)
}

/// `apt-get update`, quietly; its output goes to `log`.
pub(crate) fn apt_update(log: &Path) -> Result<()> {
    let mut update = apt_get(log)?;
    update.args(["update", "-qq"]);
    run_logged(&mut update, log)
}

fn apt_get(log: &Path) -> Result<Command> {
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("cannot open {}", log.display()))?;
    let mut cmd = Command::new("apt-get");
    cmd.env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    Ok(cmd)
}

fn run_logged(cmd: &mut Command, log: &Path) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !status.success() {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        bail!(
            "{cmd:?} failed ({status}); its output ({}):\n{text}",
            log.display()
        );
    }
    Ok(())
}

/// Whether dpkg says `package` is installed.
pub(crate) fn is_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f", "${Status}", package])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|out| status_is_installed(&String::from_utf8_lossy(&out.stdout)))
}

/// Whether a `dpkg-query -f '${Status}'` line means installed.
fn status_is_installed(status: &str) -> bool {
    status.trim().ends_with("ok installed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_status() {
        assert!(status_is_installed("install ok installed"));
        assert!(!status_is_installed("deinstall ok config-files"));
        assert!(!status_is_installed("unknown ok not-installed"));
        assert!(!status_is_installed(""));
    }
}
