//! The VIP routes a routing daemon announces: [`Routes`].
//!
//! The director says which VIPs it can serve by keeping a host route for each (`/32`, `/128`,
//! `dev lo`) in a routing table of their own, marked with a route protocol of their own. No `ip
//! rule` points at that table, so the routes steer no packet: they are there for the routing
//! daemon the operator runs to read. With BIRD 2, a kernel protocol imports the table and the
//! BGP export filter announces what it imported:
//!
//! ```text
//! ipv4 table vips4;
//! protocol kernel vips {
//!     kernel table 250;   # Routes::DEFAULT_TABLE
//!     learn;              # routes BIRD did not write itself
//!     ipv4 { table vips4; import all; export none; };
//! }
//! ```
//!
//! This is the kernel-route way rather than BIRD's control socket: the routes survive a BIRD
//! restart (it reads them again), any routing daemon that imports kernel routes works (FRR,
//! GoBGP with zebra), and `ip route show table 250` shows an operator what is announced.

use std::net::IpAddr;

use futures::TryStreamExt;
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use rtnetlink::RouteMessageBuilder;

use crate::Error;

/// Adds and withdraws VIP host routes in the calling thread's network namespace, in one table
/// and with one route protocol, and touches no other route.
#[derive(Debug, Clone)]
pub struct Routes {
    handle: rtnetlink::Handle,
    table: u32,
    protocol: u8,
}

impl Routes {
    /// The table the routes go to unless told otherwise.
    pub const DEFAULT_TABLE: u32 = 250;
    /// The route protocol that marks them (`proto 250` in `ip route`).
    pub const DEFAULT_PROTOCOL: u8 = 250;

    /// Opens an rtnetlink connection on the current tokio runtime.
    pub fn new() -> Result<Routes, Error> {
        let (conn, handle, _) = rtnetlink::new_connection().map_err(Error::Netlink)?;
        tokio::spawn(conn);
        Ok(Routes::with_handle(handle))
    }

    /// Uses an rtnetlink handle the caller opened.
    pub fn with_handle(handle: rtnetlink::Handle) -> Routes {
        Routes {
            handle,
            table: Routes::DEFAULT_TABLE,
            protocol: Routes::DEFAULT_PROTOCOL,
        }
    }

    /// Routes in `table`, marked with `protocol`.
    pub fn in_table(mut self, table: u32, protocol: u8) -> Routes {
        self.table = table;
        self.protocol = protocol;
        self
    }

    fn message(&self, vip: IpAddr, lo: u32) -> Result<RouteMessage, Error> {
        let prefix = if vip.is_ipv4() { 32 } else { 128 };
        let builder = RouteMessageBuilder::<IpAddr>::new()
            .destination_prefix(vip, prefix)
            .map_err(|e| Error::Route {
                vip,
                what: "build",
                source: Box::new(e),
            })?;
        Ok(builder
            .output_interface(lo)
            .table_id(self.table)
            .protocol(RouteProtocol::Other(self.protocol))
            .scope(RouteScope::Link)
            .kind(RouteType::Unicast)
            .build())
    }

    async fn loopback(&self) -> Result<u32, Error> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name("lo".to_string())
            .execute();
        match links.try_next().await {
            Ok(Some(link)) => Ok(link.header.index),
            Ok(None) => Err(Error::NoLoopback),
            Err(e) => Err(Error::Netlink(std::io::Error::other(e))),
        }
    }

    /// Announces `vip`: its host route is there afterwards (added, or replaced if it was).
    pub async fn announce(&self, vip: IpAddr) -> Result<(), Error> {
        let lo = self.loopback().await?;
        let message = self.message(vip, lo)?;
        self.handle
            .route()
            .add(message)
            .replace()
            .execute()
            .await
            .map_err(|e| Error::Route {
                vip,
                what: "add",
                source: Box::new(e),
            })
    }

    /// Withdraws `vip`: its host route is gone afterwards (also when it was not there).
    pub async fn withdraw(&self, vip: IpAddr) -> Result<(), Error> {
        let lo = self.loopback().await?;
        let message = self.message(vip, lo)?;
        match self.handle.route().del(message).execute().await {
            Ok(()) => Ok(()),
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ESRCH => Ok(()),
            Err(e) => Err(Error::Route {
                vip,
                what: "delete",
                source: Box::new(e),
            }),
        }
    }

    /// Makes the announced routes exactly `wanted`: adds the missing, deletes the others (an
    /// earlier run's, or one whose change failed, or someone's `ip route flush table 250`).
    /// Returns what it added and what it deleted.
    pub async fn reconcile(&self, wanted: &[IpAddr]) -> Result<(Vec<IpAddr>, Vec<IpAddr>), Error> {
        let there = self.announced().await?;
        let added: Vec<IpAddr> = (wanted.iter().copied())
            .filter(|v| !there.contains(v))
            .collect();
        let deleted: Vec<IpAddr> = (there.iter().copied())
            .filter(|v| !wanted.contains(v))
            .collect();
        for vip in &added {
            self.announce(*vip).await?;
        }
        for vip in &deleted {
            self.withdraw(*vip).await?;
        }
        Ok((added, deleted))
    }

    /// [`Routes::announce`] `vip` when `announced`, [`Routes::withdraw`] it otherwise.
    pub async fn set(&self, vip: IpAddr, announced: bool) -> Result<(), Error> {
        if announced {
            self.announce(vip).await
        } else {
            self.withdraw(vip).await
        }
    }

    /// The VIPs announced now: the host routes in the table with the protocol, of both
    /// families (what a restarted director finds from its previous run).
    pub async fn announced(&self) -> Result<Vec<IpAddr>, Error> {
        let mut out = Vec::new();
        for family in [
            RouteMessageBuilder::<std::net::Ipv4Addr>::new().build(),
            RouteMessageBuilder::<std::net::Ipv6Addr>::new().build(),
        ] {
            let mut routes = self.handle.route().get(family).execute();
            while let Some(route) = routes
                .try_next()
                .await
                .map_err(|e| Error::Netlink(std::io::Error::other(e)))?
            {
                if route_table(&route) != self.table
                    || route.header.protocol != RouteProtocol::Other(self.protocol)
                {
                    continue;
                }
                out.extend(route.attributes.iter().find_map(|a| match a {
                    RouteAttribute::Destination(RouteAddress::Inet(a)) => Some(IpAddr::V4(*a)),
                    RouteAttribute::Destination(RouteAddress::Inet6(a)) => Some(IpAddr::V6(*a)),
                    _ => None,
                }));
            }
        }
        out.sort();
        Ok(out)
    }
}

/// The route's table: the 32-bit attribute when there is one, the header's byte otherwise.
fn route_table(route: &RouteMessage) -> u32 {
    route
        .attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Table(t) => Some(*t),
            _ => None,
        })
        .unwrap_or(u32::from(route.header.table))
}
