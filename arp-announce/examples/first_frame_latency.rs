//! Bench program: time from "announce" (the call to `Announcer::new` + `spawn`) to the first frame
//! on the wire, from the kernel's capture timestamps on the far end of a veth pair.
//!
//! Needs root and veth: run it in the rig, release build:
//!
//! ```text
//! cargo build --release -p arp-announce --example first_frame_latency
//! cargo xtask vm -- target/release/examples/first_frame_latency [RUNS]
//! ```

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arp_announce::{Announcer, Options, Schedule};
use testkit::{Capture, NetNs};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(101);
    let a = NetNs::new()?;
    let b = NetNs::new()?;
    let veth = a.veth("10.78.0.1/24", &b, "10.78.0.2/24")?;
    let mut capture = Capture::start(&b, veth.peer_name(), "arp", Duration::from_secs(600))?;
    let dev = veth.name().to_owned();
    let vip: IpAddr = "10.78.0.100".parse()?;
    let mut latencies = Vec::with_capacity(runs);
    for _ in 0..runs {
        let dev = dev.clone();
        let t0 = a.run(move || -> Result<Duration, arp_announce::Error> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .map_err(|e| arp_announce::Error::Send {
                    ifname: dev.clone(),
                    source: e,
                })?;
            rt.block_on(async {
                let t0 = since_epoch();
                let options = Options::default().with_schedule(Schedule::once());
                Announcer::new(&dev, &[vip], options)?
                    .spawn()?
                    .finished()
                    .await?;
                Ok(t0)
            })
        })??;
        let frame = capture.next_frame()?;
        latencies.push(frame.at.saturating_sub(t0));
    }
    latencies.sort();
    let pct = |p: usize| latencies[(latencies.len() - 1) * p / 100];
    println!(
        "first frame after announce, {runs} runs: median {:?}, p10 {:?}, p90 {:?}, max {:?}",
        pct(50),
        pct(10),
        pct(90),
        latencies[latencies.len() - 1]
    );
    Ok(())
}

fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}
