//! Every keyword, and every quirk of the grammar reference, by hand.

use std::net::Ipv4Addr;

use lvscf::{Code, Document, Host, Network, Protocol, Scheduler, Seconds, ServiceType};

fn parse(src: &str) -> Document {
    let doc = Document::parse(src).unwrap_or_else(|e| panic!("{src:?}:\n{e}"));
    assert_eq!(doc.to_string(), src, "round trip");
    doc
}

fn ip(s: &str) -> Host {
    Host::Ip(s.parse().expect("ip"))
}

#[test]
fn every_global_keyword() {
    let src = "\
serial_no = 0x2a
primary = 192.168.1.10
primary_private = 10.0.0.10
primary_shared = /dev/sdb
backup = 192.168.1.20
backup_active = 1
backup_private = 10.0.0.20
backup_shared = /dev/sdc
reservation_conflict_action = preempt
nat_nmask = 255.255.0.0
nat_router = 10.0.0.254 eth1:1
active_cmd = /usr/local/bin/up
inactive_cmd = \"/usr/local/bin/down now\"
monitor_links = 1
debug_level = NONE
hard_shutdown = 0
ipvsadm = /usr/sbin/ipvsadm
keepalive = 6
deadtime = 020
rsh_command = ssh
syncdaemon = 1
syncd_iface = eth2
syncd_id = 7
tcp_timeout = 900
tcpfin_timeout = 120
udp_timeout = 300
heartbeat = 1
heartbeat_port = 1050
sync = 0
network = direct
service = fos
";
    let doc = parse(src);
    let g = &doc.config().globals;
    assert_eq!(g.serial_no, 42);
    assert_eq!(g.primary, Some(ip("192.168.1.10")));
    assert_eq!(g.primary_private, Some(ip("10.0.0.10")));
    assert_eq!(g.primary_shared.as_deref(), Some("/dev/sdb"));
    assert_eq!(g.backup, Some(ip("192.168.1.20")));
    assert!(g.backup_active);
    assert_eq!(g.backup_private, Some(ip("10.0.0.20")));
    assert_eq!(g.backup_shared.as_deref(), Some("/dev/sdc"));
    assert_eq!(
        g.reservation_conflict_action,
        Some(lvscf::ConflictAction::Preempt)
    );
    assert_eq!(g.nat_nmask, Ipv4Addr::new(255, 255, 0, 0));
    let r = g.nat_router.as_ref().expect("nat_router");
    assert_eq!(
        (r.address.clone(), r.device.as_str()),
        (ip("10.0.0.254"), "eth1:1")
    );
    assert_eq!(g.active_cmd.as_deref(), Some("/usr/local/bin/up"));
    assert_eq!(g.inactive_cmd.as_deref(), Some("/usr/local/bin/down now"));
    assert!(g.monitor_links);
    assert_eq!(g.debug_level, "NONE");
    assert!(!g.hard_shutdown);
    assert_eq!(g.ipvsadm, "/usr/sbin/ipvsadm");
    assert_eq!((g.keepalive, g.deadtime), (Seconds(6), Seconds(16))); // 020 is octal
    assert_eq!(g.rsh_command, "ssh");
    assert!(g.syncdaemon);
    assert_eq!((g.syncd_iface.as_str(), g.syncd_id), ("eth2", 7));
    assert_eq!(
        (g.tcp_timeout.0, g.tcpfin_timeout.0, g.udp_timeout.0),
        (900, 120, 300)
    );
    assert!(g.heartbeat && !g.sync);
    assert_eq!(g.heartbeat_port, 1050);
    assert_eq!((g.network, g.service), (Network::Direct, ServiceType::Fos));
    // The text stays as written.
    assert_eq!(doc.global("serial_no"), Some(vec!["0x2a"]));
    assert_eq!(doc.global("nat_router"), Some(vec!["10.0.0.254", "eth1:1"]));
}

