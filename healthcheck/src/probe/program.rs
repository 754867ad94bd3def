//! External programs: the probe (nanny's `send_program`) and the load monitor's command.

use std::{
    ffi::OsString, fmt, net::SocketAddr, os::unix::process::ExitStatusExt, process::Stdio,
    time::Duration,
};

use tokio::{
    io::AsyncReadExt,
    process::{Child, Command},
    time::{Instant, timeout_at},
};

use super::{Pass, ProbeError};
use crate::{Error, expect::Expect, probe::error::ExitReason};

/// Most output kept from a program (nanny reads 4095 bytes); the rest is read and dropped.
const MAX_OUTPUT: usize = 4096;

/// A command line, split once like a shell would split words (quotes, no expansion), with
/// `%h` (the real server's address) and `%p` (its port) substituted at run time, inside words
/// too; `%%` is a literal `%`. It runs without a shell.
///
/// ```
/// let t = healthcheck::CommandTemplate::parse("check_http -H %h -p %p -u '/a b'").unwrap();
/// let argv = t.render("10.0.0.1:8080".parse().unwrap());
/// assert_eq!(argv, ["check_http", "-H", "10.0.0.1", "-p", "8080", "-u", "/a b"]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandTemplate {
    words: Vec<String>,
}

impl CommandTemplate {
    /// Splits `command` into words.
    pub fn parse(command: &str) -> Result<Self, Error> {
        let words = shlex::split(command)
            .ok_or_else(|| Error::Command(format!("unbalanced quotes in {command:?}")))?;
        if words.is_empty() {
            return Err(Error::Command("empty command".into()));
        }
        Ok(CommandTemplate { words })
    }

    /// The program's name (the first word, unsubstituted).
    pub fn program(&self) -> &str {
        &self.words[0]
    }

    /// The argument vector for a real server.
    pub fn render(&self, target: SocketAddr) -> Vec<String> {
        let host = target.ip().to_string();
        let port = target.port().to_string();
        self.words
            .iter()
            .map(|w| {
                let mut out = String::with_capacity(w.len());
                let mut chars = w.chars();
                while let Some(c) = chars.next() {
                    if c != '%' {
                        out.push(c);
                        continue;
                    }
                    match chars.next() {
                        Some('h') => out.push_str(&host),
                        Some('p') => out.push_str(&port),
                        Some('%') => out.push('%'),
                        Some(other) => {
                            out.push('%');
                            out.push(other);
                        }
                        None => out.push('%'),
                    }
                }
                out
            })
            .collect()
    }
}

impl fmt::Display for CommandTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, w) in self.words.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            let plain = !w.is_empty()
                && !w
                    .chars()
                    .any(|c| c.is_whitespace() || "'\"\\$`;&|<>()*?#~".contains(c));
            if plain {
                f.write_str(w)?;
            } else {
                f.write_str(&shlex::try_quote(w).map_err(|_| fmt::Error)?)?;
            }
        }
        Ok(())
    }
}

/// An external-program probe: healthy when it exits 0 and, if `expect` is set, its output
/// (without one trailing newline) matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramCheck {
    /// The command.
    pub command: CommandTemplate,
    /// What its output must be; nanny compares exactly ([`Expect::Exact`]).
    pub expect: Option<Expect>,
}

impl ProgramCheck {
    pub(crate) async fn run(
        &self,
        target: SocketAddr,
        limit: Duration,
    ) -> Result<Pass, ProbeError> {
        let argv = self.command.render(target);
        let output = run(&argv, limit).await?;
        match &self.expect {
            None => Ok(Pass::Exited),
            Some(expect) => {
                let mut m = expect.matcher(MAX_OUTPUT);
                m.feed(&output);
                m.trim_newline();
                if m.finish() {
                    Ok(Pass::Matched)
                } else {
                    Err(ProbeError::mismatch(expect, m.seen()))
                }
            }
        }
    }
}

