//! Failover side by side: our director's heartbeat (Piranha-compatible defaults, and
//! authenticated sub-second timers) against keepalived's VRRP (its defaults, and fast VRRPv3
//! adverts), on the seed's NAT deployment with a backup router, in network namespaces. Each run
//! kills the active router at a random moment of the heartbeat period (its links go down, every
//! process of the tool dies) and measures, from clients starting a request every 10 ms through
//! the VIP, the time until a request is served through the other router. Run as root in a kernel
//! with IPVS (`cargo xtask bench-report` runs it in the rig, qemu with 2 CPUs):
//!
//! ```text
//! cargo build --release -p director -p lvs-benches
//! cargo xtask vm --backend qemu --cpus 2 -- target/release/failover --director target/release/director --runs 20
//! ```
//!
//! Prints a Markdown section on stdout.

#[path = "../../../examples/director/tests/common/lab.rs"]
mod lab;

use std::{
    path::PathBuf,
    process::ExitCode,
    time::{Duration, Instant},
};

use clap::{Parser, ValueEnum};
use lab::{ConfigFile, NatLab, Prober, VIP, random_below, seed_pair_config, start_director};
use lvs_benches::{
    keepalived::{self, Keepalived, Log, Subsystems},
    stats::{all_millis, millis, summarize},
};
use testkit::Logged;

/// Who runs on the routers, with which timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Setup {
    /// Our director, lvs.cf without heartbeat timers: Piranha's keepalive 2 s, deadtime 5 s.
    Piranha,
    /// Our director, authenticated heartbeat, keepalive 100 ms, deadtime 300 ms (director.toml).
    Fast,
    /// Our director, authenticated heartbeat, keepalive 50 ms, deadtime 150 ms.
    Fastest,
    /// keepalived, VRRPv2 with its defaults (advert_int 1 s).
    Keepalived,
    /// keepalived, VRRPv3 with advert_int 0.1 s.
    KeepalivedFast,
    /// keepalived, VRRPv3 with advert_int 0.05 s.
    KeepalivedFastest,
}

impl Setup {
    fn describe(self) -> &'static str {
        match self {
            Setup::Piranha => {
                "ours, Piranha-compatible heartbeat, keepalive 2 s / deadtime 5 s (lvs.cf defaults)"
            }
            Setup::Fast => "ours, authenticated heartbeat, keepalive 100 ms / deadtime 300 ms",
            Setup::Fastest => "ours, authenticated heartbeat, keepalive 50 ms / deadtime 150 ms",
            Setup::Keepalived => "keepalived, VRRPv2, advert_int 1 s (its default)",
            Setup::KeepalivedFast => "keepalived, VRRPv3, advert_int 0.1 s",
            Setup::KeepalivedFastest => "keepalived, VRRPv3, advert_int 0.05 s",
        }
    }

    /// How long after the last heartbeat or advert heard the tool's own rule declares the
    /// peer dead: ours, the deadtime; keepalived, the master down interval (three adverts and
    /// a skew of (256 − priority)/256 of one, priority 100).
    fn dead_after(self) -> Duration {
        let vrrp = |advert: Duration| advert.mul_f64(3.0 + 156.0 / 256.0);
        match self {
            Setup::Piranha => Duration::from_secs(5),
            Setup::Fast => Duration::from_millis(300),
            Setup::Fastest => Duration::from_millis(150),
            Setup::Keepalived => vrrp(Duration::from_secs(1)),
            Setup::KeepalivedFast => vrrp(Duration::from_millis(100)),
            Setup::KeepalivedFastest => vrrp(Duration::from_millis(50)),
        }
    }

    /// The heartbeat period: deaths fall at a random moment of it.
    fn period(self) -> Duration {
        match self {
            Setup::Piranha => Duration::from_secs(2),
            Setup::Keepalived => Duration::from_secs(1),
            Setup::Fast | Setup::KeepalivedFast => Duration::from_millis(100),
            Setup::Fastest | Setup::KeepalivedFastest => Duration::from_millis(50),
        }
    }

    fn is_ours(self) -> bool {
        matches!(self, Setup::Piranha | Setup::Fast | Setup::Fastest)
    }
}

