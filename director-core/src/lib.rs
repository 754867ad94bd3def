//! The LVS director's deterministic core: Piranha's pulse, lvsd and nanny as decisions, with no
//! clock read and no socket opened. The `director` binary is its driver; a daemon of your own
//! can be another.
//!
//! [`plan`] turns a parsed `lvs.cf` (and the [`settings`] overlay, `director.toml`) into what a
//! director will do: the IPVS table it owns, the addresses it takes over when active, one health
//! probe per real server, the heartbeat settings, the sync daemon, the IPVS timeouts, and how it
//! runs (trackers, hooks, metrics).
//!
//! [`Desired`] is the IPVS table wanted at each moment: the plan's services, each real server as
//! its health events and the operator put it (in, weighted, quiesced, drained or out), and the
//! sorry server while every real server is down.
//!
//! [`Engine`] joins them, in the manner of quinn-proto: the driver calls
//! [`Engine::handle`]`(now, input)` with health verdicts, heartbeat role changes, tracker
//! verdicts, operator requests ([`control`]) and reload results, and carries out the
//! [`Output`]s (a table to reconcile, addresses to take or release, the sync daemon's role,
//! commands to run, answers to send). [`Engine::status`] and [`Engine::metrics`] render what the
//! driver read ([`Live`]) for `director status` and Prometheus.
//!
//! ```
//! use director_core::engine::{Choices, Engine, Output};
//! use director_core::Plan;
//!
//! let cf = r#"
//! serial_no = 1
//! primary = 10.0.0.1
//! service = lvs
//! network = nat
//! nat_router = 192.168.1.254 eth1:1
//! virtual HTTP {
//!     active = 1
//!     address = 10.0.0.100 eth0:1
//!     port = 80
//!     server rs1 {
//!         address = 192.168.1.11
//!         active = 1
//!     }
//! }
//! "#;
//! let doc = lvscf::Document::parse(cf)?;
//! let plan = Plan::build(doc.config(), &|_| None).expect("a valid lvs.cf");
//! let mut engine = Engine::new(plan, Choices::default(), false);
//! // Nothing in the kernel yet; a router alone is active at once: it programs its table and
//! // takes its addresses over.
//! let outputs = engine.start(&ipvs::Table::default());
//! assert!(outputs.iter().any(|o| matches!(o, Output::Table(_))));
//! assert!(outputs.iter().any(|o| matches!(o, Output::Take { .. })));
//! # Ok::<(), lvscf::ParseError>(())
//! ```

pub mod control;
mod desired;
pub mod engine;
mod environment;
pub mod files;
pub mod flaps;
pub mod metrics;
mod overlay;
pub mod owned;
pub mod plan;
pub mod settings;
mod status;

pub use desired::{Desired, Entry, ServerKey};
pub use engine::{Engine, Input, Output};
pub use plan::{
    AddressPlan, ClusterPlan, Commands, Operation, Plan, PlanError, ServerPlan, ServicePlan,
    TrackKind, TrackPlan,
};
pub use settings::{Settings, SettingsError};
pub use status::{Build, Live};

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
