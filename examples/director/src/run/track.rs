//! The router's own health (the overlay's `[track]`): its trackers run in the health monitor;
//! when the weights of the failing ones reach the threshold the router is unfit: it steps
//! down and does not take over (the heartbeat's "service failed", Piranha's CHILDFAIL) until
//! they recover.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use heartbeat::link::{LinkState, Links};

use healthcheck::{Checker, Pass, ProbeError, ProbeFuture, Target, TargetId};

use super::{Checked, Director, RunError, refused};
use crate::engine::TrackerTarget;

/// An interface that must be up with a carrier, read through rtnetlink (in the director's
/// network namespace).
struct LinkUp {
    links: Links,
    name: String,
}

impl Checker for LinkUp {
    fn check(&self) -> ProbeFuture<'_> {
        Box::pin(async move {
            let name = &self.name;
            match self.links.state(name).await {
                Ok(LinkState::Up) => Ok(Pass::Custom),
                Ok(LinkState::NoCarrier) => {
                    Err(ProbeError::Custom(format!("interface {name}: no carrier")))
                }
                Ok(LinkState::Missing) => Err(ProbeError::Custom(format!(
                    "interface {name} does not exist"
                ))),
                Ok(_) => Err(ProbeError::Custom(format!("interface {name} is down"))),
                Err(e) => Err(ProbeError::Custom(format!("interface {name}: {e}"))),
            }
        })
    }

    fn deadline(&self) -> Duration {
        Duration::from_secs(1)
    }
}

impl Director {
    /// Replaces every tracker by `trackers` (their index in the plan, name, and target).
    pub(super) async fn trackers(
        &mut self,
        trackers: Vec<(usize, String, TrackerTarget)>,
    ) -> Result<(), RunError> {
        let running: Vec<TargetId> = (self.targets.iter())
            .filter(|(_, c)| matches!(c, Checked::Tracker(_)))
            .map(|(id, _)| *id)
            .collect();
        for id in running {
            self.targets.remove(&id);
            self.monitor.remove(id).await.map_err(RunError::Monitor)?;
        }
        let interfaces =
            (trackers.iter()).any(|(_, _, t)| matches!(t, TrackerTarget::Interface { .. }));
        let links = if interfaces {
            Some(Links::new()?)
        } else {
            None
        };
        for (i, name, target) in trackers {
            let target = match (target, &links) {
                (TrackerTarget::Probe(target), _) => target,
                (
                    TrackerTarget::Interface {
                        name,
                        interval,
                        config,
                    },
                    Some(links),
                ) => {
                    let check = LinkUp {
                        links: links.clone(),
                        name,
                    };
                    Target::custom(
                        SocketAddr::from(([0, 0, 0, 0], 0)),
                        Arc::new(check),
                        config,
                        interval,
                    )
                }
                (TrackerTarget::Interface { .. }, None) => continue,
            };
            match refused(self.monitor.add(target).await)? {
                Ok(id) => {
                    self.targets.insert(id, Checked::Tracker(i));
                }
                Err(e) => tracing::error!("track {name}: {e}"),
            }
        }
        Ok(())
    }
}
