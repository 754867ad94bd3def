//! Active-active LVS directors behind a router that spreads flows over them by ECMP: each
//! director announces a VIP (over BGP, by the routing daemon the operator runs, such as BIRD)
//! only while it can serve it. This crate holds the rules; the director wires them to the
//! kernel's routes.
//!
//! - [`Announcer`]: when each VIP is announced and withdrawn (route health injection), with a
//!   hold-down against flapping, without I/O (`handle(now, input) -> outputs`);
//! - [`check`]: what the mode refuses (NAT) and what it warns about (schedulers that choose
//!   differently on each director, `net.ipv4.vs.sloppy_tcp`);
//! - [`Routes`]: the VIP host routes in a table of their own that the routing daemon (BIRD's
//!   kernel protocol) imports and announces.
//!
//! ```
//! use std::{net::IpAddr, time::Instant};
//! use cluster::{Announcer, Input, Output, Settings};
//!
//! let vip: IpAddr = "192.0.2.10".parse()?;
//! let mut rule = Announcer::new(Settings::default())?;
//! let now = Instant::now();
//! let _ = rule.handle(now, Input::Fit(true));
//! let _ = rule.handle(now, Input::Service { vip, service: 0, healthy: 2 });
//! let due = rule.poll_timeout().expect("the hold-down runs");
//! assert_eq!(rule.handle(due, Input::Timer), [Output::Announce(vip)]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod announce;
pub mod check;
mod error;
mod routes;

pub use announce::{Announcer, Input, Output, Reason, Settings};
pub use error::Error;
pub use routes::Routes;

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
