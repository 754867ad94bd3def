//! The one error type of the crate: settings that cannot work, found before anything runs, and
//! a monitor that has stopped. (Why a probe failed is not an error of the API but a verdict's
//! reason: [`ProbeError`](crate::ProbeError), data carried by the results.)

use std::path::PathBuf;

/// What cannot be done, with its cause where there is one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An HTTP setting (method, path, header, status list, digest).
    #[error("HTTP check: {0}")]
    Http(String),
    /// An HTTP check's status list that does not parse.
    #[error("status {text:?}: {source}")]
    HttpStatus {
        /// The text given.
        text: String,
        /// Why.
        #[source]
        source: Box<Error>,
    },
    /// TLS settings on a check that is not HTTPS.
    #[error("insecure, sni and ca_file go with https = true")]
    TlsWithoutHttps,
    /// A TLS server name that is not a DNS name or an address.
    #[error("TLS: {name:?} is not a valid server name")]
    ServerName {
        /// The name.
        name: String,
        /// rustls's error.
        #[source]
        source: rustls::pki_types::InvalidDnsNameError,
    },
    /// The TLS configuration could not be built.
    #[error("TLS: {0}")]
    Tls(#[source] rustls::Error),
    /// A CA file that cannot be read as PEM.
    #[error("TLS: {}: {source}", path.display())]
    CaFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// A certificate of a CA file that cannot be trusted.
    #[error("TLS: {}: {source}", path.display())]
    CaCertificate {
        /// The file.
        path: PathBuf,
        /// rustls's error.
        #[source]
        source: rustls::Error,
    },
    /// A CA file without certificates.
    #[error("TLS: {}: no certificates in the file", path.display())]
    NoCertificates {
        /// The file.
        path: PathBuf,
    },
    /// A command line that cannot be split.
    #[error("command: {0}")]
    Command(String),
    /// A zero timeout.
    #[error("timeouts must be greater than zero")]
    Timeout,
    /// A server setting out of range.
    #[error("server: {0}")]
    Server(String),
    /// An `expect` given as a regular expression that does not compile.
    #[error("not a regular expression (use_regex = 1): {}", last_line(.0))]
    Regex(#[source] regex::Error),
    /// A check interval below one second (nanny's `timeout` is the interval).
    #[error("must be at least 1 second (it is the check interval)")]
    Interval,
    /// A setting of an lvs.cf virtual server that nanny's semantics cannot use, with where it is.
    #[cfg(feature = "lvscf")]
    #[error("{place}: {source}")]
    At {
        /// The file, line, virtual server and key.
        place: lvscf::Place,
        /// What is wrong.
        #[source]
        source: Box<Error>,
    },
    /// The monitor's task has ended.
    #[error("the health monitor has stopped")]
    MonitorStopped,
}

/// The regex crate's message draws the pattern over several lines; its last line says what is
/// wrong.
fn last_line(e: &regex::Error) -> String {
    e.to_string()
        .lines()
        .last()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_string()
}

impl Error {
    /// Where in lvs.cf, for an error of [`nanny`](crate::nanny)'s.
    #[cfg(feature = "lvscf")]
    pub fn place(&self) -> Option<&lvscf::Place> {
        match self {
            Error::At { place, .. } => Some(place),
            _ => None,
        }
    }
}
