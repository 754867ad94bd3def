//! The addresses a director takes over (VIPs, the NAT router address), through rtnetlink.

use std::{io, net::IpAddr, net::Ipv4Addr};

use futures::TryStreamExt;
use netlink_packet_route::address::{AddressAttribute, AddressMessage, AddressProtocol};

use crate::AddressPlan;

/// An address operation that failed, naming the address and the interface.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// No rtnetlink socket.
    #[error("cannot open an rtnetlink socket: {0}")]
    Socket(#[source] io::Error),
    /// The interface does not exist.
    #[error("interface {device} (for {address}) does not exist")]
    NoInterface {
        /// The interface.
        device: String,
        /// The address meant for it.
        address: Ipv4Addr,
    },
    /// The kernel refused.
    #[error("{what} {address}/{prefix} on {device}: {message}")]
    Kernel {
        /// `adding` or `removing`.
        what: &'static str,
        /// The address.
        address: Ipv4Addr,
        /// Its prefix.
        prefix: u8,
        /// The interface.
        device: String,
        /// The kernel's answer.
        message: String,
    },
}

/// The address protocol (`IFA_PROTO`, Linux 5.18 and later) that marks the addresses a director
/// added, so that a restarted director knows them from the operator's own (`ip address show`
/// prints it as `proto 76`). Older kernels ignore the mark: every address found at start is then
/// the operator's.
pub const ADDRESS_PROTOCOL: u8 = 76;

/// What [`Addresses::add`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// It was not there; it is now, marked as ours.
    Added,
    /// It was there with our mark: a director put it there (an earlier run). It is ours.
    Adopted,
    /// It was there without our mark: the operator's. It is not ours to remove.
    Foreign,
}

/// Adds and removes addresses in the calling thread's network namespace. Only whole addresses
/// are touched, never interfaces: nothing is brought down.
#[derive(Debug, Clone)]
pub struct Addresses {
    handle: rtnetlink::Handle,
}

impl Addresses {
    /// Opens the rtnetlink connection (inside a tokio runtime).
    pub fn new() -> Result<Self, AddressError> {
        let (conn, handle, _) = rtnetlink::new_connection().map_err(AddressError::Socket)?;
        tokio::spawn(conn);
        Ok(Addresses { handle })
    }

    async fn index(&self, a: &AddressPlan) -> Result<u32, AddressError> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(a.device.clone())
            .execute();
        match links.try_next().await {
            Ok(Some(link)) => Ok(link.header.index),
            _ => Err(AddressError::NoInterface {
                device: a.device.clone(),
                address: a.address,
            }),
        }
    }

    async fn find(
        &self,
        index: u32,
        a: &AddressPlan,
    ) -> Result<Option<AddressMessage>, AddressError> {
        let mut found = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .set_address_filter(IpAddr::V4(a.address))
            .execute();
        let mut hit = None;
        while let Some(msg) = found
            .try_next()
            .await
            .map_err(|e| kernel("listing", a, e))?
        {
            if msg.header.prefix_len == a.prefix {
                hit = Some(msg);
            }
        }
        Ok(hit)
    }

    /// Adds the address with its label and our mark ([`ADDRESS_PROTOCOL`]), unless it is there.
    pub async fn add(&self, a: &AddressPlan) -> Result<Added, AddressError> {
        let index = self.index(a).await?;
        if let Some(found) = self.find(index, a).await? {
            return Ok(if marked(&found) {
                Added::Adopted
            } else {
                Added::Foreign
            });
        }
        let mut request = self
            .handle
            .address()
            .add(index, IpAddr::V4(a.address), a.prefix);
        let attributes = &mut request.message_mut().attributes;
        if let Some(label) = &a.label {
            attributes.push(AddressAttribute::Label(label.clone()));
        }
        attributes.push(AddressAttribute::Protocol(AddressProtocol::from(
            ADDRESS_PROTOCOL,
        )));
        request
            .execute()
            .await
            .map_err(|e| kernel("adding", a, e))?;
        Ok(Added::Added)
    }

    /// The addresses carrying our mark: those a director added and did not remove (it was
    /// killed, or stopped while keeping them), as (interface, address, prefix).
    pub async fn marked(&self) -> Result<Vec<(String, Ipv4Addr, u8)>, AddressError> {
        let mut names = std::collections::HashMap::new();
        let mut links = self.handle.link().get().execute();
        while let Some(link) = links
            .try_next()
            .await
            .map_err(|e| kernel("listing", &any(), e))?
        {
            for attr in link.attributes {
                if let netlink_packet_route::link::LinkAttribute::IfName(name) = attr {
                    names.insert(link.header.index, name);
                }
            }
        }
        let mut all = self.handle.address().get().execute();
        let mut out = Vec::new();
        while let Some(msg) = all
            .try_next()
            .await
            .map_err(|e| kernel("listing", &any(), e))?
        {
            if !marked(&msg) {
                continue;
            }
            let local = msg.attributes.iter().find_map(|a| match a {
                AddressAttribute::Local(IpAddr::V4(ip)) => Some(*ip),
                _ => None,
            });
            if let (Some(ip), Some(name)) = (local, names.get(&msg.header.index)) {
                out.push((name.clone(), ip, msg.header.prefix_len));
            }
        }
        Ok(out)
    }

    /// Removes the address; false when it was not there.
    pub async fn remove(&self, a: &AddressPlan) -> Result<bool, AddressError> {
        let index = self.index(a).await?;
        let Some(msg) = self.find(index, a).await? else {
            return Ok(false);
        };
        self.handle
            .address()
            .del(msg)
            .execute()
            .await
            .map_err(|e| kernel("removing", a, e))?;
        Ok(true)
    }

    /// Every IPv4 address of this namespace, secondary ones included (Piranha's pulse saw only
    /// each interface's primary address).
    pub async fn local_ipv4(&self) -> Result<Vec<Ipv4Addr>, AddressError> {
        let mut all = self.handle.address().get().execute();
        let mut out = Vec::new();
        while let Some(msg) = all
            .try_next()
            .await
            .map_err(|e| kernel("listing", &any(), e))?
        {
            for attr in &msg.attributes {
                if let AddressAttribute::Local(IpAddr::V4(ip))
                | AddressAttribute::Address(IpAddr::V4(ip)) = attr
                    && !out.contains(ip)
                {
                    out.push(*ip);
                }
            }
        }
        Ok(out)
    }
}

fn marked(msg: &AddressMessage) -> bool {
    msg.attributes
        .iter()
        .any(|a| matches!(a, AddressAttribute::Protocol(p) if u8::from(*p) == ADDRESS_PROTOCOL))
}

/// What a listing of every address is about, for its error.
fn any() -> AddressPlan {
    AddressPlan {
        address: Ipv4Addr::UNSPECIFIED,
        prefix: 0,
        device: "any".into(),
        label: None,
        purpose: String::new(),
    }
}

fn kernel(what: &'static str, a: &AddressPlan, e: rtnetlink::Error) -> AddressError {
    AddressError::Kernel {
        what,
        address: a.address,
        prefix: a.prefix,
        device: a.device.clone(),
        message: e.to_string(),
    }
}