#[test]
fn every_virtual_and_server_keyword() {
    let src = "\
virtual web {
     active = 1
     address = 192.168.1.250 eth0:1
     sorry_server = 127.0.0.1
     vip_nmask = 255.255.255.0
     fwmark = 0x2a
     protocol = udp
     port = https
     scheduler = lblcr
     persistent = 300
     pmask = 255.255.255.0
     client_monitor = /usr/sbin/nanny
     send_program = \"/bin/check %h\"
     send = \"GET / HTTP/1.0\\r\\n\\r\\n\"
     expect = \"HTTP\"
     use_regex = 1
     timeout = 6
     reentry = 15
     load_monitor = uptime
     quiesce_server = 1
     start_cmd = \"/etc/init.d/httpd start\"
     stop_cmd = '/etc/init.d/httpd stop'
     master = 10.0.0.1
     dirs = [ /etc /var/www ]
     server one {
         address = 10.0.0.2
         active = 1
         weight = 3
         port = 8443
     }
     server two {
         address = backend.example.com
     }
}
";
    let doc = parse(src);
    let v = &doc.config().virtual_servers[0];
    assert_eq!(v.name, "web");
    assert!(v.active);
    let a = v.address.as_ref().expect("address");
    assert_eq!(
        (a.address.clone(), a.device.as_str()),
        (ip("192.168.1.250"), "eth0:1")
    );
    assert_eq!(v.sorry_server, Some(Ipv4Addr::LOCALHOST));
    assert_eq!(v.vip_nmask, Ipv4Addr::new(255, 255, 255, 0));
    assert_eq!(v.fwmark, 42);
    assert_eq!(v.protocol, Protocol::Udp);
    assert_eq!(v.port, 443);
    assert_eq!(v.scheduler, Scheduler::Lblcr);
    assert_eq!(v.persistent, Seconds(300));
    assert_eq!(v.pmask, Some(Ipv4Addr::new(255, 255, 255, 0)));
    assert_eq!(v.client_monitor, "/usr/sbin/nanny");
    assert_eq!(v.send_program.as_deref(), Some("/bin/check %h"));
    assert_eq!(v.send.as_deref(), Some("GET / HTTP/1.0\\r\\n\\r\\n"));
    assert_eq!(v.expect.as_deref(), Some("HTTP"));
    assert!(v.use_regex && v.quiesce_server);
    assert_eq!((v.timeout, v.reentry), (Seconds(6), Seconds(15)));
    assert_eq!(v.load_monitor.as_deref(), Some("uptime"));
    assert_eq!(v.start_cmd.as_deref(), Some("/etc/init.d/httpd start"));
    assert_eq!(v.stop_cmd.as_deref(), Some("/etc/init.d/httpd stop"));
    assert_eq!(v.master, Some(ip("10.0.0.1")));
    assert_eq!(v.dirs, Some(vec!["/etc".to_owned(), "/var/www".to_owned()]));
    let s = &v.servers;
    assert_eq!(
        (
            s[0].name.as_str(),
            s[0].address.clone(),
            s[0].active,
            s[0].weight,
            s[0].port
        ),
        ("one", ip("10.0.0.2"), true, 3, 8443)
    );
    // Host names are kept unresolved; defaults: inactive, weight 1, the virtual's port.
    assert_eq!(
        (s[1].address.clone(), s[1].active, s[1].weight, s[1].port),
        (Host::Name("backend.example.com".into()), false, 1, 443)
    );
}

#[test]
fn defaults_are_piranhas() {
    let doc = parse("virtual v {\n     server s {\n     }\n}\nfailover f {\n}\n");
    let c = doc.config();
    let g = &c.globals;
    assert_eq!((g.keepalive.0, g.deadtime.0, g.heartbeat_port), (2, 5, 539));
    assert_eq!((g.network, g.service), (Network::Nat, ServiceType::Lvs));
    assert!(g.hard_shutdown);
    assert_eq!(
        (
            g.ipvsadm.as_str(),
            g.rsh_command.as_str(),
            g.syncd_iface.as_str()
        ),
        ("/sbin/ipvsadm", "rsh", "eth0")
    );
    let v = &c.virtual_servers[0];
    assert!(!v.active);
    assert_eq!(
        (v.port, v.protocol, v.scheduler, v.timeout.0, v.reentry.0),
        (80, Protocol::Tcp, Scheduler::Wlc, 10, 180)
    );
    assert_eq!(v.client_monitor, "/usr/sbin/nanny");
    assert_eq!(
        (v.servers[0].weight, v.servers[0].active, v.servers[0].port),
        (1, false, 80)
    );
    assert_eq!(v.servers[0].address, ip("0.0.0.0"));
    assert_eq!(c.failover_services[0].name, "f");
}

