//! `cargo xtask dist [--debug]`: the Debian package of the director and its tools, built with
//! `dpkg-deb` (no packaging tool to install: dpkg is on every Debian machine), in `target/dist/`.
//!
//! What it holds: `/usr/sbin/{director,ipvsctl,send_arp,lvs-probe}` and `/usr/bin/lvscf`; their
//! man pages and bash, zsh and fish completions, generated from their clap definitions
//! (`--generate`); `/lib/systemd/system/director.service` and `director-console.service` (not
//! enabled: a load balancer starts once its lvs.cf is written, the console once its password is
//! set); `/etc/director/director.toml.example`; `ip_vs` loaded at boot
//! (`/usr/lib/modules-load.d/director.conf`); the copyright and licences.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::cargo_json;

/// The package's name.
pub(crate) const PACKAGE: &str = "lvs-director";

/// The systemd units it installs (none enabled).
const UNITS: [&str; 2] = ["director.service", "director-console.service"];

/// A program of the package: its binary, where it goes, its man section.
struct Program {
    name: &'static str,
    dir: &'static str,
    section: &'static str,
}

const PROGRAMS: [Program; 5] = [
    Program {
        name: "director",
        dir: "usr/sbin",
        section: "8",
    },
    Program {
        name: "ipvsctl",
        dir: "usr/sbin",
        section: "8",
    },
    Program {
        name: "send_arp",
        dir: "usr/sbin",
        section: "8",
    },
    Program {
        name: "lvs-probe",
        dir: "usr/sbin",
        section: "8",
    },
    Program {
        name: "lvscf",
        dir: "usr/bin",
        section: "1",
    },
];

