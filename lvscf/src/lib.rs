//! Lossless parser, typed model and layout-keeping editor for Piranha's `lvs.cf`
//! (`/etc/sysconfig/ha/lvs.cf`), the configuration of Red Hat's pulse, lvsd and nanny.
//!
//! * [`Document`] keeps every byte: `Document::parse(text)?.to_string() == text` for every file
//!   that parses (comments, blank lines, TABs, spacing around `=`, trailing blanks, quote
//!   characters, CRLF, a missing final newline, value text such as `0x2a` or `https`).
//! * The grammar is Piranha 0.8.6's, with its parser bugs fixed on purpose: CRLF files parse in
//!   full, unclosed blocks and text after `}` are errors, end-of-line `# comments` are accepted
//!   with a warning. Every problem is a [`Diagnostic`] with a line, a column and a stable
//!   [`Code`].
//! * [`Config`] is the typed meaning, with Piranha's defaults, serde-ready (feature `serde`,
//!   on by default).
//! * [`Section`] edits change only the lines they touch; [`Config::to_lvs_cf`] writes a new file
//!   in Piranha's GUI layout, and [`Document::to_canonical_string`] re-lays out an existing one.
//!
//! ```
//! let text = "\
//! primary = 192.168.1.10
//! virtual web {
//!      active = 1
//!      address = 192.168.1.250 eth0:1
//!      port = https
//!      server one {
//!          address = 10.0.0.2
//!          active = 1
//!      }
//! }
//! ";
//! let mut doc = lvscf::Document::parse(text)?;
//! assert_eq!(doc.to_string(), text);
//! let web = &doc.config().virtual_servers[0];
//! assert_eq!((web.port, web.servers[0].port), (443, 443));
//!
//! doc.virtual_mut("web").expect("exists").server_mut("one").expect("exists").set("weight", "3")?;
//! assert!(doc.to_string().contains("         weight = 3\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs, unreachable_pub)]

mod build;
mod diagnostic;
mod document;
mod edit;
mod keywords;
mod lexer;
mod lint;
mod locate;
mod model;
mod netmask;
mod parser;
mod syntax;
mod value;
mod write;

pub use diagnostic::{
    Code, Diagnostic, MAX_QUOTE, MAX_SHOWN, ParseError, Severity, limited, shorten,
};
pub use document::{Document, parse_config};
pub use edit::{EditError, Section};
pub use keywords::{Key, Scope};
pub use lexer::Eol;
pub use lint::{Finding, Place};
pub use locate::Location;
pub use model::{
    AddressOnDevice, Config, ConflictAction, FailoverService, Globals, Host, HostError, Network,
    Protocol, RealServer, Scheduler, Seconds, ServiceType, VirtualServer,
};
pub use netmask::{prefix_len, takeover_prefix};
pub use value::{SERVICE_NAMES, service_port};
pub use write::WriteError;

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
