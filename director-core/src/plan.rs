//! From `lvs.cf` to what the director does, mapping each key as Piranha's lvsd and nanny did.
//!
//! | `lvs.cf` | becomes |
//! |---|---|
//! | `network = nat / direct / tunnel` | the forwarding method of every real server: masquerading, direct routing, IP-in-IP |
//! | `virtual { address = VIP DEV[:LABEL]; vip_nmask }` | an IPVS service on VIP, and the VIP added to DEV with that label when active (a mask of 0 or none: /32, where Piranha's bare `ifconfig` took the classful mask) |
//! | `port`, `protocol` / `fwmark` | the service key: protocol, VIP and port, or the firewall mark |
//! | `scheduler`, `persistent`, `pmask` | scheduler, persistence timeout, persistence netmask |
//! | `server { address; port; weight; active }` | a destination (port defaults to the virtual port) with its weight; inactive ones are left out |
//! | `timeout` | nanny's `-t`: the check interval **and** its connect and read timeouts |
//! | `send`, `expect`, `use_regex` | a TCP (or UDP) send/expect probe; escapes decoded as nanny does; `expect` matched as a substring, or as a regex |
//! | `send_program`, `expect` | a program probe (`%h`, `%p`); its output must equal `expect` |
//! | none of these, port 80 | nanny's implicit `GET / HTTP/1.0\r\n\r\n`, expecting `HTTP` |
//! | `reentry`, `quiesce_server`, `weight` | the health state machine's reentry (time-based), quiesce (a failed server stays at weight 0) and weight (with nanny's slow start) |
//! | `load_monitor` | load-based weights; `uptime` runs over `rsh_command` (rsh or ssh) |
//! | `sorry_server` | a destination put in when every real server is down |
//! | `nat_router = ADDR DEV[:LABEL]`, `nat_nmask` | an address taken over when active |
//! | `primary`, `backup`, `*_private`, `heartbeat_port`, `keepalive`, `deadtime` | the heartbeat (Piranha-compatible): one path on the public addresses, a second on the private ones when both are set; like pulse, it runs whenever there is an active backup, whatever `heartbeat` says. No backup (or `backup_active = 0`): the router is active at once |
//! | `monitor_links` | a heartbeat path whose link goes down makes this router step down and refuse to take over |
//! | `syncdaemon`, `syncd_iface`, `syncd_id` | the IPVS connection sync daemon: master while active, backup while standby |
//! | `tcp_timeout`, `tcpfin_timeout`, `udp_timeout` | the IPVS timeouts (0: unchanged) |
//! | `active_cmd`, `inactive_cmd` | run on becoming active and standby (`inactive_cmd` also at start, as pulse), split into words and run without a shell, not waited for |
//! | `service = fos`, `failover` blocks | Piranha's failover services ([`Plan::failover`], run by the `fos` crate); active virtual servers are refused then |
//! | `heartbeat`, `debug_level`, `hard_shutdown`, `ipvsadm`, `rsh_command` (but for `uptime`) | not used (lvscf warns about the keys Piranha ignored too) |

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::Duration,
};

use healthcheck::{Probe, ServerConfig};
use heartbeat::pulse::Pulse;
use ipvs::{Destination, Forwarding, Service, ServiceKey};
use lvscf::{AddressOnDevice, Config, Host, Place, VirtualServer};

use crate::Settings;
use crate::settings::SettingsError;

/// What a configuration cannot be turned into, with where it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// A host name that does not resolve to an IPv4 address.
    #[error("{place}: host name `{name}` does not resolve to an IPv4 address")]
    Unresolved {
        /// Where it is used.
        place: Place,
        /// The name.
        name: String,
    },
    /// A setting that cannot work.
    #[error("{place}: {message}")]
    Invalid {
        /// Where.
        place: Place,
        /// What is wrong.
        message: String,
    },
    /// A virtual server's checks that cannot work (nanny's semantics), with where.
    #[error(transparent)]
    Check(healthcheck::Error),
    /// The heartbeat's settings (the key file).
    #[error("heartbeat: {0}")]
    Heartbeat(heartbeat::Error),
    /// A problem in the settings overlay (`director.toml`), at its own line and column.
    #[error("{0}")]
    Settings(SettingsError),
    /// A problem with the failover services (`service = fos`).
    #[error(transparent)]
    Failover(fos::Error),
}

