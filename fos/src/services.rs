//! The failover services' rules, without I/O: what to do when the node's role changes and when
//! a check answers. Time comes in with every call, as in [`heartbeat::Heartbeat`].
//!
//! - **Becoming active**: take the addresses over, then run each service's `start_cmd`, in file
//!   order; each is checked one interval later, then every interval.
//! - **A failed check** on the active node: report it ([`Output::Failed`]), which the caller
//!   hands to the heartbeat as [`heartbeat::Event::ServiceFailed`]: the node steps down and the
//!   peer takes over. As Piranha's sample file says, if any service fails, all of them move.
//!   After `reentry` the node offers to serve again ([`Output::Recovered`]): with a living peer
//!   that serves, nothing changes; alone, it starts the services again.
//! - **Becoming standby**: run each `stop_cmd`, in reverse order, then release the addresses.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use fos::services::{Input, Output, Services};
//! use heartbeat::Role;
//! let mut s = Services::new(vec![Duration::from_secs(2)], Duration::from_secs(10));
//! let t = Instant::now();
//! assert_eq!(
//!     s.handle(t, Input::Role(Role::Active)),
//!     [Output::Take, Output::Start(0)]
//! );
//! assert_eq!(s.poll_timeout(), Some(t + Duration::from_secs(2)));
//! let t = t + Duration::from_secs(2);
//! assert_eq!(s.handle(t, Input::Timer), [Output::Check { service: 0, id: 1 }]);
//! let failed = Input::Checked { service: 0, id: 1, passed: false, detail: "refused".into() };
//! let out = s.handle(t, failed);
//! assert_eq!(out, [Output::Failed { service: 0, detail: "refused".into() }]);
//! ```

use std::time::{Duration, Instant};

use heartbeat::Role;

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Input {
    /// The heartbeat decided the node's role.
    Role(Role),
    /// A check asked for with [`Output::Check`] answered.
    Checked {
        /// The service's index in the plan.
        service: usize,
        /// The check's `id` from [`Output::Check`] (an answer to an earlier one is ignored).
        id: u64,
        /// Whether it passed.
        passed: bool,
        /// Why it failed (or what passed), for the log.
        detail: String,
    },
    /// The time from [`Services::poll_timeout`] has come (early or late is harmless).
    Timer,
}

/// What the caller must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output {
    /// Add and announce every service's address.
    Take,
    /// Run this service's `start_cmd`.
    Start(usize),
    /// Run this service's `stop_cmd`.
    Stop(usize),
    /// Remove the addresses.
    Release,
    /// Check this service now, and report with [`Input::Checked`] and this `id`.
    Check {
        /// The service.
        service: usize,
        /// Which check this is.
        id: u64,
    },
    /// This service failed on the active node: tell the heartbeat
    /// ([`heartbeat::Event::ServiceFailed`]).
    Failed {
        /// The service.
        service: usize,
        /// Why.
        detail: String,
    },
    /// The node may serve again ([`heartbeat::Event::ServiceRecovered`]).
    Recovered,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Not checked (standby, or stepping down).
    Off,
    /// Due at this time.
    Due(Instant),
    /// Asked for (with this id); waiting for the answer.
    Running(u64),
}

/// The failover services of one node.
#[derive(Debug, Clone)]
pub struct Services {
    intervals: Vec<Duration>,
    reentry: Duration,
    active: bool,
    checks: Vec<Check>,
    /// After a failure: when the node may serve again.
    retry_at: Option<Instant>,
    /// The last check's id.
    last_id: u64,
}

impl Services {
    /// Services checked every `intervals[i]`; a node whose service failed waits `reentry` before
    /// it offers to serve again. The node starts standby, with nothing running.
    pub fn new(intervals: Vec<Duration>, reentry: Duration) -> Services {
        Services {
            checks: vec![Check::Off; intervals.len()],
            intervals,
            reentry,
            active: false,
            retry_at: None,
            last_id: 0,
        }
    }

    /// Whether the services run here.
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// Whether a failure keeps the node from serving (until [`Output::Recovered`]).
    pub fn is_failed(&self) -> bool {
        self.retry_at.is_some()
    }

    /// When to call `handle(now, Input::Timer)` next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.checks
            .iter()
            .filter_map(|c| match c {
                Check::Due(t) => Some(*t),
                _ => None,
            })
            .chain(self.retry_at)
            .min()
    }

    /// Handles one input at `now`; due timers are handled too, whatever the input.
    #[must_use = "the outputs must be carried out"]
    pub fn handle(&mut self, now: Instant, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        match input {
            Input::Role(Role::Active) if !self.active => {
                self.active = true;
                out.push(Output::Take);
                for (i, interval) in self.intervals.iter().enumerate() {
                    out.push(Output::Start(i));
                    self.checks[i] = Check::Due(now + *interval);
                }
            }
            Input::Role(Role::Standby) if self.active => {
                self.active = false;
                self.checks.fill(Check::Off);
                out.extend((0..self.intervals.len()).rev().map(Output::Stop));
                out.push(Output::Release);
            }
            Input::Role(_) | Input::Timer => {}
            Input::Checked {
                service,
                id,
                passed,
                detail,
            } => {
                let asked = self.checks.get(service) == Some(&Check::Running(id));
                if asked && passed {
                    self.checks[service] = Check::Due(now + self.intervals[service]);
                } else if asked {
                    // Every service moves: no more checks here until the node serves again.
                    self.checks.fill(Check::Off);
                    self.retry_at = Some(now + self.reentry);
                    out.push(Output::Failed { service, detail });
                }
            }
        }
        if self.retry_at.is_some_and(|t| now >= t) {
            self.retry_at = None;
            out.push(Output::Recovered);
            if self.active {
                // Still active (the operator forced it): watch again. A check that a step-down
                // and a new activation since the failure started goes on: one at a time.
                for (check, interval) in self.checks.iter_mut().zip(&self.intervals) {
                    if *check == Check::Off {
                        *check = Check::Due(now + *interval);
                    }
                }
            }
        }
        for (i, check) in self.checks.iter_mut().enumerate() {
            if matches!(check, Check::Due(t) if now >= *t) {
                self.last_id += 1;
                *check = Check::Running(self.last_id);
                out.push(Output::Check {
                    service: i,
                    id: self.last_id,
                });
            }
        }
        out
    }
}
