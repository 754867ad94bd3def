//! Kernel tests of failover timing, on the seed's NAT pair (`01-nat-single-router.cf` with the
//! backup router named, keepalive 1 s): a continuous client measures what a user sees when the
//! primary dies, when it comes back, and when it is stopped cleanly.
//!
//! `cargo xtask test` runs this binary under qemu with 2 CPUs (`kernel_timing*`): UML's single
//! CPU, shared by both directors, the servers and the client, would distort the timings.

mod common;

use std::time::{Duration, Instant};

use common::{
    ConfigFile, NatLab, Overlay, Prober, VIP, director, get, seed_pair_config, wait_both_up,
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
