//! The seed's NAT deployment (`lvscf/tests/fixtures/seed/README.md`, topology 1) in network
//! namespaces, shared by the kernel tests, by `examples/demo.rs` (`cargo xtask demo`) and by the
//! side-by-side failover benchmark (`benches/src/bin/failover.rs`):
//!
//! ```text
//!   client 192.168.1.1 ──┐ lan (bridge)               dmz (bridge) ┌── rs1 10.0.0.100 (httpd)
//!                        ├── eth0 192.168.1.10  router1  eth1 10.0.0.10 ──┤
//!                        └── eth0 192.168.1.20  router2  eth1 10.0.0.20 ──┴── rs2 10.0.0.200 (httpd)
//! ```
//! The VIP 192.168.1.250 goes on the active router's `eth0:1` and the real servers' gateway
//! 10.0.0.254 on its `eth1:1`. Packets only travel between these namespaces.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    sync::{
        Arc, Condvar, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use testkit::{Logged, NetNs};

/// The seed's virtual server.
pub const VIP: &str = "192.168.1.250:80";

/// The seed's single-router `lvs.cf`, unchanged.
pub const SEED_NAT: &str =
    include_str!("../../../../lvscf/tests/fixtures/seed/01-nat-single-router.cf");

/// The seed's lvs.cf with some values changed through lvscf's layout-keeping edits: `globals`
/// at the top level, `http` in `virtual HTTP`. Everything else stays byte for byte.
pub fn seed_config(globals: &[(&str, &str)], http: &[(&str, &str)]) -> String {
    let mut doc = lvscf::Document::parse(SEED_NAT).expect("the seed parses");
    for (key, value) in globals {
        doc.globals_mut().set(key, value).expect("a valid global");
    }
    let mut virt = doc.virtual_mut("HTTP").expect("the seed's virtual server");
    for (key, value) in http {
        virt.set(key, value)
            .expect("a valid virtual server setting");
    }
    doc.to_string()
}

/// The seed pair's file: the single router's, with the backup router named.
pub fn seed_pair_config(globals: &[(&str, &str)], http: &[(&str, &str)]) -> String {
    let mut all = vec![("backup", "192.168.1.20"), ("backup_private", "10.0.0.20")];
    all.extend_from_slice(globals);
    seed_config(&all, http)
}

/// An lvs.cf in a temporary file, removed on drop.
pub struct ConfigFile(pub PathBuf);

impl ConfigFile {
    /// Writes `text` to a file named after `name` and this process.
    pub fn new(name: &str, text: &str) -> ConfigFile {
        let path = std::env::temp_dir().join(format!("director-{name}-{}.cf", std::process::id()));
        std::fs::write(&path, text).expect("config");
        ConfigFile(path)
    }

