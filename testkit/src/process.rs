//! A child process whose log lines (stderr) a test waits on.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use crate::Error;

/// A running program whose stderr lines are collected, echoed with a tag, and waited on. The
/// program is killed when this is dropped.
///
/// ```no_run
/// # fn main() -> Result<(), testkit::Error> {
/// let ns = testkit::NetNs::new()?;
/// let mut cmd = ns.command("sh");
/// cmd.args(["-c", "echo ready >&2; sleep 5"]);
/// let mut p = testkit::Logged::spawn(cmd, "sh")?;
/// let line = p.wait_for("ready");
/// assert_eq!(line.text, "ready");
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Logged {
    /// The child (stdin and stdout are null, stderr is read here).
    pub child: Child,
    lines: mpsc::Receiver<Line>,
    seen: Vec<Line>,
    /// Lines before this index no longer count.
    from: usize,
    /// How long [`Logged::wait_for`] waits for a line.
    pub patience: Duration,
}

/// One line of the program's stderr and when it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The text, without the newline.
    pub text: String,
    /// When the line was read.
    pub at: Instant,
}

impl Logged {
    /// Starts `command` (stdin and stdout null, stderr read by a thread that echoes each line to
    /// the test's stderr as `  TAG | LINE`).
    pub fn spawn(mut command: Command, tag: &str) -> Result<Logged, Error> {
        let shown = format!("{command:?}");
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| Error::Spawn {
                command: shown,
                source,
            })?;
        let (tx, lines) = mpsc::channel();
        if let Some(stderr) = child.stderr.take() {
            let tag = tag.to_string();
            std::thread::spawn(move || {
                for text in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let at = Instant::now();
                    eprintln!("  {tag} | {text}");
                    if tx.send(Line { text, at }).is_err() {
                        return;
                    }
                }
            });
        }
        Ok(Logged {
            child,
            lines,
            seen: Vec::new(),
            from: 0,
            patience: Duration::from_secs(20),
        })
    }

    /// Waits until a line contains `text`, in whatever order the lines came: lines already read
    /// count too (unless [`Logged::forget`] dropped them). Panics after [`Logged::patience`].
    pub fn wait_for(&mut self, text: &str) -> Line {
        match self.try_wait_for(text, self.patience) {
            Some(line) => line,
            None => panic!(
                "no line with {text:?} within {:?}; since the last forget: {:#?}",
                self.patience,
                self.seen[self.from..]
                    .iter()
                    .map(|l| &l.text)
                    .collect::<Vec<_>>()
            ),
        }
    }

    /// As [`Logged::wait_for`], but `None` after `limit` (or when the program closed stderr).
    pub fn try_wait_for(&mut self, text: &str, limit: Duration) -> Option<Line> {
        if let Some(line) = self.seen[self.from..]
            .iter()
            .find(|l| l.text.contains(text))
        {
            return Some(line.clone());
        }
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).ok()?;
            self.seen.push(line.clone());
            if line.text.contains(text) {
                return Some(line);
            }
        }
    }

    /// From now on only new lines count; returns the lines that stop counting.
    pub fn forget(&mut self) -> Vec<String> {
        self.seen.extend(self.lines.try_iter());
        let old = self.seen[self.from..]
            .iter()
            .map(|l| l.text.clone())
            .collect();
        self.from = self.seen.len();
        old
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the program.
    pub fn signal(&self, signal: i32) -> Result<(), Error> {
        let pid = libc::pid_t::try_from(self.child.id()).map_err(|_| Error::Spawn {
            command: "kill".into(),
            source: std::io::Error::other("pid out of range"),
        })?;
        // SAFETY: kill(2) with a pid we own and a signal number; no memory is involved.
        if unsafe { libc::kill(pid, signal) } == 0 {
            Ok(())
        } else {
            Err(Error::Spawn {
                command: format!("kill -{signal} {pid}"),
                source: std::io::Error::last_os_error(),
            })
        }
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
