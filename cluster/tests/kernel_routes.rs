//! Kernel tests of the VIP routes ([`Routes`]): in their own table with their own protocol,
//! listed back (as a restarted director finds them), every other route left alone, as iproute2
//! shows them; then with a real routing daemon: two directors' routes imported by BIRD 2 on each
//! (its kernel protocol, `learn`), announced over BGP to a router running BIRD with `merge paths`,
//! which installs one ECMP route over both directors; a director that withdraws, or goes silent
//! with BFD on, leaves the route to the other alone.
//!
//! Run with `cargo xtask test` (root, in the rig; BIRD from Debian's `bird2`).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

use cluster::Routes;
use testkit::NetNs;
use testkit::bird::{Bird, director_conf, route_until, router_conf};

fn in_ns<T: Send>(ns: &NetNs, f: impl AsyncFnOnce(Routes) -> T + Send) -> T {
    ns.run(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async { f(Routes::new().expect("rtnetlink")).await })
    })
    .expect("netns")
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn vip_routes_are_announced_listed_and_withdrawn_in_their_own_table() {
    let ns = NetNs::new().expect("netns");
    ns.ip(["link", "set", "lo", "up"]).expect("lo up");
    // The operator's own route in the same table, another protocol: never touched.
    ns.ip([
        "route",
        "add",
        "198.51.100.0/24",
        "dev",
        "lo",
        "table",
        "250",
    ])
    .expect("operator's route");
    let (v4, v6) = (ip("192.0.2.10"), ip("2001:db8::10"));
    let listed = in_ns(&ns, async |routes: Routes| {
        routes.announce(v4).await.expect("announce v4");
        routes.announce(v6).await.expect("announce v6");
        // Announcing again is no error (a restarted director re-announcing).
        routes.announce(v4).await.expect("announce v4 again");
        routes.announced().await.expect("list")
    });
    assert_eq!(listed, [v4, v6]);
    let shown = ns
        .ip(["-4", "route", "show", "table", "250"])
        .expect("ip route");
    assert!(
        shown.contains("192.0.2.10 dev lo proto 250 scope link"),
        "{shown}"
    );
    assert!(shown.contains("198.51.100.0/24"), "{shown}");
    let shown6 = ns
        .ip(["-6", "route", "show", "table", "250"])
        .expect("ip -6 route");
    assert!(shown6.contains("2001:db8::10 dev lo proto 250"), "{shown6}");
    // Nothing in the main table: the routes steer no packet.
    let main = ns.ip(["-4", "route", "show"]).expect("main table");
    assert!(!main.contains("192.0.2.10"), "{main}");

    let listed = in_ns(&ns, async |routes: Routes| {
        routes.withdraw(v4).await.expect("withdraw");
        // Withdrawing what is not there is no error.
        routes.withdraw(v4).await.expect("withdraw again");
        routes.announced().await.expect("list")
    });
    assert_eq!(listed, [v6]);
    let shown = ns
        .ip(["-4", "route", "show", "table", "250"])
        .expect("ip route");
    assert!(!shown.contains("192.0.2.10"), "{shown}");
    assert!(
        shown.contains("198.51.100.0/24"),
        "the operator's route stays: {shown}"
    );

    // Another table and protocol: the same VIP, independent.
    let (other, ours) = in_ns(&ns, async |routes: Routes| {
        let other = routes.clone().in_table(251, 251);
        other.announce(v4).await.expect("announce in 251");
        (
            other.announced().await.expect("list 251"),
            routes.announced().await.expect("list 250"),
        )
    });
    assert_eq!((other, ours), (vec![v4], vec![v6]));

    // Reconciled to what the director announces: the missing added, the others withdrawn.
    let (done, listed) = in_ns(&ns, async |routes: Routes| {
        let done = routes.reconcile(&[v4]).await.expect("reconcile");
        let again = routes.reconcile(&[v4]).await.expect("reconcile again");
        assert_eq!(again, (vec![], vec![]), "nothing left to do");
        (done, routes.announced().await.expect("list"))
    });
    assert_eq!(done, (vec![v4], vec![v6]));
    assert_eq!(listed, [v4]);
}

/// A router and two directors, each with BIRD, both directors announcing 192.0.2.10; returns
/// when the router has one ECMP route over both.
struct Lab {
    router: NetNs,
    d1: NetNs,
    d2: NetNs,
    /// The router's, d1's and d2's.
    birds: Vec<Bird>,
}