    /// Replaces the file's text.
    pub fn write(&self, text: &str) {
        std::fs::write(&self.0, text).expect("config");
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The control socket of the director running in `ns` (each has its own).
pub fn socket_of(ns: &NetNs) -> PathBuf {
    std::env::temp_dir().join(format!("director-{}.sock", ns.name()))
}

/// Starts `BIN run --config FILE --socket SOCKET ARGS…` in `ns` (the socket: [`socket_of`]),
/// its log lines echoed with `tag`.
pub fn start_director(bin: &Path, ns: &NetNs, config: &Path, tag: &str, args: &[&str]) -> Logged {
    let mut cmd = ns.command(bin);
    cmd.args(["run", "--config"])
        .arg(config)
        .arg("--socket")
        .arg(socket_of(ns))
        .args(args);
    Logged::spawn(cmd, tag).expect("the director starts")
}

/// A real HTTP server we did not write: busybox httpd, serving `name` as its index page.
pub struct Httpd {
    /// The server process.
    pub process: Logged,
    root: PathBuf,
}

impl Httpd {
    /// Starts busybox httpd in `ns` bound to `bind` (e.g. `10.0.0.100:80`).
    pub fn start(ns: &NetNs, bind: &str, name: &str) -> Httpd {
        let root = std::env::temp_dir().join(format!(
            "director-httpd-{}-{name}-{}",
            std::process::id(),
            bind.replace([':', '.', '[', ']'], "_")
        ));
        std::fs::create_dir_all(&root).expect("docroot");
        std::fs::write(root.join("index.html"), name).expect("index");
        let mut cmd = ns.command("busybox");
        cmd.args(["httpd", "-f", "-p", bind, "-h"]).arg(&root);
        let process = Logged::spawn(cmd, name).expect("busybox httpd");
        Httpd { process, root }
    }
}

impl Drop for Httpd {
    fn drop(&mut self) {
        let _ = self.process.child.kill();
        let _ = self.process.child.wait();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// One HTTP/1.0 GET from `client` to `addr`: the body.
pub fn get(client: &NetNs, addr: &str) -> std::io::Result<String> {
    let addr: SocketAddr = addr.parse().expect("address");
    client
        .run(move || fetch(addr, Duration::from_secs(3)))
        .expect("netns")
}

/// A GET on a socket of the calling thread's namespace: the body.
fn fetch(addr: SocketAddr, limit: Duration) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, limit)?;
    s.set_read_timeout(Some(limit))?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    match out.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.") => Ok(body.to_string()),
        _ => Err(std::io::Error::other(format!("not an HTTP reply: {out:?}"))),
    }
}

/// Renames an interface (the same lvs.cf serves both routers, so their devices are named alike,
/// as on real machines).
pub fn rename(ns: &NetNs, from: &str, to: &str) {
    ns.ip(["link", "set", from, "down"]).expect("down");
    ns.ip(["link", "set", from, "name", to]).expect("rename");
    ns.ip(["link", "set", to, "up"]).expect("up");
}

/// The first veth interface of `ns` (a client's or a real server's only one).
pub fn veth(ns: &NetNs) -> String {
    let shown = ns.ip(["-o", "link", "show", "type", "veth"]).expect("link");
    shown
        .lines()
        .next()
        .and_then(|l| l.split(':').nth(1))
        .and_then(|d| d.trim().split('@').next())
        .expect("a veth")
        .to_string()
}

/// The seed's NAT network with one or two routers and two real servers serving `rs1`, `rs2`.
pub struct NatLab {
    /// The real servers' httpd (`None` while stopped); dropped before the namespaces.
    pub httpd: Vec<Option<Httpd>>,
    /// Their httpd on IPv6 ([`NatLab::enable_ipv6`]).
    pub httpd6: Vec<Option<Httpd>>,
    /// The client, on the public LAN.
    pub client: NetNs,
    /// The routers: 192.168.1.10 (the primary), then 192.168.1.20.
    pub routers: Vec<NetNs>,
    /// The real servers 10.0.0.100 and 10.0.0.200.
    pub servers: Vec<NetNs>,
    switch: NetNs,
}

/// The real servers' addresses in the seed.
pub const REAL_SERVERS: [&str; 2] = ["10.0.0.100", "10.0.0.200"];

impl NatLab {
    /// Builds the network with `routers` routers (1 or 2), their `eth0` and `eth1` named as in
    /// the seed and `ip_forward` on, and starts the real servers.
    pub fn new(routers: usize) -> NatLab {
        let switch = NetNs::new().expect("switch");
        switch.bridge("lan").expect("public LAN");
        switch.bridge("dmz").expect("private LAN");
        let client = NetNs::new().expect("client");
        client
            .attach(&switch, "lan", "192.168.1.1/24")
            .expect("client");
        let mut servers = Vec::new();
        for addr in REAL_SERVERS {
            let ns = NetNs::new().expect("real server");
            ns.attach(&switch, "dmz", &format!("{addr}/16"))
                .expect("real server");
            ns.ip(["route", "add", "default", "via", "10.0.0.254"])
                .expect("route");
            servers.push(ns);
        }
        let mut nodes = Vec::new();
        for n in [10, 20].into_iter().take(routers) {
            let ns = NetNs::new().expect("router");
            let public = ns
                .attach(&switch, "lan", &format!("192.168.1.{n}/24"))
                .expect("public");
            let private = ns
                .attach(&switch, "dmz", &format!("10.0.0.{n}/16"))
                .expect("private");
            rename(&ns, public.name(), "eth0");
            rename(&ns, private.name(), "eth1");
            ns.exec("sysctl", ["-qw", "net.ipv4.ip_forward=1"])
                .expect("forwarding");
            nodes.push(ns);
        }
        let mut lab = NatLab {
            httpd: vec![None, None],
            httpd6: vec![None, None],
            client,
            routers: nodes,
            servers,
            switch,
        };
        lab.start_server(0);
        lab.start_server(1);
        lab
    }

