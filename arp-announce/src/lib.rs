//! Address takeover and announcement for failover: gratuitous ARP and IPv6 unsolicited
//! neighbour advertisements for a director taking over a virtual IP (every switch and neighbour
//! learns the new MAC at once), RFC 5227 probes, and the addresses themselves.
//!
//! * [`frame`] builds the frames (pure, no sockets): the RFC 5227 ARP announcement (a request,
//!   the default), Piranha's `send_arp` reply, and RFC 4861 unsolicited neighbour advertisements.
//! * [`Plan`] is the schedule as a sans-IO state machine: bursts, a delayed second burst,
//!   refresh and a global rate limit ([`Schedule`]).
//! * [`Announcer`] drives a plan on tokio through a packet socket (pnet); [`announce_once`] is the
//!   blocking one-shot.
//! * [`probe`] is RFC 5227's conflict detection before claiming an address: probes, then
//!   [`conflict`] on what comes back.
//! * [`takeover`] (default feature `takeover`) holds addresses for a failover node: adds them
//!   through rtnetlink with a label and a mark of ours, probes, announces, releases only what
//!   it added, repairs, and adopts or removes what a crashed run left.
//!
//! Sending raw frames needs `CAP_NET_RAW`. Interfaces are looked up in the calling thread's
//! network namespace.
//!
//! ```no_run
//! use arp_announce::{Announcer, Options, Schedule};
//! # async fn f() -> Result<(), arp_announce::Error> {
//! let vip = "192.168.1.250".parse().unwrap();
//! let options = Options::default().with_schedule(Schedule::keepalived());
//! let handle = Announcer::new("eth0", &[vip], options)?.spawn()?;
//! handle.finished().await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs, unreachable_pub)]

mod announcer;
mod error;
pub mod frame;
mod interface;
mod kind;
mod probe;
mod schedule;
mod sender;
#[cfg(feature = "takeover")]
pub mod takeover;

pub use announcer::{AnnounceHandle, Announcer, Options, Report, announce_once, send_all};
pub use error::Error;
pub use frame::{ArpForm, Frame, FrameKind, build};
pub use interface::{Interface, parse_mac};
pub use pnet_base::MacAddr;
pub use probe::{Conflict, conflict, probe};
pub use schedule::{Burst, Plan, Schedule};
pub use sender::{FrameSink, PacketSocket};

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
