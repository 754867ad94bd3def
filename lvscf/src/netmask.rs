//! What lvs.cf's netmasks and `ADDRESS DEVICE[:LABEL]` values mean for the addresses a router
//! takes over.

use std::net::Ipv4Addr;

use crate::model::AddressOnDevice;

/// The prefix length of a contiguous netmask (`255.255.255.0` → 24), `None` for one that is
/// not contiguous.
///
/// ```
/// use std::net::Ipv4Addr;
/// assert_eq!(lvscf::prefix_len(Ipv4Addr::new(255, 255, 0, 0)), Some(16));
/// assert_eq!(lvscf::prefix_len(Ipv4Addr::new(255, 0, 255, 0)), None);
/// ```
pub fn prefix_len(mask: Ipv4Addr) -> Option<u8> {
    let bits = u32::from(mask);
    let ones = bits.leading_ones();
    (bits.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
}

/// The prefix a taken-over address gets from its mask (`vip_nmask`, `nat_nmask`). A mask of 0
/// (unset) made Piranha run a bare `ifconfig DEV IP up`, which picks the classful mask and adds
/// its route; a /32 adds the address and nothing else, so 0 (or a mask that is not one) is 32.
///
/// ```
/// use std::net::Ipv4Addr;
/// assert_eq!(lvscf::takeover_prefix(Ipv4Addr::new(255, 255, 255, 0)), 24);
/// assert_eq!(lvscf::takeover_prefix(Ipv4Addr::UNSPECIFIED), 32);
/// ```
pub fn takeover_prefix(mask: Ipv4Addr) -> u8 {
    prefix_len(mask).filter(|p| *p > 0).unwrap_or(32)
}

impl AddressOnDevice {
    /// The interface: `eth0` for `eth0:1`.
    pub fn interface(&self) -> &str {
        self.device
            .split_once(':')
            .map_or(self.device.as_str(), |(dev, _)| dev)
    }

    /// The address label, when the device is an alias (`eth0:1`).
    pub fn label(&self) -> Option<&str> {
        self.device.contains(':').then_some(self.device.as_str())
    }
}
