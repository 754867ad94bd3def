//! Piranha nanny's semantics for one `lvs.cf` virtual server: which check it runs, how often,
//! with which timeouts, and how a real server's health and weight follow (behind the default
//! `lvscf` feature).
//!
//! | `lvs.cf` | becomes |
//! |---|---|
//! | `timeout` | nanny's `-t`: the check interval **and** its connect and read timeouts |
//! | `send`, `expect`, `use_regex` | a TCP (or UDP) send/expect check; escapes decoded as nanny does; `expect` matched as a substring, or as a regex |
//! | `send_program`, `expect` | a program check (`%h`, `%p`); its output must equal `expect` |
//! | none of these, port 80 | nanny's implicit `GET / HTTP/1.0\r\n\r\n`, expecting `HTTP` |
//! | `reentry`, `quiesce_server`, `weight` | the state machine's reentry (time-based), quiesce (a failed server stays at weight 0) and weight (with nanny's slow start) |
//! | `load_monitor` | load-based weights (scale 10, read every 20 s); `uptime` runs over `rsh_command` (rsh or ssh) |
//!
//! ```
//! use healthcheck::nanny::Nanny;
//! let doc = lvscf::Document::parse(
//!     "primary = 10.0.0.9\nvirtual WEB {\n active = 1\n address = 10.0.0.1 eth0\n timeout = 6\n server a {\n  address = 10.0.1.1\n  active = 1\n  weight = 5\n }\n}\n",
//! ).unwrap();
//! let config = doc.config();
//! let web = &config.virtual_servers[0];
//! let nanny = Nanny::from_lvscf(web, &config.globals).unwrap();
//! // Port 80 without send/expect: nanny's implicit HTTP check.
//! assert_eq!(nanny.to_string(), r#"tcp send "GET / HTTP/1.0\r\n\r\n" expect "HTTP""#);
//! assert_eq!(nanny.interval().as_secs(), 6);
//! let probe = nanny.probe("10.0.1.1:80".parse().unwrap()).unwrap();
//! let health = nanny.server_config(5);
//! assert_eq!((health.rise, health.fall, health.weight), (1, 1, 5));
//! # let _ = probe;
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use lvscf::{Globals, Place, Protocol, VirtualServer};

use crate::{
    Binding, Check, CommandTemplate, Error, Expect, LoadMonitor, LoadScaling, Probe, ProgramCheck,
    ServerConfig, SlowStart, Snippet, TcpCheck, Timeouts, UdpCheck, decode_escapes,
};

/// How nanny checks the real servers of one virtual server.
#[derive(Debug, Clone)]
pub struct Nanny {
    check: Check,
    described: String,
    interval: Duration,
    reentry: Duration,
    quiesce: bool,
    load: Option<LoadMonitor>,
}

impl Nanny {
    /// nanny's reading of `vs` (with `globals` for `rsh_command`). An error names the virtual
    /// server and the key ([`Error::At`]).
    pub fn from_lvscf(vs: &VirtualServer, globals: &Globals) -> Result<Nanny, Error> {
        let at = |key: &'static str, e: Error| Error::At {
            place: Place::virtual_server(&vs.name, Some(key)),
            source: Box::new(e),
        };
        if vs.timeout.0 == 0 {
            return Err(at("timeout", Error::Interval));
        }
        let (check, described) = check_for(vs).map_err(|(key, e)| at(key, e))?;
        let load = match vs.load_monitor.as_deref() {
            None => None,
            // lvsd replaces `uptime` with the `rsh_command` (rsh or ssh).
            Some("uptime") if globals.rsh_command == "ssh" => Some(LoadMonitor::Ssh),
            Some("uptime") => Some(LoadMonitor::Rsh),
            Some(other) => LoadMonitor::piranha(other).map_err(|e| at("load_monitor", e))?,
        };
        Ok(Nanny {
            check,
            described,
            interval: vs.timeout.as_duration(),
            reentry: vs.reentry.as_duration(),
            quiesce: vs.quiesce_server,
            load,
        })
    }

    /// nanny's reading of a `failover` block (Piranha's failover services use the same keys:
    /// `send`/`expect` or `send_program`, `timeout`); errors name the failover block.
    pub fn from_failover(fs: &lvscf::FailoverService, globals: &Globals) -> Result<Nanny, Error> {
        Nanny::from_lvscf(fs, globals).map_err(|e| match e {
            Error::At { mut place, source } => {
                place.failover = true;
                Error::At { place, source }
            }
            other => other,
        })
    }

    /// The check every real server gets.
    pub fn check(&self) -> &Check {
        &self.check
    }

    /// Time between checks (`timeout`).
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The check for the real server at `target`: connect and read timeouts are the interval,
    /// as nanny's.
    pub fn probe(&self, target: SocketAddr) -> Result<Probe, Error> {
        Probe::new(
            target,
            self.check.clone(),
            Binding::default(),
            Timeouts::both(self.interval),
        )
    }

    /// The health state machine of a real server of weight `weight`: one result decides (rise
    /// and fall 1), `reentry`, `quiesce_server`, nanny's slow start, and the load monitor.
    pub fn server_config(&self, weight: u32) -> ServerConfig {
        ServerConfig {
            weight,
            rise: 1,
            fall: 1,
            reentry: self.reentry,
            quiesce: self.quiesce,
            slow_start: Some(SlowStart::default()),
            load: self.load.clone().map(|monitor| LoadScaling {
                monitor,
                scale: 10,
                interval: Duration::from_secs(20),
            }),
        }
    }
}

