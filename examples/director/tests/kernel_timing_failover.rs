//! Kernel tests of failover timing, on the seed's NAT pair (`01-nat-single-router.cf` with the
//! backup router named, keepalive 1 s): a continuous client measures what a user sees when the
//! primary dies, when it comes back, and when it is stopped cleanly.
//!
//! `cargo xtask test` runs this binary under qemu with 2 CPUs (`kernel_timing*`): UML's single
//! CPU, shared by both directors, the servers and the client, would distort the timings.

mod common;

use std::time::{Duration, Instant};

use common::{
    ConfigFile, NatLab, Overlay, Prober, VIP, director, get, sample, scrape, seed_pair_config,
    wait_both_up,
};
use testkit::Logged;

const EVERY: Duration = Duration::from_millis(50);
const LIMIT: Duration = Duration::from_millis(300);

/// Both routers started with `deadtime`; the primary active, both tables ready.
fn pair(lab: &NatLab, file: &ConfigFile) -> (Logged, Logged) {
    let mut primary = director(&lab.routers[0], &file.0, "primary", &[]);
    let mut backup = director(&lab.routers[1], &file.0, "backup", &[]);
    primary.wait_for("this node is the primary");
    backup.wait_for("this node is the backup");
    primary.wait_for("took over 2 addresses");
    assert!(
        backup.try_wait_for("ACTIVE", Duration::ZERO).is_none(),
        "the backup was active at start"
    );
    // The table is programmed on both nodes: a takeover only moves the addresses.
    for d in [&mut primary, &mut backup] {
        wait_both_up(d);
    }
    assert!(get(&lab.client, VIP).is_ok(), "served by the primary");
    assert!(
        !lab.addresses(1, "eth0").contains("192.168.1.250"),
        "the standby holds no VIP"
    );
    (primary, backup)
}

/// The primary dies: its director stops at once, with no last word (a link going down while it
/// lived would make it send one more heartbeat), then its links go; the backup takes over. When
/// it died and when the backup became active.
fn primary_dies(lab: &NatLab, primary: &mut Logged, backup: &mut Logged) -> (Instant, Instant) {
    backup.forget();
    let died = Instant::now();
    primary.child.kill().expect("SIGKILL");
    primary.child.wait().expect("reaped");
    lab.unplug(0);
    let active = backup.wait_for("ACTIVE (peer-dead)").at;
    backup.wait_for("took over 2 addresses");
    (died, active)
}