#[derive(Parser)]
#[command(about = "Failover: our heartbeat vs keepalived's VRRP, kill to traffic")]
struct Cli {
    /// The director binary.
    #[arg(long)]
    director: PathBuf,
    /// Failovers per setup.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// The setups to measure, in order.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "piranha,fast,fastest,keepalived,keepalived-fast,keepalived-fastest"
    )]
    setups: Vec<Setup>,
    /// One more argument for the director (repeat it), e.g. `--director-arg=--log-format
    /// --director-arg=full` to see where a takeover's time goes.
    #[arg(long, allow_hyphen_values = true)]
    director_arg: Vec<String>,
}

/// A router's failover software.
enum Node {
    Ours(Logged),
    Keepalived(Keepalived),
}

impl Node {
    fn log(&mut self) -> &mut Logged {
        match self {
            Node::Ours(l) => l,
            Node::Keepalived(k) => &mut k.process,
        }
    }

    /// Every process stops at once, in the middle of whatever it was doing.
    fn freeze(&mut self) {
        match self {
            Node::Ours(l) => {
                let _ = l.signal(libc::SIGSTOP);
            }
            Node::Keepalived(k) => k.freeze(),
        }
    }

    /// Every process dies at once.
    fn kill(&mut self) {
        match self {
            Node::Ours(l) => {
                let _ = l.child.kill();
                let _ = l.child.wait();
            }
            Node::Keepalived(k) => k.kill(),
        }
    }

    fn stop(&mut self) {
        match self {
            Node::Ours(l) => {
                let _ = l.signal(libc::SIGTERM);
                let _ = l.child.wait();
            }
            Node::Keepalived(k) => k.stop(),
        }
    }
}

/// The files a setup's routers read.
struct Files {
    lvs_cf: ConfigFile,
    overlay: Option<ConfigFile>,
    _key: Option<ConfigFile>,
    keepalived: [String; 2],
}

