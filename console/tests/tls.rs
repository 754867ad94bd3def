//! The console over TLS (a self-signed certificate, as an operator makes one): a client that
//! trusts that certificate logs in and gets a `Secure` session cookie; plain HTTP on the same
//! port gets no page.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SEED: &str = include_str!("../../lvscf/tests/fixtures/seed/01-nat-single-router.cf");

/// A TLS client on `tcp` that trusts `cert` only, for `localhost`.
async fn tls_to(
    cert: &rcgen::Certificate,
    tcp: tokio::net::TcpStream,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.expect("a TLS handshake")
}

#[tokio::test]
async fn over_tls_the_session_cookie_is_secure_and_plain_http_gets_nothing() {
    let dir = std::env::temp_dir().join(format!("console-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("lvs.cf"), SEED).unwrap();
    std::fs::write(
        dir.join("passwd"),
        console::hash_password("s3cret").unwrap(),
    )
    .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    let tls = console::Tls::from_pem_files(&dir.join("cert.pem"), &dir.join("key.pem")).unwrap();
    // A key that is not PEM is refused with its file's name.
    std::fs::write(dir.join("bad.pem"), "not a key").unwrap();
    let bad = console::Tls::from_pem_files(&dir.join("cert.pem"), &dir.join("bad.pem"));
    assert!(bad.unwrap_err().to_string().contains("bad.pem"));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let options = console::Options::new(dir.join("lvs.cf"))
        .with_passwd(dir.join("passwd"))
        .with_socket(dir.join("no-director.sock"));
    tokio::spawn(console::serve_tls(listener, options, tls));

    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut s = tls_to(&cert, tcp).await;
    let body = "password=s3cret";
    let req = format!(
        "POST /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut answer = String::new();
    // The server closes after its answer; a TLS close without close_notify is not our concern.
    let _ = s.read_to_string(&mut answer).await;
    assert!(answer.starts_with("HTTP/1.1 303"), "{answer}");
    let cookie = (answer.lines())
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("{answer}"));
    for part in ["HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(cookie.contains(part), "{cookie}");
    }

    // Plain HTTP to the TLS port: no page comes back.
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET /login HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got).await;
    assert!(!String::from_utf8_lossy(&got).contains("Log in"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn director_console_with_a_certificate_serves_https() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        console: console::cli::Args,
    }
    let dir = std::env::temp_dir().join(format!("console-tls-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("lvs.cf"), SEED).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let cli = Cli::try_parse_from([
        "console".to_string(),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
        "--config".into(),
        path("lvs.cf"),
        "--passwd-file".into(),
        path("passwd"),
        "--tls-cert".into(),
        path("cert.pem"),
        "--tls-key".into(),
        path("key.pem"),
    ])
    .unwrap();
    // It serves until the process ends.
    std::thread::spawn(move || console::cli::main(cli.console));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let answer = runtime.block_on(async {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let tcp = loop {
            match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                Ok(s) => break s,
                Err(e) => assert!(std::time::Instant::now() < deadline, "{e}"),
            }
            // Waiting for the console's thread to listen.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        let mut s = tls_to(&cert, tcp).await;
        s.write_all(b"GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer).await;
        answer
    });
    // The certificate options serve HTTPS: the login page over TLS.
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("Log in"), "{answer}");
    let _ = std::fs::remove_dir_all(&dir);
}
