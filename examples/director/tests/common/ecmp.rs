//! Active-active directors behind ECMP in network namespaces, shared by the kernel tests
//! (`tests/kernel_timing_active_active.rs`) and the demo (`cargo xtask demo -- --scenario ecmp`):
//!
//! ```text
//!   client 203.0.113.2 ── router 203.0.113.1 / 10.10.0.1   BIRD: BGP + BFD to each director,
//!                              │                           ECMP (`merge paths`), L4 hash
//!                              │ lan (bridge)
//!        ┌─────────────┬───────┴─────┬─────────────┬────────────┬─ … ─┐
//!   d1 10.10.0.11  d2 10.10.0.12  d3 10.10.0.13   rs1 10.10.0.101 … rs4 10.10.0.104
//!   director run (active-active) + BIRD            VIP 192.0.2.10/32 on lo, httpd :80, echo :7
//! ```
//!
//! Every director runs the same `lvs.cf` (direct routing, Maglev hashing with the port, the sync
//! daemon) and overlay (`[cluster] mode = "active-active"`, a 1 s hold-down), and announces
//! the VIP through its BIRD; the real servers answer the client directly through the router.
//! Packets only travel between these namespaces.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use testkit::bird::{Bird, director_conf, route_until, router_conf};
use testkit::{Logged, NetNs};

use super::lab::{ConfigFile, Httpd, rename, start_director};

/// The VIP every director announces.
pub const VIP: &str = "192.0.2.10";
/// Its web service (busybox httpd on the real servers).
pub const WEB: &str = "192.0.2.10:80";
/// Its echo service (long-lived connections: each line comes back with the server's name).
pub const ECHO: &str = "192.0.2.10:7";

/// The directors' addresses on the LAN.
pub const DIRECTORS: [&str; 3] = ["10.10.0.11", "10.10.0.12", "10.10.0.13"];

/// The real servers' addresses.
pub const REAL_SERVERS: [&str; 4] = ["10.10.0.101", "10.10.0.102", "10.10.0.103", "10.10.0.104"];

/// The directors' `lvs.cf`, the same on every one: `network` is `direct` or `tunnel`.
pub fn lvs_cf(network: &str) -> String {
    let mut cf = format!(
        "serial_no = 1\nprimary = {}\nservice = lvs\nnetwork = {network}\n\
         syncdaemon = 1\nsyncd_iface = eth0\nsyncd_id = 7\n",
        DIRECTORS[0]
    );
    for (name, port, send, expect) in [
        ("WEB", 80, "GET / HTTP/1.0\\r\\n\\r\\n", "HTTP"),
        ("ECHO", 7, "ping\\n", "ping"),
    ] {
        cf += &format!(
            "virtual {name} {{\n    active = 1\n    address = {VIP} eth0\n    port = {port}\n    \
             protocol = tcp\n    send = \"{send}\"\n    expect = \"{expect}\"\n    \
             timeout = 1\n    reentry = 1\n"
        );
        for (i, rs) in REAL_SERVERS.iter().enumerate() {
            cf += &format!(
                "    server rs{} {{\n        address = {rs}\n        active = 1\n        weight = 1\n    }}\n",
                i + 1
            );
        }
        cf += "}\n";
    }
    cf
}

/// The directors' overlay: active-active, Maglev hashing on the address and the port.
pub const OVERLAY: &str = "[cluster]\nmode = \"active-active\"\nhold_down = \"1s\"\n\
     [director]\nreconcile_interval = \"1s\"\n\
     [virtual.WEB]\nscheduler = \"mh\"\nscheduler_flags = [\"mh-port\"]\n\
     [virtual.ECHO]\nscheduler = \"mh\"\nscheduler_flags = [\"mh-port\"]\n";

/// An echo server: each line comes back as `NAME LINE`.
fn echo_server(ns: &NetNs, name: String) -> JoinHandle<()> {
    ns.spawn(move || {
        let listener = TcpListener::bind("0.0.0.0:7").expect("echo listens");
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let name = name.clone();
            std::thread::spawn(move || {
                let mut out = stream.try_clone().expect("clone");
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { return };
                    if writeln!(out, "{name} {line}").is_err() {
                        return;
                    }
                }
            });
        }
    })
    .expect("the echo server starts")
}

