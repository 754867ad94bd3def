//! The operator's requests (the control socket's and SIGHUP's): status, a real server drained,
//! disabled or enabled, the role forced, a reload.

use std::{collections::HashMap, net::SocketAddr};

use director_core::control::{Request, Response};
use director_core::{Input, Live};
use ipvs::listing;
use tokio::sync::oneshot;

use super::{Director, RunError};

impl Director {
    /// Answers `request`. A status or the metrics are gathered and rendered away from the
    /// event loop, one at a time, from a snapshot of the engine: the loop only clones it.
    pub(super) async fn answer(
        &mut self,
        request: Request,
        reply: oneshot::Sender<Response>,
    ) -> Result<(), RunError> {
        if !matches!(request, Request::Status | Request::Metrics) {
            let _ = reply.send(self.request(request).await?);
            return Ok(());
        }
        let engine = self.engine.clone();
        let ipvs = self.ipvs.clone();
        let monitor = self.monitor.clone();
        let targets = self.targets.clone();
        let mut live = Live::new(self.primary);
        live.held = self.takeover.held().to_vec();
        live.build = Some(director_core::Build {
            version: env!("CARGO_PKG_VERSION"),
            commit: env!("DIRECTOR_COMMIT"),
        });
        if let Some(h) = &self.heartbeat {
            live.heartbeat = h.counters().await;
        }
        let one_at_a_time = self.renders.clone();
        tokio::spawn(async move {
            let Ok(_turn) = one_at_a_time.acquire_owned().await else {
                return;
            };
            live.kernel = kernel(&ipvs).await;
            live.checks = checks(&monitor, &targets).await;
            let rendered = tokio::task::spawn_blocking(move || {
                live.totals = ipvs::totals::read();
                match request {
                    Request::Metrics => Response::ok(engine.metrics(&live)),
                    _ => Response::status(engine.status(&live)),
                }
            })
            .await;
            let _ = reply.send(rendered.unwrap_or_else(|e| Response::error(e.to_string())));
        });
        Ok(())
    }

    /// Carries out one request. `Err` only for what stops the director.
    pub(super) async fn request(&mut self, request: Request) -> Result<Response, RunError> {
        let input = match request {
            Request::Status | Request::Metrics => {
                return Ok(Response::error("answered by `answer`"));
            }
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
        let reloading = matches!(input, Input::Reload(_));
        let answer = self.handle(input).await?;
        if reloading && answer.as_ref().is_none_or(|a| !a.ok) {
            // Refused (a mode change): the service manager hears the director is ready again.
            super::notify::ready("reload refused");
        }
        Ok(answer.unwrap_or_else(|| Response::error("no answer")))
    }
}

/// The kernel's table, by service.
async fn kernel(
    ipvs: &ipvs::Handle,
) -> HashMap<ipvs::ServiceKey, (ipvs::ServiceEntry, Vec<ipvs::DestinationEntry>)> {
    match ipvs.table().await {
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
    }
}

/// The monitor's state of each real server's check.
async fn checks(
    monitor: &healthcheck::Monitor,
    targets: &HashMap<healthcheck::TargetId, super::Checked>,
) -> HashMap<SocketAddr, healthcheck::TargetStatus> {
    match monitor.status().await {
        Ok(all) => all
            .into_iter()
            .filter_map(|(id, s)| {
                let super::Checked::Server(key) = targets.get(&id)? else {
                    return None;
                };
                Some((SocketAddr::new(key.addr, key.port), s))
            })
            .collect(),
        Err(_) => HashMap::new(),
    }
}