impl fmt::Display for Nanny {
    /// The check for people: `tcp send "GET / HTTP/1.0\r\n\r\n" expect "HTTP"`,
    /// ``program `/bin/check %h` expect "OK"``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.described)
    }
}

/// nanny's choice of check for a virtual server, and its description; an error with its key.
fn check_for(vs: &VirtualServer) -> Result<(Check, String), (&'static str, Error)> {
    let expect = match vs.expect.as_deref() {
        None => None,
        Some(e) if vs.use_regex => Some(Expect::regex(e).map_err(|e| ("expect", Error::Regex(e)))?),
        Some(e) => Some(Expect::nanny(decode_escapes(e))),
    };
    if let Some(program) = &vs.send_program {
        let command = CommandTemplate::parse(program).map_err(|e| ("send_program", e))?;
        let expect = vs
            .expect
            .as_deref()
            .map(|e| Expect::Exact(decode_escapes(e)));
        let text = format!("program `{command}`{}", describe_expect(&expect));
        return Ok((Check::Program(ProgramCheck { command, expect }), text));
    }
    let (send, expect) = match (&vs.send, expect) {
        // nanny: no monitor configured on port 80 is a web server.
        (None, None) if vs.port == 80 => (
            Some(decode_escapes(r"GET / HTTP/1.0\r\n\r\n")),
            Some(Expect::Substring(b"HTTP".to_vec())),
        ),
        (send, expect) => (send.as_deref().map(decode_escapes), expect),
    };
    let shown = send
        .as_deref()
        .map(|s| format!(" send {:?}", Snippet(s)))
        .unwrap_or_default();
    Ok(match vs.protocol {
        Protocol::Udp => {
            let text = format!("udp{shown}{}", describe_expect(&expect));
            (Check::Udp(UdpCheck { send, expect }), text)
        }
        Protocol::Tcp => {
            let text = format!("tcp{shown}{}", describe_expect(&expect));
            (Check::Tcp(TcpCheck { send, expect }), text)
        }
    })
}

fn describe_expect(e: &Option<Expect>) -> String {
    e.as_ref()
        .map(|e| format!(" expect {e}"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nanny(body: &str) -> Result<Nanny, Error> {
        let text = format!(
            "primary = 10.0.0.9\nrsh_command = ssh\nvirtual V {{\n active = 1\n address = 10.0.0.1 eth0\n{body}\n server a {{\n  address = 10.0.1.1\n  active = 1\n }}\n}}\n"
        );
        let doc = lvscf::Document::parse(&text).expect("parses");
        let config = doc.config();
        Nanny::from_lvscf(&config.virtual_servers[0], &config.globals)
    }

    #[test]
    fn nanny_picks_the_check_from_port_send_expect_and_program() {
        let n = nanny(" port = 25\n send = \"EHLO x\\r\\n\"\n expect = \"250\"").unwrap();
        assert_eq!(n.to_string(), r#"tcp send "EHLO x\r\n" expect "250""#);
        let n = nanny(" port = 53\n protocol = udp").unwrap();
        assert_eq!(n.to_string(), "udp");
        let n = nanny(" send_program = \"/bin/check %h\"\n expect = \"OK\"").unwrap();
        assert!(n.to_string().starts_with("program `/bin/check %h`"), "{n}");
        assert!(matches!(n.check(), Check::Program(_)));
    }

    #[test]
    fn reentry_quiesce_and_the_load_monitor_shape_the_server() {
        let n = nanny(" reentry = 30\n quiesce_server = 1\n load_monitor = uptime").unwrap();
        let c = n.server_config(7);
        assert_eq!(c.reentry, Duration::from_secs(30));
        assert!(c.quiesce);
        let load = c.load.expect("load monitor");
        assert_eq!((load.monitor, load.scale), (LoadMonitor::Ssh, 10));
    }

    #[test]
    fn errors_name_the_virtual_server_and_the_key() {
        // lvs.cf refuses `timeout = 0`; a configuration built in code may have it.
        let doc = lvscf::Document::parse(
            "primary = 10.0.0.9\nvirtual V {\n active = 1\n address = 10.0.0.1 eth0\n}\n",
        )
        .expect("parses");
        let config = doc.config();
        let mut vs = config.virtual_servers[0].clone();
        vs.timeout.0 = 0;
        let e = Nanny::from_lvscf(&vs, &config.globals).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("must be at least 1 second (it is the check interval)"),
            "{e}"
        );
        assert!(e.place().is_some());
        let e = nanny(" use_regex = 1\n expect = \"(\"").unwrap_err();
        assert!(
            e.to_string()
                .contains("not a regular expression (use_regex = 1): "),
            "{e}"
        );
        assert!(std::error::Error::source(&e).is_some(), "the cause is kept");
        let e = nanny(" send_program = \"'x\"").unwrap_err();
        assert!(e.to_string().contains("command: unbalanced quotes"), "{e}");
    }
}
