//! Pure frame builders: gratuitous ARP (both forms) and IPv6 unsolicited neighbour
//! advertisements. No sockets here; every function returns the exact bytes to put on the wire.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pnet_base::MacAddr;
use pnet_packet::MutablePacket;
use pnet_packet::arp::{ArpHardwareTypes, ArpOperations, MutableArpPacket};
use pnet_packet::ethernet::{EtherTypes, MutableEthernetPacket};
use pnet_packet::icmpv6::ndp::{MutableNeighborAdvertPacket, NdpOption, NdpOptionTypes};
use pnet_packet::icmpv6::{self, Icmpv6Code, Icmpv6Packet, Icmpv6Types};
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv6::MutableIpv6Packet;

use crate::error::Error;

pub use crate::kind::{ArpForm, FrameKind};

/// The longest frame built here (an unsolicited NA with its link-layer option).
pub const MAX_FRAME_LEN: usize = NA_LEN;

/// Length of an ARP frame without padding (14 Ethernet + 28 ARP).
pub const ARP_LEN: usize = 42;
/// Length of Piranha's padded ARP frame (the Ethernet minimum).
pub const PADDED_ARP_LEN: usize = 60;
/// Length of an unsolicited NA frame (14 Ethernet + 40 IPv6 + 24 NA + 8 option).
pub const NA_LEN: usize = 86;

/// One frame, built without allocating.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    buf: [u8; MAX_FRAME_LEN],
    len: usize,
}

