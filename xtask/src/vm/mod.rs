//! The real-kernel test rig: one command, run as root in a throw-away kernel that has IPVS.
//!
//! The guest sees the host's whole filesystem read-only at the same paths, under a tmpfs layer
//! that is thrown away, so host-built test binaries and their libraries just work. It loads
//! [`MODULES`], brings `lo` up, runs the command (an argv, never re-parsed by a shell) with stdin
//! `/dev/null`, and hands back its stdout and stderr byte for byte and its exit status through a
//! write-through run directory. The guest has no network interface besides `lo`.
//!
//! Backends: [`uml`] (Debian's user-mode-linux, an ordinary process) and [`qemu`] (Debian's
//! x86_64 kernel under qemu, TCG unless hardware KVM is there). Unless one is forced, UML is
//! tried first and qemu taken where UML cannot run (its guest kernel panics before the command
//! starts); that verdict is remembered per host ([`verdict`]).

mod console;
mod cpio;
mod env;
pub(crate) mod process;
mod qemu;
mod run_dir;
mod uml;
mod verdict;

use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use crate::install;
pub(crate) use env::guest_env;
use process::Ended;
use run_dir::RunDir;

/// The kernel modules loaded before the command runs. Any other module of the kernel's tree
/// loads on demand (`modprobe`, or the kernel itself, e.g. an IPVS scheduler).
pub(crate) const MODULES: &str =
    "ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_sh ip_vs_mh ip_vs_ftp veth";

/// Every process of a VM has the word `lvsrig_instance=NAME` on its command line.
const MARKER_PREFIX: &str = "lvsrig_instance=";

/// The guest's init.
const INIT: &str = include_str!("../../rig/init.sh");

/// Which kernel to boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// Debian's user-mode-linux.
    Uml,
    /// Debian's linux-image-amd64 under qemu-system-x86_64.
    Qemu,
}

impl FromStr for Backend {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "uml" => Ok(Self::Uml),
            "qemu" => Ok(Self::Qemu),
            _ => bail!("unknown backend {s:?} (uml or qemu)"),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Uml => "uml",
            Self::Qemu => "qemu",
        })
    }
}

/// A kernel ready to boot.
enum Kernel {
    Uml(uml::Kernel),
    Qemu(qemu::Kernel),
}

/// The rig, prepared: packages installed, kernel and module tree in the cache.
pub(crate) struct Rig {
    cache: PathBuf,
    kernel: Kernel,
    /// The backend was chosen automatically: UML, until a run shows it cannot run here.
    auto: bool,
    /// Why qemu was chosen: UML is known not to run here.
    uml_cannot_run: Option<verdict::CannotRun>,
}

/// One command to run in the rig.
#[derive(Debug, Clone)]
pub(crate) struct RunSpec {
    /// The argv.
    pub(crate) command: Vec<OsString>,
    /// The command's whole environment.
    pub(crate) env: Vec<(OsString, OsString)>,
    /// Its working directory.
    pub(crate) cwd: PathBuf,
    /// When to stop the VM.
    pub(crate) timeout: Duration,
    /// Guest memory in MiB.
    pub(crate) mem_mib: u32,
    /// qemu's vCPUs.
    pub(crate) cpus: u32,
    /// Stream the guest console to stderr, print timings.
    pub(crate) verbose: bool,
    /// The VM's instance name; generated when `None`.
    pub(crate) instance: Option<String>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The command exited with this status (128 + N when killed by signal N).
    Exited(u8),
    /// The timeout passed; the VM was stopped.
    TimedOut,
    /// xtask got this signal; the VM was stopped.
    Interrupted(i32),
    /// The VM ended without reporting an exit status: the rig failed.
    NoStatus {
        /// What happened, and the end of the guest's console log.
        console: String,
        /// The console's line telling of a guest kernel panic, if there was one.
        panic: Option<String>,
    },
}