    /// Adds IPv6 to the network: the client fd00:1::1 and the routers fd00:1::10, ::20 on the
    /// public LAN; the routers fd00:10::10, ::20 and the real servers fd00:10::100, ::200 on
    /// the private one (the real servers' gateway fd00:10::254), and httpd on the real
    /// servers' IPv6 addresses too.
    pub fn enable_ipv6(&mut self) {
        let add = |ns: &NetNs, addr: &str, dev: &str| {
            ns.ip(["-6", "address", "add", addr, "dev", dev, "nodad"])
                .expect("IPv6 address");
        };
        add(&self.client, "fd00:1::1/64", &veth(&self.client));
        for (i, r) in self.routers.iter().enumerate() {
            let n = 10 * (i + 1);
            add(r, &format!("fd00:1::{n}/64"), "eth0");
            add(r, &format!("fd00:10::{n}/64"), "eth1");
            r.exec("sysctl", ["-qw", "net.ipv6.conf.all.forwarding=1"])
                .expect("forwarding");
        }
        for (i, s) in self.servers.iter().enumerate() {
            add(s, &format!("fd00:10::{}/64", 100 * (i + 1)), &veth(s));
            s.ip(["-6", "route", "add", "default", "via", "fd00:10::254"])
                .expect("route");
        }
        for i in 0..2 {
            let bind = format!("[fd00:10::{}]:80", 100 * (i + 1));
            self.httpd6[i] = Some(Httpd::start(
                &self.servers[i],
                &bind,
                &format!("rs{}", i + 1),
            ));
        }
    }

    /// Starts real server `i`'s httpd (it serves `rs1` or `rs2`).
    pub fn start_server(&mut self, i: usize) {
        let bind = format!("{}:80", REAL_SERVERS[i]);
        let httpd = Httpd::start(&self.servers[i], &bind, &format!("rs{}", i + 1));
        self.httpd[i] = Some(httpd);
    }

    /// Stops real server `i`'s httpd: connections to it are refused.
    pub fn stop_server(&mut self, i: usize) {
        self.httpd[i] = None;
    }

    /// Makes a LAN's switch a hub: its ports stop learning addresses and forget those learned,
    /// so every frame is flooded to every host, as on a shared segment or a mirrored port (a
    /// third host then sees the routers' heartbeats).
    pub fn hub(&self, bridge: &str) {
        let ports = self
            .switch
            .ip(["-o", "link", "show", "master", bridge])
            .expect("the bridge's ports");
        for port in ports.lines().filter_map(|l| l.split(':').nth(1)) {
            let port = port.trim().split('@').next().expect("a name");
            self.switch
                .ip([
                    "link",
                    "set",
                    "dev",
                    port,
                    "type",
                    "bridge_slave",
                    "learning",
                    "off",
                    "fdb_flush",
                ])
                .expect("learning off");
        }
    }

    /// Takes router `i` off both LANs, as when the machine dies.
    pub fn unplug(&self, i: usize) {
        let switch = self.routers[i].link_switch().expect("link switch");
        for dev in ["eth0", "eth1"] {
            switch.set(dev, false).expect("link down");
        }
    }

    /// Puts router `i` back on both LANs.
    pub fn plug(&self, i: usize) {
        for dev in ["eth0", "eth1"] {
            self.routers[i]
                .ip(["link", "set", dev, "up"])
                .expect("link up");
        }
    }

    /// Router `i`'s IPv4 addresses on `dev`, as `ip -4 -o address show` prints them.
    pub fn addresses(&self, i: usize, dev: &str) -> String {
        self.routers[i]
            .ip(["-4", "-o", "address", "show", "dev", dev])
            .expect("ip address")
    }

