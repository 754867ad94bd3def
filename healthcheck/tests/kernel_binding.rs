//! Kernel tests: a probe's fwmark, interface and source address change how the kernel routes it,
//! across a veth pair between two namespaces the test creates.
//!
//! Run with `cargo xtask test` (root, in the rig).

use std::{
    net::{IpAddr, SocketAddr, TcpListener},
    sync::mpsc,
    time::Duration,
};

use healthcheck::{Binding, Check, Outcome, Probe, ProbeError, TcpCheck, Timeouts, UdpCheck};
use testkit::NetNs;

struct Setup {
    a: NetNs,
    _b: NetNs,
    dev_a: String,
    server: SocketAddr,
    peers: mpsc::Receiver<IpAddr>,
}

fn setup() -> Setup {
    let a = NetNs::new().expect("netns a");
    let b = NetNs::new().expect("netns b");
    let veth = a.veth("10.7.0.1/24", &b, "10.7.0.2/24").expect("veth");
    a.ip(["address", "add", "10.7.0.11/24", "dev", veth.name()])
        .expect("second address");
    // Marked packets to the server are prohibited by policy routing.
    a.ip(["rule", "add", "fwmark", "7", "lookup", "7", "pref", "10"])
        .expect("rule");
    a.ip(["route", "add", "prohibit", "10.7.0.2", "table", "7"])
        .expect("route");
    a.ip(["link", "add", "dummy0", "type", "dummy"])
        .expect("dummy");
    a.ip(["link", "set", "dummy0", "up"]).expect("dummy up");
    let listener = b
        .run(|| TcpListener::bind("10.7.0.2:8080"))
        .expect("netns")
        .expect("bind");
    let server = listener.local_addr().expect("address");
    let (tx, peers) = mpsc::channel();
    // The peer as accept(2) reports it: the probe's closing reset may come before we could ask
    // the socket.
    std::thread::spawn(move || {
        loop {
            if let Ok((_, peer)) = listener.accept()
                && tx.send(peer.ip()).is_err()
            {
                return;
            }
        }
    });
    Setup {
        dev_a: veth.name().to_owned(),
        a,
        _b: b,
        server,
        peers,
    }
}

fn probe(s: &Setup, check: Check, binding: Binding) -> Outcome {
    probe_at(s, s.server, check, binding, Duration::from_secs(1))
}

/// Runs one probe of `target` from `a`.
fn probe_at(
    s: &Setup,
    target: SocketAddr,
    check: Check,
    binding: Binding,
    limit: Duration,
) -> Outcome {
    let probe = Probe::new(target, check, binding, Timeouts::both(limit)).expect("probe");
    s.a.run(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(probe.run())
    })
    .expect("netns")
}

fn tcp() -> Check {
    Check::Tcp(TcpCheck::default())
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn fwmark_is_on_the_probes_packets() {
    let s = setup();
    assert!(probe(&s, tcp(), Binding::default()).is_ok());
    let marked = Binding::new().with_fwmark(7);
    let o = probe(&s, tcp(), marked.clone());
    match o.result {
        Err(ProbeError::Connect { source, .. }) => {
            assert_eq!(source.raw_os_error(), Some(libc::EACCES), "{source}")
        }
        other => panic!("marked probe got through: {other:?}"),
    }
    let other = Binding::new().with_fwmark(8);
    assert!(probe(&s, tcp(), other).is_ok());
    // UDP too: the datagram is refused by the routing policy.
    let udp = Check::Udp(UdpCheck::new().with_send(*b"x"));
    let o = probe(&s, udp, marked);
    assert!(o.to_string().contains("ermission denied"), "{o}");
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn interface_binding_picks_the_path() {
    let s = setup();
    let on_veth = Binding::new().with_interface(s.dev_a.clone());
    assert!(probe(&s, tcp(), on_veth).is_ok());
    let on_dummy = Binding::new().with_interface("dummy0");
    let o = probe(&s, tcp(), on_dummy);
    assert!(
        !o.is_ok(),
        "a probe bound to dummy0 reached the server: {o}"
    );
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn source_address_is_what_the_server_sees() {
    let s = setup();
    let from = Binding::new().with_source("10.7.0.11".parse().unwrap());
    assert!(probe(&s, tcp(), from).is_ok());
    let peer = s
        .peers
        .recv_timeout(Duration::from_secs(5))
        .expect("the server saw a connection");
    assert_eq!(peer.to_string(), "10.7.0.11");
    assert!(probe(&s, tcp(), Binding::default()).is_ok());
    let peer = s
        .peers
        .recv_timeout(Duration::from_secs(5))
        .expect("the server saw a connection");
    assert_eq!(peer.to_string(), "10.7.0.1");
}

/// Runs a ping probe from `a` to `target`.
fn ping(s: &Setup, target: &str, binding: Binding) -> Outcome {
    probe_at(
        s,
        SocketAddr::new(target.parse().expect("address"), 0),
        Check::Ping(healthcheck::PingCheck::default()),
        binding,
        Duration::from_millis(500),
    )
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn ping_answers_for_a_reachable_host_and_times_out_for_a_missing_one() {
    let s = setup();
    let up = ping(&s, "10.7.0.2", Binding::default());
    assert_eq!(
        up.result.as_ref().ok(),
        Some(&healthcheck::Pass::Echoed),
        "{up}"
    );
    assert!(up.latency < Duration::from_millis(500));
    // Nobody holds .9: no reply within the read timeout.
    let missing = ping(&s, "10.7.0.9", Binding::default());
    assert!(
        matches!(missing.result, Err(ProbeError::ReadTimeout { .. })),
        "{missing}"
    );
    // Through dummy0 the host is not reachable (the interface binding applies).
    let wrong = ping(&s, "10.7.0.2", Binding::new().with_interface("dummy0"));
    assert!(wrong.result.is_err(), "{wrong}");
    let right = ping(
        &s,
        "10.7.0.2",
        Binding::new().with_interface(s.dev_a.clone()),
    );
    assert!(right.result.is_ok(), "{right}");
    // IPv6 too.
    s.a.ip([
        "-6",
        "address",
        "add",
        "fd00:7::1/64",
        "dev",
        &s.dev_a,
        "nodad",
    ])
    .expect("v6 a");
    let peer_dev =
        s._b.ip(["-o", "link", "show", "type", "veth"])
            .expect("link");
    let peer_dev = peer_dev
        .split(':')
        .nth(1)
        .and_then(|d| d.trim().split('@').next())
        .expect("veth");
    s._b.ip([
        "-6",
        "address",
        "add",
        "fd00:7::3/64",
        "dev",
        peer_dev,
        "nodad",
    ])
    .expect("v6 b veth");
    let v6 = ping(&s, "fd00:7::3", Binding::default());
    assert_eq!(
        v6.result.as_ref().ok(),
        Some(&healthcheck::Pass::Echoed),
        "{v6}"
    );
}