/// One director: its namespace, its BIRD and its `director run`.
pub struct Director {
    /// `director run` (`None` once killed or stopped).
    pub run: Option<Logged>,
    /// Its BIRD (`None` once killed).
    pub bird: Option<Bird>,
    /// Its namespace.
    pub ns: NetNs,
    /// Its interface's other end, in the switch.
    pub port: String,
}

/// The lab, running.
pub struct EcmpLab {
    /// The directors (d1, d2, d3).
    pub directors: Vec<Director>,
    /// The router's BIRD.
    pub router_bird: Bird,
    /// The real servers' httpd.
    pub httpd: Vec<Httpd>,
    /// The client.
    pub client: NetNs,
    /// The upstream router.
    pub router: NetNs,
    /// The real servers.
    pub servers: Vec<NetNs>,
    /// The LAN's bridge.
    pub switch: NetNs,
    bin: PathBuf,
    config: ConfigFile,
    overlay: ConfigFile,
}

impl EcmpLab {
    /// Builds the network, starts the real servers, the router's BIRD and every director with
    /// its BIRD (the director binary `bin`, forwarding by `network`: `direct`, or `tunnel` with
    /// the real servers' VIP on an IP-in-IP device), and returns once the router has one ECMP
    /// route to the VIP over all three.
    pub fn new(bin: &Path, network: &str) -> EcmpLab {
        let switch = NetNs::new().expect("switch");
        switch.bridge("lan").expect("LAN");
        let client = NetNs::new().expect("client");
        let router = NetNs::new().expect("router");
        router
            .veth("203.0.113.1/24", &client, "203.0.113.2/24")
            .expect("client link");
        client
            .ip(["route", "add", "default", "via", "203.0.113.1"])
            .expect("client route");
        router
            .attach(&switch, "lan", "10.10.0.1/24")
            .expect("router");
        for setting in [
            "net.ipv4.ip_forward=1",
            // ECMP by the flow's addresses and ports: one client's connections spread.
            "net.ipv4.fib_multipath_hash_policy=1",
        ] {
            router.exec("sysctl", ["-qw", setting]).expect("sysctl");
        }
        let mut servers = Vec::new();
        let mut httpd = Vec::new();
        for (i, addr) in REAL_SERVERS.iter().enumerate() {
            let ns = NetNs::new().expect("real server");
            ns.attach(&switch, "lan", &format!("{addr}/24"))
                .expect("real server");
            ns.ip(["route", "add", "default", "via", "10.10.0.1"])
                .expect("route");
            ns.ip(["link", "set", "lo", "up"]).expect("lo");
            for setting in [
                "net.ipv4.conf.all.arp_ignore=1",
                "net.ipv4.conf.all.arp_announce=2",
                "net.ipv4.conf.all.rp_filter=0",
            ] {
                ns.exec("sysctl", ["-qw", setting]).expect("sysctl");
            }
            let vip_dev = if network == "tunnel" {
                // An IP-in-IP endpoint for the directors' packets to this server.
                ns.ip(["link", "add", "vip0", "type", "ipip", "local", addr])
                    .expect("ipip device");
                ns.ip(["link", "set", "vip0", "up"]).expect("up");
                ns.exec("sysctl", ["-qw", "net.ipv4.conf.vip0.rp_filter=0"])
                    .expect("sysctl");
                "vip0"
            } else {
                "lo"
            };
            ns.ip(["address", "add", &format!("{VIP}/32"), "dev", vip_dev])
                .expect("VIP on the real server");
            let name = format!("rs{}", i + 1);
            httpd.push(Httpd::start(&ns, "0.0.0.0:80", &name));
            // Detached: it lives as long as the namespace's process does.
            let _ = echo_server(&ns, name);
            servers.push(ns);
        }
        let sessions: Vec<(&str, &str, u32)> = (DIRECTORS.iter().enumerate())
            .map(|(i, d)| ("10.10.0.1", *d, 65001 + i as u32))
            .collect();
        let router_bird = Bird::start(
            &router,
            "bird-router",
            &router_conf("10.10.0.1", &sessions, true),
        )
        .expect("the router's BIRD");
        let config = ConfigFile::new("ecmp", &lvs_cf(network));
        let overlay = ConfigFile::new("ecmp-overlay.toml", OVERLAY);
        let mut lab = EcmpLab {
            directors: Vec::new(),
            router_bird,
            httpd,
            client,
            router,
            servers,
            switch,
            bin: bin.to_path_buf(),
            config,
            overlay,
        };
        for (i, addr) in DIRECTORS.iter().enumerate() {
            let ns = NetNs::new().expect("director");
            let veth = ns
                .attach(&lab.switch, "lan", &format!("{addr}/24"))
                .expect("director");
            rename(&ns, veth.name(), "eth0");
            ns.ip(["route", "add", "default", "via", "10.10.0.1"])
                .expect("route");
            ns.exec("sysctl", ["-qw", "net.ipv4.conf.all.rp_filter=0"])
                .expect("sysctl");
            lab.directors.push(Director {
                run: None,
                bird: None,
                ns,
                port: veth.peer_name().to_string(),
            });
            lab.start(i);
        }
        lab.route_until(|r| DIRECTORS.iter().all(|d| r.contains(d)));
        lab
    }

