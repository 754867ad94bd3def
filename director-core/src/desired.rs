//! The IPVS table the director wants, from the plan and the health of each real server.

use std::time::{Duration, Instant};

use healthcheck::{EventKind, Health, Pool, PoolEvent};
use ipvs::drain::Drains;
use ipvs::{Destination, ServiceKey, Table, VirtualServer};

use crate::Plan;
use crate::control::Admin;

pub use healthcheck::table::Entry;

/// The desired table: every service of the plan, each real server as its health events put it,
/// and the sorry server while every real server is down. Like Piranha, a real server enters the
/// table after its first successful check, not before.
///
/// ```
/// # use director_core::{Plan, Desired};
/// # let doc = lvscf::Document::parse("primary = 10.0.0.9\nvirtual WEB {\n active = 1\n address = 10.0.0.1 eth0\n server a {\n  address = 10.0.1.1\n  active = 1\n  weight = 5\n }\n}\n").unwrap();
/// # let plan = Plan::build(doc.config(), &|_| None).unwrap();
/// use healthcheck::EventKind;
/// let mut desired = Desired::new(&plan);
/// assert!(desired.table().services[0].destinations.is_empty());
/// let a = director_core::ServerKey {
///     service: plan.services[0].service.key,
///     addr: "10.0.1.1".parse().unwrap(),
///     port: 80,
/// };
/// desired.apply(&a, EventKind::Up { weight: 5 });
/// assert_eq!(desired.table().services[0].destinations[0].weight, 5);
/// ```
#[derive(Debug, Clone)]
pub struct Desired {
    services: Vec<ServiceState>,
    draining: Drains,
}

#[derive(Debug, Clone)]
struct ServiceState {
    base: VirtualServer,
    servers: Vec<ServerState>,
    sorry: Option<Destination>,
    pool: Pool<usize>,
}

#[derive(Debug, Clone)]
struct ServerState {
    destination: Destination,
    entry: Entry,
    /// The last verdict (`None`: not judged yet).
    health: Option<Health>,
    /// The operator's decision.
    admin: Admin,
}

impl ServerState {
    /// The health that counts for the sorry server: a server the operator took out is down.
    fn serving(&self) -> Option<Health> {
        self.admin.serving(self.health)
    }
}

/// A real server's identity across reloads: its service and its address and port (as lvsd).
pub type ServerKey = ipvs::DestinationKey;

impl Desired {
    /// Every service of the plan, no real server in yet.
    pub fn new(plan: &Plan) -> Self {
        let services = plan
            .services
            .iter()
            .map(|s| {
                let mut pool = Pool::new();
                for i in 0..s.servers.len() {
                    pool.insert(i);
                }
                ServiceState {
                    base: VirtualServer {
                        service: s.service.clone(),
                        destinations: Vec::new(),
                    },
                    servers: s
                        .servers
                        .iter()
                        .map(|r| ServerState {
                            destination: r.destination.clone(),
                            entry: Entry::Out,
                            health: None,
                            admin: Admin::Enable,
                        })
                        .collect(),
                    sorry: s.sorry.clone(),
                    pool,
                }
            })
            .collect();
        Desired {
            services,
            draining: Drains::default(),
        }
    }

