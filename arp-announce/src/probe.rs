//! RFC 5227 address conflict detection: before claiming an address, probe for it and listen
//! for another host that holds it (or probes for it at the same time).

use std::{
    net::Ipv4Addr,
    time::{Duration, Instant},
};

use pnet_base::MacAddr;
use pnet_datalink::{Channel, Config};
use pnet_packet::{
    Packet,
    arp::{ArpOperations, ArpPacket},
    ethernet::{EtherTypes, EthernetPacket},
};

use crate::{error::Error, frame::arp_probe, interface::Interface};

/// Another host's claim on an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conflict {
    /// The address.
    pub address: Ipv4Addr,
    /// The other host's MAC.
    pub mac: MacAddr,
}

/// Whether `frame` (an Ethernet frame as received) shows another host than `ours` claiming
/// `address`: an ARP packet whose sender is `address` (a reply to our probe, or any ARP from
/// its holder), or another host's probe for it. The other host's MAC, if so. Never panics,
/// whatever the bytes.
///
/// ```
/// use arp_announce::{MacAddr, conflict, frame::arp_probe};
/// let ours = MacAddr::new(2, 0, 0, 0, 0, 1);
/// let theirs = MacAddr::new(2, 0, 0, 0, 0, 2);
/// let vip = "192.0.2.10".parse().unwrap();
/// // Another host probing for the same address at the same time.
/// let probe = arp_probe(theirs, vip);
/// assert_eq!(conflict(probe.as_bytes(), vip, ours), Some(theirs));
/// // Our own probe, looped back, is no conflict.
/// assert_eq!(conflict(arp_probe(ours, vip).as_bytes(), vip, ours), None);
/// ```
pub fn conflict(frame: &[u8], address: Ipv4Addr, ours: MacAddr) -> Option<MacAddr> {
    let eth = EthernetPacket::new(frame)?;
    if eth.get_ethertype() != EtherTypes::Arp {
        return None;
    }
    let arp = ArpPacket::new(eth.payload())?;
    if arp.get_protocol_type() != EtherTypes::Ipv4
        || arp.get_hw_addr_len() != 6
        || arp.get_proto_addr_len() != 4
    {
        return None;
    }
    let sender = arp.get_sender_hw_addr();
    if sender == ours {
        return None;
    }
    let holds = arp.get_sender_proto_addr() == address;
    let probes = arp.get_operation() == ArpOperations::Request
        && arp.get_sender_proto_addr().is_unspecified()
        && arp.get_target_proto_addr() == address;
    (holds || probes).then_some(sender)
}

/// Probes for `addresses` on `interface` (one RFC 5227 probe each) and listens for `wait`:
/// the conflicts seen, at most one per address. Blocking; needs `CAP_NET_RAW`. The interface
/// is looked up in the calling thread's network namespace.
pub fn probe(
    interface: &str,
    addresses: &[Ipv4Addr],
    wait: Duration,
) -> Result<Vec<Conflict>, Error> {
    let iface = Interface::by_name(interface)?;
    let ours = iface.mac();
    let config = Config {
        promiscuous: false,
        read_timeout: Some(Duration::from_millis(10)),
        write_timeout: Some(Duration::ZERO),
        ..Config::default()
    };
    let ifname = iface.name().to_owned();
    let (mut tx, mut rx) = match pnet_datalink::channel(iface.raw(), config) {
        Ok(Channel::Ethernet(tx, rx)) => (tx, rx),
        Ok(_) => {
            return Err(Error::OpenSocket {
                ifname,
                source: std::io::Error::other("pnet returned a channel that is not Ethernet"),
            });
        }
        Err(source) if source.kind() == std::io::ErrorKind::PermissionDenied => {
            return Err(Error::PermissionDenied { ifname, source });
        }
        Err(source) => return Err(Error::OpenSocket { ifname, source }),
    };
    for &address in addresses {
        let frame = arp_probe(ours, address);
        if let Some(Err(source)) = tx.send_to(frame.as_bytes(), None) {
            return Err(Error::Send {
                ifname: ifname.clone(),
                source,
            });
        }
    }
    let deadline = Instant::now() + wait;
    let mut found: Vec<Conflict> = Vec::new();
    while Instant::now() < deadline && found.len() < addresses.len() {
        // A read times out after 10 ms, so that the deadline is kept.
        let Ok(frame) = rx.next() else { continue };
        for &address in addresses {
            if let Some(mac) = conflict(frame, address, ours)
                && !found.iter().any(|c| c.address == address)
            {
                found.push(Conflict { address, mac });
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{ArpForm, arp};
    use proptest::prelude::*;

    const OURS: MacAddr = MacAddr(2, 0, 0, 0, 0, 1);
    const THEIRS: MacAddr = MacAddr(2, 0, 0, 0, 0, 2);

    #[test]
    fn a_holder_answering_or_announcing_is_a_conflict() {
        let vip = Ipv4Addr::new(192, 0, 2, 10);
        // The holder's gratuitous ARP (either form), or any ARP with it as the sender.
        for form in [ArpForm::Request, ArpForm::Reply] {
            assert_eq!(
                conflict(arp(form, THEIRS, vip).as_bytes(), vip, OURS),
                Some(THEIRS)
            );
        }
        // About another address, or from us: none.
        let other = Ipv4Addr::new(192, 0, 2, 11);
        assert_eq!(
            conflict(arp(ArpForm::Request, THEIRS, other).as_bytes(), vip, OURS),
            None
        );
        assert_eq!(
            conflict(arp(ArpForm::Request, OURS, vip).as_bytes(), vip, OURS),
            None
        );
        // Not ARP, or cut short.
        let f = arp_probe(THEIRS, vip);
        assert_eq!(conflict(&f.as_bytes()[..20], vip, OURS), None);
        let mut ipv4 = f.as_bytes().to_vec();
        ipv4[12..14].copy_from_slice(&[0x08, 0x00]);
        assert_eq!(conflict(&ipv4, vip, OURS), None);
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80), ip in any::<u32>()) {
            let _ = conflict(&bytes, Ipv4Addr::from(ip), OURS);
        }
    }
}
