//! Linux IPVS (LVS) over generic netlink: a sans-IO [`codec`], a typed [`model`] with serde, an
//! async [`client`] in the style of rtnetlink (connection future + cloneable [`Handle`], dump
//! streams, batching, network namespaces), typed [`Error`]s and a [`reconcile`]r; sans-I/O
//! [`drain`]s of real servers, and the [`environment`] checks (sysctls, firewall) a director needs;
//! `lvscf` (default feature) reads Piranha's `lvs.cf` as services and destinations, as lvsd did.
//!
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), ipvs::Error> {
//! use ipvs::{Destination, Forwarding, Scheduler, Service, ServiceKey};
//! let (conn, handle) = ipvs::new_connection()?;
//! tokio::spawn(conn);
//! let key = ServiceKey::tcp("192.0.2.1".parse().unwrap(), 80);
//! handle.add_service(&Service::new(key).with_scheduler(Scheduler::RoundRobin)).await?;
//! let rs = Destination::new("10.0.0.2".parse().unwrap(), 8080).with_forwarding(Forwarding::Masquerade);
//! handle.add_destination(&key, &rs).await?;
//! for (svc, dests) in handle.table().await? {
//!     println!("{} {} ({} real servers)", svc.service.key, svc.service.scheduler, dests.len());
//! }
//! # Ok(()) }
//! ```

// The crate's own tests share the integration tests' random tables, written against `ipvs::`.
#[cfg(test)]
extern crate self as ipvs;

pub mod client;
pub mod codec;
pub mod daemon;
mod diff;
pub mod drain;
pub mod environment;
pub mod error;
pub mod listing;
#[cfg(feature = "lvscf")]
pub mod lvscf;
pub mod model;
pub mod reconcile;
pub mod totals;

pub use client::{
    BatchOptions, Connection, DestinationHandle, Features, Handle, ServiceHandle, SetRequest,
    new_connection, new_connection_in_netns, new_connection_when_available,
};
pub use drain::DestinationKey;
pub use error::{Error, Operation, ReplyError, Result, Target};
pub use model::{
    Daemon, DaemonState, Destination, DestinationEntry, Family, Forwarding, Info, Protocol,
    Scheduler, Service, ServiceEntry, ServiceFlags, ServiceKey, Stats, Table, Timeouts, TunnelType,
    ValidationError, VirtualServer,
};

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
