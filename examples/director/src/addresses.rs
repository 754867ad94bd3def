//! The addresses a director takes over (VIPs, the NAT router address), through rtnetlink.

use std::{io, net::IpAddr, net::Ipv4Addr};

use futures::TryStreamExt;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};

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

    /// Adds the address with its label; false when it was already there (then it is not ours,
    /// and [`Addresses::remove`] should not be called for it).
    pub async fn add(&self, a: &AddressPlan) -> Result<bool, AddressError> {
        let index = self.index(a).await?;
        if self.find(index, a).await?.is_some() {
            return Ok(false);
        }
        let mut request = self
            .handle
            .address()
            .add(index, IpAddr::V4(a.address), a.prefix);
        if let Some(label) = &a.label {
            request
                .message_mut()
                .attributes
                .push(AddressAttribute::Label(label.clone()));
        }
        request
            .execute()
            .await
            .map_err(|e| kernel("adding", a, e))?;
        Ok(true)
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
        let any = AddressPlan {
            address: Ipv4Addr::UNSPECIFIED,
            prefix: 0,
            device: "any".into(),
            label: None,
            purpose: String::new(),
        };
        while let Some(msg) = all
            .try_next()
            .await
            .map_err(|e| kernel("listing", &any, e))?
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

fn kernel(what: &'static str, a: &AddressPlan, e: rtnetlink::Error) -> AddressError {
    AddressError::Kernel {
        what,
        address: a.address,
        prefix: a.prefix,
        device: a.device.clone(),
        message: e.to_string(),
    }
}
