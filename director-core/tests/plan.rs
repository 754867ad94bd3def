//! From lvs.cf to the plan: the seed deployment and every mapped key.

use std::{
    net::{IpAddr, Ipv4Addr},
    time::Duration,
};

use director_core::{Plan, PlanError};
use heartbeat::pulse::Node;
use ipvs::{Family, Forwarding, Scheduler, ServiceKey};

const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../lvscf/tests/fixtures/seed/");

fn no_names(_: &str) -> Option<Ipv4Addr> {
    None
}

fn plan(text: &str) -> Result<Plan, Vec<PlanError>> {
    let doc = lvscf::Document::parse(text).expect("the test file parses");
    Plan::build(doc.config(), &no_names)
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("an address")
}

#[test]
fn the_seed_nat_router() {
    let text = std::fs::read_to_string(format!("{SEED}01-nat-single-router.cf")).unwrap();
    let p = plan(&text).unwrap();
    let h = &p.heartbeat;
    assert_eq!(h.primary, Ipv4Addr::new(192, 168, 1, 10));
    assert_eq!(h.backup, None, "backup = 0.0.0.0 means none");
    assert_eq!(
        (h.port, h.keepalive, h.deadtime),
        (539, Duration::from_secs(6), Duration::from_secs(18))
    );
    let addrs: Vec<_> = p
        .addresses
        .iter()
        .map(|a| {
            (
                a.address.to_string(),
                a.prefix,
                a.device.as_str(),
                a.label.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        addrs,
        [
            ("10.0.0.254".to_string(), 16, "eth1", Some("eth1:1")),
            ("192.168.1.250".to_string(), 24, "eth0", Some("eth0:1")),
        ]
    );
    let table = p.full_table();
    assert_eq!(table.services.len(), 1);
    let vs = &table.services[0];
    assert_eq!(vs.service.key, ServiceKey::tcp(ip("192.168.1.250"), 80));
    assert_eq!(vs.service.scheduler, Scheduler::WeightedLeastConnection);
    let dests: Vec<_> = vs
        .destinations
        .iter()
        .map(|d| (d.addr, d.port, d.forwarding, d.weight))
        .collect();
    assert_eq!(
        dests,
        [
            (ip("10.0.0.100"), 80, Forwarding::Masquerade, 1),
            (ip("10.0.0.200"), 80, Forwarding::Masquerade, 1),
        ]
    );
    let server = &p.services[0].servers[0];
    assert_eq!(
        server.interval,
        Duration::from_secs(6),
        "timeout is nanny's interval"
    );
    assert_eq!(server.health.reentry, Duration::from_secs(15));
    assert!(!server.health.quiesce && server.health.slow_start.is_some());
    assert_eq!(
        server.check,
        r#"tcp send "GET / HTTP/1.0\r\n\r\n" expect "HTTP""#
    );
}

#[test]
fn direct_routing_seed() {
    let text = std::fs::read_to_string(format!("{SEED}03-dr-primary.cf")).unwrap();
    let p = plan(&text).unwrap();
    assert!(
        p.full_table().services[0]
            .destinations
            .iter()
            .all(|d| d.forwarding == Forwarding::DirectRoute)
    );
    assert_eq!(p.heartbeat.backup, Some(Ipv4Addr::new(192, 168, 1, 20)));
    assert_eq!(p.addresses.len(), 1, "no nat_router in direct routing");
}

const EVERYTHING: &str = r#"
serial_no = 1
primary = 10.1.0.1
backup = 10.1.0.2
network = tunnel
heartbeat_port = 1539
keepalive = 2
deadtime = 5
syncdaemon = 1
syncd_iface = eth2
syncd_id = 7
tcp_timeout = 900
tcpfin_timeout = 120
udp_timeout = 300
rsh_command = ssh
active_cmd = /usr/local/bin/up
inactive_cmd = /usr/local/bin/down
virtual MARKED {
     active = 1
     address = 10.1.0.100 eth0
     fwmark = 42
     port = 443
     scheduler = sh
     persistent = 600
     pmask = 255.255.255.0
     send_program = "/usr/local/bin/check %h %p"
     expect = "OK"
     load_monitor = uptime
     quiesce_server = 1
     timeout = 3
     reentry = 9
     sorry_server = 10.9.9.9
     server a {
         address = 10.2.0.1
         active = 1
         weight = 100
         port = 8443
     }
     server b {
         address = 10.2.0.2
         active = 0
     }
}
virtual DNS {
     active = 1
     address = 10.1.0.101 eth0:dns
     protocol = udp
     port = 53
     send = "\x00"
     expect = "^.."
     use_regex = 1
     scheduler = rr
     server ns1 {
         address = 10.2.0.53
         active = 1
     }
}
virtual OFF {
     active = 0
     address = 10.1.0.102 eth0
}
"#;

#[test]
fn every_mapped_key() {
    let p = plan(EVERYTHING).unwrap();
    assert_eq!(p.sync_daemon, Some(("eth2".to_string(), 7)));
    assert_eq!(
        (p.timeouts.tcp, p.timeouts.tcp_fin, p.timeouts.udp),
        (900, 120, 300)
    );
    assert_eq!(
        p.commands.active.as_deref(),
        Some(&["/usr/local/bin/up".to_string()][..])
    );
    assert_eq!(p.heartbeat.port, 1539);
    assert_eq!(p.services.len(), 2, "inactive virtual servers are left out");

    let marked = &p.services[0];
    assert_eq!(marked.service.key, ServiceKey::fwmark(Family::Inet, 42));
    assert_eq!(marked.service.scheduler, Scheduler::SourceHashing);
    assert!(marked.service.flags.persistent);
    assert_eq!(
        (marked.service.timeout, marked.service.netmask),
        (600, Some(24))
    );
    assert_eq!(
        marked.servers.len(),
        1,
        "inactive real servers are left out"
    );
    let a = &marked.servers[0];
    assert_eq!((a.destination.port, a.destination.weight), (8443, 100));
    assert!(matches!(
        a.destination.forwarding,
        Forwarding::Tunnel { .. }
    ));
    assert_eq!(
        a.check,
        r#"program `/usr/local/bin/check %h %p` expect exactly "OK""#
    );
    assert_eq!(a.interval, Duration::from_secs(3));
    assert!(a.health.quiesce);
    let load = a.health.load.as_ref().expect("load monitoring");
    assert_eq!(
        load.monitor,
        healthcheck::LoadMonitor::Ssh,
        "uptime runs over rsh_command"
    );
    assert_eq!(marked.sorry.as_ref().map(|d| d.addr), Some(ip("10.9.9.9")));

    let dns = &p.services[1];
    assert_eq!(dns.service.key, ServiceKey::udp(ip("10.1.0.101"), 53));
    assert_eq!(
        dns.servers[0].destination.port, 53,
        "the port defaults to the virtual port"
    );
    assert_eq!(dns.servers[0].check, r#"udp send "\\x00" expect /^../"#);
    let label = p
        .addresses
        .iter()
        .find(|a| a.purpose == "virtual DNS")
        .unwrap();
    assert_eq!(
        (label.device.as_str(), label.label.as_deref()),
        ("eth0", Some("eth0:dns"))
    );
    let plain = p
        .addresses
        .iter()
        .find(|a| a.purpose == "virtual MARKED")
        .unwrap();
    assert_eq!(
        (plain.device.as_str(), plain.label.as_deref(), plain.prefix),
        ("eth0", None, 32)
    );
}

#[test]
fn names_resolve_or_are_reported_with_their_place() {
    let text = "primary = lb1\nvirtual WEB {\n active = 1\n address = 10.0.0.1 eth0\n server web1 {\n  address = web1.example\n  active = 1\n }\n}\n";
    let errors = plan(text).unwrap_err();
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "primary: host name `lb1` does not resolve to an IPv4 address",
            "virtual WEB server web1: address: host name `web1.example` does not resolve to an IPv4 address",
        ]
    );
    let doc = lvscf::Document::parse(text).unwrap();
    let resolve = |n: &str| match n {
        "lb1" => Some(Ipv4Addr::new(10, 0, 0, 2)),
        "web1.example" => Some(Ipv4Addr::new(10, 0, 1, 1)),
        _ => None,
    };
    let p = Plan::build(doc.config(), &resolve).unwrap();
    assert_eq!(
        p.full_table().services[0].destinations[0].addr,
        ip("10.0.1.1")
    );
}

#[test]
fn a_zero_timeout_is_an_error_not_a_crash() {
    // nanny divided by it (SIGFPE). lvscf refuses it in a file (E021); a model built in code is
    // checked here.
    let text = "primary = 10.0.0.9\nvirtual WEB {\n active = 1\n address = 10.0.0.1 eth0\n}\n";
    let mut config = lvscf::Document::parse(text).unwrap().config().clone();
    config.virtual_servers[0].timeout = lvscf::Seconds(0);
    let errors = Plan::build(&config, &no_names).unwrap_err();
    assert_eq!(
        errors[0].to_string(),
        "virtual WEB: timeout: must be at least 1 second (it is the check interval)"
    );
}

#[test]
fn monitor_links_makes_the_heartbeat_paths_critical() {
    let dr = plan(&std::fs::read_to_string(format!("{SEED}03-dr-primary.cf")).unwrap()).unwrap();
    assert!(dr.heartbeat.monitor_links);
    let nat =
        plan(&std::fs::read_to_string(format!("{SEED}01-nat-single-router.cf")).unwrap()).unwrap();
    assert!(!nat.heartbeat.monitor_links);
}

#[test]
fn the_role_comes_from_the_nodes_addresses() {
    let text = |active: u8| {
        format!(
            "primary = 10.0.0.1\nbackup = 10.0.0.2\nbackup_active = {active}\nvirtual A {{\n active = 1\n address = 10.0.0.100 eth0\n}}\n"
        )
    };
    let p = plan(&text(1)).unwrap();
    let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
    assert_eq!(
        p.heartbeat
            .node(&[ip("127.0.0.1"), ip("10.0.0.1")])
            .unwrap(),
        Node::Primary
    );
    assert_eq!(p.heartbeat.node(&[ip("10.0.0.2")]).unwrap(), Node::Backup);
    let err = p.heartbeat.node(&[ip("10.0.0.3")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "this node has neither the primary (10.0.0.1) nor the backup (10.0.0.2) address"
    );
    // pulse's backup exited when the backup was marked inactive.
    let p = plan(&text(0)).unwrap();
    let err = p.heartbeat.node(&[ip("10.0.0.2")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "this node is the backup (10.0.0.2), and `backup_active = 0` says the backup does not run"
    );
    assert_eq!(p.heartbeat.node(&[ip("10.0.0.1")]).unwrap(), Node::Primary);
}