/// Timings of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timings {
    /// Guest uptime when the command started, if it did.
    pub(crate) boot_to_command: Option<Duration>,
    /// From starting the VM until it was gone.
    pub(crate) total: Duration,
}

/// The rig's cache: `LVS_RIG_CACHE`, else `${XDG_CACHE_HOME:-$HOME/.cache}/lvs-rig`.
pub(crate) fn cache_dir() -> PathBuf {
    cache_dir_from(|name| std::env::var_os(name))
}

fn cache_dir_from(var: impl Fn(&str) -> Option<OsString>) -> PathBuf {
    let non_empty = |name| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = non_empty("LVS_RIG_CACHE") {
        return dir;
    }
    let base = non_empty("XDG_CACHE_HOME")
        .or_else(|| non_empty("HOME").map(|home| home.join(".cache")))
        .unwrap_or_else(|| crate::workspace_root().join("target"));
    base.join("lvs-rig")
}

/// Installs what `backend` needs and prepares its kernel in the cache. Needs root.
///
/// `None` chooses automatically: qemu if UML is known not to run on this host (a verdict cached
/// by an earlier run), else UML, falling back to qemu at the first run if its guest kernel
/// panics before the command starts (see [`Rig::run`]).
pub(crate) fn prepare(backend: Option<Backend>) -> Result<Rig> {
    // SAFETY: geteuid cannot fail and has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the rig must run as root (it installs packages and boots a kernel as root)");
    }
    let cache = cache_dir();
    if cache
        .as_os_str()
        .as_bytes()
        .iter()
        .any(u8::is_ascii_whitespace)
    {
        bail!(
            "the rig's cache {} has whitespace in its path; set LVS_RIG_CACHE",
            cache.display()
        );
    }
    std::fs::create_dir_all(&cache)
        .with_context(|| format!("cannot create the cache {}", cache.display()))?;
    let cache = cache.canonicalize()?;
    let (backend, auto, uml_cannot_run) = match backend {
        Some(backend) => (backend, false, None),
        None => match verdict::cached(&cache, &extra_kernel_args()) {
            Some(known) => (Backend::Qemu, false, Some(known)),
            None => (Backend::Uml, true, None),
        },
    };
    let kernel = prepare_kernel(&cache, backend)?;
    Ok(Rig {
        cache,
        kernel,
        auto,
        uml_cannot_run,
    })
}

/// Installs the packages of `backend` and prepares its kernel in `cache`.
fn prepare_kernel(cache: &Path, backend: Backend) -> Result<Kernel> {
    // One preparer at a time; the lock goes with the file.
    let lock = File::create(cache.join(".lock"))?;
    // SAFETY: flock on a descriptor `lock` keeps open.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error()).context("cannot lock the cache");
    }
    let log = cache.join("apt.log");
    let backend_packages = match backend {
        Backend::Uml => uml::PACKAGES,
        Backend::Qemu => qemu::PACKAGES,
    };
    let packages: Vec<&str> = install::GUEST_PACKAGES
        .iter()
        .chain(backend_packages)
        .copied()
        .collect();
    install::ensure_packages(&packages, &log)?;
    let kernel = match backend {
        Backend::Uml => Kernel::Uml(uml::prepare(cache)?),
        Backend::Qemu => Kernel::Qemu(qemu::prepare(cache, &log)?),
    };
    drop(lock);
    Ok(kernel)
}

