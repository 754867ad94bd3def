//! The VM's host processes: start, wait with a deadline, stop, and make sure none is left.

use std::io;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::signals;

/// How long the VM gets to stop after SIGTERM before it is killed.
const TERM_GRACE: Duration = Duration::from_secs(3);

/// Something that happened to a running VM.
enum Event {
    /// The VM process ended.
    Exited(io::Result<ExitStatus>),
    /// xtask got a signal.
    Signal(i32),
    /// The guest kernel panicked: this line of its console says so.
    Panic(String),
}

/// The events of a VM about to start: made before it, so that what watches the VM's console can
/// report a panic (see [`Events::panic_reporter`]).
pub(crate) struct Events {
    tx: Sender<Event>,
    rx: Receiver<Event>,
}

impl Events {
    pub(crate) fn new() -> Self {
        let (tx, rx) = mpsc::channel();
        Self { tx, rx }
    }

    /// A function that tells the VM's waiter that the guest kernel panicked.
    pub(crate) fn panic_reporter(&self) -> impl FnOnce(String) + Send + 'static {
        let tx = self.tx.clone();
        // The waiter is gone only once the VM is over; then there is nothing left to stop.
        move |line| drop(tx.send(Event::Panic(line)))
    }
}

/// How the wait for a VM ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The VM process ended by itself, with this status (`None`: waiting for it failed).
    Exited(Option<ExitStatus>),
    /// The deadline passed; the VM was stopped.
    TimedOut,
    /// xtask got this signal; the VM was stopped.
    Signalled(i32),
    /// The guest kernel panicked (this line of the console says so); the VM was killed.
    Panicked(String),
}

/// A running VM: its main process, a marker found on the command line of each of its processes,
/// and the events about it.
pub(crate) struct Vm {
    pid: i32,
    marker: String,
    events: Receiver<Event>,
    _signals: signals::Forward,
}

/// Starts `cmd` as a VM whose processes all carry `marker` as one of their arguments; `events`
/// are the VM's (made before, for its console watcher).
///
/// The VM gets its own process group (a terminal's Ctrl-C reaches xtask, which stops the VM in
/// order), SIGKILL when xtask dies, and the descriptors `inherit` (cleared of close-on-exec).
/// When `cmd` is a wrapper that starts the VM as its child (`unshare` for UML), the wrapper must
/// pass its death on (`--kill-child`).
pub(crate) fn spawn(
    mut cmd: Command,
    marker: String,
    inherit: &[RawFd],
    events: Events,
) -> Result<Vm> {
    let inherit = inherit.to_vec();
    cmd.process_group(0);
    // SAFETY: the closure runs between fork and exec and only makes async-signal-safe calls
    // (prctl, fcntl) on values it owns.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            for &fd in &inherit {
                if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let Events { tx, rx: events } = events;
    let signal_tx: Sender<Event> = tx.clone();
    let signals = signals::Forward::to(move |signal| {
        // The receiver is gone only once the VM is over; then there is nothing left to stop.
        let _ = signal_tx.send(Event::Signal(signal));
    });
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
    let pid = i32::try_from(child.id()).context("process id out of range")?;
    std::thread::Builder::new()
        .name("vm-wait".into())
        .spawn(move || {
            let _ = tx.send(Event::Exited(child.wait()));
        })
        .context("cannot start the thread that waits for the VM")?;
    Ok(Vm {
        pid,
        marker,
        events,
        _signals: signals,
    })
}

impl Vm {
    /// Waits until the VM ends, the deadline passes, a signal comes or the guest kernel
    /// panics; in the last three cases stops it (a panicked kernel is killed at once: it has
    /// nothing left to shut down, and UML spins on a core after a panic). In every case, every
    /// process of the VM is gone when this returns.
    pub(crate) fn wait(self, deadline: Instant) -> Ended {
        let left = deadline.saturating_duration_since(Instant::now());
        let ended = match self.events.recv_timeout(left) {
            Ok(Event::Exited(status)) => Ended::Exited(status.ok()),
            Ok(Event::Signal(signal)) => Ended::Signalled(signal),
            Ok(Event::Panic(line)) => Ended::Panicked(line),
            Err(RecvTimeoutError::Timeout) => Ended::TimedOut,
            Err(RecvTimeoutError::Disconnected) => Ended::Exited(None),
        };
        match ended {
            Ended::Exited(_) => {}
            Ended::Panicked(_) => self.kill(),
            Ended::TimedOut | Ended::Signalled(_) => self.stop(),
        }
        kill_marked(&self.marker);
        ended
    }

    /// SIGKILL to the VM's process group and its main process, then waits for it a little.
    fn kill(&self) {
        signal(-self.pid, libc::SIGKILL);
        signal(self.pid, libc::SIGKILL);
        self.exited_before(Instant::now() + TERM_GRACE);
    }

    /// SIGTERM first, to the process and its children (a wrapper such as `unshare --fork`
    /// ignores it, the VM behind it shuts down). Then SIGKILL for whatever is left.
    fn stop(&self) {
        signal(self.pid, libc::SIGTERM);
        for child in children(self.pid) {
            signal(child, libc::SIGTERM);
        }
        let deadline = Instant::now() + TERM_GRACE;
        if !self.exited_before(deadline) {
            self.kill();
        }
    }