impl PlanError {
    /// Where the problem is in lvs.cf (`None`: it is in the overlay).
    pub fn place(&self) -> Option<&Place> {
        match self {
            PlanError::Unresolved { place, .. } | PlanError::Invalid { place, .. } => Some(place),
            PlanError::Check(e) => e.place(),
            PlanError::Failover(e) => e.place(),
            PlanError::Heartbeat(_) => None,
            PlanError::Settings(_) => None,
        }
    }
}

/// An address taken over while this director is active.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressPlan {
    /// The address (IPv6 ones come from the overlay).
    pub address: IpAddr,
    /// Its prefix length.
    pub prefix: u8,
    /// The interface it goes on (`eth0` for `eth0:1`).
    pub device: String,
    /// The address label, when `lvs.cf` gave one (`eth0:1`).
    pub label: Option<String>,
    /// What it is for (`virtual HTTP`, `nat_router`).
    pub purpose: String,
}

/// One real server and how it is checked.
#[derive(Debug, Clone)]
pub struct ServerPlan {
    /// The `server` block's name.
    pub name: String,
    /// The destination with its configured weight.
    pub destination: Destination,
    /// The probe.
    pub probe: Probe,
    /// How results become weights.
    pub health: ServerConfig,
    /// Time between checks.
    pub interval: Duration,
    /// The probe, described for people.
    pub check: String,
}

/// One virtual server: its IPVS service, its real servers and its sorry server.
#[derive(Debug, Clone)]
pub struct ServicePlan {
    /// The `virtual` block's name.
    pub name: String,
    /// The address clients reach it at (a firewall-mark service's too).
    pub vip: IpAddr,
    /// The IPVS service.
    pub service: Service,
    /// The real servers (the active ones).
    pub servers: Vec<ServerPlan>,
    /// Put in when every real server is down.
    pub sorry: Option<Destination>,
    /// How long a real server removed by a reload drains at most (the overlay's; `None`: the
    /// director's).
    pub drain_timeout: Option<Duration>,
}

impl AddressPlan {
    /// The address as [`arp_announce::takeover`] holds it.
    pub fn target(&self) -> arp_announce::takeover::Address {
        let a = arp_announce::takeover::Address::new(self.address, self.prefix, &self.device);
        match &self.label {
            Some(label) => a.with_label(label),
            None => a,
        }
    }
}

impl ServicePlan {
    /// The service with every real server of the plan (before any check).
    pub fn table_entry(&self) -> ipvs::VirtualServer {
        ipvs::VirtualServer {
            service: self.service.clone(),
            destinations: self.servers.iter().map(|r| r.destination.clone()).collect(),
        }
    }
}

/// What one tracker watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackKind {
    /// An interface that must be up with a carrier.
    Interface(String),
    /// A probe that must pass: a gateway's ping, a script.
    Probe(Probe),
}

/// One tracker of the router's own health (overlay `[track]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackPlan {
    /// For people: `interface eth2`, `gateway 192.168.1.1`, `script /usr/local/bin/x`.
    pub name: String,
    /// What it watches.
    pub kind: TrackKind,
    /// Time between checks.
    pub interval: Duration,
    /// Failures in a row before it counts as failing.
    pub fall: u32,
    /// Its weight.
    pub weight: u32,
}

