//! The pure half of reconciling: the ordered [`Op`]s that turn an observed table into a desired
//! one ([`plan`]), which services a caller may touch ([`Ownership`]), and the table a plan leaves
//! behind ([`Plan::outcome`]). No I/O. The client executes ops and the reconciler, above the
//! client, plans and applies them: both use this module, so the client never needs the
//! reconciler. Users reach it through [`crate::reconcile`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
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

/// What the kernel holds, as a [`Reconciler`](crate::reconcile::Reconciler) remembers it: the
/// sans-I/O half of reconciling from memory. [`Memory::plan`] diffs a desired table against it
/// in one pass (an unchanged service costs a lookup and a comparison, no copy), and
/// [`Change::applied`] updates it with only what changed once the plan was executed.
///
/// ```
/// use ipvs::reconcile::{Memory, Op, Ownership};
/// use ipvs::{Destination, Service, ServiceKey, Table, VirtualServer};
/// let key = ServiceKey::tcp("192.0.2.1".parse().unwrap(), 80);
/// let mut desired = Table { services: vec![VirtualServer {
///     service: Service::new(key),
///     destinations: vec![Destination::new("10.0.0.2".parse().unwrap(), 80)],
/// }] };
/// let mut memory = Memory::default(); // an empty kernel table
/// let change = memory.plan(&desired, &Ownership::All);
/// assert_eq!(change.plan().ops.len(), 2);
/// // … execute change.plan().ops (Handle::execute_batch); when all succeeded:
/// change.applied(&mut memory);
/// assert!(memory.plan(&desired, &Ownership::All).plan().ops.is_empty());
/// desired.services[0].destinations[0].weight = 5;
/// let change = memory.plan(&desired, &Ownership::All);
/// assert!(matches!(change.plan().ops[..], [Op::EditDest(..)]));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Memory {
    services: HashMap<ServiceKey, VirtualServer>,
}

impl Memory {
    /// The memory of a dumped table.
    pub fn from_table(t: Table) -> Self {
        let services = t
            .services
            .into_iter()
            .map(|mut v| {
                v.service = v.service.normalized();
                (v.service.key, v)
            })
            .collect();
        Memory { services }
    }

    /// The remembered table, services in key order (services normalized, destinations in
    /// the order they were desired or dumped).
    pub fn to_table(&self) -> Table {
        let mut services: Vec<VirtualServer> = self.services.values().cloned().collect();
        services.sort_unstable_by_key(|v| v.service.key);
        Table { services }
    }

    /// How many services the kernel holds.
    pub fn len(&self) -> usize {
        self.services.len()
    }

    /// Whether the kernel holds no service.
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    /// Plans `desired` against this memory: the same plan as [`plan`] against the kernel's
    /// table, without dumping or copying it.
    pub fn plan<'a>(&self, desired: &'a Table, ownership: &Ownership) -> Change<'a> {
        diff(
            desired,
            |k| self.services.get(k),
            self.services.keys(),
            ownership,
        )
    }
}

/// The ops that turn one service's destinations from `have` into `want`: none, at the cost of
/// one comparison, when they are the same in the same order.
fn dest_ops(k: ServiceKey, want: &[Destination], have: &[Destination], ops: &mut Vec<Op>) {
    if want == have {
        return;
    }
    let wd: BTreeMap<(IpAddr, u16), &Destination> =
        want.iter().map(|d| ((d.addr, d.port), d)).collect();
    let hd: BTreeMap<(IpAddr, u16), &Destination> =
        have.iter().map(|d| ((d.addr, d.port), d)).collect();
    for dk in hd.keys() {
        if !wd.contains_key(dk) {
            ops.push(Op::DelDest(k, dk.0, dk.1));
        }
    }
    for (dk, d) in wd {
        match hd.get(&dk) {
            Some(h) if *h == d => {}
            Some(_) => ops.push(Op::EditDest(k, d.clone())),
            None => ops.push(Op::AddDest(k, d.clone())),
        }
    }
}

/// A plan made by [`Memory::plan`], with the desired services it changes or adds.
#[derive(Debug)]
pub struct Change<'a> {
    plan: Plan,
    changed: Vec<&'a VirtualServer>,
}

impl Change<'_> {
    /// The plan to execute.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Records that the plan was applied without error, updating the memory it was made
    /// against with only what changed (deleted services gone, changed and added ones as
    /// desired, services left alone as they were), and returns the plan.
    pub fn applied(self, memory: &mut Memory) -> Plan {
        for op in &self.plan.ops {
            if let Op::DelService(k) = op {
                memory.services.remove(k);
            }
        }
        for vs in self.changed {
            let mut v = vs.clone();
            v.service = v.service.normalized();
            memory.services.insert(v.service.key, v);
        }
        self.plan
    }

    /// The plan, when it was not applied (or not wholly).
    pub fn into_plan(self) -> Plan {
        self.plan
    }
}