fn files(setup: Setup) -> Files {
    // The seed's file with the backup named; its keepalive and deadtime lines removed so the
    // heartbeat has Piranha's defaults (the fast setup's overlay replaces them anyway).
    let mut doc =
        lvscf::Document::parse(&seed_pair_config(&[], &[])).expect("the seed pair parses");
    doc.globals_mut().remove("keepalive");
    doc.globals_mut().remove("deadtime");
    let lvs_cf = ConfigFile::new("failover", &doc.to_string());
    let (overlay, key) = if matches!(setup, Setup::Fast | Setup::Fastest) {
        let key = ConfigFile::new("failover-key", "0123456789abcdef0123456789abcdef");
        std::fs::set_permissions(&key.0, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .expect("the key is the owner's alone");
        let (keepalive, deadtime) = if setup == Setup::Fast {
            ("100ms", "300ms")
        } else {
            ("50ms", "150ms")
        };
        let text = format!(
            "[heartbeat]\nmode = \"authenticated\"\nkey_file = \"{}\"\nkeepalive = \"{keepalive}\"\n\
             deadtime = \"{deadtime}\"\n",
            key.0.display()
        );
        (Some(ConfigFile::new("failover-toml", &text)), Some(key))
    } else {
        (None, None)
    };
    let vrrp = |n: usize| {
        let (version, advert) = match setup {
            Setup::KeepalivedFast => ("\n    vrrp_version 3", "0.1"),
            Setup::KeepalivedFastest => ("\n    vrrp_version 3", "0.05"),
            _ => ("", "1"),
        };
        format!(
            "global_defs {{\n    router_id router{n}{version}\n}}\n\
             vrrp_instance LVS {{\n    state BACKUP\n    nopreempt\n    interface eth0\n    \
             virtual_router_id 51\n    priority 100\n    advert_int {advert}\n    \
             virtual_ipaddress {{\n        192.168.1.250/24 dev eth0 label eth0:1\n        \
             10.0.0.254/16 dev eth1 label eth1:1\n    }}\n}}\n\
             virtual_server 192.168.1.250 80 {{\n    delay_loop 6\n    lb_algo wlc\n    \
             lb_kind NAT\n    protocol TCP\n\
             {servers}}}\n",
            servers = lab::REAL_SERVERS
                .iter()
                .map(|rs| format!(
                    "    real_server {rs} 80 {{\n        weight 1\n        TCP_CHECK {{\n            \
                     connect_timeout 6\n        }}\n    }}\n"
                ))
                .collect::<String>()
        )
    };
    Files {
        lvs_cf,
        overlay,
        _key: key,
        keepalived: [vrrp(1), vrrp(2)],
    }
}

/// Starts router `i` and waits until its IPVS table is programmed (and, for the first, until
/// it is active).
fn start(cli: &Cli, setup: Setup, lab: &NatLab, files: &Files, i: usize, first: bool) -> Node {
    let tag = ["router1", "router2"][i];
    let mut node = if setup.is_ours() {
        let mut args = Vec::new();
        if let Some(o) = &files.overlay {
            args = vec!["--settings", o.0.to_str().expect("a UTF-8 path")];
        }
        args.extend(cli.director_arg.iter().map(String::as_str));
        let mut d = start_director(&cli.director, &lab.routers[i], &files.lvs_cf.0, tag, &args);
        d.patience = Duration::from_secs(60);
        Node::Ours(d)
    } else {
        let k = Keepalived::start(
            Some(&lab.routers[i]),
            tag,
            &files.keepalived[i],
            Subsystems::All,
            Log::Console,
        )
        .expect("keepalived starts");
        Node::Keepalived(k)
    };
    node.log().patience = Duration::from_secs(60);
    if first {
        node.log().wait_for(active_line(setup));
    } else if !setup.is_ours() {
        node.log().wait_for("Entering BACKUP STATE");
    }
    // Both tools program the table on both routers (keepalived's checkers always do; ours by
    // default): wait until both real servers are in it.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !lab.ipvsadm(i, &["-Ln"]).contains("10.0.0.200:80") {
        assert!(Instant::now() < deadline, "{tag}: no IPVS table after 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    node
}

/// The line a router logs once it holds the VIP.
fn active_line(setup: Setup) -> &'static str {
    if setup.is_ours() {
        "took over 2 addresses"
    } else {
        "setting VIPs"
    }
}

/// One run's result.
struct Run {
    /// Death → first request served through the other router.
    to_traffic: Duration,
    /// Death → the other router's log says it holds the addresses.
    to_addresses: Duration,
    /// Death → the dead router's links are down.
    unplug: Duration,
    /// From the survivor's capture: the last heartbeat or advert it heard from the dead router
    /// → its first gratuitous ARP for the VIP.
    heard_to_claim: Duration,
    /// The last heartbeat heard → the death (it came up to a period before).
    heard_to_death: Duration,
    /// The survivor's first gratuitous ARP → the first request served through it.
    claim_to_traffic: Duration,
}

/// The survivor's view, from a capture on its LAN interface: heartbeats or adverts from the
/// active router (UDP or VRRP from its address), and its own first gratuitous ARP for the VIP.
struct Watch {
    heard: std::sync::mpsc::Receiver<()>,
    done: std::thread::JoinHandle<Option<(Duration, Duration)>>,
}

const LAN_ADDRESSES: [[u8; 4]; 2] = [[192, 168, 1, 10], [192, 168, 1, 20]];
const VIP_ADDRESS: [u8; 4] = [192, 168, 1, 250];

impl Watch {
    /// Starts capturing on `survivor`'s eth0 (it is listening on return).
    fn start(lab: &NatLab, survivor: usize) -> Watch {
        let ns = &lab.routers[survivor];
        let mac = ns
            .ip(["-brief", "link", "show", "dev", "eth0"])
            .expect("link")
            .split_whitespace()
            .nth(2)
            .and_then(|m| {
                let bytes: Vec<u8> = (m.split(':'))
                    .filter_map(|b| u8::from_str_radix(b, 16).ok())
                    .collect();
                <[u8; 6]>::try_from(bytes).ok()
            })
            .expect("the survivor's MAC");
        let active = LAN_ADDRESSES[1 - survivor];
        let mut capture = testkit::Capture::start(
            ns,
            "eth0",
            "arp or udp or ip proto 112",
            Duration::from_secs(120),
        )
        .expect("tcpdump");
        let (tx, heard) = std::sync::mpsc::channel();
        let done = std::thread::spawn(move || {
            let mut last = None;
            while let Ok(f) = capture.next_frame() {
                let d = &f.data;
                if d.len() < 42 {
                    continue;
                }
                match [d[12], d[13]] {
                    [0x08, 0x00]
                        if d[14 + 12..14 + 16] == active && matches!(d[14 + 9], 17 | 112) =>
                    {
                        // The first one heard lets the run go on.
                        let first = last.replace(f.at).is_none();
                        let _ = first.then(|| tx.send(()));
                    }
                    [0x08, 0x06] if d[22..28] == mac && d[28..32] == VIP_ADDRESS => {
                        return last.map(|l| (l, f.at));
                    }
                    _ => {}
                }
            }
            None
        });
        Watch { heard, done }
    }

    /// Waits for the first heartbeat from the active router.
    fn wait_heard(&self) {
        self.heard
            .recv_timeout(Duration::from_secs(30))
            .expect("a heartbeat from the active router within 30 s");
    }

    /// The last heartbeat heard and the claim, on the capture's clock (since the Unix epoch).
    fn finish(self) -> (Duration, Duration) {
        self.done
            .join()
            .expect("the capture thread")
            .expect("a heartbeat, then the survivor's gratuitous ARP for the VIP")
    }
}

fn since_epoch() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
}

