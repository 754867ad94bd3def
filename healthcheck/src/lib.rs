//! Health checks for LVS real servers: probes, the per-server state machine, and a scheduler
//! for thousands of targets. Nothing here touches IPVS; the application maps [`Event`]s to its
//! own table (the `director` maps them to `ipvs` calls).
//!
//! * [`Probe`]: one check — TCP connect, TCP and UDP send/expect ([`Expect`]), HTTP/1.x and
//!   HTTPS ([`HttpCheck`]), or an external program ([`ProgramCheck`]) — with separate connect and
//!   read timeouts, bounded reads, and source-address, interface and fwmark [`Binding`].
//! * [`Server`]: the sans-IO state of one real server — rise/fall, Piranha's reentry delay,
//!   quiesce, slow start, load-based weights, manual overrides — fed with results and `now`,
//!   returning [`Event`]s. [`Pool`] says when every server of a service is down (sorry server).
//! * [`Monitor`]: the tokio driver that runs many probes with jittered, drift-free intervals and
//!   bounded concurrency.
//!
//! * [`table`]: how health events and an operator's drain / disable / enable put a real server in
//!   a table (in, weighted, quiesced, out).
//! * [`nanny`] (default feature `lvscf`): Piranha nanny's check, timeouts and state machine for
//!   an `lvs.cf` virtual server.
//!
//! Piranha's nanny is the reference for defaults and formulas; its defects are fixed: a program
//! that fails or hangs is unhealthy, every read is bounded, and timeouts are not the interval.
//!
//! ```no_run
//! use std::time::Duration;
//! use healthcheck::{
//!     Binding, Check, HttpCheck, Monitor, MonitorOptions, Probe, ServerConfig, Target, Timeouts,
//! };
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let (monitor, mut events) = Monitor::spawn(MonitorOptions::default());
//! let probe = Probe::new(
//!     "10.0.0.1:80".parse()?,
//!     Check::Http(HttpCheck::get("/health")),
//!     Binding::default(),
//!     Timeouts::both(Duration::from_secs(2)),
//! )?;
//! let target = Target::new(probe, ServerConfig::default(), Duration::from_secs(6));
//! let _id = monitor.add(target).await?;
//! while let Some(update) = events.recv().await {
//!     println!("{update}");
//! }
//! # Ok(()) }
//! ```

mod error;
mod escape;
mod expect;
mod limits;
mod load;
mod monitor;
#[cfg(feature = "lvscf")]
pub mod nanny;
mod pool;
mod probe;
mod server;
pub mod table;

pub use error::Error;

/// Entry points for the fuzz targets in `healthcheck/fuzz`; not part of the API.
#[doc(hidden)]
pub mod fuzzing {
    /// Reads `response` as an HTTP probe's reply; the first byte picks keep-alive, body match,
    /// digest and HEAD. True when the probe would pass.
    pub fn http_response(response: &[u8]) -> bool {
        crate::probe::http::fuzz_response(response)
    }

    /// Reads `packet` as a ping probe's raw socket delivers it (`v6`: without an IP header);
    /// true when it is the reply to identifier 1, sequence number 2.
    pub fn echo_reply(v6: bool, packet: &[u8]) -> bool {
        crate::probe::ping::is_reply(v6, packet, 1, 2)
    }
}
pub use escape::decode_escapes;
pub use expect::{Expect, Matcher, Progress, Snippet};
pub use load::{LoadMonitor, parse_load};
pub use monitor::{Monitor, MonitorOptions, Target, TargetId, TargetStatus, Update};
pub use pool::{Pool, PoolEvent};
pub use probe::{
    Background, Binding, BodyDigest, Check, Checker, CommandTemplate, ExitReason, Finished,
    HttpCheck, HttpSpec, Outcome, Pass, PingCheck, Probe, ProbeError, ProbeFuture, Program,
    ProgramCheck, StatusSet, TcpCheck, Timeouts, Tls, UdpCheck, Version,
};
pub use server::{
    Detail, Event, EventKind, Health, LastCheck, LoadScaling, Override, Reason, Server,
    ServerConfig, SlowStart, Snapshot,
};

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