/// Kills a process group when dropped, unless disarmed: no child outlives its probe.
struct GroupGuard(Option<i32>);

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(pgid) = self.0.take() {
            // SAFETY: kill(2) with a negative pid signals a process group; no memory involved.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An external program run the way every program of this toolkit is run (checks'
/// `send_program`, the load monitor's command, the director's hooks and Piranha's failover
/// commands): without a shell, stdin on `/dev/null`, in a process group of its own, with a time
/// limit, and reading at most [`Program::OUTPUT_LIMIT`] bytes of what it writes (the rest is read
/// and dropped, so that it never blocks on a full pipe).
///
/// On a timeout, or when the future of [`Program::run`] is dropped, the whole process group is
/// killed (SIGKILL) and reaped. When the program exits, what it left running in its group is
/// killed too (a hook that forks a daemon leaks nothing), unless [`Program::keep_children`]:
/// what a service's start command leaves running is the service. A daemon that starts its own
/// session (`setsid`) leaves the group and is never killed.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// let argv = ["/bin/sh".to_string(), "-c".into(), "echo out; echo err >&2; exit 3".into()];
/// let done = healthcheck::Program::new(&argv, Duration::from_secs(5))
///     .with_stderr()
///     .run()
///     .await
///     .unwrap();
/// assert_eq!(done.status.code(), Some(3));
/// assert_eq!(done.output, b"out\nerr\n");
/// assert_eq!(done.to_string(), "exit status: 3: out\\nerr");
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Program<'a> {
    argv: &'a [String],
    limit: Duration,
    stderr: bool,
    keep_children: bool,
}

/// How a [`Program`] ended, within its time limit.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Finished {
    /// Its exit status.
    pub status: std::process::ExitStatus,
    /// The first [`Program::OUTPUT_LIMIT`] bytes of its output.
    pub output: Vec<u8>,
    /// Whether it wrote more than that.
    pub truncated: bool,
}

/// How it ended and, when it wrote something, its output (control characters escaped): e.g.
/// `exit status: 3: no route to host`.
impl fmt::Display for Finished {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.status)?;
        let text = String::from_utf8_lossy(&self.output);
        let text = text.trim_end();
        if !text.is_empty() {
            write!(f, ": {}", text.escape_debug())?;
        }
        if self.truncated {
            f.write_str(" (output truncated)")?;
        }
        Ok(())
    }
}

impl<'a> Program<'a> {
    /// Most output kept (nanny read 4095 bytes).
    pub const OUTPUT_LIMIT: usize = MAX_OUTPUT;

    /// `argv[0]` with the rest as its arguments, killed after `limit`.
    pub fn new(argv: &'a [String], limit: Duration) -> Program<'a> {
        Program {
            argv,
            limit,
            stderr: false,
            keep_children: false,
        }
    }

    /// Its standard error joins the output (by default it goes to `/dev/null`).
    pub fn with_stderr(mut self) -> Program<'a> {
        self.stderr = true;
        self
    }

    /// What it leaves running in its process group after it exits is not killed.
    pub fn keep_children(mut self) -> Program<'a> {
        self.keep_children = true;
        self
    }

    fn name(&self) -> String {
        self.argv.first().cloned().unwrap_or_default()
    }

    /// Runs it to its end or its time limit.
    ///
    /// # Errors
    ///
    /// [`ProbeError::Spawn`] when it cannot start (or `argv` is empty),
    /// [`ProbeError::ProgramTimeout`] when it did not end in time (its group is killed).
    pub async fn run(self) -> Result<Finished, ProbeError> {
        let program = self.name();
        let deadline = Instant::now() + self.limit;
        let spawn_error = |source| ProbeError::Spawn {
            program: program.clone(),
            source,
        };
        if self.argv.is_empty() {
            return Err(spawn_error(std::io::Error::other("empty command")));
        }
        // One pipe for stdout (and stderr), read as the program writes.
        let (reader, writer) = std::io::pipe().map_err(spawn_error)?;
        let stderr = if self.stderr {
            Stdio::from(writer.try_clone().map_err(spawn_error)?)
        } else {
            Stdio::null()
        };
        let spawned = Command::new(&program)
            .args(self.argv.iter().skip(1).map(OsString::from))
            .stdin(Stdio::null())
            .stdout(Stdio::from(writer))
            .stderr(stderr)
            .process_group(0)
            .kill_on_drop(true)
            .spawn();
        // The command held the pipe's writing end; it is closed here whatever happened, so
        // that the read ends when the program (and what it left running) does.
        let mut child: Child = spawned.map_err(spawn_error)?;
        let mut group = GroupGuard(child.id().and_then(|id| i32::try_from(id).ok()));
        let mut pipe =
            tokio::net::unix::pipe::Receiver::from_owned_fd(reader.into()).map_err(spawn_error)?;
        let mut output = Vec::new();
        let mut truncated = false;
        let read = async {
            let mut buf = [0u8; 1024];
            while let Ok(n) = pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let keep = n.min(MAX_OUTPUT - output.len().min(MAX_OUTPUT));
                truncated |= keep < n;
                output.extend_from_slice(&buf[..keep]);
            }
        };
        let keep_children = self.keep_children;
        let waited = async {
            if keep_children {
                // The program's end decides, not the pipe's: what it leaves running may hold
                // the pipe for ever.
                tokio::pin!(read);
                tokio::select! {
                    status = child.wait() => status,
                    () = &mut read => child.wait().await,
                }
            } else {
                let (status, ()) = tokio::join!(
                    async {
                        let status = child.wait().await;
                        // Stragglers holding the pipe open would keep the read going: end them.
                        group.kill();
                        status
                    },
                    read
                );
                status
            }
        };
        let status = timeout_at(deadline, waited).await;
        if keep_children && matches!(status, Ok(Ok(_))) {
            group.0 = None;
        }
        match status {
            Ok(Ok(status)) => Ok(Finished {
                status,
                output,
                truncated,
            }),
            Ok(Err(source)) => Err(ProbeError::Spawn { program, source }),
            Err(_) => {
                group.kill();
                // The group was SIGKILLed: reaping is immediate.
                let _ = child.wait().await;
                Err(ProbeError::ProgramTimeout {
                    program,
                    after: self.limit,
                })
            }
        }
    }
}

