//! What the director's kernel tests share: the seed's network and its clients ([`lab`], which
//! the demo uses too), the active-active lab ([`ecmp`], the demo's too), and the director under
//! test as a process.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::path::Path;

use testkit::{Logged, NetNs};

pub mod ecmp;
pub mod lab;

pub use lab::*;

/// Starts `director run --config FILE ARGS…` in `ns`, its log lines echoed with `tag`.
pub fn director(ns: &NetNs, config: &Path, tag: &str, args: &[&str]) -> Logged {
    start_director(
        Path::new(env!("CARGO_BIN_EXE_director")),
        ns,
        config,
        tag,
        args,
    )
}

/// Waits until a director of the seed has both real servers in its table.
pub fn wait_both_up(d: &mut Logged) {
    d.wait_for("[ active ] 10.0.0.100:80 up");
    d.wait_for("[ active ] 10.0.0.200:80 up");
}

/// A settings overlay in a temporary file (removed on drop), and the arguments that give it
/// to the director.
pub struct Overlay(ConfigFile);

impl Overlay {
    pub fn new(name: &str, text: &str) -> Overlay {
        Overlay(ConfigFile::new(&format!("{name}.toml"), text))
    }

    /// `--settings FILE`.
    pub fn args(&self) -> [&str; 2] {
        ["--settings", self.0.0.to_str().expect("a UTF-8 path")]
    }

    /// Replaces the overlay's text.
    pub fn write(&self, text: &str) {
        self.0.write(text);
    }
}

/// `GET /metrics` from inside `ns`: the body.
pub fn scrape(ns: &NetNs, addr: &str) -> String {
    use std::io::{Read, Write};
    let addr: std::net::SocketAddr = addr.parse().expect("address");
    ns.run(move || {
        let mut s = std::net::TcpStream::connect(addr).expect("the metrics endpoint");
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .expect("send");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read");
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        assert!(
            out.contains("content-type: text/plain; version=0.0.4"),
            "{out}"
        );
        out.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default()
    })
    .expect("netns")
}

/// The value of the sample `line` (a metric with its labels) in `text`.
pub fn sample(text: &str, line: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(line)?.strip_prefix(' ')?.parse().ok())
}

/// `director ARGS… --socket SOCKET(ns)`: exit code, stdout, stderr.
pub fn cli(ns: &NetNs, args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_director"))
        .args(args)
        .arg("--socket")
        .arg(socket_of(ns))
        .output()
        .expect("the director's CLI runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The weight of `rs` in the VIP's service, as ipvsadm lists it (`None`: not there).
pub fn weight(lab: &NatLab, i: usize, rs: &str) -> Option<u32> {
    lab.ipvsadm(i, &["-Ln", "-t", VIP])
        .lines()
        .find(|l| l.contains(&format!("-> {rs}:80")))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|w| w.parse().ok())
}

/// What the kernel says of a process over two seconds (two check intervals): its fewest open
/// descriptors (those of checks in flight come and go), most threads and most resident memory
/// (KiB).
pub fn footprint(pid: u32) -> (usize, usize, u64) {
    let t0 = std::time::Instant::now();
    let mut seen = footprint_now(pid);
    while t0.elapsed() < std::time::Duration::from_secs(2) {
        let now = footprint_now(pid);
        seen = (seen.0.min(now.0), seen.1.max(now.1), seen.2.max(now.2));
    }
    seen
}

/// [`footprint`] at one moment: open descriptors, threads, resident memory (KiB).
pub fn footprint_now(pid: u32) -> (usize, usize, u64) {
    let proc = std::path::PathBuf::from(format!("/proc/{pid}"));
    let fds = std::fs::read_dir(proc.join("fd")).expect("fds").count();
    let status = std::fs::read_to_string(proc.join("status")).expect("status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .expect("a field")
    };
    (fds, field("Threads:") as usize, field("VmRSS:"))
}
