//! The operator's requests (the control socket's and SIGHUP's): status, a real server drained,
//! disabled or enabled, the role forced, a reload.

use std::{collections::HashMap, net::SocketAddr};

use healthcheck::{Health, TargetStatus};
use heartbeat::{Command, Role};
use ipvs::{DestinationEntry, ServiceEntry, ServiceKey, listing};

use super::{Director, RunError};
use crate::control::{
    Admin, Force, HeartbeatStatus, Request, Response, ServerStatus, ServiceStatus, Status,
};

/// What the kernel and the monitor say now, for the status and the metrics.
pub(super) struct Live {
    /// The kernel's table (in ipvsadm's order), by service.
    pub(super) kernel: HashMap<ServiceKey, (ServiceEntry, Vec<DestinationEntry>)>,
    /// The checks of the real servers, by address.
    pub(super) checks: HashMap<SocketAddr, TargetStatus>,
}

impl Director {
    /// Reads the kernel's table and the monitor's state.
    pub(super) async fn live(&self) -> Live {
        let kernel = match self.ipvs.table().await {
            Ok(mut t) => {
                listing::sort(&mut t);
                t.into_iter()
                    .map(|(s, d)| (s.service.key, (s, d)))
                    .collect()
            }
            Err(e) => {
                eprintln!("director: IPVS: {e}");
                HashMap::new()
            }
        };
        let checks = match self.monitor.status().await {
            Ok(all) => all
                .into_iter()
                .filter_map(|(id, s)| {
                    let key = self.targets.get(&id)?;
                    Some((SocketAddr::new(key.addr, key.port), s))
                })
                .collect(),
            Err(_) => HashMap::new(),
        };
        Live { kernel, checks }
    }

    /// Carries out one request. `Err` only for what stops the director.
    pub(super) async fn request(&mut self, request: Request) -> Result<Response, RunError> {
        Ok(match request {
            Request::Status => {
                let status = self.status().await;
                Response {
                    ok: true,
                    message: String::new(),
                    status: Some(status),
                }
            }
            Request::Server {
                action,
                virtual_server,
                server,
            } => self.admin(action, &virtual_server, &server).await,
            Request::Force { role } => self.force(role).await,
            Request::Reload => self.reload_files().await?,
            Request::Metrics => Response::ok(self.metrics().await),
        })
    }

    /// Re-reads the configuration through the loader and applies it.
    async fn reload_files(&mut self) -> Result<Response, RunError> {
        let Some(loader) = self.options.loader.clone() else {
            return Ok(Response::error(
                "this director was started without its files: it cannot reload",
            ));
        };
        match tokio::task::spawn_blocking(move || (loader.0)()).await {
            Ok(Ok(plan)) => Ok(Response::ok(self.reload(plan).await?)),
            Ok(Err(problems)) => {
                self.counts.reload_failures += 1;
                for p in &problems {
                    eprintln!("{p}");
                }
                eprintln!(
                    "director: reload: the configuration is not valid; the running one is kept"
                );
                Ok(Response::error(format!(
                    "the configuration is not valid; the running one is kept:\n{}",
                    problems.join("\n")
                )))
            }
            Err(e) => Ok(Response::error(format!("reload: {e}"))),
        }
    }

    /// Finds real server `server` (its name, address or `address:port`) of virtual server
    /// `name`, in each of its services (IPv4 and IPv6): their (service, server) indices.
    fn find_server(&self, name: &str, server: &str) -> Result<Vec<(usize, usize)>, String> {
        let services: Vec<usize> = (self.plan.services.iter().enumerate())
            .filter(|(_, s)| s.name == name)
            .map(|(si, _)| si)
            .collect();
        if services.is_empty() {
            return Err(format!("no virtual server `{name}` is running"));
        }
        let mut found = Vec::new();
        for si in services {
            let matching: Vec<usize> = (self.plan.services[si].servers.iter().enumerate())
                .filter(|(_, r)| {
                    let at = SocketAddr::new(r.destination.addr, r.destination.port);
                    r.name == server
                        || r.destination.addr.to_string() == server
                        || at.to_string() == server
                })
                .map(|(i, _)| i)
                .collect();
            if matching.len() > 1 {
                return Err(format!(
                    "virtual {name} has {} real servers named `{server}`: give its address",
                    matching.len()
                ));
            }
            found.extend(matching.into_iter().map(|ri| (si, ri)));
        }
        if found.is_empty() {
            return Err(format!("virtual {name} has no real server `{server}`"));
        }
        Ok(found)
    }