/// How the director runs, from the overlay's `[director]` and `[hooks]` (command-line options
/// win over them). `None`: the default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Operation {
    /// How long a removed real server drains at most.
    pub drain_timeout: Option<Duration>,
    /// Program the IPVS table only while active (Piranha).
    pub table_when_active: Option<bool>,
    /// How often the owned IPVS entries and addresses are compared with the kernel.
    pub reconcile_interval: Option<Duration>,
    /// The control socket.
    pub socket: Option<std::path::PathBuf>,
    /// The group whose members may use the control socket besides root.
    pub control_group: Option<String>,
    /// The Prometheus endpoint.
    pub metrics: Option<SocketAddr>,
    /// How long to probe for another holder of an address before claiming it (RFC 5227).
    pub address_probe: Option<Duration>,
    /// Run on a role change, with `ROLE REASON`.
    pub role_hook: Option<Vec<String>>,
    /// When a hook still running is killed (`None`: [`crate::settings::HOOK_TIMEOUT`]).
    pub hook_timeout: Option<Duration>,
    /// Run on a real server's change, with `VIRTUAL SERVER ADDRESS:PORT EVENT REASON`.
    pub server_hook: Option<Vec<String>>,
    /// The router's own health: the trackers.
    pub track: Vec<TrackPlan>,
    /// The failing weight that makes the router unfit (1 when not set).
    pub track_threshold: Option<u32>,
}

/// `active_cmd` and `inactive_cmd`, split into words as a shell would split them (quotes, no
/// expansion): they run without a shell, as pulse ran them (it split on spaces and `execv`ed
/// the result), except that the program is looked up in `PATH`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Commands {
    /// Run on becoming active.
    pub active: Option<Vec<String>>,
    /// Run on becoming standby, and at start.
    pub inactive: Option<Vec<String>>,
}

/// Everything the director does for one `lvs.cf`.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The services, in file order (inactive virtual servers left out).
    pub services: Vec<ServicePlan>,
    /// The addresses taken over when active.
    pub addresses: Vec<AddressPlan>,
    /// The pair of routers and their heartbeat.
    pub heartbeat: Pulse,
    /// The sync daemon's interface and id, when `syncdaemon = 1`.
    pub sync_daemon: Option<(String, u8)>,
    /// IPVS timeouts (TCP, TCP FIN, UDP); 0 leaves one unchanged.
    pub timeouts: ipvs::Timeouts,
    /// Commands run on becoming active and standby.
    pub commands: Commands,
    /// How the director runs (the overlay's settings).
    pub operation: Operation,
    /// Piranha's failover services, when `service = fos`: then there are no virtual services
    /// and no other addresses, and the heartbeat speaks failover services' magics.
    pub failover: Option<fos::Plan>,
    /// Active-active (the overlay's `[cluster]`): every director serves, holds the VIPs on `lo`
    /// and announces each while it can serve it; no heartbeat runs.
    pub cluster: Option<ClusterPlan>,
}

/// How an active-active director announces its VIPs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterPlan {
    /// When a VIP is announced and withdrawn.
    pub announce: cluster::Settings,
    /// The routing table of the VIP host routes.
    pub table: u32,
    /// Their route protocol.
    pub protocol: u8,
}

