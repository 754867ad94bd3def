//! Bench program: where a takeover's time goes before its first gratuitous ARP. Two interfaces
//! (as a NAT director's public and private sides), one address each: the time from the call to
//! `Takeover::take` to the first frame on the far end of the first veth (the kernel's capture
//! timestamp), probing alongside (a takeover from a dead peer), without a probe, and the steps
//! alone: an interface lookup, opening a packet socket, adding the addresses.
//!
//! Needs root and veth: run it in the rig, release build:
//!
//! ```text
//! cargo build --release -p arp-announce --example takeover_latency
//! cargo xtask vm --backend qemu --cpus 2 -- target/release/examples/takeover_latency [RUNS]
//! ```

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arp_announce::takeover::{Address, Addresses, Announce, Probe, Takeover};
use arp_announce::{Interface, PacketSocket};
use testkit::{Capture, NetNs};

fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

fn summary(what: &str, mut v: Vec<Duration>) {
    v.sort();
    let pct = |p: usize| v[(v.len() - 1) * p / 100];
    println!(
        "{what:<44} median {:>9.3?}  p90 {:>9.3?}  max {:>9.3?}",
        pct(50),
        pct(90),
        v[v.len() - 1]
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(21);
    let a = NetNs::new()?;
    let b = NetNs::new()?;
    let lan = a.veth("10.79.0.1/24", &b, "10.79.0.2/24")?;
    let dmz = a.veth("10.80.0.1/24", &b, "10.80.0.2/24")?;
    let mut capture = Capture::start(&b, lan.peer_name(), "arp", Duration::from_secs(600))?;
    let wanted = [
        Address::new("10.79.0.100".parse()?, 24, lan.name()),
        Address::new("10.80.0.254".parse()?, 24, dmz.name()),
    ];
    let (lan_name, wanted_ref) = (lan.name().to_owned(), &wanted);
    let results = a.run(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let mut takeover = Takeover::new().expect("rtnetlink");
            let mut starts: Vec<(&str, Duration)> = Vec::new();
            let mut steps: Vec<(&str, Duration)> = Vec::new();
            for _ in 0..runs {
                for (what, probe) in [
                    (
                        "take, probe alongside (50 ms)",
                        Probe::Alongside(Duration::from_millis(50)),
                    ),
                    ("take, no probe", Probe::First(Duration::ZERO)),
                ] {
                    starts.push((what, since_epoch()));
                    let events = takeover.take(wanted_ref, Announce::All, probe).await;
                    assert!(events.is_empty(), "{events:?}");
                    takeover.release_all().await;
                }
                let t = Instant::now();
                let iface = Interface::by_name(&lan_name).expect("interface");
                steps.push(("an interface lookup", t.elapsed()));
                let t = Instant::now();
                drop(PacketSocket::open(&iface).expect("packet socket"));
                steps.push(("opening a packet socket", t.elapsed()));
                let addresses = Addresses::new().expect("rtnetlink");
                let t = Instant::now();
                addresses.add_all(wanted_ref).await.expect("add");
                steps.push(("adding both addresses (one netlink batch)", t.elapsed()));
                for w in wanted_ref {
                    addresses.remove(w).await.expect("remove");
                }
            }
            (starts, steps)
        })
    })?;
    let (starts, steps) = results;
    // Each take sends gratuitous ARPs on the LAN side: the first one after its start. A marker
    // frame (another address) ends the capture.
    let marker: std::net::IpAddr = "10.79.0.99".parse()?;
    let dev = lan.name().to_owned();
    a.run(move || arp_announce::announce_once(&dev, &[marker], arp_announce::ArpForm::Request))??;
    let mut frames = Vec::new();
    loop {
        let f = capture.next_frame()?;
        // The ARP sender address, at offset 28 of the frame.
        if f.data.get(28..32) == Some(&[10, 79, 0, 99][..]) {
            break;
        }
        frames.push(f.at);
    }
    let mut first: Vec<(&str, Duration)> = Vec::new();
    for (what, t0) in &starts {
        if let Some(at) = frames.iter().find(|at| **at >= *t0) {
            first.push((what, *at - *t0));
        }
    }
    for what in ["take, probe alongside (50 ms)", "take, no probe"] {
        summary(
            &format!("{what} → first ARP"),
            first.iter().filter(|f| f.0 == what).map(|f| f.1).collect(),
        );
    }
    for what in [
        "an interface lookup",
        "opening a packet socket",
        "adding both addresses (one netlink batch)",
    ] {
        summary(
            what,
            steps.iter().filter(|s| s.0 == what).map(|s| s.1).collect(),
        );
    }
    Ok(())
}
