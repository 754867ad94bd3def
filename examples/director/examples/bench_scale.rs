//! The director at scale: a standalone router with N virtual services (2 real servers each,
//! checked every 6 s as in the seed), in namespaces. Measures the time from start to the full
//! table, the director's memory, and the time from SIGHUP to the applied diff for a 1% change
//! and for an unchanged file.
//!
//! ```text
//! cargo build --release -p director --bin director --example bench_scale
//! cargo xtask vm --backend qemu --cpus 2 -- target/release/examples/bench_scale \
//!     --director target/release/director --services 1000
//! ```
//! Root and IPVS needed (the rig). Packets only go between the namespaces it creates.

use std::{
    io::{Read, Write},
    net::TcpListener,
    path::PathBuf,
    time::{Duration, Instant},
};

use clap::Parser;
use testkit::{Logged, NetNs};

#[derive(Parser)]
struct Cli {
    /// The director binary.
    #[arg(long)]
    director: PathBuf,
    /// Virtual services.
    #[arg(long, default_value_t = 1000)]
    services: usize,
    /// Reloads of each kind.
    #[arg(long, default_value_t = 10)]
    reloads: usize,
}

/// Real server addresses (each serves many services).
const REAL_SERVERS: usize = 20;

fn vip(i: usize) -> String {
    format!("10.200.{}.{}", i / 250, i % 250 + 1)
}

fn real_server(i: usize) -> String {
    format!("10.1.1.{}", i % REAL_SERVERS + 1)
}

/// The configuration; the first `changed` services have weight `weight` instead of 1.
fn config(services: usize, changed: usize, weight: u32) -> String {
    let mut out = String::from(
        "serial_no = 1\nprimary = 10.1.0.1\nservice = lvs\nbackup_active = 0\nbackup = 0.0.0.0\n\
         heartbeat_port = 539\nkeepalive = 6\ndeadtime = 18\nnetwork = nat\n",
    );
    for i in 0..services {
        let w = if i < changed { weight } else { 1 };
        out += &format!(
            "virtual S{i} {{\n     active = 1\n     address = {} eth0\n     port = 80\n     \
             send = \"GET / HTTP/1.0\\r\\n\\r\\n\"\n     expect = \"HTTP\"\n     scheduler = wlc\n     \
             protocol = tcp\n     timeout = 6\n     reentry = 15\n",
            vip(i)
        );
        for (name, rs) in [("a", real_server(i)), ("b", real_server(i + 1))] {
            out += &format!(
                "     server {name} {{\n         address = {rs}\n         active = 1\n         weight = {w}\n     }}\n"
            );
        }
        out += "}\n";
    }
    out
}

/// A minimal HTTP server on every address of `ns`: reads the request, answers, closes.
fn serve(ns: &NetNs) {
    let listener = ns
        .run(|| TcpListener::bind("0.0.0.0:80"))
        .expect("netns")
        .expect("bind");
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }
    });
}

fn status(pid: u32, field: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .map(|l| l[field.len()..].trim().to_string())
        .unwrap_or_default()
}

fn destinations(ns: &NetNs) -> usize {
    ns.exec("ipvsadm", ["-Ln"])
        .unwrap_or_default()
        .lines()
        .filter(|l| l.trim_start().starts_with("->") && !l.contains("RemoteAddress"))
        .count()
}

fn summary(name: &str, mut v: Vec<Duration>) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name}: median {:.1} ms, min {:.1} ms, max {:.1} ms ({} runs)",
        ms(v[v.len() / 2]),
        ms(v[0]),
        ms(v[v.len() - 1]),
        v.len()
    );
}

fn main() {
    let cli = Cli::parse();
    let router = NetNs::new().expect("router");
    let servers = NetNs::new().expect("servers");
    router
        .veth("10.1.0.1/16", &servers, "10.1.0.2/16")
        .expect("veth");
    // The servers' end of the veth is the only interface there besides lo.
    let dev = servers
        .ip(["-o", "link", "show", "type", "veth"])
        .expect("ip link");
    let dev = dev
        .split(':')
        .nth(1)
        .and_then(|d| d.trim().split('@').next())
        .expect("veth name")
        .to_string();
    for i in 0..REAL_SERVERS {
        servers
            .ip([
                "address",
                "add",
                &format!("{}/16", real_server(i)),
                "dev",
                &dev,
            ])
            .expect("real server address");
    }
    serve(&servers);
    router
        .ip(["link", "add", "eth0", "type", "dummy"])
        .expect("eth0");
    router.ip(["link", "set", "eth0", "up"]).expect("up");

    let file = std::env::temp_dir().join(format!("bench-scale-{}.cf", std::process::id()));
    std::fs::write(&file, config(cli.services, 0, 1)).expect("config");
    let started = Instant::now();
    let mut cmd = router.command(&cli.director);
    cmd.args(["run", "--release-on-exit", "--config"])
        .arg(&file);
    let mut d = Logged::spawn(cmd, "director").expect("director");
    d.patience = Duration::from_secs(300);
    let taken = d.wait_for(&format!("took over {} addresses", cli.services));
    let want = 2 * cli.services;
    let mut polls = 0;
    while destinations(&router) < want {
        polls += 1;
        assert!(polls < 600, "the table never filled");
        std::thread::sleep(Duration::from_millis(500));
    }
    let full = Instant::now();
    let pid = d.child.id();
    println!(
        "{} services, {} real servers: addresses taken over in {:.2} s, every real server in the \
         table after {:.1} s (checks every 6 s, each first check jittered over the interval)",
        cli.services,
        want,
        (taken.at - started).as_secs_f64(),
        (full - started).as_secs_f64()
    );
    println!(
        "director memory with the full table: VmRSS {}, VmHWM {}",
        status(pid, "VmRSS:"),
        status(pid, "VmHWM:")
    );

    let mut changed = Vec::new();
    let mut same = Vec::new();
    let mut own = Vec::new();
    for k in 0..cli.reloads * 2 {
        let one_percent = k % 2 == 0;
        let text = if one_percent {
            config(cli.services, cli.services / 100, 2 + (k / 2) as u32)
        } else {
            std::fs::read_to_string(&file).expect("config")
        };
        std::fs::write(&file, text).expect("config");
        d.forget();
        let sent = Instant::now();
        d.signal(libc::SIGHUP).expect("SIGHUP");
        let line = d.wait_for("reloaded:");
        let took = line.at - sent;
        if one_percent {
            changed.push(took);
            if let Some(ms) = line
                .text
                .split("applied in ")
                .nth(1)
                .and_then(|t| t.trim_end_matches(" ms").parse::<f64>().ok())
            {
                own.push(Duration::from_secs_f64(ms / 1000.0));
            }
        } else {
            same.push(took);
        }
    }
    summary(
        "SIGHUP to applied diff, 1% of the services changed (read, parse, plan, reconcile)",
        changed,
    );
    summary("  of which the director's diff and reconcile", own);
    summary("SIGHUP to applied diff, file unchanged", same);
    println!(
        "director memory after the reloads: VmRSS {}, VmHWM {}",
        status(pid, "VmRSS:"),
        status(pid, "VmHWM:")
    );
    let _ = d.signal(libc::SIGTERM);
    let _ = d.child.wait();
    let _ = std::fs::remove_file(&file);
}