    async fn admin(&mut self, action: Admin, name: &str, server: &str) -> Response {
        let found = match self.find_server(name, server) {
            Ok(found) => found,
            Err(e) => return Response::error(e),
        };
        let word = action.verb();
        let mut changed = false;
        let mut messages = Vec::new();
        for (si, ri) in found {
            changed |= self.desired.set_admin(si, ri, action);
            let r = &self.plan.services[si].servers[ri];
            let address = SocketAddr::new(r.destination.addr, r.destination.port).to_string();
            let args = [
                name,
                r.name.as_str(),
                address.as_str(),
                word,
                "-",
                "operator",
            ];
            super::notify::run_command(
                "the server hook",
                self.plan.operation.server_hook.as_deref(),
                &args,
            );
            messages.push(format!(
                "virtual {name} server {} ({address}): {}",
                r.name,
                action.word()
            ));
        }
        if changed {
            self.sync_table().await;
        }
        let message = messages.join("\n");
        for m in &messages {
            eprintln!("director: operator: {m}");
        }
        Response::ok(message)
    }

    async fn force(&mut self, role: Force) -> Response {
        self.forced = (role != Force::Auto).then_some(role);
        match &self.heartbeat {
            Some(h) => {
                let command = match role {
                    Force::Active => Command::ForceActive,
                    Force::Standby => Command::ForceStandby,
                    Force::Auto => Command::Release,
                };
                if !h.command(command).await {
                    return Response::error("the heartbeat has stopped");
                }
            }
            // A router alone is active unless held standby.
            None => {
                self.role.role = if role == Force::Standby {
                    Role::Standby
                } else {
                    Role::Active
                };
                self.role.reason = heartbeat::Reason::Operator;
                eprintln!("director: {} (operator)", self.role.role);
                self.follow_role().await;
            }
        }
        let message = match role {
            Force::Active => "forced active",
            Force::Standby => "forced standby",
            Force::Auto => "the heartbeat decides the role again",
        };
        eprintln!("director: operator: {message}");
        Response::ok(message)
    }

    /// The live state: the kernel's table for the services of the configuration (and those
    /// still draining), each real server with its health and the operator's decision.
    pub(super) async fn status(&self) -> Status {
        let Live {
            kernel,
            checks: health,
        } = self.live().await;
        let mut services = Vec::new();
        for (si, s) in self.plan.services.iter().enumerate() {
            let in_kernel = kernel.get(&s.service.key);
            let entry = |addr: SocketAddr| {
                in_kernel.and_then(|(_, ds)| {
                    ds.iter()
                        .find(|d| SocketAddr::new(d.destination.addr, d.destination.port) == addr)
                })
            };
            let mut servers = Vec::new();
            for (ri, r) in s.servers.iter().enumerate() {
                let addr = SocketAddr::new(r.destination.addr, r.destination.port);
                let checked = health.get(&addr);
                let verdict = self.desired.health(si, ri).flatten();
                servers.push(server_status(
                    &r.name,
                    addr,
                    entry(addr),
                    match verdict {
                        Some(Health::Up) => "up",
                        Some(Health::Down) => "down",
                        _ => "unknown",
                    },
                    self.desired.admin(si, ri).unwrap_or_default(),
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
        for d in self.desired.draining().iter() {
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
        let heartbeat = match &self.heartbeat {
            None => None,
            Some(h) => h.counters().await.map(|c| HeartbeatStatus {
                protocol: if self.plan.heartbeat.auth.is_some() {
                    "authenticated"
                } else {
                    "piranha"
                }
                .into(),
                sent: c.sent,
                accepted: c.accepted,
                rejected: c.total_rejected(),
                stalls: c.stalls,
            }),
        };
        Status {
            node: if self.primary { "primary" } else { "backup" }.into(),
            role: if self.active { "active" } else { "standby" }.into(),
            reason: self.role.reason.to_string(),
            forced: self.forced,
            heartbeat,
            addresses: (self.takeover.held().iter())
                .map(|a| {
                    let on = a.label.as_deref().unwrap_or(&a.device);
                    format!("{}/{} on {on}", a.address, a.prefix)
                })
                .collect(),
            tracking: (self.trackers().into_iter())
                .map(|(name, weight, failing)| crate::control::TrackStatus {
                    name,
                    weight,
                    failing,
                })
                .collect(),
            fit: self.tracking.is_fit(),
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
