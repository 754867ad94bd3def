//! The one error type of the crate.

use std::io;
use std::net::IpAddr;

use crate::kind::FrameKind;

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
    /// No rtnetlink socket (address takeover).
    #[cfg(feature = "takeover")]
    #[error("cannot open an rtnetlink socket: {0}")]
    Rtnetlink(#[source] io::Error),
    /// The interface an address goes on does not exist.
    #[cfg(feature = "takeover")]
    #[error("interface {device} (for {address}) does not exist")]
    NoInterface {
        /// The interface.
        device: String,
        /// The address meant for it.
        address: IpAddr,
    },
    /// The interfaces or addresses could not be listed.
    #[cfg(feature = "takeover")]
    #[error("listing the {what}: {source}")]
    List {
        /// `interfaces` or `addresses`.
        what: &'static str,
        /// The kernel's answer.
        #[source]
        source: Box<rtnetlink::Error>,
    },
    /// The kernel refused to add or remove an address.
    #[cfg(feature = "takeover")]
    #[error("{what} {address}/{prefix} on {device}: {source}")]
    Address {
        /// `adding` or `removing`.
        what: &'static str,
        /// The address.
        address: IpAddr,
        /// Its prefix.
        prefix: u8,
        /// The interface.
        device: String,
        /// The kernel's answer.
        #[source]
        source: Box<rtnetlink::Error>,
    },
    /// Announcing taken-over addresses on an interface failed.
    #[cfg(feature = "takeover")]
    #[error("announcing on {device}: {source}")]
    Announce {
        /// The interface.
        device: String,
        /// Why.
        #[source]
        source: Box<Error>,
    },
    /// Probing for taken-over addresses (RFC 5227) on an interface failed.
    #[cfg(feature = "takeover")]
    #[error("probing on {device}: {source}")]
    Probe {
        /// The interface.
        device: String,
        /// Why.
        #[source]
        source: Box<Error>,
    },
    /// A probe's blocking task died.
    #[cfg(feature = "takeover")]
    #[error("probing: {0}")]
    ProbeTask(#[source] tokio::task::JoinError),
}
