//! Packet captures with tcpdump inside a namespace, read as they arrive (pcap over a pipe).

use std::io::{self, BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Stdio};
use std::time::Duration;

use crate::error::Error;
use crate::netns::NetNs;

/// A running `tcpdump -w -` on one interface of a namespace.
///
/// [`Capture::start`] returns once tcpdump says it is listening, so whatever is sent afterwards is
/// captured: no sleep needed. Frames come back with the kernel's capture timestamp. The capture is
/// stopped (tcpdump killed) on drop; `timeout` bounds it to `limit` in any case.
///
/// ```no_run
/// # fn main() -> Result<(), testkit::Error> {
/// let a = testkit::NetNs::new()?;
/// let b = testkit::NetNs::new()?;
/// let veth = a.veth("10.9.0.1/24", &b, "10.9.0.2/24")?;
/// let mut capture = testkit::Capture::start(&b, veth.peer_name(), "arp", std::time::Duration::from_secs(30))?;
/// // ... send something on a ...
/// let frame = capture.next_frame()?;
/// println!("{} bytes at {:?}", frame.data.len(), frame.at);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Capture {
    child: Child,
    out: BufReader<ChildStdout>,
    nanos: bool,
}

/// One captured frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The kernel's capture timestamp, since the Unix epoch (`CLOCK_REALTIME`).
    pub at: Duration,
    /// The frame's bytes, from the Ethernet header on.
    pub data: Vec<u8>,
}

/// Spawns `timeout ARGS…` (a tcpdump) in `ns` and waits until it says it is listening. Its stderr
/// keeps being drained by a thread, so tcpdump never blocks on it.
fn listening(ns: &NetNs, args: &[&str], stdout: Stdio) -> Result<Child, Error> {
    let command = format!("timeout {}", args.join(" "));
    let mut child = ns
        .command("timeout")
        .args(args)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| Error::Spawn {
            command: command.clone(),
            source,
        })?;
    let broken = |what: &str| Error::Capture {
        command: command.clone(),
        what: what.to_owned(),
    };
    let mut err = BufReader::new(child.stderr.take().ok_or_else(|| broken("no stderr"))?);
    let mut line = String::new();
    loop {
        line.clear();
        match err.read_line(&mut line) {
            Ok(0) | Err(_) => return Err(broken("tcpdump ended before it was listening")),
            Ok(_) if line.contains("listening on") => break,
            Ok(_) => {}
        }
    }
    std::thread::spawn(move || io::copy(&mut err, &mut io::sink()));
    Ok(child)
}

impl Capture {
    /// Starts tcpdump on `dev` in `ns` with a pcap `filter`, and returns once it is listening.
    pub fn start(ns: &NetNs, dev: &str, filter: &str, limit: Duration) -> Result<Capture, Error> {
        let secs = limit.as_secs().max(1).to_string();
        let args = [
            secs.as_str(),
            "tcpdump",
            "-i",
            dev,
            "-U",
            "-w",
            "-",
            "--time-stamp-precision=nano",
            filter,
        ];
        let command = format!("timeout {}", args.join(" "));
        let mut child = listening(ns, &args, Stdio::piped())?;
        let broken = |what: &str| Error::Capture {
            command: command.clone(),
            what: what.to_owned(),
        };
        let mut out = BufReader::new(child.stdout.take().ok_or_else(|| broken("no stdout"))?);
        let mut header = [0u8; 24];
        out.read_exact(&mut header)
            .map_err(|_| broken("no pcap header"))?;
        let nanos = match u32::from_le_bytes([header[0], header[1], header[2], header[3]]) {
            0xa1b2_3c4d => true,
            0xa1b2_c3d4 => false,
            _ => return Err(broken("not a little-endian pcap stream")),
        };
        Ok(Capture { child, out, nanos })
    }

    /// Starts `tcpdump -w FILE -c COUNT` on `dev` in `ns` and returns once it is listening; the
    /// child exits (status 0) after `count` packets, or is stopped by `timeout` after `limit`.
    /// For files that other tools (tshark) read afterwards.
    pub fn to_file(
        ns: &NetNs,
        dev: &str,
        filter: &str,
        count: u32,
        path: &std::path::Path,
        limit: Duration,
    ) -> Result<Child, Error> {
        let secs = limit.as_secs().max(1).to_string();
        let count = count.to_string();
        let path = path.to_string_lossy();
        let args = [
            secs.as_str(),
            "tcpdump",
            "-i",
            dev,
            "-U",
            "-c",
            &count,
            "-w",
            &path,
            filter,
        ];
        listening(ns, &args, Stdio::null())
    }

    /// The next captured frame; waits for it (up to the capture's time limit).
    pub fn next_frame(&mut self) -> Result<Frame, Error> {
        let mut h = [0u8; 16];
        let eof = |_| Error::Capture {
            command: "tcpdump".into(),
            what: "the capture ended (time limit reached?) before the next frame".into(),
        };
        self.out.read_exact(&mut h).map_err(eof)?;
        let word = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let (sec, frac, len) = (word(0), word(4), word(8) as usize);
        let mut data = vec![0; len];
        self.out.read_exact(&mut data).map_err(eof)?;
        let nanos = if self.nanos {
            frac
        } else {
            frac.saturating_mul(1000)
        };
        Ok(Frame {
            at: Duration::new(u64::from(sec), nanos),
            data,
        })
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