fn config(deadtime: &str) -> ConfigFile {
    ConfigFile::new(
        &format!("pair-{deadtime}"),
        &seed_pair_config(
            &[("keepalive", "1"), ("deadtime", deadtime)],
            &[("timeout", "1"), ("reentry", "2")],
        ),
    )
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn the_backup_serves_when_the_primary_dies_and_keeps_serving_when_it_returns() {
    let lab = NatLab::new(2);
    let file = config("3");
    let (mut primary, mut backup) = pair(&lab, &file);
    let prober = Prober::start(&lab.client, VIP, EVERY, LIMIT);
    std::thread::sleep(Duration::from_millis(500)); // traffic before the event, to measure from

    let (died, active) = primary_dies(&lab, &mut primary, &mut backup);
    // The backup serves: the client and the real servers follow its gratuitous ARPs.
    let served = get(&lab.client, VIP).expect("served by the backup");
    assert!(served.starts_with("rs"), "{served}");
    let took = active - died;
    assert!(
        took >= Duration::from_millis(1500) && took <= Duration::from_millis(4500),
        "declared dead after {took:?} (deadtime 3 s, heartbeats every 1 s)"
    );

    // The primary comes back: as pulse, it stays standby while the backup serves (no failback
    // in Piranha mode), and clients notice nothing.
    lab.plug(0);
    let returned = Instant::now();
    let mut primary = director(&lab.routers[0], &file.0, "primary again", &[]);
    primary.wait_for("this node is the primary");
    primary.wait_for("[ active ] 10.0.0.100:80 up");
    assert!(
        primary
            .try_wait_for("ACTIVE", Duration::from_secs(5))
            .is_none(),
        "the returning primary took over from a serving backup"
    );
    assert!(!lab.addresses(0, "eth0").contains("192.168.1.250"));
    assert!(backup.try_wait_for("STANDBY", Duration::ZERO).is_none());
    let timeline = prober.finish();
    let end = Instant::now();

    let outage = timeline
        .downtime(died)
        .expect("served again after the death");
    eprintln!(
        "client-visible downtime when the primary died: {outage:?} (declared dead after {took:?})"
    );
    // The takeover, then the addresses and the gratuitous ARPs: the client follows at once.
    // (Measured between replies: the last reply before may come a little after `died`.)
    assert!(
        outage + Duration::from_millis(500) >= took && outage <= took + Duration::from_secs(1),
        "downtime {outage:?}, takeover after {took:?}"
    );
    assert_eq!(
        timeline.failures(returned, end),
        0,
        "requests failed while the primary returned"
    );
    assert!(timeline.successes(returned, end) > 50);
    assert_eq!(timeline.servers().len(), 2, "both real servers answered");
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn a_primary_stopped_cleanly_hands_over_at_once() {
    let lab = NatLab::new(2);
    // A long deadtime: a handover that waited for it would show. With the connection sync
    // daemon: master on the active router, backup on the standby.
    let file = ConfigFile::new(
        "clean-stop",
        &seed_pair_config(
            &[
                ("keepalive", "1"),
                ("deadtime", "10"),
                ("syncdaemon", "1"),
                ("syncd_iface", "eth1"),
                ("syncd_id", "7"),
            ],
            &[("timeout", "1"), ("reentry", "2")],
        ),
    );
    let (mut primary, mut backup) = pair(&lab, &file);
    let daemons = |i: usize| lab.ipvsadm(i, &["-L", "--daemon"]);
    assert!(
        daemons(0).contains("master sync daemon (mcast=eth1, syncid=7,"),
        "{}",
        daemons(0)
    );
    assert!(
        daemons(1).contains("backup sync daemon (mcast=eth1, syncid=7,"),
        "{}",
        daemons(1)
    );
    let prober = Prober::start(&lab.client, VIP, EVERY, LIMIT);
    std::thread::sleep(Duration::from_millis(500)); // traffic before the event, to measure from

    backup.forget();
    let stopped = Instant::now();
    primary.signal(libc::SIGTERM).expect("SIGTERM");
    assert!(primary.child.wait().expect("wait").success());
    let active = backup.wait_for("ACTIVE (peer-inactive)").at;
    backup.wait_for("took over 2 addresses");
    prober.served_after(active, Duration::from_secs(5));
    let timeline = prober.finish();
    let outage = timeline.downtime(stopped).expect("served again");
    eprintln!(
        "client-visible downtime on a clean stop: {outage:?} (backup active after {:?})",
        active - stopped
    );
    assert!(
        active - stopped < Duration::from_secs(1),
        "the backup waited {:?}",
        active - stopped
    );
    assert!(outage < Duration::from_secs(2), "downtime {outage:?}");
    assert!(!lab.addresses(0, "eth0").contains("192.168.1.250"));
    assert!(
        daemons(0).is_empty(),
        "the stopped router's daemon is gone: {}",
        daemons(0)
    );
    assert!(
        daemons(1).contains("master sync daemon (mcast=eth1, syncid=7,"),
        "{}",
        daemons(1)
    );
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn a_link_failure_on_the_active_router_hands_over_with_monitor_links() {
    let lab = NatLab::new(2);
    let file = ConfigFile::new(
        "links",
        &seed_pair_config(
            &[
                ("keepalive", "1"),
                ("deadtime", "10"),
                ("monitor_links", "1"),
            ],
            &[("timeout", "1"), ("reentry", "2")],
        ),
    );
    let (mut primary, mut backup) = pair(&lab, &file);
    backup.forget();
    // The public link of the active router fails (its process lives on).
    let failed = Instant::now();
    lab.routers[0]
        .ip(["link", "set", "eth0", "down"])
        .expect("link down");
    primary.wait_for("STANDBY (link-down");
    let active = backup.wait_for("ACTIVE").at;
    backup.wait_for("took over 2 addresses");
    assert!(
        active - failed < Duration::from_secs(10),
        "the backup took over after {:?}, not after the deadtime",
        active - failed
    );
    assert!(get(&lab.client, VIP).is_ok(), "served by the backup");
    assert!(!lab.addresses(0, "eth0").contains("192.168.1.250"));
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn with_table_when_active_only_the_active_router_has_the_table() {
    let lab = NatLab::new(2);
    let file = config("3");
    let piranha = ["--table-when-active"];
    let mut primary = director(&lab.routers[0], &file.0, "primary", &piranha);
    let mut backup = director(&lab.routers[1], &file.0, "backup", &piranha);
    primary.wait_for("took over 2 addresses");
    primary.wait_for("[ active ] 10.0.0.100:80 up");
    backup.wait_for("[ active ] 10.0.0.100:80 up");
    assert!(
        lab.ipvsadm(0, &["-Ln"])
            .contains("TCP  192.168.1.250:80 wlc")
    );
    assert!(
        !lab.ipvsadm(1, &["-Ln"]).contains("192.168.1.250"),
        "the standby programs nothing, as Piranha's lvsd ran only on the active router"
    );
    backup.forget();
    primary.child.kill().expect("SIGKILL");
    primary.child.wait().expect("reaped");
    lab.unplug(0);
    backup.wait_for("took over 2 addresses");
    let table = lab.ipvsadm(1, &["-Ln"]);
    assert!(table.contains("TCP  192.168.1.250:80 wlc"), "{table}");
    assert!(
        table.contains("10.0.0.100:80") && table.contains("10.0.0.200:80"),
        "{table}"
    );
    assert!(get(&lab.client, VIP).is_ok(), "served by the backup");
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn an_authenticated_pair_fails_over_within_a_second_and_fails_back() {
    let lab = NatLab::new(2);
    let file = config("3");
    let key = ConfigFile::new("auth.key", "a shared key of the pair, 32 bytes");
    std::fs::set_permissions(&key.0, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("the key is the owner's alone");
    let overlay = Overlay::new(
        "auth",
        &format!(
            "[heartbeat]\nmode = \"authenticated\"\nkey_file = \"{}\"\nkeepalive = \"100ms\"\n\
             deadtime = \"500ms\"\nfailback = true\npreempt_delay = \"1s\"\n",
            key.0.display()
        ),
    );
    let settings = overlay.args();
    let mut primary = director(&lab.routers[0], &file.0, "primary", &settings);
    let mut backup = director(&lab.routers[1], &file.0, "backup", &settings);
    primary.wait_for("took over 2 addresses");
    for d in [&mut primary, &mut backup] {
        d.wait_for("[ active ] 10.0.0.100:80 up");
    }
    let prober = Prober::start(&lab.client, VIP, EVERY, LIMIT);
    std::thread::sleep(Duration::from_millis(500)); // traffic before the event, to measure from

    let (died, active) = primary_dies(&lab, &mut primary, &mut backup);
    prober.served_after(active, Duration::from_secs(5));

    // The primary returns: with failback, it takes over once the backup has been active for
    // the preempt delay.
    lab.plug(0);
    backup.forget();
    let mut primary = director(&lab.routers[0], &file.0, "primary again", &settings);
    let back = primary.wait_for("ACTIVE (preempt)").at;
    primary.wait_for("took over 2 addresses");
    backup.wait_for("STANDBY (peer-active)");
    prober.served_after(back, Duration::from_secs(5));
    let timeline = prober.finish();
    let outage = timeline.downtime(died).expect("served after the death");
    let failback = timeline.downtime(back).expect("served after the failback");
    eprintln!(
        "authenticated, keepalive 100 ms, deadtime 500 ms: downtime {outage:?} on death \
         (backup active after {:?}); {failback:?} around the failback",
        active - died
    );
    assert!(
        active - died < Duration::from_millis(800),
        "declared dead after {:?}",
        active - died
    );
    assert!(outage < Duration::from_secs(1), "downtime {outage:?}");
    assert!(
        failback < Duration::from_secs(1),
        "failback interrupted {failback:?}"
    );
    assert!(!lab.addresses(1, "eth0").contains("192.168.1.250"));
}

/// The overlay of a pair with the authenticated heartbeat (keepalive 100 ms, deadtime 1 s) and
/// metrics on 127.0.0.1:9140, and its key file (keep it while the pair runs).
fn authenticated(name: &str) -> (ConfigFile, Overlay) {
    let key = ConfigFile::new(&format!("{name}.key"), "a shared key of the pair, 32 bytes");
    std::fs::set_permissions(&key.0, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("the key is the owner's alone");
    let overlay = Overlay::new(
        name,
        &format!(
            "[heartbeat]\nmode = \"authenticated\"\nkey_file = \"{}\"\nkeepalive = \"100ms\"\n\
             deadtime = \"1s\"\n\n[director]\nmetrics = 9140\n",
            key.0.display()
        ),
    );
    (key, overlay)
}

/// How many datagrams of each kind the forgery test sends: `LVS_TEST_FORGERIES`, or 1,000
/// (`cargo xtask reliability --only forgery` sends 100,000).
fn forgeries() -> usize {
    std::env::var("LVS_TEST_FORGERIES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000)
}

/// A heartbeat seen on the wire: who sent it, from which port, and its UDP payload.
struct Heard {
    from: std::net::Ipv4Addr,
    port: u16,
    payload: Vec<u8>,
}

/// The UDP payload of an Ethernet/IPv4 frame.
fn heard(frame: &[u8]) -> Option<Heard> {
    let ip = frame.get(14..)?;
    let ihl = usize::from(ip.first()? & 0x0f) * 4;
    let from = std::net::Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let udp = ip.get(ihl..)?;
    let port = u16::from_be_bytes([udp[0], udp[1]]);
    Some(Heard {
        from,
        port,
        payload: udp.get(8..)?.to_vec(),
    })
}

/// A router's heartbeat counters: rejected by reason, and the datagrams its kernel dropped on a
/// full socket buffer (`Udp: RcvbufErrors`).
#[derive(Debug, Clone, Default)]
struct Counts {
    rejected: std::collections::BTreeMap<String, u64>,
    accepted: u64,
    dropped: u64,
}

impl Counts {
    fn read(ns: &testkit::NetNs) -> Counts {
        let text = scrape(ns, "127.0.0.1:9140");
        Counts {
            rejected: Counts::rejected(&text),
            accepted: sample(&text, "lvs_heartbeat_accepted_total").expect("accepted") as u64,
            dropped: Counts::dropped(ns),
        }
    }

    fn rejected(text: &str) -> std::collections::BTreeMap<String, u64> {
        let mut rejected = std::collections::BTreeMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("lvs_heartbeat_rejected_total{reason=\"")
                && let Some((reason, value)) = rest.split_once("\"} ")
            {
                rejected.insert(reason.to_string(), value.parse().expect("a count"));
            }
        }
        rejected
    }

    fn dropped(ns: &testkit::NetNs) -> u64 {
        let snmp = ns.exec("cat", ["/proc/net/snmp"]).expect("snmp");
        let mut udp = snmp.lines().filter(|l| l.starts_with("Udp: "));
        let (names, values) = (udp.next().expect("names"), udp.next().expect("values"));
        names
            .split_whitespace()
            .zip(values.split_whitespace())
            .find(|(n, _)| *n == "RcvbufErrors")
            .and_then(|(_, v)| v.parse().ok())
            .expect("RcvbufErrors")
    }

    fn total_rejected(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// What changed since `before`: rejected by reason (those that moved), in total, dropped.
    fn since(&self, before: &Counts) -> (String, u64, u64) {
        let reasons: Vec<String> = self
            .rejected
            .iter()
            .filter_map(|(reason, n)| {
                let d = n - before.rejected.get(reason).copied().unwrap_or(0);
                (d > 0).then(|| format!("{reason} {d}"))
            })
            .collect();
        (
            reasons.join(", "),
            self.total_rejected() - before.total_rejected(),
            self.dropped - before.dropped,
        )
    }
}

/// A UDP socket sending from `bind`, an address of another host (`IP_TRANSPARENT`).
fn spoofing(bind: std::net::SocketAddr) -> std::net::UdpSocket {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a descriptor this function owns; it becomes the
    // UdpSocket's, which closes it.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let one: libc::c_int = 1;
        let set = libc::setsockopt(
            fd,
            libc::SOL_IP,
            libc::IP_TRANSPARENT,
            std::ptr::from_ref(&one).cast(),
            std::mem::size_of_val(&one) as libc::socklen_t,
        );
        assert_eq!(
            set,
            0,
            "IP_TRANSPARENT: {}",
            std::io::Error::last_os_error()
        );
        let socket = std::net::UdpSocket::from_raw_fd(fd);
        let std::net::SocketAddr::V4(v4) = bind else {
            panic!("IPv4 only")
        };
        let sin = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: v4.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*v4.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        let bound = libc::bind(
            fd,
            std::ptr::from_ref(&sin).cast(),
            std::mem::size_of_val(&sin) as libc::socklen_t,
        );
        assert_eq!(bound, 0, "bind {bind}: {}", std::io::Error::last_os_error());
        socket
    }
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn forged_replayed_truncated_and_reordered_heartbeats_from_a_third_host_change_nothing() {
    use heartbeat::packet::{Advert, Kind, PeerState, encode_auth};
    let n = forgeries();
    let lab = NatLab::new(2);
    let file = config("3");
    let (_key, overlay) = authenticated("forgery");
    let settings = overlay.args();
    let mut primary = director(&lab.routers[0], &file.0, "primary", &settings);
    let mut backup = director(&lab.routers[1], &file.0, "backup", &settings);
    primary.wait_for("took over 2 addresses");
    for d in [&mut primary, &mut backup] {
        wait_both_up(d);
    }
    backup.wait_for("this node is the backup");

    // The attacker, the client, sees the pair's heartbeats on the public LAN (now a hub) and
    // keeps some of each router's.
    lab.hub("lan");
    let mut capture = testkit::Capture::start(
        &lab.client,
        &common::veth(&lab.client),
        "udp port 539",
        Duration::from_secs(120),
    )
    .expect("tcpdump");
    let routers: [std::net::Ipv4Addr; 2] = [[192, 168, 1, 10].into(), [192, 168, 1, 20].into()];
    let mut genuine: [Vec<Heard>; 2] = [Vec::new(), Vec::new()];
    while genuine.iter().any(|g| g.len() < 16) {
        let frame = capture.next_frame().expect("a heartbeat");
        if let Some(h) = heard(&frame.data)
            && let Some(i) = routers.iter().position(|r| *r == h.from)
            && h.payload.len() == 64
        {
            genuine[i].push(h);
        }
    }
    drop(capture);
    // It sends as either router (IP_TRANSPARENT: a source address it does not own; its ARP
    // requests carry its own), to the other.
    lab.client
        .exec("sysctl", ["-qw", "net.ipv4.conf.all.arp_announce=2"])
        .expect("sysctl");
    let sockets: Vec<std::net::UdpSocket> = (0..2)
        .map(|i| {
            let bind = std::net::SocketAddr::from((routers[i], genuine[i][0].port));
            lab.client.run(move || spoofing(bind)).expect("netns")
        })
        .collect();
    let dest = |i: usize| std::net::SocketAddr::from((routers[i], genuine[i][0].port));

    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let kinds = ["forged", "replayed", "truncated", "reordered"];
    let mut rows = Vec::new();
    primary.forget();
    backup.forget();
    for kind in kinds {
        let before: Vec<Counts> = lab.routers.iter().map(Counts::read).collect();
        let mut sent = [0u64; 2];
        for i in 0..n {
            // Sent as router `as_`, to router `to`.
            let as_ = i % 2;
            let to = 1 - as_;
            let theirs = &genuine[as_];
            let one = &theirs[(i / 2) % theirs.len()].payload;
            let bytes: Vec<u8> = match kind {
                "forged" if i % 4 < 2 => {
                    // Claims the active role with the highest priority, under a guessed key.
                    let advert = Advert {
                        kind: Kind::Advert,
                        state: PeerState::Active,
                        priority: 255,
                        primary: true,
                        forced: true,
                        node_id: u32::from_be_bytes(one[12..16].try_into().expect("4 bytes")),
                        epoch: u64::from_be_bytes(one[16..24].try_into().expect("8 bytes")) + 1,
                        seq: i as u64,
                    };
                    encode_auth(&advert, &random().to_be_bytes().repeat(4)).to_vec()
                }
                "forged" => {
                    // A genuine heartbeat with one bit flipped.
                    let mut b = one.clone();
                    let bit = random() as usize % (64 * 8);
                    b[bit / 8] ^= 1 << (bit % 8);
                    b
                }
                "replayed" => one.clone(),
                "truncated" => one[..(i / 2) % 64].to_vec(),
                _ => {
                    // The kept run of heartbeats, newest first.
                    theirs[theirs.len() - 1 - (i / 2) % theirs.len()]
                        .payload
                        .clone()
                }
            };
            if let Err(e) = sockets[as_].send_to(&bytes, dest(to)) {
                panic!(
                    "{kind} {i} as {} to {}: {e}; {}",
                    routers[as_],
                    dest(to),
                    lab.client.ip(["route"]).unwrap_or_default()
                );
            }
            sent[to] += 1;
            // Paced: about half a socket buffer per router at a time, so that the routers read
            // what is sent instead of their kernel dropping it (drops are counted all the same).
            if (i + 1) % 128 == 0 || i + 1 == n {
                for (r, ns) in lab.routers.iter().enumerate() {
                    let mut last = (0, Instant::now());
                    loop {
                        let text = scrape(ns, "127.0.0.1:9140");
                        let rejected = Counts::rejected(&text).values().sum::<u64>()
                            - before[r].total_rejected();
                        if rejected >= sent[r] {
                            break;
                        }
                        if rejected != last.0 {
                            last = (rejected, Instant::now());
                        } else if last.1.elapsed() > Duration::from_secs(1) {
                            // Stalled: the rest was dropped, or the router stopped reading.
                            let dropped = Counts::dropped(ns) - before[r].dropped;
                            if rejected + dropped >= sent[r] {
                                break;
                            }
                            assert!(
                                last.1.elapsed() < Duration::from_secs(10),
                                "{kind}: router {r} stopped reading: {rejected} + {dropped} \
                                 of {}",
                                sent[r]
                            );
                        }
                    }
                }
            }
        }
        for (r, ns) in lab.routers.iter().enumerate() {
            let after = Counts::read(ns);
            let (reasons, rejected, dropped) = after.since(&before[r]);
            rows.push(format!(
                "| {kind} | {} | {} | {rejected} | {reasons} | {dropped} | {} |",
                routers[r],
                sent[r],
                sent[r].saturating_sub(rejected + dropped)
            ));
            assert!(
                rejected <= sent[r] && rejected + dropped >= sent[r],
                "{kind} to {}: {} sent, {rejected} rejected ({reasons}), {dropped} dropped",
                routers[r],
                sent[r]
            );
            assert!(
                after.accepted > before[r].accepted,
                "the peer is still heard"
            );
        }
    }
    // Nothing changed: the primary stayed active, the backup standby, and both still hear each
    // other.
    assert!(
        primary.try_wait_for("STANDBY", Duration::ZERO).is_none(),
        "the primary stepped down: {:?}",
        primary.forget()
    );
    assert!(
        backup.try_wait_for("ACTIVE", Duration::ZERO).is_none(),
        "the backup took over: {:?}",
        backup.forget()
    );
    assert!(get(&lab.client, VIP).is_ok(), "served by the primary");
    println!(
        "forgery: {n} datagrams of each kind from a third host on the public LAN\n\
         forgery: | kind | to | sent | rejected | by reason | dropped by the kernel | accepted |\n\
         forgery: |---|---|---:|---:|---|---:|---:|"
    );
    for row in rows {
        println!("forgery: {row}");
    }
}

/// How long the storm test's storms last: `LVS_TEST_STORM_SECONDS`, or 10 (`cargo xtask
/// reliability --only storms`: 60).
fn storm_seconds() -> u64 {
    std::env::var("LVS_TEST_STORM_SECONDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10)
}

/// The schedulers the storm test's files go through.
const SCHEDULERS: [&str; 4] = ["rr", "wrr", "lc", "wlc"];

/// The seed pair's lvs.cf, checks every second, with the `n`th of [`SCHEDULERS`].
fn scheduled(n: usize) -> String {
    seed_pair_config(
        &[],
        &[
            ("timeout", "1"),
            ("reentry", "1"),
            ("scheduler", SCHEDULERS[n % SCHEDULERS.len()]),
        ],
    )
}

/// Percentiles of sorted `values`, in ms.
fn ms(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn a_sighup_storm_and_a_flapping_server_delay_no_heartbeat_and_the_last_file_wins() {
    use director_core::flaps::{FLAP_WINDOW, LOGGED_CHANGES};
    let seconds = storm_seconds();
    let mut lab = NatLab::new(2);
    let file = ConfigFile::new("storm", &scheduled(3));
    let (_key, overlay) = authenticated("storm");
    let settings = overlay.args();
    let mut primary = director(&lab.routers[0], &file.0, "primary", &settings);
    let mut backup = director(&lab.routers[1], &file.0, "backup", &settings);
    primary.wait_for("took over 2 addresses");
    for d in [&mut primary, &mut backup] {
        wait_both_up(d);
    }
    // The primary's heartbeats, as the backup receives them, read as they come (unread, the
    // pipe from tcpdump would fill and the capture drop frames: gaps that are not there).
    let mut capture = testkit::Capture::start(
        &lab.routers[1],
        "eth0",
        "udp dst port 539 and src host 192.168.1.10",
        Duration::from_secs(seconds + 120),
    )
    .expect("tcpdump");
    let capture_done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reading = {
        let done = capture_done.clone();
        std::thread::spawn(move || {
            let mut at = Vec::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                at.push(capture.next_frame().expect("a heartbeat").at);
            }
            at
        })
    };
    primary.forget();
    backup.forget();
    let pid = i32::try_from(primary.child.id()).expect("a pid");
    let storm = Duration::from_secs(seconds);
    // The control socket before the storm.
    let mut calm: Vec<Duration> = (0..5)
        .map(|_| {
            let asked = Instant::now();
            assert_eq!(common::cli(&lab.routers[0], &["status"]).0, Some(0));
            asked.elapsed()
        })
        .collect();
    calm.sort();
    // 10.0.0.200's server is the test's own: it answers the check while `serving`.
    use std::sync::atomic::{AtomicBool, Ordering};
    static SERVING: AtomicBool = AtomicBool::new(true);
    let serving = &SERVING;
    lab.stop_server(1);
    let listener = lab.servers[1]
        .run(|| std::net::TcpListener::bind("10.0.0.200:80"))
        .expect("netns")
        .expect("port 80");
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut conn in listener.incoming().flatten() {
            if SERVING.load(Ordering::Relaxed) {
                let _ = conn.set_read_timeout(Some(Duration::from_secs(1)));
                let _ = conn.read(&mut [0u8; 512]);
                let _ = conn.write_all(b"HTTP/1.0 200 OK\r\n\r\nrs2");
            }
        }
    });
    let (sighups, last, flaps, answers) = std::thread::scope(|scope| {
        // 100 SIGHUPs a second; every tenth comes with a new file (another scheduler), written
        // whole then renamed into place, as editors and configuration managers do.
        let hups = scope.spawn(|| {
            let t0 = Instant::now();
            let (mut sent, mut files) = (0u32, 0usize);
            while t0.elapsed() < storm {
                if sent.is_multiple_of(10) {
                    files += 1;
                    let tmp = file.0.with_extension("new");
                    std::fs::write(&tmp, scheduled(files)).expect("write");
                    std::fs::rename(&tmp, &file.0).expect("rename");
                }
                // SAFETY: kill(2) of the director this test started.
                assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
                sent += 1;
                // The rate: one every 10 ms from the start, whatever the writes cost.
                let next = t0 + Duration::from_millis(10 * u64::from(sent));
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
            (sent, SCHEDULERS[files % SCHEDULERS.len()])
        });
        // 10.0.0.200 answers, then closes connections unanswered, every 100 ms on average
        // (70, 100 or 130 ms: not in step with the checks every second).
        let flapper = scope.spawn(|| {
            let t0 = Instant::now();
            let (mut flips, mut next) = (0u32, t0);
            while t0.elapsed() < storm {
                serving.store(flips.is_multiple_of(2), Ordering::Relaxed);
                flips += 1;
                next += Duration::from_millis([100, 130, 70][flips as usize % 3]);
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
            serving.store(true, Ordering::Relaxed);
            flips
        });
        // The control socket keeps answering.
        let control = scope.spawn(|| {
            let t0 = Instant::now();
            let mut took = Vec::new();
            while t0.elapsed() < storm {
                let asked = Instant::now();
                let (code, out, err) = common::cli(&lab.routers[0], &["status"]);
                assert_eq!(code, Some(0), "{out}{err}");
                took.push(asked.elapsed());
            }
            took
        });
        let (sent, last) = hups.join().expect("the SIGHUPs");
        (
            sent,
            last,
            flapper.join().expect("the flapping"),
            control.join().expect("the control socket"),
        )
    });
    // The last file wins.
    // SAFETY: kill(2) of the director this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    let want = format!("TCP  {VIP} {last}");
    while !lab.ipvsadm(0, &["-Ln"]).contains(&want) {
        assert!(
            Instant::now() < deadline,
            "no {want:?} in {}",
            lab.ipvsadm(0, &["-Ln"])
        );
        std::thread::yield_now();
    }
    // The heartbeat was on time: every interval between two of the primary's heartbeats (the
    // reader stops at the next one).
    capture_done.store(true, std::sync::atomic::Ordering::Relaxed);
    let at = reading.join().expect("the capture");
    let mut gaps: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort();
    // Nothing changed role.
    assert!(
        backup.try_wait_for("ACTIVE", Duration::ZERO).is_none(),
        "the backup took over: {:?}",
        backup.forget()
    );
    let lines = primary.forget();
    assert!(!lines.iter().any(|l| l.contains("STANDBY")), "{lines:#?}");
    let reloads = lines.iter().filter(|l| l.contains("reloaded:")).count();
    let flap_lines = (lines.iter())
        .filter(|l| l.contains("10.0.0.200:80") && !l.contains("reloaded"))
        .count();
    // Per window of a minute: the changes logged one by one, the notice, the summary.
    let windows = seconds.div_ceil(FLAP_WINDOW.as_secs()) as usize + 1;
    assert!(
        flap_lines <= windows * (LOGGED_CHANGES as usize + 2),
        "{flap_lines} lines about the flapping server"
    );
    let mut control = answers.clone();
    control.sort();
    let max_gap = *gaps.last().expect("heartbeats");
    println!(
        "storm: {seconds} s of 100 SIGHUPs a second (a new file with every tenth) while \
         10.0.0.200 flapped every 100 ms, on the active router of an authenticated pair \
         (keepalive 100 ms, deadtime 1 s)\n\
         storm: | SIGHUPs sent | reloads applied | last file applied | heartbeat interval p50 / \
         p99 / max | `director status` answers, p50 / max (before the storm: p50) | flips of \
         the server | its log lines |\n\
         storm: |---:|---:|---|---|---|---:|---:|\n\
         storm: | {sighups} | {reloads} | yes (scheduler {last}) | {:.0} / {:.0} / {:.0} ms | \
         {}, {:.0} / {:.0} ms ({:.0} ms) | {flaps} | {flap_lines} |",
        ms(&gaps, 0.5),
        ms(&gaps, 0.99),
        ms(&gaps, 1.0),
        control.len(),
        ms(&control, 0.5),
        ms(&control, 1.0),
        ms(&calm, 0.5),
    );
    assert!(
        max_gap < Duration::from_millis(1000),
        "a heartbeat came {max_gap:?} after the one before"
    );
    assert!(reloads > 0 && !answers.is_empty());
}

/// `tc qdisc replace dev DEV root netem ARGS` for each of `devs` on both routers (`ARGS` empty:
/// the qdiscs removed), one `tc -batch` per router.
fn netem(lab: &NatLab, devs: &[&str], args: &str) {
    let batch: String = devs
        .iter()
        .map(|dev| {
            if args.is_empty() {
                format!("qdisc del dev {dev} root\n")
            } else {
                format!("qdisc replace dev {dev} root netem {args}\n")
            }
        })
        .collect();
    let file = ConfigFile::new("netem.batch", &batch);
    for router in &lab.routers {
        router
            .exec("tc", ["-batch", file.0.to_str().expect("UTF-8")])
            .expect("tc");
    }
}

/// How long each partition test schedule lasts: `LVS_TEST_NETEM_SECONDS`, or 4 (longer than
/// the deadtime, 3 s); with more than 4, the 1% and 5% loss schedules run too (`cargo xtask
/// reliability --only partitions`).
fn netem_seconds() -> u64 {
    std::env::var("LVS_TEST_NETEM_SECONDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(4)
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn after_a_partition_heals_one_router_is_active_and_lossy_paths_cause_no_failover() {
    let seconds = netem_seconds();
    let lab = NatLab::new(2);
    let file = config("3");
    let (mut primary, mut backup) = pair(&lab, &file);
    let mut rows = Vec::new();
    // Schedules that must not move the role: loss on both paths, one path cut, delay with
    // reordering and duplicates.
    let schedules = [
        ("1% loss on both paths", "loss 1%", &["eth0", "eth1"][..]),
        ("5% loss on both paths", "loss 5%", &["eth0", "eth1"][..]),
        ("10% loss on both paths", "loss 10%", &["eth0", "eth1"][..]),
        ("the private path cut", "loss 100%", &["eth1"][..]),
        (
            "200 ms delay, 25% reordered, 10% duplicated",
            "delay 200ms reorder 25% 50% duplicate 10%",
            &["eth0", "eth1"][..],
        ),
    ];
    let skip = if seconds > 4 { 0 } else { 2 };
    for (what, args, devs) in schedules.into_iter().skip(skip) {
        primary.forget();
        backup.forget();
        netem(&lab, devs, args);
        let changed = backup.try_wait_for("ACTIVE", Duration::from_secs(seconds));
        netem(&lab, devs, "");
        assert!(changed.is_none(), "{what}: the backup took over");
        assert!(
            primary.try_wait_for("STANDBY", Duration::ZERO).is_none(),
            "{what}: the primary stepped down"
        );
        rows.push(format!("| {what} | {seconds} s | 0 |"));
    }
    // A partition: both paths cut both ways. The backup takes over (split brain), then the
    // partition heals and one of them steps down within three heartbeats.
    primary.forget();
    backup.forget();
    netem(&lab, &["eth0", "eth1"], "loss 100%");
    backup.wait_for("ACTIVE (peer-dead)");
    // Healed from the first qdisc removed.
    let healed = Instant::now();
    netem(&lab, &["eth0", "eth1"], "");
    let (loser, stepped) = loop {
        if let Some(l) = primary.try_wait_for("STANDBY", Duration::from_millis(20)) {
            break ("primary", l.at);
        }
        if let Some(l) = backup.try_wait_for("STANDBY", Duration::from_millis(20)) {
            break ("backup", l.at);
        }
        assert!(
            healed.elapsed() < Duration::from_secs(10),
            "both still active 10 s after the partition healed"
        );
    };
    let took = stepped.saturating_duration_since(healed);
    println!(
        "partitions: Piranha heartbeat (keepalive 1 s, deadtime 3 s), the seed pair\n\
         partitions: | schedule | for | role changes |\n\
         partitions: |---|---:|---:|"
    );
    for row in rows {
        println!("partitions: {row}");
    }
    println!(
        "partitions: | both paths cut, then healed | until the backup took over | the {loser} \
         stepped down {took:?} after the heal |"
    );
    assert!(
        took <= Duration::from_secs(3),
        "the {loser} stepped down {took:?} after the heal (3 heartbeats: 3 s)"
    );
    let other = if loser == "primary" {
        &mut backup
    } else {
        &mut primary
    };
    assert!(
        other
            .try_wait_for("STANDBY", Duration::from_secs(2))
            .is_none()
    );
}
