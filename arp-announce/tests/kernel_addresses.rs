//! Kernel tests: the taken-over addresses are added with their labels, found among secondary
//! addresses, and removed without touching anything else; a takeover releases only what it
//! added and adopts what an earlier run left.
//!
//! Run with `cargo xtask test` (root, in the rig).
#![cfg(feature = "takeover")]

use std::net::Ipv4Addr;

use std::time::Duration;

use arp_announce::Error;
use arp_announce::takeover::{Added, Address, Addresses, Announce, Takeover};
use testkit::NetNs;

fn plan(address: [u8; 4], prefix: u8, device: &str, label: Option<&str>) -> Address {
    let a = Address::new(Ipv4Addr::from(address).into(), prefix, device);
    match label {
        Some(label) => a.with_label(label),
        None => a,
    }
}

fn in_ns<T: Send>(ns: &NetNs, f: impl AsyncFnOnce(Addresses) -> T + Send) -> T {
    ns.run(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let a = Addresses::new().expect("rtnetlink");
            f(a).await
        })
    })
    .expect("netns")
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn vip_with_label_added_found_and_removed_alone() {
    let ns = NetNs::new().expect("netns");
    ns.ip(["link", "add", "dummy0", "type", "dummy"])
        .expect("dummy");
    ns.ip(["link", "set", "dummy0", "up"]).expect("up");
    ns.ip(["address", "add", "10.50.0.1/24", "dev", "dummy0"])
        .expect("primary address");
    let vip = plan([10, 50, 0, 100], 24, "dummy0", Some("dummy0:1"));

    let (added, again, local, marked) = in_ns(&ns, async |a: Addresses| {
        let added = a.add(&vip).await.expect("add");
        let again = a.add(&vip).await.expect("add again");
        let local = a.local_ipv4().await.expect("list");
        (added, again, local, a.marked().await.expect("marked"))
    });
    assert_eq!(added, Added::Added);
    assert_eq!(again, Added::Adopted, "the second add finds it there, ours");
    // The mark is how a restarted director tells its addresses from the operator's.
    let marked: Vec<_> = marked
        .iter()
        .map(|a| (a.device.as_str(), a.address, a.prefix))
        .collect();
    assert_eq!(
        marked,
        [("dummy0", Ipv4Addr::new(10, 50, 0, 100).into(), 24)]
    );
    let shown = ns
        .ip(["-4", "-o", "address", "show", "dev", "dummy0"])
        .expect("ip addr");
    assert!(
        shown.contains("inet 10.50.0.100/24") && shown.contains("dummy0:1"),
        "{shown}"
    );
    assert!(shown.contains("secondary"), "a secondary address: {shown}");
    // Secondary addresses count for the role (pulse saw only primary ones).
    assert!(
        local.contains(&Ipv4Addr::new(10, 50, 0, 1))
            && local.contains(&Ipv4Addr::new(10, 50, 0, 100))
    );

    let (removed, again) = in_ns(&ns, async |a: Addresses| {
        (
            a.remove(&vip).await.expect("remove"),
            a.remove(&vip).await.expect("remove again"),
        )
    });
    assert!(removed && !again);
    let shown = ns
        .ip(["-4", "-o", "address", "show", "dev", "dummy0"])
        .expect("ip addr");
    assert!(!shown.contains("10.50.0.100"), "{shown}");
    assert!(
        shown.contains("inet 10.50.0.1/24"),
        "the other address stays: {shown}"
    );
    let link = ns
        .ip(["-o", "link", "show", "dev", "dummy0"])
        .expect("ip link");
    assert!(link.contains("UP"), "the interface stays up: {link}");
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn an_address_that_was_there_is_not_ours_and_a_missing_interface_is_named() {
    let ns = NetNs::new().expect("netns");
    ns.ip(["link", "add", "dummy0", "type", "dummy"])
        .expect("dummy");
    ns.ip(["address", "add", "10.51.0.7/32", "dev", "dummy0"])
        .expect("address");
    let there = plan([10, 51, 0, 7], 32, "dummy0", None);
    let missing = plan([10, 51, 0, 8], 32, "nosuch0", Some("nosuch0:1"));
    let (added, err) = in_ns(&ns, async |a: Addresses| {
        (
            a.add(&there).await.expect("add"),
            a.add(&missing).await.unwrap_err(),
        )
    });
    assert_eq!(
        added,
        Added::Foreign,
        "an address already there without our mark is the operator's"
    );
    assert!(matches!(err, Error::NoInterface { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "interface nosuch0 (for 10.51.0.8) does not exist"
    );
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn a_takeover_releases_only_what_it_added_and_a_restart_adopts_what_it_left() {
    let ns = NetNs::new().expect("netns");
    // A veth pair inside the namespace: the announcements go from one end to the other.
    ns.ip([
        "link", "add", "veth0", "type", "veth", "peer", "name", "peer0",
    ])
    .expect("veth");
    ns.ip(["link", "set", "peer0", "up"]).expect("up");
    ns.ip(["link", "set", "veth0", "up"]).expect("up");
    ns.ip(["address", "add", "10.52.0.1/24", "dev", "veth0"])
        .expect("operator's address");
    let vip = plan([10, 52, 0, 100], 24, "veth0", Some("veth0:1"));
    let operators = plan([10, 52, 0, 1], 24, "veth0", None);
    let wanted = [vip.clone(), operators.clone()];
    let (taken, held, released) = in_ns(&ns, async |a: Addresses| {
        let mut t = Takeover::with_addresses(a);
        let taken: Vec<String> = (t.take(&wanted, Announce::All, Duration::ZERO).await)
            .iter()
            .map(ToString::to_string)
            .collect();
        let held = t.held().to_vec();
        let released: Vec<String> = (t.release_all().await)
            .iter()
            .map(ToString::to_string)
            .collect();
        (taken, held, released)
    });
    assert_eq!(
        taken,
        ["10.52.0.1/24 on veth0 was already there (not ours: it stays when we stand down)"]
    );
    assert_eq!(
        held,
        std::slice::from_ref(&vip),
        "only what it added is held"
    );
    assert!(released.is_empty(), "{released:?}");
    let shown = ns
        .ip(["-4", "-o", "address", "show", "dev", "veth0"])
        .expect("ip addr");
    assert!(!shown.contains("10.52.0.100"), "released: {shown}");
    assert!(
        shown.contains("10.52.0.1/24"),
        "the operator's stays: {shown}"
    );

    // A run that was killed left two addresses marked as ours; the next run adopts the one it
    // wants and removes the other.
    let old = plan([10, 52, 0, 101], 24, "veth0", None);
    let events = in_ns(&ns, async |a: Addresses| {
        a.add(&vip).await.expect("add");
        a.add(&old).await.expect("add");
        let mut t = Takeover::with_addresses(a);
        let events = t
            .leftovers(std::slice::from_ref(&vip), true)
            .await
            .expect("leftovers");
        assert_eq!(t.held(), std::slice::from_ref(&vip));
        events
    });
    let events: Vec<String> = events.iter().map(ToString::to_string).collect();
    assert_eq!(
        events,
        [
            "adopted 10.52.0.100/24 on veth0 from an earlier run",
            "removing 10.52.0.101/24 on veth0, left by an earlier run",
        ]
    );
    let shown = ns
        .ip(["-4", "-o", "address", "show", "dev", "veth0"])
        .expect("ip addr");
    assert!(
        shown.contains("10.52.0.100/24") && !shown.contains("10.52.0.101"),
        "{shown}"
    );
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn a_vip_on_loopback_is_taken_without_announcements() {
    // Active-active directors and direct-routing real servers hold the VIP on `lo`: a router
    // sends it to them, and no neighbour is told.
    let ns = NetNs::new().expect("netns");
    ns.ip(["link", "set", "lo", "up"]).expect("lo up");
    let vip = plan([10, 53, 0, 100], 32, "lo", None);
    let (taken, held, released) = in_ns(&ns, async |a: Addresses| {
        let mut t = Takeover::with_addresses(a);
        let wanted = std::slice::from_ref(&vip);
        let mut taken: Vec<String> = (t.take(wanted, Announce::All, Duration::ZERO).await)
            .iter()
            .map(ToString::to_string)
            .collect();
        // Announcing again (a repair, a reload) says nothing either.
        taken.extend(
            (t.take(wanted, Announce::All, Duration::ZERO).await)
                .iter()
                .map(ToString::to_string),
        );
        let held = t.held().to_vec();
        let shown = ns
            .ip(["-4", "-o", "address", "show", "dev", "lo"])
            .expect("ip addr");
        assert!(shown.contains("10.53.0.100/32"), "on lo: {shown}");
        let released: Vec<String> = (t.release_all().await)
            .iter()
            .map(ToString::to_string)
            .collect();
        (taken, held, released)
    });
    assert!(taken.is_empty(), "no announcement fails on lo: {taken:?}");
    assert_eq!(held, [vip]);
    assert!(released.is_empty(), "{released:?}");
    let shown = ns
        .ip(["-4", "-o", "address", "show", "dev", "lo"])
        .expect("ip addr");
    assert!(!shown.contains("10.53.0.100"), "released: {shown}");
}
