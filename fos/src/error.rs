//! The crate's error.

use lvscf::Place;

/// What can go wrong with failover services: in the plan (each with its place in `lvs.cf`) or
/// while starting to run them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting that cannot work.
    #[error("{place}: {message}")]
    Invalid {
        /// Where.
        place: Place,
        /// What is wrong.
        message: String,
    },
    /// A construct this crate does not run (refused rather than silently dropped).
    #[error("{place}: {what}")]
    Unsupported {
        /// Where.
        place: Place,
        /// What it is.
        what: String,
    },
    /// A check that cannot work (nanny's semantics), with its place.
    #[error(transparent)]
    Check(healthcheck::Error),
    /// The heartbeat (sockets, roles, timers).
    #[error("heartbeat: {0}")]
    Heartbeat(#[from] heartbeat::Error),
    /// The addresses could not be read or changed at all.
    #[error("addresses: {0}")]
    Addresses(#[from] arp_announce::Error),
}

impl Error {
    /// Where in `lvs.cf` the problem is, when it is in the file.
    pub fn place(&self) -> Option<&Place> {
        match self {
            Error::Invalid { place, .. } | Error::Unsupported { place, .. } => Some(place),
            Error::Check(e) => e.place(),
            _ => None,
        }
    }
}