impl Frame {
    /// The bytes to send.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl AsRef<[u8]> for Frame {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Frame(")?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// Builds the frame that announces `addr` from `mac`.
///
/// Fails with [`Error::AddressFamily`] when the kind does not fit the address (ARP for IPv6,
/// a neighbour advertisement for IPv4).
///
/// ```
/// use arp_announce::{ArpForm, FrameKind, MacAddr, build};
/// let mac = MacAddr::new(0x02, 0, 0, 0, 0, 1);
/// let frame = build(FrameKind::Arp(ArpForm::Request), mac, "192.0.2.10".parse()?)?;
/// assert_eq!(frame.as_bytes().len(), 42);
/// assert_eq!(&frame.as_bytes()[..6], &[0xff; 6]); // broadcast
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn build(kind: FrameKind, mac: MacAddr, addr: IpAddr) -> Result<Frame, Error> {
    match (kind, addr) {
        (FrameKind::Arp(form), IpAddr::V4(ip)) => Ok(arp(form, mac, ip)),
        (FrameKind::NeighborAdvert(src), IpAddr::V6(ip)) => {
            Ok(unsolicited_na(mac, src.unwrap_or(ip), ip))
        }
        (kind, addr) => Err(Error::AddressFamily { kind, addr }),
    }
}

/// A gratuitous ARP for `ip` from `mac`, broadcast.
pub fn arp(form: ArpForm, mac: MacAddr, ip: Ipv4Addr) -> Frame {
    match form {
        ArpForm::Request => arp_frame(
            MacAddr::broadcast(),
            mac,
            ArpOperations::Request,
            ip,
            MacAddr::zero(),
            ARP_LEN,
        ),
        ArpForm::Reply => arp_frame(
            MacAddr::broadcast(),
            mac,
            ArpOperations::Reply,
            ip,
            mac,
            PADDED_ARP_LEN,
        ),
    }
}

/// Exactly what Piranha's `send_arp src_ip src_hw targ_ip targ_hw` puts on the wire: an ARP
/// reply to Ethernet destination `targ_hw`, with sender IP = target IP = `src_ip` and sender
/// MAC = target MAC = `src_hw`, padded to 60 bytes (`targ_ip` is ignored by `send_arp`, so it
/// is not an argument here).
pub fn piranha_send_arp(src_ip: Ipv4Addr, src_hw: MacAddr, targ_hw: MacAddr) -> Frame {
    arp_frame(
        targ_hw,
        src_hw,
        ArpOperations::Reply,
        src_ip,
        src_hw,
        PADDED_ARP_LEN,
    )
}

/// An RFC 5227 ARP probe for `target` from `mac`: a broadcast request with sender IP 0.0.0.0
/// (so that nobody learns anything from it) and an empty target MAC. A host holding `target`
/// answers it; see [`crate::conflict`].
pub fn arp_probe(mac: MacAddr, target: Ipv4Addr) -> Frame {
    arp_frame_between(
        MacAddr::broadcast(),
        mac,
        ArpOperations::Request,
        (Ipv4Addr::UNSPECIFIED, target),
        MacAddr::zero(),
        ARP_LEN,
    )
}

fn arp_frame(
    eth_dst: MacAddr,
    mac: MacAddr,
    op: pnet_packet::arp::ArpOperation,
    ip: Ipv4Addr,
    target_mac: MacAddr,
    len: usize,
) -> Frame {
    arp_frame_between(eth_dst, mac, op, (ip, ip), target_mac, len)
}

/// An ARP frame from `mac` with sender and target protocol addresses `ips`.
fn arp_frame_between(
    eth_dst: MacAddr,
    mac: MacAddr,
    op: pnet_packet::arp::ArpOperation,
    (sender_ip, target_ip): (Ipv4Addr, Ipv4Addr),
    target_mac: MacAddr,
    len: usize,
) -> Frame {
    let mut frame = Frame {
        buf: [0; MAX_FRAME_LEN],
        len,
    };
    if let Some(mut eth) = MutableEthernetPacket::new(&mut frame.buf[..len]) {
        eth.set_destination(eth_dst);
        eth.set_source(mac);
        eth.set_ethertype(EtherTypes::Arp);
        if let Some(mut a) = MutableArpPacket::new(eth.payload_mut()) {
            a.set_hardware_type(ArpHardwareTypes::Ethernet);
            a.set_protocol_type(EtherTypes::Ipv4);
            a.set_hw_addr_len(6);
            a.set_proto_addr_len(4);
            a.set_operation(op);
            a.set_sender_hw_addr(mac);
            a.set_sender_proto_addr(sender_ip);
            a.set_target_hw_addr(target_mac);
            a.set_target_proto_addr(target_ip);
        }
    }
    frame
}

/// The all-nodes multicast group, where unsolicited advertisements go.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// An RFC 4861 §7.2.6 unsolicited neighbour advertisement for `target` from `mac`: to
/// `ff02::1` (`33:33:00:00:00:01`), hop limit 255, Override set, Solicited and Router clear,
/// with a target link-layer address option, from IPv6 source `src`.
pub fn unsolicited_na(mac: MacAddr, src: Ipv6Addr, target: Ipv6Addr) -> Frame {
    let mut frame = Frame {
        buf: [0; MAX_FRAME_LEN],
        len: NA_LEN,
    };
    let buf = &mut frame.buf[..NA_LEN];
    if let Some(mut eth) = MutableEthernetPacket::new(&mut buf[..]) {
        eth.set_destination(MacAddr::new(0x33, 0x33, 0, 0, 0, 1));
        eth.set_source(mac);
        eth.set_ethertype(EtherTypes::Ipv6);
    }
    if let Some(mut ip) = MutableIpv6Packet::new(&mut buf[14..]) {
        ip.set_version(6);
        ip.set_payload_length((NA_LEN - 54) as u16);
        ip.set_next_header(IpNextHeaderProtocols::Icmpv6);
        ip.set_hop_limit(255);
        ip.set_source(src);
        ip.set_destination(ALL_NODES);
    }
    if let Some(mut na) = MutableNeighborAdvertPacket::new(&mut buf[54..]) {
        na.set_icmpv6_type(Icmpv6Types::NeighborAdvert);
        na.set_icmpv6_code(Icmpv6Code(0));
        na.set_flags(NA_OVERRIDE);
        na.set_target_addr(target);
        na.set_options(&[NdpOption {
            option_type: NdpOptionTypes::TargetLLAddr,
            length: 1,
            data: mac.octets().to_vec(),
        }]);
    }
    let checksum = Icmpv6Packet::new(&buf[54..])
        .map(|p| icmpv6::checksum(&p, &src, &ALL_NODES))
        .unwrap_or(0);
    buf[56..58].copy_from_slice(&checksum.to_be_bytes());
    frame
}

/// The Override flag of a neighbour advertisement (the high bit of its flags byte after
/// pnet's shift: R=0x80, S=0x40, O=0x20).
const NA_OVERRIDE: u8 = 0x20;

#[cfg(test)]
mod tests {
    use super::*;
    use pnet_packet::Packet;
    use pnet_packet::arp::ArpPacket;
    use pnet_packet::ethernet::EthernetPacket;
    use pnet_packet::icmpv6::ndp::NeighborAdvertPacket;
    use pnet_packet::ipv6::Ipv6Packet;
    use proptest::prelude::*;

    const MAC: MacAddr = MacAddr(0x02, 0x00, 0x5e, 0x10, 0x20, 0x30);

    #[test]
    fn request_form_bytes() {
        let f = arp(ArpForm::Request, MAC, Ipv4Addr::new(192, 168, 1, 250));
        #[rustfmt::skip]
        let expected: [u8; 42] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // broadcast
            0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, // own MAC
            0x08, 0x06,                         // ARP
            0x00, 0x01, 0x08, 0x00, 6, 4,       // Ethernet, IPv4, lengths
            0x00, 0x01,                         // request
            0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, 192, 168, 1, 250, // sender
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 192, 168, 1, 250, // target
        ];
        assert_eq!(f.as_bytes(), &expected);
    }

