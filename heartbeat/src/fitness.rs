//! A router's own health beside its heartbeat (keepalived's `track_interface` /
//! `track_script` weights): trackers fail and recover; when the weights of the failing ones add
//! up to a threshold the router is unfit to be active, and the state machine is told
//! [`Event::ServiceFailed`](crate::Event::ServiceFailed) until they fall below it again.
//!
//! ```
//! use heartbeat::fitness::{Fitness, Verdict};
//! let mut fitness = Fitness::new(2);
//! fitness.track("uplink", 1);
//! fitness.track("script", 2);
//! assert_eq!(fitness.set(&"uplink", true), None); // 1 of 2: still fit
//! assert_eq!(fitness.set(&"script", true), Some(Verdict::Unfit { failing: 3, threshold: 2 }));
//! assert_eq!(fitness.set(&"script", false), Some(Verdict::Fit));
//! ```

use std::collections::BTreeMap;

use crate::driver::Command;

/// What changed about the router's fitness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// The failing weight reached the threshold: step down, do not take over.
    Unfit {
        /// The failing weight.
        failing: u32,
        /// The threshold.
        threshold: u32,
    },
    /// Back below the threshold.
    Fit,
}

impl Verdict {
    /// What to tell a running [`Driver`](crate::Driver).
    pub fn command(self) -> Command {
        match self {
            Verdict::Unfit { .. } => Command::ServiceFailed,
            Verdict::Fit => Command::ServiceRecovered,
        }
    }
}

/// The trackers of a router, their weights and which fail (sans I/O: the application runs the
/// trackers and reports their results).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fitness<K: Ord> {
    /// Each tracker's weight, and whether it fails now.
    trackers: BTreeMap<K, (u32, bool)>,
    threshold: u32,
    unfit: bool,
}

impl<K: Ord> Fitness<K> {
    /// No tracker yet; unfit once the failing weight reaches `threshold` (at least 1).
    pub fn new(threshold: u32) -> Self {
        Fitness {
            trackers: BTreeMap::new(),
            threshold: threshold.max(1),
            unfit: false,
        }
    }

    /// Adds (or replaces) a tracker with its weight, not failing.
    pub fn track(&mut self, key: K, weight: u32) {
        self.trackers.insert(key, (weight, false));
    }

    /// Records whether `key` fails; the verdict when the router's fitness changed. A key that
    /// is not tracked changes nothing.
    pub fn set(&mut self, key: &K, failing: bool) -> Option<Verdict> {
        let tracker = self.trackers.get_mut(key)?;
        tracker.1 = failing;
        let failing = self.failing_weight();
        let unfit = failing >= self.threshold;
        if unfit == self.unfit {
            return None;
        }
        self.unfit = unfit;
        Some(if unfit {
            Verdict::Unfit {
                failing,
                threshold: self.threshold,
            }
        } else {
            Verdict::Fit
        })
    }

    /// The weight of the failing trackers.
    pub fn failing_weight(&self) -> u32 {
        self.trackers
            .values()
            .filter(|(_, failing)| *failing)
            .map(|(weight, _)| weight)
            .sum()
    }

    /// Whether the router may be active.
    pub fn is_fit(&self) -> bool {
        !self.unfit
    }

    /// Whether `key` fails now (`None`: not tracked).
    pub fn failing(&self, key: &K) -> Option<bool> {
        self.trackers.get(key).map(|(_, failing)| *failing)
    }

    /// The threshold.
    pub fn threshold(&self) -> u32 {
        self.threshold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_crossing_the_threshold_is_a_verdict() {
        let mut f = Fitness::new(0);
        assert_eq!(
            f.threshold(),
            1,
            "a threshold of 0 would make every router unfit"
        );
        f.track(1, 1);
        f.track(2, 1);
        assert_eq!(f.set(&3, true), None, "not tracked");
        assert_eq!(
            f.set(&1, true),
            Some(Verdict::Unfit {
                failing: 1,
                threshold: 1
            })
        );
        assert_eq!(f.set(&2, true), None, "still unfit");
        assert_eq!(f.set(&1, false), None, "2 still fails");
        assert!(!f.is_fit());
        assert_eq!(f.set(&2, false), Some(Verdict::Fit));
        assert_eq!(f.failing(&2), Some(false));
        assert!(matches!(Verdict::Fit.command(), Command::ServiceRecovered));
    }
}
