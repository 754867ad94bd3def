//! What announces an address: a gratuitous ARP of one form or the other, or an IPv6
//! neighbour advertisement.

use std::net::{IpAddr, Ipv6Addr};

/// The form of a gratuitous ARP.
///
/// The default is [`ArpForm::Request`]: RFC 5227 §3 names the ARP *request* with sender IP =
/// target IP as the announcement, Linux and the BSDs send it (so does keepalived), and some
/// switches and hosts update their tables on requests but ignore unsolicited replies. The
/// [`ArpForm::Reply`] form is what Piranha's `send_arp` sends, for equipment tuned to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ArpForm {
    /// ARP request, broadcast, sender IP = target IP = the address, target MAC zero (RFC 5227
    /// announcement).
    #[default]
    Request,
    /// ARP reply, broadcast, sender IP = target IP = the address, sender MAC = target MAC = own
    /// MAC, padded to 60 bytes: byte for byte what Piranha's `send_arp` sends.
    Reply,
}

/// What kind of frame announces an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FrameKind {
    /// A gratuitous ARP (IPv4 addresses).
    Arp(ArpForm),
    /// An unsolicited neighbour advertisement (IPv6 addresses), from the given source address,
    /// or from the announced address itself when `None`.
    NeighborAdvert(Option<Ipv6Addr>),
}

impl FrameKind {
    /// The kind for an address: ARP of `form` for IPv4, a neighbour advertisement for IPv6.
    pub fn for_addr(addr: IpAddr, form: ArpForm) -> FrameKind {
        match addr {
            IpAddr::V4(_) => FrameKind::Arp(form),
            IpAddr::V6(_) => FrameKind::NeighborAdvert(None),
        }
    }
}