impl Plan {
    /// The plan lvs.cf alone describes (the overlay's timers stand in for lvs.cf's when it has
    /// them, for the check of the heartbeat's timers).
    pub(crate) fn from_lvscf(
        config: &Config,
        settings: &Settings,
        resolve: &dyn Fn(&str) -> Option<Ipv4Addr>,
    ) -> Result<Plan, Vec<PlanError>> {
        let mut errors = Vec::new();
        let mut unresolved = Vec::new();
        let mut ip = |host: &Host, place: Place| -> Option<Ipv4Addr> {
            match host {
                Host::Ip(ip) => Some(*ip),
                Host::Name(name) => {
                    let found = resolve(name);
                    let reported = unresolved
                        .iter()
                        .any(|e| matches!(e, PlanError::Unresolved { name: n, .. } if n == name));
                    if found.is_none() && !reported {
                        unresolved.push(PlanError::Unresolved {
                            place,
                            name: name.clone(),
                        });
                    }
                    found
                }
            }
        };
        let g = &config.globals;
        let mut addresses = Vec::new();
        let heartbeat = Pulse::from_lvscf(g, &mut |h, key| ip(h, Place::global(key)));
        let failover = (g.service == lvscf::ServiceType::Fos).then(|| {
            let plan = fos::Plan::from_lvscf(config, &mut |name, _| resolve(name));
            // Piranha runs either kind of block, never both.
            for vs in config.virtual_servers.iter().filter(|v| v.active) {
                errors.push(PlanError::Invalid {
                    place: Place::virtual_server(&vs.name, None),
                    message: "an active virtual server with `service = fos`: Piranha runs the \
                              failover services or the virtual servers, never both"
                        .into(),
                });
            }
            plan.map_err(|e| errors.extend(e.into_iter().map(PlanError::Failover)))
                .ok()
        });
        if g.primary.is_none() {
            errors.push(PlanError::Invalid {
                place: Place::global("primary"),
                message: "not set: a director finds its role by holding the primary's or the \
                          backup's address"
                    .into(),
            });
        }
        let overlay_timers =
            settings.heartbeat.keepalive.is_some() || settings.heartbeat.deadtime.is_some();
        if !overlay_timers
            && let Err(e) =
                heartbeat::Timers::new(g.keepalive.as_duration(), g.deadtime.as_duration())
        {
            errors.push(PlanError::Invalid {
                place: Place::global("deadtime"),
                message: format!("the heartbeat cannot run: {e}"),
            });
        }
        if let Some(router) = &g.nat_router
            && let Some(addr) = ip(&router.address, Place::global("nat_router"))
        {
            addresses.push(address(addr, g.nat_nmask, router, "nat_router".into()));
        }
        let forwarding = ipvs::lvscf::forwarding(g.network);
        let mut services: Vec<ServicePlan> = Vec::new();
        let virtuals = if failover.is_some() {
            &[][..]
        } else {
            &config.virtual_servers[..]
        };
        for vs in virtuals.iter().filter(|v| v.active) {
            let Some(on) = &vs.address else {
                errors.push(PlanError::Invalid {
                    place: Place::virtual_server(&vs.name, Some("address")),
                    message: "not set: a virtual server needs its address and interface".into(),
                });
                continue;
            };
            let Some(vip) = ip(
                &on.address,
                Place::virtual_server(&vs.name, Some("address")),
            ) else {
                continue;
            };
            addresses.push(address(
                vip,
                vs.vip_nmask,
                on,
                format!("virtual {}", vs.name),
            ));
            match service(vs, vip, forwarding, g, &mut ip) {
                Ok(s) => {
                    if let Some(first) = services.iter().find(|o| o.service.key == s.service.key) {
                        errors.push(PlanError::Invalid {
                            place: Place::virtual_server(&vs.name, None),
                            message: format!(
                                "the same IPVS service ({}) as virtual {}",
                                s.service.key, first.name
                            ),
                        });
                    }
                    services.push(s);
                }
                Err(e) => errors.extend(e),
            }
        }
        // One address, one interface: the same VIP for two services is taken over once.
        let mut seen = Vec::new();
        addresses.retain(|a: &AddressPlan| {
            let fresh = !seen.contains(&a.address);
            seen.push(a.address);
            fresh
        });
        let mut argv = |line: &Option<String>, key| {
            let line = line.as_deref()?;
            match shlex::split(line) {
                Some(words) if !words.is_empty() => Some(words),
                _ => {
                    errors.push(PlanError::Invalid {
                        place: Place::global(key),
                        message: format!(
                            "cannot split {line:?} into words (empty, or a quote left open)"
                        ),
                    });
                    None
                }
            }
        };
        let commands = Commands {
            active: argv(&g.active_cmd, "active_cmd"),
            inactive: argv(&g.inactive_cmd, "inactive_cmd"),
        };
        errors.extend(unresolved);
        let Some(heartbeat) = heartbeat.filter(|_| errors.is_empty()) else {
            return Err(errors);
        };
        Ok(Plan {
            services,
            addresses,
            heartbeat,
            sync_daemon: g.syncdaemon.then(|| (g.syncd_iface.clone(), g.syncd_id)),
            timeouts: ipvs::lvscf::timeouts(g),
            commands,
            operation: Operation::default(),
            failover: failover.flatten(),
            cluster: None,
        })
    }

    /// The addresses taken over when active, as [`arp_announce::takeover`] holds them.
    pub fn takeover(&self) -> Vec<arp_announce::takeover::Address> {
        self.addresses.iter().map(AddressPlan::target).collect()
    }

