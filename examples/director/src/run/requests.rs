//! The operator's requests (the control socket's and SIGHUP's): status, a real server drained,
//! disabled or enabled, the role forced, a reload.

use std::{collections::HashMap, net::SocketAddr};

use healthcheck::{Health, TargetStatus};
use ipvs::{DestinationEntry, ServiceEntry, ServiceKey, listing};

use super::{Director, RunError};
use crate::control::{
    Admin, HeartbeatStatus, Request, Response, ServerStatus, ServiceStatus, Status,
};
use crate::engine::Input;

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
                tracing::error!("IPVS: {e}");
                HashMap::new()
            }
        };
        let checks = match self.monitor.status().await {
            Ok(all) => all
                .into_iter()
                .filter_map(|(id, s)| {
                    let super::Checked::Server(key) = self.targets.get(&id)? else {
                        return None;
                    };
                    Some((SocketAddr::new(key.addr, key.port), s))
                })
                .collect(),
            Err(_) => HashMap::new(),
        };
        Live { kernel, checks }
    }

    /// Carries out one request. `Err` only for what stops the director.
    pub(super) async fn request(&mut self, request: Request) -> Result<Response, RunError> {
        let input = match request {
            Request::Status => {
                let status = self.status().await;
                return Ok(Response {
                    ok: true,
                    message: String::new(),
                    status: Some(status),
                });
            }
            Request::Metrics => return Ok(Response::ok(self.metrics().await)),
            Request::Server {
                action,
                virtual_server,
                server,
            } => Input::Admin {
                action,
                virtual_server,
                server,
            },
            Request::Force { role } => Input::Force(role),
            Request::Reload => {
                let Some(loader) = self.options.loader.clone() else {
                    return Ok(Response::error(
                        "this director was started without its files: it cannot reload",
                    ));
                };
                match tokio::task::spawn_blocking(move || (loader.0)()).await {
                    Ok(Ok(plan)) => {
                        super::notify::reloading();
                        Input::Reload(Box::new(plan))
                    }
                    Ok(Err(problems)) => Input::ReloadFailed(problems),
                    Err(e) => return Ok(Response::error(format!("reload: {e}"))),
                }
            }
        };
        Ok((self.handle(input).await?).unwrap_or_else(|| Response::error("no answer")))
    }

    /// The live state: the kernel's table for the services of the configuration (and those
    /// still draining), each real server with its health and the operator's decision.
    pub(super) async fn status(&self) -> Status {
        let Live {
            kernel,
            checks: health,
        } = self.live().await;
        let mut services = Vec::new();
        for s in &self.engine.plan().services {
            let in_kernel = kernel.get(&s.service.key);
            let entry = |addr: SocketAddr| {
                in_kernel.and_then(|(_, ds)| {
                    ds.iter()
                        .find(|d| SocketAddr::new(d.destination.addr, d.destination.port) == addr)
                })
            };
            let mut servers = Vec::new();
            for r in &s.servers {
                let key = crate::ServerKey::of(&s.service.key, &r.destination);
                let addr = SocketAddr::new(r.destination.addr, r.destination.port);
                let checked = health.get(&addr);
                let verdict = self.engine.desired().health(&key).flatten();
                servers.push(server_status(
                    &r.name,
                    addr,
                    entry(addr),
                    match verdict {
                        Some(Health::Up) => "up",
                        Some(Health::Down) => "down",
                        _ => "unknown",
                    },
                    self.engine.desired().admin(&key).unwrap_or_default(),
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
        for d in self.engine.desired().draining().iter() {
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
                protocol: if self.engine.plan().heartbeat.auth.is_some() {
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
            role: if self.engine.is_active() {
                "active"
            } else {
                "standby"
            }
            .into(),
            reason: self.engine.role().reason.to_string(),
            forced: self.engine.forced(),
            heartbeat,
            addresses: (self.takeover.held().iter())
                .map(|a| {
                    let on = a.label.as_deref().unwrap_or(&a.device);
                    format!("{}/{} on {on}", a.address, a.prefix)
                })
                .collect(),
            tracking: (self.engine.trackers_status().into_iter())
                .map(|(name, weight, failing)| crate::control::TrackStatus {
                    name,
                    weight,
                    failing,
                })
                .collect(),
            fit: self.engine.is_fit(),
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
