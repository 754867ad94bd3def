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

use healthcheck::{
    Checker, EventKind, Pass, ProbeError, ProbeFuture, ServerConfig, Target, TargetId,
};
use heartbeat::{Command, Reason, Role};

use super::{Director, RunError, monitor_gone, refused};
use crate::TrackKind;

/// The trackers running, and what they say.
#[derive(Debug, Default)]
pub(super) struct Tracking {
    /// Each tracker's check, to its index in the plan's trackers.
    targets: HashMap<TargetId, usize>,
    /// The trackers failing now.
    failing: BTreeSet<usize>,
    /// Whether the router is unfit now.
    pub(super) unfit: bool,
}

impl Tracking {
    /// Whether `target` is a tracker's.
    pub(super) fn owns(&self, target: &TargetId) -> bool {
        self.targets.contains_key(target)
    }
}

/// An interface that must be up (IFF_UP) with a carrier, read from `/sys/class/net` (of the
/// director's network namespace).
struct LinkUp(String);

impl Checker for LinkUp {
    fn check(&self) -> ProbeFuture<'_> {
        Box::pin(async move {
            let read = |what: &str| {
                std::fs::read_to_string(format!("/sys/class/net/{}/{what}", self.0))
                    .map(|s| s.trim().to_string())
            };
            let flags = read("flags")
                .map_err(|e| ProbeError::Custom(format!("interface {}: {e}", self.0)))?;
            let up =
                u32::from_str_radix(flags.trim_start_matches("0x"), 16).is_ok_and(|f| f & 1 != 0);
            // The carrier cannot be read while the interface is down.
            if up && read("carrier").is_ok_and(|c| c == "1") {
                Ok(Pass::Custom)
            } else if up {
                Err(ProbeError::Custom(format!(
                    "interface {}: no carrier",
                    self.0
                )))
            } else {
                Err(ProbeError::Custom(format!("interface {} is down", self.0)))
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
        self.tracking.failing.clear();
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
                    Arc::new(LinkUp(dev.clone())),
                    config,
                    t.interval,
                ),
            };
            match refused(self.monitor.add(target).await)? {
                Ok(id) => {
                    self.tracking.targets.insert(id, i);
                }
                Err(e) => eprintln!("director: track {}: {e}", t.name),
            }
        }
        self.judge_fitness().await;
        Ok(())
    }

    /// A tracker's verdict.
    pub(super) fn tracker_event(&mut self, target: &TargetId, kind: EventKind, why: &str) {
        let Some(&i) = self.tracking.targets.get(target) else {
            return;
        };
        let name = &self.plan.operation.track[i].name;
        match kind {
            EventKind::Down { .. } => {
                eprintln!("director: track: {name} fails: {why}");
                self.tracking.failing.insert(i);
            }
            EventKind::Up { .. } | EventKind::Weight(_) => {
                if self.tracking.failing.remove(&i) {
                    eprintln!("director: track: {name} is back");
                }
            }
        }
    }

    /// Decides whether the router is fit, from the failing trackers; acts when that changed.
    pub(super) async fn judge_fitness(&mut self) {
        let track = &self.plan.operation.track;
        let failing: u32 = (self.tracking.failing.iter())
            .map(|&i| track.get(i).map_or(0, |t| t.weight))
            .sum();
        let threshold = self.plan.operation.track_threshold.unwrap_or(1);
        let unfit = failing >= threshold;
        if unfit == self.tracking.unfit {
            return;
        }
        self.tracking.unfit = unfit;
        if unfit {
            eprintln!(
                "director: unfit: failing weight {failing} of threshold {threshold}: stepping down"
            );
        } else {
            eprintln!("director: fit again");
        }
        match &self.heartbeat {
            Some(h) => {
                let command = if unfit {
                    Command::ServiceFailed
                } else {
                    Command::ServiceRecovered
                };
                let _ = h.command(command).await;
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
            .map(|(i, t)| (t.name.clone(), t.weight, self.tracking.failing.contains(&i)))
            .collect()
    }
}
