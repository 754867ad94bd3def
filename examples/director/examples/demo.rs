//! The toolkit's demo: the seed's NAT deployment (`lvscf/tests/fixtures/seed/README.md`) with a
//! backup router, end to end in network namespaces: a client, two directors and two real HTTP
//! servers (busybox httpd). It prints the IPVS table, kills the primary and prints the failover
//! timeline with the downtime a client saw.
//!
//! ```text
//! cargo xtask demo                     # in the project's kernel rig (qemu, 2 CPUs)
//! cargo xtask demo -- --fast           # keepalive 1 s, deadtime 3 s instead of the seed's 6 s / 18 s
//! cargo xtask demo -- --runs 10        # ten failovers in a row: median and worst downtime
//! cargo xtask demo -- --scenario ecmp  # three active-active directors behind ECMP (BIRD, BFD)
//! ```
//! The `ecmp` scenario (`tests/common/ecmp.rs`): a client, a router running BIRD with ECMP and
//! an L4 hash, three directors each running `director run` in active-active mode with BIRD
//! (BGP and BFD to the router), four direct-routing real servers. It opens long-lived
//! connections and a stream of new ones, then kills a director together with its BIRD (as a
//! host crash would) and, in a second run, takes a director's link down, and prints the router's
//! route before and after, how long the withdrawal took, and what the connections saw.
//! It needs root and a kernel with IPVS, which is what `cargo xtask demo` gives it; packets only
//! travel between the namespaces it creates.

#[path = "../tests/common/ecmp.rs"]
mod ecmp;
#[path = "../tests/common/lab.rs"]
mod lab;

use std::{
    path::PathBuf,
    process::ExitCode,
    time::{Duration, Instant},
};

use clap::Parser;
use lab::{ConfigFile, NatLab, Prober, VIP, get, random_below, seed_pair_config, start_director};
use testkit::Logged;

