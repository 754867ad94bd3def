//! Finding the interface to announce on, with its MAC address.

use pnet_base::MacAddr;
use pnet_datalink::NetworkInterface;

use crate::error::Error;

/// `IFF_NOARP` from `<net/if.h>`.
const IFF_NOARP: u32 = 0x80;

/// Whether `name` is a loopback interface (`lo`) in the calling thread's network namespace: an
/// address there (a VIP that a router sends to this host, a direct-routing real server's VIP)
/// has no neighbour to tell.
pub(crate) fn is_loopback(name: &str) -> bool {
    pnet_datalink::interfaces()
        .iter()
        .any(|i| i.name == name && i.is_loopback())
}

/// An interface that can carry announcements: it exists, it is up and it has a MAC address.
#[derive(Debug, Clone)]
pub struct Interface {
    inner: NetworkInterface,
    mac: MacAddr,
}

impl Interface {
    /// Looks the interface up by name in the calling thread's network namespace.
    ///
    /// ```no_run
    /// let eth0 = arp_announce::Interface::by_name("eth0")?;
    /// println!("{} is {}", eth0.name(), eth0.mac());
    /// # Ok::<(), arp_announce::Error>(())
    /// ```
    pub fn by_name(name: &str) -> Result<Interface, Error> {
        let inner = pnet_datalink::interfaces()
            .into_iter()
            .find(|i| i.name == name)
            .ok_or_else(|| Error::NoSuchInterface {
                ifname: name.to_owned(),
            })?;
        if !inner.is_up() {
            return Err(Error::InterfaceDown {
                ifname: name.to_owned(),
            });
        }
        // Tunnels report their local IP address as a "hardware address"; what tells them
        // apart is that they are point-to-point or NOARP links.
        let link_layer =
            !inner.is_loopback() && !inner.is_point_to_point() && inner.flags & IFF_NOARP == 0;
        let mac = match inner.mac {
            Some(mac) if mac != MacAddr::zero() && link_layer => mac,
            _ => {
                return Err(Error::NoMacAddress {
                    ifname: name.to_owned(),
                });
            }
        };
        Ok(Interface { inner, mac })
    }

    /// The interface's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The interface's index.
    pub fn index(&self) -> u32 {
        self.inner.index
    }

    /// The interface's own MAC address.
    pub fn mac(&self) -> MacAddr {
        self.mac
    }

    pub(crate) fn raw(&self) -> &NetworkInterface {
        &self.inner
    }
}

/// Parses a MAC address as Piranha's `send_arp` does: 12 hex digits, case-insensitive, each
/// byte optionally followed by `:` (`00:11:22:aa:bb:cc`, `001122AABBCC`).
///
/// ```
/// use arp_announce::{MacAddr, parse_mac};
/// assert_eq!(parse_mac("00:11:22:aa:BB:cc")?, MacAddr::new(0, 0x11, 0x22, 0xaa, 0xbb, 0xcc));
/// assert_eq!(parse_mac("ffffffffffff")?, MacAddr::broadcast());
/// # Ok::<(), arp_announce::Error>(())
/// ```
pub fn parse_mac(text: &str) -> Result<MacAddr, Error> {
    let bad = || Error::BadMac {
        text: text.to_owned(),
    };
    let mut bytes = [0u8; 6];
    let mut rest = text.as_bytes();
    for (i, byte) in bytes.iter_mut().enumerate() {
        let (pair, tail) = rest.split_at_checked(2).ok_or_else(bad)?;
        let s = std::str::from_utf8(pair).map_err(|_| bad())?;
        if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        *byte = u8::from_str_radix(s, 16).map_err(|_| bad())?;
        rest = tail;
        if i < 5
            && let Some(t) = rest.strip_prefix(b":")
        {
            rest = t;
        }
    }
    if !rest.is_empty() {
        return Err(bad());
    }
    Ok(MacAddr::new(
        bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piranha_mac_syntax() {
        let m = MacAddr::new(0, 0x11, 0x22, 0xaa, 0xbb, 0xcc);
        assert_eq!(parse_mac("001122aabbcc").ok(), Some(m));
        assert_eq!(parse_mac("00:11:22:AA:bb:cc").ok(), Some(m));
        assert_eq!(parse_mac("00:1122:aa:bbcc").ok(), Some(m));
        for bad in [
            "",
            "0011",
            "00:11:22:aa:bb",
            "00:11:22:aa:bb:cc:",
            "00:11:22:aa:bb:cg",
            "+01122aabbcc",
            "00-11-22-aa-bb-cc",
        ] {
            assert!(parse_mac(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn missing_interface() {
        assert!(matches!(
            Interface::by_name("no-such-if0"),
            Err(Error::NoSuchInterface { ifname }) if ifname == "no-such-if0"
        ));
    }
}
