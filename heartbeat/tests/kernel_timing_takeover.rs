//! Kernel tests: two `node` processes (the example) in two network namespaces, real UDP
//! between them, real link events from rtnetlink. The public path goes through a bridge in a
//! third namespace (a switch, so one node's link going down does not take the other's carrier
//! with it); the private path is a direct veth pair.
//!
//! Run with `cargo xtask test` (root, in the rig), which runs this binary under qemu with 2 CPUs
//! (`kernel_timing*`): with 100 ms heartbeats, UML's single CPU under load made a node miss its
//! peer for a deadtime. Packets only cross the interfaces these tests create.

use std::io::{BufRead, BufReader};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use testkit::{Capture, NetNs};

const A_PUB: &str = "10.61.0.1";
const B_PUB: &str = "10.61.0.2";
const A_PRIV: &str = "10.62.0.1";
const B_PRIV: &str = "10.62.0.2";

/// How long any single expected line may take, at most (UML is slow to start processes).
const PATIENCE: Duration = Duration::from_secs(20);

struct Net {
    a: NetNs,
    b: NetNs,
    _switch: NetNs,
    /// A's public interface (in `a`).
    a_pub: String,
    /// B's public interface (in `b`).
    b_pub: String,
    key: std::path::PathBuf,
}

fn net(private: bool) -> Net {
    let a = NetNs::new().expect("netns a");
    let b = NetNs::new().expect("netns b");
    let switch = NetNs::new().expect("netns switch");
    switch
        .ip(["link", "add", "br0", "type", "bridge"])
        .expect("bridge");
    switch.ip(["link", "set", "br0", "up"]).expect("bridge up");
    let pid = std::process::id();
    let mut devs = Vec::new();
    for (ns, tag, addr) in [(&a, "a", A_PUB), (&b, "b", B_PUB)] {
        let dev = format!("hb{tag}{pid}");
        let port = format!("sw{tag}{pid}");
        ns.ip([
            "link",
            "add",
            &dev,
            "type",
            "veth",
            "peer",
            "name",
            &port,
            "netns",
            switch.name(),
        ])
        .expect("veth to the switch");
        ns.ip(["address", "add", &format!("{addr}/24"), "dev", &dev])
            .expect("address");
        ns.ip(["link", "set", &dev, "up"]).expect("up");
        switch
            .ip(["link", "set", &port, "master", "br0", "up"])
            .expect("port");
        devs.push(dev);
    }
    if private {
        a.veth(&format!("{A_PRIV}/24"), &b, &format!("{B_PRIV}/24"))
            .expect("private veth");
    }
    let key = std::env::temp_dir().join(format!("heartbeat-key-{pid}"));
    std::fs::write(&key, b"kernel test key: 32 bytes long!!").expect("key file");
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("the owner's alone");
    let b_pub = devs.pop().expect("b dev");
    let a_pub = devs.pop().expect("a dev");
    Net {
        a,
        b,
        _switch: switch,
        a_pub,
        b_pub,
        key,
    }
}

/// One line of a node's output.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    ms: u128,
    role: String,
    reason: String,
}

struct Node {
    name: &'static str,
    child: Child,
    lines: mpsc::Receiver<Line>,
    seen: Vec<Line>,
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis()
}

