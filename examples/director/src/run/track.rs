//! The router's own health (the overlay's `[track]`): its trackers run in the health monitor;
//! when the weights of the failing ones reach the threshold the router is unfit: it steps
//! down and does not take over (the heartbeat's "service failed", Piranha's CHILDFAIL) until
//! they recover.

use std::{
    collections::{BTreeSet, HashMap},
    net::SocketAddr,
    sync::Arc,
    time::Duration,
};

use heartbeat::fitness::{Fitness, Verdict};
use heartbeat::link::{LinkState, Links};

use healthcheck::{
    Checker, EventKind, Pass, ProbeError, ProbeFuture, ServerConfig, Target, TargetId,
};
use heartbeat::{Reason, Role};

use super::{Director, RunError, monitor_gone, refused};
use crate::TrackKind;

/// The trackers running, and what they say.
#[derive(Debug)]
pub(super) struct Tracking {
    /// Each tracker's check, to its index in the plan's trackers.
    targets: HashMap<TargetId, usize>,
    /// The trackers' weights and which fail.
    fitness: Fitness<usize>,
}

impl Default for Tracking {
    fn default() -> Self {
        Tracking {
            targets: HashMap::new(),
            fitness: Fitness::new(1),
        }
    }
}

impl Tracking {
    /// Whether `target` is a tracker's.
    pub(super) fn owns(&self, target: &TargetId) -> bool {
        self.targets.contains_key(target)
    }

    /// Whether the router may be active.
    pub(super) fn is_fit(&self) -> bool {
        self.fitness.is_fit()
    }
}

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
    /// Starts the plan's trackers, all anew (after a reload too): none fails until it says so.
    pub(super) async fn sync_trackers(&mut self) -> Result<(), RunError> {
        for id in std::mem::take(&mut self.tracking.targets).into_keys() {
            self.monitor.remove(id).await.map_err(monitor_gone)?;
        }
        let was_fit = self.tracking.fitness.is_fit();
        self.tracking.fitness = Fitness::new(self.plan.operation.track_threshold.unwrap_or(1));
        let links = if (self.plan.operation.track.iter())
            .any(|t| matches!(t.kind, TrackKind::Interface(_)))
        {
            Some(Links::new()?)
        } else {
            None
        };
        for (i, t) in self.plan.operation.track.iter().enumerate() {
            let config = ServerConfig {
                weight: 1,
                rise: 1,
                fall: t.fall,
                reentry: Duration::ZERO,
                quiesce: false,
                slow_start: None,
                load: None,
            };
            let target = match &t.kind {
                TrackKind::Probe(p) => Target::new(p.clone(), config, t.interval),
                TrackKind::Interface(dev) => Target::custom(
                    SocketAddr::from(([0, 0, 0, 0], 0)),
                    Arc::new(LinkUp {
                        links: links.clone().expect("opened for the interfaces"),
                        name: dev.clone(),
                    }),
                    config,
                    t.interval,
                ),
            };
            match refused(self.monitor.add(target).await)? {
                Ok(id) => {
                    self.tracking.targets.insert(id, i);
                    self.tracking.fitness.track(i, t.weight);
                }
                Err(e) => eprintln!("director: track {}: {e}", t.name),
            }
        }
        // Every tracker starts passing: a router that was unfit is fit again.
        if !was_fit {
            self.verdict(Verdict::Fit).await;
        }
        Ok(())
    }

    /// A tracker's verdict; true when the router's fitness changed (then it has acted).
    pub(super) async fn tracker_event(&mut self, target: &TargetId, kind: EventKind, why: &str) {
        let Some(&i) = self.tracking.targets.get(target) else {
            return;
        };
        let name = &self.plan.operation.track[i].name;
        let failing = matches!(kind, EventKind::Down { .. });
        let was = self.tracking.fitness.failing(&i);
        if failing {
            eprintln!("director: track: {name} fails: {why}");
        } else if was == Some(true) {
            eprintln!("director: track: {name} is back");
        }
        if let Some(verdict) = self.tracking.fitness.set(&i, failing) {
            self.verdict(verdict).await;
        }
    }

    /// Acts on a change of the router's fitness.
    async fn verdict(&mut self, verdict: Verdict) {
        let unfit = match verdict {
            Verdict::Unfit { failing, threshold } => {
                eprintln!(
                    "director: unfit: failing weight {failing} of threshold {threshold}: stepping down"
                );
                true
            }
            _ => {
                eprintln!("director: fit again");
                false
            }
        };
        match &self.heartbeat {
            Some(h) => {
                let _ = h.command(verdict.command()).await;
            }
            // A router alone follows its own fitness.
            None => {
                self.role.role = if unfit { Role::Standby } else { Role::Active };
                self.role.reason = if unfit {
                    Reason::ServiceFailed
                } else {
                    Reason::ServiceRecovered
                };
                eprintln!("director: {} ({})", self.role.role, self.role.reason);
                self.follow_role().await;
            }
        }
    }

    /// The trackers for the status: (name, weight, failing).
    pub(super) fn trackers(&self) -> Vec<(String, u32, bool)> {
        let running: BTreeSet<usize> = self.tracking.targets.values().copied().collect();
        (self.plan.operation.track.iter().enumerate())
            .filter(|(i, _)| running.contains(i))
            .map(|(i, t)| {
                let failing = self.tracking.fitness.failing(&i) == Some(true);
                (t.name.clone(), t.weight, failing)
            })
            .collect()
    }
}
