//! Adding and removing whole addresses through rtnetlink, marked as ours with an address
//! protocol (`IFA_PROTO`), in the calling thread's network namespace.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use futures::TryStreamExt;
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressMessage, AddressProtocol,
};
use netlink_packet_route::link::LinkAttribute;

use super::Address;
use crate::Error;

/// The address protocol (`IFA_PROTO`, Linux 5.18 and later) that marks the addresses we added,
/// so that a restarted director knows them from the operator's own (`ip address show` prints
/// it as `proto 76`). Older kernels ignore the mark: every address found at start is then the
/// operator's.
pub const ADDRESS_PROTOCOL: u8 = 76;

/// What [`Addresses::add`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Added {
    /// It was not there; it is now, marked as ours.
    Added,
    /// It was there with our mark: we (an earlier run) put it there. It is ours.
    Adopted,
    /// It was there without our mark: the operator's. It is not ours to remove.
    Foreign,
}

/// Adds and removes addresses in the calling thread's network namespace. Only whole addresses
/// are touched, never interfaces: nothing is brought down. Each call reads the interfaces and
/// addresses once, however many addresses it is given (a director may hold thousands of VIPs).
#[derive(Debug, Clone)]
pub struct Addresses {
    handle: rtnetlink::Handle,
}

/// The interfaces and addresses of the namespace, read once.
struct Snapshot {
    /// Interface index by name.
    links: HashMap<String, u32>,
    /// Every address: (interface index, address, prefix) → its message.
    addresses: HashMap<(u32, IpAddr, u8), AddressMessage>,
}

impl Snapshot {
    fn find(&self, a: &Address) -> Result<(u32, Option<&AddressMessage>), Error> {
        let index = self
            .links
            .get(&a.device)
            .copied()
            .ok_or_else(|| Error::NoInterface {
                device: a.device.clone(),
                address: a.address,
            })?;
        Ok((index, self.addresses.get(&(index, a.address, a.prefix))))
    }
}

impl Addresses {
    /// Opens the rtnetlink connection (inside a tokio runtime).
    pub fn new() -> Result<Self, Error> {
        let (conn, handle, _) = rtnetlink::new_connection().map_err(Error::Rtnetlink)?;
        tokio::spawn(conn);
        Ok(Addresses { handle })
    }

    /// Uses an rtnetlink handle the caller opened.
    pub fn with_handle(handle: rtnetlink::Handle) -> Self {
        Addresses { handle }
    }

    async fn snapshot(&self) -> Result<Snapshot, Error> {
        let list = |what| {
            move |source| Error::List {
                what,
                source: Box::new(source),
            }
        };
        let mut links = HashMap::new();
        let mut dump = self.handle.link().get().execute();
        while let Some(link) = dump.try_next().await.map_err(list("interfaces"))? {
            for attr in link.attributes {
                if let LinkAttribute::IfName(name) = attr {
                    links.insert(name, link.header.index);
                }
            }
        }
        let mut addresses = HashMap::new();
        let mut dump = self.handle.address().get().execute();
        while let Some(msg) = dump.try_next().await.map_err(list("addresses"))? {
            // IPv4 has its own address in IFA_LOCAL; IPv6 only in IFA_ADDRESS.
            let local = msg.attributes.iter().find_map(|a| match a {
                AddressAttribute::Local(ip @ IpAddr::V4(_)) => Some(*ip),
                AddressAttribute::Address(ip @ IpAddr::V6(_)) => Some(*ip),
                _ => None,
            });
            if let Some(ip) = local {
                addresses.insert((msg.header.index, ip, msg.header.prefix_len), msg);
            }
        }
        Ok(Snapshot { links, addresses })
    }

    /// Adds the address with its label and our mark ([`ADDRESS_PROTOCOL`]), unless it is there.
    pub async fn add(&self, a: &Address) -> Result<Added, Error> {
        let mut all = self.add_all(std::slice::from_ref(a)).await?;
        all.pop().unwrap_or(Ok(Added::Foreign))
    }

