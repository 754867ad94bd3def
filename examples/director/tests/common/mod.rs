//! What the director's kernel tests share: the seed's network and its clients ([`lab`], which
//! the demo uses too), and the director under test as a process.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::path::Path;

use testkit::{Logged, NetNs};

pub mod lab;

pub use lab::*;

/// Starts `director run --config FILE ARGS…` in `ns`, its log lines echoed with `tag`.
pub fn director(ns: &NetNs, config: &Path, tag: &str, args: &[&str]) -> Logged {
    start_director(
        Path::new(env!("CARGO_BIN_EXE_director")),
        ns,
        config,
        tag,
        args,
    )
}
