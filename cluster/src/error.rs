//! The crate's error.

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting that cannot work, and why.
    #[error("cluster settings: {0}")]
    Settings(String),
}
