//! The `director`: Piranha's pulse, lvsd, nanny and send_arp replaced by the toolkit's crates,
//! driven by an unchanged `lvs.cf`. It stays glue: the protocols live in the crates.
//!
//! [`plan`] turns a parsed `lvs.cf` into what the director will do: the IPVS table it owns, the
//! addresses it takes over when active, one health probe per real server, the heartbeat
//! settings, the sync daemon and the IPVS timeouts. `director check FILE` prints it.

pub mod plan;

pub use plan::{AddressPlan, HeartbeatPlan, Plan, PlanError, ServerPlan, ServicePlan};