    /// `ipvsadm ARGS` on router `i`.
    pub fn ipvsadm(&self, i: usize, args: &[&str]) -> String {
        self.routers[i].exec("ipvsadm", args).expect("ipvsadm")
    }
}

/// One request of a [`Prober`]: when it was sent, and which server answered (`None`: failed).
#[derive(Debug, Clone)]
pub struct Sample {
    /// When the request started.
    pub at: Instant,
    /// When the reply (or the failure) came.
    pub done: Instant,
    /// The body (the real server's name), or `None` when the request failed.
    pub server: Option<String>,
}

/// A client that keeps sending requests to the VIP, one every `every`, each with its own
/// connection (as a browser would after a failure), and records what happened.
pub struct Prober {
    stop: Arc<AtomicBool>,
    seen: Arc<(Mutex<Vec<Sample>>, Condvar)>,
    thread: JoinHandle<()>,
}

impl Prober {
    /// Starts probing `addr` from `client`; each request may take up to `limit`.
    pub fn start(client: &NetNs, addr: &str, every: Duration, limit: Duration) -> Prober {
        let addr: SocketAddr = addr.parse().expect("address");
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let (stopping, record) = (Arc::clone(&stop), Arc::clone(&seen));
        let thread = client
            .spawn(move || {
                let mut next = Instant::now();
                while !stopping.load(Ordering::Relaxed) {
                    let at = Instant::now();
                    let server = fetch(addr, limit).ok();
                    let (samples, added) = &*record;
                    samples.lock().expect("samples").push(Sample {
                        at,
                        done: Instant::now(),
                        server,
                    });
                    added.notify_all();
                    next += every;
                    let now = Instant::now();
                    if next > now {
                        std::thread::sleep(next - now);
                    } else {
                        next = now;
                    }
                }
            })
            .expect("the prober starts");
        Prober { stop, seen, thread }
    }

    /// Waits until a request sent after `t` was served (panics after `limit`).
    pub fn served_after(&self, t: Instant, limit: Duration) {
        let (samples, added) = &*self.seen;
        let guard = samples.lock().expect("samples");
        let (_guard, timeout) = added
            .wait_timeout_while(guard, limit, |s| {
                !s.iter().any(|s| s.at > t && s.server.is_some())
            })
            .expect("samples");
        assert!(!timeout.timed_out(), "no request served within {limit:?}");
    }

    /// Stops and returns what was seen.
    pub fn finish(self) -> Timeline {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the prober ran");
        let samples = std::mem::take(&mut *self.seen.0.lock().expect("samples"));
        Timeline { samples }
    }
}

/// What a [`Prober`] saw.
#[derive(Debug)]
pub struct Timeline {
    /// Every request, in order.
    pub samples: Vec<Sample>,
}

impl Timeline {
    /// The outage a client saw around an event at `from`: the longest time between two
    /// successive successful replies, of those that came after `from` (the first of them
    /// measured from the last success before), as (last reply before, first reply after).
    /// `None` when nothing succeeded after `from`. Measured between replies, so it does not
    /// depend on exactly when the event took effect.
    pub fn outage(&self, from: Instant) -> Option<(Instant, Instant)> {
        let ok: Vec<Instant> = self
            .samples
            .iter()
            .filter(|s| s.server.is_some())
            .map(|s| s.done)
            .collect();
        let first_after = ok.iter().position(|t| *t > from)?;
        let since = first_after.saturating_sub(1);
        ok[since..]
            .windows(2)
            .map(|w| (w[0], w[1]))
            .max_by_key(|(a, b)| *b - *a)
            .or(Some((ok[since], ok[since])))
    }

    /// How long the outage around `from` lasted ([`Timeline::outage`]).
    pub fn downtime(&self, from: Instant) -> Option<Duration> {
        self.outage(from).map(|(a, b)| b - a)
    }

    /// The requests sent between `from` and `to` that failed.
    pub fn failures(&self, from: Instant, to: Instant) -> usize {
        self.samples
            .iter()
            .filter(|s| s.at >= from && s.at < to && s.server.is_none())
            .count()
    }

    /// The requests sent between `from` and `to` that succeeded.
    pub fn successes(&self, from: Instant, to: Instant) -> usize {
        self.samples
            .iter()
            .filter(|s| s.at >= from && s.at < to && s.server.is_some())
            .count()
    }

    /// The servers that answered.
    pub fn servers(&self) -> std::collections::BTreeSet<String> {
        self.samples
            .iter()
            .filter_map(|s| s.server.clone())
            .collect()
    }
}

/// A pseudo-random time in `[0, limit)`, from the clock (good enough to spread the moments of
/// death over the heartbeat period).
pub fn random_below(limit: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    // splitmix64's finalizer, to spread nearby clock readings.
    let mut z = u64::from(nanos).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    limit.mul_f64((z >> 11) as f64 / (1u64 << 53) as f64)
}
