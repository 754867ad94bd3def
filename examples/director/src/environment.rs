//! Checks of the machine the director runs on, for what the configuration needs from it:
//! forwarding for NAT, the IPVS settings that make draining and quiescing really move clients,
//! connection tracking, the real servers' side of direct routing and tunnelling, and the
//! firewall marks of fwmark services. `director check` prints them; `director run` logs them at
//! start. They read `/proc/sys` of the director's network namespace, and the firewall through
//! `nft` and `iptables-save` when those are installed.

use ipvs::{Forwarding, ServiceKey};

use crate::Plan;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// The machine the director runs on.
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

/// Checks `machine` against what `plan` needs.
pub fn check(plan: &Plan, machine: &dyn Machine) -> Vec<Finding> {
    let mut out = Vec::new();
    let firewall = machine.firewall();
    let mut warn = |message: String| {
        out.push(Finding {
            level: Level::Warning,
            message,
        })
    };
    let uses = |f: &dyn Fn(&Forwarding) -> bool| {
        plan.services
            .iter()
            .flat_map(|s| s.servers.iter().map(|r| &r.destination.forwarding))
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
        let persistent_quiesce = plan
            .services
            .iter()
            .any(|s| s.service.flags.persistent && s.servers.iter().any(|r| r.health.quiesce));
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
    for s in &plan.services {
        let how = s
            .servers
            .iter()
            .find_map(|r| match r.destination.forwarding {
                Forwarding::DirectRoute => Some("lo"),
                Forwarding::Tunnel { .. } => Some("tunl0"),
                _ => None,
            });
        if let Some(dev) = how {
            let vip = match s.service.key {
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
    let marked: Vec<(&str, u32)> = plan
        .services
        .iter()
        .filter_map(|s| match s.service.key {
            ServiceKey::Fwmark { mark, .. } => Some((s.name.as_str(), mark)),
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

    fn plan(text: &str) -> Plan {
        let doc = lvscf::Document::parse(text).expect("parses");
        Plan::build(doc.config(), &|_| None).expect("plans")
    }

    const NAT: &str = "primary = 10.0.0.9\nnetwork = nat\nvirtual A {\n active = 1\n address = 10.0.0.1 eth0\n persistent = 60\n quiesce_server = 1\n server a {\n  address = 10.0.1.1\n  active = 1\n }\n}\n";

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
        assert_eq!(messages(&check(&plan(NAT), &good)), Vec::<String>::new());
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
        let found = messages(&check(&plan(NAT), &bad));
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
            messages(&check(&plan(NAT), &none)),
            [
                "environment: note: IPVS is not loaded here (no /proc/sys/net/ipv4/vs): its settings are not checked (`modprobe ip_vs`)"
            ]
        );
    }

    #[test]
    fn direct_routing_gets_the_real_servers_setup_and_fwmarks_their_rules() {
        let text = "primary = 10.0.0.9\nnetwork = direct\nvirtual W {\n active = 1\n address = 10.0.0.1 eth0\n server a {\n  address = 10.0.1.1\n  active = 1\n }\n}\nvirtual M {\n active = 1\n address = 10.0.0.2 eth0\n fwmark = 42\n server a {\n  address = 10.0.1.1\n  active = 1\n }\n}\n";
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
        let found = messages(&check(&plan(text), &unmarked));
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
            let found = messages(&check(&plan(text), &marked));
            assert!(
                !found.iter().any(|f| f.contains("fwmark 42")),
                "{rules}: {found:#?}"
            );
        }
    }
}