    /// The desired table for a new plan (a reload), carrying over what is known: a real server
    /// kept by the new plan (same service, address and port) keeps its place and its last
    /// verdict; one the new plan drops, if it was in the table, starts draining at `now` for
    /// `timeout` of its service; one that was draining and is back is kept at weight 0 until its
    /// next verdict.
    pub fn reload(
        &self,
        plan: &Plan,
        now: Instant,
        timeout: impl Fn(&ServiceKey) -> Duration,
    ) -> Desired {
        let mut next = Desired::new(plan);
        let mut kept = std::collections::HashSet::new();
        for s in &mut next.services {
            let key = s.base.service.key;
            let old = self.services.iter().find(|o| o.base.service.key == key);
            for (i, server) in s.servers.iter_mut().enumerate() {
                let id = ServerKey::of(&key, &server.destination);
                if let Some(o) = old.and_then(|o| {
                    o.servers
                        .iter()
                        .find(|r| ServerKey::of(&key, &r.destination) == id)
                }) {
                    server.entry = o.entry;
                    server.health = o.health;
                    server.admin = o.admin;
                } else if self.draining.contains(&id) {
                    server.entry = Entry::Quiesced;
                }
                if let Some(h) = server.serving() {
                    s.pool.update(i, h);
                }
                kept.insert(id);
            }
        }
        for o in &self.services {
            for r in &o.servers {
                let id = ServerKey::of(&o.base.service.key, &r.destination);
                if r.entry != Entry::Out && !kept.contains(&id) {
                    let timeout = timeout(&o.base.service.key);
                    next.draining
                        .start(&o.base.service, &r.destination, now, timeout);
                }
            }
        }
        for d in self.draining.iter() {
            if !kept.contains(&d.key()) {
                next.draining.keep(d.clone());
            }
        }
        next.draining.retime(timeout);
        next
    }

    /// The real servers being drained. A drain that [`Drains::poll`] ends leaves the table (and
    /// its service too, if the configuration no longer has it and nothing else of it drains).
    pub fn draining(&self) -> &Drains {
        &self.draining
    }

    /// The real servers being drained, to end those that are over.
    pub fn draining_mut(&mut self) -> &mut Drains {
        &mut self.draining
    }

    /// Where the real server `key` is, as (service, server) indices in the plan.
    fn position(&self, key: &ServerKey) -> Option<(usize, usize)> {
        self.services.iter().enumerate().find_map(|(si, s)| {
            (s.base.service.key == key.service)
                .then(|| {
                    s.servers
                        .iter()
                        .position(|r| ServerKey::of(&key.service, &r.destination) == *key)
                        .map(|ri| (si, ri))
                })
                .flatten()
        })
    }

    /// Takes the real servers the kernel already has (a restart): each one present in `observed`
    /// is in with its current weight (0: quiesced) until a check says otherwise.
    pub fn adopt(&mut self, observed: &Table) {
        for s in &mut self.services {
            let Some(vs) = observed
                .services
                .iter()
                .find(|v| v.service.key == s.base.service.key)
            else {
                continue;
            };
            for (i, server) in s.servers.iter_mut().enumerate() {
                let dest = &server.destination;
                if let Some(found) = vs
                    .destinations
                    .iter()
                    .find(|d| d.addr == dest.addr && d.port == dest.port)
                {
                    server.entry = if found.weight == 0 {
                        Entry::Quiesced
                    } else {
                        Entry::In(found.weight)
                    };
                    let health = if found.weight == 0 {
                        Health::Down
                    } else {
                        Health::Up
                    };
                    server.health = Some(health);
                    if let Some(serving) = server.serving() {
                        s.pool.update(i, serving);
                    }
                }
            }
        }
    }

    /// Applies a health event of real server `server` of service `service` (indices in the plan);
    /// true when the table changed. Indices out of range change nothing.
    fn apply_at(&mut self, service: usize, server: usize, event: EventKind) -> bool {
        let Some(s) = self.services.get_mut(service) else {
            return false;
        };
        let Some(state) = s.servers.get_mut(server) else {
            return false;
        };
        let before = state.entry;
        let (next, health) = before.after(event);
        state.entry = next;
        state.health = Some(health);
        let sorry_before = s.pool.all_down();
        if let Some(serving) = state.serving() {
            let _: Option<PoolEvent> = s.pool.update(server, serving);
        }
        let changed = before != next && state.admin != Admin::Disable;
        changed || (s.sorry.is_some() && sorry_before != s.pool.all_down())
    }

