//! Test support for kernel tests: network namespaces and veth pairs that clean up after themselves.
//!
//! Kernel tests (IPVS, gratuitous ARP, failover) run as root, either inside the project's rig
//! (`cargo xtask test`, see the README) or directly on a host whose kernel has IPVS. Each test builds
//! its own little network out of fresh namespaces, so tests never touch the host's interfaces and
//! never send packets anywhere but between the namespaces they created.
//!
//! * [`NetNs::new`] creates a uniquely named network namespace (`ip netns add`) and brings its `lo`
//!   up (IPVS refuses real servers in a namespace whose `lo` was never up). Dropping the [`NetNs`]
//!   deletes the namespace and with it every interface inside, also when the test panics.
//! * [`NetNs::veth`] creates a veth pair between two namespaces, with an address on each end.
//! * [`NetNs::run`] runs a closure inside the namespace, on a dedicated thread, so the caller's
//!   thread never changes namespace. Sockets created there stay in that namespace.
//! * [`NetNs::command`] and [`NetNs::exec`] run a program inside the namespace (`ip netns exec`).
//! * [`Logged`] runs a program (a daemon under test) and waits on its log lines.
//! * [`scale`] reads a fault test's size from its `LVS_TEST_*` variable, [`random`] seeds its
//!   random choices (printing the seed).
//! * [`replay_corpus`] replays a fuzz target's kept corpus through the target's checks.
//!
//! ```no_run
//! use std::net::{TcpListener, TcpStream};
//! # fn main() -> Result<(), testkit::Error> {
//! let server = testkit::NetNs::new()?;
//! let client = testkit::NetNs::new()?;
//! client.veth("10.9.0.1/24", &server, "10.9.0.2/24")?;
//! let listener = server.run(|| TcpListener::bind("10.9.0.2:8080"))?.expect("bind");
//! let stream = client.run(|| TcpStream::connect("10.9.0.2:8080"))?.expect("connect");
//! # drop((listener, stream));
//! println!("{}", server.exec("ip", ["-brief", "address"])?);
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs, unreachable_pub)]

pub mod bird;
mod capture;
mod error;
mod example;
mod fuzz;
pub mod http;
mod netns;
mod process;
mod scale;

pub use capture::{Capture, Frame};
pub use error::Error;
pub use example::{binary, example};
pub use fuzz::replay_corpus;
pub use netns::{LinkSwitch, NetNs, Veth};
pub use process::{Line, Logged};
pub use scale::{random, scale};
