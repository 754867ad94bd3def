//! Draining real servers, sans I/O: a real server that must go is kept in its service with
//! weight 0 (established connections go on, new ones go elsewhere) until its active
//! connections are gone or a deadline passes, then deleted. The caller gives the time and the
//! connection counts it read; [`Drains::poll`] says which drains are over, and the caller
//! removes them from the kernel (e.g. by reconciling a table without them).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use ipvs::drain::{Drains, Ended};
//! use ipvs::{Destination, Service, ServiceKey};
//! let service = Service::new(ServiceKey::tcp("192.0.2.1".parse().unwrap(), 80));
//! let rs = Destination::new("10.0.0.2".parse().unwrap(), 80);
//! let start = Instant::now();
//! let mut drains = Drains::default();
//! drains.start(&service, &rs, start, Duration::from_secs(300));
//! assert_eq!(drains.iter().next().map(|d| d.destination.weight), Some(0));
//! // Two connections left: it goes on.
//! assert!(drains.poll(start + Duration::from_secs(1), |_| Some(2)).is_empty());
//! // None left: over.
//! let ended = drains.poll(start + Duration::from_secs(2), |_| Some(0));
//! assert_eq!(ended[0].1, Ended::NoConnection);
//! assert!(drains.is_empty());
//! ```

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::model::{Destination, Service, ServiceKey, Table, VirtualServer, fmt_addr_port};

/// How long a real server drains at most when nothing says otherwise: five minutes, long
/// enough for most HTTP keep-alive and short-lived connections to end on their own.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// A real server's identity in the table: its service, its address and its port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DestinationKey {
    /// The service.
    pub service: ServiceKey,
    /// The real server's address.
    pub addr: IpAddr,
    /// The real server's port.
    pub port: u16,
}

impl DestinationKey {
    /// The key of `destination` in `service`.
    pub fn of(service: &ServiceKey, destination: &Destination) -> Self {
        DestinationKey {
            service: *service,
            addr: destination.addr,
            port: destination.port,
        }
    }
}

impl fmt::Display for DestinationKey {
    /// `10.0.0.2:80 of TCP 192.0.2.1:80`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {}",
            fmt_addr_port(&self.addr, self.port),
            self.service
        )
    }
}

/// One real server draining.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drain {
    /// Its service as it was (kept while a service that is gone drains).
    pub service: Service,
    /// The real server, at weight 0.
    pub destination: Destination,
    /// When draining began.
    pub since: Instant,
    /// When it is deleted, connections or not.
    pub deadline: Instant,
}

impl Drain {
    /// Its identity.
    pub fn key(&self) -> DestinationKey {
        DestinationKey::of(&self.service.key, &self.destination)
    }
}

/// Why a drain is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ended {
    /// No active connection is left (or the real server is not in the kernel any more).
    NoConnection,
    /// The deadline passed with this many active connections, which are dropped.
    Deadline {
        /// The active connections left.
        connections: u32,
    },
}

impl fmt::Display for Ended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ended::NoConnection => f.write_str("no active connection left"),
            Ended::Deadline { connections } => {
                write!(f, "drain timeout, {connections} active connections dropped")
            }
        }
    }
}

/// The real servers draining.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drains {
    list: Vec<Drain>,
}

impl Drains {
    /// Starts draining `destination` of `service` at `now`, for `timeout` at most. A real
    /// server already draining keeps its first start.
    pub fn start(
        &mut self,
        service: &Service,
        destination: &Destination,
        now: Instant,
        timeout: Duration,
    ) {
        let key = DestinationKey::of(&service.key, destination);
        if self.contains(&key) {
            return;
        }
        self.list.push(Drain {
            service: service.clone(),
            destination: destination.clone().with_weight(0),
            since: now,
            deadline: now + timeout,
        });
    }

    /// Keeps `drain` as it is (carried into a new set, e.g. across a reload); a real server
    /// already draining keeps its own.
    pub fn keep(&mut self, drain: Drain) {
        if !self.contains(&drain.key()) {
            self.list.push(drain);
        }
    }

    /// Stops draining `key` (it is wanted again, or was deleted); true if it was draining.
    pub fn cancel(&mut self, key: &DestinationKey) -> bool {
        let before = self.list.len();
        self.list.retain(|d| d.key() != *key);
        before != self.list.len()
    }

    /// Sets every drain's deadline to its start plus `timeout` of its service (after a reload
    /// that changed the timeouts).
    pub fn retime(&mut self, timeout: impl Fn(&ServiceKey) -> Duration) {
        for d in &mut self.list {
            d.deadline = d.since + timeout(&d.service.key);
        }
    }

    /// Whether `key` drains.
    pub fn contains(&self, key: &DestinationKey) -> bool {
        self.list.iter().any(|d| d.key() == *key)
    }

