//! The web console of the LVS director toolkit: what piranha-gui was to Piranha's users, as a
//! process of its own beside `director run`. Its pages have piranha-gui's fields (global
//! settings, redundancy, virtual servers, real servers, monitoring scripts) and edit `lvs.cf`
//! through `lvscf`'s layout-keeping edits: comments, blank lines, order and untouched values stay
//! byte for byte. Each change is validated as the director would plan the file (errors with
//! their `line:column` shown at the field) and kept in a draft; the changes page shows the diff,
//! and applying writes the file atomically (the previous one kept as `lvs.cf.bak`, `serial_no`
//! incremented as piranha-gui did) and reloads the running director over its control socket.
//! The monitoring page shows the director's live table and drives it (drain, disable, enable,
//! force a role, reload).
//!
//! Access needs the password whose Argon2id hash [`hash_password`] wrote (`director console
//! passwd`); a session cookie (`HttpOnly`, `SameSite=Strict`, `Secure` when served over TLS,
//! with an idle expiry), a CSRF token in every form, login throttling per client address;
//! every value is HTML-escaped. A listening address other than loopback is refused without
//! TLS unless the operator insists ([`check_listen`]).
//!
//! ```no_run
//! # async fn run() -> Result<(), console::Error> {
//! let options = console::Options::new("/etc/sysconfig/ha/lvs.cf");
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3636").await
//!     .map_err(|source| console::Error::Io { what: "listening".into(), source })?;
//! console::serve(listener, options).await
//! # }
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

mod auth;
pub mod cli;
mod draft;
mod fields;
mod http;
mod pages;
mod tls;
mod toolkit;

pub use auth::{Passwd, hash_password};
pub use draft::{Draft, Paths};
pub use tls::Tls;

/// The most connections served at once.
const MAX_CONNECTIONS: usize = 128;

/// Where the password hash is kept unless told otherwise.
pub const DEFAULT_PASSWD: &str = "/etc/director/console.passwd";

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written, or the socket could not listen.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The system's answer.
        #[source]
        source: std::io::Error,
    },
    /// The password could not be hashed, or the password file holds no hash.
    #[error("password: {0}")]
    Password(String),
    /// The system's random numbers could not be read.
    #[error("random numbers: {0}")]
    Random(String),
    /// lvs.cf cannot be parsed, edited or planned.
    #[error("{0}")]
    Config(String),
    /// The file changed on disk since the changes started.
    #[error("{0} changed on disk since these changes started: discard them and edit again")]
    Conflict(String),
    /// No such page or block.
    #[error("not found: {0}")]
    NotFound(String),
    /// The certificate or key cannot be used.
    #[error("TLS: {0}")]
    Tls(String),
    /// Serving on a non-loopback address without TLS, unasked.
    #[error(
        "refusing to serve {0} without TLS: passwords and session cookies would cross the network in clear (--insecure-http to do it anyway)"
    )]
    Insecure(SocketAddr),
}

/// How the console runs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// `lvs.cf`.
    pub config: PathBuf,
    /// The settings overlay, if any (read for validation).
    pub settings: Option<PathBuf>,
    /// The password file ([`DEFAULT_PASSWD`]).
    pub passwd: PathBuf,
    /// The running director's control socket.
    pub socket: PathBuf,
    /// A session ends after this long without a request.
    pub session_ttl: Duration,
    /// Whether the session cookie is marked `Secure` (served over TLS).
    pub secure_cookie: bool,
}

impl Options {
    /// The console of `config`, with the default password file and control socket, sessions
    /// of 30 minutes.
    pub fn new(config: impl Into<PathBuf>) -> Options {
        Options {
            config: config.into(),
            settings: None,
            passwd: DEFAULT_PASSWD.into(),
            socket: director_core::control::DEFAULT_SOCKET.into(),
            session_ttl: Duration::from_secs(30 * 60),
            secure_cookie: false,
        }
    }

    /// With the settings overlay `path`.
    pub fn with_settings(mut self, path: Option<PathBuf>) -> Options {
        self.settings = path;
        self
    }

    /// With the password file `path`.
    pub fn with_passwd(mut self, path: impl Into<PathBuf>) -> Options {
        self.passwd = path.into();
        self
    }

    /// With the director's control socket `path`.
    pub fn with_socket(mut self, path: impl Into<PathBuf>) -> Options {
        self.socket = path.into();
        self
    }
}

/// Refuses to serve `addr` in clear unless it is a loopback address, `tls` is on, or
/// `insecure_http` says the operator knows.
///
/// ```
/// assert!(console::check_listen("127.0.0.1:3636".parse().unwrap(), false, false).is_ok());
/// assert!(console::check_listen("0.0.0.0:3636".parse().unwrap(), false, false).is_err());
/// assert!(console::check_listen("0.0.0.0:3636".parse().unwrap(), false, true).is_ok());
/// ```
pub fn check_listen(addr: SocketAddr, tls: bool, insecure_http: bool) -> Result<(), Error> {
    if addr.ip().is_loopback() || tls || insecure_http {
        Ok(())
    } else {
        Err(Error::Insecure(addr))
    }
}

/// Serves the console on `listener` over plain HTTP until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, options: Options) -> Result<(), Error> {
    serve_with(listener, options, None).await
}

/// Serves the console on `listener` over TLS (`tls`); the session cookie is `Secure`.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    mut options: Options,
    tls: Tls,
) -> Result<(), Error> {
    options.secure_cookie = true;
    serve_with(listener, options, Some(tls)).await
}

async fn serve_with(
    listener: tokio::net::TcpListener,
    options: Options,
    tls: Option<Tls>,
) -> Result<(), Error> {
    let app = Arc::new(http::App::new(options));
    // At most this many connections at once: beyond, new ones are closed at once.
    let open = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = listener.accept().await.map_err(|source| Error::Io {
            what: "accepting a connection".into(),
            source,
        })?;
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
            tracing::warn!("console: {MAX_CONNECTIONS} connections open: closing {peer}'s");
            continue;
        };
        let app = Arc::clone(&app);
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = service_fn(move |req| {
                let app = Arc::clone(&app);
                async move { Ok::<_, std::convert::Infallible>(http::handle(app, peer, req).await) }
            });
            let builder = {
                let mut b = http1::Builder::new();
                b.timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10));
                b
            };
            let served = match tls {
                None => {
                    builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                }
                Some(Tls(acceptor)) => {
                    // The handshake has the same patience as a request's headers.
                    let accepted =
                        tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
                            .await;
                    match accepted {
                        Ok(Ok(stream)) => {
                            builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await
                        }
                        Ok(Err(e)) => {
                            tracing::debug!("console: TLS handshake with {peer}: {e}");
                            return;
                        }
                        Err(_) => return,
                    }
                }
            };
            if let Err(e) = served {
                tracing::debug!("console: connection from {peer}: {e}");
            }
        });
    }
}

/// The README's examples, compiled as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
