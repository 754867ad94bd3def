//! The `director`: Piranha's pulse, lvsd, nanny and send_arp replaced by the toolkit's crates,
//! driven by an unchanged `lvs.cf` and an optional settings overlay. It stays glue: the protocols
//! live in the crates.
//!
//! [`plan`] turns a parsed `lvs.cf` (and the [`settings`] overlay, `director.toml`) into what the
//! director will do: the IPVS table it owns, the addresses it takes over when active, one health
//! probe per real server, the heartbeat settings, the sync daemon, the IPVS timeouts, and how it
//! runs (trackers, hooks, metrics). `director check FILE` prints it, with the findings of
//! [`ipvs::environment`].
//!
//! [`Desired`] is the IPVS table the director wants at each moment: the plan's services, each
//! real server as its health events and the operator put it (in, weighted, quiesced, drained or
//! out), and the sorry server while every real server is down. The `ipvs` reconciler applies it.
//!
//! [`arp_announce::takeover`] adds and removes the taken-over addresses with their labels through
//! rtnetlink, touching nothing else, and lists the node's addresses (secondary ones too) to find
//! its role.
//!
//! [`run`] joins them: the monitor's events update [`Desired`], which the `ipvs` reconciler
//! applies to the services the plan owns; the heartbeat's role changes add or remove the
//! addresses (announced with gratuitous ARP and neighbour advertisements) and run `active_cmd` /
//! `inactive_cmd` and the hooks. The [`control`] socket takes the operator's requests; the
//! metrics are served over HTTP.

pub mod control;
mod desired;
pub mod engine;
mod exporter;
pub mod log;
mod overlay;
pub mod plan;
mod run;
mod serve;
pub mod settings;

pub use desired::{Desired, Entry, ServerKey};
pub use engine::{Engine, Input, Output};
pub use plan::{
    AddressPlan, Commands, Operation, Plan, PlanError, ServerPlan, ServicePlan, TrackKind,
    TrackPlan,
};
pub use run::{Control, Loader, RunError, RunOptions, TableMode, run};
pub use settings::{Settings, SettingsError};
