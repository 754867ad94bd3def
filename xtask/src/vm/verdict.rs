//! Whether UML can run on this host, as far as a run has shown that it cannot.
//!
//! Debian's user-mode-linux 6.1 panics at once on hosts whose CPUs have large extended register
//! state (AMX: "ptrace set fp regs failed, errno = 14", then "Attempted to kill init!"). When
//! UML's guest kernel panics before the command starts, the rig falls back to qemu and keeps
//! that verdict, keyed on what decides it: the UML package's version, the CPU's flags, the host
//! kernel and the extra kernel arguments (`LVS_RIG_KERNEL_ARGS`). A change of any of them asks
//! UML again. Only a panic is kept: a timeout may be load, and says nothing about the host.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

/// The folder of the verdicts, in the rig's cache.
const FOLDER: &str = "uml-verdicts";

/// A kept verdict: UML cannot run here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CannotRun {
    /// The console line of the panic that showed it.
    pub(crate) panic: String,
    /// The file that keeps it.
    pub(crate) file: PathBuf,
    /// Whether it was read from the cache (rather than just seen).
    pub(crate) cached: bool,
}

impl CannotRun {
    /// The one line that says why qemu runs instead of UML.
    pub(crate) fn message(&self) -> String {
        if self.cached {
            format!(
                "xtask: UML cannot run on this host (guest kernel panic: {}; seen before, kept in {}); using qemu",
                self.panic,
                self.file.display()
            )
        } else {
            format!(
                "xtask: UML cannot run on this host (guest kernel panic: {}); using qemu",
                self.panic
            )
        }
    }
}

/// The kept verdict for this host and these kernel arguments, if there is one.
pub(crate) fn cached(cache: &Path, kernel_args: &[String]) -> Option<CannotRun> {
    let key = key(&this_host(), kernel_args);
    let file = path(cache, &key);
    let text = std::fs::read_to_string(&file).ok()?;
    let (panic, kept_key) = text.split_once('\n')?;
    (kept_key == key).then(|| CannotRun {
        panic: panic.to_owned(),
        file,
        cached: true,
    })
}

/// Keeps the verdict that UML cannot run on this host with these kernel arguments, shown by
/// the console line `panic`.
pub(crate) fn record(cache: &Path, kernel_args: &[String], panic: &str) -> Result<CannotRun> {
    let key = key(&this_host(), kernel_args);
    let file = path(cache, &key);
    let dir = cache.join(FOLDER);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, format!("{}\n{key}", panic.replace('\n', " ")))
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &file)?;
    Ok(CannotRun {
        panic: panic.to_owned(),
        file,
        cached: false,
    })
}

/// What decides whether UML runs on a host.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Host {
    /// The version of Debian's `user-mode-linux` package (empty when not installed).
    uml_version: String,
    /// The `flags` line of the first CPU in `/proc/cpuinfo`.
    cpu_flags: String,
    /// The host kernel's release.
    kernel: String,
}

fn this_host() -> Host {
    let uml_version = Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}", "user-mode-linux"])
        .stderr(Stdio::null())
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_default();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    Host {
        uml_version,
        cpu_flags: cpu_flags(&cpuinfo),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_owned(),
    }
}

/// The flags of the first CPU of a `/proc/cpuinfo`.
fn cpu_flags(cpuinfo: &str) -> String {
    cpuinfo
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            (name.trim() == "flags").then(|| value.trim().to_owned())
        })
        .unwrap_or_default()
}

/// The key of a verdict, as text (kept in the verdict's file and compared on reading).
fn key(host: &Host, kernel_args: &[String]) -> String {
    format!(
        "user-mode-linux {}\nhost kernel {}\nkernel arguments {}\ncpu flags {}\n",
        host.uml_version,
        host.kernel,
        kernel_args.join(" "),
        host.cpu_flags
    )
}

/// The verdict's file: named by the 64-bit FNV-1a hash of its key.
fn path(cache: &Path, key: &str) -> PathBuf {
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    cache.join(FOLDER).join(format!("{hash:016x}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(flags: &str) -> Host {
        Host {
            uml_version: "6.1um4+b13".into(),
            cpu_flags: flags.into(),
            kernel: "6.18.44".into(),
        }
    }

    #[test]
    fn the_key_changes_with_each_thing_that_decides() {
        let base = key(&host("fpu avx512f amx_tile"), &[]);
        assert_ne!(base, key(&host("fpu avx512f"), &[]));
        assert_ne!(base, key(&host("fpu avx512f amx_tile"), &["x=1".into()]));
        let mut other = host("fpu avx512f amx_tile");
        other.uml_version = "6.12um1".into();
        assert_ne!(base, key(&other, &[]));
        other = host("fpu avx512f amx_tile");
        other.kernel = "6.19.1".into();
        assert_ne!(base, key(&other, &[]));
        assert_ne!(
            path(Path::new("/c"), &base),
            path(Path::new("/c"), &key(&other, &[]))
        );
    }

    #[test]
    fn the_flags_of_the_first_cpu() {
        let cpuinfo =
            "processor\t: 0\nflags\t\t: fpu vme amx_tile\n\nprocessor\t: 1\nflags\t: fpu\n";
        assert_eq!(cpu_flags(cpuinfo), "fpu vme amx_tile");
        assert_eq!(cpu_flags(""), "");
    }

    #[test]
    fn a_recorded_verdict_is_found_for_the_same_host_and_arguments_only() {
        let cache = std::env::temp_dir().join(format!("xtask-verdict-{}", std::process::id()));
        let args = vec!["lvsrig_test=1".to_owned()];
        assert_eq!(cached(&cache, &args), None);
        let seen = record(&cache, &args, "Kernel panic - not syncing: x").unwrap();
        assert!(!seen.cached);
        assert_eq!(
            seen.message(),
            "xtask: UML cannot run on this host (guest kernel panic: Kernel panic - not syncing: x); using qemu"
        );
        let kept = cached(&cache, &args).unwrap();
        assert!(kept.cached);
        assert_eq!(kept.panic, seen.panic);
        assert_eq!(kept.file, seen.file);
        assert!(kept.message().contains("seen before"));
        assert_eq!(cached(&cache, &[]), None);
        std::fs::remove_dir_all(&cache).unwrap();
    }
}