    /// Starts director `i` and its BIRD (again, after [`EcmpLab::crash`]: its firewall
    /// emptied first); returns once it announces the VIP.
    pub fn start(&mut self, i: usize) {
        let d = &mut self.directors[i];
        let _ = d.ns.exec("iptables-legacy", ["-F"]);
        let addr = DIRECTORS[i];
        d.bird = Some(
            Bird::start(
                &d.ns,
                &format!("bird-d{}", i + 1),
                &director_conf(addr, "10.10.0.1", 65001 + i as u32, true),
            )
            .expect("the director's BIRD"),
        );
        let overlay = self.overlay.0.to_str().expect("UTF-8").to_string();
        let mut run = start_director(
            &self.bin,
            &d.ns,
            &self.config.0,
            &format!("d{}", i + 1),
            &["--settings", &overlay],
        );
        run.wait_for("ACTIVE (active-active");
        // Flows that ECMP moves here mid-connection are taken up, not reset (IPVS is loaded
        // now that the director runs).
        d.ns.exec("sysctl", ["-qw", "net.ipv4.vs.sloppy_tcp=1"])
            .expect("sloppy_tcp");
        run.wait_for("announcing VIP 192.0.2.10");
        d.run = Some(run);
    }

    /// Director `i` dies as a crashed host does: silent at once (its packets dropped: no FIN
    /// for the BGP session, nothing forwarded), then its director and BIRD killed. Returns the
    /// moment it went silent.
    pub fn crash(&mut self, i: usize) -> Instant {
        let d = &mut self.directors[i];
        d.ns.exec("iptables-legacy", ["-A", "OUTPUT", "-j", "DROP"])
            .expect("silent");
        let died = Instant::now();
        d.ns.exec("iptables-legacy", ["-A", "INPUT", "-j", "DROP"])
            .expect("deaf");
        if let Some(mut run) = d.run.take() {
            let _ = run.signal(libc::SIGKILL);
            let _ = run.child.wait();
        }
        if let Some(bird) = d.bird.take() {
            let _ = bird.process.signal(libc::SIGKILL);
        }
        died
    }

    /// Director `i`'s link goes down (its cable pulled at the switch); returns when.
    pub fn unplug(&self, i: usize) -> Instant {
        let port = &self.directors[i].port;
        self.switch
            .ip(["link", "set", port, "down"])
            .expect("link down");
        Instant::now()
    }

    /// The router's route to the VIP.
    pub fn route(&self) -> String {
        self.router
            .ip(["-4", "route", "show", VIP])
            .expect("ip route")
    }

    /// Waits until the router's route to the VIP satisfies `wanted`: its text and when.
    pub fn route_until(&self, wanted: impl Fn(&str) -> bool) -> (String, Instant) {
        route_until(&self.router, VIP, wanted)
    }

