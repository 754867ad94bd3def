//! Kernel test, end to end: the seed's NAT deployment (one router) in namespaces. A client reaches
//! a real server through the VIP; the director adds the VIP and the NAT router address with their
//! labels and programs IPVS from its checks; SIGTERM leaves nothing of its own behind.
//!
//! Run with `cargo xtask test` (root, in the rig).

mod common;

use common::{Httpd, director, get, rename};
use testkit::NetNs;

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn nat_router_end_to_end() {
    let client = NetNs::new().expect("client");
    let dir = NetNs::new().expect("director");
    let rs = NetNs::new().expect("real server");
    let public = client
        .veth("192.168.1.1/24", &dir, "192.168.1.10/24")
        .expect("public veth");
    let private = dir
        .veth("10.0.0.10/24", &rs, "10.0.0.100/24")
        .expect("private veth");
    rs.ip(["route", "add", "default", "via", "10.0.0.254"])
        .expect("route");
    dir.exec("sysctl", ["-qw", "net.ipv4.ip_forward=1"])
        .expect("forwarding");
    let _httpd = Httpd::start(&rs, "10.0.0.100:80", "rs1");

    let config = format!(
        r#"serial_no = 1
primary = 192.168.1.10
service = lvs
backup_active = 0
backup = 0.0.0.0
heartbeat_port = 539
keepalive = 1
deadtime = 2
network = nat
nat_router = 10.0.0.254 {private}:1
nat_nmask = 255.255.255.0
virtual HTTP {{
     active = 1
     address = 192.168.1.250 {public}:1
     vip_nmask = 255.255.255.0
     port = 80
     send = "GET / HTTP/1.0\r\n\r\n"
     expect = "HTTP"
     scheduler = wlc
     protocol = tcp
     timeout = 1
     reentry = 1
     server rs1 {{
         address = 10.0.0.100
         active = 1
         weight = 1
     }}
}}
"#,
        private = private.name(),
        public = public.peer_name(),
    );
    let file = std::env::temp_dir().join(format!("director-nat-{}.cf", std::process::id()));
    std::fs::write(&file, config).expect("config");

    let mut director = director(&dir, &file, "d", &[]);
    director.wait_for("this node is the primary");
    director.wait_for("[ active ] 10.0.0.100:80 up");
    director.wait_for("ACTIVE");
    director.wait_for("took over 2 addresses");

    // The addresses with their labels, the IPVS table as ipvsadm lists it.
    let vip = dir
        .ip(["-4", "-o", "address", "show", "dev", public.peer_name()])
        .expect("ip");
    assert!(
        vip.contains("192.168.1.250/24") && vip.contains(&format!("{}:1", public.peer_name())),
        "{vip}"
    );
    let router = dir
        .ip(["-4", "-o", "address", "show", "dev", private.name()])
        .expect("ip");
    assert!(router.contains("10.0.0.254/24"), "{router}");
    let table = dir.exec("ipvsadm", ["-Ln"]).expect("ipvsadm");
    assert!(table.contains("TCP  192.168.1.250:80 wlc"), "{table}");
    assert!(table.contains("-> 10.0.0.100:80"), "{table}");
    assert!(table.contains("Masq"), "{table}");

    // A client reaches the real server through the VIP.
    let reply = get(&client, "192.168.1.250:80").expect("a reply through the VIP");
    assert!(reply.ends_with("rs1"), "{reply}");

    // SIGTERM: no VIP, no router address, no owned service left.
    director.signal(libc::SIGTERM).expect("SIGTERM");
    let status = director.child.wait().expect("wait");
    assert!(status.success(), "{status}");
    let vip = dir
        .ip(["-4", "-o", "address", "show", "dev", public.peer_name()])
        .expect("ip");
    assert!(
        !vip.contains("192.168.1.250") && vip.contains("192.168.1.10"),
        "{vip}"
    );
    let router = dir
        .ip(["-4", "-o", "address", "show", "dev", private.name()])
        .expect("ip");
    assert!(
        !router.contains("10.0.0.254") && router.contains("10.0.0.10"),
        "{router}"
    );
    let table = dir.exec("ipvsadm", ["-Ln"]).expect("ipvsadm");
    assert!(!table.contains("192.168.1.250"), "{table}");
    std::fs::remove_file(&file).expect("cleanup");
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn the_backup_takes_over_when_the_primary_dies() {
    let switch = NetNs::new().expect("switch");
    switch.bridge("lan").expect("public LAN");
    switch.bridge("dmz").expect("private LAN");
    let client = NetNs::new().expect("client");
    client
        .attach(&switch, "lan", "192.168.1.1/24")
        .expect("client");
    let rs = NetNs::new().expect("real server");
    rs.attach(&switch, "dmz", "10.0.0.100/24")
        .expect("real server");
    rs.ip(["route", "add", "default", "via", "10.0.0.254"])
        .expect("route");
    let _httpd = Httpd::start(&rs, "10.0.0.100:80", "rs1");
    let mut nodes = Vec::new();
    for n in [10, 20] {
        let ns = NetNs::new().expect("director");
        let public = ns
            .attach(&switch, "lan", &format!("192.168.1.{n}/24"))
            .expect("public");
        let private = ns
            .attach(&switch, "dmz", &format!("10.0.0.{n}/24"))
            .expect("private");
        rename(&ns, public.name(), "eth0");
        rename(&ns, private.name(), "eth1");
        ns.exec("sysctl", ["-qw", "net.ipv4.ip_forward=1"])
            .expect("forwarding");
        nodes.push(ns);
    }
    let config = r#"serial_no = 2
primary = 192.168.1.10
service = lvs
backup_active = 1
backup = 192.168.1.20
heartbeat = 1
heartbeat_port = 539
keepalive = 1
deadtime = 3
network = nat
nat_router = 10.0.0.254 eth1:1
nat_nmask = 255.255.255.0
virtual HTTP {
     active = 1
     address = 192.168.1.250 eth0:1
     vip_nmask = 255.255.255.0
     port = 80
     scheduler = wlc
     protocol = tcp
     timeout = 1
     reentry = 1
     server rs1 {
         address = 10.0.0.100
         active = 1
         weight = 1
     }
}
"#;
    let file = std::env::temp_dir().join(format!("director-pair-{}.cf", std::process::id()));
    std::fs::write(&file, config).expect("config");
    let mut primary = director(&nodes[0], &file, "primary", &[]);
    let mut backup = director(&nodes[1], &file, "backup", &[]);
    primary.wait_for("this node is the primary");
    backup.wait_for("this node is the backup");
    // nanny's implicit web check on port 80, on both nodes: the table is ready on the backup too.
    primary.wait_for("[ active ] 10.0.0.100:80 up");
    backup.wait_for("[ active ] 10.0.0.100:80 up");
    primary.wait_for("ACTIVE");
    primary.wait_for("took over 2 addresses");
    let reply = get(&client, "192.168.1.250:80").expect("a reply through the primary");
    assert!(reply.ends_with("rs1"), "{reply}");
    let on_backup = nodes[1]
        .ip(["-4", "-o", "address", "show", "dev", "eth0"])
        .expect("ip");
    assert!(
        !on_backup.contains("192.168.1.250"),
        "the standby holds no VIP: {on_backup}"
    );

    let before = backup.forget();
    assert!(
        !before.iter().any(|l| l.contains("ACTIVE")),
        "the backup was active: {before:?}"
    );
    // The primary dies: its process is killed and its links go with the machine.
    primary.child.kill().expect("kill");
    primary.child.wait().expect("reaped");
    nodes[0].ip(["link", "set", "eth0", "down"]).expect("down");
    nodes[0].ip(["link", "set", "eth1", "down"]).expect("down");
    backup.wait_for("ACTIVE");
    backup.wait_for("took over 2 addresses");
    let vip = nodes[1]
        .ip(["-4", "-o", "address", "show", "dev", "eth0"])
        .expect("ip");
    assert!(
        vip.contains("192.168.1.250/24") && vip.contains("eth0:1"),
        "{vip}"
    );
    // The client and the real server learned the new MACs from the gratuitous ARPs.
    let reply = get(&client, "192.168.1.250:80").expect("a reply through the backup");
    assert!(reply.ends_with("rs1"), "{reply}");
    std::fs::remove_file(&file).expect("cleanup");
}