/// Prepares the rig (see [`prepare`]) and boots it once with `true`, to tell "the rig cannot
/// start" apart from failing tests. An automatic choice is settled by this boot.
pub(crate) fn start(backend: Option<Backend>) -> Result<Rig> {
    let mut rig = prepare(backend)?;
    if let Some(line) = rig.choice() {
        eprintln!("{line}");
    }
    let probe = RunSpec {
        command: vec!["true".into()],
        env: guest_env(std::env::vars_os(), &[]),
        cwd: "/".into(),
        timeout: Duration::from_secs(120),
        mem_mib: 1024,
        cpus: 1,
        verbose: false,
        instance: None,
    };
    match rig.run(&probe)? {
        (Outcome::Exited(0), timings) => {
            eprintln!(
                "xtask: the rig ({}) boots: `true` took {:.2?} (command started {:.2?} after boot)",
                rig.backend(),
                timings.total,
                timings.boot_to_command.unwrap_or_default()
            );
            rig.auto = false;
            Ok(rig)
        }
        (Outcome::NoStatus { console, .. }, _) => bail!("{console}"),
        (other, _) => bail!("`true` in the rig ended with {other:?}"),
    }
}

/// `LVS_RIG_KERNEL_ARGS`, split at whitespace.
fn extra_kernel_args() -> Vec<String> {
    std::env::var("LVS_RIG_KERNEL_ARGS")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// A fresh instance name: `lvsrig-PID-N`.
fn new_instance() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("lvsrig-{}-{nanos}", std::process::id())
}

/// Whether `name` may be an instance name (it ends up on a kernel command line and in paths).
fn valid_instance(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The last `n` lines of `text`.
fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl Rig {
    /// Runs `spec` in a fresh VM. Its stdout and stderr go to xtask's.
    ///
    /// When the backend was chosen automatically and UML's guest kernel panics before the
    /// command starts, UML cannot run on this host: the verdict is cached, said in one line, and
    /// the command runs under qemu instead (it never started, so it runs once).
    pub(crate) fn run(&mut self, spec: &RunSpec) -> Result<(Outcome, Timings)> {
        let (outcome, timings) = self.run_once(spec)?;
        if let Outcome::NoStatus {
            panic: Some(line), ..
        } = &outcome
            && self.auto
            && self.backend() == Backend::Uml
            && timings.boot_to_command.is_none()
        {
            let known = verdict::record(&self.cache, &extra_kernel_args(), line)?;
            eprintln!("{}", known.message());
            self.kernel = prepare_kernel(&self.cache, Backend::Qemu)?;
            self.auto = false;
            self.uml_cannot_run = Some(known);
            return self.run_once(spec);
        }
        Ok((outcome, timings))
    }

    fn run_once(&self, spec: &RunSpec) -> Result<(Outcome, Timings)> {
        let instance = match &spec.instance {
            Some(name) if valid_instance(name) => name.clone(),
            Some(name) => bail!("invalid instance name {name:?} (letters, digits, - and _)"),
            None => new_instance(),
        };
        let run = RunDir::create(&self.cache, &instance, spec)?;
        let boot = Boot {
            cache: &self.cache,
            run: &run.path,
            instance: &instance,
            marker: format!("{MARKER_PREFIX}{instance}"),
            mem_mib: spec.mem_mib,
            cpus: spec.cpus,
            verbose: spec.verbose,
            extra_kernel_args: extra_kernel_args(),
        };
        let _restore = process::StatusFlags::save(&[libc::STDOUT_FILENO, libc::STDERR_FILENO]);
        let started = Instant::now();
        let deadline = started + spec.timeout;
        let (ended, console) = match &self.kernel {
            Kernel::Uml(kernel) => {
                let (vm, console) = uml::boot(kernel, &boot)?;
                let ended = vm.wait(deadline);
                (ended, console.finish())
            }
            Kernel::Qemu(kernel) => {
                let (vm, drains, console) = qemu::boot(kernel, &boot)?;
                let ended = vm.wait(deadline);
                drains.finish();
                (ended, console.finish())
            }
        };
        let timings = Timings {
            boot_to_command: run
                .read("t_ready")
                .and_then(|t| t.trim().parse::<f64>().ok())
                .and_then(|secs| Duration::try_from_secs_f64(secs).ok()),
            total: started.elapsed(),
        };
        let outcome = match (ended, run.read("rc")) {
            (Ended::TimedOut, _) => Outcome::TimedOut,
            (Ended::Signalled(signal), _) => Outcome::Interrupted(signal),
            // The command's status is what counts, however the guest went down afterwards.
            (Ended::Exited(_) | Ended::Panicked(_), Some(rc)) => match rc.trim().parse::<u8>() {
                Ok(rc) => Outcome::Exited(rc),
                Err(_) => bail!("the guest reported an invalid exit status {rc:?}"),
            },
            (ended @ (Ended::Exited(_) | Ended::Panicked(_)), None) => {
                let panic = console::panic_line(console.as_bytes());
                let how = match (&ended, &panic) {
                    (_, Some(line)) => format!("the guest kernel panicked ({line})"),
                    (Ended::Exited(Some(status)), None) => format!("the VM ended ({status})"),
                    _ => "the VM ended (status unknown)".to_owned(),
                };
                Outcome::NoStatus {
                    console: format!(
                        "{how} without reporting an exit status; guest console, last 60 lines:\n{}",
                        tail_lines(&console, 60)
                    ),
                    panic,
                }
            }
        };
        if spec.verbose {
            eprintln!(
                "xtask: {}: command started at {} guest uptime; VM wall time {:.2?}",
                self.backend(),
                timings
                    .boot_to_command
                    .map_or_else(|| "(never)".to_owned(), |t| format!("{t:.2?}")),
                timings.total
            );
        }
        Ok((outcome, timings))
    }

    /// The line that says why this rig boots qemu although no backend was forced (UML cannot
    /// run on this host), if that is so.
    pub(crate) fn choice(&self) -> Option<String> {
        self.uml_cannot_run
            .as_ref()
            .map(verdict::CannotRun::message)
    }

    /// The backend this rig boots.
    pub(crate) fn backend(&self) -> Backend {
        match self.kernel {
            Kernel::Uml(_) => Backend::Uml,
            Kernel::Qemu(_) => Backend::Qemu,
        }
    }
}

/// What a backend needs to know to boot one run.
struct Boot<'a> {
    cache: &'a Path,
    run: &'a Path,
    instance: &'a str,
    /// One argument of every VM process, `lvsrig_instance=NAME`.
    marker: String,
    mem_mib: u32,
    cpus: u32,
    verbose: bool,
    /// `LVS_RIG_KERNEL_ARGS`, split at whitespace: more kernel command line arguments, e.g.
    /// `lvsrig_debug=1` (the init prints timestamps) or `loglevel=7`.
    extra_kernel_args: Vec<String>,
}

