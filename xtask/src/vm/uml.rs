//! The UML backend: Debian's user-mode-linux (Linux 6.1, `CONFIG_IP_VS=m`), an ordinary process.
//!
//! The host root is the guest's root through hostfs; the init builds the overlay on top. The
//! guest consoles `con1`/`con2` are xtask's own stdout/stderr; `con0` (the kernel's console) and
//! UML's own output go through a pipe that xtask reads as it is written (see `console`), so a
//! guest kernel panic stops the VM at once. UML's RAM
//! is a file in `$TMPDIR` that it maps executable: a tmpfs without `noexec`. It runs in a PID
//! namespace of its own, so no helper of it can outlive it.

use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use super::Boot;
use super::console::{self, Console};
use super::process::{self, Events, Vm};

/// The Debian packages of this backend.
pub(crate) const PACKAGES: &[&str] = &["user-mode-linux", "util-linux"];

/// The UML kernel binary.
const BINARY: &str = "/usr/bin/linux.uml";
/// Where user-mode-linux keeps its module trees, one per kernel version.
const MODULE_TREES: &str = "/usr/lib/uml/modules";

/// The UML kernel, prepared.
pub(crate) struct Kernel {
    /// The module tree for `modprobe -d`, relative to the cache.
    modroot: String,
}

/// Points `CACHE/uml/modroot/lib/modules/VERSION` at the newest module tree (`modprobe -d ROOT`
/// looks in `ROOT/lib/modules/$(uname -r)`).
pub(crate) fn prepare(cache: &Path) -> Result<Kernel> {
    let names: Vec<String> = std::fs::read_dir(MODULE_TREES)
        .with_context(|| format!("cannot list {MODULE_TREES}"))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    let Some(version) = newest_version(&names) else {
        bail!("no kernel module tree in {MODULE_TREES}");
    };
    let modules = cache.join("uml/modroot/lib/modules");
    std::fs::create_dir_all(&modules)?;
    let link = modules.join(version);
    let target = Path::new(MODULE_TREES).join(version);
    if std::fs::read_link(&link).ok() != Some(target.clone()) {
        let tmp = modules.join(format!(".{version}.tmp"));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&target, &tmp)?;
        std::fs::rename(&tmp, &link)?;
    }
    Ok(Kernel {
        modroot: "uml/modroot".into(),
    })
}

/// The highest of kernel version strings such as `6.1.176` (numeric, part by part).
fn newest_version(names: &[String]) -> Option<&str> {
    let key = |name: &str| -> Vec<u64> {
        name.split(|c: char| !c.is_ascii_digit())
            .filter_map(|part| part.parse().ok())
            .collect()
    };
    names
        .iter()
        .filter(|n| n.starts_with(|c: char| c.is_ascii_digit()))
        .max_by_key(|n| key(n))
        .map(String::as_str)
}

/// Where UML may keep its RAM file: `/dev/shm` if it is a tmpfs without `noexec`, else `fallback`.
fn ram_dir(proc_mounts: &str, fallback: &Path) -> PathBuf {
    let shm_ok = proc_mounts
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.get(1) == Some(&"/dev/shm"))
                .then(|| (fields.get(2).copied(), fields.get(3).copied()))
        })
        .next_back()
        .is_some_and(|(fs, opts)| {
            fs == Some("tmpfs") && !opts.unwrap_or("").split(',').any(|o| o == "noexec")
        });
    if shm_ok {
        PathBuf::from("/dev/shm")
    } else {
        fallback.to_path_buf()
    }
}

/// How big the console pipe is made: UML's console descriptor is non-blocking, and its own
/// start-up messages go out on the same pipe.
const CONSOLE_PIPE_BYTES: libc::c_int = 1 << 20;

/// Boots UML for one run; the console is being read when this returns.
pub(super) fn boot(kernel: &Kernel, boot: &Boot<'_>) -> Result<(Vm, Console)> {
    let stdout = std::io::stdout().as_fd().try_clone_to_owned()?;
    let stderr = std::io::stderr().as_fd().try_clone_to_owned()?;
    let (reader, console) = std::io::pipe().context("cannot make the console pipe")?;
    // SAFETY: F_SETPIPE_SZ only resizes the pipe of a descriptor we own; failure is harmless.
    unsafe { libc::fcntl(console.as_raw_fd(), libc::F_SETPIPE_SZ, CONSOLE_PIPE_BYTES) };
    let events = Events::new();
    let tap = console::tap(
        move || Ok(reader),
        std::fs::File::from(boot.console()?),
        events.panic_reporter(),
    )
    .context("cannot start reading the console")?;
    let (out, err, con) = (stdout.as_raw_fd(), stderr.as_raw_fd(), console.as_raw_fd());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let run = boot.run.display();
    let cache = boot.cache.display();
    // UML runs as PID 1 of a PID namespace of its own: when it ends, however it ends, the kernel
    // kills every helper process it forked. `unshare` passes on its death as SIGTERM (which UML
    // handles by shutting down), and it gets SIGTERM itself when xtask dies (see process::spawn).
    let mut cmd = Command::new("unshare");
    cmd.args(["--pid", "--fork", "--kill-child=SIGTERM", "--", BINARY]);
    cmd.args([
        format!("mem={}M", boot.mem_mib),
        "root=/dev/root".into(),
        "rootfstype=hostfs".into(),
        "rootflags=/".into(),
        "ro".into(),
        format!("init={run}/init"),
        "quiet".into(),
        "loglevel=4".into(),
        "con=null".into(),
        format!("con0=null,fd:{con}"),
        format!("con1=null,fd:{out}"),
        format!("con2=null,fd:{err}"),
        "ssl=null".into(),
        format!("umid={}", boot.instance),
        format!("uml_dir={run}"),
        "lvsrig_backend=uml".into(),
        format!("lvsrig_run={run}"),
        format!("lvsrig_cache={cache}"),
        format!("lvsrig_modroot={}", kernel.modroot),
        boot.marker.clone(),
    ])
    .args(&boot.extra_kernel_args)
    .env("TMPDIR", ram_dir(&mounts, boot.cache))
    .stdin(Stdio::null())
    // UML prints its own start-up checks on stdout: they belong in the console log.
    .stdout(console.try_clone()?)
    .stderr(console.try_clone()?);
    let vm = process::spawn(cmd, boot.marker.clone(), &[out, err, con], events)?;
    // Our ends of the pipe close here (with `cmd`, inside spawn): the console reaches its end
    // when the VM's processes are gone.
    drop(console);
    Ok((vm, tap))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_version_compares_numerically() {
        let names: Vec<String> = ["6.1.99", "6.1.176", "5.10.1", "README"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(newest_version(&names), Some("6.1.176"));
        assert_eq!(newest_version(&[]), None);
    }

    #[test]
    fn ram_dir_avoids_noexec_shm() {
        let fallback = Path::new("/cache");
        let ok = "tmpfs /dev/shm tmpfs rw,nosuid,nodev 0 0\n";
        let noexec = "tmpfs /dev/shm tmpfs rw,nosuid,nodev,noexec 0 0\n";
        let missing = "proc /proc proc rw 0 0\n";
        assert_eq!(ram_dir(ok, fallback), Path::new("/dev/shm"));
        assert_eq!(ram_dir(noexec, fallback), fallback);
        assert_eq!(ram_dir(missing, fallback), fallback);
        // The last mount on /dev/shm is the one that counts.
        assert_eq!(ram_dir(&format!("{ok}{noexec}"), fallback), fallback);
    }
}
