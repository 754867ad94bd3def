//! The error type of this crate.

use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;

/// Why setting up, using or entering a network namespace failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A program could not be started at all (not installed, not executable, ...).
    #[error("cannot run `{command}`")]
    Spawn {
        /// The full command line.
        command: String,
        /// What `exec` reported.
        #[source]
        source: io::Error,
    },
    /// A program ran and failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    CommandFailed {
        /// The full command line.
        command: String,
        /// Its exit status.
        status: ExitStatus,
        /// What it printed on stderr (lossily decoded).
        stderr: String,
    },
    /// The namespace file (`/run/netns/NAME`) could not be opened.
    #[error("cannot open network namespace {}", path.display())]
    Open {
        /// The namespace file.
        path: PathBuf,
        /// Why opening it failed.
        #[source]
        source: io::Error,
    },
    /// `setns(2)` into the namespace failed.
    #[error("cannot enter network namespace {}", path.display())]
    Setns {
        /// The namespace file.
        path: PathBuf,
        /// What `setns` reported.
        #[source]
        source: io::Error,
    },
    /// The thread that runs a closure inside the namespace could not be started.
    #[error("cannot start a thread for network namespace {name}")]
    Thread {
        /// The namespace's name.
        name: String,
        /// Why the thread could not be spawned.
        #[source]
        source: io::Error,
    },
    /// A link could not be set up or down, or the socket to do it could not be opened.
    #[error("cannot set link {dev} {state}")]
    Link {
        /// The interface.
        dev: String,
        /// `up` or `down`.
        state: &'static str,
        /// What the kernel reported.
        #[source]
        source: io::Error,
    },
    /// A packet capture did not start, or ended early.
    #[error("capture `{command}`: {what}")]
    Capture {
        /// The capture's command line.
        command: String,
        /// What went wrong.
        what: String,
    },
    /// A file or directory the test needs could not be written.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// The system's answer.
        #[source]
        source: io::Error,
    },
}
