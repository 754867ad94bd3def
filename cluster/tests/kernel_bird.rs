//! Kernel test with a real routing daemon: two directors' VIP routes ([`Routes`]) imported by
//! BIRD 2 on each (its kernel protocol, `learn`), announced over BGP to a router running BIRD
//! with `merge paths`, which installs one ECMP route over both directors; a director that
//! withdraws leaves the route to the other alone, and the router's route goes when both have
//! withdrawn.
//!
//! Run with `cargo xtask test` (root, in the rig; BIRD from Debian's `bird2`).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::{
    net::IpAddr,
    path::PathBuf,
    time::{Duration, Instant},
};

use cluster::Routes;
use testkit::{Logged, NetNs};

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

/// BIRD in `ns` with `config`, its socket and files in a directory of its own.
fn bird(ns: &NetNs, tag: &str, config: &str) -> (Logged, PathBuf) {
    let dir = std::env::temp_dir().join(format!("bird-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("bird.conf");
    std::fs::write(&conf, config).unwrap();
    let mut cmd = ns.command("bird");
    cmd.arg("-f")
        .arg("-c")
        .arg(&conf)
        .arg("-s")
        .arg(dir.join("bird.ctl"))
        .arg("-P")
        .arg(dir.join("bird.pid"));
    (Logged::spawn(cmd, tag).expect("bird starts"), dir)
}

/// BGP timers short enough for a test (BIRD waits seconds by default).
const QUICK: &str = "connect delay time 1; connect retry time 1; \
                     error wait time 1, 2; hold time 3; keepalive time 1;";

fn director_conf(me: &str, router: &str, asn: u32) -> String {
    format!(
        "log stderr all;\nrouter id {me};\nipv4 table vips;\nprotocol device {{ scan time 1; }}\n\
         protocol kernel learned {{ kernel table 250; learn; scan time 1; \
         ipv4 {{ table vips; import all; export none; }}; }}\n\
         protocol bgp up {{ local {me} as {asn}; neighbor {router} as 65000; {QUICK} \
         ipv4 {{ table vips; import none; export all; next hop self; }}; }}\n"
    )
}

/// `directors`: (the router's address toward it, its address, its AS).
fn router_conf(me: &str, directors: &[(&str, &str, u32)]) -> String {
    let mut c = format!(
        "log stderr all;\nrouter id {me};\nprotocol device {{ scan time 1; }}\n\
         protocol kernel {{ merge paths on; ipv4 {{ import none; export all; }}; }}\n"
    );
    for (i, (local, addr, asn)) in directors.iter().enumerate() {
        c += &format!(
            "protocol bgp d{i} {{ local {local} as 65000; neighbor {addr} as {asn}; {QUICK} \
             ipv4 {{ import all; export none; }}; }}\n"
        );
    }
    c
}

/// Waits (up to 60 s) until the router's route to the VIP satisfies `wanted`; returns the
/// route's text and when it was seen.
fn route_until(router: &NetNs, vip: &str, wanted: impl Fn(&str) -> bool) -> (String, Instant) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let shown = router.ip(["-4", "route", "show", vip]).unwrap();
        if wanted(&shown) {
            return (shown, Instant::now());
        }
        assert!(
            Instant::now() < deadline,
            "the router's route to {vip} stayed {shown:?}"
        );
        // Polling the router's table; BIRD runs in other processes.
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn bird_announces_the_vip_routes_and_the_router_spreads_them_by_ecmp() {
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
    let (_r, _rd) = bird(
        &router,
        "bird-router",
        &router_conf(
            "10.9.1.1",
            &[
                ("10.9.1.1", "10.9.1.2", 65001),
                ("10.9.2.1", "10.9.2.2", 65002),
            ],
        ),
    );
    let (_b1, _d1d) = bird(
        &d1,
        "bird-d1",
        &director_conf("10.9.1.2", "10.9.1.1", 65001),
    );
    let (_b2, _d2d) = bird(
        &d2,
        "bird-d2",
        &director_conf("10.9.2.2", "10.9.2.1", 65002),
    );

    let vip: IpAddr = "192.0.2.10".parse().unwrap();
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

    // d1 withdraws: the router keeps d2 alone.
    let withdrawn = Instant::now();
    in_ns(&d1, async |r: Routes| {
        r.withdraw(vip).await.expect("d1 withdraws")
    });
    let (one, at) = route_until(&router, "192.0.2.10", |s| {
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
    in_ns(&d2, async |r: Routes| {
        r.withdraw(vip).await.expect("d2 withdraws")
    });
    route_until(&router, "192.0.2.10", str::is_empty);
}