    /// The whole IPVS table with every active real server at its configured weight (what the
    /// table is when every check passes and slow start is over).
    pub fn full_table(&self) -> ipvs::Table {
        ipvs::Table {
            services: self
                .services
                .iter()
                .map(|s| ipvs::VirtualServer {
                    service: s.service.clone(),
                    destinations: s.servers.iter().map(|r| r.destination.clone()).collect(),
                })
                .collect(),
        }
    }
}

fn address(addr: Ipv4Addr, mask: Ipv4Addr, on: &AddressOnDevice, purpose: String) -> AddressPlan {
    AddressPlan {
        address: IpAddr::V4(addr),
        prefix: lvscf::takeover_prefix(mask),
        device: on.interface().to_string(),
        label: on.label().map(str::to_string),
        purpose,
    }
}

fn service(
    vs: &VirtualServer,
    vip: Ipv4Addr,
    forwarding: Forwarding,
    g: &lvscf::Globals,
    ip: &mut dyn FnMut(&Host, Place) -> Option<Ipv4Addr>,
) -> Result<ServicePlan, Vec<PlanError>> {
    let at = |key| Place::virtual_server(&vs.name, key);
    let mut errors = Vec::new();
    let service = match ipvs::lvscf::service(vs, vip) {
        Ok(service) => service,
        Err(e) => {
            errors.push(PlanError::Invalid {
                place: at(Some("pmask")),
                message: e.to_string(),
            });
            Service::new(ServiceKey::tcp(IpAddr::V4(vip), vs.port))
        }
    };
    let nanny = match healthcheck::nanny::Nanny::from_lvscf(vs, g) {
        Ok(n) => n,
        Err(e) => {
            errors.push(PlanError::Check(e));
            return Err(errors);
        }
    };
    let interval = nanny.interval();
    let described = nanny.to_string();
    let mut servers: Vec<ServerPlan> = Vec::new();
    for rs in vs.servers.iter().filter(|r| r.active) {
        let place = |key| Place::server(&vs.name, &rs.name, key);
        let Some(rip) = ip(&rs.address, place(Some("address"))) else {
            continue;
        };
        let destination = ipvs::lvscf::destination(rs, rip, forwarding);
        // The kernel refuses a second destination with the same address and port; the first
        // one is used (`Plan::warnings` reports the others).
        if servers.iter().any(|s| {
            s.destination.addr == destination.addr && s.destination.port == destination.port
        }) {
            continue;
        }
        let target = SocketAddr::new(IpAddr::V4(rip), rs.port);
        let probe = match nanny.probe(target) {
            Ok(p) => p,
            Err(e) => {
                errors.push(PlanError::Check(healthcheck::Error::At {
                    place: place(None),
                    source: Box::new(e),
                }));
                continue;
            }
        };
        let health = nanny.server_config(rs.weight);
        servers.push(ServerPlan {
            name: rs.name.clone(),
            destination,
            probe,
            health,
            interval,
            check: described.clone(),
        });
    }
    let sorry = ipvs::lvscf::sorry_server(vs, forwarding);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ServicePlan {
        name: vs.name.clone(),
        vip: IpAddr::V4(vip),
        service,
        servers,
        sorry,
        drain_timeout: None,
    })
}