    /// [`Addresses::add`] for each of `addresses`, in order, reading the addresses once. `Err`
    /// when they cannot be read at all.
    pub async fn add_all(&self, addresses: &[Address]) -> Result<Vec<Result<Added, Error>>, Error> {
        let now = self.snapshot().await?;
        let mut out = Vec::with_capacity(addresses.len());
        for a in addresses {
            out.push(match now.find(a) {
                Err(e) => Err(e),
                Ok((_, Some(found))) if marked(found) => Ok(Added::Adopted),
                Ok((_, Some(_))) => Ok(Added::Foreign),
                Ok((index, None)) => self.add_one(index, a).await.map(|()| Added::Added),
            });
        }
        Ok(out)
    }

    async fn add_one(&self, index: u32, a: &Address) -> Result<(), Error> {
        let mut request = self.handle.address().add(index, a.address, a.prefix);
        let attributes = &mut request.message_mut().attributes;
        match a.address {
            // Labels are IPv4's.
            IpAddr::V4(_) => {
                if let Some(label) = &a.label {
                    attributes.push(AddressAttribute::Label(label.clone()));
                }
            }
            // A taken-over address is usable at once: no duplicate address detection (it
            // would hold the address tentative for a second), as keepalived does.
            IpAddr::V6(_) => attributes.push(AddressAttribute::Flags(AddressFlags::Nodad)),
        }
        attributes.push(AddressAttribute::Protocol(AddressProtocol::from(
            ADDRESS_PROTOCOL,
        )));
        request.execute().await.map_err(|e| kernel("adding", a, e))
    }

    /// Removes the address; false when it was not there.
    pub async fn remove(&self, a: &Address) -> Result<bool, Error> {
        let mut all = self.remove_all(std::slice::from_ref(a)).await?;
        all.pop().unwrap_or(Ok(false))
    }

    /// [`Addresses::remove`] for each of `addresses`, in order, reading the addresses once.
    pub async fn remove_all(
        &self,
        addresses: &[Address],
    ) -> Result<Vec<Result<bool, Error>>, Error> {
        let now = self.snapshot().await?;
        let mut out = Vec::with_capacity(addresses.len());
        for a in addresses {
            out.push(match now.find(a) {
                Err(e) => Err(e),
                Ok((_, None)) => Ok(false),
                Ok((_, Some(msg))) => self
                    .handle
                    .address()
                    .del(msg.clone())
                    .execute()
                    .await
                    .map(|()| true)
                    .map_err(|e| kernel("removing", a, e)),
            });
        }
        Ok(out)
    }

    /// The addresses carrying our mark: those we added and did not remove (the process was
    /// killed, or stopped while keeping them), without labels, sorted by interface and address.
    pub async fn marked(&self) -> Result<Vec<Address>, Error> {
        let now = self.snapshot().await?;
        let names: HashMap<u32, &String> = now.links.iter().map(|(n, i)| (*i, n)).collect();
        let mut out: Vec<Address> = now
            .addresses
            .iter()
            .filter(|(_, msg)| marked(msg))
            .filter_map(|((index, address, prefix), _)| {
                Some(Address::new(
                    *address,
                    *prefix,
                    (*names.get(index)?).clone(),
                ))
            })
            .collect();
        out.sort_by(|a, b| (&a.device, a.address).cmp(&(&b.device, b.address)));
        Ok(out)
    }

    /// Every IPv4 address of this namespace, secondary ones included (Piranha's pulse saw only
    /// each interface's primary address), sorted.
    pub async fn local_ipv4(&self) -> Result<Vec<Ipv4Addr>, Error> {
        let now = self.snapshot().await?;
        let mut out: Vec<Ipv4Addr> = (now.addresses.keys())
            .filter_map(|(_, ip, _)| match ip {
                IpAddr::V4(ip) => Some(*ip),
                IpAddr::V6(_) => None,
            })
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }
}

fn marked(msg: &AddressMessage) -> bool {
    msg.attributes
        .iter()
        .any(|a| matches!(a, AddressAttribute::Protocol(p) if u8::from(*p) == ADDRESS_PROTOCOL))
}

fn kernel(what: &'static str, a: &Address, source: rtnetlink::Error) -> Error {
    Error::Address {
        what,
        address: a.address,
        prefix: a.prefix,
        device: a.device.clone(),
        source: Box::new(source),
    }
}
