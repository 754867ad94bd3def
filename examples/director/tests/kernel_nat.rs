//! Kernel tests, end to end: the seed's NAT router (`01-nat-single-router.cf`, with a one-second
//! check interval so that the suite stays fast) in namespaces, with two busybox httpd real
//! servers and a client. What the director adds and removes is read back with `ip` and
//! `ipvsadm`; what a client sees is tested with real requests through the VIP.
//!
//! Run with `cargo xtask test` (root, in the rig).

mod common;

use std::{
    collections::BTreeSet,
    io::{Read, Write},
    net::TcpStream,
    time::{Duration, Instant},
};

use common::{ConfigFile, NatLab, Overlay, VIP, director, get, seed_config, wait_both_up};

/// The seed with a one-second check interval and `reentry`; `http` changes more of `virtual HTTP`.
fn seed(http: &[(&str, &str)]) -> String {
    let mut all = vec![("timeout", "1"), ("reentry", "2")];
    all.extend_from_slice(http);
    seed_config(&[], &all)
}

/// The seed with its two real servers named `rs1` and `rs2` (the published file names both
/// `localhost.localdomain`), so that one can be removed.
fn named_seed() -> lvscf::Document {
    let mut doc = lvscf::Document::parse(&seed(&[])).expect("parses");
    let mut http = doc.virtual_mut("HTTP").expect("HTTP");
    for name in ["rs1", "rs2"] {
        http.server_mut("localhost.localdomain")
            .expect("a server")
            .rename(name)
            .expect("rename");
    }
    doc
}

/// The real servers of `TCP 192.168.1.250:80` as `ipvsadm -Ln` lists them: (address, forwarding,
/// weight).
fn real_servers(lab: &NatLab) -> Vec<(String, String, u32)> {
    let table = lab.ipvsadm(0, &["-Ln", "-t", VIP]);
    table
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.first() == Some(&"->") && w.len() >= 4 && w[1] != "RemoteAddress:Port").then(|| {
                (
                    w[1].to_string(),
                    w[2].to_string(),
                    w[3].parse().expect("weight"),
                )
            })
        })
        .collect()
}

fn servers_answering(lab: &NatLab, requests: usize) -> std::collections::BTreeSet<String> {
    (0..requests)
        .map(|_| get(&lab.client, VIP).expect("a reply through the VIP"))
        .collect()
}

/// A connection through the VIP that has not sent its request yet: an established IPVS
/// connection (ActiveConn 1) that stays until it is used or closed.
struct Idle {
    stream: TcpStream,
}

impl Idle {
    fn open(lab: &NatLab) -> Idle {
        let addr = VIP.parse().expect("address");
        let stream = lab
            .client
            .run(move || TcpStream::connect_timeout(&addr, Duration::from_secs(3)))
            .expect("netns")
            .expect("connect through the VIP");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        Idle { stream }
    }

    /// The real server IPVS sent it to, from the connection table (`ipvsadm -Lnc`).
    fn real_server(&self, lab: &NatLab) -> String {
        let port = self.stream.local_addr().expect("local").port();
        let table = lab.ipvsadm(0, &["-Lnc"]);
        table
            .lines()
            .find(|l| l.contains(&format!("192.168.1.1:{port} ")))
            .and_then(|l| l.split_whitespace().nth(5))
            .unwrap_or_else(|| panic!("no IPVS connection from port {port}:\n{table}"))
            .trim_end_matches(":80")
            .to_string()
    }

