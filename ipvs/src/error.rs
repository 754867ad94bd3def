//! The crate's error type.

use std::fmt;
use std::io;
use std::net::IpAddr;

use crate::codec::MappingError;
use crate::model::{DaemonState, ServiceKey, ValidationError, fmt_addr_port};

/// The operation that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Opening the connection (family lookup, netns switch).
    Connect,
    /// GET_INFO.
    GetInfo,
    /// GET_SERVICE (do or dump).
    GetService,
    /// NEW_SERVICE.
    AddService,
    /// SET_SERVICE.
    EditService,
    /// DEL_SERVICE.
    DelService,
    /// GET_DEST.
    GetDest,
    /// NEW_DEST.
    AddDest,
    /// SET_DEST.
    EditDest,
    /// DEL_DEST.
    DelDest,
    /// GET_DAEMON.
    GetDaemon,
    /// NEW_DAEMON.
    AddDaemon,
    /// DEL_DAEMON.
    DelDaemon,
    /// GET_CONFIG.
    GetTimeouts,
    /// SET_CONFIG.
    SetTimeouts,
    /// ZERO.
    Zero,
    /// FLUSH.
    Flush,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Operation::*;
        f.write_str(match self {
            Connect => "connect to IPVS",
            GetInfo => "get IPVS info",
            GetService => "get service",
            AddService => "add service",
            EditService => "edit service",
            DelService => "delete service",
            GetDest => "list destinations",
            AddDest => "add destination",
            EditDest => "edit destination",
            DelDest => "delete destination",
            GetDaemon => "list sync daemons",
            AddDaemon => "start sync daemon",
            DelDaemon => "stop sync daemon",
            GetTimeouts => "get timeouts",
            SetTimeouts => "set timeouts",
            Zero => "zero counters",
            Flush => "flush",
        })
    }
}

/// The object an operation was about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Target {
    /// Nothing in particular (info, flush, timeouts, all services).
    None,
    /// A service.
    Service(ServiceKey),
    /// A destination of a service.
    Destination {
        /// The service.
        service: ServiceKey,
        /// Real server address.
        addr: IpAddr,
        /// Real server port.
        port: u16,
    },
    /// A sync daemon.
    Daemon(DaemonState),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::None => Ok(()),
            Target::Service(k) => write!(f, " {k}"),
            Target::Destination {
                service,
                addr,
                port,
            } => {
                write!(f, " {} of {service}", fmt_addr_port(addr, *port))
            }
            Target::Daemon(s) => write!(f, " {s}"),
        }
    }
}

