//! Kernel tests: frames on a real veth pair, captured on the peer, decoded by tcpdump and tshark,
//! and acted on by the peer kernel's neighbour tables; the schedule measured from capture
//! timestamps; every error provoked for real.
//!
//! Run with `cargo xtask test` (root, in the rig). Packets only cross veth pairs between
//! namespaces the tests create.

use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arp_announce::{Announcer, ArpForm, Error, FrameKind, Options, Schedule, announce_once};
use testkit::{Capture, NetNs};

/// How long a capture may run at most.
const LIMIT: Duration = Duration::from_secs(60);

const VIP4: &str = "10.77.0.100";
const VIP6: &str = "fd00:77::100";
const OTHER_MAC: &str = "02:00:00:00:00:99";

/// Two namespaces joined by a veth pair: `a` announces, `b` listens.
struct Pair {
    a: NetNs,
    b: NetNs,
    dev_a: String,
    dev_b: String,
    mac_a: [u8; 6],
}

fn pair() -> Pair {
    let a = NetNs::new().expect("netns a");
    let b = NetNs::new().expect("netns b");
    let veth = a.veth("10.77.0.1/24", &b, "10.77.0.2/24").expect("veth");
    let (dev_a, dev_b) = (veth.name().to_owned(), veth.peer_name().to_owned());
    a.ip(["-6", "addr", "add", "fd00:77::1/64", "dev", &dev_a, "nodad"])
        .expect("v6 a");
    b.ip(["-6", "addr", "add", "fd00:77::2/64", "dev", &dev_b, "nodad"])
        .expect("v6 b");
    let link = a
        .ip(["-brief", "link", "show", "dev", &dev_a])
        .expect("link");
    let mac_text = link
        .split_whitespace()
        .nth(2)
        .expect("MAC in `ip -brief link`");
    let mac = arp_announce::parse_mac(mac_text).expect("mac");
    Pair {
        a,
        b,
        dev_a,
        dev_b,
        mac_a: mac.octets(),
    }
}

impl Pair {
    /// `b`'s MAC, as `ip -brief link` shows it.
    fn mac_b(&self) -> arp_announce::MacAddr {
        let link = (self.b)
            .ip(["-brief", "link", "show", "dev", &self.dev_b])
            .expect("link");
        let mac = link.split_whitespace().nth(2).expect("MAC");
        arp_announce::parse_mac(mac).expect("mac")
    }
}

fn now_since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

fn v4(s: &str) -> [u8; 4] {
    match ip(s) {
        IpAddr::V4(a) => a.octets(),
        IpAddr::V6(_) => panic!("not v4"),
    }
}

fn v6(s: &str) -> [u8; 16] {
    match ip(s) {
        IpAddr::V6(a) => a.octets(),
        IpAddr::V4(_) => panic!("not v6"),
    }
}

/// The ARP frame expected on the wire, laid out by hand from the RFCs (not by the crate).
fn expected_arp(mac: [u8; 6], vip: [u8; 4], reply: bool) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&mac);
    f.extend_from_slice(&[
        0x08,
        0x06,
        0x00,
        0x01,
        0x08,
        0x00,
        6,
        4,
        0,
        if reply { 2 } else { 1 },
    ]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&vip);
    f.extend_from_slice(if reply { &mac } else { &[0; 6] });
    f.extend_from_slice(&vip);
    if reply {
        f.extend_from_slice(&[0; 18]);
    }
    f
}

