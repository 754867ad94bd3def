//! Takeover benchmark and soak, on the host (root): two network namespaces joined by a veth
//! pair, two `node` processes (the example, built next to this one), one active.
//!
//! ```text
//! cargo build --release -p lvs-heartbeat --examples
//! target/release/examples/takeover_bench [--runs 20] [--mode auth|piranha] [--timers 100ms/300ms]...
//! target/release/examples/takeover_bench --soak 10m [--timers 50ms/150ms] [--burn 2]
//! ```
//!
//! Takeover: SIGKILL the active node's process, and measure from just before `kill(2)` to the
//! time stamp of the standby's `ACTIVE` line (taken by the standby when it decided). The kill
//! comes at a random moment of the heartbeat period. The killed node is restarted (it comes
//! back standby), and the next run kills the other one. Prints every run, then median and worst.
//!
//! Soak: both nodes run for the given time while `--burn N` busy-looping processes (default 2,
//! one per core) compete for the CPUs; every role change after the start is a false takeover.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use humantime::parse_duration;
use testkit::NetNs;

const ADDR: [&str; 2] = ["10.71.0.1", "10.71.0.2"];

struct Line {
    ms: u128,
    role: String,
    reason: String,
}

struct Node {
    child: Child,
    lines: mpsc::Receiver<Line>,
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

fn node_exe() -> std::path::PathBuf {
    let me = std::env::current_exe().expect("own path");
    me.with_file_name("node")
}

struct Setup {
    ns: [NetNs; 2],
    mode: String,
    keepalive: String,
    deadtime: String,
    key: std::path::PathBuf,
}

impl Setup {
    fn start(&self, i: usize) -> Node {
        let mut args = vec![
            "--mode",
            self.mode.as_str(),
            "--local",
            ADDR[i],
            "--peer",
            ADDR[1 - i],
            "--keepalive",
            self.keepalive.as_str(),
            "--deadtime",
            self.deadtime.as_str(),
        ];
        if i == 0 {
            args.push("--primary");
        }
        let key = self.key.to_string_lossy().into_owned();
        if self.mode == "auth" {
            args.push("--key-file");
            args.push(&key);
        }
        let mut child = self.ns[i]
            .command(node_exe())
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node starts");
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                let f: Vec<&str> = line.split_whitespace().collect();
                if let [ms, role, reason] = f[..] {
                    let l = Line {
                        ms: ms.parse().unwrap_or(0),
                        role: role.into(),
                        reason: reason.into(),
                    };
                    if tx.send(l).is_err() {
                        break;
                    }
                }
            }
        });
        Node { child, lines: rx }
    }
}

impl Node {
    fn wait_for(&self, role: &str, within: Duration) -> Line {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.role == role => return l,
                Ok(_) => {}
                Err(_) => panic!("no {role} line within {within:?}"),
            }
        }
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn random_below(d: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos());
    // A cheap mix of the clock's low bits: good enough to spread the kill over the period.
    let x = u64::from(nanos).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 11;
    Duration::from_nanos(x % (d.as_nanos().max(1) as u64))
}

