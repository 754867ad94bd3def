//! Kernel tests: the VIP routes go to their own table with their own protocol, are listed back
//! (as a restarted director finds them), and leave every other route alone; iproute2 shows them
//! as a routing daemon's kernel protocol reads them.
//!
//! Run with `cargo xtask test` (root, in the rig).

use std::net::IpAddr;

use cluster::Routes;
use testkit::NetNs;

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
}
