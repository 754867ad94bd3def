//! Kernel tests, end to end: the seed's direct-routing router (`03-dr-primary.cf`, timers made
//! short) and the same deployment with `network = tunnel`. The real servers carry the VIP
//! themselves (on `lo`, or on an IP-in-IP device) and answer the client directly.
//!
//! ```text
//!   client 192.168.1.1 ─┐
//!   router 192.168.1.10 ┼ lan (bridge)
//!   rs1 192.168.1.111 ──┤   VIP 192.168.1.250/32 on lo (or vip0, ipip), arp_ignore=1, arp_announce=2
//!   rs2 192.168.1.222 ──┘
//! ```
//!
//! Run with `cargo xtask test` (root, in the rig).

mod common;

use std::path::Path;

use common::{ConfigFile, Httpd, VIP, director, get, rename};
use testkit::NetNs;

const SEED_DR: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../lvscf/tests/fixtures/seed/03-dr-primary.cf"
));

/// The real servers' addresses in the seed's direct-routing topology.
const REAL_SERVERS: [&str; 2] = ["192.168.1.111", "192.168.1.222"];

/// The namespaces and servers, held until the test ends (the httpd first, then the network).
struct DrLab {
    _httpd: Vec<Httpd>,
    client: NetNs,
    router: NetNs,
    _servers: Vec<NetNs>,
    _switch: NetNs,
}

impl DrLab {
    /// The LAN, the router (`eth0`), and two real servers holding the VIP on `vip_dev`
    /// (`lo`, or the name of an IP-in-IP device to create).
    fn new(vip_dev: &str) -> DrLab {
        let switch = NetNs::new().expect("switch");
        switch.bridge("lan").expect("LAN");
        let client = NetNs::new().expect("client");
        client
            .attach(&switch, "lan", "192.168.1.1/24")
            .expect("client");
        let router = NetNs::new().expect("router");
        let eth0 = router
            .attach(&switch, "lan", "192.168.1.10/24")
            .expect("router");
        rename(&router, eth0.name(), "eth0");
        let mut servers = Vec::new();
        let mut httpd = Vec::new();
        for (i, addr) in REAL_SERVERS.into_iter().enumerate() {
            let ns = NetNs::new().expect("real server");
            ns.attach(&switch, "lan", &format!("{addr}/24"))
                .expect("real server");
            // The VIP is local but never answered for in ARP: only the router owns it on the LAN.
            for setting in [
                "net.ipv4.conf.all.arp_ignore=1",
                "net.ipv4.conf.all.arp_announce=2",
                "net.ipv4.conf.all.rp_filter=0",
                "net.ipv4.conf.default.rp_filter=0",
            ] {
                ns.exec("sysctl", ["-qw", setting]).expect("sysctl");
            }
            if vip_dev != "lo" {
                // An IP-in-IP endpoint for packets to this server (the kernel loads `ipip`).
                ns.ip(["link", "add", vip_dev, "type", "ipip", "local", addr])
                    .expect("ipip device");
                ns.ip(["link", "set", vip_dev, "up"]).expect("up");
                ns.exec(
                    "sysctl",
                    ["-qw", &format!("net.ipv4.conf.{vip_dev}.rp_filter=0")],
                )
                .expect("sysctl");
            }
            ns.ip(["address", "add", "192.168.1.250/32", "dev", vip_dev])
                .expect("VIP on the real server");
            // Listening on every address: the VIP for clients, its own for the checks.
            httpd.push(Httpd::start(&ns, "0.0.0.0:80", &format!("rs{}", i + 1)));
            servers.push(ns);
        }
        DrLab {
            _httpd: httpd,
            client,
            router,
            _servers: servers,
            _switch: switch,
        }
    }

    fn ipvsadm(&self, args: &[&str]) -> String {
        self.router.exec("ipvsadm", args).expect("ipvsadm")
    }
}

/// The seed's direct-routing file with short timers and `network` as given.
fn seed_dr(network: &str) -> String {
    let mut doc = lvscf::Document::parse(SEED_DR).expect("the seed parses");
    let mut g = doc.globals_mut();
    for (key, value) in [("keepalive", "1"), ("deadtime", "2"), ("network", network)] {
        g.set(key, value).expect("global");
    }
    let mut http = doc.virtual_mut("HTTP").expect("HTTP");
    for (key, value) in [("timeout", "1"), ("reentry", "2")] {
        http.set(key, value).expect("virtual");
    }
    doc.to_string()
}

fn end_to_end(network: &str, vip_dev: &str, forwarding: &str) {
    let lab = DrLab::new(vip_dev);
    let file = ConfigFile::new(&format!("seed-{network}"), &seed_dr(network));
    let mut d = director(&lab.router, Path::new(&file.0), "director", &[]);
    d.wait_for("this node is the primary");
    // The backup named in the file never answers: the primary takes over after `deadtime`.
    d.wait_for("ACTIVE (peer-dead)");
    d.wait_for("took over 1 addresses");
    d.wait_for("[ active ] 192.168.1.111:80 up");
    d.wait_for("[ active ] 192.168.1.222:80 up");

    let eth0 = lab
        .router
        .ip(["-4", "-o", "address", "show", "dev", "eth0"])
        .expect("ip");
    assert!(
        eth0.contains("inet 192.168.1.250/24") && eth0.contains("eth0:1"),
        "{eth0}"
    );
    let table = lab.ipvsadm(&["-Ln"]);
    assert!(table.contains("TCP  192.168.1.250:80 wlc"), "{table}");
    for rs in REAL_SERVERS {
        let line = table
            .lines()
            .find(|l| l.contains(&format!("-> {rs}:80")))
            .unwrap_or_else(|| panic!("no {rs} in\n{table}"));
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(&words[2..4], [forwarding, "1"], "{line}");
    }
    let seen: std::collections::BTreeSet<String> = (0..10)
        .map(|_| get(&lab.client, VIP).expect("a reply through the VIP"))
        .collect();
    assert_eq!(seen, ["rs1".to_string(), "rs2".to_string()].into());
    // The client reached the VIP at the router's MAC (the real servers never answer for it).
    let neigh = lab
        .client
        .ip(["neigh", "show", "192.168.1.250"])
        .expect("ip neigh");
    let router_mac = lab
        .router
        .ip(["-o", "link", "show", "eth0"])
        .expect("ip link");
    let mac = neigh
        .split_whitespace()
        .skip_while(|w| *w != "lladdr")
        .nth(1)
        .unwrap_or_else(|| panic!("no MAC for the VIP: {neigh}"));
    assert!(router_mac.contains(mac), "{neigh} / {router_mac}");

    d.signal(libc::SIGTERM).expect("SIGTERM");
    assert!(d.child.wait().expect("wait").success());
    let eth0 = lab
        .router
        .ip(["-4", "-o", "address", "show", "dev", "eth0"])
        .expect("ip");
    assert!(!eth0.contains("192.168.1.250"), "{eth0}");
    assert!(!lab.ipvsadm(&["-Ln"]).contains("192.168.1.250"));
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn direct_routing_seed_end_to_end() {
    end_to_end("direct", "lo", "Route");
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn ip_in_ip_tunnel_end_to_end() {
    end_to_end("tunnel", "vip0", "Tunnel");
}