fn setup(mode: &str, keepalive: &str, deadtime: &str) -> Setup {
    let a = NetNs::new().expect("netns");
    let b = NetNs::new().expect("netns");
    let veth = a
        .veth(&format!("{}/24", ADDR[0]), &b, &format!("{}/24", ADDR[1]))
        .expect("veth");
    // The kernel reports a new veth's carrier with a delay (link watch, up to a second); until
    // then a node sees its link down and cannot take over. Start once both ends are up.
    let deadline = Instant::now() + Duration::from_secs(10);
    for (ns, dev) in [(&a, veth.name()), (&b, veth.peer_name())] {
        while ns
            .ip(["-brief", "link", "show", "dev", dev])
            .expect("ip link")
            .split_whitespace()
            .nth(1)
            .is_none_or(|state| state != "UP")
        {
            assert!(Instant::now() < deadline, "{dev} is not up");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let key = std::env::temp_dir().join(format!("takeover-bench-key-{}", std::process::id()));
    std::fs::write(&key, b"benchmark key, at least 16 bytes").expect("key");
    // A key readable by others is refused.
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("the key is the owner's alone");
    Setup {
        ns: [a, b],
        mode: mode.into(),
        keepalive: keepalive.into(),
        deadtime: deadtime.into(),
        key,
    }
}

fn takeover(mode: &str, timers: &str, runs: usize) {
    let (keepalive, deadtime) = timers.split_once('/').expect("--timers KEEPALIVE/DEADTIME");
    let ka = parse_duration(keepalive).expect("keepalive");
    let dt = parse_duration(deadtime).expect("deadtime");
    let patience = dt * 4 + Duration::from_secs(10);
    let s = setup(mode, keepalive, deadtime);
    let mut nodes: [Option<Node>; 2] = [Some(s.start(0)), None];
    if let Some(n) = &nodes[0] {
        n.wait_for("STANDBY", patience);
    }
    nodes[1] = Some(s.start(1));
    if let Some(n) = &nodes[0] {
        n.wait_for("ACTIVE", patience);
    }
    let mut active = 0;
    let mut times = Vec::new();
    for run in 0..runs {
        // Let the standby hear the active one for a while, then kill at a random phase.
        std::thread::sleep(ka * 3 + random_below(ka));
        let standby = 1 - active;
        let killed_at = now_ms();
        if let Some(n) = nodes[active].take() {
            n.kill();
        }
        let line = match &nodes[standby] {
            Some(n) => n.wait_for("ACTIVE", patience),
            None => unreachable!("both nodes run between runs"),
        };
        let took = line.ms.saturating_sub(killed_at);
        println!(
            "{mode} {timers} run {:2}: {took} ms ({})",
            run + 1,
            line.reason
        );
        times.push(took);
        // Restart the killed node; it comes back standby.
        let n = s.start(active);
        n.wait_for("STANDBY", patience);
        nodes[active] = Some(n);
        active = standby;
    }
    times.sort_unstable();
    let median = if times.len() % 2 == 1 {
        times[times.len() / 2] as f64
    } else {
        (times[times.len() / 2 - 1] + times[times.len() / 2]) as f64 / 2.0
    };
    println!(
        "RESULT {mode} keepalive {keepalive} deadtime {deadtime}: median {median} ms, worst {} ms, best {} ms, {} runs",
        times.last().copied().unwrap_or(0),
        times.first().copied().unwrap_or(0),
        times.len()
    );
}

fn soak(mode: &str, timers: &str, length: Duration, burn: usize) {
    let (keepalive, deadtime) = timers.split_once('/').expect("--timers KEEPALIVE/DEADTIME");
    let s = setup(mode, keepalive, deadtime);
    let a = s.start(0);
    a.wait_for("STANDBY", Duration::from_secs(10));
    let b = s.start(1);
    b.wait_for("STANDBY", Duration::from_secs(10));
    a.wait_for("ACTIVE", Duration::from_secs(10));
    let mut burners: Vec<Child> = (0..burn)
        .map(|_| {
            Command::new("sh")
                .args(["-c", "while :; do :; done"])
                .spawn()
                .expect("busy loop")
        })
        .collect();
    println!("soak: {mode} {timers} for {length:?} with {burn} busy loops; A active, B standby");
    let start = Instant::now();
    let mut changes = Vec::new();
    while start.elapsed() < length {
        for (name, n) in [("A", &a), ("B", &b)] {
            while let Ok(l) = n.lines.try_recv() {
                println!("  change: {name} {} {} {}", l.ms, l.role, l.reason);
                changes.push((name, l.role, l.reason));
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    for b in &mut burners {
        let _ = b.kill();
        let _ = b.wait();
    }
    println!(
        "RESULT soak {mode} {timers} {length:?}, {burn} busy loops: {} role changes (false takeovers)",
        changes.len()
    );
    drop((a, b));
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 20;
    let mut modes = Vec::new();
    let mut timers = Vec::new();
    let mut soak_for = None;
    let mut burn = 2;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().expect("a value after the flag");
        match a.as_str() {
            "--runs" => runs = value().parse().expect("--runs N"),
            "--mode" => modes.push(value()),
            "--timers" => timers.push(value()),
            "--soak" => soak_for = Some(parse_duration(&value()).expect("--soak DURATION")),
            "--burn" => burn = value().parse().expect("--burn N"),
            other => panic!("unknown argument {other:?}"),
        }
    }
    if modes.is_empty() {
        modes.push("auth".into());
    }
    if let Some(length) = soak_for {
        let t = timers
            .first()
            .cloned()
            .unwrap_or_else(|| "50ms/150ms".into());
        soak(&modes[0], &t, length, burn);
        return;
    }
    if timers.is_empty() {
        timers = vec!["100ms/300ms".into(), "50ms/150ms".into(), "2s/5s".into()];
    }
    for mode in &modes {
        for t in &timers {
            takeover(mode, t, runs);
        }
    }
}
