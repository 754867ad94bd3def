//! The numbers of the IPVS wire format besides attribute types: family, address families,
//! protocols, service flags, forwarding methods, tunnel types and daemon states.

/// Generic-netlink family name of IPVS.
pub const FAMILY_NAME: &str = "IPVS";
/// Generic-netlink family version of IPVS.
pub const FAMILY_VERSION: u8 = 1;

/// Address family numbers used on the wire.
pub mod af {
    /// `AF_INET`.
    pub const INET: u16 = 2;
    /// `AF_INET6`.
    pub const INET6: u16 = 10;
}

/// IP protocol numbers used on the wire.
pub mod proto {
    /// `IPPROTO_TCP`.
    pub const TCP: u16 = 6;
    /// `IPPROTO_UDP`.
    pub const UDP: u16 = 17;
    /// `IPPROTO_SCTP`.
    pub const SCTP: u16 = 132;
}

/// Service flags (`IP_VS_SVC_F_*`).
pub mod svc_flags {
    /// Persistent service.
    pub const PERSISTENT: u32 = 0x0001;
    /// Kernel-internal: the service is hashed. Always set in replies, ignored on input.
    pub const HASHED: u32 = 0x0002;
    /// One-packet scheduling.
    pub const ONEPACKET: u32 = 0x0004;
    /// Scheduler flag 1 (sh/mh: fallback).
    pub const SCHED1: u32 = 0x0008;
    /// Scheduler flag 2 (sh/mh: port).
    pub const SCHED2: u32 = 0x0010;
    /// Scheduler flag 3.
    pub const SCHED3: u32 = 0x0020;
    /// Every flag a user may set.
    pub const USER_MASK: u32 = PERSISTENT | ONEPACKET | SCHED1 | SCHED2 | SCHED3;
}

/// Forwarding methods (`IP_VS_CONN_F_*` & `IP_VS_CONN_F_FWD_MASK`).
pub mod fwd {
    /// Mask of the forwarding method bits.
    pub const MASK: u32 = 0x0007;
    /// NAT (masquerading).
    pub const MASQ: u32 = 0;
    /// Local node.
    pub const LOCALNODE: u32 = 1;
    /// Tunnel.
    pub const TUNNEL: u32 = 2;
    /// Direct routing (gatewaying).
    pub const DROUTE: u32 = 3;
    /// Bypass.
    pub const BYPASS: u32 = 4;
}

/// Tunnel types and encapsulation flags.
pub mod tun {
    /// IP-in-IP.
    pub const TYPE_IPIP: u8 = 0;
    /// Generic UDP encapsulation.
    pub const TYPE_GUE: u8 = 1;
    /// GRE.
    pub const TYPE_GRE: u8 = 2;
    /// Checksum flag.
    pub const FLAG_CSUM: u16 = 1;
    /// Remote checksum offload flag.
    pub const FLAG_REMCSUM: u16 = 2;
}

/// Sync daemon states.
pub mod daemon_state {
    /// Master.
    pub const MASTER: u32 = 1;
    /// Backup.
    pub const BACKUP: u32 = 2;
}
