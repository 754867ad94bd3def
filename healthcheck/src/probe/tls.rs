//! TLS for HTTPS probes (rustls with the ring provider).

use std::{
    fmt,
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, OnceLock},
};

use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    crypto::CryptoProvider,
    pki_types::{CertificateDer, ServerName, UnixTime, pem::PemObject},
};
use tokio::{net::TcpStream, time::Instant};
use tokio_rustls::{TlsConnector, client::TlsStream};

use super::{ProbeError, Timeouts, before};
use crate::Error;

/// TLS settings of an HTTPS probe.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tls {
    /// Verify the server's certificate chain and name (the default). When off, any certificate
    /// is accepted, but the handshake's signatures are still checked.
    pub insecure: bool,
    /// Server name sent in SNI and verified; by default the `Host` header's name, or the target's
    /// address (then no SNI is sent).
    pub sni: Option<String>,
    /// PEM file of trusted CA certificates; by default the system's store.
    pub ca_file: Option<PathBuf>,
}

impl Tls {
    /// Verified against the system's store, the name from the `Host` header or the address.
    pub fn new() -> Tls {
        Tls::default()
    }

    /// Accepts any certificate (`insecure = true`; signatures are still checked).
    pub fn with_insecure(mut self, insecure: bool) -> Tls {
        self.insecure = insecure;
        self
    }

    /// Sends and verifies `sni` as the server's name.
    pub fn with_sni(mut self, sni: impl Into<String>) -> Tls {
        self.sni = Some(sni.into());
        self
    }

    /// Trusts the CA certificates of the PEM file `ca_file` instead of the system's.
    pub fn with_ca_file(mut self, ca_file: impl Into<PathBuf>) -> Tls {
        self.ca_file = Some(ca_file.into());
        self
    }

    pub(crate) fn prepare(&self, host: &str, addr: SocketAddr) -> Result<PreparedTls, Error> {
        let name = match &self.sni {
            Some(sni) => sni.clone(),
            None => host_name(host).unwrap_or_else(|| addr.ip().to_string()),
        };
        let name = ServerName::try_from(name.clone())
            .map_err(|source| Error::ServerName { name, source })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(Error::Tls)?;
        let config = if self.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
                .with_no_client_auth()
        } else {
            builder
                .with_root_certificates(self.roots()?)
                .with_no_client_auth()
        };
        Ok(PreparedTls {
            connector: TlsConnector::from(Arc::new(config)),
            name,
        })
    }

    fn roots(&self) -> Result<Arc<RootCertStore>, Error> {
        static SYSTEM: OnceLock<Arc<RootCertStore>> = OnceLock::new();
        let mut roots = RootCertStore::empty();
        match &self.ca_file {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                    .map_err(|source| Error::CaFile {
                        path: path.clone(),
                        source,
                    })?;
                if certs.is_empty() {
                    return Err(Error::NoCertificates { path: path.clone() });
                }
                for cert in certs {
                    roots.add(cert).map_err(|source| Error::CaCertificate {
                        path: path.clone(),
                        source,
                    })?;
                }
            }
            None => {
                let system = SYSTEM.get_or_init(|| {
                    let mut roots = RootCertStore::empty();
                    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
                    Arc::new(roots)
                });
                return Ok(system.clone());
            }
        }
        Ok(Arc::new(roots))
    }
}

/// The name part of a `Host` header, unless it is an address literal.
fn host_name(host: &str) -> Option<String> {
    if host.starts_with('[') {
        return None;
    }
    let name = host.rsplit_once(':').map_or(host, |(n, _)| n);
    if name.parse::<std::net::IpAddr>().is_ok() {
        None
    } else {
        Some(name.to_string())
    }
}

#[derive(Clone)]
pub(crate) struct PreparedTls {
    connector: TlsConnector,
    name: ServerName<'static>,
}

impl fmt::Debug for PreparedTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedTls")
            .field("name", &self.name)
            .finish()
    }
}

impl PreparedTls {
    pub(crate) async fn handshake(
        &self,
        stream: TcpStream,
        addr: SocketAddr,
        deadline: Instant,
        timeouts: &Timeouts,
    ) -> Result<TlsStream<TcpStream>, ProbeError> {
        let handshake = self.connector.connect(self.name.clone(), stream);
        let tls_error = |addr, source| ProbeError::Tls { addr, source };
        before(deadline, addr, timeouts, 0, tls_error, handshake).await
    }
}

/// `insecure`: any certificate, but signatures checked with the provider's algorithms.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
