//! Link monitoring from rtnetlink: interfaces up or down, from `RTM_NEWLINK` / `RTM_DELLINK`
//! events (multicast group `RTMGRP_LINK`), after one dump for the initial state. The driver
//! watches the interfaces under its paths with it; an application can watch its own (a director
//! tracking an uplink, as keepalived's `track_interface`).
//!
//! ```no_run
//! use heartbeat::link::{LinkState, Which, watch};
//! # async fn f() -> Result<(), heartbeat::Error> {
//! let mut links = watch(vec![("uplink", Which::Device("eth2".into()))]).await?;
//! while let Some((name, state)) = links.recv().await {
//!     println!("{name}: {state}");
//! }
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use futures::{StreamExt, TryStreamExt};
use netlink_packet_core::NetlinkPayload;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::AddressAttribute;
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use rtnetlink::{MulticastGroup, new_multicast_connection};
use tokio::sync::mpsc;

use crate::error::Error;

/// Which interface to watch: by name, or the one holding a local address.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Which {
    /// The interface of this name (it may come and go).
    Device(String),
    /// The interface holding this address when the watch starts.
    Address(IpAddr),
}

/// The state of a watched link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LinkState {
    /// Administratively up with a carrier (`IFF_UP` and `IFF_RUNNING`).
    Up,
    /// Up, without a carrier.
    NoCarrier,
    /// Administratively down.
    Down,
    /// The interface does not exist (any more).
    Missing,
}

impl LinkState {
    /// Whether traffic can flow.
    pub fn is_up(self) -> bool {
        self == LinkState::Up
    }

    fn of(link: &LinkMessage) -> LinkState {
        let flags = link.header.flags;
        match (
            flags.contains(LinkFlags::Up),
            flags.contains(LinkFlags::Running),
        ) {
            (true, true) => LinkState::Up,
            (true, false) => LinkState::NoCarrier,
            (false, _) => LinkState::Down,
        }
    }
}

impl fmt::Display for LinkState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LinkState::Up => "up",
            LinkState::NoCarrier => "up without a carrier",
            LinkState::Down => "down",
            LinkState::Missing => "missing",
        })
    }
}

fn name_of(link: &LinkMessage) -> Option<&str> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.as_str()),
        _ => None,
    })
}

/// One-shot readings of links' states, on one rtnetlink connection (for a check that polls,
/// e.g. a tracker with its own interval and fall count; [`watch`] follows changes instead).
///
/// ```no_run
/// # async fn f() -> Result<(), heartbeat::Error> {
/// let links = heartbeat::link::Links::new()?;
/// println!("eth0: {}", links.state("eth0").await?);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Links {
    handle: rtnetlink::Handle,
}

impl Links {
    /// Opens the connection (inside a tokio runtime), in the calling thread's network namespace.
    pub fn new() -> Result<Self, Error> {
        let (conn, handle, _) = rtnetlink::new_connection().map_err(|source| Error::Netlink {
            what: "opening an rtnetlink socket".into(),
            source,
        })?;
        tokio::spawn(conn);
        Ok(Links { handle })
    }

    /// The state of the interface named `name` now ([`LinkState::Missing`] if there is none).
    pub async fn state(&self, name: &str) -> Result<LinkState, Error> {
        let mut dump = self
            .handle
            .link()
            .get()
            .match_name(name.to_owned())
            .execute();
        match dump.try_next().await {
            Ok(Some(link)) => Ok(LinkState::of(&link)),
            Ok(None) => Ok(LinkState::Missing),
            Err(rtnetlink::Error::NetlinkError(e)) if e.code.map(|c| c.get()) == Some(-ENODEV) => {
                Ok(LinkState::Missing)
            }
            Err(source) => Err(Error::Rtnetlink {
                what: format!("reading interface {name}"),
                source,
            }),
        }
    }
}

/// "No such device", as the kernel answers for a name no link has.
const ENODEV: i32 = 19;

/// How a watched link is recognised in events.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    Name(String),
    Index(u32),
}

impl Key {
    fn matches(&self, link: &LinkMessage) -> bool {
        match self {
            Key::Name(name) => name_of(link) == Some(name.as_str()),
            Key::Index(index) => link.header.index == *index,
        }
    }
}

/// Starts watching `links`, each under a key of the caller's. The receiver gets `(key, state)`
/// once per link at once (the initial state), then on every change. A device that does not
/// exist is [`LinkState::Missing`] until it appears; an address that no interface holds is an
/// error. Must be called inside a tokio runtime; the watch runs as a task until the receiver is
/// dropped.
pub async fn watch<K: Clone + Send + 'static>(
    links: Vec<(K, Which)>,
) -> Result<mpsc::UnboundedReceiver<(K, LinkState)>, Error> {
    let (conn, handle, mut messages) =
        new_multicast_connection(&[MulticastGroup::Link]).map_err(|source| Error::Netlink {
            what: "opening an rtnetlink socket".into(),
            source,
        })?;
    let conn_task = tokio::spawn(conn);
    let rt = |what: &str| {
        let what = what.to_owned();
        move |source| Error::Rtnetlink { what, source }
    };

    // Interface indexes holding the local addresses.
    let mut by_address = HashMap::new();
    if links.iter().any(|(_, w)| matches!(w, Which::Address(_))) {
        let mut addrs = handle.address().get().execute();
        while let Some(msg) = addrs.try_next().await.map_err(rt("dumping addresses"))? {
            for attr in &msg.attributes {
                if let AddressAttribute::Address(ip) | AddressAttribute::Local(ip) = attr {
                    by_address.insert(*ip, msg.header.index);
                }
            }
        }
    }
    let mut dump = handle.link().get().execute();
    let mut all = Vec::new();
    while let Some(msg) = dump.try_next().await.map_err(rt("dumping links"))? {
        all.push(msg);
    }
    let mut watched: Vec<(K, Key, LinkState)> = Vec::new();
    for (key, which) in links {
        let found = match &which {
            Which::Address(ip) => {
                let index = by_address
                    .get(ip)
                    .copied()
                    .ok_or_else(|| Error::NoInterface {
                        what: format!("the interface holding {ip}"),
                    })?;
                Key::Index(index)
            }
            Which::Device(name) => Key::Name(name.clone()),
        };
        let state = all
            .iter()
            .find(|l| found.matches(l))
            .map_or(LinkState::Missing, LinkState::of);
        watched.push((key, found, state));
    }

    let (tx, rx) = mpsc::unbounded_channel();
    for (key, _, state) in &watched {
        let _ = tx.send((key.clone(), *state));
    }
    tokio::spawn(async move {
        // The request handle keeps the connection open along with the event stream.
        let _handle = handle;
        while let Some((msg, _)) = messages.next().await {
            let (link, state) = match msg.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => {
                    let state = LinkState::of(&l);
                    (l, state)
                }
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(l)) => {
                    (l, LinkState::Missing)
                }
                _ => continue,
            };
            for (key, found, old) in &mut watched {
                if !found.matches(&link) || *old == state {
                    continue;
                }
                *old = state;
                if tx.send((key.clone(), state)).is_err() {
                    conn_task.abort();
                    return;
                }
            }
        }
        conn_task.abort();
    });
    Ok(rx)
}
