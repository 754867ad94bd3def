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

/// Runs `argv` with stdin and stderr on /dev/null, in its own process group; returns up to
/// [`MAX_OUTPUT`] bytes of its standard output if it exits 0 before `limit`. On a timeout, or
/// when the returned future is dropped, the whole group is killed; stragglers left behind by a
/// program that exited are killed too.
pub(crate) async fn run(argv: &[String], limit: Duration) -> Result<Vec<u8>, ProbeError> {
    let program = argv.first().cloned().unwrap_or_default();
    let deadline = Instant::now() + limit;
    let mut child: Child = Command::new(&program)
        .args(argv.iter().skip(1).map(OsString::from))
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .stdout(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| ProbeError::Spawn {
            program: program.clone(),
            source,
        })?;
    let mut group = GroupGuard(child.id().and_then(|id| i32::try_from(id).ok()));
    let mut stdout = child.stdout.take();
    let mut output = Vec::new();
    let read = async {
        let Some(out) = stdout.as_mut() else { return };
        let mut buf = [0u8; 1024];
        while let Ok(n) = out.read(&mut buf).await {
            if n == 0 {
                break;
            }
            let keep = n.min(MAX_OUTPUT - output.len().min(MAX_OUTPUT));
            output.extend_from_slice(&buf[..keep]);
        }
    };
    let finished = timeout_at(deadline, async {
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
    })
    .await;
    let status = match finished {
        Ok(Ok(status)) => status,
        Ok(Err(source)) => return Err(ProbeError::Spawn { program, source }),
        Err(_) => {
            group.kill();
            // The group was SIGKILLed: reaping is immediate.
            let _ = child.wait().await;
            return Err(ProbeError::ProgramTimeout {
                program,
                after: limit,
            });
        }
    };
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok(output),
        (Some(code), _) => Err(ProbeError::ProgramFailed {
            program,
            status: ExitReason::Code(code),
        }),
        (None, Some(sig)) => Err(ProbeError::ProgramFailed {
            program,
            status: ExitReason::Signal(sig),
        }),
        (None, None) => Err(ProbeError::ProgramFailed {
            program,
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
