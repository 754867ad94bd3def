//! Kernel tests of failover timing, on the seed's NAT pair (`01-nat-single-router.cf` with the
//! backup router named, keepalive 1 s): a continuous client measures what a user sees when the
//! primary dies, when it comes back, and when it is stopped cleanly.
//!
//! `cargo xtask test` runs this binary under qemu with 2 CPUs (`kernel_timing*`): UML's single
//! CPU, shared by both directors, the servers and the client, would distort the timings.

mod common;

use std::time::{Duration, Instant};

use common::{
    ConfigFile, NatLab, Overlay, Prober, VIP, director, footprint_now, get, sample, scrape,
    seed_pair_config, wait_both_up,
};
use testkit::Logged;

const EVERY: Duration = Duration::from_millis(50);
const LIMIT: Duration = Duration::from_millis(300);

/// Both routers started with `file` and `settings` (the director's arguments); the primary
/// active, both tables ready.
fn pair(lab: &NatLab, file: &ConfigFile, settings: &[&str]) -> (Logged, Logged) {
    let mut primary = director(&lab.routers[0], &file.0, "primary", settings);
    let mut backup = director(&lab.routers[1], &file.0, "backup", settings);
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
    let (mut primary, mut backup) = pair(&lab, &file, &[]);
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
    let (mut primary, mut backup) = pair(&lab, &file, &[]);
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
    let (mut primary, mut backup) = pair(&lab, &file, &[]);
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
    testkit::scale("LVS_TEST_FORGERIES", 1_000)
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

    let mut rng = testkit::random("forgery");
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
                    encode_auth(&advert, &rng.u64(..).to_be_bytes().repeat(4)).to_vec()
                }
                "forged" => {
                    // A genuine heartbeat with one bit flipped.
                    let mut b = one.clone();
                    let bit = rng.usize(..64 * 8);
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
    testkit::scale("LVS_TEST_STORM_SECONDS", 10)
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

/// The `tc -batch` lines of `qdisc replace dev DEV root netem ARGS` for each of `devs` (`ARGS`
/// empty: the qdiscs removed).
fn netem_batch(devs: &[&str], args: &str) -> String {
    devs.iter()
        .map(|dev| {
            if args.is_empty() {
                format!("qdisc del dev {dev} root\n")
            } else {
                format!("qdisc replace dev {dev} root netem {args}\n")
            }
        })
        .collect()
}

/// [`netem_batch`] on both routers, one `tc -batch` per router.
fn netem(lab: &NatLab, devs: &[&str], args: &str) {
    let file = ConfigFile::new("netem.batch", &netem_batch(devs, args));
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
    testkit::scale("LVS_TEST_NETEM_SECONDS", 4)
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn after_a_partition_heals_one_router_is_active_and_lossy_paths_cause_no_failover() {
    let seconds = netem_seconds();
    let lab = NatLab::new(2);
    let file = config("3");
    let (mut primary, mut backup) = pair(&lab, &file, &[]);
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

/// `tc -force -batch -` in each router's namespace, fed line by line: a change of the qdiscs
/// reaches both routers within a few milliseconds of [`Netem::set`] (a `tc` started per change
/// takes tens of them under the rig's emulated CPUs).
struct Netem(Vec<std::process::Child>);

impl Netem {
    fn start(lab: &NatLab) -> Netem {
        Netem(
            lab.routers
                .iter()
                .map(|r| {
                    r.command("tc")
                        .args(["-force", "-batch", "-"])
                        .stdin(std::process::Stdio::piped())
                        .spawn()
                        .expect("tc -batch")
                })
                .collect(),
        )
    }

    /// As [`netem`]: `ARGS` on each of `devs` on both routers, or (`ARGS` empty) the qdiscs
    /// removed.
    fn set(&mut self, devs: &[&str], args: &str) {
        use std::io::Write;
        let batch = netem_batch(devs, args);
        for tc in &mut self.0 {
            let stdin = tc.stdin.as_mut().expect("tc's stdin");
            stdin.write_all(batch.as_bytes()).expect("tc");
            stdin.flush().expect("tc");
        }
    }
}

impl Drop for Netem {
    fn drop(&mut self) {
        for tc in &mut self.0 {
            drop(tc.stdin.take());
            let _ = tc.wait();
        }
    }
}

/// How long each mode's random partition schedule runs: `LVS_TEST_RANDOM_SECONDS`, or 20 (`cargo
/// xtask reliability --only partitions`: 600).
fn random_seconds() -> u64 {
    testkit::scale("LVS_TEST_RANDOM_SECONDS", 20)
}

/// One step of a random partition schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Episode {
    /// Loss of this many percent on both paths.
    Loss(u8),
    /// One path (its device) cut both ways.
    Cut(&'static str),
    /// 200 ms delay, 25% reordered, 10% duplicated on both paths.
    Jitter,
    /// Both paths cut both ways, then healed.
    Partition,
}

impl std::fmt::Display for Episode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Episode::Loss(p) => write!(f, "{p}% loss on both paths"),
            Episode::Cut("eth0") => f.write_str("the public path cut"),
            Episode::Cut(_) => f.write_str("the private path cut"),
            Episode::Jitter => f.write_str("200 ms delay, 25% reordered, 10% duplicated"),
            Episode::Partition => f.write_str("both paths cut, then healed"),
        }
    }
}

