//! The crate's one error type: a configuration that cannot work, and what the driver could not
//! do.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong: a configuration refused before anything starts, and what the
/// tokio driver could not do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The keepalive is zero (or below the 1 ms resolution).
    #[error("keepalive {keepalive:?} is too short: at least 1ms")]
    KeepaliveTooShort {
        /// The keepalive given.
        keepalive: Duration,
    },
    /// The deadtime does not exceed the keepalive: every lost heartbeat would be a takeover.
    #[error("deadtime {deadtime:?} must be greater than keepalive {keepalive:?}")]
    DeadtimeNotAboveKeepalive {
        /// The keepalive given.
        keepalive: Duration,
        /// The deadtime given.
        deadtime: Duration,
    },
    /// The authentication key is shorter than [`MIN_KEY_LEN`](crate::MIN_KEY_LEN).
    #[error("the key has {len} bytes: at least 16 are needed")]
    KeyTooShort {
        /// Its length.
        len: usize,
    },
    /// Both nodes have the same node id: they could not tell their packets apart.
    #[error("our node id and the peer's are both {id}: they must differ")]
    SameNodeId {
        /// The id.
        id: u32,
    },
    /// The key file cannot be read.
    #[error("cannot read the key file {path}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The key file may be read or written by its group or by others.
    #[error(
        "the key file {path} has mode {mode:04o}: the authenticated heartbeat's key must be its \
         owner's alone (chmod 600)"
    )]
    KeyFileMode {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// None of this node's addresses is the configuration's `primary` or `backup`.
    #[error(
        "this node has neither the primary ({primary}) nor the backup ({}) address",
        backup.map_or("none".to_string(), |b| b.to_string())
    )]
    NotInConfig {
        /// The configured primary.
        primary: std::net::Ipv4Addr,
        /// The configured backup.
        backup: Option<std::net::Ipv4Addr>,
    },
    /// This node is the backup, and the configuration says the backup does not run.
    #[error(
        "this node is the backup ({backup}), and `backup_active = 0` says the backup does not run"
    )]
    BackupInactive {
        /// The backup's address.
        backup: std::net::Ipv4Addr,
    },
    /// The driver was given a different number of sockets than the configuration has paths.
    #[error("{sockets} sockets for {paths} paths: give one socket per path")]
    PathCount {
        /// Sockets given.
        sockets: usize,
        /// Paths configured.
        paths: usize,
    },
    /// A heartbeat socket could not be bound.
    #[error("cannot bind the heartbeat socket of path {path} to {addr}")]
    Bind {
        /// The path.
        path: usize,
        /// The local address.
        addr: SocketAddr,
        /// The system error.
        #[source]
        source: io::Error,
    },
    /// `SO_BINDTODEVICE` failed.
    #[error("cannot bind the heartbeat socket of path {path} to device {device}")]
    BindDevice {
        /// The path.
        path: usize,
        /// The device.
        device: String,
        /// The system error.
        #[source]
        source: io::Error,
    },
    /// The rtnetlink socket for link monitoring could not be opened.
    #[error("link monitoring via rtnetlink failed: {what}")]
    Netlink {
        /// What was being done.
        what: String,
        /// The system error.
        #[source]
        source: io::Error,
    },
    /// An rtnetlink request of the link monitor failed.
    #[error("link monitoring via rtnetlink failed: {what}")]
    Rtnetlink {
        /// What was being done.
        what: String,
        /// rtnetlink's error.
        #[source]
        source: rtnetlink::Error,
    },
    /// An interface a path or a watch names is not there.
    #[error("link monitoring: {what}: no such interface")]
    NoInterface {
        /// Which one, and for what.
        what: String,
    },
    /// The driver's own thread (see [`Driver::spawn_thread`](crate::Driver::spawn_thread))
    /// could not start, or ended without an answer.
    #[error("the heartbeat thread: {source}")]
    Thread {
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The driver task panicked or was cancelled.
    #[error("the heartbeat driver task ended abnormally")]
    Task {
        /// What tokio said.
        #[source]
        source: tokio::task::JoinError,
    },
}
