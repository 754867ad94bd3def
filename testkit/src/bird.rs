//! BIRD 2 (Debian's `bird2`) in a namespace, and the configurations of the active-active labs:
//! directors whose BIRD imports the VIP host routes of table 250 and announces them over BGP to
//! a router whose BIRD merges them into one ECMP route.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::{Error, Logged, NetNs};

/// A BIRD daemon, its configuration, socket and pid file in a directory of its own.
pub struct Bird {
    /// The process (its log echoed with its tag).
    pub process: Logged,
    dir: PathBuf,
}

impl Bird {
    /// Starts `bird -f` in `ns` with `config`.
    pub fn start(ns: &NetNs, tag: &str, config: &str) -> Result<Bird, Error> {
        let dir = std::env::temp_dir().join(format!("bird-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            what: format!("creating {}", dir.display()),
            source,
        })?;
        let conf = dir.join("bird.conf");
        std::fs::write(&conf, config).map_err(|source| Error::Io {
            what: format!("writing {}", conf.display()),
            source,
        })?;
        let mut cmd = ns.command("bird");
        cmd.arg("-f")
            .arg("-c")
            .arg(&conf)
            .arg("-s")
            .arg(dir.join("bird.ctl"))
            .arg("-P")
            .arg(dir.join("bird.pid"));
        Ok(Bird {
            process: Logged::spawn(cmd, tag)?,
            dir,
        })
    }

    /// `birdc` on this daemon's control socket, run in `ns`: its output.
    pub fn birdc(&self, ns: &NetNs, args: &[&str]) -> Result<String, Error> {
        let socket = self.dir.join("bird.ctl");
        let mut all = vec!["-s", socket.to_str().unwrap_or_default()];
        all.extend_from_slice(args);
        ns.exec("birdc", all)
    }

    /// Waits (up to 60 s) until `n` BFD sessions are up.
    pub fn wait_bfd_up(&self, ns: &NetNs, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let sessions = self
                .birdc(ns, &["show", "bfd", "sessions"])
                .unwrap_or_default();
            if sessions.lines().filter(|l| l.contains(" Up ")).count() >= n {
                return;
            }
            assert!(Instant::now() < deadline, "BFD sessions: {sessions}");
            // Polling BIRD's state; it runs in another process.
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Bird {
    fn drop(&mut self) {
        let _ = self.process.child.kill();
        let _ = self.process.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// BGP timers short enough for a test (BIRD waits seconds by default).
pub const QUICK: &str = "connect delay time 1; connect retry time 1; \
                         error wait time 1, 2; hold time 3; keepalive time 1;";

/// BFD on every interface, 100 ms × 3: a dead peer is noticed within 300 ms.
pub const BFD: &str = "protocol bfd { interface \"*\" { min rx interval 100 ms; \
                       min tx interval 100 ms; multiplier 3; }; }\n";

/// A director's BIRD: its kernel protocol learns the VIP routes of table 250, its BGP session
/// to `router` (AS 65000) announces them with itself as the next hop.
pub fn director_conf(me: &str, router: &str, asn: u32, bfd: bool) -> String {
    let (bfd_protocol, bfd_on) = if bfd { (BFD, "bfd on;") } else { ("", "") };
    format!(
        "log stderr all;\nrouter id {me};\nipv4 table vips;\n{bfd_protocol}\
         protocol device {{ scan time 1; }}\n\
         protocol kernel learned {{ kernel table 250; learn; scan time 1; \
         ipv4 {{ table vips; import all; export none; }}; }}\n\
         protocol bgp up {{ local {me} as {asn}; neighbor {router} as 65000; {QUICK} {bfd_on} \
         ipv4 {{ table vips; import none; export all; next hop self; }}; }}\n"
    )
}

/// The router's BIRD (AS 65000): a BGP session to each of `directors` (the router's address
/// toward it, its address, its AS), and a kernel protocol that merges their routes into one
/// ECMP route (`merge paths`).
pub fn router_conf(me: &str, directors: &[(&str, &str, u32)], bfd: bool) -> String {
    let (bfd_protocol, bfd_on) = if bfd { (BFD, "bfd on;") } else { ("", "") };
    let mut c = format!(
        "log stderr all;\nrouter id {me};\n{bfd_protocol}protocol device {{ scan time 1; }}\n\
         protocol kernel {{ merge paths on; ipv4 {{ import none; export all; }}; }}\n"
    );
    for (i, (local, addr, asn)) in directors.iter().enumerate() {
        c += &format!(
            "protocol bgp d{i} {{ local {local} as 65000; neighbor {addr} as {asn}; {QUICK} {bfd_on} \
             ipv4 {{ import all; export none; }}; }}\n"
        );
    }
    c
}

/// Waits (up to 60 s) until `router`'s route to `vip` satisfies `wanted`; returns the route's
/// text and when it was seen.
pub fn route_until(router: &NetNs, vip: &str, wanted: impl Fn(&str) -> bool) -> (String, Instant) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let shown = router.ip(["-4", "route", "show", vip]).unwrap_or_default();
        if wanted(&shown) {
            return (shown, Instant::now());
        }
        assert!(
            Instant::now() < deadline,
            "the router's route to {vip} stayed {shown:?}"
        );
        // Polling the router's table; BIRD runs in other processes.
        std::thread::sleep(Duration::from_millis(10));
    }
}
