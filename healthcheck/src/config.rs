//! Errors in a probe's or a server's settings.

/// A setting that cannot work, found before anything runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An HTTP setting (method, path, header, status list, digest).
    #[error("HTTP check: {0}")]
    Http(String),
    /// A TLS setting (server name, CA file).
    #[error("TLS: {0}")]
    Tls(String),
    /// A command line that cannot be split.
    #[error("command: {0}")]
    Command(String),
    /// A zero timeout.
    #[error("timeouts must be greater than zero")]
    Timeout,
    /// A server setting out of range.
    #[error("server: {0}")]
    Server(String),
}
