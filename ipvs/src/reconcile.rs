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

pub use crate::diff::{Change, Memory, Op, Ownership, Plan, plan};

use crate::client::Handle;
use crate::error::{Error, Result};
use crate::model::{ServiceKey, Table};

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
    Ok(handle.table().await?.into_iter().collect())
}

/// A reconciler that remembers what the kernel holds after each apply, so that the next apply
/// plans against that memory instead of dumping the kernel's table: a change to a few real
/// servers costs a few requests, however large the table, and the plan visits each desired
/// service once without copying it (an unchanged service costs a lookup and a comparison;
/// only what changes is copied into the memory). The first apply dumps; so does the
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
    known: Option<Memory>,
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
        let mut memory = match self.known.take() {
            Some(memory) => memory,
            None => Memory::from_table(observe(&self.handle).await?),
        };
        let change = memory.plan(desired, ownership);
        let results = self.handle.execute_batch(&change.plan().ops).await;
        let Plan { ops, conflicts } = if results.iter().all(|r| r.is_ok()) {
            let plan = change.applied(&mut memory);
            self.known = Some(memory);
            plan
        } else {
            change.into_plan()
        };
        Ok(Report {
            results: ops.into_iter().zip(results).collect(),
            conflicts,
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
