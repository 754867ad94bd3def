//! Checks of the machine a director runs on, for what its IPVS services need from it:
//! forwarding for NAT, the IPVS settings that make draining and quiescing really move clients,
//! connection tracking, the real servers' side of direct routing and tunnelling, and the
//! firewall marks of fwmark services. They read `/proc/sys` of the caller's network namespace,
//! and the firewall through `nft` and `iptables-save` when those are installed ([`System`]), or
//! whatever a [`Machine`] answers.
//!
//! ```
//! use ipvs::environment::{Machine, Planned, check};
//! use ipvs::{Destination, Forwarding, Service, ServiceKey, VirtualServer};
//!
//! struct Forwarding0;
//! impl Machine for Forwarding0 {
//!     fn sysctl(&self, name: &str) -> Option<String> {
//!         (name == "net/ipv4/ip_forward").then(|| "0".to_string())
//!     }
//!     fn firewall(&self) -> Option<String> {
//!         None
//!     }
//! }
//!
//! let web = VirtualServer {
//!     service: Service::new(ServiceKey::tcp("192.0.2.1".parse().unwrap(), 80)),
//!     destinations: vec![
//!         Destination::new("10.0.0.2".parse().unwrap(), 80).with_forwarding(Forwarding::Masquerade),
//!     ],
//! };
//! let found = check(&[Planned::new("WEB", &web)], &Forwarding0);
//! assert!(found[0].to_string().starts_with("environment: warning: NAT needs net.ipv4.ip_forward = 1"));
//! ```

use crate::model::{Forwarding, ServiceKey, VirtualServer};

/// A service the checks look at: its lvs.cf-style name (for the messages), its table entry
/// (service and real servers, whose forwarding counts), and whether it keeps failed real servers
/// at weight 0 (quiesce).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Planned<'a> {
    /// The name messages give it.
    pub name: &'a str,
    /// The service and its real servers.
    pub server: &'a VirtualServer,
    /// Whether a failed real server is kept at weight 0 rather than removed.
    pub quiesces: bool,
}

impl<'a> Planned<'a> {
    /// `server` under `name`, quiescing nothing.
    pub fn new(name: &'a str, server: &'a VirtualServer) -> Self {
        Planned {
            name,
            server,
            quiesces: false,
        }
    }

    /// Whether a failed real server is kept at weight 0.
    pub fn quiescing(mut self, quiesces: bool) -> Self {
        self.quiesces = quiesces;
        self
    }
}

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Level {
    /// Something will not work as configured.
    Warning,
    /// Something to know or to do elsewhere (on the real servers).
    Note,
}

/// One finding about the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How much it matters.
    pub level: Level,
    /// What it is, for people.
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let level = match self.level {
            Level::Warning => "warning",
            Level::Note => "note",
        };
        write!(f, "environment: {level}: {}", self.message)
    }
}

/// Where the checks read: `/proc/sys/...` files and the firewall's rules. The director uses
/// [`System`]; tests give their own.
pub trait Machine {
    /// A `/proc/sys` setting (`net/ipv4/ip_forward`), trimmed; `None` when it does not exist.
    fn sysctl(&self, name: &str) -> Option<String>;
    /// The firewall's rules as text (`nft list ruleset`, `iptables-save`), or `None` when no
    /// tool to read them is installed.
    fn firewall(&self) -> Option<String>;
}

/// The machine this process runs on (its network namespace).
pub struct System;

impl Machine for System {
    fn sysctl(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(format!("/proc/sys/{name}"))
            .ok()
            .map(|s| s.trim().to_string())
    }

    fn firewall(&self) -> Option<String> {
        let mut found = None;
        for (program, args) in [
            ("nft", &["list", "ruleset"][..]),
            ("iptables-save", &["-t", "mangle"][..]),
            ("iptables-legacy-save", &["-t", "mangle"][..]),
        ] {
            if let Ok(out) = std::process::Command::new(program)
                .args(args)
                .stderr(std::process::Stdio::null())
                .output()
                && out.status.success()
            {
                let text = found.get_or_insert_with(String::new);
                text.push_str(&String::from_utf8_lossy(&out.stdout));
            }
        }
        found
    }
}

