//! Link monitoring from rtnetlink: the interfaces under the heartbeat paths, up or down, from
//! `RTM_NEWLINK` / `RTM_DELLINK` events (multicast group `RTMGRP_LINK`), after one dump for the
//! initial state. A link is up when it is administratively up and has carrier (`IFF_UP` and
//! `IFF_RUNNING`); an interface that disappears is down.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;

use futures::{StreamExt, TryStreamExt};
use netlink_packet_core::NetlinkPayload;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::AddressAttribute;
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use rtnetlink::{MulticastGroup, new_multicast_connection};
use tokio::sync::mpsc;

use crate::error::Error;
use crate::machine::PathId;

/// Which interface carries a path: by name, or the one holding the path's local address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Which {
    Device(String),
    Address(IpAddr),
}

fn netlink(what: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
    let what = what.into();
    move |source| Error::Netlink { what, source }
}

fn rt(what: &str, e: rtnetlink::Error) -> Error {
    Error::Netlink {
        what: what.to_owned(),
        source: io::Error::other(e.to_string()),
    }
}

fn is_up(link: &LinkMessage) -> bool {
    link.header.flags.contains(LinkFlags::Up) && link.header.flags.contains(LinkFlags::Running)
}

fn name_of(link: &LinkMessage) -> Option<&str> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.as_str()),
        _ => None,
    })
}

/// Starts monitoring. The receiver gets `(path, up)` once per path at once (the initial
/// state), then on every change. Must be called inside a tokio runtime; the monitor runs as a
/// task until the receiver is dropped.
pub(crate) async fn monitor(
    paths: Vec<(PathId, Which)>,
) -> Result<mpsc::UnboundedReceiver<(PathId, bool)>, Error> {
    let (conn, handle, mut messages) = new_multicast_connection(&[MulticastGroup::Link])
        .map_err(netlink("opening an rtnetlink socket"))?;
    let conn_task = tokio::spawn(conn);

    // Interface indexes holding the local addresses.
    let mut by_address = HashMap::new();
    if paths.iter().any(|(_, w)| matches!(w, Which::Address(_))) {
        let mut addrs = handle.address().get().execute();
        while let Some(msg) = addrs
            .try_next()
            .await
            .map_err(|e| rt("dumping addresses", e))?
        {
            for attr in &msg.attributes {
                if let AddressAttribute::Address(ip) | AddressAttribute::Local(ip) = attr {
                    by_address.insert(*ip, msg.header.index);
                }
            }
        }
    }
    let mut links = HashMap::new();
    let mut dump = handle.link().get().execute();
    while let Some(msg) = dump.try_next().await.map_err(|e| rt("dumping links", e))? {
        links.insert(msg.header.index, msg);
    }
    // path -> interface index
    let mut watched: Vec<(PathId, u32)> = Vec::new();
    for (path, which) in &paths {
        let index = match which {
            Which::Address(ip) => by_address.get(ip).copied(),
            Which::Device(name) => links
                .values()
                .find(|l| name_of(l) == Some(name.as_str()))
                .map(|l| l.header.index),
        };
        let index = index.ok_or_else(|| Error::Netlink {
            what: match which {
                Which::Address(ip) => format!("finding the interface holding {ip} ({path})"),
                Which::Device(name) => format!("finding interface {name} ({path})"),
            },
            source: io::Error::from(io::ErrorKind::NotFound),
        })?;
        watched.push((*path, index));
    }

    let (tx, rx) = mpsc::unbounded_channel();
    let mut state: HashMap<u32, bool> = HashMap::new();
    for (path, index) in &watched {
        let up = links.get(index).is_some_and(is_up);
        state.insert(*index, up);
        let _ = tx.send((*path, up));
    }
    tokio::spawn(async move {
        // The request handle keeps the connection open along with the event stream.
        let _handle = handle;
        while let Some((msg, _)) = messages.next().await {
            let (index, up) = match msg.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => {
                    (l.header.index, is_up(&l))
                }
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(l)) => {
                    (l.header.index, false)
                }
                _ => continue,
            };
            let Some(old) = state.get_mut(&index) else {
                continue;
            };
            if *old == up {
                continue;
            }
            *old = up;
            for (path, i) in &watched {
                if *i == index && tx.send((*path, up)).is_err() {
                    conn_task.abort();
                    return;
                }
            }
        }
        conn_task.abort();
    });
    Ok(rx)
}
