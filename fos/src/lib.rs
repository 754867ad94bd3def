//! Piranha's failover services (`service = fos` in `lvs.cf`): services that run on the routers
//! themselves rather than behind IPVS. The active router takes each service's address over and
//! starts it with `start_cmd`, checks it on its address and port as nanny did (`send`/`expect`,
//! or `send_program`), and when a check fails hands everything to its peer, which starts the
//! services there while this one runs `stop_cmd` and lets the addresses go.
//!
//! - [`Plan`]: the `failover` blocks, checked, each problem at its place in the file;
//! - [`services::Services`]: the rules, without I/O (`handle(now, input) -> outputs`);
//! - [`Runner`]: the services on tokio, with the heartbeat ([`heartbeat::Driver`], in
//!   failover-services mode: pulse's magics `0xbeefbabe`, `0xdeadbeef` and STOPME
//!   `0xdeaddada`), address takeover ([`arp_announce::takeover`]) and checks
//!   ([`healthcheck`]).
//!
//! The standby router does not check its peer's services, as pulse's `fos --monitor` did: the
//! active one checks its own and steps down. A Piranha peer that checks ours and sends STOPME
//! is obeyed.
//!
//! ```
//! let doc = lvscf::Document::parse(concat!(
//!     "primary = 10.0.0.1\nbackup = 10.0.0.2\nbackup_active = 1\nservice = fos\n",
//!     "failover web {\n active = 1\n address = 10.0.0.50 eth0:1\n port = 80\n",
//!     " send = \"GET / HTTP/1.0\\r\\n\\r\\n\"\n expect = \"HTTP\"\n timeout = 5\n",
//!     " start_cmd = \"/etc/init.d/httpd start\"\n stop_cmd = \"/etc/init.d/httpd stop\"\n}\n",
//! ))?;
//! let plan = fos::Plan::from_lvscf(doc.config(), &mut |_, _| None).expect("valid");
//! assert!(plan.to_string().contains("failover web: 10.0.0.50:80"));
//! # Ok::<(), lvscf::ParseError>(())
//! ```

mod error;
mod plan;
mod runner;
pub mod services;

pub use error::Error;
pub use plan::{Command, Plan, Service};
pub use runner::{COMMAND_LIMIT, Runner, Status};

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
