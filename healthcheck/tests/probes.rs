//! Every probe against real servers on loopback.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::{net::SocketAddr, time::Duration};

use common::*;
use healthcheck::{
    Binding, BodyDigest, Check, CommandTemplate, ExitReason, Expect, HttpCheck, Outcome, Pass,
    Probe, ProbeError, ProgramCheck, TcpCheck, Timeouts, Tls, UdpCheck, decode_escapes,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::UdpSocket,
};

fn quick() -> Timeouts {
    Timeouts::both(Duration::from_millis(400))
}

async fn run(addr: SocketAddr, check: Check) -> Outcome {
    run_with(addr, check, Binding::default(), quick()).await
}

async fn run_with(addr: SocketAddr, check: Check, binding: Binding, t: Timeouts) -> Outcome {
    Probe::new(addr, check, binding, t).unwrap().run().await
}

fn tcp(send: Option<&str>, expect: Option<Expect>) -> Check {
    let mut check = TcpCheck::new();
    check.send = send.map(decode_escapes);
    check.expect = expect;
    Check::Tcp(check)
}

fn substring(s: &str) -> Option<Expect> {
    Some(Expect::Substring(s.as_bytes().to_vec()))
}

// ---- TCP ----

#[tokio::test]
async fn tcp_connect_healthy_and_refused() {
    let addr = tcp_server(|_s| async {}).await;
    let o = run(addr, tcp(None, None)).await;
    assert_eq!(o.result.unwrap(), Pass::Connected);
    let o = run(closed_port(), tcp(None, None)).await;
    match o.result {
        Err(ProbeError::Connect { source, .. }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused)
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn tcp_send_expect_substring_across_segments() {
    let addr = tcp_server(|mut s| async move {
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"PING\r\n");
        for part in [&b"+PO"[..], b"NG\r", b"\n"] {
            s.write_all(part).await.unwrap();
            s.flush().await.unwrap();
            tokio::task::yield_now().await;
        }
    })
    .await;
    let o = run(addr, tcp(Some(r"PING\r\n"), substring("PONG\r\n"))).await;
    assert!(matches!(o.result, Ok(Pass::Matched)), "{o}");
    // Substring is the default: text in the middle matches; Piranha's prefix would not.
    let o = run(addr, tcp(Some(r"PING\r\n"), substring("ONG"))).await;
    assert!(o.is_ok(), "{o}");
}

#[tokio::test]
async fn tcp_first_read_prefix_is_piranha() {
    let addr = canned(b"HTTP/1.1 200 OK\r\n\r\n").await;
    let send = Some(r"GET / HTTP/1.0\r\n\r\n");
    let o = run(
        addr,
        tcp(send, Some(Expect::FirstReadPrefix(b"HTTP".to_vec()))),
    )
    .await;
    assert!(o.is_ok(), "{o}");
    let o = run(
        addr,
        tcp(send, Some(Expect::FirstReadPrefix(b"200 OK".to_vec()))),
    )
    .await;
    assert!(matches!(o.result, Err(ProbeError::Mismatch { .. })), "{o}");
    let o = run(addr, tcp(send, substring("200 OK"))).await;
    assert!(o.is_ok(), "{o}");
}

#[tokio::test]
async fn tcp_regex_and_any() {
    let addr = canned(b"220 mail.example ESMTP ready\r\n").await;
    let re = Expect::regex(r"^220 .*ESMTP").unwrap();
    assert!(run(addr, tcp(Some(r"\r\n\r\n"), Some(re))).await.is_ok());
    assert!(
        run(
            addr,
            tcp(Some(r"\r\n\r\n"), Some(Expect::nanny(b"*".to_vec())))
        )
        .await
        .is_ok()
    );
    // "*" needs a byte: a server that closes at once fails (Piranha counted it healthy).
    let silent = tcp_server(|_s| async {}).await;
    let o = run(silent, tcp(None, Some(Expect::Any))).await;
    assert!(matches!(o.result, Err(ProbeError::Mismatch { .. })), "{o}");
}

#[tokio::test]
async fn tcp_accept_and_hang_times_out_on_read() {
    let addr = tcp_server(|s| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(s);
    })
    .await;
    let o = run(addr, tcp(Some("hi"), substring("x"))).await;
    match o.result {
        Err(ProbeError::ReadTimeout { got: 0, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert!(o.latency >= Duration::from_millis(400) && o.latency < Duration::from_secs(2));
}

#[tokio::test]
async fn tcp_slow_drip_is_cut_by_the_read_deadline() {
    // One byte every 50 ms, forever: each read succeeds, the deadline still holds.
    let addr = tcp_server(|mut s| async move {
        loop {
            if s.write_all(b"z").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let o = run(addr, tcp(None, substring("OK"))).await;
    match o.result {
        Err(ProbeError::ReadTimeout { got, .. }) => assert!(got > 2, "{got}"),
        other => panic!("{other:?}"),
    }
    assert!(o.latency < Duration::from_secs(1), "{:?}", o.latency);
}

#[tokio::test]
async fn tcp_huge_reply_is_bounded() {
    // An endless stream: the probe gives up at its byte limit, not at the timeout.
    let addr = tcp_server(|mut s| async move {
        let chunk = vec![b'x'; 64 * 1024];
        while s.write_all(&chunk).await.is_ok() {}
    })
    .await;
    let t = Timeouts {
        max_bytes: 256 * 1024,
        ..Timeouts::both(Duration::from_secs(5))
    };
    let o = run_with(addr, tcp(None, substring("never")), Binding::default(), t).await;
    match &o.result {
        Err(ProbeError::Mismatch { got, .. }) => assert!(got.contains("xxxx"), "{got}"),
        other => panic!("{other:?}"),
    }
    assert!(o.latency < Duration::from_secs(2));
}

#[tokio::test]
async fn tcp_garbage_is_a_mismatch_with_the_bytes_shown() {
    let addr = canned(b"\x00\xffSSH-2.0-nope\r\n").await;
    let o = run(addr, tcp(Some(r"\r\n\r\n"), substring("HTTP"))).await;
    let text = o.to_string();
    assert!(text.starts_with("FAIL "), "{text}");
    assert!(text.contains(r#"got "\0\xffSSH-2.0-nope\r\n""#), "{text}");
}

/// A listener whose accept queue is full: further SYNs are dropped, so a connect to it hangs
/// (until the queue has room and the SYN is sent again). Returns it, its address, and the
/// connections that fill the queue (keep them).
fn full_accept_queue() -> (socket2::Socket, SocketAddr, Vec<socket2::Socket>) {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    loop {
        let filler =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        filler.set_nonblocking(true).unwrap();
        let _ = filler.connect(&addr.into());
        // Asked again, `connect` says whether this one got into the queue.
        let queued = filler.connect(&addr.into());
        fillers.push(filler);
        if queued.is_err_and(|e| e.raw_os_error() == Some(libc::EALREADY)) {
            return (socket, addr, fillers);
        }
        assert!(fillers.len() < 10, "the accept queue never filled");
    }
}

#[tokio::test]
async fn tcp_connect_timeout_is_its_own() {
    let (_listener, addr, _fillers) = full_accept_queue();
    let t = Timeouts {
        connect: Duration::from_millis(200),
        read: Duration::from_secs(5),
        ..Timeouts::default()
    };
    let o = run_with(addr, tcp(None, None), Binding::default(), t).await;
    match o.result {
        Err(ProbeError::ConnectTimeout { after, .. }) => {
            assert_eq!(after, Duration::from_millis(200));
            assert!(o.latency < Duration::from_secs(1));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn tcp_source_address_and_interface() {
    // The peer address as accept(2) reports it: the probe's reset may come before we look.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((_, peer)) = listener.accept().await {
            let _ = tx.send(peer.ip());
        }
    });
    let binding = Binding::new().with_source("127.0.0.2".parse().unwrap());
    let o = run_with(addr, tcp(None, None), binding, quick()).await;
    assert!(o.is_ok(), "{o}");
    assert_eq!(rx.recv().await.unwrap().to_string(), "127.0.0.2");

    let missing = Binding::new().with_interface("no-such-if0");
    let o = run_with(addr, tcp(None, None), missing, quick()).await;
    match o.result {
        Err(ProbeError::Socket { what, .. }) => assert_eq!(what, "bind to interface"),
        other => panic!("{other:?}"),
    }
}

// ---- UDP ----

async fn udp_server(reply: Option<&'static [u8]>) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let answer = reply
                .map(<[u8]>::to_vec)
                .unwrap_or_else(|| buf[..n].to_vec());
            if reply != Some(b"") {
                let _ = socket.send_to(&answer, from).await;
            }
        }
    });
    addr
}

#[tokio::test]
async fn udp_send_expect() {
    let echo = udp_server(None).await;
    let check = |send: &str, expect| {
        let mut check = UdpCheck::new().with_send(decode_escapes(send));
        check.expect = expect;
        Check::Udp(check)
    };
    assert!(
        run(echo, check(r"status\n", substring("status")))
            .await
            .is_ok()
    );
    assert!(run(echo, check("x", None)).await.is_ok());
    let o = run(echo, check("hello", substring("bye"))).await;
    assert!(matches!(o.result, Err(ProbeError::Mismatch { .. })), "{o}");
    // Nothing listens: ICMP port unreachable comes back as a refused read.
    let o = run(closed_port(), check("x", None)).await;
    match o.result {
        Err(ProbeError::Read { source, .. }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused)
        }
        other => panic!("{other:?}"),
    }
    // A server that never answers.
    let silent = udp_server(Some(b"")).await;
    let o = run(silent, check("x", None)).await;
    assert!(
        matches!(o.result, Err(ProbeError::ReadTimeout { .. })),
        "{o}"
    );
}

// ---- HTTP ----

fn http(path: &str) -> HttpCheck {
    HttpCheck::get(path)
}

#[tokio::test]
async fn http_status_and_body() {
    let (addr, _) = http_server().await;
    assert_eq!(
        run(addr, Check::Http(http("/"))).await.result.unwrap(),
        Pass::Status(200)
    );
    let o = run(addr, Check::Http(http("/unavailable"))).await;
    match o.result {
        Err(ProbeError::Status { got: 503, expected }) => assert_eq!(expected, "200-299"),
        other => panic!("{other:?}"),
    }
    let mut c = http("/missing");
    c.status = "200-299,404".parse().unwrap();
    assert!(run(addr, Check::Http(c)).await.is_ok());

    let mut c = http("/");
    c.body_expect = substring("healthy");
    assert!(run(addr, Check::Http(c.clone())).await.is_ok());
    c.body_expect = Some(Expect::regex("h[a-z]+, (un)?healthy").unwrap());
    assert!(run(addr, Check::Http(c.clone())).await.is_ok());
    c.body_expect = substring("sick");
    let o = run(addr, Check::Http(c)).await;
    assert!(matches!(o.result, Err(ProbeError::Mismatch { .. })), "{o}");
}

#[tokio::test]
async fn http_method_headers_body_and_host() {
    let (addr, _) = http_server().await;
    let mut c = http("/echo?q=1");
    c.method = "POST".into();
    c.host = Some("www.example.test".into());
    c.headers.push(("X-Probe".into(), "lvs".into()));
    c.body = b"payload-123".to_vec();
    c.body_expect = substring("POST /echo?q=1 host=www.example.test x-probe=lvs\npayload-123");
    let o = run(addr, Check::Http(c)).await;
    assert!(o.is_ok(), "{o}");
}

#[tokio::test]
async fn http_digest_over_a_large_body() {
    use sha2::Digest as _;
    let (addr, _) = http_server().await;
    let sha: [u8; 32] = sha2::Sha256::digest(&BIG[..]).into();
    let mut c = http("/big");
    c.digest = Some(BodyDigest::Sha256(sha));
    let t = Timeouts::both(Duration::from_secs(10));
    let o = run_with(addr, Check::Http(c.clone()), Binding::default(), t).await;
    assert!(o.is_ok(), "{o}");
    c.digest = Some("d41d8cd98f00b204e9800998ecf8427e".parse().unwrap());
    let o = run_with(addr, Check::Http(c.clone()), Binding::default(), t).await;
    assert!(matches!(o.result, Err(ProbeError::Digest { .. })), "{o}");
    // A body over the limit is refused rather than read forever.
    let small = Timeouts {
        max_body: 1024 * 1024,
        ..t
    };
    let o = run_with(addr, Check::Http(c), Binding::default(), small).await;
    assert!(
        matches!(o.result, Err(ProbeError::BadResponse { .. })),
        "{o}"
    );
}

#[tokio::test]
async fn http_body_match_beyond_the_kept_bytes_fails() {
    let (addr, _) = http_server().await;
    let mut c = http("/big");
    // The body's last bytes are past the 64 KiB kept for matching.
    let tail = String::from_utf8(BIG[BIG.len() - 40..].to_vec()).unwrap();
    c.body_expect = Some(Expect::Substring(format!("{tail}!").into_bytes()));
    let o = run_with(
        addr,
        Check::Http(c),
        Binding::default(),
        Timeouts::both(Duration::from_secs(5)),
    )
    .await;
    assert!(matches!(o.result, Err(ProbeError::Mismatch { .. })), "{o}");
    assert!(o.latency < Duration::from_secs(2));
}

#[tokio::test]
async fn http_chunked_and_until_close_bodies() {
    let chunked = canned(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n",
    )
    .await;
    let mut c = http("/");
    c.body_expect = substring("hello, world");
    assert!(run(chunked, Check::Http(c.clone())).await.is_ok());
    c.digest = Some(BodyDigest::Md5(md5_of(b"hello, world")));
    assert!(run(chunked, Check::Http(c.clone())).await.is_ok());

    let close = canned(b"HTTP/1.0 200 OK\r\nServer: old\r\n\r\nhello, world").await;
    assert!(run(close, Check::Http(c.clone())).await.is_ok());

    let truncated = canned(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello").await;
    c.body_expect = substring("missing");
    let o = run(truncated, Check::Http(c)).await;
    assert!(
        matches!(o.result, Err(ProbeError::BadResponse { .. })),
        "{o}"
    );
}

fn md5_of(data: &[u8]) -> [u8; 16] {
    use md5::Digest as _;
    md5::Md5::digest(data).into()
}

#[tokio::test]
async fn http_garbage_slow_and_interim_responses() {
    let garbage = canned(b"SSH-2.0-OpenSSH_9.2\r\n\r\n").await;
    let o = run(garbage, Check::Http(http("/"))).await;
    assert!(
        matches!(o.result, Err(ProbeError::BadResponse { .. })),
        "{o}"
    );

    let empty = tcp_server(|mut s| async move {
        read_head(&mut s).await;
    })
    .await;
    let o = run(empty, Check::Http(http("/"))).await;
    assert!(o.to_string().contains("closed without a response"), "{o}");

    let slow = tcp_server(|mut s| async move {
        read_head(&mut s).await;
        for b in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" {
            if s.write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    })
    .await;
    let o = run(slow, Check::Http(http("/"))).await;
    assert!(
        matches!(o.result, Err(ProbeError::ReadTimeout { .. })),
        "{o}"
    );

    let interim = canned(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n").await;
    assert_eq!(
        run(interim, Check::Http(http("/"))).await.result.unwrap(),
        Pass::Status(204)
    );

    let endless_head = tcp_server(|mut s| async move {
        read_head(&mut s).await;
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\n").await;
        let filler = format!("X-Filler: {}\r\n", "a".repeat(300));
        while s.write_all(filler.as_bytes()).await.is_ok() {}
    })
    .await;
    let o = run(endless_head, Check::Http(http("/"))).await;
    assert!(o.to_string().contains("response head larger"), "{o}");
}

#[tokio::test]
async fn http_every_probe_uses_a_fresh_connection() {
    let (addr, count) = http_server().await;
    let probe = Probe::new(addr, Check::Http(http("/")), Binding::default(), quick()).unwrap();
    for _ in 0..5 {
        assert!(probe.run().await.is_ok());
    }
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 5);
}

#[tokio::test]
async fn http_over_a_handshake_that_completes_late() {
    // Most connects on loopback are over within `connect` itself, and the probe then sends its
    // request before the reactor knows the socket. Here the handshake waits: the listener's
    // accept queue is full, so the probe's SYN is dropped and sent again a second later.
    let (socket, addr, fillers) = full_accept_queue();
    let t = Timeouts::both(Duration::from_secs(5));
    let probe = Probe::new(addr, Check::Http(http("/")), Binding::default(), t).unwrap();
    let mut run = std::pin::pin!(probe.run());
    let first = std::future::poll_fn(|cx| std::task::Poll::Ready(run.as_mut().poll(cx))).await;
    assert!(
        first.is_pending(),
        "the probe did not wait for its handshake"
    );
    // Now accept everything and answer.
    socket.set_nonblocking(true).unwrap();
    let listener = tokio::net::TcpListener::from_std(socket.into()).unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(serve_http(s));
        }
    });
    let o = run.await;
    assert_eq!(o.result.unwrap(), Pass::Status(200));
    assert!(o.latency >= Duration::from_millis(500), "{:?}", o.latency);
    drop(fillers);
}

#[tokio::test]
async fn http_keep_alive_reuses_one_connection_and_recovers_from_a_closed_one() {
    let (addr, count) = http_server().await;
    let mut c = http("/");
    c.keep_alive = true;
    c.body_expect = substring("healthy");
    let probe = Probe::new(addr, Check::Http(c.clone()), Binding::default(), quick()).unwrap();
    for _ in 0..5 {
        let o = probe.run().await;
        assert!(o.is_ok(), "{o}");
    }
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1);

    // A server that closes after each response: every check still passes, on a new connection.
    let closes = canned(b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nhello, healthy world").await;
    let probe = Probe::new(closes, Check::Http(c.clone()), Binding::default(), quick()).unwrap();
    for _ in 0..3 {
        let o = probe.run().await;
        assert!(o.is_ok(), "{o}");
    }
    // Each response read to its very end: chunked ones (with and without trailers) and
    // Content-Length ones keep one connection for every check; `Connection: close` and HTTP/1.0
    // ones are never reused.
    for (reply, connections) in [
        (
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nhealthy\r\n0\r\n\r\n"[..],
            1,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nhealthy\r\n0\r\nX-Check: a\r\nX-Other: b\r\n\r\n",
            1,
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nhealthy", 1),
        (
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 7\r\n\r\nhealthy",
            3,
        ),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 7\r\n\r\nhealthy", 3),
    ] {
        let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let n = served.clone();
        let addr = tcp_server(move |mut s| {
            n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                loop {
                    if read_head(&mut s).await.is_empty() || s.write_all(reply).await.is_err() {
                        return;
                    }
                }
            }
        })
        .await;
        let probe = Probe::new(addr, Check::Http(c.clone()), Binding::default(), quick()).unwrap();
        for _ in 0..3 {
            let o = probe.run().await;
            assert!(o.is_ok(), "{o}");
        }
        assert_eq!(
            served.load(std::sync::atomic::Ordering::SeqCst),
            connections,
            "{}",
            String::from_utf8_lossy(reply)
        );
    }
    let mut old = c;
    old.version = healthcheck::Version::Http10;
    assert!(Probe::new(addr, Check::Http(old), Binding::default(), quick()).is_err());
}

// ---- HTTPS ----

fn https(tls: Tls) -> Check {
    let mut c = http("/");
    c.tls = Some(tls);
    c.body_expect = substring("healthy");
    Check::Http(c)
}

#[tokio::test]
async fn https_verification_sni_and_insecure() {
    let server = tls_server("verify").await;
    let good = Tls::new()
        .with_sni("lb.test")
        .with_ca_file(server.ca_file.clone());
    let o = run(server.addr, https(good)).await;
    assert_eq!(o.result.unwrap(), Pass::Status(200));

    // The certificate is for lb.test, not for the address.
    let o = run(
        server.addr,
        https(Tls::new().with_ca_file(server.ca_file.clone())),
    )
    .await;
    assert!(matches!(o.result, Err(ProbeError::Tls { .. })), "{o}");
    let o = run(
        server.addr,
        https(
            Tls::new()
                .with_sni("other.test")
                .with_ca_file(server.ca_file.clone()),
        ),
    )
    .await;
    assert!(o.to_string().contains("TLS"), "{o}");
    // Not signed by a CA the system trusts.
    let o = run(server.addr, https(Tls::new().with_sni("lb.test"))).await;
    assert!(matches!(o.result, Err(ProbeError::Tls { .. })), "{o}");
    // Verification off: any certificate.
    let o = run(server.addr, https(Tls::new().with_insecure(true))).await;
    assert!(o.is_ok(), "{o}");
    std::fs::remove_file(&server.ca_file).unwrap();
}

#[tokio::test]
async fn https_against_plain_http_and_http_against_tls() {
    let (plain, _) = http_server().await;
    let o = run(plain, https(Tls::new().with_insecure(true))).await;
    assert!(matches!(o.result, Err(ProbeError::Tls { .. })), "{o}");
    let server = tls_server("mismatch").await;
    let o = run(server.addr, Check::Http(http("/"))).await;
    assert!(
        matches!(o.result, Err(ProbeError::BadResponse { .. })),
        "{o}"
    );
    std::fs::remove_file(&server.ca_file).unwrap();
}

#[test]
fn bad_tls_and_http_settings_are_config_errors() {
    let addr: SocketAddr = "127.0.0.1:443".parse().unwrap();
    let mut c = http("/");
    c.tls = Some(Tls::new().with_ca_file("/nonexistent/ca.pem"));
    let e = Probe::new(addr, Check::Http(c), Binding::default(), quick()).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    let mut c = http("/");
    c.method = "GE T".into();
    assert!(Probe::new(addr, Check::Http(c), Binding::default(), quick()).is_err());
    let zero = Timeouts::both(Duration::ZERO);
    assert!(Probe::new(addr, tcp(None, None), Binding::default(), zero).is_err());
}

// ---- programs ----

fn program(cmd: &str, expect: Option<&str>) -> Check {
    Check::Program(ProgramCheck {
        command: CommandTemplate::parse(cmd).unwrap(),
        expect: expect.map(|e| Expect::Exact(e.as_bytes().to_vec())),
    })
}

async fn run_program(cmd: &str, expect: Option<&str>) -> Outcome {
    run("127.0.0.1:8080".parse().unwrap(), program(cmd, expect)).await
}

#[tokio::test]
async fn programs_output_and_substitution() {
    assert_eq!(
        run_program("sh -c 'echo up'", Some("up"))
            .await
            .result
            .unwrap(),
        Pass::Matched
    );
    assert_eq!(
        run_program("true", None).await.result.unwrap(),
        Pass::Exited
    );
    let o = run_program("sh -c 'echo $0:$1' %h %p", Some("127.0.0.1:8080")).await;
    assert!(o.is_ok(), "{o}");
    let o = run_program("sh -c 'echo down'", Some("up")).await;
    match o.result {
        Err(ProbeError::Mismatch { got, .. }) => assert_eq!(got, r#""down""#),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn programs_that_fail_crash_or_are_missing_are_unhealthy() {
    let o = run_program("sh -c 'echo up; exit 3'", Some("up")).await;
    match o.result {
        Err(ProbeError::ProgramFailed { status, .. }) => assert_eq!(status, ExitReason::Code(3)),
        other => panic!("{other:?}"),
    }
    let o = run_program("sh -c 'kill -SEGV $$'", None).await;
    match o.result {
        Err(ProbeError::ProgramFailed { status, .. }) => assert_eq!(status, ExitReason::Signal(11)),
        other => panic!("{other:?}"),
    }
    let o = run_program("/nonexistent/check-me", None).await;
    assert!(matches!(o.result, Err(ProbeError::Spawn { .. })), "{o}");
}

fn process_gone(pid: i32) -> bool {
    // Gone, or a zombie waiting for init: either way no longer running.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z')),
    }
}

#[tokio::test]
async fn a_hanging_program_is_killed_with_its_whole_group() {
    let pidfile = std::env::temp_dir().join(format!("healthcheck-hang-{}", std::process::id()));
    let cmd = format!(
        "sh -c 'sleep 300 & echo $! > {}; sleep 300'",
        pidfile.display()
    );
    let o = run_program(&cmd, None).await;
    assert!(
        matches!(o.result, Err(ProbeError::ProgramTimeout { .. })),
        "{o}"
    );
    assert!(o.latency < Duration::from_secs(2));
    let grandchild: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::fs::remove_file(&pidfile).unwrap();
    // SIGKILL to the group is delivered before kill(2) returns; the exit follows at once.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !process_gone(grandchild) {
        assert!(
            std::time::Instant::now() < deadline,
            "grandchild {grandchild} survived"
        );
        std::thread::yield_now();
    }
}

#[tokio::test]
async fn a_straggler_does_not_hold_a_finished_program() {
    // The program exits 0 but leaves a child holding its stdout open.
    let o = run_program("sh -c 'sleep 300 & echo ok'", Some("ok")).await;
    assert!(o.is_ok(), "{o}");
    assert!(o.latency < Duration::from_millis(400));
}
