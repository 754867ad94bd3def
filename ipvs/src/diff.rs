//! The pure half of reconciling: the ordered [`Op`]s that turn an observed table into a desired
//! one ([`plan`]), which services a caller may touch ([`Ownership`]), and the table a plan leaves
//! behind ([`Plan::outcome`]). No I/O. The client executes ops and the reconciler, above the
//! client, plans and applies them: both use this module, so the client never needs the
//! reconciler. Users reach it through [`crate::reconcile`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use crate::model::{Destination, Service, ServiceKey, Table, VirtualServer, fmt_addr_port};

/// One change to the kernel table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Op {
    /// NEW_SERVICE.
    AddService(Service),
    /// SET_SERVICE.
    EditService(Service),
    /// DEL_SERVICE (its destinations go with it).
    DelService(ServiceKey),
    /// NEW_DEST.
    AddDest(ServiceKey, Destination),
    /// SET_DEST.
    EditDest(ServiceKey, Destination),
    /// DEL_DEST.
    DelDest(ServiceKey, IpAddr, u16),
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::AddService(s) => write!(f, "add service {} scheduler {}", s.key, s.scheduler),
            Op::EditService(s) => write!(f, "edit service {} scheduler {}", s.key, s.scheduler),
            Op::DelService(k) => write!(f, "delete service {k}"),
            Op::AddDest(k, d) => write!(
                f,
                "add destination {} to {k} ({} weight {})",
                fmt_addr_port(&d.addr, d.port),
                d.forwarding.name(),
                d.weight
            ),
            Op::EditDest(k, d) => write!(
                f,
                "edit destination {} of {k} ({} weight {})",
                fmt_addr_port(&d.addr, d.port),
                d.forwarding.name(),
                d.weight
            ),
            Op::DelDest(k, a, p) => write!(f, "delete destination {} of {k}", fmt_addr_port(a, *p)),
        }
    }
}

/// Which existing kernel services the caller may touch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Ownership {
    /// Every service in the namespace.
    #[default]
    All,
    /// Only these (services the caller created earlier). Services of the desired table that do
    /// not exist yet may always be added.
    Keys(BTreeSet<ServiceKey>),
}

impl Ownership {
    /// Whether an existing service may be edited or deleted.
    pub fn owns(&self, k: &ServiceKey) -> bool {
        match self {
            Ownership::All => true,
            Ownership::Keys(s) => s.contains(k),
        }
    }
}

/// The result of [`plan`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Ordered operations.
    pub ops: Vec<Op>,
    /// Desired services that exist in the kernel but are not owned: left alone.
    pub conflicts: Vec<ServiceKey>,
}

type Indexed = BTreeMap<ServiceKey, (Service, BTreeMap<(IpAddr, u16), Destination>)>;

fn index(t: &Table) -> Indexed {
    let mut m = BTreeMap::new();
    for vs in &t.services {
        let s = vs.service.normalized();
        let d = vs
            .destinations
            .iter()
            .map(|d| ((d.addr, d.port), d.clone()))
            .collect();
        m.insert(s.key, (s, d));
    }
    m
}

/// Computes the ordered operations that turn `observed` into `desired`, touching only owned
/// services. Order: delete unwanted services, then per kept service edit it, delete its unwanted
/// destinations, edit changed ones and add new ones; finally add new services with their
/// destinations.
pub fn plan(desired: &Table, observed: &Table, ownership: &Ownership) -> Plan {
    let want = index(desired);
    let have = index(observed);
    let mut p = Plan::default();
    for k in have.keys() {
        if !want.contains_key(k) && ownership.owns(k) {
            p.ops.push(Op::DelService(*k));
        }
    }
    let mut adds = Vec::new();
    for (k, (ws, wd)) in &want {
        match have.get(k) {
            Some(_) if !ownership.owns(k) => p.conflicts.push(*k),
            Some((hs, hd)) => {
                if ws != hs {
                    p.ops.push(Op::EditService(ws.clone()));
                }
                for dk in hd.keys() {
                    if !wd.contains_key(dk) {
                        p.ops.push(Op::DelDest(*k, dk.0, dk.1));
                    }
                }
                for (dk, d) in wd {
                    match hd.get(dk) {
                        Some(h) if h == d => {}
                        Some(_) => p.ops.push(Op::EditDest(*k, d.clone())),
                        None => p.ops.push(Op::AddDest(*k, d.clone())),
                    }
                }
            }
            None => {
                adds.push(Op::AddService(ws.clone()));
                adds.extend(wd.values().map(|d| Op::AddDest(*k, d.clone())));
            }
        }
    }
    p.ops.extend(adds);
    p
}

impl Plan {
    /// The table the kernel holds once this plan, made by [`plan`] from these arguments, was
    /// applied without error: the desired services, except those left alone, and the other
    /// services as they were.
    pub fn outcome(&self, desired: &Table, observed: &Table, ownership: &Ownership) -> Table {
        let wanted: BTreeSet<ServiceKey> = desired.services.iter().map(|v| v.service.key).collect();
        let mut services: Vec<VirtualServer> = desired
            .services
            .iter()
            .filter(|v| !self.conflicts.contains(&v.service.key))
            .cloned()
            .collect();
        services.extend(
            observed
                .services
                .iter()
                .filter(|v| {
                    let k = &v.service.key;
                    self.conflicts.contains(k) || (!wanted.contains(k) && !ownership.owns(k))
                })
                .cloned(),
        );
        Table { services }
    }
}