/// The role changes among `lines` (the director's log), each with its cause: a role change
/// logged without one fails the test.
fn role_changes(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.contains("director: ACTIVE") || l.contains("director: STANDBY"))
        .map(|l| {
            let cause = l
                .split_once(" (")
                .and_then(|(_, c)| c.split_once(')'))
                .map(|(c, _)| c)
                .unwrap_or_default();
            assert!(!cause.is_empty(), "a role change without its cause: {l}");
            l.clone()
        })
        .collect()
}

/// The takeovers among role changes: a standby becoming active (not the active router
/// re-announcing itself when it hears another active one, `ACTIVE (split-brain)`).
fn takeovers_in(changes: &[String]) -> u32 {
    changes
        .iter()
        .filter(|c| c.contains("director: ACTIVE (") && !c.contains("(split-brain)"))
        .count() as u32
}

/// Which of the pair holds the VIP, once exactly one does (within `limit`); panics otherwise.
fn the_one_active(lab: &NatLab, limit: Duration) -> usize {
    let deadline = Instant::now() + limit;
    loop {
        let holders: Vec<usize> = (0..2)
            .filter(|&i| lab.addresses(i, "eth0").contains("192.168.1.250"))
            .collect();
        if let [one] = holders[..] {
            return one;
        }
        assert!(
            Instant::now() < deadline,
            "{} routers hold the VIP {limit:?} after the schedule",
            holders.len()
        );
        std::thread::yield_now();
    }
}

