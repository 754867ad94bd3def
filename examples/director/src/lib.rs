//! The `director`: Piranha's pulse, lvsd, nanny and send_arp replaced by the toolkit's crates,
//! driven by an unchanged `lvs.cf` and an optional settings overlay. It is the driver of
//! [`director_core`]'s engine and nothing more: the protocols live in the crates, the decisions
//! in the core.
//!
//! [`run`] opens what the engine needs (the IPVS client, the address takeover, the monitor, the
//! heartbeat, the trackers, the control socket and the metrics endpoint), feeds their events to
//! the engine with the time, and carries out its outputs. `director check FILE` prints the plan
//! with the findings of [`ipvs::environment`].

mod control_server;
mod exporter;
pub mod log;
mod run;
mod serve;

pub use director_core::{
    AddressPlan, Commands, Desired, Engine, Entry, Input, Operation, Output, Plan, PlanError,
    ServerKey, ServerPlan, ServicePlan, Settings, SettingsError, TrackKind, TrackPlan, control,
    engine, plan, settings,
};
pub use run::{Control, Loader, RunError, RunOptions, TableMode, run};
