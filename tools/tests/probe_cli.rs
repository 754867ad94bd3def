//! `lvs-probe`: one line, exit 0 healthy, 1 unhealthy, 2 usage.

#[path = "../../healthcheck/tests/common/mod.rs"]
mod common;

use tokio::process::Command;

async fn probe(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lvs-probe"))
        .args(args)
        .output()
        .await
        .expect("the example runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `OK|FAIL <latency>ms <reason>` on one line.
fn assert_line(out: &str, verdict: &str, reason: &str) {
    let line = out.strip_suffix('\n').expect("a newline");
    assert!(!line.contains('\n'), "one line: {out:?}");
    let mut parts = line.splitn(3, ' ');
    assert_eq!(parts.next(), Some(verdict), "{line}");
    let latency = parts.next().expect("a latency");
    let ms: f64 = latency
        .strip_suffix("ms")
        .expect("milliseconds")
        .parse()
        .expect("a number");
    assert!((0.0..5000.0).contains(&ms), "{line}");
    let rest = parts.next().expect("a reason");
    assert!(rest.contains(reason), "{line} lacks {reason:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_and_udp() {
    let addr = common::canned(b"+PONG\r\n").await;
    let (code, out, _) = probe(&["tcp", &addr.to_string()]).await;
    assert_eq!(code, Some(0));
    assert_line(&out, "OK", "connected");
    let (code, out, _) = probe(&[
        "tcp",
        &addr.to_string(),
        "--send",
        r"PING\r\n\r\n",
        "--expect",
        "PONG",
    ])
    .await;
    assert_eq!(code, Some(0), "{out}");
    assert_line(&out, "OK", "reply matched");
    let (code, out, _) = probe(&[
        "tcp",
        &addr.to_string(),
        "--send",
        r"PING\r\n\r\n",
        "--expect",
        "^.PO",
        "--regex",
    ])
    .await;
    assert_eq!(code, Some(0), "{out}");
    let (code, out, _) = probe(&[
        "tcp",
        &addr.to_string(),
        "--send",
        r"\r\n\r\n",
        "--expect",
        "NOPE",
    ])
    .await;
    assert_eq!(code, Some(1));
    assert_line(&out, "FAIL", r#"expected "NOPE", got "+PONG\r\n""#);
    let closed = common::closed_port().to_string();
    let (code, out, _) = probe(&["tcp", &closed, "--timeout", "300ms"]).await;
    assert_eq!(code, Some(1));
    assert_line(&out, "FAIL", "refused");
    let (code, out, _) = probe(&["udp", &closed, "--send", "x", "--timeout", "300ms"]).await;
    assert_eq!(code, Some(1));
    assert_line(&out, "FAIL", "refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_and_https() {
    let (addr, _) = common::http_server().await;
    let url = format!("http://{addr}/");
    let (code, out, _) = probe(&["http", &url, "--body-regex", "healthy w.rld"]).await;
    assert_eq!(code, Some(0), "{out}");
    assert_line(&out, "OK", "HTTP 200");
    let (code, out, _) = probe(&["http", &format!("http://{addr}/unavailable")]).await;
    assert_eq!(code, Some(1));
    assert_line(&out, "FAIL", "HTTP status 503, expected 200-299");
    let (code, out, _) = probe(&[
        "http",
        &format!("http://{addr}/unavailable"),
        "--status",
        "500-599",
    ])
    .await;
    assert_eq!(code, Some(0), "{out}");
    let (code, out, _) = probe(&[
        "http",
        &format!("http://{addr}/echo"),
        "--method",
        "PUT",
        "--header",
        "X-Probe: cli",
        "--data",
        "abc",
        "--body-regex",
        "^PUT /echo host=127.0.0.1:[0-9]+ x-probe=cli\nabc$",
    ])
    .await;
    assert_eq!(code, Some(0), "{out}");

    let tls = common::tls_server("cli").await;
    let url = format!("https://{}/", tls.addr);
    let (code, out, _) = probe(&["https", &url, "--insecure"]).await;
    assert_eq!(code, Some(0), "{out}");
    assert_line(&out, "OK", "HTTP 200");
    let (code, out, _) = probe(&["https", &url]).await;
    assert_eq!(code, Some(1));
    assert_line(&out, "FAIL", "TLS");
    let ca = tls.ca_file.to_str().unwrap();
    let (code, out, _) = probe(&["https", &url, "--sni", "lb.test", "--ca-file", ca]).await;
    assert_eq!(code, Some(0), "{out}");
    std::fs::remove_file(&tls.ca_file).unwrap();
}

#[tokio::test]
async fn programs() {
    let (code, out, _) = probe(&[
        "program",
        "sh -c 'echo $0 $1' %h %p",
        "--host",
        "10.1.2.3",
        "--port",
        "80",
        "--expect",
        "10.1.2.3 80",
    ])
    .await;
    assert_eq!(code, Some(0), "{out}");
    assert_line(&out, "OK", "reply matched");
    let (code, out, _) = probe(&["program", "true", "--host", "10.1.2.3"]).await;
    assert_eq!(code, Some(0), "{out}");
    assert_line(&out, "OK", "program exited 0");
    let (code, out, _) = probe(&["program", "sh -c 'exit 4'", "--host", "10.1.2.3"]).await;
    assert_eq!(code, Some(1));
    assert_line(&out, "FAIL", "exited with status 4");
    let (code, out, _) = probe(&[
        "program",
        "sleep 10",
        "--host",
        "10.1.2.3",
        "--timeout",
        "200ms",
    ])
    .await;
    assert_eq!(code, Some(1));
    assert_line(&out, "FAIL", "timed out after 200ms and was killed");
}

#[tokio::test]
async fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["tcp"],
        &["tcp", "127.0.0.1:1", "--timeout", "5"],
        &["tcp", "127.0.0.1:1", "--timeout", "0s"],
        &["tcp", "not-an-address"],
        &["http", "ftp://127.0.0.1/"],
        &["http", "http://127.0.0.1/", "--status", "abc"],
        &["http", "http://127.0.0.1/", "--insecure"],
        &["https", "https://127.0.0.1/", "--digest", "xyz"],
        &["program", "sh -c 'unbalanced", "--host", "10.0.0.1"],
        &["program", "true"],
        &["tcp", "127.0.0.1:1", "--regex", "--expect", "("],
        &["frobnicate"],
    ] {
        let (code, out, err) = probe(args).await;
        assert_eq!(code, Some(2), "{args:?}: {out} {err}");
        assert!(out.is_empty(), "{args:?}");
        assert!(!err.is_empty(), "{args:?}");
    }
}