/// The core of [`plan`]: one pass over the desired services, looking each up in what the kernel
/// holds; an unchanged service costs a lookup and a comparison, no copy. Ops are ordered by
/// service key as [`plan`] documents, sorting only the services that change.
fn diff<'a, 'h, H>(
    desired: &'a Table,
    have: H,
    have_keys: impl Iterator<Item = &'h ServiceKey>,
    ownership: &Ownership,
) -> Change<'a>
where
    H: Fn(&ServiceKey) -> Option<&'h VirtualServer>,
{
    // The last of duplicate desired services wins.
    let mut want: HashMap<ServiceKey, usize> = HashMap::with_capacity(desired.services.len());
    for (i, vs) in desired.services.iter().enumerate() {
        want.insert(vs.service.key, i);
    }
    let mut deletes: Vec<ServiceKey> = have_keys
        .filter(|k| !want.contains_key(k) && ownership.owns(k))
        .copied()
        .collect();
    deletes.sort_unstable();
    let mut kept: Vec<(ServiceKey, Vec<Op>)> = Vec::new();
    let mut adds: Vec<&VirtualServer> = Vec::new();
    let mut conflicts = Vec::new();
    let mut changed = Vec::new();
    for (i, vs) in desired.services.iter().enumerate() {
        let k = vs.service.key;
        if want.get(&k) != Some(&i) {
            continue;
        }
        match have(&k) {
            Some(_) if !ownership.owns(&k) => conflicts.push(k),
            Some(h) => {
                let mut ops = Vec::new();
                if !vs.service.same_settings(&h.service) {
                    ops.push(Op::EditService(vs.service.normalized()));
                }
                dest_ops(k, &vs.destinations, &h.destinations, &mut ops);
                if !ops.is_empty() {
                    kept.push((k, ops));
                    changed.push(vs);
                } else if vs.destinations != h.destinations {
                    // Same destinations in another order: nothing to do, remember the order.
                    changed.push(vs);
                }
            }
            None => {
                adds.push(vs);
                changed.push(vs);
            }
        }
    }
    conflicts.sort_unstable();
    kept.sort_unstable_by_key(|(k, _)| *k);
    adds.sort_unstable_by_key(|vs| vs.service.key);
    let mut ops: Vec<Op> = deletes.into_iter().map(Op::DelService).collect();
    ops.extend(kept.into_iter().flat_map(|(_, ops)| ops));
    for vs in adds {
        let k = vs.service.key;
        ops.push(Op::AddService(vs.service.normalized()));
        let dests: BTreeMap<(IpAddr, u16), &Destination> = vs
            .destinations
            .iter()
            .map(|d| ((d.addr, d.port), d))
            .collect();
        ops.extend(dests.into_values().map(|d| Op::AddDest(k, d.clone())));
    }
    Change {
        plan: Plan { ops, conflicts },
        changed,
    }
}

/// Computes the ordered operations that turn `observed` into `desired`, touching only owned
/// services. Order: delete unwanted services, then per kept service edit it, delete its unwanted
/// destinations, edit changed ones and add new ones; finally add new services with their
/// destinations. Services and destinations are taken in key order.
pub fn plan(desired: &Table, observed: &Table, ownership: &Ownership) -> Plan {
    let have: HashMap<ServiceKey, &VirtualServer> = observed
        .services
        .iter()
        .map(|v| (v.service.key, v))
        .collect();
    diff(desired, |k| have.get(k).copied(), have.keys(), ownership).plan
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

#[cfg(test)]
#[path = "../tests/common/tables.rs"]
mod tables;

#[cfg(test)]
mod tests {
    use super::tables::{arb_table, canon};
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The reconciler's memory, updated with only what a plan changed, is the table the
        /// plan leaves behind ([`Plan::outcome`], the kernel's table once it applied), and the
        /// memory-based diff plans exactly what [`plan`] plans against a dump.
        #[test]
        fn the_memory_updated_by_each_change_is_the_table_it_leaves(
            start in arb_table(),
            steps in prop::collection::vec((arb_table(), any::<u64>()), 1..5),
        ) {
            let mut kernel = start.clone();
            let mut memory = Memory::from_table(start);
            for (desired, mask) in steps {
                let ownership = if mask % 3 == 0 {
                    Ownership::All
                } else {
                    Ownership::Keys(
                        kernel.services.iter().enumerate()
                            .filter(|(i, _)| mask >> (i % 64) & 1 == 1)
                            .map(|(_, v)| v.service.key)
                            .collect(),
                    )
                };
                let change = memory.plan(&desired, &ownership);
                let p = plan(&desired, &kernel, &ownership);
                prop_assert_eq!(change.plan(), &p);
                change.applied(&mut memory);
                kernel = p.outcome(&desired, &kernel, &ownership);
                prop_assert_eq!(canon(&memory.to_table()), canon(&kernel));
            }
        }
    }
}