impl Lab {
    fn new(bfd: bool) -> Lab {
        let router = NetNs::new().expect("netns");
        let d1 = NetNs::new().expect("netns");
        let d2 = NetNs::new().expect("netns");
        router
            .veth("10.9.1.1/24", &d1, "10.9.1.2/24")
            .expect("veth 1");
        router
            .veth("10.9.2.1/24", &d2, "10.9.2.2/24")
            .expect("veth 2");
        for ns in [&router, &d1, &d2] {
            ns.ip(["link", "set", "lo", "up"]).expect("lo");
        }
        let sessions = [
            ("10.9.1.1", "10.9.1.2", 65001),
            ("10.9.2.1", "10.9.2.2", 65002),
        ];
        let r = Bird::start(
            &router,
            "bird-router",
            &router_conf("10.9.1.1", &sessions, bfd),
        )
        .expect("the router's BIRD");
        let b1 = Bird::start(
            &d1,
            "bird-d1",
            &director_conf("10.9.1.2", "10.9.1.1", 65001, bfd),
        )
        .expect("d1's BIRD");
        let b2 = Bird::start(
            &d2,
            "bird-d2",
            &director_conf("10.9.2.2", "10.9.2.1", 65002, bfd),
        )
        .expect("d2's BIRD");
        let vip = vip();
        in_ns(&d1, async |r: Routes| {
            r.announce(vip).await.expect("d1 announces")
        });
        in_ns(&d2, async |r: Routes| {
            r.announce(vip).await.expect("d2 announces")
        });
        // One route, both directors as next hops (BIRD's `merge paths`).
        let (both, _) = route_until(&router, "192.0.2.10", |s| {
            s.contains("10.9.1.2") && s.contains("10.9.2.2")
        });
        assert!(both.contains("nexthop"), "an ECMP route: {both}");
        assert!(both.contains("proto bird"), "{both}");
        Lab {
            router,
            d1,
            d2,
            birds: vec![r, b1, b2],
        }
    }
}

fn vip() -> IpAddr {
    "192.0.2.10".parse().unwrap()
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn bird_announces_the_vip_routes_and_the_router_spreads_them_by_ecmp() {
    let lab = Lab::new(false);
    // d1 withdraws: the router keeps d2 alone.
    let withdrawn = Instant::now();
    in_ns(&lab.d1, async |r: Routes| {
        r.withdraw(vip()).await.expect("d1 withdraws")
    });
    let (one, at) = route_until(&lab.router, "192.0.2.10", |s| {
        !s.contains("10.9.1.2") && s.contains("10.9.2.2")
    });
    eprintln!(
        "withdrawn from the router after {:?}: {one}",
        at - withdrawn
    );
    assert!(
        at - withdrawn < Duration::from_secs(5),
        "{:?}",
        at - withdrawn
    );

    // d2 too: no route left.
    in_ns(&lab.d2, async |r: Routes| {
        r.withdraw(vip()).await.expect("d2 withdraws")
    });
    route_until(&lab.router, "192.0.2.10", str::is_empty);
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn with_bfd_a_director_that_dies_leaves_the_ecmp_route_within_a_second() {
    let lab = Lab::new(true);
    // Both BFD sessions up (at their fast rate) before the crash.
    lab.birds[0].wait_bfd_up(&lab.router, 2);
    // As a host crash would: d1 goes silent (no FIN for the BGP session, no link down the
    // router could see), then its BIRD is killed. Only BFD can tell.
    // Silent from the moment its output is dropped.
    lab.d1
        .exec("iptables-legacy", ["-A", "OUTPUT", "-j", "DROP"])
        .expect("d1 goes silent");
    let died = Instant::now();
    lab.d1
        .exec("iptables-legacy", ["-A", "INPUT", "-j", "DROP"])
        .expect("d1 hears nothing");
    lab.birds[1]
        .process
        .signal(libc::SIGKILL)
        .expect("kill d1's BIRD");
    let (one, at) = route_until(&lab.router, "192.0.2.10", |s| {
        !s.contains("10.9.1.2") && s.contains("10.9.2.2")
    });
    eprintln!("withdrawn after: {} ms ({one})", (at - died).as_millis());
    assert!(at - died < Duration::from_secs(1), "{:?}", at - died);
}