    /// Records the operator's decision about a real server; true when the table changed.
    fn set_admin_at(&mut self, service: usize, server: usize, admin: Admin) -> bool {
        let Some(s) = self.services.get_mut(service) else {
            return false;
        };
        let Some(state) = s.servers.get_mut(server) else {
            return false;
        };
        let before = (state.admin, s.pool.all_down());
        state.admin = admin;
        if let Some(serving) = state.serving() {
            let _: Option<PoolEvent> = s.pool.update(server, serving);
        }
        before != (admin, s.pool.all_down())
    }

    /// The operator's decision about a real server.
    fn admin_at(&self, service: usize, server: usize) -> Option<Admin> {
        Some(self.services.get(service)?.servers.get(server)?.admin)
    }

    /// The last verdict about a real server (`None` inside: not judged yet).
    fn health_at(&self, service: usize, server: usize) -> Option<Option<Health>> {
        Some(self.services.get(service)?.servers.get(server)?.health)
    }

    /// Where a real server stands.
    fn entry_at(&self, service: usize, server: usize) -> Option<Entry> {
        Some(self.services.get(service)?.servers.get(server)?.entry)
    }

    /// Whether a service's sorry server is in.
    fn sorry_in_at(&self, service: usize) -> bool {
        self.services
            .get(service)
            .is_some_and(|s| s.sorry.is_some() && s.pool.all_down())
    }

    /// Applies a health event of the real server `key`; true when the table changed. A server
    /// the plan does not have changes nothing.
    pub fn apply(&mut self, key: &ServerKey, event: EventKind) -> bool {
        self.position(key)
            .is_some_and(|(si, ri)| self.apply_at(si, ri, event))
    }

    /// Records the operator's decision about the real server `key`; true when the table
    /// changed.
    pub fn set_admin(&mut self, key: &ServerKey, admin: Admin) -> bool {
        self.position(key)
            .is_some_and(|(si, ri)| self.set_admin_at(si, ri, admin))
    }

    /// The operator's decision about the real server `key` (`None`: not in the plan).
    pub fn admin(&self, key: &ServerKey) -> Option<Admin> {
        let (si, ri) = self.position(key)?;
        self.admin_at(si, ri)
    }

    /// The last verdict about the real server `key` (`None` inside: not judged yet).
    pub fn health(&self, key: &ServerKey) -> Option<Option<Health>> {
        let (si, ri) = self.position(key)?;
        self.health_at(si, ri)
    }

    /// Where the real server `key` stands.
    pub fn entry(&self, key: &ServerKey) -> Option<Entry> {
        let (si, ri) = self.position(key)?;
        self.entry_at(si, ri)
    }

    /// Whether the sorry server of `service` is in.
    pub fn sorry_in(&self, service: &ServiceKey) -> bool {
        (self.services.iter())
            .position(|s| s.base.service.key == *service)
            .is_some_and(|si| self.sorry_in_at(si))
    }