    /// Whether the main process ended before `deadline` (signals meanwhile are ignored: the VM
    /// is being stopped anyway).
    fn exited_before(&self, deadline: Instant) -> bool {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(Event::Exited(_)) | Err(RecvTimeoutError::Disconnected) => return true,
                Ok(Event::Signal(_) | Event::Panic(_)) => {}
                Err(RecvTimeoutError::Timeout) => return false,
            }
        }
    }
}

fn signal(pid: i32, signal: i32) {
    // SAFETY: kill has no memory-safety preconditions; a vanished pid is ESRCH, ignored.
    unsafe {
        libc::kill(pid, signal);
    }
}

/// Restores the file status flags of some descriptors on drop.
///
/// UML sets `O_NONBLOCK` on the descriptors of its consoles, and flags belong to the open file
/// description, which xtask's stdout and stderr share with the parent (a shell, cargo): left
/// non-blocking, their later writes could fail with EAGAIN.
pub(crate) struct StatusFlags(Vec<(RawFd, libc::c_int)>);

impl StatusFlags {
    /// Saves the flags of `fds` (those that are open).
    pub(crate) fn save(fds: &[RawFd]) -> Self {
        Self(
            fds.iter()
                .filter_map(|&fd| {
                    // SAFETY: F_GETFL only reads the flags of a descriptor number.
                    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
                    (flags >= 0).then_some((fd, flags))
                })
                .collect(),
        )
    }
}

impl Drop for StatusFlags {
    fn drop(&mut self) {
        for &(fd, flags) in &self.0 {
            // SAFETY: F_SETFL only sets the flags of a descriptor number.
            unsafe {
                libc::fcntl(fd, libc::F_SETFL, flags);
            }
        }
    }
}

/// The direct children of `pid` (each thread lists the children it forked).
fn children(pid: i32) -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<i32>>()
        })
        .collect()
}

/// SIGKILLs every process that has `marker` as one of its arguments, until none is left.
pub(crate) fn kill_marked(marker: &str) {
    for _ in 0..50 {
        let pids = marked_processes(marker);
        if pids.is_empty() {
            return;
        }
        for pid in pids {
            signal(pid, libc::SIGKILL);
        }
        // Killed processes linger until their parent reaps them: look again shortly.
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The processes that have `marker` as one of their arguments, or as a space-separated word of
/// one (qemu's `-append`). Zombies have no arguments.
pub(crate) fn marked_processes(marker: &str) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| has_argument(&cmdline, marker.as_bytes()))
        })
        .collect()
}

/// The words starting with `prefix` on the command lines of all processes (e.g. every
/// `lvsrig_instance=NAME` of the VMs running now).
pub(crate) fn arguments_with_prefix(prefix: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for pid in entries.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok()) {
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        found.extend(
            words(&cmdline)
                .filter(|w| w.starts_with(prefix.as_bytes()))
                .map(|w| String::from_utf8_lossy(w).into_owned()),
        );
    }
    found
}

/// The words of a NUL-separated `cmdline`, split at NULs and spaces.
fn words(cmdline: &[u8]) -> impl Iterator<Item = &[u8]> {
    cmdline.split(|b| *b == 0 || *b == b' ')
}

/// Whether the NUL-separated `cmdline` has `arg` as one of its words (split at NULs and spaces).
fn has_argument(cmdline: &[u8], arg: &[u8]) -> bool {
    words(cmdline).any(|word| word == arg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_flags_are_restored() {
        let (socket, peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&socket);
        let flags = || unsafe { libc::fcntl(fd, libc::F_GETFL) };
        let before = flags();
        {
            let _saved = StatusFlags::save(&[fd]);
            unsafe { libc::fcntl(fd, libc::F_SETFL, before | libc::O_NONBLOCK) };
            assert_ne!(flags(), before);
        }
        assert_eq!(flags(), before);
        drop(peer);
    }

    #[test]
    fn children_lists_direct_children() {
        let mut child = Command::new("sh")
            .args(["-c", "read x"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        assert!(children(i32::try_from(std::process::id()).unwrap()).contains(&pid));
        signal(pid, libc::SIGKILL);
        child.wait().unwrap();
    }

    #[test]
    fn has_argument_matches_whole_words_only() {
        let cmdline = b"/usr/bin/linux.uml\0mem=1024M\0lvsrig_instance=a-1\0";
        assert!(has_argument(cmdline, b"lvsrig_instance=a-1"));
        assert!(!has_argument(cmdline, b"lvsrig_instance=a"));
        assert!(!has_argument(cmdline, b"instance=a-1"));
        assert!(!has_argument(b"", b"x"));
        assert!(has_argument(
            b"qemu\0-append\0quiet lvsrig_instance=a-1 x\0",
            b"lvsrig_instance=a-1"
        ));
    }

    #[test]
    fn finds_marked_processes_and_kills_them() {
        let marker = format!("xtask-test-marker-{}", std::process::id());
        // `read` blocks until stdin closes; the marker is the shell's $0. Once "ready" is out,
        // the shell runs (before exec, the child's command line is still ours).
        let mut child = Command::new("sh")
            .args(["-c", "echo ready; read x", &marker])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut ready,
        )
        .unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        assert_eq!(marked_processes(&marker), [pid]);
        signal(pid, libc::SIGKILL);
        child.wait().unwrap();
        assert!(marked_processes(&marker).is_empty());
    }
}