#[derive(Parser)]
#[command(about = "The seed's NAT deployment with a backup router, end to end, and its failover")]
struct Cli {
    /// The director binary.
    #[arg(long)]
    director: PathBuf,
    /// Heartbeat and check timers of one second and a deadtime of three (the seed has
    /// keepalive 6 s, deadtime 18 s, check timeout 6 s).
    #[arg(long)]
    fast: bool,
    /// Failovers in a row (the dead router comes back as the standby before the next one).
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// `nat`: the seed's pair and its failover; `ecmp`: active-active directors behind ECMP.
    #[arg(long, value_enum, default_value_t = Scenario::Nat)]
    scenario: Scenario,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Scenario {
    Nat,
    Ecmp,
}

/// Settings changed in the seed's lvs.cf: (keyword, value).
type Edits = &'static [(&'static str, &'static str)];

/// Seconds since `t0`, for the timeline.
fn at(t0: Instant, t: Instant) -> String {
    if t >= t0 {
        format!("+{:7.3} s", (t - t0).as_secs_f64())
    } else {
        format!("-{:7.3} s", (t0 - t).as_secs_f64())
    }
}

fn section(title: &str) {
    println!("\n== {title} ==");
}

fn indent(text: &str) {
    for line in text.lines() {
        println!("  {line}");
    }
}

/// Starts router `i`'s director and waits until its table is ready.
fn start(cli: &Cli, lab: &NatLab, file: &ConfigFile, i: usize) -> Logged {
    let tag = ["router1", "router2"][i];
    let mut d = start_director(&cli.director, &lab.routers[i], &file.0, tag, &[]);
    d.patience = Duration::from_secs(60);
    d.wait_for("[ active ] 10.0.0.100:80 up");
    d.wait_for("[ active ] 10.0.0.200:80 up");
    d
}

/// One failover: the active router `active` dies at a random moment of the heartbeat period
/// `keepalive` (a real failure does not wait for a heartbeat). Its downtime.
fn failover(
    lab: &NatLab,
    directors: &mut [Option<Logged>; 2],
    active: usize,
    keepalive: Duration,
) -> Duration {
    let standby = 1 - active;
    let prober = Prober::start(
        &lab.client,
        VIP,
        Duration::from_millis(50),
        Duration::from_millis(300),
    );
    // A second of traffic before the event, to measure the downtime from.
    std::thread::sleep(Duration::from_secs(1) + random_below(keepalive));
    let dead = directors[active].take();
    let survivor = directors[standby].as_mut().expect("the standby runs");
    survivor.forget();
    // The machine dies: its director stops at once (no last word), then its links go down.
    let died = Instant::now();
    if let Some(mut dead) = dead {
        let _ = dead.child.kill();
        let _ = dead.child.wait();
    }
    lab.unplug(active);
    let role = survivor.wait_for("ACTIVE");
    let took = survivor.wait_for("took over 2 addresses");
    prober.served_after(took.at, Duration::from_secs(30));
    let timeline = prober.finish();
    let (last, first) = timeline.outage(died).expect("served after the takeover");
    let server = timeline
        .samples
        .iter()
        .find(|s| s.done == first)
        .and_then(|s| s.server.clone())
        .unwrap_or_default();
    println!(
        "  {}  router{} dies (its director is killed, then its links go down)",
        at(died, died),
        active + 1
    );
    println!(
        "  {}  router{}: {}",
        at(died, role.at),
        standby + 1,
        role.text.trim_start_matches("director: ")
    );
    println!(
        "  {}  router{}: VIP and NAT router address added, gratuitous ARPs sent",
        at(died, took.at),
        standby + 1
    );
    println!(
        "  {}  first reply through router{} ({server})",
        at(died, first),
        standby + 1
    );
    let outage = first - last;
    println!(
        "  client-visible downtime: {:.3} s, from the last reply before ({}) to the first after\n  \
         (a request every 50 ms, each on a new connection, given up after 300 ms)",
        outage.as_secs_f64(),
        at(died, last)
    );
    outage
}

/// The router's route, one next hop per line.
fn print_route(label: &str, route: &str) {
    println!("  {label}:");
    indent(&route.replace(" nexthop", "\n nexthop"));
}

/// One run of the ECMP scenario: `event` takes a director out (and says when); its lines.
fn ecmp_run(
    lab: &mut ecmp::EcmpLab,
    title: &str,
    gone: usize,
    event: impl FnOnce(&mut ecmp::EcmpLab) -> Instant,
) {
    section(title);
    print_route("the router's route before", &lab.route());
    let base: Vec<u64> = (0..3).map(|i| lab.carried_total(i)).collect();
    let flows = ecmp::Flows::open(&lab.client, 24, Duration::from_millis(100));
    let probes = Prober::start(
        &lab.client,
        ecmp::WEB,
        Duration::from_millis(20),
        Duration::from_secs(3),
    );
    std::thread::sleep(Duration::from_secs(1));
    let carried: Vec<String> = (0..3)
        .map(|i| format!("d{}: {}", i + 1, lab.carried_total(i) - base[i]))
        .collect();
    let at = event(lab);
    let dead = ecmp::DIRECTORS[gone];
    let (after, seen) = lab.route_until(|r| !r.contains(dead));
    // Three more seconds of traffic after the route moved.
    std::thread::sleep(Duration::from_secs(3));
    let timeline = probes.finish();
    let broken = flows.finish();
    print_route("the router's route after", &after);
    println!("withdrawn after: {} ms", (seen - at).as_millis());
    println!(
        "new connections failed: {}",
        timeline.failures(at, Instant::now())
    );
    println!("established connections broken: {}", broken.len());
    println!(
        "connections each director carried (in the second before): {}",
        carried.join(", ")
    );
    for b in broken {
        println!("  broken: {b}");
    }
}

/// Three active-active directors behind ECMP: a crash, then a link down.
fn ecmp(cli: &Cli) -> ExitCode {
    section("Active-active: three directors behind a router that spreads flows by ECMP");
    println!(
        "  client 203.0.113.2 -> router 203.0.113.1 (BIRD: BGP + BFD 100 ms x 3, merge paths,\n  \
         fib_multipath_hash_policy = 1) -> directors 10.10.0.11-13 (director run, active-active,\n  \
         mh with mh-port, sync daemon; BIRD) -> real servers 10.10.0.101-104 (VIP on lo)"
    );
    let mut lab = ecmp::EcmpLab::new(&cli.director, "direct");
    section("lvs.cf (the same on every director)");
    indent(&ecmp::lvs_cf("direct"));
    section("director.toml");
    indent(ecmp::OVERLAY);
    section("d1: ipvsadm -Ln");
    indent(
        &lab.directors[0]
            .ns
            .exec("ipvsadm", ["-Ln"])
            .unwrap_or_default(),
    );
    ecmp_run(
        &mut lab,
        "Run 1: d1 crashes (its packets dropped, its director and BIRD killed)",
        0,
        |lab| lab.crash(0),
    );
    section("d1 restarts");
    lab.start(0);
    print_route(
        "the router's route",
        &lab.route_until(|r| ecmp::DIRECTORS.iter().all(|d| r.contains(d)))
            .0,
    );
    ecmp_run(&mut lab, "Run 2: d2's link goes down", 1, |lab| {
        lab.unplug(1)
    });
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.scenario == Scenario::Ecmp {
        return ecmp(&cli);
    }
    let (timers, checks): (Edits, Edits) = if cli.fast {
        (
            &[("keepalive", "1"), ("deadtime", "3")],
            &[("timeout", "1"), ("reentry", "2")],
        )
    } else {
        (&[], &[])
    };
    section("The seed's NAT deployment, in network namespaces");
    println!(
        "  client 192.168.1.1 on the public LAN; router1 192.168.1.10/10.0.0.10 (primary),\n  \
         router2 192.168.1.20/10.0.0.20 (backup); real servers 10.0.0.100 (rs1) and\n  \
         10.0.0.200 (rs2) run busybox httpd behind the NAT router address 10.0.0.254"
    );
    let lab = NatLab::new(2);
    let text = seed_pair_config(timers, checks);
    section("lvs.cf: the seed's 01-nat-single-router.cf, with the backup router named");
    let seed: Vec<&str> = lab::SEED_NAT.lines().collect();
    for line in text.lines().filter(|l| !seed.contains(l)) {
        println!("  + {line}");
    }
    println!("  (every other line as published; the same file on both routers)");
    let file = ConfigFile::new("demo", &text);

    section("Both directors start");
    let t0 = Instant::now();
    let mut directors = [
        Some(start(&cli, &lab, &file, 0)),
        Some(start(&cli, &lab, &file, 1)),
    ];
    let primary = directors[0].as_mut().expect("started");
    let active = primary.wait_for("took over 2 addresses");
    println!(
        "  {}  router1 active with the VIP; both routers have the table programmed",
        at(t0, active.at)
    );
    section("router1: ipvsadm -Ln");
    indent(&lab.ipvsadm(0, &["-Ln"]));
    section("router1: ip -4 -o address show");
    indent(&lab.addresses(0, "eth0"));
    indent(&lab.addresses(0, "eth1"));
    section("Ten requests through the VIP 192.168.1.250:80");
    let mut seen = std::collections::BTreeMap::new();
    for _ in 0..10 {
        match get(&lab.client, VIP) {
            Ok(server) => *seen.entry(server).or_insert(0) += 1,
            Err(e) => println!("  failed: {e}"),
        }
    }
    for (server, n) in &seen {
        println!("  {server}: {n}");
    }

    let mut outages = Vec::new();
    let mut active = 0;
    for run in 0..cli.runs {
        if run > 0 {
            // The dead router comes back: as the standby (pulse never fails back).
            let dead = 1 - active;
            lab.plug(dead);
            directors[dead] = Some(start(&cli, &lab, &file, dead));
        }
        section(&format!(
            "Failover {} of {}: router{} dies",
            run + 1,
            cli.runs,
            active + 1
        ));
        let keepalive = Duration::from_secs(if cli.fast { 1 } else { 6 });
        outages.push(failover(&lab, &mut directors, active, keepalive));
        active = 1 - active;
    }
    section(&format!("router{}: ipvsadm -Ln", active + 1));
    indent(&lab.ipvsadm(active, &["-Ln"]));
    section(&format!(
        "router{}: ip -4 -o address show dev eth0",
        active + 1
    ));
    indent(&lab.addresses(active, "eth0"));
    if outages.len() > 1 {
        let mut sorted = outages.clone();
        sorted.sort();
        let median = if sorted.len() % 2 == 1 {
            sorted[sorted.len() / 2]
        } else {
            (sorted[sorted.len() / 2 - 1] + sorted[sorted.len() / 2]) / 2
        };
        section(&format!(
            "Client-visible downtime over {} failovers",
            sorted.len()
        ));
        println!(
            "  median {:.3} s, best {:.3} s, worst {:.3} s",
            median.as_secs_f64(),
            sorted[0].as_secs_f64(),
            sorted[sorted.len() - 1].as_secs_f64()
        );
    }
    // Stop the survivor cleanly: it removes its addresses and its IPVS entries.
    if let Some(d) = directors[active].as_mut() {
        let _ = d.signal(libc::SIGTERM);
        let _ = d.child.wait();
    }
    ExitCode::SUCCESS
}