/// Everything that can go wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// EEXIST: the service, destination or daemon already exists.
    #[error("cannot {op}{target}: it already exists")]
    AlreadyExists {
        /// Operation.
        op: Operation,
        /// Object.
        target: Target,
        /// The kernel's errno.
        #[source]
        source: io::Error,
    },
    /// ESRCH / ENOENT on a destination: the object does not exist.
    #[error("cannot {op}{target}: no such object")]
    NotFound {
        /// Operation.
        op: Operation,
        /// Object.
        target: Target,
        /// The kernel's errno.
        #[source]
        source: io::Error,
    },
    /// ENOENT on NEW/SET_SERVICE: unknown scheduler or persistence engine.
    #[error("cannot {op}{target}: no such scheduler {scheduler:?} or persistence engine {pe:?}")]
    NoSuchScheduler {
        /// Operation.
        op: Operation,
        /// Object.
        target: Target,
        /// Scheduler requested.
        scheduler: String,
        /// Persistence engine requested.
        pe: Option<String>,
        /// The kernel's errno.
        #[source]
        source: io::Error,
    },
    /// EPERM: CAP_NET_ADMIN in the initial user namespace is needed.
    #[error(
        "cannot {op}{target}: permission denied (needs CAP_NET_ADMIN in the initial user namespace)"
    )]
    PermissionDenied {
        /// Operation.
        op: Operation,
        /// Object.
        target: Target,
        /// The kernel's errno.
        #[source]
        source: io::Error,
    },
    /// The `IPVS` generic-netlink family does not exist.
    #[error("IPVS is not available in this kernel (try `modprobe ip_vs`)")]
    IpvsNotAvailable {
        /// The lookup error.
        #[source]
        source: io::Error,
    },
    /// Refused before sending: the kernel would answer EINVAL or similar.
    #[error("cannot {op}{target}: invalid argument: {source}")]
    InvalidArgument {
        /// Operation.
        op: Operation,
        /// Object.
        target: Target,
        /// What is wrong.
        #[source]
        source: ValidationError,
    },
    /// The running kernel does not know an attribute and would silently drop it.
    #[error("cannot {op}{target}: {feature} needs Linux {needs} or later (running {running})")]
    Unsupported {
        /// Operation.
        op: Operation,
        /// Object.
        target: Target,
        /// The feature.
        feature: &'static str,
        /// Minimal kernel version.
        needs: &'static str,
        /// Running kernel release.
        running: String,
    },
    /// Any other errno from the kernel.
    #[error("cannot {op}{target}: {source}")]
    Kernel {
        /// Operation.
        op: Operation,
        /// Object.
        target: Target,
        /// The kernel's errno.
        #[source]
        source: io::Error,
    },
    /// A reply could not be decoded.
    #[error("cannot {op}{target}: malformed reply: {source}")]
    Decode {
        /// Operation.
        op: Operation,
        /// Object.
        target: Target,
        /// What was wrong.
        #[source]
        source: ReplyError,
    },
    /// Socket-level failure (including netns switching), or a thread of the client that died
    /// (its panic or cancellation is the source).
    #[error("cannot {op}: {source}")]
    Io {
        /// Operation.
        op: Operation,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The connection future was dropped or stopped.
    #[error("cannot {op}{target}: the netlink connection is closed")]
    ConnectionClosed {
        /// Operation.
        op: Operation,
        /// Object.
        target: Target,
    },
}

impl Error {
    /// Maps a kernel errno for `op` on `target` to a variant.
    pub(crate) fn from_errno(
        op: Operation,
        target: Target,
        errno: i32,
        sched: Option<(String, Option<String>)>,
    ) -> Self {
        let source = io::Error::from_raw_os_error(errno);
        match errno {
            libc::EEXIST => Error::AlreadyExists { op, target, source },
            libc::ESRCH => Error::NotFound { op, target, source },
            libc::ENOENT => match (op, sched) {
                (Operation::AddService | Operation::EditService, Some((scheduler, pe))) => {
                    Error::NoSuchScheduler {
                        op,
                        target,
                        scheduler,
                        pe,
                        source,
                    }
                }
                _ => Error::NotFound { op, target, source },
            },
            libc::EPERM | libc::EACCES => Error::PermissionDenied { op, target, source },
            _ => Error::Kernel { op, target, source },
        }
    }

    /// The kernel errno behind this error, if any.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::AlreadyExists { source, .. }
            | Error::NotFound { source, .. }
            | Error::NoSuchScheduler { source, .. }
            | Error::PermissionDenied { source, .. }
            | Error::IpvsNotAvailable { source }
            | Error::Kernel { source, .. }
            | Error::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

/// What was wrong with a kernel reply: the source of [`Error::Decode`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// The bytes are not a netlink message with IPVS attributes.
    #[error(transparent)]
    Malformed(#[from] netlink_packet_core::DecodeError),
    /// The attributes do not make the object asked for.
    #[error(transparent)]
    Mapping(#[from] MappingError),
    /// The reply lacks the nest it is for (`service`, `dest`).
    #[error("reply without {0}")]
    MissingNest(&'static str),
    /// The kernel answered nothing where it always answers one message.
    #[error("no reply")]
    NoReply,
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
