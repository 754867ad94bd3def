//! Reconciler: compute the minimal ordered plan from a desired to an observed table, and apply it.
//!
//! [`plan`] is a pure function. It edits in place whenever the key is unchanged (never
//! delete + add), touches only the services [`Ownership`] allows, and yields an empty plan once
//! the kernel matches.
//!
//! ```
//! use ipvs::reconcile::{plan, Ownership, Op};
//! use ipvs::{Destination, Service, ServiceKey, Table, VirtualServer};
//! let key = ServiceKey::tcp("192.0.2.1".parse().unwrap(), 80);
//! let desired = Table { services: vec![VirtualServer {
//!     service: Service::new(key),
//!     destinations: vec![Destination::new("10.0.0.2".parse().unwrap(), 80)],
//! }] };
//! let p = plan(&desired, &Table::default(), &Ownership::All);
//! assert!(matches!(p.ops[0], Op::AddService(_)));
//! assert_eq!(p.ops.len(), 2);
//! assert!(plan(&desired, &desired, &Ownership::All).ops.is_empty());
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use crate::client::Handle;
use crate::error::{Error, Result};
use crate::model::{Destination, Service, ServiceKey, Table, VirtualServer, fmt_addr_port};

/// One change to the kernel table.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// What [`apply`] did.
#[derive(Debug)]
pub struct Report {
    /// Every op of the plan with its outcome, in order.
    pub results: Vec<(Op, Result<()>)>,
    /// Desired services left alone because they are not owned.
    pub conflicts: Vec<ServiceKey>,
}

impl Report {
    /// Whether every op succeeded.
    pub fn is_ok(&self) -> bool {
        self.results.iter().all(|(_, r)| r.is_ok())
    }
    /// The first error, if any.
    pub fn first_error(&self) -> Option<&Error> {
        self.results.iter().find_map(|(_, r)| r.as_ref().err())
    }
}

/// Reads the kernel's table (services and destinations, settings only).
pub async fn observe(handle: &Handle) -> Result<Table> {
    let t = handle.table().await?;
    Ok(Table {
        services: t
            .into_iter()
            .map(|(s, d)| VirtualServer {
                service: s.service,
                destinations: d.into_iter().map(|e| e.destination).collect(),
            })
            .collect(),
    })
}

/// A reconciler that remembers what the kernel holds after each apply, so that the next apply
/// plans against that memory instead of dumping the kernel's table: a change to a few real
/// servers costs a few requests, however large the table. The first apply dumps; so does the
/// one after a failed request, or after [`Reconciler::forget`] (call it periodically, or
/// whenever someone else may have changed the table, to repair drift).
///
/// ```no_run
/// # async fn f(handle: ipvs::Handle, desired: ipvs::Table) -> ipvs::Result<()> {
/// use ipvs::reconcile::{Ownership, Reconciler};
/// let mut reconciler = Reconciler::new(handle);
/// let report = reconciler.apply(&desired, &Ownership::All).await?; // dumps, then applies
/// let again = reconciler.apply(&desired, &Ownership::All).await?; // no request at all
/// assert!(again.results.is_empty());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Reconciler {
    handle: Handle,
    known: Option<Table>,
}

impl Reconciler {
    /// A reconciler that knows nothing yet: its first apply dumps the table.
    pub fn new(handle: Handle) -> Self {
        Reconciler {
            handle,
            known: None,
        }
    }

    /// Plans `desired` against what the kernel is known to hold (dumping it when that is not
    /// known) and executes the plan as a batch. After a failed request, what the kernel holds
    /// is unknown again.
    pub async fn apply(&mut self, desired: &Table, ownership: &Ownership) -> Result<Report> {
        let observed = match self.known.take() {
            Some(known) => known,
            None => observe(&self.handle).await?,
        };
        let p = plan(desired, &observed, ownership);
        let results = self.handle.execute_batch(&p.ops).await;
        if results.iter().all(|r| r.is_ok()) {
            self.known = Some(p.outcome(desired, &observed, ownership));
        }
        Ok(Report {
            results: p.ops.into_iter().zip(results).collect(),
            conflicts: p.conflicts,
        })
    }

    /// Forgets what the kernel holds: the next apply dumps it (and repairs any drift).
    pub fn forget(&mut self) {
        self.known = None;
    }
}

/// Dumps the kernel table, plans, and executes the plan as a batch.
pub async fn apply(handle: &Handle, desired: &Table, ownership: &Ownership) -> Result<Report> {
    let observed = observe(handle).await?;
    let p = plan(desired, &observed, ownership);
    let results = handle.execute_batch(&p.ops).await;
    Ok(Report {
        results: p.ops.into_iter().zip(results).collect(),
        conflicts: p.conflicts,
    })
}
