//! The operator's requests (the control socket's and SIGHUP's): status, a real server drained,
//! disabled or enabled, the role forced, a reload.

use std::{collections::HashMap, net::SocketAddr};

use director_core::control::{Request, Response};
use director_core::{Input, Live};
use ipvs::listing;

use super::{Director, RunError};

impl Director {
    /// Reads the kernel's table, the monitor's and the heartbeat's state, and the addresses held.
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
        let mut live = Live::new(self.primary);
        live.kernel = kernel;
        live.checks = checks;
        live.held = self.takeover.held().to_vec();
        live.totals = ipvs::totals::read();
        live.build = Some(director_core::Build {
            version: env!("CARGO_PKG_VERSION"),
            commit: env!("DIRECTOR_COMMIT"),
        });
        if let Some(h) = &self.heartbeat {
            live.heartbeat = h.counters().await;
        }
        live
    }

    /// Carries out one request. `Err` only for what stops the director.
    pub(super) async fn request(&mut self, request: Request) -> Result<Response, RunError> {
        let input = match request {
            Request::Status => {
                let status = self.engine.status(&self.live().await);
                return Ok(Response::status(status));
            }
            Request::Metrics => {
                return Ok(Response::ok(self.engine.metrics(&self.live().await)));
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
        Ok((self.handle(input).await?).unwrap_or_else(|| Response::error("no answer")))
    }
}
