//! Kernel tests of the link watch (`heartbeat::link`): a device watched by name is missing until
//! it appears, then follows its flags and carrier; an address's interface is found at start; a
//! one-shot reading gives the same states.
//!
//! Run with `cargo xtask test` (root, in the rig).

use std::time::Duration;

use heartbeat::link::{LinkState, Links, Which, watch};
use testkit::NetNs;
use tokio::sync::mpsc::UnboundedReceiver;

fn in_ns<T: Send>(ns: &NetNs, f: impl AsyncFnOnce() -> T + Send) -> T {
    ns.run(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(f())
    })
    .expect("netns")
}

/// Runs `ip ARGS…` in the calling thread's namespace; it must succeed.
fn ip(args: &[&str]) {
    let status = std::process::Command::new("ip")
        .args(args)
        .status()
        .expect("ip");
    assert!(status.success(), "ip {args:?}");
}

async fn next(rx: &mut UnboundedReceiver<(&'static str, LinkState)>) -> (&'static str, LinkState) {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a link event within 10 s")
        .expect("the watch runs")
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn a_device_is_followed_from_missing_to_up_down_and_gone() {
    let ns = NetNs::new().expect("netns");
    in_ns(&ns, async || {
        let mut rx = watch(vec![("uplink", Which::Device("dummy7".into()))])
            .await
            .expect("watch");
        assert_eq!(next(&mut rx).await, ("uplink", LinkState::Missing));
        ip(&["link", "add", "dummy7", "type", "dummy"]);
        assert_eq!(next(&mut rx).await, ("uplink", LinkState::Down));
        ip(&["link", "set", "dummy7", "up"]);
        assert_eq!(next(&mut rx).await, ("uplink", LinkState::Up));
        ip(&["link", "set", "dummy7", "down"]);
        assert_eq!(next(&mut rx).await, ("uplink", LinkState::Down));
        ip(&["link", "del", "dummy7"]);
        assert_eq!(next(&mut rx).await, ("uplink", LinkState::Missing));
    });
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn an_address_names_its_interface_and_a_missing_one_is_an_error() {
    let a = NetNs::new().expect("netns");
    let b = NetNs::new().expect("netns");
    a.veth("10.9.0.1/24", &b, "10.9.0.2/24").expect("veth");
    in_ns(&a, async || {
        let mut rx = watch(vec![(
            "path",
            Which::Address("10.9.0.1".parse().expect("ip")),
        )])
        .await
        .expect("watch");
        assert_eq!(next(&mut rx).await, ("path", LinkState::Up));
        let err = watch(vec![("x", Which::Address("10.9.9.9".parse().expect("ip")))])
            .await
            .expect_err("nobody holds it");
        assert_eq!(
            err.to_string(),
            "link monitoring: the interface holding 10.9.9.9: no such interface"
        );
    });
    // The peer's end goes down: ours loses its carrier.
    let shown = b.ip(["-o", "link", "show", "type", "veth"]).expect("link");
    let peer = shown
        .split(':')
        .nth(1)
        .and_then(|d| d.trim().split('@').next())
        .expect("veth")
        .to_string();
    in_ns(&a, async || {
        let mut rx = watch(vec![(
            "path",
            Which::Address("10.9.0.1".parse().expect("ip")),
        )])
        .await
        .expect("watch");
        assert_eq!(next(&mut rx).await, ("path", LinkState::Up));
        b.ip(["link", "set", "dev", &peer, "down"]).expect("down");
        assert_eq!(next(&mut rx).await, ("path", LinkState::NoCarrier));
    });
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn a_reading_says_missing_down_up_and_no_carrier() {
    let ns = NetNs::new().expect("netns");
    in_ns(&ns, async || {
        let links = Links::new().expect("rtnetlink");
        assert_eq!(links.state("dummy8").await.unwrap(), LinkState::Missing);
        ip(&["link", "add", "dummy8", "type", "dummy"]);
        assert_eq!(links.state("dummy8").await.unwrap(), LinkState::Down);
        ip(&["link", "set", "dummy8", "up"]);
        assert_eq!(links.state("dummy8").await.unwrap(), LinkState::Up);
        // A veth whose peer is down has no carrier.
        ip(&["link", "add", "v8a", "type", "veth", "peer", "name", "v8b"]);
        ip(&["link", "set", "v8a", "up"]);
        assert_eq!(links.state("v8a").await.unwrap(), LinkState::NoCarrier);
    });
}