/// Builds the package (release binaries, or debug ones with `debug`) and returns its path.
pub(crate) fn run(debug: bool) -> Result<PathBuf> {
    let root = crate::workspace_root();
    let mut cargo = crate::cargo();
    cargo.args(["build", "-p", "director", "-p", "lvs-tools", "--bins"]);
    if !debug {
        cargo.arg("--release");
    }
    cargo
        .arg("--message-format=json-render-diagnostics")
        .stderr(Stdio::inherit());
    eprintln!("xtask: building the director and its tools");
    let output = cargo.output().context("cannot run cargo build")?;
    if !output.status.success() {
        bail!("cargo build failed: {}", output.status);
    }
    let built = String::from_utf8_lossy(&output.stdout);
    let dist = root.join("target/dist");
    let stage = dist.join(PACKAGE);
    if stage.exists() {
        std::fs::remove_dir_all(&stage)
            .with_context(|| format!("cannot empty {}", stage.display()))?;
    }
    let files = root.join("examples/director/dist");
    for p in &PROGRAMS {
        let exe = cargo_json::program(&built, "bin", p.name)
            .with_context(|| format!("cargo did not announce the binary {}", p.name))?;
        let installed = stage.join(p.dir).join(p.name);
        copy(&exe, &installed, 0o755)?;
        // As dh_strip: no symbols or debug information in the package.
        capture(
            Command::new("strip")
                .arg("--strip-unneeded")
                .arg(&installed),
        )?;
        let man = if p.section == "8" { "man:8" } else { "man" };
        let page = generated(&exe, man)?;
        let path = stage.join(format!(
            "usr/share/man/man{}/{}.{}.gz",
            p.section, p.name, p.section
        ));
        write(&path, &gzip(&page)?, 0o644)?;
        for (shell, path) in [
            (
                "bash",
                format!("usr/share/bash-completion/completions/{}", p.name),
            ),
            (
                "zsh",
                format!("usr/share/zsh/vendor-completions/_{}", p.name),
            ),
            (
                "fish",
                format!("usr/share/fish/vendor_completions.d/{}.fish", p.name),
            ),
        ] {
            write(&stage.join(path), &generated(&exe, shell)?, 0o644)?;
        }
    }
    for unit in UNITS {
        copy(
            &files.join(unit),
            &stage.join(format!("lib/systemd/system/{unit}")),
            0o644,
        )?;
    }
    copy(
        &files.join("director.toml.example"),
        &stage.join("etc/director/director.toml.example"),
        0o644,
    )?;
    write(
        &stage.join("usr/lib/modules-load.d/director.conf"),
        b"ip_vs\n",
        0o644,
    )?;
    let doc = stage.join(format!("usr/share/doc/{PACKAGE}"));
    write(&doc.join("copyright"), copyright(&root)?.as_bytes(), 0o644)?;
    let version = version(&root)?;
    let arch = capture(Command::new("dpkg").arg("--print-architecture"))?;
    let size_kib = du_kib(&stage)?;
    // Who builds it says so, as Debian's tools read it.
    let maintainer = format!(
        "{} <{}>",
        std::env::var("DEBFULLNAME").unwrap_or_else(|_| "LVS director toolkit".into()),
        std::env::var("DEBEMAIL").unwrap_or_else(|_| "root@localhost".into())
    );
    let control = format!(
        "Package: {PACKAGE}\n\
         Version: {version}\n\
         Architecture: {arch}\n\
         Maintainer: {maintainer}\n\
         Installed-Size: {size_kib}\n\
         Depends: libc6\n\
         Recommends: ipvsadm\n\
         Section: net\n\
         Priority: optional\n\
         Description: highly available LVS director from an unchanged Piranha lvs.cf\n \
         Replaces Red Hat's Piranha suite (pulse, lvsd, nanny, send_arp): the director\n \
         programs IPVS from lvs.cf, checks the real servers, fails over between two\n \
         routers (Piranha's heartbeat or an authenticated one) and takes the virtual\n \
         addresses over. With ipvsctl, lvscf, send_arp and lvs-probe.\n"
    );
    write(&stage.join("DEBIAN/control"), control.as_bytes(), 0o644)?;
    write(
        &stage.join("DEBIAN/conffiles"),
        b"/etc/director/director.toml.example\n",
        0o644,
    )?;
    write(
        &stage.join("DEBIAN/postinst"),
        b"#!/bin/sh\nset -e\nif [ \"$1\" = configure ] && [ -d /run/systemd/system ]; then\n    systemctl daemon-reload || true\nfi\n",
        0o755,
    )?;
    let deb = dist.join(format!("{PACKAGE}_{version}_{arch}.deb"));
    // Debug packages are for tests: fast compression.
    let compression: &[&str] = if debug { &["-Zgzip", "-z1"] } else { &[] };
    let status = Command::new("dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .args(compression)
        .arg(&stage)
        .arg(&deb)
        .stdout(Stdio::null())
        .status()
        .context("cannot run dpkg-deb")?;
    if !status.success() {
        bail!("dpkg-deb failed: {status}");
    }
    eprintln!("xtask: wrote {}", deb.display());
    Ok(deb)
}

/// The director's version (its Cargo.toml's).
fn version(root: &Path) -> Result<String> {
    let manifest = std::fs::read_to_string(root.join("examples/director/Cargo.toml"))?;
    (manifest.lines())
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .map(str::to_owned)
        .context("no version in examples/director/Cargo.toml")
}

/// Debian's machine-readable copyright: the licences of the sources.
fn copyright(root: &Path) -> Result<String> {
    let mit = std::fs::read_to_string(root.join("LICENSE-MIT"))?;
    let indented = |text: &str| {
        (text.lines())
            .map(|l| {
                if l.trim().is_empty() {
                    " .".to_string()
                } else {
                    format!(" {l}")
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    Ok(format!(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
         Upstream-Name: {PACKAGE}\n\n\
         Files: *\n\
         Copyright: 2026 The LVS director toolkit authors\n\
         License: MIT or Apache-2.0\n\n\
         License: MIT\n{}\n\n\
         License: Apache-2.0\n \
         On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.\n",
        indented(&mit)
    ))
}

fn generated(exe: &Path, what: &str) -> Result<Vec<u8>> {
    let out = Command::new(exe)
        .args(["--generate", what])
        .output()
        .with_context(|| format!("cannot run {}", exe.display()))?;
    if !out.status.success() {
        bail!("{} --generate {what} failed: {}", exe.display(), out.status);
    }
    Ok(out.stdout)
}

fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write;
    let mut child = Command::new("gzip")
        .args(["-9n"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run gzip")?;
    child
        .stdin
        .take()
        .context("gzip's stdin")?
        .write_all(data)?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("gzip failed: {}", out.status);
    }
    Ok(out.stdout)
}

fn capture(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn du_kib(dir: &Path) -> Result<u64> {
    let out = capture(Command::new("du").args(["-sk"]).arg(dir))?;
    (out.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .context("du printed no size")
}

fn write(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, data).with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

fn copy(from: &Path, to: &Path, mode: u32) -> Result<()> {
    let data = std::fs::read(from).with_context(|| format!("cannot read {}", from.display()))?;
    write(to, &data, mode)
}

/// `systemd-analyze verify` of the staged units (their ExecStart pointed at the staged
/// binary): no error and no warning.
pub(crate) fn verify_unit(deb: &Path) -> Result<()> {
    let stage = deb
        .parent()
        .context("the package's directory")?
        .join(PACKAGE);
    for name in UNITS {
        let unit = std::fs::read_to_string(stage.join("lib/systemd/system").join(name))?;
        let dir = std::env::temp_dir().join(format!("xtask-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let staged = stage.join("usr/sbin/director");
        let path = dir.join(name);
        std::fs::write(
            &path,
            unit.replace("/usr/sbin/director", &staged.display().to_string()),
        )?;
        let out = Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(&path)
            .output()
            .context("cannot run systemd-analyze (Debian's systemd package)")?;
        let _ = std::fs::remove_dir_all(&dir);
        let said = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() || !said.trim().is_empty() {
            bail!("systemd-analyze verify {name}: {}\n{said}", out.status);
        }
        eprintln!("xtask: systemd-analyze verify {name}: clean");
    }
    Ok(())
}