/// Requests in flight at once: a new one starts every 10 ms even while others hang.
const PROBERS: usize = 10;

fn failover(setup: Setup, lab: &NatLab, nodes: &mut [Option<Node>; 2], active: usize) -> Run {
    let standby = 1 - active;
    let watch = Watch::start(lab, standby);
    // Opened now, so that the kill is two ioctls per link and no process.
    let switch = lab.routers[active].link_switch().expect("link switch");
    // Ten clients, each sending a request every 100 ms (given up after 100 ms), started 10 ms
    // apart: one request starts every 10 ms, however long the others hang.
    let mut probers = Vec::new();
    for _ in 0..PROBERS {
        probers.push(Prober::start(
            &lab.client,
            VIP,
            Duration::from_millis(100),
            Duration::from_millis(100),
        ));
        std::thread::sleep(Duration::from_millis(100 / PROBERS as u64));
    }
    probers[0].served_after(Instant::now(), Duration::from_secs(10));
    watch.wait_heard();
    std::thread::sleep(Duration::from_millis(500) + random_below(setup.period()));
    let survivor = nodes[standby].as_mut().expect("the standby runs");
    survivor.log().forget();
    // The machine dies. Its processes freeze at once (SIGSTOP: from this instant the tool
    // does nothing, not even react to a link going down by speaking on the other), and the
    // clock starts. Then it goes off both LANs, and the processes are killed. Its kernel may
    // forward traffic until its links are down: only requests started after that count.
    let mut dead = nodes[active].take().expect("the active router runs");
    dead.freeze();
    let died = Instant::now();
    let died_wall = since_epoch();
    for dev in ["eth0", "eth1"] {
        switch.set(dev, false).expect("link down");
    }
    let down = Instant::now();
    dead.kill();
    let survivor = nodes[standby].as_mut().expect("the standby runs");
    let took = survivor.log().wait_for(active_line(setup));
    probers[0].served_after(took.at, Duration::from_secs(30));
    let first = probers
        .into_iter()
        .filter_map(|p| {
            p.finish()
                .samples
                .into_iter()
                .find(|s| s.at > down && s.server.is_some())
                .map(|s| s.done)
        })
        .min()
        .expect("served after the takeover");
    let (heard, claim) = watch.finish();
    let to_traffic = first - died;
    Run {
        to_traffic,
        to_addresses: took.at.saturating_duration_since(died),
        unplug: down - died,
        heard_to_claim: claim.saturating_sub(heard),
        heard_to_death: died_wall.saturating_sub(heard),
        claim_to_traffic: (died_wall + to_traffic).saturating_sub(claim),
    }
}