    #[test]
    fn reply_form_is_piranhas_frame() {
        let f = arp(ArpForm::Reply, MAC, Ipv4Addr::new(192, 168, 1, 250));
        #[rustfmt::skip]
        let mut expected = vec![
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0x02, 0x00, 0x5e, 0x10, 0x20, 0x30,
            0x08, 0x06,
            0x00, 0x01, 0x08, 0x00, 6, 4,
            0x00, 0x02,                         // reply
            0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, 192, 168, 1, 250,
            0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, 192, 168, 1, 250, // target MAC = own MAC
        ];
        expected.extend_from_slice(&[0; 18]);
        assert_eq!(f.as_bytes(), &expected[..]);
        assert_eq!(
            piranha_send_arp(Ipv4Addr::new(192, 168, 1, 250), MAC, MacAddr::broadcast()),
            f
        );
    }

    #[test]
    fn unsolicited_na_bytes() {
        let target: Ipv6Addr = "2001:db8::250".parse().expect("v6");
        let f = unsolicited_na(MAC, target, target);
        #[rustfmt::skip]
        let expected: [u8; 86] = [
            0x33, 0x33, 0x00, 0x00, 0x00, 0x01,
            0x02, 0x00, 0x5e, 0x10, 0x20, 0x30,
            0x86, 0xdd,
            0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 58, 255, // v6, payload 32, ICMPv6, hop limit 255
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x50, // source
            0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,          // ff02::1
            136, 0, 0x76, 0x4d,                  // NA, code 0, checksum (computed by hand)
            0x20, 0, 0, 0,                       // O flag
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x50, // target
            2, 1, 0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, // target link-layer address option
        ];
        assert_eq!(f.as_bytes(), &expected);
    }

    #[test]
    fn family_mismatch_is_an_error() {
        let v6: IpAddr = "2001:db8::1".parse().expect("v6");
        let v4: IpAddr = "192.0.2.1".parse().expect("v4");
        assert!(matches!(
            build(FrameKind::Arp(ArpForm::Request), MAC, v6),
            Err(Error::AddressFamily { .. })
        ));
        assert!(matches!(
            build(FrameKind::NeighborAdvert(None), MAC, v4),
            Err(Error::AddressFamily { .. })
        ));
    }

    fn mac() -> impl Strategy<Value = MacAddr> {
        any::<[u8; 6]>().prop_map(|b| MacAddr::new(b[0], b[1], b[2], b[3], b[4], b[5]))
    }

    proptest! {
        #[test]
        fn arp_frames_decode_to_what_was_asked(mac in mac(), ip in any::<u32>(), reply in any::<bool>()) {
            let ip = Ipv4Addr::from(ip);
            let form = if reply { ArpForm::Reply } else { ArpForm::Request };
            let f = arp(form, mac, ip);
            let eth = EthernetPacket::new(f.as_bytes()).expect("ethernet");
            prop_assert_eq!(eth.get_destination(), MacAddr::broadcast());
            prop_assert_eq!(eth.get_source(), mac);
            prop_assert_eq!(eth.get_ethertype(), EtherTypes::Arp);
            let a = ArpPacket::new(eth.payload()).expect("arp");
            prop_assert_eq!(a.get_sender_hw_addr(), mac);
            prop_assert_eq!(a.get_sender_proto_addr(), ip);
            prop_assert_eq!(a.get_target_proto_addr(), ip);
            if reply {
                prop_assert_eq!(a.get_operation(), ArpOperations::Reply);
                prop_assert_eq!(a.get_target_hw_addr(), mac);
                prop_assert_eq!(f.as_bytes().len(), PADDED_ARP_LEN);
            } else {
                prop_assert_eq!(a.get_operation(), ArpOperations::Request);
                prop_assert_eq!(a.get_target_hw_addr(), MacAddr::zero());
                prop_assert_eq!(f.as_bytes().len(), ARP_LEN);
            }
        }

        #[test]
        fn na_frames_decode_and_checksum(mac in mac(), src in any::<u128>(), target in any::<u128>()) {
            let (src, target) = (Ipv6Addr::from(src), Ipv6Addr::from(target));
            let f = unsolicited_na(mac, src, target);
            let eth = EthernetPacket::new(f.as_bytes()).expect("ethernet");
            prop_assert_eq!(eth.get_ethertype(), EtherTypes::Ipv6);
            let ip = Ipv6Packet::new(eth.payload()).expect("ipv6");
            prop_assert_eq!(ip.get_hop_limit(), 255);
            prop_assert_eq!(ip.get_source(), src);
            prop_assert_eq!(ip.get_destination(), ALL_NODES);
            let icmp = Icmpv6Packet::new(ip.payload()).expect("icmpv6");
            prop_assert_eq!(icmp.get_checksum(), icmpv6::checksum(&icmp, &src, &ALL_NODES));
            let na = NeighborAdvertPacket::new(ip.payload()).expect("na");
            prop_assert_eq!(na.get_target_addr(), target);
            prop_assert_eq!(na.get_flags(), NA_OVERRIDE);
            let opts = na.get_options();
            prop_assert_eq!(opts.len(), 1);
            prop_assert_eq!(&opts[0].data[..], &mac.octets()[..]);
        }
    }
}
