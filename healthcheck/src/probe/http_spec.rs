//! An HTTP check as people write it in a configuration file (`{ path = "/health", status =
//! "200-299", https = true }`), with serde (feature `serde`), turned into an [`HttpCheck`].

use std::fmt;
use std::path::PathBuf;

use crate::{Error, Expect, HttpCheck, Tls};

/// The settings of an HTTP or HTTPS check, every one optional.
///
/// ```
/// let mut spec = healthcheck::HttpSpec::default();
/// spec.path = Some("/health".into());
/// spec.https = true;
/// let check = spec.check()?;
/// assert_eq!(check.to_string(), "https GET /health status 200-299");
/// # Ok::<(), healthcheck::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
#[non_exhaustive]
pub struct HttpSpec {
    /// Method (GET).
    pub method: Option<String>,
    /// Path (`/`).
    pub path: Option<String>,
    /// `Host` header.
    pub host: Option<String>,
    /// Accepted statuses (`200-299`).
    pub status: Option<String>,
    /// A substring the body must contain.
    pub expect: Option<String>,
    /// HTTPS.
    #[cfg_attr(feature = "serde", serde(default))]
    pub https: bool,
    /// Accept any certificate (HTTPS).
    #[cfg_attr(feature = "serde", serde(default))]
    pub insecure: bool,
    /// Server name to send and verify (HTTPS).
    pub sni: Option<String>,
    /// PEM file of trusted CAs (HTTPS).
    pub ca_file: Option<PathBuf>,
    /// Keep the connection between checks.
    #[cfg_attr(feature = "serde", serde(default))]
    pub keep_alive: bool,
}

impl HttpSpec {
    /// The check these settings describe.
    pub fn check(&self) -> Result<HttpCheck, Error> {
        let mut c = HttpCheck::get(self.path.as_deref().unwrap_or("/"));
        if let Some(m) = &self.method {
            c.method = m.clone();
        }
        c.host = self.host.clone();
        if let Some(status) = &self.status {
            c.status = status.parse().map_err(|e| Error::HttpStatus {
                text: status.clone(),
                source: Box::new(e),
            })?;
        }
        c.body_expect = (self.expect.as_ref()).map(|e| Expect::Substring(e.as_bytes().to_vec()));
        if self.https {
            c.tls = Some(Tls {
                insecure: self.insecure,
                sni: self.sni.clone(),
                ca_file: self.ca_file.clone(),
            });
        } else if self.insecure || self.sni.is_some() || self.ca_file.is_some() {
            return Err(Error::TlsWithoutHttps);
        }
        c.keep_alive = self.keep_alive;
        Ok(c)
    }
}

impl fmt::Display for HttpCheck {
    /// The check for people: `https GET /health status 200-299 expect "ok"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        write!(
            f,
            "{scheme} {} {} status {}",
            self.method, self.path, self.status
        )?;
        if let Some(e) = &self.body_expect {
            write!(f, " expect {e}")?;
        }
        Ok(())
    }
}
