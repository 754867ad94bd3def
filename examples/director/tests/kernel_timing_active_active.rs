//! Kernel tests of active-active mode, end to end: three directors running `director run` with
//! `[cluster] mode = "active-active"`, each with BIRD (BGP and BFD to the router), behind a
//! router whose BIRD spreads the VIP over them by ECMP; four direct-routing real servers
//! ([`common::ecmp`]). A director that dies as a crashed host does, or whose link goes down,
//! leaves the router's route within a second and breaks no established connection (flows that
//! ECMP moves between directors keep their real server: Maglev hashing, `sloppy_tcp` and the
//! sync daemon); a director whose real servers all fail withdraws and carries no new flow; a
//! returning director gets flows again, breaking none. The same with IP-in-IP tunnels to the
//! real servers.
//!
//! Run with `cargo xtask test` (root, in the rig; BIRD from Debian's `bird2`).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::Prober;
use common::ecmp::{DIRECTORS, EcmpLab, Flows, WEB};

const FLOWS: usize = 24;
const EVERY: Duration = Duration::from_millis(100);

fn lab() -> EcmpLab {
    EcmpLab::new(Path::new(env!("CARGO_BIN_EXE_director")), "direct")
}

/// New connections to the web service, one every 20 ms, each given 3 s.
fn prober(lab: &EcmpLab) -> Prober {
    Prober::start(
        &lab.client,
        WEB,
        Duration::from_millis(20),
        Duration::from_secs(3),
    )
}