/// Programs run in the background, each as a [`Program`] with its own time limit and its
/// standard error joined to its output: hooks, which their caller does not wait for. How each
/// ended is logged (`tracing`: a failure as a warning, a success with output as info, a silent
/// success at debug level). Dropping the set kills what still runs; [`Background::finish`]
/// waits for it instead. Use it inside a tokio runtime.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// let mut hooks = healthcheck::Background::default();
/// hooks.spawn("the role hook", vec!["/bin/true".into(), "active".into()], Duration::from_secs(5));
/// assert_eq!(hooks.len(), 1);
/// hooks.finish().await;
/// assert_eq!(hooks.len(), 0);
/// # }
/// ```
#[derive(Debug, Default)]
pub struct Background {
    running: tokio::task::JoinSet<()>,
}

impl Background {
    /// Starts `argv` (nothing when it is empty), killed at `limit` with whatever it started;
    /// `what` names it in the log.
    pub fn spawn(&mut self, what: &str, argv: Vec<String>, limit: Duration) {
        if argv.is_empty() {
            return;
        }
        // Those that ended are forgotten here: the set holds only what runs.
        while self.running.try_join_next().is_some() {}
        let what = what.to_string();
        self.running.spawn(async move {
            let shown = argv.join(" ");
            match Program::new(&argv, limit).with_stderr().run().await {
                Ok(done) if done.status.success() && done.output.is_empty() => {
                    tracing::debug!("{what} `{shown}`: {done}");
                }
                Ok(done) if done.status.success() => tracing::info!("{what} `{shown}`: {done}"),
                Ok(done) => tracing::warn!("{what} `{shown}`: {done}"),
                Err(e) => tracing::warn!("{what} `{shown}`: {e}"),
            }
        });
    }

    /// How many programs have not been seen to end.
    pub fn len(&self) -> usize {
        self.running.len()
    }

    /// Whether none has.
    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    /// Waits until every program has ended (each at its limit at the latest).
    pub async fn finish(&mut self) {
        while self.running.join_next().await.is_some() {}
    }
}

/// Runs `argv` as a check's program: its standard output, if it exits 0 before `limit`.
pub(crate) async fn run(argv: &[String], limit: Duration) -> Result<Vec<u8>, ProbeError> {
    let program = Program::new(argv, limit);
    let name = program.name();
    let done = program.run().await?;
    match (done.status.code(), done.status.signal()) {
        (Some(0), _) => Ok(done.output),
        (Some(code), _) => Err(ProbeError::ProgramFailed {
            program: name,
            status: ExitReason::Code(code),
        }),
        (None, Some(sig)) => Err(ProbeError::ProgramFailed {
            program: name,
            status: ExitReason::Signal(sig),
        }),
        (None, None) => Err(ProbeError::ProgramFailed {
            program: name,
            status: ExitReason::Code(-1),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        let t = CommandTemplate::parse(r#"/bin/check "%h:%p" 100%% %x"#).unwrap();
        assert_eq!(
            t.render("[::1]:53".parse().unwrap()),
            ["/bin/check", "::1:53", "100%", "%x"]
        );
        assert!(CommandTemplate::parse("a 'b").is_err());
        let shown = CommandTemplate::parse(r#"check %h:%p "a b" ''"#)
            .unwrap()
            .to_string();
        assert_eq!(shown, "check %h:%p 'a b' ''");
        assert_eq!(CommandTemplate::parse(&shown).unwrap().to_string(), shown);
        assert!(CommandTemplate::parse("  ").is_err());
    }
}