#[test]
fn private_addresses_default_like_piranha() {
    let doc = parse("primary = 1.1.1.1\nbackup = 2.2.2.2\n");
    let g = &doc.config().globals;
    assert_eq!(g.effective_primary_private(), Some(&ip("1.1.1.1")));
    assert_eq!(g.effective_backup_private(), Some(&ip("2.2.2.2")));
    let doc = parse("primary = 1.1.1.1\nprimary_private = 10.0.0.1\nbackup = 2.2.2.2\n");
    assert_eq!(doc.config().globals.effective_backup_private(), None);
}

#[test]
fn server_port_is_the_virtual_port_when_the_server_line_is_read() {
    let doc =
        parse("virtual v {\n port = 8080\n server a {\n }\n port = 9090\n server b {\n }\n}\n");
    let v = &doc.config().virtual_servers[0];
    assert_eq!(
        (v.port, v.servers[0].port, v.servers[1].port),
        (9090, 8080, 9090)
    );
}

#[test]
fn ints_hex_octal_and_inet_aton_forms() {
    let doc = parse(
        "keepalive = 010\ndeadtime = 0x20\nprimary = 10.1\nbackup = 0x0a000002\nvirtual v {\n vip_nmask = 24\n}\n",
    );
    let c = doc.config();
    assert_eq!((c.globals.keepalive.0, c.globals.deadtime.0), (8, 32));
    assert_eq!(c.globals.primary, Some(ip("10.0.0.1")));
    assert_eq!(c.globals.backup, Some(ip("10.0.0.2")));
    assert_eq!(c.virtual_servers[0].vip_nmask, Ipv4Addr::new(0, 0, 0, 24));
    assert_eq!(doc.global("keepalive"), Some(vec!["010"]));
}

#[test]
fn quoting() {
    let doc = parse(
        "virtual \"my vs\" {\n send = 'say \"hi\"'\n expect = \"it's up\"\n send_program = \"/bin/x #1\"\n load_monitor = \"none\"\n}\nvirtual 'other one' {\n send = \"\"\n expect = ''\n}\n",
    );
    let c = doc.config();
    let v = &c.virtual_servers[0];
    assert_eq!(v.name, "my vs");
    assert_eq!(v.send.as_deref(), Some("say \"hi\""));
    assert_eq!(v.expect.as_deref(), Some("it's up"));
    assert_eq!(v.send_program.as_deref(), Some("/bin/x #1"));
    assert_eq!(v.load_monitor.as_deref(), Some("none"));
    assert_eq!(c.virtual_servers[1].name, "other one");
    assert_eq!(c.virtual_servers[1].send.as_deref(), Some(""));
    assert_eq!(c.virtual_servers[1].expect.as_deref(), Some(""));
    // A quote inside a token is an ordinary character.
    let doc = parse("virtual v {\n load_monitor = abc\"def\n}\n");
    assert_eq!(
        doc.config().virtual_servers[0].load_monitor.as_deref(),
        Some("abc\"def")
    );
    // Quoted names of keywords are not keywords.
    assert!(Document::parse("'virtual' a {\n}\n").is_err());
}

#[test]
fn quoted_value_followed_by_trailing_blanks_is_accepted() {
    let doc = parse("virtual v {\n expect = \"HTTP\"   \n}\n");
    assert_eq!(
        doc.config().virtual_servers[0].expect.as_deref(),
        Some("HTTP")
    );
    assert_eq!(doc.diagnostics()[0].code, Code::Unportable);
}