/// The unsolicited NA expected on the wire, with its checksum computed here.
fn expected_na(mac: [u8; 6], target: [u8; 16]) -> Vec<u8> {
    let all_nodes = v6("ff02::1");
    let mut icmp = vec![136, 0, 0, 0, 0x20, 0, 0, 0];
    icmp.extend_from_slice(&target);
    icmp.extend_from_slice(&[2, 1]);
    icmp.extend_from_slice(&mac);
    let mut sum: u32 = 0;
    let mut add = |bytes: &[u8]| {
        for c in bytes.chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
    };
    add(&target);
    add(&all_nodes);
    add(&(icmp.len() as u32).to_be_bytes());
    add(&[0, 0, 0, 58]);
    add(&icmp);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let checksum = !(sum as u16);
    icmp[2..4].copy_from_slice(&checksum.to_be_bytes());
    let mut f = vec![0x33, 0x33, 0, 0, 0, 1];
    f.extend_from_slice(&mac);
    f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
    f.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
    f.extend_from_slice(&[58, 255]);
    f.extend_from_slice(&target);
    f.extend_from_slice(&all_nodes);
    f.extend_from_slice(&icmp);
    f
}

const FILTER: &str = "arp or (icmp6 and ip6[40] == 136)";

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn frames_are_byte_exact_and_decoded_by_tcpdump_and_tshark() {
    let p = pair();
    let pcap = std::env::temp_dir().join(format!("garp-{}.pcap", std::process::id()));
    let mut file_capture =
        Capture::to_file(&p.b, &p.dev_b, FILTER, 3, &pcap, LIMIT).expect("tcpdump to a file");
    let mut live = Capture::start(&p.b, &p.dev_b, FILTER, LIMIT).expect("capture");

    let dev = p.dev_a.clone();
    p.a.run(move || {
        announce_once(&dev, &[ip(VIP4), ip(VIP6)], ArpForm::Request)?;
        announce_once(&dev, &[ip(VIP4)], ArpForm::Reply)
    })
    .expect("runs in a")
    .expect("sent");

    let got: Vec<Vec<u8>> = (0..3)
        .map(|_| live.next_frame().expect("frame").data)
        .collect();
    drop(live);
    assert_eq!(
        got[0],
        expected_arp(p.mac_a, v4(VIP4), false),
        "request form"
    );
    assert_eq!(got[1], expected_na(p.mac_a, v6(VIP6)), "unsolicited NA");
    assert_eq!(
        got[2],
        expected_arp(p.mac_a, v4(VIP4), true),
        "reply form (Piranha)"
    );
    assert!(file_capture.wait().expect("tcpdump exits").success());

    // tcpdump's own decoding.
    let text =
        p.b.exec(
            "tcpdump",
            ["-nn", "-e", "-v", "-r", pcap.to_str().expect("path")],
        )
        .expect("tcpdump -r");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].contains("ARP")
            && lines[0].contains(&format!("Request who-has {VIP4} tell {VIP4}")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "neighbor advertisement, length 32, tgt is {VIP6}, Flags [override]"
        )),
        "{text}"
    );
    assert!(text.contains("hlim 255"), "{text}");
    assert!(text.contains(&format!("Reply {VIP4} is-at")), "{text}");

    // tshark's.
    let fields = tshark_fields(
        &p.b,
        &pcap,
        &[
            "arp.opcode",
            "arp.src.proto_ipv4",
            "arp.dst.proto_ipv4",
            "arp.isgratuitous",
            "icmpv6.type",
            "icmpv6.nd.na.flag.o",
            "icmpv6.nd.na.target_address",
            "icmpv6.checksum.status",
        ],
    );
    let rows: Vec<&str> = fields.lines().collect();
    assert_eq!(rows[0], format!("1|{VIP4}|{VIP4}|1||||"), "{fields}");
    assert_eq!(rows[1], format!("||||136|1|{VIP6}|1"), "{fields}");
    assert_eq!(rows[2], format!("2|{VIP4}|{VIP4}|1||||"), "{fields}");
    let _ = std::fs::remove_file(pcap);
}

/// tshark's reading of `pcap` in `ns`: one line per frame, `fields` separated by `|`.
fn tshark_fields(ns: &NetNs, pcap: &std::path::Path, fields: &[&str]) -> String {
    let mut args = vec![
        "-r",
        pcap.to_str().expect("path"),
        "-T",
        "fields",
        "-E",
        "separator=|",
    ];
    for f in fields {
        args.extend(["-e", f]);
    }
    ns.exec("tshark", args).expect("tshark")
}