    /// Each service with how many of its real servers take new connections now: in, with a
    /// weight above 0 (quiesced, draining and sorry servers do not count).
    pub fn serving(&self) -> impl Iterator<Item = (ServiceKey, usize)> + '_ {
        self.services.iter().map(|s| {
            let n = (s.servers.iter())
                .filter(|r| r.entry.weight(r.admin).is_some_and(|w| w > 0))
                .count();
            (s.base.service.key, n)
        })
    }

    /// The table to reconcile the kernel with.
    pub fn table(&self) -> Table {
        let mut table = Table {
            services: self
                .services
                .iter()
                .map(|s| {
                    let mut vs = s.base.clone();
                    for r in &s.servers {
                        if let Some(weight) = r.entry.weight(r.admin) {
                            vs.destinations
                                .push(r.destination.clone().with_weight(weight));
                        }
                    }
                    if let Some(sorry) = &s.sorry
                        && s.pool.all_down()
                    {
                        vs.destinations.push(sorry.clone());
                    }
                    vs
                })
                .collect(),
        };
        self.draining.add_to(&mut table);
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(extra: &str) -> Plan {
        let text = format!(
            "primary = 10.0.0.9\nvirtual WEB {{\n active = 1\n address = 10.0.0.1 eth0\n{extra}\n server a {{\n  address = 10.0.1.1\n  active = 1\n  weight = 5\n }}\n server b {{\n  address = 10.0.1.2\n  active = 1\n  weight = 7\n }}\n}}\n"
        );
        let doc = lvscf::Document::parse(&text).unwrap();
        Plan::build(doc.config(), &|_| None).unwrap()
    }

    fn weights(d: &Desired) -> Vec<(String, u32)> {
        d.table().services[0]
            .destinations
            .iter()
            .map(|d| (d.addr.to_string(), d.weight))
            .collect()
    }

    #[test]
    fn servers_follow_their_events() {
        let mut d = Desired::new(&plan(""));
        assert!(weights(&d).is_empty());
        assert!(d.apply_at(0, 0, EventKind::Up { weight: 1 }));
        assert!(d.apply_at(0, 0, EventKind::Weight(5)));
        assert!(!d.apply_at(0, 0, EventKind::Weight(5)));
        assert!(d.apply_at(0, 1, EventKind::Up { weight: 7 }));
        assert_eq!(
            weights(&d),
            [("10.0.1.1".into(), 5), ("10.0.1.2".into(), 7)]
        );
        assert!(d.apply_at(0, 0, EventKind::Down { quiesce: false }));
        assert_eq!(weights(&d), [("10.0.1.2".into(), 7)]);
        assert!(!d.apply_at(3, 0, EventKind::Up { weight: 1 }));
        assert!(!d.apply_at(0, 9, EventKind::Up { weight: 1 }));
    }

    #[test]
    fn quiesce_keeps_admitted_servers_at_zero() {
        let mut d = Desired::new(&plan(" quiesce_server = 1"));
        // Never admitted: a quiesced failure keeps it out.
        assert!(!d.apply_at(0, 1, EventKind::Down { quiesce: true }));
        assert_eq!(d.entry_at(0, 1), Some(Entry::Out));
        d.apply_at(0, 0, EventKind::Up { weight: 5 });
        assert!(d.apply_at(0, 0, EventKind::Down { quiesce: true }));
        assert_eq!(weights(&d), [("10.0.1.1".into(), 0)]);
        d.apply_at(0, 0, EventKind::Up { weight: 5 });
        assert_eq!(weights(&d), [("10.0.1.1".into(), 5)]);
    }

    #[test]
    fn a_restart_adopts_the_kernels_servers() {
        let p = plan("");
        let mut observed = p.full_table();
        observed.services[0].destinations[1].weight = 0;
        let mut d = Desired::new(&p);
        d.adopt(&observed);
        assert_eq!(
            weights(&d),
            [("10.0.1.1".into(), 5), ("10.0.1.2".into(), 0)]
        );
        assert_eq!(d.entry_at(0, 1), Some(Entry::Quiesced));
        // An empty kernel adopts nothing.
        let mut fresh = Desired::new(&p);
        fresh.adopt(&Table::default());
        assert!(weights(&fresh).is_empty());
    }

    #[test]
    fn sorry_server_only_when_every_server_is_judged_down() {
        let mut d = Desired::new(&plan(" sorry_server = 10.9.9.9"));
        assert!(!d.sorry_in_at(0), "not at start: nothing judged yet");
        d.apply_at(0, 0, EventKind::Down { quiesce: false });
        assert!(!d.sorry_in_at(0), "b not judged yet");
        assert!(d.apply_at(0, 1, EventKind::Down { quiesce: false }));
        assert!(d.sorry_in_at(0));
        assert_eq!(weights(&d), [("10.9.9.9".into(), 1)]);
        assert!(d.apply_at(0, 1, EventKind::Up { weight: 7 }));
        assert_eq!(weights(&d), [("10.0.1.2".into(), 7)]);
    }

    fn plan_of(text: &str) -> Plan {
        let doc = lvscf::Document::parse(&format!("primary = 10.0.0.9\n{text}")).unwrap();
        Plan::build(doc.config(), &|_| None).unwrap()
    }

    fn virt(name: &str, vip: &str, servers: &[&str]) -> String {
        let mut out = format!("virtual {name} {{\n active = 1\n address = {vip} eth0\n");
        for (i, s) in servers.iter().enumerate() {
            out += &format!(" server s{i} {{\n  address = {s}\n  active = 1\n  weight = 3\n }}\n");
        }
        out + "}\n"
    }

    fn table_of(d: &Desired) -> Vec<(String, Vec<(String, u32)>)> {
        d.table()
            .services
            .iter()
            .map(|vs| {
                (
                    vs.service.key.to_string(),
                    vs.destinations
                        .iter()
                        .map(|d| (d.addr.to_string(), d.weight))
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn a_reload_keeps_known_servers_and_drains_removed_ones() {
        let now = Instant::now();
        let old = plan_of(
            &(virt("A", "10.0.0.1", &["10.0.1.1", "10.0.1.2", "10.0.1.3"])
                + &virt("B", "10.0.0.2", &["10.0.2.1"])),
        );
        let mut d = Desired::new(&old);
        d.apply_at(0, 0, EventKind::Up { weight: 3 });
        d.apply_at(0, 1, EventKind::Up { weight: 3 });
        d.apply_at(1, 0, EventKind::Up { weight: 3 });
        // 10.0.1.3 was never admitted: it just goes. 10.0.1.2 and the whole of B drain.
        let new = plan_of(
            &(virt("A2", "10.0.0.1", &["10.0.1.4", "10.0.1.1"])
                + &virt("C", "10.0.0.3", &["10.0.3.1"])),
        );
        let mut r = d.reload(&new, now, |_| Duration::from_secs(300));
        assert_eq!(
            table_of(&r),
            [
                (
                    "TCP 10.0.0.1:80".into(),
                    vec![("10.0.1.1".into(), 3), ("10.0.1.2".into(), 0)]
                ),
                ("TCP 10.0.0.3:80".into(), vec![]),
                ("TCP 10.0.0.2:80".into(), vec![("10.0.2.1".into(), 0)]),
            ]
        );
        assert_eq!(r.position(&r.draining().iter().next().unwrap().key()), None);
        assert_eq!(
            r.entry_at(0, 1),
            Some(Entry::In(3)),
            "kept by address, not by name"
        );
        assert_eq!(
            r.entry_at(0, 0),
            Some(Entry::Out),
            "new: in after its first check"
        );
        // A drained server leaves; its removed service goes with its last server.
        let b = r.draining().iter().nth(1).unwrap().key();
        assert!(r.draining_mut().cancel(&b));
        assert!(!r.draining_mut().cancel(&b));
        assert_eq!(table_of(&r).len(), 2);
        // Back in the next reload while still draining: kept at 0 until its next verdict.
        let back = plan_of(&virt("A", "10.0.0.1", &["10.0.1.1", "10.0.1.2"]));
        let r2 = r.reload(&back, now, |_| Duration::from_secs(300));
        assert!(r2.draining().is_empty(), "{:?}", r2.draining());
        assert_eq!(r2.entry_at(0, 1), Some(Entry::Quiesced));
        assert_eq!(
            table_of(&r2),
            [(
                "TCP 10.0.0.1:80".into(),
                vec![("10.0.1.1".into(), 3), ("10.0.1.2".into(), 0)]
            )]
        );
    }

    #[test]
    fn a_reload_keeps_the_sorry_servers_judgement() {
        let text = "virtual A {\n active = 1\n address = 10.0.0.1 eth0\n sorry_server = 10.9.9.9\n server a {\n  address = 10.0.1.1\n  active = 1\n }\n}\n";
        let mut d = Desired::new(&plan_of(text));
        d.apply_at(0, 0, EventKind::Down { quiesce: false });
        assert!(d.sorry_in_at(0));
        let r = d.reload(&plan_of(text), Instant::now(), |_| Duration::from_secs(300));
        assert!(r.sorry_in_at(0), "the verdict carries over");
    }

    #[test]
    fn the_operator_drains_disables_and_enables() {
        let mut d = Desired::new(&plan(" sorry_server = 10.9.9.9"));
        d.apply_at(0, 0, EventKind::Up { weight: 5 });
        d.apply_at(0, 1, EventKind::Up { weight: 7 });
        assert!(d.set_admin_at(0, 0, Admin::Drain));
        assert_eq!(
            weights(&d),
            [("10.0.1.1".into(), 0), ("10.0.1.2".into(), 7)],
            "drained: weight 0, still in"
        );
        // Its checks go on; a new weight does not override the operator.
        d.apply_at(0, 0, EventKind::Weight(9));
        assert_eq!(weights(&d)[0], ("10.0.1.1".into(), 0));
        assert!(d.set_admin_at(0, 1, Admin::Disable));
        assert_eq!(
            weights(&d),
            [("10.0.1.1".into(), 0), ("10.9.9.9".into(), 1)],
            "nothing in service: the sorry server is in"
        );
        // A reload keeps the operator's decisions.
        let mut r = d.reload(&plan(" sorry_server = 10.9.9.9"), Instant::now(), |_| {
            Duration::from_secs(300)
        });
        assert_eq!(r.admin_at(0, 1), Some(Admin::Disable));
        assert!(r.set_admin_at(0, 0, Admin::Enable));
        assert!(r.set_admin_at(0, 1, Admin::Enable));
        assert_eq!(
            weights(&r),
            [("10.0.1.1".into(), 9), ("10.0.1.2".into(), 7)]
        );
        assert_eq!(r.admin_at(0, 7), None);
    }

    fn event() -> impl proptest::strategy::Strategy<Value = (usize, EventKind)> {
        use proptest::prelude::*;
        (
            0usize..2,
            prop_oneof![
                (0u32..100).prop_map(|weight| EventKind::Up { weight }),
                (0u32..100).prop_map(EventKind::Weight),
                any::<bool>().prop_map(|quiesce| EventKind::Down { quiesce }),
            ],
        )
    }

    proptest::proptest! {
        /// After any events, the table holds exactly what the last events say: admitted servers
        /// with their last weight, quiesced ones at 0, and the sorry server iff both were judged
        /// and neither is in service.
        #[test]
        fn the_table_matches_the_last_events(
            events in proptest::collection::vec(event(), 0..40),
        ) {
            let mut d = Desired::new(&plan(" sorry_server = 10.9.9.9"));
            let mut model = [None::<Entry>; 2];
            for (server, e) in events {
                d.apply_at(0, server, e);
                let before = model[server].unwrap_or(Entry::Out);
                model[server] = Some(match (e, before) {
                    (EventKind::Up { weight }, _) => Entry::In(weight),
                    (EventKind::Weight(w), Entry::In(_)) => Entry::In(w),
                    (EventKind::Weight(_), other) => other,
                    (EventKind::Down { quiesce: true }, Entry::Out) => Entry::Out,
                    (EventKind::Down { quiesce: true }, _) => Entry::Quiesced,
                    (EventKind::Down { quiesce: false }, _) => Entry::Out,
                });
            }
            let mut want = Vec::new();
            for (i, m) in model.iter().enumerate() {
                let addr = format!("10.0.1.{}", i + 1);
                match m {
                    Some(Entry::In(w)) => want.push((addr, *w)),
                    Some(Entry::Quiesced) => want.push((addr, 0)),
                    _ => {}
                }
            }
            let judged = model.iter().all(Option::is_some);
            let none_in = !model.iter().any(|m| matches!(m, Some(Entry::In(_))));
            if judged && none_in {
                want.push(("10.9.9.9".into(), 1));
            }
            proptest::prop_assert_eq!(weights(&d), want);
        }
    }
}