impl Node {
    fn start(name: &'static str, ns: &NetNs, args: &[&str]) -> Node {
        let exe = testkit::example("lvs-heartbeat", "node");
        let mut child = ns
            .command(&exe)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node starts");
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                let mut f = line.split_whitespace();
                let parsed = (|| {
                    Some(Line {
                        ms: f.next()?.parse().ok()?,
                        role: f.next()?.to_owned(),
                        reason: f.next()?.to_owned(),
                    })
                })();
                let Some(l) = parsed else {
                    panic!("unexpected output line {line:?}");
                };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Node {
            name,
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Waits for a line with this role (and reason, if given).
    fn expect(&mut self, role: &str, reason: Option<&str>) -> Line {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.role == role && reason.is_none_or(|r| r == l.reason) {
                        return l;
                    }
                }
                Err(_) => panic!(
                    "{}: no `{role} {reason:?}` line within {PATIENCE:?}; saw {:?}",
                    self.name, self.seen
                ),
            }
        }
    }

    /// Lines printed so far that were not waited for.
    fn drain(&mut self) -> Vec<Line> {
        let new: Vec<Line> = self.lines.try_iter().collect();
        self.seen.extend(new.iter().cloned());
        new
    }

    fn signal(&self, sig: i32) {
        let pid = i32::try_from(self.child.id()).expect("pid");
        // SAFETY: kill(2) on our own child's pid, which has not been waited for yet.
        let rc = unsafe { libc::kill(pid, sig) };
        assert_eq!(rc, 0, "kill {}", self.name);
    }

    fn terminate(mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.child.wait().expect("wait")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn args<'a>(mode: &'a str, local: &'a str, peer: &'a str, timers: [&'a str; 2]) -> Vec<&'a str> {
    vec![
        "--mode",
        mode,
        "--local",
        local,
        "--peer",
        peer,
        "--keepalive",
        timers[0],
        "--deadtime",
        timers[1],
    ]
}

/// A (primary) active, B standby.
fn pair(n: &Net, mode: &str, timers: [&str; 2], extra: &[&str]) -> (Node, Node) {
    pair_with(n, mode, timers, extra, extra)
}

fn pair_with(
    n: &Net,
    mode: &str,
    timers: [&str; 2],
    a_extra: &[&str],
    b_extra: &[&str],
) -> (Node, Node) {
    let key = n.key.to_str().expect("path");
    let mut a_args = args(mode, A_PUB, B_PUB, timers);
    let mut b_args = args(mode, B_PUB, A_PUB, timers);
    a_args.push("--primary");
    for (v, extra) in [(&mut a_args, a_extra), (&mut b_args, b_extra)] {
        if mode == "auth" {
            v.extend(["--key-file", key]);
        }
        v.extend(extra);
    }
    let mut a = Node::start("a", &n.a, &a_args);
    a.expect("STANDBY", Some("startup"));
    let mut b = Node::start("b", &n.b, &b_args);
    b.expect("STANDBY", Some("startup"));
    a.expect("ACTIVE", None);
    (a, b)
}

fn kill_and_measure(mode: &str) {
    let n = net(false);
    let (mut a, mut b) = pair(&n, mode, ["100ms", "300ms"], &[]);
    // Stable for a while: no role change on either side.
    std::thread::sleep(Duration::from_millis(1000));
    assert!(
        a.drain().is_empty() && b.drain().is_empty(),
        "{mode}: flapping"
    );
    let killed = now_ms();
    a.signal(libc::SIGKILL);
    let line = b.expect("ACTIVE", Some("peer-dead"));
    let took = line.ms.saturating_sub(killed);
    eprintln!("{mode}: takeover {took} ms after SIGKILL (keepalive 100 ms, deadtime 300 ms)");
    // The peer may have been heard up to a keepalive (plus its own wake-up lateness) before the
    // kill; the deadtime counts from then. So: from deadtime - keepalive (less slack for a late
    // sender) to deadtime + keepalive (plus scheduling slack of the 1-CPU rig).
    assert!(took >= 150, "{mode}: took over too early: {took} ms");
    assert!(
        took <= 300 + 100 + 150,
        "{mode}: took over too late: {took} ms"
    );
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn auth_active_killed_standby_takes_over_after_the_deadtime() {
    kill_and_measure("auth");
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn piranha_active_killed_standby_takes_over_after_the_deadtime() {
    kill_and_measure("piranha");
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn sigterm_resigns_and_the_peer_takes_over_at_once() {
    let n = net(false);
    // A long deadtime: a takeover within it can only come from the resignation.
    let (a, mut b) = pair(&n, "auth", ["100ms", "10s"], &[]);
    let asked = now_ms();
    let status = a.terminate();
    assert!(status.success(), "clean exit: {status:?}");
    let line = b.expect("ACTIVE", Some("peer-resigned"));
    let took = line.ms.saturating_sub(asked);
    eprintln!("resign: takeover {took} ms after SIGTERM");
    assert!(took < 2000, "{took} ms");
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn link_down_hands_over_through_the_private_path() {
    let n = net(true);
    let private = ["--private-local", A_PRIV, "--private-peer", B_PRIV];
    let private_b = ["--private-local", B_PRIV, "--private-peer", A_PRIV];
    let key = n.key.to_str().expect("path");
    let timers = ["100ms", "10s"];
    let mut a_args = args("auth", A_PUB, B_PUB, timers);
    a_args.extend(["--primary", "--key-file", key]);
    a_args.extend(private);
    let mut b_args = args("auth", B_PUB, A_PUB, timers);
    b_args.extend(["--key-file", key]);
    b_args.extend(private_b);
    let mut a = Node::start("a", &n.a, &a_args);
    a.expect("STANDBY", Some("startup"));
    let mut b = Node::start("b", &n.b, &b_args);
    b.expect("STANDBY", Some("startup"));
    a.expect("ACTIVE", None);

    let t = now_ms();
    n.a.ip(["link", "set", &n.a_pub, "down"])
        .expect("link down");
    a.expect("STANDBY", Some("link-down-path-0"));
    // A tells B over the private path that it cannot serve: B takes over long before the
    // 10 s deadtime.
    let line = b.expect("ACTIVE", Some("peer-inactive"));
    eprintln!(
        "link down: takeover {} ms after the link went down",
        line.ms.saturating_sub(t)
    );
    assert!(line.ms.saturating_sub(t) < 5000);
    // B's own link is fine (it hangs off the switch).
    n.b.ip(["link", "show", "dev", &n.b_pub]).expect("b link");

    // Link back: A stays standby (no failback), B stays active.
    n.a.ip(["link", "set", &n.a_pub, "up"]).expect("link up");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(a.drain().is_empty(), "a: {:?}", a.seen);
    assert!(b.drain().is_empty(), "b: {:?}", b.seen);
    assert!(a.terminate().success());
    assert!(b.terminate().success());
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn failback_primary_returns_and_takes_over() {
    let n = net(false);
    let (a, mut b) = pair(&n, "auth", ["100ms", "300ms"], &["--failback"]);
    a.signal(libc::SIGKILL);
    b.expect("ACTIVE", Some("peer-dead"));
    drop(a);
    let key = n.key.to_str().expect("path");
    let mut a_args = args("auth", A_PUB, B_PUB, ["100ms", "300ms"]);
    a_args.extend(["--primary", "--key-file", key, "--failback"]);
    a_args.extend(["--preempt-delay", "500ms"]);
    let mut a = Node::start("a", &n.a, &a_args);
    let start = a.expect("STANDBY", Some("startup"));
    let back = a.expect("ACTIVE", Some("preempt"));
    assert!(
        back.ms - start.ms >= 500,
        "preempt delay kept: {:?}",
        back.ms - start.ms
    );
    b.expect("STANDBY", Some("peer-active"));
}

/// The reference bytes of piranha.md §2.3 (little-endian host), and the same words in big-endian.
const RUNNING_LE: [u8; 4] = [0xda, 0xdb, 0xad, 0xbd];
const STOPPED_LE: [u8; 4] = [0xbd, 0xda, 0xbd, 0xad];

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn pulse_heartbeats_on_the_wire_are_piranhas_and_tshark_decodes_them() {
    let n = net(false);
    let pcap = std::env::temp_dir().join(format!("pulse-{}.pcap", std::process::id()));
    let mut capture =
        Capture::start(&n.b, &n.b_pub, "udp port 539", Duration::from_secs(60)).expect("capture");
    let _ = std::fs::remove_file(&pcap);
    let mut file = Capture::to_file(
        &n.b,
        &n.b_pub,
        "udp port 539",
        12,
        &pcap,
        Duration::from_secs(60),
    )
    .expect("tcpdump to a file");

    // A sends little-endian (as on x86), B big-endian (as an s390x pulse would).
    let (a, b) = pair_with(
        &n,
        "piranha",
        ["100ms", "300ms"],
        &["--byte-order", "little"],
        &["--byte-order", "big"],
    );
    let mut from_a = std::collections::HashSet::new();
    let mut frames = 0;
    while frames < 12 || from_a.len() < 2 {
        let f = capture.next_frame().expect("frame");
        frames += 1;
        // Ethernet 14 + IPv4 20 + UDP 8, then exactly 4 bytes.
        assert_eq!(f.data.len(), 14 + 20 + 8 + 4, "{:02x?}", f.data);
        let src: [u8; 4] = f.data[26..30].try_into().expect("src");
        let payload: [u8; 4] = f.data[42..46].try_into().expect("payload");
        assert_eq!(
            u16::from_be_bytes([f.data[34], f.data[35]]),
            539,
            "source port"
        );
        assert_eq!(
            u16::from_be_bytes([f.data[36], f.data[37]]),
            539,
            "destination port"
        );
        match src {
            [10, 61, 0, 1] => {
                assert!(
                    payload == RUNNING_LE || payload == STOPPED_LE,
                    "a: {payload:02x?}"
                );
                from_a.insert(payload);
            }
            [10, 61, 0, 2] => {
                // The backup stays standby: STOPPED, big-endian.
                let mut be = STOPPED_LE;
                be.reverse();
                assert_eq!(payload, be, "b");
            }
            _ => panic!("unexpected source {src:?}"),
        }
    }
    drop((a, b));
    drop(capture);
    assert!(file.wait().expect("tcpdump").success());

    // tshark with the pulse dissector.
    let out =
        n.b.exec(
            "tshark",
            [
                "-r",
                pcap.to_str().expect("path"),
                "-d",
                "udp.port==539,pulse",
                "-T",
                "fields",
                "-e",
                "ip.src",
                "-e",
                "_ws.col.Protocol",
                "-e",
                "pulse.magic",
                "-e",
                "udp.payload",
            ],
        )
        .expect("tshark");
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 12, "{out}");
    let mut kinds = std::collections::HashSet::new();
    for r in &rows {
        assert_eq!(r[1], "PULSE", "{out}");
        let expected_payload = match (r[0], r[2]) {
            (A_PUB, "0xbdaddbda") => "dadbadbd",
            (A_PUB, "0xadbddabd") => "bddabdad",
            (B_PUB, "0xbdaddbda") => "bdaddbda",
            (B_PUB, "0xadbddabd") => "adbddabd",
            _ => panic!("unexpected row {r:?} in\n{out}"),
        };
        assert_eq!(r[3], expected_payload, "{out}");
        kinds.insert((r[0], r[2]));
    }
    assert!(
        kinds.contains(&(B_PUB, "0xadbddabd")),
        "B's big-endian STOPPED decoded: {out}"
    );
    let _ = std::fs::remove_file(&pcap);
}