/// Random schedules of loss, a path cut, delay with reordering and duplicates, and partitions
/// on both heartbeat paths of the seed pair for [`random_seconds`]: no role change but in a
/// partition; after a partition heals, one router is active within three heartbeats; every
/// role change is logged with its cause. Prints the report's rows (`partitions: `).
fn random_schedules(mode: &str, settings: &[&str], keepalive: Duration, deadtime: Duration) {
    let total = Duration::from_secs(random_seconds());
    let lab = NatLab::new(2);
    // The file's timers are Piranha mode's; the authenticated mode's come from its settings.
    // A file of its own: the report runs both modes at once.
    let file = ConfigFile::new(
        &format!("random-{}", mode.replace(' ', "-")),
        &seed_pair_config(
            &[("keepalive", "1"), ("deadtime", "3")],
            &[("timeout", "1"), ("reentry", "2")],
        ),
    );
    let mut pair: [Logged; 2] = pair(&lab, &file, settings).into();
    let pids = [pair[0].child.id(), pair[1].child.id()];
    let before = pids.map(footprint_now);
    let mut rng = testkit::random("partitions");
    let mut tc = Netem::start(&lab);
    // Per kind: episodes, time under it, role changes; per partition heal: how long until one
    // router was active again.
    let mut exposure: std::collections::BTreeMap<Episode, (u32, Duration, u32)> =
        Default::default();
    let mut heals: Vec<Duration> = Vec::new();
    let mut takeovers = 0;
    let mut logged = 0;
    let mut previous = None;
    let started = Instant::now();
    while started.elapsed() < total {
        // The first is a partition that outlives the deadtime, so that every run heals one.
        let episode = match if previous.is_none() { 9 } else { rng.u8(0..10) } {
            0 | 1 => Episode::Loss(1),
            2 | 3 => Episode::Loss(5),
            4 | 5 => Episode::Loss(10),
            6 => Episode::Cut(if rng.bool() { "eth0" } else { "eth1" }),
            7 => Episode::Jitter,
            _ => Episode::Partition,
        };
        let (devs, args): (&[&str], String) = match episode {
            Episode::Loss(p) => (&["eth0", "eth1"], format!("loss {p}%")),
            Episode::Cut("eth0") => (&["eth0"], "loss 100%".into()),
            Episode::Cut(_) => (&["eth1"], "loss 100%".into()),
            Episode::Jitter => (
                &["eth0", "eth1"],
                "delay 200ms reorder 25% 50% duplicate 10%".into(),
            ),
            Episode::Partition => (&["eth0", "eth1"], "loss 100%".into()),
        };
        // Partitions from a third of the deadtime (no takeover) to three deadtimes; the others
        // from one to four deadtimes.
        let length = if previous.is_none() {
            deadtime.mul_f64(1.5 + 1.5 * rng.f64())
        } else if episode == Episode::Partition {
            deadtime.mul_f64(0.3 + 2.7 * rng.f64())
        } else {
            deadtime.mul_f64(1.0 + 3.0 * rng.f64())
        };
        // What came in since the last episode ended (a late role change counts against it).
        let late: Vec<String> = pair
            .iter_mut()
            .flat_map(|d| role_changes(&d.forget()))
            .collect();
        if let Some(prev) = previous
            && !late.is_empty()
        {
            logged += late.len();
            if prev != Episode::Partition {
                exposure.entry(prev).or_default().2 += takeovers_in(&late);
                for c in &late {
                    println!("partitions: a role change after {prev}: {c}");
                }
            }
        }
        previous = Some(episode);
        tc.set(devs, &args);
        // The schedule itself, not a wait for something to happen.
        std::thread::sleep(length);
        let healed = Instant::now();
        tc.set(devs, "");
        let entry = exposure.entry(episode).or_default();
        entry.0 += 1;
        entry.1 += length;
        if episode == Episode::Partition {
            let took_over = pair.iter_mut().any(|d| {
                d.try_wait_for("director: ACTIVE (", Duration::ZERO)
                    .is_some()
            });
            if took_over {
                takeovers += 1;
                // Both active: one steps down.
                let stepped = loop {
                    if let Some(line) = pair.iter_mut().find_map(|d| {
                        d.try_wait_for("director: STANDBY (", Duration::from_millis(5))
                    }) {
                        break line.at;
                    }
                    assert!(
                        healed.elapsed() < Duration::from_secs(10),
                        "{mode}: both routers still active 10 s after a partition healed"
                    );
                };
                heals.push(stepped.saturating_duration_since(healed));
            } else {
                heals.push(Duration::ZERO);
            }
        }
        let changes: Vec<String> = pair
            .iter_mut()
            .flat_map(|d| role_changes(&d.forget()))
            .collect();
        logged += changes.len();
        if episode != Episode::Partition {
            exposure.entry(episode).or_default().2 += takeovers_in(&changes);
            for c in &changes {
                println!("partitions: a role change under {episode}: {c}");
            }
        }
        the_one_active(&lab, deadtime);
    }
    let ran = started.elapsed();
    let after = pids.map(footprint_now);
    heals.sort();
    let worst = heals.last().copied().unwrap_or_default();
    let within = heals.iter().filter(|&&h| h <= keepalive * 3).count();
    println!(
        "partitions: **{mode}** (keepalive {keepalive:?}, deadtime {deadtime:?}): random \
         schedules for {:.0} s\n\
         partitions: \n\
         partitions: | schedule | episodes | for | false failovers (a standby taking over) | per hour |\n\
         partitions: |---|---:|---:|---:|---:|",
        ran.as_secs_f64()
    );
    for (episode, (n, time, changes)) in &exposure {
        if *episode == Episode::Partition {
            continue;
        }
        println!(
            "partitions: | {episode} | {n} | {:.0} s | {changes} | {:.1} |",
            time.as_secs_f64(),
            f64::from(*changes) * 3600.0 / time.as_secs_f64()
        );
    }
    println!(
        "partitions: | both paths cut, then healed | {} | {:.0} s | {takeovers} takeovers (the \
         partition outlived the deadtime) | |\n\
         partitions: \n\
         partitions: After each heal one router was active within three heartbeats ({:?}) in \
         {within} of {} runs (heal to step-down: p50 {:.0} ms, worst {:.0} ms); {logged} role \
         changes, each logged with its cause. Descriptors / threads / RSS (KiB) of the primary and \
         the backup: {:?} at the start, {:?} at the end.",
        heals.len(),
        exposure
            .get(&Episode::Partition)
            .map(|e| e.1.as_secs_f64())
            .unwrap_or_default(),
        keepalive * 3,
        heals.len(),
        heals
            .get(heals.len() / 2)
            .copied()
            .unwrap_or_default()
            .as_secs_f64()
            * 1000.0,
        worst.as_secs_f64() * 1000.0,
        before,
        after,
    );
    assert_eq!(within, heals.len(), "{mode}: a heal took {worst:?}");
    // Loss is reported as a rate (a deadtime of lost heartbeats can happen); a path cut or
    // delay with reordering must never move the role.
    for (episode, (_, _, changes)) in &exposure {
        assert!(
            matches!(episode, Episode::Partition | Episode::Loss(_)) || *changes == 0,
            "{mode}: {changes} false failovers under {episode}"
        );
    }
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn random_partitions_in_piranha_mode_heal_to_one_active_router_within_three_heartbeats() {
    random_schedules(
        "Piranha heartbeat",
        &[],
        Duration::from_secs(1),
        Duration::from_secs(3),
    );
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn random_partitions_in_authenticated_mode_heal_to_one_active_router_within_three_heartbeats() {
    let (_key, overlay) = authenticated("random");
    random_schedules(
        "authenticated heartbeat",
        &overlay.args(),
        Duration::from_millis(100),
        Duration::from_secs(1),
    );
}

/// How many times the takeover crash test kills a router during its takeover:
/// `LVS_TEST_TAKEOVER_KILLS`, or 2 (`cargo xtask reliability --only crashes`: 20).
fn takeover_kills() -> u32 {
    testkit::scale("LVS_TEST_TAKEOVER_KILLS", 2)
}

/// `ipvsadm -Sn` on router `i`, as a set of lines.
fn table_of(lab: &NatLab, i: usize) -> std::collections::BTreeSet<String> {
    lab.ipvsadm(i, &["-Sn"])
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn a_router_killed_during_its_takeover_comes_back_active_with_its_table() {
    let kills = takeover_kills();
    let lab = NatLab::new(2);
    let file = config("3");
    let (primary, backup) = pair(&lab, &file, &[]);
    let mut routers = [primary, backup];
    // A service of another owner on both routers: never touched.
    for i in 0..2 {
        lab.ipvsadm(i, &["-A", "-t", "192.168.1.99:9999", "-s", "rr"]);
    }
    let want = table_of(&lab, 0);
    assert!(want.contains("-A -t 192.168.1.99:9999 -s rr"), "{want:?}");
    assert_eq!(want, table_of(&lab, 1), "both routers have the table");
    let mut rng = testkit::random("crashes");
    let mut active = 0;
    let mut served_after = Vec::new();
    for k in 0..kills {
        let standby = 1 - active;
        // The active router dies (its links with it); the standby takes over and is killed
        // somewhere in its takeover.
        routers[standby].forget();
        routers[active].child.kill().expect("SIGKILL");
        routers[active].child.wait().expect("reaped");
        lab.unplug(active);
        let taking = routers[standby].wait_for("ACTIVE (peer-dead)").at;
        let at = Duration::from_millis(rng.u64(..400));
        std::thread::sleep((taking + at).saturating_duration_since(Instant::now()));
        routers[standby].child.kill().expect("SIGKILL");
        routers[standby].child.wait().expect("reaped");
        // Restarted, it takes over again (the peer is still dead), with the table it had.
        let restarted = Instant::now();
        routers[standby] = director(&lab.routers[standby], &file.0, "restarted", &[]);
        routers[standby].wait_for("ACTIVE (peer-dead)");
        routers[standby].wait_for("took over 2 addresses");
        let deadline = Instant::now() + Duration::from_secs(10);
        while get(&lab.client, VIP).is_err() {
            assert!(Instant::now() < deadline, "kill {k}: the VIP is not served");
        }
        let took = restarted.elapsed();
        assert_eq!(table_of(&lab, standby), want, "kill {k}: the table");
        served_after.push(took);
        println!(
            "crashes: takeover kill {k} at {at:?} into the takeover: served {took:?} after the \
             restart"
        );
        // The dead router returns and stays standby (no failback in Piranha mode).
        lab.plug(active);
        routers[active] = director(&lab.routers[active], &file.0, "returned", &[]);
        wait_both_up(&mut routers[active]);
        assert_eq!(the_one_active(&lab, Duration::from_secs(3)), standby);
        assert_eq!(
            table_of(&lab, active),
            want,
            "kill {k}: the returned router's table"
        );
        active = standby;
    }
    served_after.sort();
    let worst = served_after.last().copied().unwrap_or_default();
    println!(
        "crashes: \n\
         crashes: Killed during a takeover (the seed pair, keepalive 1 s, deadtime 3 s): the active \
         router killed with its links down, the standby killed 0-400 ms after it declared the \
         peer dead, then restarted: {kills} kills, each time active again with the same table \
         (the other owner's service untouched); the VIP served {:.0} ms (p50), {:.0} ms (worst) \
         after the restart (one deadtime to declare the still dead peer dead, then the takeover).",
        served_after
            .get(served_after.len() / 2)
            .copied()
            .unwrap_or_default()
            .as_secs_f64()
            * 1000.0,
        worst.as_secs_f64() * 1000.0,
    );
}
