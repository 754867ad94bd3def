//! Director failover: decides which of two directors is active.
//!
//! * [`Heartbeat`] is the state machine, sans I/O: it takes the time and [`Event`]s (a datagram
//!   on a path, a timer, a link up or down, a failed or recovered service, an operator's
//!   command, shutdown) and returns [`Action`]s (send these bytes on that path, become active,
//!   become standby, re-announce) and its next wake-up ([`Heartbeat::poll_timeout`]). Same
//!   inputs, same outputs.
//! * [`packet`] holds the two wire formats as pure functions: Piranha's pulse heartbeats (4-byte
//!   magics; pairs with a real `pulse`) and the authenticated format (HMAC-SHA256, epoch and
//!   sequence number, replay window).
//! * [`Driver`] runs a [`Heartbeat`] on tokio: one UDP socket per path (optionally bound to a
//!   device), link monitoring from rtnetlink events, every role change handed to its user in
//!   order ([`Driver::role_changes`]), and a clean shutdown that resigns.
//!
//! The two protocols differ in what they decide, not only in what they send:
//!
//! | | Piranha (`pulse`) | authenticated |
//! |---|---|---|
//! | both active | the master stays, the backup steps down | the higher precedence stays and re-announces |
//! | a better node comes back | stays standby (pulse never fails back) | takes over after the preempt delay if `failback` |
//! | clean shutdown | STOPPED: a pulse peer takes over at once | resign: the peer takes over at once |
//! | precedence | master, then backup | operator-forced, priority, primary, node id |
//!
//! A late wake-up (the process or the machine stalled by more than a keepalive) never by
//! itself makes the peer dead: the peer gets a fresh deadtime ([`Counters::stalls`]).
//!
//! ```no_run
//! use std::time::Duration;
//! use heartbeat::{Config, Driver, PathConfig, PathSocket, Protocol, Timers, packet::ByteOrder};
//! # async fn f() -> Result<(), heartbeat::Error> {
//! let config = Config::new(Protocol::Piranha { byte_order: ByteOrder::Little }, Timers::piranha())
//!     .with_primary(true)
//!     .with_paths(vec![PathConfig::new("192.168.1.2".parse().unwrap()).with_critical(true)]);
//! let local = PathSocket { local: "192.168.1.1:539".parse().unwrap(), peer_port: 539, device: None };
//! let mut driver = Driver::bind(config, &[local])?;
//! let mut roles = driver.role_changes();
//! let handle = driver.spawn();
//! while let Some(change) = roles.recv().await {
//!     println!("{} ({}): now {}", change.action, change.reason, change.role());
//! }
//! # drop(handle); Ok(()) }
//! ```

#![warn(missing_docs, unreachable_pub)]

mod config;
mod driver;
mod error;
pub mod fitness;
pub mod link;
mod machine;
pub mod packet;
pub mod pulse;

pub use config::{
    AuthConfig, Config, Key, MIN_KEY_LEN, Mode, PathConfig, Protocol, Timers, node_id_of, read_key,
};
pub use driver::{
    Command, Driver, DriverHandle, PathSocket, RoleAction, RoleChange, unix_epoch_micros,
};
pub use error::Error;
pub use machine::{Action, Counters, Event, Heartbeat, PathId, Reason, Role};

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
