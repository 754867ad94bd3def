//! What `director status` shows: the engine's state joined with what the driver read from the
//! kernel, the monitor and the heartbeat ([`Live`]).

use std::{collections::HashMap, net::SocketAddr};

use arp_announce::takeover::Address;
use healthcheck::{Health, TargetStatus};
use heartbeat::Counters;
use ipvs::{DestinationEntry, ServiceEntry, ServiceKey, listing};

use crate::control::{Admin, HeartbeatStatus, ServerStatus, ServiceStatus, Status, TrackStatus};
use crate::{Engine, ServerKey};

/// What the driver read for a status or a scrape: the kernel's table, the checks, the
/// heartbeat's counters and the addresses held. Reading it is the driver's (I/O); turning it into
/// a [`Status`] or metrics is the core's.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Live {
    /// The kernel's table (in ipvsadm's order), by service.
    pub kernel: HashMap<ServiceKey, (ServiceEntry, Vec<DestinationEntry>)>,
    /// The checks of the real servers, by address.
    pub checks: HashMap<SocketAddr, TargetStatus>,
    /// The heartbeat's counters; `None` for a router alone.
    pub heartbeat: Option<Counters>,
    /// The addresses this router holds.
    pub held: Vec<Address>,
    /// This node is the primary.
    pub primary: bool,
    /// The node-wide IPVS counters ([`ipvs::totals`]).
    pub totals: Option<ipvs::Stats>,
    /// Which build runs (`director_build_info`); `None` leaves the metric out.
    pub build: Option<Build>,
}

/// Which build of a driver runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Build {
    /// Its version.
    pub version: &'static str,
    /// The commit it was built from.
    pub commit: &'static str,
}

impl Live {
    /// Nothing read yet, on the primary or the backup.
    pub fn new(primary: bool) -> Live {
        Live {
            primary,
            ..Live::default()
        }
    }
}

impl Engine {
    /// The live state: the kernel's table for the services of the configuration (and those
    /// still draining), each real server with its health and the operator's decision.
    pub fn status(&self, live: &Live) -> Status {
        let Live {
            kernel,
            checks: health,
            ..
        } = live;
        let mut services = Vec::new();
        for s in &self.plan().services {
            let in_kernel = kernel.get(&s.service.key);
            let entry = |addr: SocketAddr| {
                in_kernel.and_then(|(_, ds)| {
                    ds.iter()
                        .find(|d| SocketAddr::new(d.destination.addr, d.destination.port) == addr)
                })
            };
            let mut servers = Vec::new();
            for r in &s.servers {
                let key = ServerKey::of(&s.service.key, &r.destination);
                let addr = SocketAddr::new(r.destination.addr, r.destination.port);
                let checked = health.get(&addr);
                let verdict = self.desired().health(&key).flatten();
                servers.push(server_status(
                    &r.name,
                    addr,
                    entry(addr),
                    match verdict {
                        Some(Health::Up) => "up",
                        Some(Health::Down) => "down",
                        _ => "unknown",
                    },
                    self.desired().admin(&key).unwrap_or_default(),
                    checked,
                ));
            }
            if let Some(sorry) = &s.sorry {
                let addr = SocketAddr::new(sorry.addr, sorry.port);
                if let Some(e) = entry(addr) {
                    servers.push(server_status(
                        "sorry",
                        addr,
                        Some(e),
                        "in",
                        Admin::Enable,
                        None,
                    ));
                }
            }
            services.push(ServiceStatus {
                virtual_server: s.name.clone(),
                line: in_kernel.map(|(e, _)| listing::service_line(&e.service)),
                key: s.service.key.to_string(),
                servers,
            });
        }
        for d in self.desired().draining().iter() {
            let addr = SocketAddr::new(d.destination.addr, d.destination.port);
            let in_kernel = kernel.get(&d.service.key);
            let e = in_kernel.and_then(|(_, ds)| {
                ds.iter()
                    .find(|x| SocketAddr::new(x.destination.addr, x.destination.port) == addr)
            });
            let status = server_status("", addr, e, "draining", Admin::Enable, None);
            match services
                .iter_mut()
                .find(|s| s.key == d.service.key.to_string())
            {
                Some(s) => s.servers.push(status),
                None => services.push(ServiceStatus {
                    virtual_server: String::new(),
                    line: in_kernel.map(|(e, _)| listing::service_line(&e.service)),
                    key: d.service.key.to_string(),
                    servers: vec![status],
                }),
            }
        }
        let heartbeat = live.heartbeat.as_ref().map(|c| HeartbeatStatus {
            protocol: if self.plan().heartbeat.auth.is_some() {
                "authenticated"
            } else {
                "piranha"
            }
            .into(),
            sent: c.sent,
            accepted: c.accepted,
            rejected: c.total_rejected(),
            stalls: c.stalls,
        });
        Status {
            node: if self.plan().cluster.is_some() {
                "active-active"
            } else if live.primary {
                "primary"
            } else {
                "backup"
            }
            .into(),
            role: if self.is_active() {
                "active"
            } else {
                "standby"
            }
            .into(),
            reason: self.role().reason.to_string(),
            forced: self.forced(),
            heartbeat,
            addresses: (live.held.iter())
                .map(|a| {
                    let on = a.label.as_deref().unwrap_or(&a.device);
                    format!("{}/{} on {on}", a.address, a.prefix)
                })
                .collect(),
            announced: (self.plan().cluster.is_some())
                .then(|| self.announced().iter().map(ToString::to_string).collect()),
            tracking: (self.trackers_status().into_iter())
                .map(|(name, weight, failing)| TrackStatus {
                    name,
                    weight,
                    failing,
                })
                .collect(),
            fit: self.is_fit(),
            services,
        }
    }
}

fn server_status(
    name: &str,
    addr: SocketAddr,
    entry: Option<&DestinationEntry>,
    health: &str,
    admin: Admin,
    checked: Option<&TargetStatus>,
) -> ServerStatus {
    let last = checked.and_then(|c| c.state.last.as_ref());
    ServerStatus {
        name: name.into(),
        address: addr.to_string(),
        line: entry.map(listing::destination_line),
        weight: entry.map(|e| e.destination.weight),
        active_conns: entry.map(|e| e.active_conns),
        inactive_conns: entry.map(|e| e.inactive_conns),
        health: health.into(),
        admin,
        last_check: last.map(|l| l.detail.to_string()),
        latency_ms: last.map(|l| l.latency.as_secs_f64() * 1000.0),
        checks: checked.map_or(0, |c| c.state.checks),
        failures: checked.map_or(0, |c| c.state.failures),
    }
}
