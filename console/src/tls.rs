//! Serving over TLS: rustls (with `ring`) from a certificate chain and a key in PEM files.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::Error;

/// The TLS side of the console: what [`crate::serve_tls`] accepts connections with.
#[derive(Clone)]
pub struct Tls(pub(crate) tokio_rustls::TlsAcceptor);

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls")
    }
}

impl Tls {
    /// The certificate chain in `cert` (PEM, the console's own first) and its private key in
    /// `key` (PEM: PKCS#8, PKCS#1 or SEC1). A self-signed certificate is fine: the operator's
    /// browser, and the peer console, pin it.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Tls, Error> {
        let io = |path: &Path| {
            let what = format!("reading {}", path.display());
            move |e: rustls::pki_types::pem::Error| Error::Tls(format!("{what}: {e}"))
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .and_then(|it| it.collect())
            .map_err(io(cert))?;
        if certs.is_empty() {
            return Err(Error::Tls(format!("{}: no certificate", cert.display())));
        }
        let key = PrivateKeyDer::from_pem_file(key).map_err(io(key))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| Error::Tls(format!("{}: {e}", cert.display())))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
    }
}
