use std::{fmt, io, net::SocketAddr, time::Duration};

use crate::expect::Snippet;

/// Why a probe failed. Its `Display` is the one-line reason operators see.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// The probe's socket could not be set up (source address, interface, fwmark).
    #[error("socket for {addr}: {what}: {source}")]
    Socket {
        /// The target.
        addr: SocketAddr,
        /// What was being set up.
        what: &'static str,
        /// The system's error.
        source: io::Error,
    },
    /// The connection was not established within the connect timeout.
    #[error("connect to {addr} timed out after {after:?}")]
    ConnectTimeout {
        /// The target.
        addr: SocketAddr,
        /// The connect timeout.
        after: Duration,
    },
    /// The connection failed (refused, unreachable, reset).
    #[error("connect to {addr}: {source}")]
    Connect {
        /// The target.
        addr: SocketAddr,
        /// The system's error.
        source: io::Error,
    },
    /// Sending the request or send string failed.
    #[error("send to {addr}: {source}")]
    Send {
        /// The target.
        addr: SocketAddr,
        /// The system's error.
        source: io::Error,
    },
    /// Reading failed (reset, ICMP unreachable for UDP).
    #[error("read from {addr}: {source}")]
    Read {
        /// The target.
        addr: SocketAddr,
        /// The system's error.
        source: io::Error,
    },
    /// The reply did not meet the expectation within the read timeout.
    #[error("read from {addr} timed out after {after:?}, {got} bytes read")]
    ReadTimeout {
        /// The target.
        addr: SocketAddr,
        /// The read timeout.
        after: Duration,
        /// Bytes received before the timeout.
        got: usize,
    },
    /// The reply was read completely (closed by the peer, or the byte limit) and does not match.
    #[error("expected {expected}, got {got}")]
    Mismatch {
        /// The expectation.
        expected: String,
        /// The start of what was read.
        got: String,
    },
    /// The HTTP response could not be parsed or was too large.
    #[error("bad HTTP response from {addr}: {what}")]
    BadResponse {
        /// The target.
        addr: SocketAddr,
        /// What is wrong with it.
        what: String,
    },
    /// The HTTP status is not one of the expected ones.
    #[error("HTTP status {got}, expected {expected}")]
    Status {
        /// The status received.
        got: u16,
        /// The accepted statuses.
        expected: String,
    },
    /// The body's digest differs from the configured one.
    #[error("body digest {got}, expected {expected}")]
    Digest {
        /// The configured digest.
        expected: String,
        /// The digest of the body received.
        got: String,
    },
    /// The TLS handshake failed (certificate, protocol, or the peer does not speak TLS).
    #[error("TLS with {addr}: {source}")]
    Tls {
        /// The target.
        addr: SocketAddr,
        /// The TLS error.
        source: io::Error,
    },
    /// The external program could not be started.
    #[error("program {program:?} could not start: {source}")]
    Spawn {
        /// The program (argv\[0\]).
        program: String,
        /// The system's error.
        source: io::Error,
    },
    /// The external program did not finish in time; its whole process group was killed.
    #[error("program {program:?} timed out after {after:?} and was killed")]
    ProgramTimeout {
        /// The program (argv\[0\]).
        program: String,
        /// The timeout.
        after: Duration,
    },
    /// The external program exited unsuccessfully.
    #[error("program {program:?} {status}")]
    ProgramFailed {
        /// The program (argv\[0\]).
        program: String,
        /// How it ended.
        status: ExitReason,
    },
    /// The check did not finish by its deadline and was abandoned (its sockets closed, its
    /// processes killed).
    #[error("check abandoned after {after:?}")]
    Abandoned {
        /// The deadline.
        after: Duration,
    },
    /// A probe supplied by the application failed.
    #[error("{0}")]
    Custom(String),
}

/// How an external program ended, when that counts as a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExitReason {
    /// It exited with this non-zero code.
    Code(i32),
    /// It was killed by this signal (a crash, or killed by someone else).
    Signal(i32),
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Code(c) => write!(f, "exited with status {c}"),
            ExitReason::Signal(s) => write!(f, "was killed by signal {s}"),
        }
    }
}

impl ProbeError {
    /// Whether the check could not run for want of a resource of this host (descriptors,
    /// memory, processes: `EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`, `EAGAIN` on a socket or a
    /// program's start). Such a failure says nothing of the server: the [`Monitor`](crate::Monitor)
    /// gives no verdict on it and checks again at the next interval.
    ///
    /// ```
    /// use healthcheck::ProbeError;
    /// let e = ProbeError::Socket {
    ///     addr: "192.0.2.1:80".parse().unwrap(),
    ///     what: "socket",
    ///     source: std::io::Error::from_raw_os_error(libc::EMFILE),
    /// };
    /// assert!(e.is_local());
    /// let refused = ProbeError::Connect {
    ///     addr: "192.0.2.1:80".parse().unwrap(),
    ///     source: std::io::Error::from_raw_os_error(libc::ECONNREFUSED),
    /// };
    /// assert!(!refused.is_local());
    /// ```
    pub fn is_local(&self) -> bool {
        match self {
            ProbeError::Socket { source, .. } | ProbeError::Spawn { source, .. } => matches!(
                source.raw_os_error(),
                Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM | libc::EAGAIN)
            ),
            _ => false,
        }
    }

    pub(crate) fn mismatch(expected: impl fmt::Display, got: &[u8]) -> Self {
        ProbeError::Mismatch {
            expected: expected.to_string(),
            got: format!("{:?}", Snippet(got)),
        }
    }
}