/// `ip neigh show ADDR dev DEV` in `ns`, once the entry has `mac` (or panics after 5 s).
fn wait_for_neighbour(ns: &NetNs, addr: &str, dev: &str, mac: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let out = ns
            .ip(["neigh", "show", addr, "dev", dev])
            .expect("ip neigh");
        if out.contains(&format!("lladdr {mac}")) {
            return out;
        }
        assert!(
            Instant::now() < deadline,
            "{addr} never mapped to {mac}: {out:?}"
        );
        std::thread::yield_now();
    }
}

/// Announces both VIPs from `a` and waits until `b` maps them to `a`'s MAC.
fn announce_and_expect_neighbours(p: &Pair, form: ArpForm) {
    let dev = p.dev_a.clone();
    p.a.run(move || announce_once(&dev, &[ip(VIP4), ip(VIP6)], form))
        .expect("runs in a")
        .expect("sent");
    let mac = mac_text(p.mac_a);
    wait_for_neighbour(&p.b, VIP4, &p.dev_b, &mac);
    wait_for_neighbour(&p.b, VIP6, &p.dev_b, &mac);
}

/// Sets a sysctl in `ns`.
fn sysctl(ns: &NetNs, setting: &str) {
    ns.exec("sysctl", ["-qw", setting]).expect(setting);
}

fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn takeover_replaces_the_old_mac_in_the_peers_neighbour_tables() {
    for form in [ArpForm::Request, ArpForm::Reply] {
        let p = pair();
        // The peer held the VIP at another MAC (the old director's), long enough ago that
        // ARP's locktime no longer protects the entry.
        sysctl(&p.b, &format!("net.ipv4.neigh.{}.locktime=0", p.dev_b));
        p.b.ip([
            "neigh", "replace", VIP4, "lladdr", OTHER_MAC, "dev", &p.dev_b, "nud", "stale",
        ])
        .expect("old v4 entry");
        p.b.ip([
            "-6", "neigh", "replace", VIP6, "lladdr", OTHER_MAC, "dev", &p.dev_b, "nud", "stale",
        ])
        .expect("old v6 entry");
        announce_and_expect_neighbours(&p, form);
    }
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn peers_with_arp_accept_and_accept_untracked_na_learn_new_entries() {
    for form in [ArpForm::Request, ArpForm::Reply] {
        let p = pair();
        sysctl(&p.b, &format!("net.ipv4.conf.{}.arp_accept=1", p.dev_b));
        sysctl(
            &p.b,
            &format!("net.ipv6.conf.{}.accept_untracked_na=1", p.dev_b),
        );
        // Linux 6.1 (the rig's kernel) applies accept_untracked_na to routers only (RFC 9131);
        // later kernels to hosts too.
        sysctl(&p.b, &format!("net.ipv6.conf.{}.forwarding=1", p.dev_b));
        assert!(
            !p.b.ip(["neigh", "show", VIP4])
                .expect("neigh")
                .contains("lladdr")
        );
        announce_and_expect_neighbours(&p, form);
    }
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn bursts_second_burst_and_refresh_follow_their_schedule() {
    let p = pair();
    let mut cap = Capture::start(&p.b, &p.dev_b, "arp", LIMIT).expect("capture");
    let schedule = Schedule::once()
        .with_count(3)
        .with_interval(Duration::from_millis(200))
        .with_second_burst(Duration::from_millis(1000), 2)
        .with_refresh(Duration::from_millis(400));
    // Expected offsets from the first frame: 0, 200, 400 (first burst), 1000, 1200 (second),
    // then refresh every 400 ms after the last burst round: 1600, 2000.
    let want = [0u64, 200, 400, 1000, 1200, 1600, 2000];
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let dev = p.dev_a.clone();
    let (frames, stopped_at, report) = std::thread::scope(|s| {
        // The announcer runs on a runtime in namespace a until told to stop.
        let runner = s.spawn(|| {
            p.a.run(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                    .expect("runtime");
                let result = rt.block_on(async move {
                    let options = Options::default().with_schedule(schedule);
                    let handle = Announcer::new(&dev, &[ip(VIP4)], options)?.spawn()?;
                    let _ = stop_rx.await;
                    handle.stop().await
                });
                (now_since_epoch(), result)
            })
        });
        let frames: Vec<testkit::Frame> = want
            .iter()
            .map(|_| cap.next_frame().expect("frame"))
            .collect();
        stop_tx.send(()).expect("stop");
        let (stopped_at, result) = runner.join().expect("runner").expect("in a");
        (frames, stopped_at, result.expect("announcer ran"))
    });
    let t0 = frames[0].at;
    for (f, w) in frames.iter().zip(want) {
        let got = (f.at - t0).as_millis() as i64;
        assert!(
            (got - w as i64).abs() <= 60,
            "frame at {got} ms, expected {w} ms ± 60"
        );
        assert_eq!(f.data, expected_arp(p.mac_a, v4(VIP4), false));
    }
    assert!(report.frames_sent >= 7);

    // Cancel: once stop() has returned, nothing more goes out. A marker sent afterwards is the
    // next ARP frame the capture sees after the announcer's last one.
    let dev = p.dev_a.clone();
    p.a.run(move || announce_once(&dev, &[ip("10.77.0.200")], ArpForm::Request))
        .expect("in a")
        .expect("marker");
    let mut after = Vec::new();
    loop {
        let r = cap.next_frame().expect("frame");
        if r.data[28..32] == v4("10.77.0.200") {
            break;
        }
        after.push(r);
    }
    drop(cap);
    assert!(
        after.iter().all(|r| r.at <= stopped_at),
        "a frame went out after stop()"
    );
    assert_eq!(7 + after.len() as u64, report.frames_sent);
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn every_error_for_real() {
    let p = pair();
    p.a.ip(["link", "add", "down0", "type", "dummy"])
        .expect("dummy");
    p.a.ip([
        "link",
        "add",
        "tun0",
        "type",
        "ipip",
        "local",
        "10.77.0.1",
        "remote",
        "10.77.0.2",
    ])
    .expect("ipip");
    p.a.ip(["link", "set", "tun0", "up"]).expect("tun up");
    let dev = p.dev_a.clone();
    let errors =
        p.a.run(move || {
            let v4 = [ip(VIP4)];
            let missing = Announcer::new("nope0", &v4, Options::default()).err();
            let down = Announcer::new("down0", &v4, Options::default()).err();
            let lo = Announcer::new("lo", &v4, Options::default()).err();
            let tun = Announcer::new("tun0", &v4, Options::default()).err();
            // An IPv4 NA source for an IPv6 address cannot be expressed; ARP for IPv6 can be asked.
            let family = arp_announce::build(
                FrameKind::Arp(ArpForm::Request),
                arp_announce::MacAddr::new(2, 0, 0, 0, 0, 1),
                ip(VIP6),
            )
            .err();
            // Without CAP_NET_RAW (capabilities are per thread).
            caps::drop(None, caps::CapSet::Effective, caps::Capability::CAP_NET_RAW)
                .expect("drop cap");
            let perm = announce_once(&dev, &v4, ArpForm::Request).err();
            (missing, down, lo, tun, family, perm)
        })
        .expect("in a");
    let (missing, down, lo, tun, family, perm) = errors;
    assert!(
        matches!(missing, Some(Error::NoSuchInterface { ref ifname }) if ifname == "nope0"),
        "{missing:?}"
    );
    assert!(
        matches!(down, Some(Error::InterfaceDown { ref ifname }) if ifname == "down0"),
        "{down:?}"
    );
    assert!(
        matches!(lo, Some(Error::NoMacAddress { ref ifname }) if ifname == "lo"),
        "{lo:?}"
    );
    assert!(
        matches!(tun, Some(Error::NoMacAddress { ref ifname }) if ifname == "tun0"),
        "{tun:?}"
    );
    assert!(
        matches!(family, Some(Error::AddressFamily { .. })),
        "{family:?}"
    );
    let perm = perm.expect("refused without CAP_NET_RAW");
    assert!(matches!(perm, Error::PermissionDenied { .. }), "{perm:?}");
    assert!(perm.to_string().contains("CAP_NET_RAW"), "{perm}");
}

fn send_arp_bin() -> std::path::PathBuf {
    testkit::binary("lvs-tools", "send_arp")
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn send_arp_example_is_a_drop_in_and_has_a_modern_form() {
    let p = pair();
    let mut cap = Capture::start(&p.b, &p.dev_b, FILTER, LIMIT).expect("capture");
    let mac = mac_text(p.mac_a);
    // Piranha's pulse: `send_arp -i DEV VIP OWN_MAC VIP ffffffffffff`.
    let out =
        p.a.command(send_arp_bin())
            .args([
                "-i",
                &p.dev_a,
                VIP4,
                &mac.replace(':', ""),
                VIP4,
                "ffffffffffff",
            ])
            .output()
            .expect("send_arp runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        cap.next_frame().expect("frame").data,
        expected_arp(p.mac_a, v4(VIP4), true)
    );
    // Piranha sends to the Ethernet destination it is given.
    let out =
        p.a.command(send_arp_bin())
            .args(["-i", &p.dev_a, VIP4, &mac, "0.0.0.0", "02:00:00:00:00:42"])
            .output()
            .expect("send_arp runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let frame = cap.next_frame().expect("frame").data;
    assert_eq!(frame[..6], [2, 0, 0, 0, 0, 0x42]);
    assert_eq!(frame[6..], expected_arp(p.mac_a, v4(VIP4), true)[6..]);
    // The modern form: two rounds of a request and an NA.
    let out =
        p.a.command(send_arp_bin())
            .args([
                "--interface",
                &p.dev_a,
                "--count",
                "2",
                "--interval",
                "10ms",
                VIP4,
                VIP6,
            ])
            .output()
            .expect("send_arp runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for _ in 0..2 {
        assert_eq!(
            cap.next_frame().expect("frame").data,
            expected_arp(p.mac_a, v4(VIP4), false)
        );
        assert_eq!(
            cap.next_frame().expect("frame").data,
            expected_na(p.mac_a, v6(VIP6))
        );
    }
    // A missing interface is an error with its name, not a usage error.
    let out =
        p.a.command(send_arp_bin())
            .args(["-i", "nope0", VIP4, &mac, VIP4, "ffffffffffff"])
            .output()
            .expect("send_arp runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no interface named \"nope0\""));
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn a_probe_finds_the_host_that_holds_an_address_and_tshark_sees_a_probe() {
    let p = pair();
    // `b` holds one address; the other is free.
    p.b.ip(["address", "add", "10.77.0.50/24", "dev", &p.dev_b])
        .expect("b holds .50");
    let b_mac = p.mac_b();
    let pcap = std::env::temp_dir().join(format!("probe-{}.pcap", std::process::id()));
    let mut capture = Capture::to_file(&p.b, &p.dev_b, "arp", 3, &pcap, LIMIT).expect("tcpdump");
    let dev = p.dev_a.clone();
    let taken: std::net::Ipv4Addr = "10.77.0.50".parse().expect("ip");
    let free: std::net::Ipv4Addr = "10.77.0.51".parse().expect("ip");
    let (conflicts, took) =
        p.a.run(move || {
            let started = Instant::now();
            let found = arp_announce::probe(&dev, &[taken, free], Duration::from_millis(300));
            (found, started.elapsed())
        })
        .expect("runs in a");
    let conflicts = conflicts.expect("probed");
    assert_eq!(
        conflicts,
        [arp_announce::Conflict {
            address: taken,
            mac: b_mac
        }]
    );
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert!(capture.wait().expect("tcpdump exits").success());
    let fields = tshark_fields(
        &p.b,
        &pcap,
        &["arp.isprobe", "arp.src.proto_ipv4", "arp.dst.proto_ipv4"],
    );
    // Our two probes, and b's answer for the address it holds (in the order they crossed).
    let mut rows: Vec<&str> = fields.lines().collect();
    rows.sort_unstable();
    assert_eq!(
        rows,
        [
            "1|0.0.0.0|10.77.0.50",
            "1|0.0.0.0|10.77.0.51",
            "|10.77.0.50|0.0.0.0"
        ],
        "{fields}"
    );
    let _ = std::fs::remove_file(pcap);
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn a_takeover_from_a_dead_peer_claims_at_once_and_a_cold_start_probes_first() {
    use arp_announce::takeover::{Address, Announce, Probe, Takeover};
    let p = pair();
    let b_mac = p.mac_b();
    let wait = Duration::from_millis(500);
    // Each mode takes two addresses: one `b` holds (a peer that has not stepped down, or a
    // mistake), which both modes must report, and one nobody answers for, which keeps the
    // probe listening its whole window (it ends early once every address was answered).
    for (held, free, probe) in [
        ("10.77.0.60", "10.77.0.61", Probe::Alongside(wait)),
        ("10.77.0.62", "10.77.0.63", Probe::First(wait)),
    ] {
        p.b.ip(["address", "add", &format!("{held}/24"), "dev", &p.dev_b])
            .expect("b holds the address");
        let pcap =
            std::env::temp_dir().join(format!("takeover-{}-{held}.pcap", std::process::id()));
        // Our two probes, b's answer and our first gratuitous ARPs.
        let filter = format!("arp and (host {held} or host {free})");
        let mut capture =
            Capture::to_file(&p.b, &p.dev_b, &filter, 5, &pcap, LIMIT).expect("tcpdump");
        let wanted = [
            Address::new(ip(held), 24, p.dev_a.clone()),
            Address::new(ip(free), 24, p.dev_a.clone()),
        ];
        let (events, held_after) =
            p.a.run(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async {
                    let mut t = Takeover::new().expect("rtnetlink");
                    let events: Vec<String> = (t.take(&wanted, Announce::All, probe).await)
                        .iter()
                        .map(ToString::to_string)
                        .collect();
                    let held = t.held().len();
                    t.release_all().await;
                    (events, held)
                })
            })
            .expect("runs in a");
        assert_eq!(
            held_after, 2,
            "{probe:?}: both taken, the one in use anyway"
        );
        assert_eq!(
            events,
            [format!(
                "ADDRESS CONFLICT: {held} is in use by {b_mac} (RFC 5227 probe): taking it over anyway"
            )],
            "{probe:?}"
        );
        assert!(capture.wait().expect("tcpdump exits").success());
        let fields = tshark_fields(
            &p.b,
            &pcap,
            &[
                "frame.time_relative",
                "arp.isprobe",
                "arp.src.proto_ipv4",
                "arp.dst.proto_ipv4",
            ],
        );
        let at = |what: &str| -> f64 {
            fields
                .lines()
                .find(|l| l.ends_with(what))
                .and_then(|l| l.split('|').next())
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("{probe:?}: no {what} in {fields}"))
        };
        let probed = at(&format!("|1|0.0.0.0|{free}"));
        let claimed = at(&format!("||{free}|{free}"));
        // Seconds from the probe to the claim (negative: the claim went out first).
        let gap = claimed - probed;
        match probe {
            // Claimed while the probe listens: well inside its window.
            Probe::Alongside(_) => assert!(
                gap < wait.as_secs_f64() / 2.0,
                "{probe:?}: claimed {gap} s after the probe\n{fields}"
            ),
            // Claimed once the probe's window is over.
            _ => assert!(
                gap >= wait.as_secs_f64(),
                "{probe:?}: claimed {gap} s after the probe\n{fields}"
            ),
        }
        p.b.ip(["address", "del", &format!("{held}/24"), "dev", &p.dev_b])
            .expect("b lets go");
        let _ = std::fs::remove_file(pcap);
    }
}