fn measure(cli: &Cli, setup: Setup) -> Vec<Run> {
    eprintln!("failover: {}", setup.describe());
    let lab = NatLab::new(2);
    let files = files(setup);
    let mut nodes = [Some(start(cli, setup, &lab, &files, 0, true)), None];
    nodes[1] = Some(start(cli, setup, &lab, &files, 1, false));
    let mut runs = Vec::new();
    let mut active = 0;
    for run in 0..cli.runs {
        if run > 0 {
            // The dead router comes back, as the standby (neither tool fails back here).
            let dead = 1 - active;
            lab.plug(dead);
            // Its links report a carrier a little after they are set up (up to a second): a
            // router started before that cannot take over until they do, which is not what
            // is measured here.
            let deadline = Instant::now() + Duration::from_secs(10);
            while ["eth0", "eth1"].iter().any(|dev| {
                !lab.routers[dead]
                    .ip(["-o", "link", "show", "dev", dev])
                    .is_ok_and(|l| l.contains("state UP"))
            }) {
                assert!(
                    Instant::now() < deadline,
                    "router{}'s links stay down",
                    dead + 1
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            nodes[dead] = Some(start(cli, setup, &lab, &files, dead, false));
        }
        let r = failover(setup, &lab, &mut nodes, active);
        eprintln!(
            "  run {:2}: router{} died {} ms after its last heartbeat heard: addresses after {} \
             ms, traffic after {} ms; heard → claim {} ms, claim → traffic {} ms",
            run + 1,
            active + 1,
            r.heard_to_death.as_millis(),
            r.to_addresses.as_millis(),
            r.to_traffic.as_millis(),
            r.heard_to_claim.as_millis(),
            r.claim_to_traffic.as_millis()
        );
        runs.push(r);
        active = 1 - active;
    }
    for n in nodes.iter_mut().flatten() {
        n.stop();
    }
    runs
}

fn report(results: &[(Setup, Vec<Run>)], runs: usize) {
    println!("## Failover: our heartbeat vs keepalived's VRRP\n");
    println!(
        "The seed's NAT deployment with a backup router, in network namespaces (client, two \
         routers, two busybox httpd real servers): {runs} failovers per setup. Each run kills the \
         active router at a random moment of the heartbeat period, and the dead router comes \
         back as the standby before the next run (once its links report a carrier). The kill is a SIGSTOP of every process of the \
         tool (from then on it does nothing, not even react to one link going down by speaking \
         on the other); its links go down right after (two `ioctl`s per link from a socket opened \
         in its namespace beforehand, no process; how long that took is in the last column: \
         the bench's own floor), then the processes are SIGKILLed. Kill → traffic: from the \
         SIGSTOP until a client request started after the links went down is served through the \
         other router (a request starts every 10 ms, each on a new connection and given up after \
         100 ms, ten in flight at most). Kill → addresses: until the survivor's log says it \
         holds the VIP. Both tools keep the IPVS table programmed on both routers, so a takeover \
         only moves the VIP and the NAT router address. keepalived is {}; both run with \
         `nopreempt` semantics (no failback).\n",
        keepalived::version()
    );
    println!(
        "| setup | kill → traffic: median | worst | best | kill → addresses: median | links down after |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (setup, rs) in results {
        let traffic: Vec<Duration> = rs.iter().map(|r| r.to_traffic).collect();
        let addresses: Vec<Duration> = rs.iter().map(|r| r.to_addresses).collect();
        let unplug: Vec<Duration> = rs.iter().map(|r| r.unplug).collect();
        if let (Some(t), Some(a), Some(u)) = (
            summarize(&traffic),
            summarize(&addresses),
            summarize(&unplug),
        ) {
            println!(
                "| {} | {} | {} | {} | {} | {} |",
                setup.describe(),
                millis(t.median),
                millis(t.worst),
                millis(t.best),
                millis(a.median),
                millis(u.median)
            );
        }
    }
    println!(
        "\nThe bound, and where the time goes, from a capture on the survivor's LAN interface: \
         the last heartbeat (or advert) it heard from the dying router, and its first gratuitous \
         ARP for the VIP (the takeover on the wire). Each tool declares its peer dead a fixed \
         time after the last one heard (its rule); the takeover must follow within 100 ms of \
         that.\n\n\
         | setup | its rule: dead after | last heard → takeover: median | worst | bound | \
         within it | last heard → kill: median | takeover → first request served: median |\n\
         |---|---:|---:|---:|---:|:---:|---:|---:|"
    );
    for (setup, rs) in results {
        let claim: Vec<Duration> = rs.iter().map(|r| r.heard_to_claim).collect();
        let death: Vec<Duration> = rs.iter().map(|r| r.heard_to_death).collect();
        let served: Vec<Duration> = rs.iter().map(|r| r.claim_to_traffic).collect();
        let bound = setup.dead_after() + Duration::from_millis(100);
        if let (Some(c), Some(d), Some(v)) =
            (summarize(&claim), summarize(&death), summarize(&served))
        {
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                setup.describe(),
                millis(setup.dead_after()),
                millis(c.median),
                millis(c.worst),
                millis(bound),
                if c.worst <= bound { "yes" } else { "**no**" },
                millis(d.median),
                millis(v.median)
            );
        }
    }
    for (setup, rs) in results.iter().filter(|(s, _)| s.is_ours()) {
        let over: Vec<Duration> = rs
            .iter()
            .map(|r| r.heard_to_claim.saturating_sub(setup.dead_after()))
            .collect();
        let death: Vec<Duration> = rs.iter().map(|r| r.heard_to_death).collect();
        let served: Vec<Duration> = rs.iter().map(|r| r.claim_to_traffic).collect();
        let traffic: Vec<Duration> = rs.iter().map(|r| r.to_traffic).collect();
        if let (Some(o), Some(d), Some(v), Some(t)) = (
            summarize(&over),
            summarize(&death),
            summarize(&served),
            summarize(&traffic),
        ) {
            println!(
                "\n- {}: kill → traffic {} (median) = the deadtime {} counted from the last \
                 heartbeat heard, {} before the kill (median; uniform over the period), + the \
                 director from its decision to the first gratuitous ARP (adding the addresses, \
                 the probe alongside) {} (median, worst {}) + the first request served through \
                 it {} after that ARP (the client's ARP cache updated, a new connection's \
                 handshake and reply, NAT back through the new router; a request starts every \
                 10 ms).",
                setup.describe(),
                millis(t.median),
                millis(setup.dead_after()),
                millis(d.median),
                millis(o.median),
                millis(o.worst),
                millis(v.median)
            );
        }
    }
    let median = |setup: Setup| {
        results
            .iter()
            .find(|(s, _)| *s == setup)
            .and_then(|(_, rs)| summarize(&rs.iter().map(|r| r.to_traffic).collect::<Vec<_>>()))
            .map(|s| s.median)
    };
    let verdict = |met: bool| if met { "met" } else { "**not met**" };
    println!("\nTargets (failover issue), kill → traffic medians of this run:\n");
    if let (Some(ours), Some(theirs)) = (median(Setup::Fast), median(Setup::KeepalivedFast)) {
        println!(
            "- 100 ms / 300 ms: under 320 ms and below keepalived VRRPv3 0.1 s: {} against {}: {}.",
            millis(ours),
            millis(theirs),
            verdict(ours < Duration::from_millis(320) && ours < theirs)
        );
    }
    if let Some(ours) = median(Setup::Fastest) {
        println!(
            "- 50 ms / 150 ms: under 230 ms: {}: {}.",
            millis(ours),
            verdict(ours < Duration::from_millis(230))
        );
    }
    let late: Vec<String> = results
        .iter()
        .filter(|(s, rs)| {
            s.is_ours()
                && rs
                    .iter()
                    .any(|r| r.heard_to_claim > s.dead_after() + Duration::from_millis(100))
        })
        .map(|(s, _)| format!("{s:?}"))
        .collect();
    println!(
        "- Every takeover of ours within the deadtime + 100 ms of the last heartbeat heard: {}.",
        if late.is_empty() {
            "met".to_string()
        } else {
            format!("**not met** ({})", late.join(", "))
        }
    );
    println!("\nEvery run, kill → traffic in ms, in order:\n\n```text");
    for (setup, rs) in results {
        let traffic: Vec<Duration> = rs.iter().map(|r| r.to_traffic).collect();
        println!("{:<16} {}", format!("{setup:?}:"), all_millis(&traffic));
    }
    println!("```\n");
    println!(
        "Reading the numbers: each tool declares its peer dead by its own rule, counted from the \
         last heartbeat or advert it heard, which came between zero and one period before the \
         kill. Ours: deadtime after the last heartbeat, so between deadtime − keepalive and \
         deadtime after the kill (3–5 s with Piranha's defaults, 200–300 ms with 100 ms / \
         300 ms). keepalived: 3 adverts plus a skew of (256 − priority)/256 of one (0.61 at \
         priority 100) after the last advert, so 2.6–3.6 s with advert_int 1 s and 261–361 ms \
         with 0.1 s. Then each adds the VIP and the NAT router address and announces them; ours \
         listens 50 ms for an address conflict meanwhile (RFC 5227, `address_probe`, on by \
         default; before adding only at a cold start), which keepalived does not do. Piranha's defaults are slower than keepalived's \
         by design, not by implementation: with the timers matched, the windows above decide. \
         The last step, the first reply through the new router, takes a few tens of \
         milliseconds for both (gratuitous ARP to the client, NAT back through the new \
         router's address).\n"
    );
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut results = Vec::new();
    for &setup in &cli.setups {
        results.push((setup, measure(&cli, setup)));
    }
    report(&results, cli.runs);
    ExitCode::SUCCESS
}
