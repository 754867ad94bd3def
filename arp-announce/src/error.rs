//! The one error type of the crate.

use std::io;
use std::net::IpAddr;

use crate::frame::FrameKind;

/// Why an announcement could not be made. Every variant names the interface or address.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No interface of that name in this network namespace.
    #[error("no interface named {ifname:?} in this network namespace")]
    NoSuchInterface {
        /// The name asked for.
        ifname: String,
    },
    /// The interface exists but is administratively down.
    #[error("interface {ifname} is down (`ip link set {ifname} up`)")]
    InterfaceDown {
        /// The interface.
        ifname: String,
    },
    /// The interface has no Ethernet address (loopback, tunnels, point-to-point links).
    #[error(
        "interface {ifname} has no MAC address: it cannot carry ARP or neighbour advertisements"
    )]
    NoMacAddress {
        /// The interface.
        ifname: String,
    },
    /// The frame kind does not fit the address (ARP for IPv6, a neighbour advertisement for
    /// IPv4, or an IPv4 source for a neighbour advertisement).
    #[error("address family mismatch: {addr} cannot be announced with {kind:?}")]
    AddressFamily {
        /// The kind asked for.
        kind: FrameKind,
        /// The address.
        addr: IpAddr,
    },
    /// Opening a packet socket was refused: it needs `CAP_NET_RAW`.
    #[error(
        "no permission to send raw frames on {ifname}: this needs CAP_NET_RAW (run as root, or `setcap cap_net_raw+ep`)"
    )]
    PermissionDenied {
        /// The interface.
        ifname: String,
        /// The system error.
        #[source]
        source: io::Error,
    },
    /// The packet socket could not be opened for another reason.
    #[error("cannot open a packet socket on {ifname}")]
    OpenSocket {
        /// The interface.
        ifname: String,
        /// The system error.
        #[source]
        source: io::Error,
    },
    /// A frame could not be sent.
    #[error("cannot send on {ifname}")]
    Send {
        /// The interface.
        ifname: String,
        /// The system error.
        #[source]
        source: io::Error,
    },
    /// A MAC address that does not parse.
    #[error("invalid MAC address {text:?}: expected 12 hex digits, optionally separated by `:`")]
    BadMac {
        /// The text given.
        text: String,
    },
}
