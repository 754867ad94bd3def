//! The crate's error.

use std::net::IpAddr;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting that cannot work, and why.
    #[error("cluster settings: {0}")]
    Settings(String),
    /// The rtnetlink connection could not be opened or a listing failed.
    #[error("rtnetlink: {0}")]
    Netlink(#[source] std::io::Error),
    /// The namespace has no `lo` to hang the VIP routes on.
    #[error("no loopback interface (lo) in this network namespace")]
    NoLoopback,
    /// A VIP's route could not be added or deleted.
    #[error("cannot {what} the route of VIP {vip}: {source}")]
    Route {
        /// The VIP.
        vip: IpAddr,
        /// `build`, `add` or `delete`.
        what: &'static str,
        /// The kernel's (or rtnetlink's) answer.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}