impl fmt::Display for Plan {
    /// The plan for people: heartbeat, addresses, IPVS table with probes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cluster {
            None => write!(f, "{}", self.heartbeat)?,
            Some(c) => writeln!(
                f,
                "cluster: active-active, no heartbeat: each VIP announced (a host route in table \
                 {} proto {}) while a virtual service of it has {} healthy real server(s), after \
                 a hold-down of {:?} (doubling up to {:?} while it flaps)",
                c.table,
                c.protocol,
                c.announce.min_healthy,
                c.announce.hold_down,
                c.announce.max_hold_down
            )?,
        }
        let o = &self.operation;
        if *o != Operation::default() {
            let mut parts = Vec::new();
            if let Some(t) = o.drain_timeout {
                parts.push(format!("drain timeout {t:?}"));
            }
            if o.table_when_active == Some(true) {
                parts.push("table only while active".into());
            }
            if let Some(t) = o.reconcile_interval {
                parts.push(format!("reconcile every {t:?}"));
            }
            if let Some(p) = &o.socket {
                parts.push(format!("control socket {}", p.display()));
            }
            if let Some(g) = &o.control_group {
                parts.push(format!("control group {g}"));
            }
            if let Some(a) = o.metrics {
                parts.push(format!("metrics on http://{a}/metrics"));
            }
            if let Some(p) = o.address_probe {
                parts.push(format!("address probe {p:?}"));
            }
            if !o.track.is_empty() {
                let names: Vec<String> = o
                    .track
                    .iter()
                    .map(|t| format!("{} (weight {})", t.name, t.weight))
                    .collect();
                parts.push(format!(
                    "unfit at failing weight {} of {}",
                    o.track_threshold.unwrap_or(1),
                    names.join(", ")
                ));
            }
            for (what, hook) in [("role", &o.role_hook), ("server", &o.server_hook)] {
                if let Some(argv) = hook {
                    parts.push(format!("{what} hook `{}`", argv.join(" ")));
                }
            }
            if let Some(t) = o.hook_timeout {
                parts.push(format!("hooks killed after {t:?}"));
            }
            writeln!(f, "director: {}", parts.join(", "))?;
        }
        if let Some(failover) = &self.failover {
            return write!(f, "{failover}");
        }
        if self.cluster.is_some() {
            writeln!(f, "addresses held on every director:")?;
        } else {
            writeln!(f, "addresses taken over when active:")?;
        }
        for a in &self.addresses {
            write!(f, "  {}/{} dev {}", a.address, a.prefix, a.device)?;
            if let Some(label) = &a.label {
                write!(f, " label {label}")?;
            }
            writeln!(f, "  ({})", a.purpose)?;
        }
        if let Some((iface, id)) = &self.sync_daemon {
            let roles = if self.cluster.is_some() {
                "master and backup at once"
            } else {
                "master when active, backup when standby"
            };
            writeln!(f, "sync daemon: {roles}, on {iface}, id {id}")?;
        }
        let t = self.timeouts;
        if t != ipvs::Timeouts::default() {
            let [tcp, fin, udp] = [t.tcp, t.tcp_fin, t.udp].map(|s| Duration::from_secs(s.into()));
            writeln!(
                f,
                "IPVS timeouts: tcp {tcp:?}, tcpfin {fin:?}, udp {udp:?} (0: unchanged)"
            )?;
        }
        writeln!(f, "IPVS table (every real server healthy):")?;
        for s in &self.services {
            write!(f, "  {} {}", s.service.key, s.service.scheduler)?;
            if s.service.flags.persistent {
                write!(f, " persistent {}", s.service.timeout)?;
                if let Some(mask) = s.service.netmask {
                    write!(f, " mask /{mask}")?;
                }
            }
            writeln!(f, "  (virtual {})", s.name)?;
            for r in &s.servers {
                let rise_fall = if (r.health.rise, r.health.fall) == (1, 1) {
                    String::new()
                } else {
                    format!(", rise {}, fall {}", r.health.rise, r.health.fall)
                };
                writeln!(
                    f,
                    "    -> {} {} weight {}  (server {}; {} every {:?}, reentry {:?}{rise_fall}{})",
                    SocketAddr::new(r.destination.addr, r.destination.port),
                    r.destination.forwarding.name(),
                    r.destination.weight,
                    r.name,
                    r.check,
                    r.interval,
                    r.health.reentry,
                    if r.health.quiesce { ", quiesce" } else { "" }
                )?;
            }
            if let Some(sorry) = &s.sorry {
                writeln!(
                    f,
                    "    sorry server {}:{} when all are down",
                    sorry.addr, sorry.port
                )?;
            }
        }
        let shown = |argv: &Option<Vec<String>>| {
            argv.as_ref().map_or("-".to_string(), |a| {
                shlex::try_join(a.iter().map(String::as_str)).unwrap_or_else(|_| a.join(" "))
            })
        };
        if self.commands != Commands::default() {
            writeln!(
                f,
                "commands: active `{}`, inactive `{}`",
                shown(&self.commands.active),
                shown(&self.commands.inactive)
            )?;
        }
        Ok(())
    }
}