impl Boot<'_> {
    /// Where the guest console goes: stderr when verbose, else `console.log` in the run dir.
    fn console(&self) -> Result<std::os::fd::OwnedFd> {
        if self.verbose {
            Ok(std::os::fd::AsFd::as_fd(&std::io::stderr()).try_clone_to_owned()?)
        } else {
            Ok(File::create(self.run.join("console.log"))?.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_dir_order() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        assert_eq!(
            cache_dir_from(vars(&[("LVS_RIG_CACHE", "/c"), ("HOME", "/h")])),
            PathBuf::from("/c")
        );
        assert_eq!(
            cache_dir_from(vars(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")])),
            PathBuf::from("/x/lvs-rig")
        );
        assert_eq!(
            cache_dir_from(vars(&[("XDG_CACHE_HOME", ""), ("HOME", "/h")])),
            PathBuf::from("/h/.cache/lvs-rig")
        );
    }

    #[test]
    fn instance_names() {
        assert!(valid_instance(&new_instance()));
        assert!(valid_instance("a-b_c9"));
        assert!(!valid_instance(""));
        assert!(!valid_instance("a b"));
        assert!(!valid_instance("../x"));
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail_lines("1\n2\n3\n", 2), "2\n3");
        assert_eq!(tail_lines("1", 5), "1");
        assert_eq!(tail_lines("", 5), "");
    }
}