#[test]
fn duplicate_names_kept_in_order_and_globals_anywhere() {
    let doc = parse(
        "virtual a {\n server s {\n  weight = 1\n }\n server s {\n  weight = 2\n }\n}\nkeepalive = 3\nvirtual a {\n}\ndeadtime = 9\n",
    );
    let c = doc.config();
    assert_eq!(c.virtual_servers.len(), 2);
    assert_eq!(
        c.virtual_servers[0]
            .servers
            .iter()
            .map(|s| s.weight)
            .collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!((c.globals.keepalive.0, c.globals.deadtime.0), (3, 9));
}

#[test]
fn last_occurrence_wins() {
    let doc = parse("service = fos\nservice = lvs\nvirtual v {\n port = 1\n port = 2\n}\n");
    assert_eq!(doc.config().globals.service, ServiceType::Lvs);
    assert_eq!(doc.config().virtual_servers[0].port, 2);
    assert_eq!(
        doc.diagnostics()
            .iter()
            .filter(|d| d.code == Code::RepeatedKeyword)
            .count(),
        2
    );
}

#[test]
fn pmask_all_ones_means_none() {
    let doc = parse("virtual v {\n pmask = 255.255.255.255\n}\n");
    assert_eq!(doc.config().virtual_servers[0].pmask, None);
}

#[test]
fn failover_blocks_accept_servers() {
    let doc =
        parse("failover f {\n address = 1.2.3.4 eth0:1\n server s {\n  address = 1.2.3.5\n }\n}\n");
    assert_eq!(doc.config().failover_services[0].servers.len(), 1);
}

#[test]
fn crlf_files_parse_in_full() {
    let src = "primary = 1.1.1.1\r\nkeepalive = 7\r\ndeadtime = 20\r\nvirtual v {\r\n\tport = 81\r\n}\r\n";
    let doc = parse(src);
    assert_eq!(doc.config().globals.keepalive.0, 7);
    assert_eq!(doc.config().virtual_servers[0].port, 81);
    assert_eq!(
        doc.diagnostics()
            .iter()
            .filter(|d| d.code == Code::Unportable)
            .count(),
        1
    );
}

#[test]
fn lone_cr_and_mixed_line_ends() {
    let doc = parse("keepalive = 7\rdeadtime = 20\nvirtual v {\r\n}");
    assert_eq!(doc.config().globals.deadtime.0, 20);
}

#[test]
fn no_final_newline_and_whitespace_lines() {
    parse("keepalive = 7");
    parse("keepalive = 7\n   \n\t\n");
    parse("\n\n# only comments\n   # indented\n");
    parse("virtual v {\n}   ");
    parse("keepalive = 7 \t ");
}

#[test]
fn utf8_in_comments() {
    let doc = parse("# 主服务器\nprimary = 10.0.0.1\n# ½ — ✓\n");
    assert_eq!(doc.line_count(), 3);
}

#[test]
fn equals_and_braces_are_not_self_delimiting() {
    assert_eq!(
        Document::parse("virtual a{\n}\n")
            .expect_err("x")
            .first_error()
            .expect("e")
            .code,
        Code::MissingArguments
    );
    assert_eq!(
        Document::parse("keepalive= 1\n")
            .expect_err("x")
            .first_error()
            .expect("e")
            .code,
        Code::UnknownKeyword
    );
}

#[test]
fn keepalived_syntax_is_rejected() {
    let err = Document::parse("! Configuration\nglobal_defs  {\n   router_id LVS\n}\n")
        .expect_err("not lvs.cf");
    assert_eq!(
        err.first_error().map(|d| (d.line, d.code)),
        Some((1, Code::UnknownKeyword))
    );
}

#[test]
fn canonical_layout() {
    let doc = parse(
        "# top\nkeepalive   =\t6\n\n\n virtual  \"a b\"   {\n\tport = http # web\n  server s {\n\t\tweight = 2\n  }\n}   \n",
    );
    assert_eq!(
        doc.to_canonical_string(),
        "# top\nkeepalive = 6\n\n\nvirtual \"a b\" {\n     # web\n     port = http\n     server s {\n         weight = 2\n     }\n}\n"
    );
}

#[test]
fn backup_may_be_zero_but_primary_may_not() {
    let doc = parse("primary = 10.0.0.1\nbackup = 0.0.0.0\n");
    assert_eq!(doc.config().globals.backup, Some(ip("0.0.0.0")));
    assert!(Document::parse("primary = 0.0.0.0\n").is_err());
}

#[test]
fn no_token_limit_per_line() {
    // Piranha reads at most 99 tokens of a line and drops the rest silently; every token counts here.
    let items: Vec<String> = (0..150).map(|i| format!("/d{i}")).collect();
    let src = format!("virtual v {{\n dirs = [ {} ]\n}}\n", items.join(" "));
    let doc = parse(&src);
    assert_eq!(
        doc.config().virtual_servers[0].dirs.as_ref().map(Vec::len),
        Some(150)
    );
}

#[test]
fn hash_inside_quotes_is_data_and_a_comment_line_is_not_a_statement() {
    let doc =
        parse("#  network = direct\nvirtual v {\n send = \"GET /#x HTTP/1.0\\r\\n\\r\\n\"\n}\n");
    assert_eq!(doc.config().globals.network, Network::Nat);
    assert_eq!(
        doc.config().virtual_servers[0].send.as_deref(),
        Some("GET /#x HTTP/1.0\\r\\n\\r\\n")
    );
    assert!(
        doc.diagnostics()
            .iter()
            .all(|d| d.code != Code::EndOfLineComment)
    );
}