    /// The connections director `i` has scheduled, per service (`ipvsadm -Ln --stats`).
    pub fn carried(&self, i: usize) -> BTreeMap<String, u64> {
        let shown = self.directors[i]
            .ns
            .exec("ipvsadm", ["-Ln", "--stats"])
            .unwrap_or_default();
        shown
            .lines()
            .filter(|l| l.starts_with("TCP") || l.starts_with("UDP"))
            .filter_map(|l| {
                let mut words = l.split_whitespace().skip(1);
                let service = words.next()?.to_string();
                Some((service, words.next()?.parse().ok()?))
            })
            .collect()
    }

    /// The established connections to the echo service in director `i`'s connection table:
    /// those it scheduled, and those the other directors' sync daemons told it of.
    pub fn known_flows(&self, i: usize) -> usize {
        let shown = self.directors[i]
            .ns
            .exec("ipvsadm", ["-Lnc"])
            .unwrap_or_default();
        (shown.lines())
            .filter(|l| l.contains(ECHO) && l.contains("ESTABLISHED"))
            .count()
    }

    /// The connections director `i` has scheduled, all services.
    pub fn carried_total(&self, i: usize) -> u64 {
        self.carried(i).values().sum()
    }
}

impl Drop for EcmpLab {
    fn drop(&mut self) {
        for d in &mut self.directors {
            if let Some(mut run) = d.run.take() {
                let _ = run.signal(libc::SIGTERM);
                let _ = run.child.wait();
            }
        }
    }
}

/// Long-lived connections to the echo service: each sends a line every `every` and must get it
/// back from the same real server; one that errs, times out or changes server is broken.
pub struct Flows {
    stop: Arc<AtomicBool>,
    broken: Arc<Mutex<Vec<String>>>,
    exchanges: Arc<Mutex<u64>>,
    thread: JoinHandle<()>,
    /// How many were opened.
    pub opened: usize,
}

impl Flows {
    /// Opens `n` connections from `client` to [`ECHO`] and keeps them talking.
    pub fn open(client: &NetNs, n: usize, every: Duration) -> Flows {
        let addr: SocketAddr = ECHO.parse().expect("address");
        let stop = Arc::new(AtomicBool::new(false));
        let broken = Arc::new(Mutex::new(Vec::new()));
        let exchanges = Arc::new(Mutex::new(0));
        let (stopping, breaks, count) = (stop.clone(), broken.clone(), exchanges.clone());
        let (ready_tx, ready) = std::sync::mpsc::channel();
        let thread = client
            .spawn(move || {
                let mut conns = Vec::new();
                for i in 0..n {
                    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(3))
                        .expect("a flow opens");
                    s.set_read_timeout(Some(Duration::from_secs(5)))
                        .expect("timeout");
                    let mut reader = BufReader::new(s.try_clone().expect("clone"));
                    let mut w = s;
                    writeln!(w, "hello {i}").expect("send");
                    let mut line = String::new();
                    reader.read_line(&mut line).expect("the first answer");
                    let server = line
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    conns.push(Some((w, reader, server)));
                }
                let _ = ready_tx.send(());
                let mut round = 0u64;
                while !stopping.load(Ordering::Relaxed) {
                    round += 1;
                    for (i, slot) in conns.iter_mut().enumerate() {
                        let Some((w, r, server)) = slot else { continue };
                        let mut line = String::new();
                        let ok = writeln!(w, "round {round}").is_ok()
                            && r.read_line(&mut line).is_ok()
                            && line == format!("{server} round {round}\n");
                        if ok {
                            *count.lock().expect("count") += 1;
                        } else {
                            breaks.lock().expect("broken").push(format!(
                                "flow {i} (to {server}) in round {round}: got {line:?}"
                            ));
                            *slot = None;
                        }
                    }
                    std::thread::sleep(every);
                }
            })
            .expect("the flows start");
        ready.recv().expect("the flows opened");
        Flows {
            stop,
            broken,
            exchanges,
            thread,
            opened: n,
        }
    }

    /// The exchanges that succeeded so far.
    pub fn exchanges(&self) -> u64 {
        *self.exchanges.lock().expect("count")
    }

    /// Stops; returns the broken flows, each with what happened.
    pub fn finish(self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the flows ran");
        std::mem::take(&mut *self.broken.lock().expect("broken"))
    }
}