    /// The drains, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Drain> {
        self.list.iter()
    }

    /// How many real servers drain.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether none drains.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The services whose connection counts [`Drains::poll`] needs.
    pub fn services(&self) -> Vec<ServiceKey> {
        let mut keys: Vec<ServiceKey> = self.list.iter().map(|d| d.service.key).collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// Ends the drains that are over at `now`: no active connection left, or the deadline
    /// passed. `active` gives a real server's active connections as the kernel has them (0 when
    /// it is not there any more), or `None` when they could not be read: that drain goes on,
    /// deadline or not, until they can.
    pub fn poll(
        &mut self,
        now: Instant,
        active: impl Fn(&DestinationKey) -> Option<u32>,
    ) -> Vec<(Drain, Ended)> {
        let mut ended = Vec::new();
        self.list.retain(|d| {
            let over = match active(&d.key()) {
                Some(0) => Some(Ended::NoConnection),
                Some(connections) if now >= d.deadline => Some(Ended::Deadline { connections }),
                Some(_) | None => None,
            };
            match over {
                Some(why) => {
                    ended.push((d.clone(), why));
                    false
                }
                None => true,
            }
        });
        ended
    }

    /// Reads the active connections of the draining real servers through `handle`, for
    /// [`Drains::poll`]: a count for each found, nothing for those of a service gone (0, then),
    /// and `None` for those of a service that could not be read, with the errors met.
    pub async fn read(
        &self,
        handle: &crate::Handle,
    ) -> (HashMap<DestinationKey, Option<u32>>, Vec<crate::Error>) {
        let (mut active, mut errors) = (HashMap::new(), Vec::new());
        for service in self.services() {
            match handle.destinations(&service).await {
                Ok(list) => {
                    for e in list {
                        let key = DestinationKey::of(&service, &e.destination);
                        active.insert(key, Some(e.active_conns));
                    }
                }
                // The service is gone: so are its real servers.
                Err(crate::Error::NotFound { .. }) => {}
                Err(e) => {
                    errors.push(e);
                    for d in self.list.iter().filter(|d| d.service.key == service) {
                        active.insert(d.key(), None);
                    }
                }
            }
        }
        (active, errors)
    }

    /// Adds the draining real servers to `table` (at weight 0, into their services, or in their
    /// old service when it is not in the table any more).
    pub fn add_to(&self, table: &mut Table) {
        for d in &self.list {
            match table
                .services
                .iter_mut()
                .find(|vs| vs.service.key == d.service.key)
            {
                Some(vs) => vs.destinations.push(d.destination.clone()),
                None => table.services.push(VirtualServer {
                    service: d.service.clone(),
                    destinations: vec![d.destination.clone()],
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(port: u16) -> Service {
        Service::new(ServiceKey::tcp("192.0.2.1".parse().unwrap(), port))
    }

    fn rs(last: u8) -> Destination {
        Destination::new(IpAddr::from([10, 0, 0, last]), 80).with_weight(5)
    }

    #[test]
    fn a_drain_ends_at_its_deadline_with_the_connections_it_drops() {
        let t0 = Instant::now();
        let mut d = Drains::default();
        d.start(&service(80), &rs(1), t0, Duration::from_secs(10));
        d.start(
            &service(80),
            &rs(1),
            t0 + Duration::from_secs(5),
            Duration::from_secs(10),
        );
        assert_eq!(d.len(), 1, "a second start keeps the first");
        assert!(d.poll(t0 + Duration::from_secs(9), |_| Some(3)).is_empty());
        let ended = d.poll(t0 + Duration::from_secs(10), |_| Some(3));
        assert_eq!(ended[0].1, Ended::Deadline { connections: 3 });
        assert_eq!(
            ended[0].1.to_string(),
            "drain timeout, 3 active connections dropped"
        );
    }

    #[test]
    fn a_drain_with_unknown_counts_goes_on_and_a_cancelled_one_ends_quietly() {
        let t0 = Instant::now();
        let mut d = Drains::default();
        d.start(&service(80), &rs(1), t0, Duration::from_secs(10));
        d.start(&service(81), &rs(2), t0, Duration::from_secs(10));
        assert!(d.cancel(&DestinationKey::of(&service(81).key, &rs(2))));
        assert!(!d.cancel(&DestinationKey::of(&service(81).key, &rs(2))));
        assert!(
            d.poll(t0 + Duration::from_secs(60), |_| None).is_empty(),
            "unknown counts: it goes on"
        );
        d.retime(|_| Duration::from_secs(100));
        assert!(d.poll(t0 + Duration::from_secs(60), |_| Some(1)).is_empty());
        assert_eq!(d.poll(t0, |_| Some(0))[0].1, Ended::NoConnection);
        assert!(d.is_empty());
    }

    #[test]
    fn drains_join_their_service_or_bring_it_back() {
        let t0 = Instant::now();
        let mut d = Drains::default();
        d.start(&service(80), &rs(1), t0, Duration::from_secs(1));
        d.start(&service(81), &rs(2), t0, Duration::from_secs(1));
        let mut table = Table {
            services: vec![VirtualServer {
                service: service(80),
                destinations: vec![rs(3)],
            }],
        };
        d.add_to(&mut table);
        assert_eq!(table.services.len(), 2);
        let weights: Vec<u32> = table.services[0]
            .destinations
            .iter()
            .map(|r| r.weight)
            .collect();
        assert_eq!(weights, [5, 0]);
        assert_eq!(table.services[1].service.key, service(81).key);
        assert_eq!(d.services().len(), 2);
        assert_eq!(
            DestinationKey::of(&service(80).key, &rs(1)).to_string(),
            "10.0.0.1:80 of TCP 192.0.2.1:80"
        );
    }
}