    /// Sends the request now: the page of the server that answers.
    fn request(mut self) -> String {
        self.stream
            .write_all(b"GET / HTTP/1.0\r\n\r\n")
            .expect("send");
        let mut out = String::new();
        self.stream.read_to_string(&mut out).expect("the reply");
        out.split("\r\n\r\n").nth(1).unwrap_or_default().to_string()
    }
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn the_seed_router_serves_both_real_servers_and_leaves_nothing_on_sigterm() {
    let lab = NatLab::new(1);
    // Someone else's service on the same machine: never ours to touch.
    lab.ipvsadm(0, &["-A", "-t", "192.168.1.10:22", "-s", "rr"]);
    // The seed, with the IPVS timeouts set (Piranha's tcp_timeout, tcpfin_timeout, udp_timeout).
    let timeouts = [
        ("tcp_timeout", "900"),
        ("tcpfin_timeout", "60"),
        ("udp_timeout", "200"),
    ];
    let mut doc = lvscf::Document::parse(&seed(&[])).expect("parses");
    for (key, value) in timeouts {
        doc.globals_mut().set(key, value).expect("set");
    }
    let file = ConfigFile::new("seed-nat", &doc.to_string());
    // Taken out for good: SIGTERM removes what it added, alone as it is.
    let mut d = director(&lab.routers[0], &file.0, "director", &["--release-on-exit"]);
    d.wait_for("this node is the primary");
    d.wait_for("ACTIVE (standalone");
    d.wait_for("took over 2 addresses");
    wait_both_up(&mut d);

    // The addresses with the seed's labels and masks, marked as the director's.
    let eth0 = lab.addresses(0, "eth0");
    assert!(
        eth0.contains("inet 192.168.1.250/24") && eth0.contains("eth0:1"),
        "{eth0}"
    );
    let eth1 = lab.addresses(0, "eth1");
    assert!(
        eth1.contains("inet 10.0.0.254/16") && eth1.contains("eth1:1"),
        "{eth1}"
    );
    // The table as ipvsadm lists it: `TCP 192.168.1.250:80 wlc`, both servers `Masq 1`.
    let table = lab.ipvsadm(0, &["-Ln"]);
    assert!(table.contains("TCP  192.168.1.250:80 wlc"), "{table}");
    assert_eq!(
        real_servers(&lab),
        [
            ("10.0.0.100:80".into(), "Masq".into(), 1),
            ("10.0.0.200:80".into(), "Masq".into(), 1)
        ]
    );
    let timeouts = lab.ipvsadm(0, &["-L", "--timeout"]);
    assert!(
        timeouts.contains("Timeout (tcp tcpfin udp): 900 60 200"),
        "{timeouts}"
    );
    // Requests through the VIP reach both real servers.
    assert_eq!(
        servers_answering(&lab, 10),
        ["rs1".to_string(), "rs2".to_string()].into()
    );

    // SIGTERM: no VIP, no router address, no service of ours; the others' service stays.
    d.signal(libc::SIGTERM).expect("SIGTERM");
    let status = d.child.wait().expect("wait");
    assert!(status.success(), "{status}");
    let eth0 = lab.addresses(0, "eth0");
    assert!(
        !eth0.contains("192.168.1.250") && eth0.contains("192.168.1.10/24"),
        "{eth0}"
    );
    let eth1 = lab.addresses(0, "eth1");
    assert!(
        !eth1.contains("10.0.0.254") && eth1.contains("10.0.0.10/16"),
        "{eth1}"
    );
    let table = lab.ipvsadm(0, &["-Ln"]);
    assert!(!table.contains("192.168.1.250"), "{table}");
    assert!(table.contains("TCP  192.168.1.10:22 rr"), "{table}");
    let links = lab.routers[0].ip(["-o", "link", "show", "up"]).expect("ip");
    assert!(
        links.contains("eth0") && links.contains("eth1"),
        "no interface is taken down: {links}"
    );
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn a_stopped_server_leaves_within_its_timeout_and_returns_after_reentry() {
    let mut lab = NatLab::new(1);
    let file = ConfigFile::new("reentry", &seed(&[("reentry", "3")]));
    let mut d = director(&lab.routers[0], &file.0, "director", &[]);
    wait_both_up(&mut d);
    d.wait_for("took over 2 addresses");

    d.forget();
    let stopped = Instant::now();
    lab.stop_server(0);
    let removed = d.wait_for("[inactive] 10.0.0.100:80 down").at;
    // Checked once a second (timeout = 1): removed by the next check, which fails at once
    // (connection refused).
    let took = removed - stopped;
    assert!(
        took <= Duration::from_millis(2500),
        "removed after {took:?}"
    );
    assert_eq!(
        real_servers(&lab),
        [("10.0.0.200:80".into(), "Masq".into(), 1)]
    );
    assert_eq!(servers_answering(&lab, 4), ["rs2".to_string()].into());

    let started = Instant::now();
    lab.start_server(0);
    let back = d.wait_for("[ active ] 10.0.0.100:80 up").at;
    // Back after `reentry` (3 s) of passing checks, the first of which comes within a second.
    let took = back - started;
    assert!(
        took >= Duration::from_secs(3) && took <= Duration::from_secs(6),
        "back after {took:?}"
    );
    assert_eq!(real_servers(&lab).len(), 2);
    assert_eq!(
        servers_answering(&lab, 10),
        ["rs1".to_string(), "rs2".to_string()].into()
    );
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn quiesce_keeps_a_failed_server_at_weight_zero() {
    let mut lab = NatLab::new(1);
    let file = ConfigFile::new("quiesce", &seed(&[("quiesce_server", "1")]));
    let mut d = director(&lab.routers[0], &file.0, "director", &[]);
    wait_both_up(&mut d);
    d.wait_for("took over 2 addresses");

    d.forget();
    lab.stop_server(0);
    d.wait_for("[inactive] 10.0.0.100:80 down");
    assert_eq!(
        real_servers(&lab),
        [
            ("10.0.0.100:80".into(), "Masq".into(), 0),
            ("10.0.0.200:80".into(), "Masq".into(), 1)
        ],
        "kept at weight 0: its persistent clients finish, no new ones come"
    );
    assert_eq!(servers_answering(&lab, 4), ["rs2".to_string()].into());
    lab.start_server(0);
    d.wait_for("[ active ] 10.0.0.100:80 up");
    assert_eq!(
        real_servers(&lab)[0],
        ("10.0.0.100:80".into(), "Masq".into(), 1)
    );
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn an_invalid_reload_changes_nothing_and_a_removed_server_drains() {
    let lab = NatLab::new(1);
    let doc = named_seed();
    let file = ConfigFile::new("reload", &doc.to_string());
    let mut d = director(
        &lab.routers[0],
        &file.0,
        "director",
        &["--drain-timeout", "30s"],
    );
    wait_both_up(&mut d);
    d.wait_for("took over 2 addresses");
    let table = lab.ipvsadm(0, &["-Ln"]);
    let addresses = lab.addresses(0, "eth0");

    // A file with a syntax error, then one with a netmask that is not one: both refused.
    for broken in [
        doc.to_string().replace("weight = 1", "weight = heavy"),
        doc.to_string().replace(
            "scheduler = wlc",
            "scheduler = wlc\n     persistent = 60\n     pmask = 255.0.255.0",
        ),
    ] {
        d.forget();
        file.write(&broken);
        d.signal(libc::SIGHUP).expect("SIGHUP");
        d.wait_for("is not valid; the running one is kept");
        assert_eq!(lab.ipvsadm(0, &["-Ln"]), table);
        assert_eq!(lab.addresses(0, "eth0"), addresses);
    }
    assert_eq!(servers_answering(&lab, 6).len(), 2, "both still serve");

    // A client in the middle of a connection to one server; that server leaves the file.
    let idle = Idle::open(&lab);
    let busy = idle.real_server(&lab);
    let (busy_name, other) = if busy == "10.0.0.100" {
        ("rs1", "10.0.0.200")
    } else {
        ("rs2", "10.0.0.100")
    };
    let mut removed = doc.clone();
    assert!(
        removed
            .virtual_mut("HTTP")
            .expect("HTTP")
            .remove_server(busy_name)
    );
    d.forget();
    file.write(&removed.to_string());
    d.signal(libc::SIGHUP).expect("SIGHUP");
    d.wait_for("reloaded: 1 services (0 added, 0 removed), 1 real servers draining");
    // Draining: weight 0, so new clients go to the other server; the connection goes on.
    assert_eq!(
        real_servers(&lab),
        if busy == "10.0.0.100" {
            vec![
                ("10.0.0.100:80".to_string(), "Masq".to_string(), 0),
                ("10.0.0.200:80".to_string(), "Masq".to_string(), 1),
            ]
        } else {
            vec![
                ("10.0.0.100:80".to_string(), "Masq".to_string(), 1),
                ("10.0.0.200:80".to_string(), "Masq".to_string(), 0),
            ]
        }
    );
    let other_name = if busy_name == "rs1" { "rs2" } else { "rs1" };
    assert_eq!(servers_answering(&lab, 4), [other_name.to_string()].into());
    assert!(
        d.try_wait_for("drained", Duration::from_secs(2)).is_none(),
        "drained while its connection was open"
    );
    assert_eq!(idle.request(), busy_name, "the open connection was served");
    // Its last connection closed: deleted at the next drain check.
    d.wait_for(&format!("drained {busy}:80 (no active connection left)"));
    assert_eq!(
        real_servers(&lab),
        [(format!("{other}:80"), "Masq".to_string(), 1)]
    );
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn a_restart_adopts_the_table_without_dropping_connections() {
    let lab = NatLab::new(1);
    let file = ConfigFile::new("restart", &seed(&[]));
    let mut d = director(&lab.routers[0], &file.0, "first", &[]);
    wait_both_up(&mut d);
    d.wait_for("took over 2 addresses");

    // A restart (SIGTERM, then a start, as `systemctl restart`) of a router alone: the table and
    // the addresses stay, traffic goes on while no director runs, the next one adopts them and
    // the established connection goes on, on the same real server.
    let idle = Idle::open(&lab);
    let busy = idle.real_server(&lab);
    d.signal(libc::SIGTERM).expect("SIGTERM");
    assert!(d.child.wait().expect("wait").success());
    d.wait_for("stopping alone: the addresses and the IPVS table stay for the next start");
    assert_eq!(real_servers(&lab).len(), 2, "the table is kept");
    assert!(lab.addresses(0, "eth0").contains("192.168.1.250/24"));
    assert!(lab.addresses(0, "eth1").contains("10.0.0.254/16"));
    assert!(
        !servers_answering(&lab, 2).is_empty(),
        "new connections are served while no director runs"
    );
    let mut d = director(&lab.routers[0], &file.0, "second", &[]);
    d.wait_for("adopted 192.168.1.250/24 on eth0 from an earlier run");
    d.wait_for("took over 2 addresses");
    assert_eq!(
        idle.real_server(&lab),
        busy,
        "the connection entry is the same"
    );
    let conns = lab.ipvsadm(0, &["-Ln", "-t", VIP]);
    assert!(
        conns
            .lines()
            .any(|l| l.contains(&format!("{busy}:80")) && l.split_whitespace().nth(4) == Some("1")),
        "one active connection on {busy}, not re-created:\n{conns}"
    );
    let page = idle.request();
    assert_eq!(page, if busy == "10.0.0.100" { "rs1" } else { "rs2" });

    // A crash: the VIP stays where it was (marked as ours); the next run adopts it, with the
    // table, and a connection opened before the crash goes on.
    let idle = Idle::open(&lab);
    d.child.kill().expect("SIGKILL");
    d.child.wait().expect("reaped");
    assert!(lab.addresses(0, "eth0").contains("192.168.1.250/24"));
    let mut d = director(&lab.routers[0], &file.0, "third", &["--release-on-exit"]);
    d.wait_for("adopted 192.168.1.250/24 on eth0 from an earlier run");
    d.wait_for("adopted 10.0.0.254/16 on eth1 from an earlier run");
    d.wait_for("took over 2 addresses");
    assert!(!idle.request().is_empty());
    // Adopted addresses are ours: with --release-on-exit, SIGTERM removes them, and the table.
    d.signal(libc::SIGTERM).expect("SIGTERM");
    assert!(d.child.wait().expect("wait").success());
    assert!(!lab.addresses(0, "eth0").contains("192.168.1.250"));
    assert!(!lab.addresses(0, "eth1").contains("10.0.0.254"));
    assert!(!lab.ipvsadm(0, &["-Ln"]).contains("192.168.1.250"));
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn the_overlay_checks_over_http_with_rise_and_fall() {
    let mut lab = NatLab::new(1);
    let file = ConfigFile::new("overlay-http", &seed(&[]));
    // busybox httpd serves rs1/rs2 at /index.html; a 404 elsewhere.
    let overlay = Overlay::new(
        "overlay-http",
        "[virtual.HTTP]\nrise = 2\nfall = 2\nhttp = { path = \"/index.html\", status = \"200\", expect = \"rs\" }\n",
    );
    let mut d = director(&lab.routers[0], &file.0, "director", &overlay.args());
    let first = d.wait_for("[ active ] 10.0.0.100:80 up").text;
    assert!(first.contains("HTTP 200"), "{first}");
    d.wait_for("[ active ] 10.0.0.200:80 up");
    d.forget();
    let stopped = Instant::now();
    lab.stop_server(0);
    let removed = d.wait_for("[inactive] 10.0.0.100:80 down").at;
    // Two failures in a row, a second apart: more than one interval.
    assert!(
        removed - stopped >= Duration::from_millis(900),
        "removed after one failure ({:?})",
        removed - stopped
    );
    assert_eq!(
        real_servers(&lab),
        [("10.0.0.200:80".into(), "Masq".into(), 1)]
    );

    // A path that does not exist: the check fails on the status (busybox answers 404).
    d.forget();
    overlay.write("[virtual.HTTP]\nhttp = { path = \"/nonexistent\" }\n");
    d.signal(libc::SIGHUP).expect("SIGHUP");
    d.wait_for("reloaded");
    let line = d.wait_for("[inactive] 10.0.0.200:80 down").text;
    assert!(line.contains("404"), "{line}");
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn ipv6_services_and_real_servers_from_the_overlay() {
    let mut lab = NatLab::new(1);
    lab.enable_ipv6();
    let file = ConfigFile::new("ipv6", &seed(&[]));
    let overlay = Overlay::new(
        "ipv6",
        "[virtual.HTTP]\nipv6 = \"fd00:1::250/64 eth0:1\"\n\
         [virtual.HTTP.server.\"10.0.0.100\"]\nipv6 = \"fd00:10::100\"\n\
         [virtual.HTTP.server.\"10.0.0.200\"]\nipv6 = \"fd00:10::200\"\n\
         [ipv6]\nnat_router = \"fd00:10::254/64 eth1\"\n",
    );
    let mut args = overlay.args().to_vec();
    args.push("--release-on-exit");
    let mut d = director(&lab.routers[0], &file.0, "director", &args);
    d.wait_for("took over 4 addresses");
    d.wait_for("[ active ] [fd00:10::100]:80 up");
    d.wait_for("[ active ] [fd00:10::200]:80 up");
    d.wait_for("[ active ] 10.0.0.100:80 up");
    let eth0 = lab.routers[0]
        .ip(["-6", "-o", "address", "show", "dev", "eth0"])
        .expect("ip");
    assert!(eth0.contains("inet6 fd00:1::250/64"), "{eth0}");
    let table = lab.ipvsadm(0, &["-Ln"]);
    assert!(table.contains("TCP  [fd00:1::250]:80 wlc"), "{table}");
    for rs in ["[fd00:10::100]:80", "[fd00:10::200]:80"] {
        assert!(
            table.lines().any(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.len() >= 4 && w[..4] == ["->", rs, "Masq", "1"]
            }),
            "{table}"
        );
    }
    assert!(
        table.contains("TCP  192.168.1.250:80 wlc"),
        "the IPv4 service as before: {table}"
    );
    // Clients reach both real servers over IPv6; the VIP's neighbour entry is the router's
    // MAC (its unsolicited neighbour advertisement, or a solicitation's answer).
    let seen: std::collections::BTreeSet<String> = (0..10)
        .map(|_| get(&lab.client, "[fd00:1::250]:80").expect("a reply over IPv6"))
        .collect();
    assert_eq!(seen, ["rs1".to_string(), "rs2".to_string()].into());
    let neigh = lab
        .client
        .ip(["-6", "neigh", "show", "fd00:1::250"])
        .expect("neigh");
    let mac = lab.routers[0]
        .ip(["-brief", "link", "show", "eth0"])
        .expect("link");
    let mac = mac.split_whitespace().nth(2).expect("MAC");
    assert!(neigh.contains(mac), "{neigh} / {mac}");
    // An operator's command names a real server by one of its addresses: that family only.
    let drain = std::process::Command::new(env!("CARGO_BIN_EXE_director"))
        .args(["server", "drain", "HTTP", "fd00:10::100", "--socket"])
        .arg(common::socket_of(&lab.routers[0]))
        .output()
        .expect("the CLI");
    assert!(drain.status.success());
    let table = lab.ipvsadm(0, &["-Ln"]);
    let weight = |rs: &str| {
        table.lines().find_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() >= 4 && w[1] == rs).then(|| w[3].to_string())
        })
    };
    assert_eq!(weight("[fd00:10::100]:80").as_deref(), Some("0"), "{table}");
    assert_eq!(weight("10.0.0.100:80").as_deref(), Some("1"), "{table}");
    d.signal(libc::SIGTERM).expect("SIGTERM");
    assert!(d.child.wait().expect("wait").success());
    let eth0 = lab.routers[0]
        .ip(["-6", "-o", "address", "show", "dev", "eth0"])
        .expect("ip");
    assert!(!eth0.contains("fd00:1::250"), "{eth0}");
    let eth1 = lab.routers[0]
        .ip(["-6", "-o", "address", "show", "dev", "eth1"])
        .expect("ip");
    assert!(!eth1.contains("fd00:10::254"), "{eth1}");
    assert!(!lab.ipvsadm(0, &["-Ln"]).contains("fd00"));
}

/// The crash test's scale: how many times it kills the director (`LVS_TEST_KILLS`, 10), how many
/// services it adds to the seed's (`LVS_TEST_CRASH_SERVICES`, 20), with how many real servers
/// each (`LVS_TEST_CRASH_SERVERS`, 2) checked how often (`LVS_TEST_CRASH_INTERVAL`, seconds, 1).
/// `cargo xtask reliability --only crashes` runs 200 kills of this, and a few of 1,000 x 10.
#[derive(Debug, Clone, Copy)]
struct Crashes {
    kills: u32,
    services: u16,
    servers: u16,
    interval: u64,
}

impl Crashes {
    fn from_env() -> Crashes {
        let c = Crashes {
            kills: testkit::scale("LVS_TEST_KILLS", 10),
            services: testkit::scale("LVS_TEST_CRASH_SERVICES", 20),
            servers: testkit::scale("LVS_TEST_CRASH_SERVERS", 2),
            interval: testkit::scale("LVS_TEST_CRASH_INTERVAL", 1),
        };
        assert!(c.services >= 10 && c.services <= 20_000 && c.servers >= 2 && c.servers <= 40);
        c
    }

    /// A reload replaces a tenth of the services.
    fn step(&self) -> u16 {
        self.services / 10
    }

    /// The real servers of each added service: the two real servers' ports 81, 82 and on (the
    /// test's own listeners; busybox httpd on port 80 serves the seed's service alone).
    fn real_servers(&self) -> Vec<(&'static str, u16)> {
        (0..self.servers)
            .map(|i| (["10.0.0.100", "10.0.0.200"][usize::from(i % 2)], 81 + i / 2))
            .collect()
    }

    /// The ports the test's listeners answer on, on both real servers.
    fn extra_ports(&self) -> std::ops::Range<u16> {
        81..81 + self.servers.div_ceil(2)
    }

    /// The seed (checks every second) with [`Crashes::services`] more services on the VIP,
    /// ports `1000 + first` and on, each with its real servers checked by a connection.
    fn file(&self, first: u16) -> String {
        let mut text = seed(&[]);
        let servers: String = self
            .real_servers()
            .iter()
            .enumerate()
            .map(|(i, (address, port))| {
                format!(
                    "     server s{i} {{\n         address = {address}\n         port = {port}\n         \
                     active = 1\n         weight = 1\n     }}\n"
                )
            })
            .collect();
        for port in self.ports(first) {
            text += &format!(
                "virtual P{port} {{\n     active = 1\n     address = 192.168.1.250 eth0:1\n     \
                 vip_nmask = 255.255.255.0\n     port = {port}\n     scheduler = wlc\n     \
                 protocol = tcp\n     timeout = {}\n     reentry = 1\n{servers}}}\n",
                self.interval
            );
        }
        text
    }

    fn ports(&self, first: u16) -> std::ops::Range<u16> {
        (1000 + first)..(1000 + first + self.services)
    }

    /// The lines of `ipvsadm -Sn` a director of [`Crashes::file`]`(first)` programs once every
    /// check passed, with the service of another owner.
    fn table(&self, first: u16) -> std::collections::BTreeSet<String> {
        let mut lines =
            std::collections::BTreeSet::from(["-A -t 192.168.1.99:9999 -s rr".to_string()]);
        lines.insert("-A -t 192.168.1.250:80 -s wlc".into());
        for rs in ["10.0.0.100", "10.0.0.200"] {
            lines.insert(format!("-a -t 192.168.1.250:80 -r {rs}:80 -m -w 1"));
        }
        for port in self.ports(first) {
            lines.insert(format!("-A -t 192.168.1.250:{port} -s wlc"));
            for (rs, rs_port) in self.real_servers() {
                lines.insert(format!(
                    "-a -t 192.168.1.250:{port} -r {rs}:{rs_port} -m -w 1"
                ));
            }
        }
        lines
    }
}

/// `ipvsadm -Sn` as a set of lines.
fn kernel_table(lab: &NatLab) -> std::collections::BTreeSet<String> {
    lab.ipvsadm(0, &["-Sn"])
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Listeners on the real servers' `ports` that accept connections (a connection check's
/// success) and close them, until the test ends.
fn listen(lab: &NatLab, ports: std::ops::Range<u16>) {
    for (ns, address) in lab.servers.iter().zip(["10.0.0.100", "10.0.0.200"]) {
        for port in ports.clone() {
            let listener = ns
                .run(move || std::net::TcpListener::bind((address, port)))
                .expect("netns")
                .expect("a real server's port");
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    drop(stream);
                }
            });
        }
    }
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn a_director_killed_at_random_moments_converges_after_restart_and_loses_nothing() {
    let scale = Crashes::from_env();
    let n = scale.kills;
    let lab = NatLab::new(1);
    listen(&lab, scale.extra_ports());
    // A service of another owner: never touched.
    lab.ipvsadm(0, &["-A", "-t", "192.168.1.99:9999", "-s", "rr"]);
    let file = ConfigFile::new("crash", &scale.file(0));
    // A large table takes a while to start (the checks, the table).
    let patience =
        Duration::from_secs(20 + u64::from(scale.services) * u64::from(scale.servers) / 200);
    let mut d = director(&lab.routers[0], &file.0, "start", &[]);
    d.patience = patience;
    d.wait_for("took over 2 addresses");
    // Until the table is the one of `first`'s file: how long since `since`, and how many of the
    // real servers in `keep` (the healthy ones both files have) went missing meanwhile.
    let converged = |first: u16, since: Instant, keep: &BTreeSet<String>| -> (Duration, usize) {
        let want = scale.table(first);
        let mut lost = BTreeSet::new();
        // Every check has run twice.
        let deadline = Instant::now() + patience + Duration::from_secs(10 + 2 * scale.interval);
        loop {
            let have = kernel_table(&lab);
            lost.extend(keep.difference(&have).cloned());
            if have == want {
                return (since.elapsed(), lost.len());
            }
            assert!(
                Instant::now() < deadline,
                "not converged: missing {:?}, extra {:?}",
                want.difference(&have).collect::<Vec<_>>(),
                have.difference(&want).collect::<Vec<_>>()
            );
            std::thread::yield_now();
        }
    };
    converged(0, Instant::now(), &BTreeSet::new());
    let mut rng = testkit::random("crashes");
    let mut times = Vec::new();
    let mut first = 0;
    for k in 0..n {
        // A connection held open across the crash, through the VIP.
        let idle = Idle::open(&lab);
        // A reload that changes a tenth of the services, or a start-up; killed
        // somewhere in it.
        let before = scale.table(first);
        first = (first + scale.step()) % scale.services;
        file.write(&scale.file(first));
        let keep: BTreeSet<String> = before
            .intersection(&scale.table(first))
            .filter(|l| l.starts_with("-a "))
            .cloned()
            .collect();
        let during = if k % 3 == 2 { "start-up" } else { "reload" };
        if during == "start-up" {
            d.child.kill().expect("SIGKILL");
            d.child.wait().expect("reaped");
            d = director(&lab.routers[0], &file.0, "start-up", &[]);
        } else {
            d.signal(libc::SIGHUP).expect("SIGHUP");
        }
        let at = Duration::from_millis(rng.u64(..if during == "start-up" { 1500 } else { 400 }));
        std::thread::sleep(at);
        d.child.kill().expect("SIGKILL");
        d.child.wait().expect("reaped");
        // The next run converges: the new file's table, the other owner's service untouched.
        let restarted = Instant::now();
        d = director(&lab.routers[0], &file.0, "restart", &[]);
        let (took, lost) = converged(first, restarted, &keep);
        times.push(took);
        println!(
            "crashes: kill {k} during {during} at {at:?}: converged {took:?} after the restart, \
             {lost} healthy real servers missing meanwhile"
        );
        assert_eq!(lost, 0, "kill {k}: healthy real servers went missing");
        // The connection held across the crash goes on.
        let page = idle.request();
        assert!(page == "rs1" || page == "rs2", "kill {k}: {page:?}");
    }
    times.sort();
    let p = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1000.0;
    println!(
        "crashes: | table | checks every | kills | converged after the restart, p50 / p90 / max | \
         services of other owners touched | healthy real servers lost | connections held \
         across a crash dropped |\n\
         crashes: |---|---:|---:|---|---:|---:|---:|\n\
         crashes: | {} x {} | {} s | {n} | {:.0} / {:.0} / {:.0} ms | 0 | 0 | 0 |",
        scale.services + 1,
        scale.servers,
        scale.interval,
        p(0.5),
        p(0.9),
        p(1.0)
    );
}
