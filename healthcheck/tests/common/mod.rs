//! Real servers on loopback for the probe tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::{
    convert::Infallible,
    net::SocketAddr,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, body::Incoming, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// A raw TCP server on 127.0.0.1 running `handle` for every connection.
pub async fn tcp_server<F, Fut>(handle: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = Arc::new(handle);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            LIVE.fetch_add(1, Ordering::SeqCst);
            let work = handle(stream);
            tokio::spawn(async move {
                work.await;
                LIVE.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    addr
}

static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Connections the test servers of this process still hold.
pub fn live_connections() -> usize {
    LIVE.load(Ordering::SeqCst)
}

/// A raw server that reads the request head, then writes `reply` and closes.
pub async fn canned(reply: &'static [u8]) -> SocketAddr {
    tcp_server(move |mut s| async move {
        read_head(&mut s).await;
        let _ = s.write_all(reply).await;
    })
    .await
}

/// Reads until a blank line (or 4 KiB, or EOF).
pub async fn read_head(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") && got.len() < 4096 {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}

/// A port on 127.0.0.1 that nothing listens on.
pub fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

pub static BIG: std::sync::LazyLock<Bytes> = std::sync::LazyLock::new(|| {
    Bytes::from(
        (0..8 * 1024 * 1024)
            .map(|i| b'a' + (i % 26) as u8)
            .collect::<Vec<u8>>(),
    )
});

async fn route(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let text = |status: u16, body: &'static str| {
        Response::builder()
            .status(status)
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap()
    };
    Ok(match path.as_str() {
        "/" => text(200, "hello, healthy world"),
        "/missing" => text(404, "not here"),
        "/unavailable" => text(503, "maintenance"),
        "/big" => Response::new(Full::new(BIG.clone())),
        "/echo" => {
            let head = format!(
                "{} {} host={} x-probe={}\n",
                req.method(),
                req.uri(),
                req.headers()
                    .get("host")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-"),
                req.headers()
                    .get("x-probe")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-"),
            );
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let mut out = head.into_bytes();
            out.extend_from_slice(&body);
            Response::new(Full::new(Bytes::from(out)))
        }
        _ => text(404, "no route"),
    })
}

/// Serves `route` over HTTP/1.1 with hyper on one connection.
pub async fn serve_http<I>(io: I)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), service_fn(route))
        .await;
}

/// A hyper HTTP server on 127.0.0.1; counts connections.
pub async fn http_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let addr = tcp_server(move |s| {
        c.fetch_add(1, Ordering::SeqCst);
        serve_http(s)
    })
    .await;
    (addr, count)
}

/// A CA, a certificate for `lb.test` signed by it, and a TLS server (hyper behind rustls).
pub struct TlsServer {
    pub addr: SocketAddr,
    pub ca_file: PathBuf,
}

pub async fn tls_server(tag: &str) -> TlsServer {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["lb.test".to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let ca_file =
        std::env::temp_dir().join(format!("healthcheck-ca-{}-{tag}.pem", std::process::id()));
    std::fs::write(&ca_file, ca.pem()).unwrap();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let addr = tcp_server(move |s| {
        let acceptor = acceptor.clone();
        async move {
            if let Ok(tls) = acceptor.accept(s).await {
                serve_http(tls).await;
            }
        }
    })
    .await;
    TlsServer { addr, ca_file }
}

/// Waits (bounded) until `f` is true, polling every few milliseconds.
pub async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `n` milliseconds.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A server judged on every check: no reentry delay, no slow start.
pub fn plain() -> healthcheck::ServerConfig {
    healthcheck::ServerConfig::default()
        .with_reentry(Duration::ZERO)
        .with_slow_start(None)
}