/// Waits until `flows` made `n` more exchanges (every flow talked after an event).
fn talked(flows: &Flows, n: u64) {
    let start = flows.exchanges();
    let deadline = Instant::now() + Duration::from_secs(30);
    while flows.exchanges() < start + n {
        assert!(Instant::now() < deadline, "the flows stopped talking");
        // Polling a counter the flows' thread updates.
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the router's route has lost director `gone` (and kept `kept`); asserts that it
/// took less than a second from `since`, and says how long.
fn withdrawn_within_a_second(lab: &EcmpLab, gone: usize, kept: usize, since: Instant) {
    let (after, at) =
        lab.route_until(|r| !r.contains(DIRECTORS[gone]) && r.contains(DIRECTORS[kept]));
    let withdrawn = at - since;
    eprintln!("withdrawn after: {} ms ({after})", withdrawn.as_millis());
    assert!(withdrawn < Duration::from_secs(1), "{withdrawn:?}");
}

/// Stops the flows; none may have broken.
fn none_broken(flows: Flows) {
    let broken = flows.finish();
    assert!(
        broken.is_empty(),
        "established connections broken: {broken:?}"
    );
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn a_director_that_dies_breaks_no_connection_and_leaves_the_route_within_a_second() {
    let mut lab = lab();
    let flows = Flows::open(&lab.client, FLOWS, EVERY);
    talked(&flows, 2 * FLOWS as u64);
    let carried: Vec<u64> = (0..3).map(|i| lab.carried_total(i)).collect();
    eprintln!("connections each director carried: {carried:?}");
    assert!(
        carried[0] > 0,
        "d1 carries flows before it dies: {carried:?}"
    );
    // The sync daemons: every director knows every flow, not only those it scheduled.
    for (i, scheduled) in carried.iter().enumerate() {
        let deadline = Instant::now() + Duration::from_secs(10);
        while lab.known_flows(i) < FLOWS {
            assert!(
                Instant::now() < deadline,
                "d{} knows {} of {FLOWS} flows (it scheduled {scheduled})",
                i + 1,
                lab.known_flows(i),
            );
            // Polling the kernel's connection table.
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let probes = prober(&lab);
    let died = lab.crash(0);
    withdrawn_within_a_second(&lab, 0, 1, died);
    // Every flow talked again after the route moved, d1's included.
    talked(&flows, 3 * FLOWS as u64);

    // d1 comes back: it announces after its hold-down, and the flows that ECMP moves back to
    // it go on.
    lab.start(0);
    let (back, _) = lab.route_until(|r| DIRECTORS.iter().all(|d| r.contains(d)));
    eprintln!("d1 back: {back}");
    let before = lab.carried_total(0);
    talked(&flows, 3 * FLOWS as u64);
    let timeline = probes.finish();
    none_broken(flows);
    let failed = timeline.failures(died, Instant::now());
    eprintln!("new connections failed: {failed}");
    assert_eq!(
        failed, 0,
        "a new connection waits out the route's move (SYN retransmission)"
    );
    assert!(
        lab.carried_total(0) > before,
        "the returning director carries new flows"
    );
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn a_director_whose_link_goes_down_leaves_the_route_within_a_second() {
    let lab = lab();
    let flows = Flows::open(&lab.client, FLOWS, EVERY);
    talked(&flows, 2 * FLOWS as u64);
    let down = lab.unplug(1);
    withdrawn_within_a_second(&lab, 1, 0, down);
    talked(&flows, 3 * FLOWS as u64);
    none_broken(flows);
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn a_director_whose_real_servers_all_fail_withdraws_and_carries_no_new_flow() {
    let mut lab = lab();
    let flows = Flows::open(&lab.client, FLOWS, EVERY);
    // d3's checks cannot reach the real servers (what it forwards, to the VIP, still goes).
    let d3 = &mut lab.directors[2];
    d3.ns
        .exec(
            "iptables-legacy",
            [
                "-A",
                "OUTPUT",
                "-d",
                "10.10.0.0/24",
                "-p",
                "tcp",
                "-m",
                "multiport",
                "--dports",
                "7,80",
                "-j",
                "REJECT",
                "--reject-with",
                "tcp-reset",
            ],
        )
        .expect("d3's checks fail");
    let run = d3.run.as_mut().expect("running");
    run.wait_for("withdrawing VIP 192.0.2.10: no virtual service has 1 healthy real server(s)");
    let (after, _) = lab.route_until(|r| !r.contains(DIRECTORS[2]) && r.contains(DIRECTORS[0]));
    eprintln!("d3 withdrawn: {after}");
    let before = lab.carried_total(2);
    let probes = prober(&lab);
    let t = Instant::now();
    while Instant::now() < t + Duration::from_secs(2) {
        // Keeps the prober's new connections going for a while.
        std::thread::sleep(Duration::from_millis(100));
    }
    let timeline = probes.finish();
    assert!(
        timeline.successes(t, Instant::now()) >= 30,
        "{:?}",
        timeline.samples.len()
    );
    assert_eq!(timeline.failures(t, Instant::now()), 0);
    assert_eq!(lab.carried_total(2), before, "no new flow reaches d3");

    // Its checks pass again: announced after the hold-down, and it carries new flows.
    lab.directors[2]
        .ns
        .exec("iptables-legacy", ["-F"])
        .expect("flush");
    let (back, _) = lab.route_until(|r| DIRECTORS.iter().all(|d| r.contains(d)));
    eprintln!("d3 back: {back}");
    let probes = prober(&lab);
    let t = Instant::now();
    while lab.carried_total(2) == before {
        assert!(
            Instant::now() < t + Duration::from_secs(10),
            "d3 gets no new flow"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let timeline = probes.finish();
    assert_eq!(timeline.failures(t, Instant::now()), 0);
    talked(&flows, 2 * FLOWS as u64);
    none_broken(flows);

    // Someone flushes d2's VIP routes: the router loses d2, and the next repair puts the route
    // back (reconcile_interval 1 s in the lab).
    lab.directors[1]
        .ns
        .ip(["route", "flush", "table", "250"])
        .expect("flush");
    lab.route_until(|r| !r.contains(DIRECTORS[1]));
    let (back, _) = lab.route_until(|r| DIRECTORS.iter().all(|d| r.contains(d)));
    eprintln!("d2's route repaired: {back}");
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn with_tunnels_a_director_that_dies_breaks_no_connection() {
    let mut lab = EcmpLab::new(Path::new(env!("CARGO_BIN_EXE_director")), "tunnel");
    let forwarding = (lab.directors[1].ns.exec("ipvsadm", ["-Ln"])).unwrap_or_default();
    assert!(forwarding.contains("Tunnel"), "{forwarding}");
    let flows = Flows::open(&lab.client, FLOWS, EVERY);
    talked(&flows, 2 * FLOWS as u64);
    let carried = lab.carried_total(2);
    assert!(carried > 0, "d3 carries flows before it dies");
    let died = lab.crash(2);
    withdrawn_within_a_second(&lab, 2, 0, died);
    talked(&flows, 3 * FLOWS as u64);
    none_broken(flows);
}