/// Checks `machine` against what `services` need: warnings first where they apply, notes about
/// the real servers' side, the fwmark rules last.
pub fn check(services: &[Planned<'_>], machine: &dyn Machine) -> Vec<Finding> {
    let mut out = Vec::new();
    let firewall = machine.firewall();
    let mut warn = |message: String| {
        out.push(Finding {
            level: Level::Warning,
            message,
        })
    };
    let uses = |f: &dyn Fn(&Forwarding) -> bool| {
        services
            .iter()
            .flat_map(|s| s.server.destinations.iter().map(|d| &d.forwarding))
            .any(f)
    };
    if uses(&|f| matches!(f, Forwarding::Masquerade))
        && machine.sysctl("net/ipv4/ip_forward").as_deref() != Some("1")
    {
        warn(
            "NAT needs net.ipv4.ip_forward = 1: without it the real servers' replies are not \
             routed back to the clients"
                .into(),
        );
    }
    let ipvs_loaded = machine.sysctl("net/ipv4/vs/expire_nodest_conn").is_some();
    if ipvs_loaded {
        if machine.sysctl("net/ipv4/vs/expire_nodest_conn").as_deref() == Some("0") {
            warn(
                "net.ipv4.vs.expire_nodest_conn = 0: the connections of a real server removed \
                 after draining (or by a failed check) hang until they time out instead of being \
                 reset; set it to 1"
                    .into(),
            );
        }
        let persistent_quiesce = services
            .iter()
            .any(|s| s.server.service.flags.persistent && s.quiesces);
        if persistent_quiesce
            && machine
                .sysctl("net/ipv4/vs/expire_quiescent_template")
                .as_deref()
                == Some("0")
        {
            warn(
                "net.ipv4.vs.expire_quiescent_template = 0: persistent clients stay with a \
                 quiesced or drained real server (weight 0); set it to 1 so that they move"
                    .into(),
            );
        }
        if firewall.as_deref().is_some_and(matches_state)
            && machine.sysctl("net/ipv4/vs/conntrack").as_deref() == Some("0")
        {
            warn(
                "the firewall matches connection state (ct state, -m state, -m conntrack) but \
                 net.ipv4.vs.conntrack = 0: IPVS connections are not tracked and such rules drop \
                 them; set it to 1"
                    .into(),
            );
        }
    } else {
        out.push(Finding {
            level: Level::Note,
            message: "IPVS is not loaded here (no /proc/sys/net/ipv4/vs): its settings are not \
                      checked (`modprobe ip_vs`)"
                .into(),
        });
    }
    for s in services {
        let how = s
            .server
            .destinations
            .iter()
            .find_map(|d| match d.forwarding {
                Forwarding::DirectRoute => Some("lo"),
                Forwarding::Tunnel { .. } => Some("tunl0"),
                _ => None,
            });
        if let Some(dev) = how {
            let vip = match s.server.service.key {
                ServiceKey::Addr { addr, .. } => addr.to_string(),
                ServiceKey::Fwmark { .. } => "the service's addresses".into(),
            };
            out.push(Finding {
                level: Level::Note,
                message: format!(
                    "virtual {}: each real server must hold {vip} on {dev} (ip address add {vip}/32 \
                     dev {dev}{}) and not answer ARP for it (net.ipv4.conf.all.arp_ignore = 1, \
                     net.ipv4.conf.all.arp_announce = 2){}",
                    s.name,
                    if dev == "tunl0" { ", after modprobe ipip" } else { "" },
                    if dev == "tunl0" { ", with rp_filter off on tunl0" } else { "" },
                ),
            });
        }
    }
    let marked: Vec<(&str, u32)> = services
        .iter()
        .filter_map(|s| match s.server.service.key {
            ServiceKey::Fwmark { mark, .. } => Some((s.name, mark)),
            ServiceKey::Addr { .. } => None,
        })
        .collect();
    if !marked.is_empty() {
        match &firewall {
            None => out.push(Finding {
                level: Level::Note,
                message:
                    "fwmark services: neither nft nor iptables-save is installed, so the rules \
                          that set their marks are not checked"
                        .into(),
            }),
            Some(rules) => {
                for (name, mark) in marked {
                    if !sets_mark(rules, mark) {
                        out.push(Finding {
                            level: Level::Warning,
                            message: format!(
                                "virtual {name} is fwmark {mark}, but no nftables or iptables rule \
                                 sets that mark: no packet will reach the service"
                            ),
                        });
                    }
                }
            }
        }
    }
    out
}

/// Whether `rules` (nft's or iptables-save's text) match on connection tracking state.
fn matches_state(rules: &str) -> bool {
    rules.contains("ct state") || rules.contains("-m state") || rules.contains("-m conntrack")
}

/// Whether `rules` (nft's or iptables-save's text) set `mark` on packets.
fn sets_mark(rules: &str, mark: u32) -> bool {
    let hex = format!("0x{mark:x}");
    let hex8 = format!("0x{mark:08x}");
    let dec = mark.to_string();
    rules.lines().any(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        // nft: `meta mark set 0x0000002a`, `mark set 42`.
        let ours = |m: &str| m == hex || m == hex8 || m == dec;
        words
            .windows(3)
            .any(|w| w[0] == "mark" && w[1] == "set" && ours(w[2]))
            || words.windows(2).any(|w| {
                // iptables: `-j MARK --set-mark 0x2a`, `--set-xmark 0x2a/0xffffffff`.
                (w[0] == "--set-mark" || w[0] == "--set-xmark")
                    && w[1].split('/').next().is_some_and(ours)
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Destination, Service};

    struct Fake {
        sysctls: Vec<(&'static str, &'static str)>,
        firewall: Option<&'static str>,
    }

    impl Machine for Fake {
        fn sysctl(&self, name: &str) -> Option<String> {
            self.sysctls
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
        fn firewall(&self) -> Option<String> {
            self.firewall.map(String::from)
        }
    }

    /// lvs.cf's `network = nat`, `persistent = 60`, `quiesce_server = 1`.
    fn nat() -> Vec<(&'static str, VirtualServer, bool)> {
        let service = Service::new(ServiceKey::tcp([10, 0, 0, 1].into(), 80)).persistent(60);
        let rs = Destination::new([10, 0, 1, 1].into(), 80).with_forwarding(Forwarding::Masquerade);
        vec![(
            "A",
            VirtualServer {
                service,
                destinations: vec![rs],
            },
            true,
        )]
    }

    /// A direct-routing service W and a fwmark 42 service M.
    fn direct() -> Vec<(&'static str, VirtualServer, bool)> {
        let rs =
            Destination::new([10, 0, 1, 1].into(), 80).with_forwarding(Forwarding::DirectRoute);
        let w = Service::new(ServiceKey::tcp([10, 0, 0, 1].into(), 80));
        let m = Service::new(ServiceKey::fwmark(crate::Family::Inet, 42));
        vec![
            (
                "W",
                VirtualServer {
                    service: w,
                    destinations: vec![rs.clone()],
                },
                false,
            ),
            (
                "M",
                VirtualServer {
                    service: m,
                    destinations: vec![rs],
                },
                false,
            ),
        ]
    }

    fn check_all(
        services: &[(&'static str, VirtualServer, bool)],
        machine: &dyn Machine,
    ) -> Vec<Finding> {
        let planned: Vec<Planned<'_>> = services
            .iter()
            .map(|(name, vs, q)| Planned::new(name, vs).quiescing(*q))
            .collect();
        check(&planned, machine)
    }

    fn messages(f: &[Finding]) -> Vec<String> {
        f.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_machine_set_up_for_nat_passes() {
        let good = Fake {
            sysctls: vec![
                ("net/ipv4/ip_forward", "1"),
                ("net/ipv4/vs/expire_nodest_conn", "1"),
                ("net/ipv4/vs/expire_quiescent_template", "1"),
                ("net/ipv4/vs/conntrack", "0"),
            ],
            firewall: None,
        };
        assert_eq!(messages(&check_all(&nat(), &good)), Vec::<String>::new());
    }

    #[test]
    fn what_nat_drain_and_quiesce_need_is_reported() {
        let bad = Fake {
            sysctls: vec![
                ("net/ipv4/ip_forward", "0"),
                ("net/ipv4/vs/expire_nodest_conn", "0"),
                ("net/ipv4/vs/expire_quiescent_template", "0"),
                ("net/ipv4/vs/conntrack", "0"),
            ],
            firewall: Some("-A INPUT -m state --state ESTABLISHED,RELATED -j ACCEPT"),
        };
        let found = messages(&check_all(&nat(), &bad));
        assert_eq!(found.len(), 4, "{found:#?}");
        assert!(found[0].starts_with("environment: warning: NAT needs net.ipv4.ip_forward = 1"));
        assert!(found[1].contains("expire_nodest_conn = 0"));
        assert!(found[2].contains("expire_quiescent_template = 0"));
        assert!(found[3].contains("vs.conntrack = 0"));
        let none = Fake {
            sysctls: vec![("net/ipv4/ip_forward", "1")],
            firewall: None,
        };
        assert_eq!(
            messages(&check_all(&nat(), &none)),
            [
                "environment: note: IPVS is not loaded here (no /proc/sys/net/ipv4/vs): its settings are not checked (`modprobe ip_vs`)"
            ]
        );
    }

    #[test]
    fn direct_routing_gets_the_real_servers_setup_and_fwmarks_their_rules() {
        let sysctls = vec![
            ("net/ipv4/vs/expire_nodest_conn", "1"),
            ("net/ipv4/vs/conntrack", "0"),
        ];
        let unmarked = Fake {
            sysctls: sysctls.clone(),
            firewall: Some(
                "table ip mangle {\n chain p {\n  ip daddr 10.0.0.2 meta mark set 0x00000007\n }\n}\n",
            ),
        };
        let found = messages(&check_all(&direct(), &unmarked));
        assert!(
            found[0].starts_with("environment: note: virtual W: each real server must hold 10.0.0.1 on lo (ip address add 10.0.0.1/32 dev lo)"),
            "{found:#?}"
        );
        assert_eq!(
            found.last().map(String::as_str),
            Some(
                "environment: warning: virtual M is fwmark 42, but no nftables or iptables rule sets that mark: no packet will reach the service"
            )
        );
        for rules in [
            " ip daddr 10.0.0.2 meta mark set 0x0000002a",
            "-A PREROUTING -d 10.0.0.2/32 -j MARK --set-xmark 0x2a/0xffffffff",
            "-A PREROUTING -d 10.0.0.2/32 -j MARK --set-mark 42",
        ] {
            let marked = Fake {
                sysctls: sysctls.clone(),
                firewall: Some(rules),
            };
            let found = messages(&check_all(&direct(), &marked));
            assert!(
                !found.iter().any(|f| f.contains("fwmark 42")),
                "{rules}: {found:#?}"
            );
        }
    }
}
