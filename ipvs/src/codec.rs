//! Sans-IO codec: IPVS generic-netlink messages ⇄ bytes.
//!
//! This layer knows the wire format of family `IPVS` version 1 (every command and every attribute of
//! services, destinations, daemons, stats and info) and nothing about sockets. It is built on
//! [`netlink_packet_core`]'s [`Nla`] / [`Parseable`] traits and [`netlink_packet_generic`]'s
//! [`GenlMessage`], so [`IpvsMessage`] can be carried by any rust-netlink transport.
//!
//! Attribute values are kept close to the wire: addresses are raw bytes (their meaning depends on the
//! address family, which the [`crate::model`] layer applies), ports are decoded from network order,
//! and unknown attributes are kept as [`DefaultNla`] so newer kernels never break decoding. Decoding
//! never panics: malformed input gives a [`DecodeError`].
//!
//! ```
//! use ipvs::codec::{self, CmdAttr, Command, IpvsMessage};
//! let msg = IpvsMessage::new(Command::SetConfig, vec![CmdAttr::TimeoutTcp(900)]);
//! let bytes = codec::encode_request(&msg, 0x1c, netlink_packet_core::NLM_F_ACK, 7);
//! let back = codec::decode_message(&bytes).expect("decodes");
//! assert_eq!(codec::inner(&back), Some(&msg));
//! ```

use netlink_packet_core::{
    DecodeError, DefaultNla, Emitable, ErrorContext, NLA_F_NESTED, NLM_F_REQUEST, NetlinkHeader,
    NetlinkMessage, NetlinkPayload, Nla, NlaBuffer, NlasIterator, Parseable, ParseableParametrized,
};
use netlink_packet_generic::{GenlFamily, GenlHeader, GenlMessage};

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

/// An IPVS generic-netlink command (`IPVS_CMD_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Command {
    /// 1: add a service; also the reply to GET_SERVICE.
    NewService,
    /// 2: edit a service.
    SetService,
    /// 3: delete a service.
    DelService,
    /// 4: get one service (do) or all (dump).
    GetService,
    /// 5: add a destination; also the reply to GET_DEST.
    NewDest,
    /// 6: edit a destination.
    SetDest,
    /// 7: delete a destination.
    DelDest,
    /// 8: dump the destinations of a service.
    GetDest,
    /// 9: start a sync daemon; also the reply to GET_DAEMON.
    NewDaemon,
    /// 10: stop a sync daemon.
    DelDaemon,
    /// 11: dump the sync daemons.
    GetDaemon,
    /// 12: set timeouts; also the reply to GET_CONFIG.
    SetConfig,
    /// 13: get timeouts.
    GetConfig,
    /// 14: reply to GET_INFO.
    SetInfo,
    /// 15: get version and connection table size.
    GetInfo,
    /// 16: zero counters (all, or one service).
    Zero,
    /// 17: delete every service.
    Flush,
    /// Any other command number.
    Other(u8),
}

impl From<u8> for Command {
    fn from(v: u8) -> Self {
        use Command::*;
        match v {
            1 => NewService,
            2 => SetService,
            3 => DelService,
            4 => GetService,
            5 => NewDest,
            6 => SetDest,
            7 => DelDest,
            8 => GetDest,
            9 => NewDaemon,
            10 => DelDaemon,
            11 => GetDaemon,
            12 => SetConfig,
            13 => GetConfig,
            14 => SetInfo,
            15 => GetInfo,
            16 => Zero,
            17 => Flush,
            o => Other(o),
        }
    }
}

impl From<Command> for u8 {
    fn from(c: Command) -> u8 {
        use Command::*;
        match c {
            NewService => 1,
            SetService => 2,
            DelService => 3,
            GetService => 4,
            NewDest => 5,
            SetDest => 6,
            DelDest => 7,
            GetDest => 8,
            NewDaemon => 9,
            DelDaemon => 10,
            GetDaemon => 11,
            SetConfig => 12,
            GetConfig => 13,
            SetInfo => 14,
            GetInfo => 15,
            Zero => 16,
            Flush => 17,
            Other(o) => o,
        }
    }
}

impl Command {
    /// Whether the kernel implements this command as a dump (`NLM_F_DUMP` required).
    pub fn is_dump(self) -> bool {
        matches!(self, Command::GetDest | Command::GetDaemon)
    }
}

// ---------------------------------------------------------------------------------------------
// small helpers (never panic)

fn put(buf: &mut [u8], bytes: &[u8]) {
    let n = bytes.len().min(buf.len());
    buf[..n].copy_from_slice(&bytes[..n]);
}

fn fixed<const N: usize>(v: &[u8], what: &str) -> Result<[u8; N], DecodeError> {
    v.get(..N)
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .ok_or_else(|| DecodeError::from(format!("{what}: need {N} bytes, got {}", v.len())))
}

fn u8_of(v: &[u8], what: &str) -> Result<u8, DecodeError> {
    Ok(fixed::<1>(v, what)?[0])
}
fn u16_of(v: &[u8], what: &str) -> Result<u16, DecodeError> {
    Ok(u16::from_ne_bytes(fixed(v, what)?))
}
fn u16_be_of(v: &[u8], what: &str) -> Result<u16, DecodeError> {
    Ok(u16::from_be_bytes(fixed(v, what)?))
}
fn u32_of(v: &[u8], what: &str) -> Result<u32, DecodeError> {
    Ok(u32::from_ne_bytes(fixed(v, what)?))
}
fn string_of(v: &[u8]) -> String {
    let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
    String::from_utf8_lossy(&v[..end]).into_owned()
}

fn parse_nested<T, F>(value: &[u8], what: &'static str, f: F) -> Result<Vec<T>, DecodeError>
where
    F: Fn(&NlaBuffer<&[u8]>) -> Result<T, DecodeError>,
{
    NlasIterator::new(value)
        .map(|nla| nla.and_then(|b| f(&b)))
        .collect::<Result<Vec<_>, _>>()
        .context(what)
}

fn other(buf: &NlaBuffer<&[u8]>) -> Result<DefaultNla, DecodeError> {
    DefaultNla::parse(buf)
}

// ---------------------------------------------------------------------------------------------
// stats

/// Stats attribute ids (`IPVS_STATS_ATTR_*`).
pub mod stats_attr {
    /// Connections.
    pub const CONNS: u16 = 1;
    /// Incoming packets.
    pub const INPKTS: u16 = 2;
    /// Outgoing packets.
    pub const OUTPKTS: u16 = 3;
    /// Incoming bytes.
    pub const INBYTES: u16 = 4;
    /// Outgoing bytes.
    pub const OUTBYTES: u16 = 5;
    /// Connections per second.
    pub const CPS: u16 = 6;
    /// Incoming packets per second.
    pub const INPPS: u16 = 7;
    /// Outgoing packets per second.
    pub const OUTPPS: u16 = 8;
    /// Incoming bytes per second.
    pub const INBPS: u16 = 9;
    /// Outgoing bytes per second.
    pub const OUTBPS: u16 = 10;
    /// Alignment padding.
    pub const PAD: u16 = 11;
}

/// One counter inside a `STATS` / `STATS64` nest. The width is kept so encoding reproduces the
/// kernel's layout (legacy `STATS` mixes 32- and 64-bit values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatsAttr {
    /// A 32-bit counter (`kind` is one of [`stats_attr`]).
    U32(u16, u32),
    /// A 64-bit counter.
    U64(u16, u64),
    /// Padding or an unknown attribute.
    Other(DefaultNla),
}

impl Nla for StatsAttr {
    fn value_len(&self) -> usize {
        match self {
            StatsAttr::U32(..) => 4,
            StatsAttr::U64(..) => 8,
            StatsAttr::Other(o) => o.value_len(),
        }
    }
    fn kind(&self) -> u16 {
        match self {
            StatsAttr::U32(k, _) | StatsAttr::U64(k, _) => *k,
            StatsAttr::Other(o) => o.kind(),
        }
    }
    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            StatsAttr::U32(_, v) => put(buffer, &v.to_ne_bytes()),
            StatsAttr::U64(_, v) => put(buffer, &v.to_ne_bytes()),
            StatsAttr::Other(o) => o.emit_value(buffer),
        }
    }
}

impl StatsAttr {
    fn parse(buf: &NlaBuffer<&[u8]>) -> Result<Self, DecodeError> {
        let v = buf.value();
        let k = buf.kind();
        Ok(match (k, v.len()) {
            (1..=10, 4) => StatsAttr::U32(k, u32_of(v, "stats")?),
            (1..=10, 8) => StatsAttr::U64(k, u64::from_ne_bytes(fixed(v, "stats")?)),
            _ => StatsAttr::Other(other(buf)?),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// service

/// Service attribute ids (`IPVS_SVC_ATTR_*`).
pub mod svc_attr {
    /// Address family.
    pub const AF: u16 = 1;
    /// Protocol.
    pub const PROTOCOL: u16 = 2;
    /// Virtual address.
    pub const ADDR: u16 = 3;
    /// Virtual port (big-endian).
    pub const PORT: u16 = 4;
    /// Firewall mark.
    pub const FWMARK: u16 = 5;
    /// Scheduler name.
    pub const SCHED_NAME: u16 = 6;
    /// Flags and mask.
    pub const FLAGS: u16 = 7;
    /// Persistence timeout.
    pub const TIMEOUT: u16 = 8;
    /// Persistence netmask.
    pub const NETMASK: u16 = 9;
    /// Legacy stats.
    pub const STATS: u16 = 10;
    /// Persistence engine name.
    pub const PE_NAME: u16 = 11;
    /// 64-bit stats.
    pub const STATS64: u16 = 12;
}

/// A service attribute (inside `IPVS_CMD_ATTR_SERVICE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SvcAttr {
    /// `AF`, host-order u16.
    AddressFamily(u16),
    /// `PROTOCOL`, host-order u16.
    Protocol(u16),
    /// `ADDR`, raw bytes (4 or 16; the kernel always sends 16).
    Address(Vec<u8>),
    /// `PORT`, decoded from network order.
    Port(u16),
    /// `FWMARK`.
    Fwmark(u32),
    /// `SCHED_NAME` (NUL-terminated on the wire).
    SchedName(String),
    /// `FLAGS`: `struct ip_vs_flags`.
    Flags {
        /// Flag values.
        flags: u32,
        /// Which flags to change.
        mask: u32,
    },
    /// `TIMEOUT` in seconds.
    Timeout(u32),
    /// `NETMASK`, the raw 4 bytes: IPv4 mask in network order, IPv6 prefix length as host u32.
    Netmask([u8; 4]),
    /// `STATS` (legacy widths).
    Stats(Vec<StatsAttr>),
    /// `PE_NAME`.
    PeName(String),
    /// `STATS64`.
    Stats64(Vec<StatsAttr>),
    /// Anything else.
    Other(DefaultNla),
}

impl Nla for SvcAttr {
    fn value_len(&self) -> usize {
        use SvcAttr::*;
        match self {
            AddressFamily(_) | Protocol(_) | Port(_) => 2,
            Address(a) => a.len(),
            Fwmark(_) | Timeout(_) | Netmask(_) => 4,
            SchedName(s) | PeName(s) => s.len() + 1,
            Flags { .. } => 8,
            Stats(s) | Stats64(s) => s.as_slice().buffer_len(),
            Other(o) => o.value_len(),
        }
    }
    fn kind(&self) -> u16 {
        use SvcAttr::*;
        match self {
            AddressFamily(_) => svc_attr::AF,
            Protocol(_) => svc_attr::PROTOCOL,
            Address(_) => svc_attr::ADDR,
            Port(_) => svc_attr::PORT,
            Fwmark(_) => svc_attr::FWMARK,
            SchedName(_) => svc_attr::SCHED_NAME,
            Flags { .. } => svc_attr::FLAGS,
            Timeout(_) => svc_attr::TIMEOUT,
            Netmask(_) => svc_attr::NETMASK,
            Stats(_) => svc_attr::STATS | NLA_F_NESTED,
            PeName(_) => svc_attr::PE_NAME,
            Stats64(_) => svc_attr::STATS64 | NLA_F_NESTED,
            Other(o) => o.kind(),
        }
    }
    fn emit_value(&self, buffer: &mut [u8]) {
        use SvcAttr::*;
        match self {
            AddressFamily(v) | Protocol(v) => put(buffer, &v.to_ne_bytes()),
            Port(v) => put(buffer, &v.to_be_bytes()),
            Address(a) => put(buffer, a),
            Fwmark(v) | Timeout(v) => put(buffer, &v.to_ne_bytes()),
            Netmask(b) => put(buffer, b),
            SchedName(s) | PeName(s) => {
                put(buffer, s.as_bytes());
                if let Some(b) = buffer.get_mut(s.len()) {
                    *b = 0;
                }
            }
            Flags { flags, mask } => {
                put(buffer, &flags.to_ne_bytes());
                if let Some(b) = buffer.get_mut(4..) {
                    put(b, &mask.to_ne_bytes());
                }
            }
            Stats(s) | Stats64(s) => s.as_slice().emit(buffer),
            Other(o) => o.emit_value(buffer),
        }
    }
}

impl SvcAttr {
    fn parse(buf: &NlaBuffer<&[u8]>) -> Result<Self, DecodeError> {
        use SvcAttr::*;
        let v = buf.value();
        Ok(match buf.kind() {
            svc_attr::AF => AddressFamily(u16_of(v, "svc af")?),
            svc_attr::PROTOCOL => Protocol(u16_of(v, "svc protocol")?),
            svc_attr::ADDR => Address(v.to_vec()),
            svc_attr::PORT => Port(u16_be_of(v, "svc port")?),
            svc_attr::FWMARK => Fwmark(u32_of(v, "svc fwmark")?),
            svc_attr::SCHED_NAME => SchedName(string_of(v)),
            svc_attr::FLAGS => {
                let b: [u8; 8] = fixed(v, "svc flags")?;
                Flags {
                    flags: u32_of(&b[..4], "svc flags")?,
                    mask: u32_of(&b[4..], "svc flags")?,
                }
            }
            svc_attr::TIMEOUT => Timeout(u32_of(v, "svc timeout")?),
            svc_attr::NETMASK => Netmask(fixed(v, "svc netmask")?),
            svc_attr::STATS => Stats(parse_nested(v, "svc stats", StatsAttr::parse)?),
            svc_attr::PE_NAME => PeName(string_of(v)),
            svc_attr::STATS64 => Stats64(parse_nested(v, "svc stats64", StatsAttr::parse)?),
            _ => Other(other(buf)?),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// destination

/// Destination attribute ids (`IPVS_DEST_ATTR_*`).
pub mod dest_attr {
    /// Real server address.
    pub const ADDR: u16 = 1;
    /// Real server port (big-endian).
    pub const PORT: u16 = 2;
    /// Forwarding method.
    pub const FWD_METHOD: u16 = 3;
    /// Weight.
    pub const WEIGHT: u16 = 4;
    /// Upper threshold.
    pub const U_THRESH: u16 = 5;
    /// Lower threshold.
    pub const L_THRESH: u16 = 6;
    /// Active connections.
    pub const ACTIVE_CONNS: u16 = 7;
    /// Inactive connections.
    pub const INACT_CONNS: u16 = 8;
    /// Persistent connections.
    pub const PERSIST_CONNS: u16 = 9;
    /// Legacy stats.
    pub const STATS: u16 = 10;
    /// Address family of the real server.
    pub const ADDR_FAMILY: u16 = 11;
    /// 64-bit stats.
    pub const STATS64: u16 = 12;
    /// Tunnel type.
    pub const TUN_TYPE: u16 = 13;
    /// Tunnel port (big-endian).
    pub const TUN_PORT: u16 = 14;
    /// Tunnel flags.
    pub const TUN_FLAGS: u16 = 15;
}

/// A destination attribute (inside `IPVS_CMD_ATTR_DEST`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestAttr {
    /// `ADDR`, raw bytes.
    Address(Vec<u8>),
    /// `PORT`, decoded from network order.
    Port(u16),
    /// `FWD_METHOD`.
    FwdMethod(u32),
    /// `WEIGHT`.
    Weight(u32),
    /// `U_THRESH`.
    UpperThreshold(u32),
    /// `L_THRESH`.
    LowerThreshold(u32),
    /// `ACTIVE_CONNS`.
    ActiveConns(u32),
    /// `INACT_CONNS`.
    InactiveConns(u32),
    /// `PERSIST_CONNS`.
    PersistConns(u32),
    /// `STATS`.
    Stats(Vec<StatsAttr>),
    /// `ADDR_FAMILY`.
    AddressFamily(u16),
    /// `STATS64`.
    Stats64(Vec<StatsAttr>),
    /// `TUN_TYPE`.
    TunType(u8),
    /// `TUN_PORT`, decoded from network order.
    TunPort(u16),
    /// `TUN_FLAGS`.
    TunFlags(u16),
    /// Anything else.
    Other(DefaultNla),
}

impl Nla for DestAttr {
    fn value_len(&self) -> usize {
        use DestAttr::*;
        match self {
            Address(a) => a.len(),
            Port(_) | AddressFamily(_) | TunPort(_) | TunFlags(_) => 2,
            TunType(_) => 1,
            FwdMethod(_) | Weight(_) | UpperThreshold(_) | LowerThreshold(_) | ActiveConns(_)
            | InactiveConns(_) | PersistConns(_) => 4,
            Stats(s) | Stats64(s) => s.as_slice().buffer_len(),
            Other(o) => o.value_len(),
        }
    }
    fn kind(&self) -> u16 {
        use DestAttr::*;
        match self {
            Address(_) => dest_attr::ADDR,
            Port(_) => dest_attr::PORT,
            FwdMethod(_) => dest_attr::FWD_METHOD,
            Weight(_) => dest_attr::WEIGHT,
            UpperThreshold(_) => dest_attr::U_THRESH,
            LowerThreshold(_) => dest_attr::L_THRESH,
            ActiveConns(_) => dest_attr::ACTIVE_CONNS,
            InactiveConns(_) => dest_attr::INACT_CONNS,
            PersistConns(_) => dest_attr::PERSIST_CONNS,
            Stats(_) => dest_attr::STATS | NLA_F_NESTED,
            AddressFamily(_) => dest_attr::ADDR_FAMILY,
            Stats64(_) => dest_attr::STATS64 | NLA_F_NESTED,
            TunType(_) => dest_attr::TUN_TYPE,
            TunPort(_) => dest_attr::TUN_PORT,
            TunFlags(_) => dest_attr::TUN_FLAGS,
            Other(o) => o.kind(),
        }
    }
    fn emit_value(&self, buffer: &mut [u8]) {
        use DestAttr::*;
        match self {
            Address(a) => put(buffer, a),
            Port(v) | TunPort(v) => put(buffer, &v.to_be_bytes()),
            AddressFamily(v) | TunFlags(v) => put(buffer, &v.to_ne_bytes()),
            TunType(v) => put(buffer, &[*v]),
            FwdMethod(v) | Weight(v) | UpperThreshold(v) | LowerThreshold(v) | ActiveConns(v)
            | InactiveConns(v) | PersistConns(v) => put(buffer, &v.to_ne_bytes()),
            Stats(s) | Stats64(s) => s.as_slice().emit(buffer),
            Other(o) => o.emit_value(buffer),
        }
    }
}

impl DestAttr {
    fn parse(buf: &NlaBuffer<&[u8]>) -> Result<Self, DecodeError> {
        use DestAttr::*;
        let v = buf.value();
        Ok(match buf.kind() {
            dest_attr::ADDR => Address(v.to_vec()),
            dest_attr::PORT => Port(u16_be_of(v, "dest port")?),
            dest_attr::FWD_METHOD => FwdMethod(u32_of(v, "dest fwd")?),
            dest_attr::WEIGHT => Weight(u32_of(v, "dest weight")?),
            dest_attr::U_THRESH => UpperThreshold(u32_of(v, "dest u_thresh")?),
            dest_attr::L_THRESH => LowerThreshold(u32_of(v, "dest l_thresh")?),
            dest_attr::ACTIVE_CONNS => ActiveConns(u32_of(v, "dest activeconns")?),
            dest_attr::INACT_CONNS => InactiveConns(u32_of(v, "dest inactconns")?),
            dest_attr::PERSIST_CONNS => PersistConns(u32_of(v, "dest persistconns")?),
            dest_attr::STATS => Stats(parse_nested(v, "dest stats", StatsAttr::parse)?),
            dest_attr::ADDR_FAMILY => AddressFamily(u16_of(v, "dest af")?),
            dest_attr::STATS64 => Stats64(parse_nested(v, "dest stats64", StatsAttr::parse)?),
            dest_attr::TUN_TYPE => TunType(u8_of(v, "dest tun_type")?),
            dest_attr::TUN_PORT => TunPort(u16_be_of(v, "dest tun_port")?),
            dest_attr::TUN_FLAGS => TunFlags(u16_of(v, "dest tun_flags")?),
            _ => Other(other(buf)?),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// daemon

/// Daemon attribute ids (`IPVS_DAEMON_ATTR_*`).
pub mod daemon_attr {
    /// Master or backup.
    pub const STATE: u16 = 1;
    /// Multicast interface name.
    pub const MCAST_IFN: u16 = 2;
    /// Sync id.
    pub const SYNC_ID: u16 = 3;
    /// Maximum sync message length.
    pub const SYNC_MAXLEN: u16 = 4;
    /// IPv4 multicast group (big-endian).
    pub const MCAST_GROUP: u16 = 5;
    /// IPv6 multicast group.
    pub const MCAST_GROUP6: u16 = 6;
    /// Multicast port (host order).
    pub const MCAST_PORT: u16 = 7;
    /// Multicast TTL.
    pub const MCAST_TTL: u16 = 8;
}

/// A sync-daemon attribute (inside `IPVS_CMD_ATTR_DAEMON`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaemonAttr {
    /// `STATE`.
    State(u32),
    /// `MCAST_IFN`.
    McastIfn(String),
    /// `SYNC_ID`.
    SyncId(u32),
    /// `SYNC_MAXLEN`.
    SyncMaxLen(u16),
    /// `MCAST_GROUP`: the IPv4 address octets.
    McastGroup([u8; 4]),
    /// `MCAST_GROUP6`: the IPv6 address octets.
    McastGroup6([u8; 16]),
    /// `MCAST_PORT` (host order on the wire).
    McastPort(u16),
    /// `MCAST_TTL`.
    McastTtl(u8),
    /// Anything else.
    Other(DefaultNla),
}

impl Nla for DaemonAttr {
    fn value_len(&self) -> usize {
        use DaemonAttr::*;
        match self {
            State(_) | SyncId(_) | McastGroup(_) => 4,
            McastIfn(s) => s.len() + 1,
            SyncMaxLen(_) | McastPort(_) => 2,
            McastGroup6(_) => 16,
            McastTtl(_) => 1,
            Other(o) => o.value_len(),
        }
    }
    fn kind(&self) -> u16 {
        use DaemonAttr::*;
        match self {
            State(_) => daemon_attr::STATE,
            McastIfn(_) => daemon_attr::MCAST_IFN,
            SyncId(_) => daemon_attr::SYNC_ID,
            SyncMaxLen(_) => daemon_attr::SYNC_MAXLEN,
            McastGroup(_) => daemon_attr::MCAST_GROUP,
            McastGroup6(_) => daemon_attr::MCAST_GROUP6,
            McastPort(_) => daemon_attr::MCAST_PORT,
            McastTtl(_) => daemon_attr::MCAST_TTL,
            Other(o) => o.kind(),
        }
    }
    fn emit_value(&self, buffer: &mut [u8]) {
        use DaemonAttr::*;
        match self {
            State(v) | SyncId(v) => put(buffer, &v.to_ne_bytes()),
            McastIfn(s) => {
                put(buffer, s.as_bytes());
                if let Some(b) = buffer.get_mut(s.len()) {
                    *b = 0;
                }
            }
            SyncMaxLen(v) | McastPort(v) => put(buffer, &v.to_ne_bytes()),
            McastGroup(b) => put(buffer, b),
            McastGroup6(b) => put(buffer, b),
            McastTtl(v) => put(buffer, &[*v]),
            Other(o) => o.emit_value(buffer),
        }
    }
}

impl DaemonAttr {
    fn parse(buf: &NlaBuffer<&[u8]>) -> Result<Self, DecodeError> {
        use DaemonAttr::*;
        let v = buf.value();
        Ok(match buf.kind() {
            daemon_attr::STATE => State(u32_of(v, "daemon state")?),
            daemon_attr::MCAST_IFN => McastIfn(string_of(v)),
            daemon_attr::SYNC_ID => SyncId(u32_of(v, "daemon syncid")?),
            daemon_attr::SYNC_MAXLEN => SyncMaxLen(u16_of(v, "daemon maxlen")?),
            daemon_attr::MCAST_GROUP => McastGroup(fixed(v, "daemon group")?),
            daemon_attr::MCAST_GROUP6 => McastGroup6(fixed(v, "daemon group6")?),
            daemon_attr::MCAST_PORT => McastPort(u16_of(v, "daemon port")?),
            daemon_attr::MCAST_TTL => McastTtl(u8_of(v, "daemon ttl")?),
            _ => Other(other(buf)?),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// top level

/// Top-level attribute ids (`IPVS_CMD_ATTR_*`, and `IPVS_INFO_ATTR_*` in `SET_INFO` replies).
pub mod cmd_attr {
    /// Nested service.
    pub const SERVICE: u16 = 1;
    /// Nested destination.
    pub const DEST: u16 = 2;
    /// Nested daemon.
    pub const DAEMON: u16 = 3;
    /// TCP timeout.
    pub const TIMEOUT_TCP: u16 = 4;
    /// TCP FIN timeout.
    pub const TIMEOUT_TCP_FIN: u16 = 5;
    /// UDP timeout.
    pub const TIMEOUT_UDP: u16 = 6;
    /// `IPVS_INFO_ATTR_VERSION` (only in `SET_INFO`).
    pub const INFO_VERSION: u16 = 1;
    /// `IPVS_INFO_ATTR_CONN_TAB_SIZE` (only in `SET_INFO`).
    pub const INFO_CONN_TAB_SIZE: u16 = 2;
}

/// A top-level attribute of an IPVS message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdAttr {
    /// `IPVS_CMD_ATTR_SERVICE`.
    Service(Vec<SvcAttr>),
    /// `IPVS_CMD_ATTR_DEST`.
    Dest(Vec<DestAttr>),
    /// `IPVS_CMD_ATTR_DAEMON`.
    Daemon(Vec<DaemonAttr>),
    /// `IPVS_CMD_ATTR_TIMEOUT_TCP`.
    TimeoutTcp(u32),
    /// `IPVS_CMD_ATTR_TIMEOUT_TCP_FIN`.
    TimeoutTcpFin(u32),
    /// `IPVS_CMD_ATTR_TIMEOUT_UDP`.
    TimeoutUdp(u32),
    /// `IPVS_INFO_ATTR_VERSION` (type 1, only in `SET_INFO`).
    InfoVersion(u32),
    /// `IPVS_INFO_ATTR_CONN_TAB_SIZE` (type 2, only in `SET_INFO`).
    InfoConnTabSize(u32),
    /// Anything else.
    Other(DefaultNla),
}

impl Nla for CmdAttr {
    fn value_len(&self) -> usize {
        use CmdAttr::*;
        match self {
            Service(a) => a.as_slice().buffer_len(),
            Dest(a) => a.as_slice().buffer_len(),
            Daemon(a) => a.as_slice().buffer_len(),
            TimeoutTcp(_) | TimeoutTcpFin(_) | TimeoutUdp(_) | InfoVersion(_)
            | InfoConnTabSize(_) => 4,
            Other(o) => o.value_len(),
        }
    }
    fn kind(&self) -> u16 {
        use CmdAttr::*;
        match self {
            Service(_) => cmd_attr::SERVICE | NLA_F_NESTED,
            Dest(_) => cmd_attr::DEST | NLA_F_NESTED,
            Daemon(_) => cmd_attr::DAEMON | NLA_F_NESTED,
            TimeoutTcp(_) => cmd_attr::TIMEOUT_TCP,
            TimeoutTcpFin(_) => cmd_attr::TIMEOUT_TCP_FIN,
            TimeoutUdp(_) => cmd_attr::TIMEOUT_UDP,
            InfoVersion(_) => cmd_attr::INFO_VERSION,
            InfoConnTabSize(_) => cmd_attr::INFO_CONN_TAB_SIZE,
            Other(o) => o.kind(),
        }
    }
    fn emit_value(&self, buffer: &mut [u8]) {
        use CmdAttr::*;
        match self {
            Service(a) => a.as_slice().emit(buffer),
            Dest(a) => a.as_slice().emit(buffer),
            Daemon(a) => a.as_slice().emit(buffer),
            TimeoutTcp(v) | TimeoutTcpFin(v) | TimeoutUdp(v) | InfoVersion(v)
            | InfoConnTabSize(v) => put(buffer, &v.to_ne_bytes()),
            Other(o) => o.emit_value(buffer),
        }
    }
}

impl CmdAttr {
    /// Parses one top-level attribute. `cmd` decides the meaning of types 1 and 2, which are
    /// `SERVICE`/`DEST` everywhere except in `SET_INFO` (the GET_INFO reply).
    pub fn parse_with_cmd(buf: &NlaBuffer<&[u8]>, cmd: Command) -> Result<Self, DecodeError> {
        use CmdAttr::*;
        let v = buf.value();
        if cmd == Command::SetInfo {
            return Ok(match buf.kind() {
                cmd_attr::INFO_VERSION => InfoVersion(u32_of(v, "info version")?),
                cmd_attr::INFO_CONN_TAB_SIZE => InfoConnTabSize(u32_of(v, "info conn_tab_size")?),
                _ => Other(other(buf)?),
            });
        }
        Ok(match buf.kind() {
            cmd_attr::SERVICE => Service(parse_nested(v, "SERVICE", SvcAttr::parse)?),
            cmd_attr::DEST => Dest(parse_nested(v, "DEST", DestAttr::parse)?),
            cmd_attr::DAEMON => Daemon(parse_nested(v, "DAEMON", DaemonAttr::parse)?),
            cmd_attr::TIMEOUT_TCP => TimeoutTcp(u32_of(v, "timeout tcp")?),
            cmd_attr::TIMEOUT_TCP_FIN => TimeoutTcpFin(u32_of(v, "timeout tcp_fin")?),
            cmd_attr::TIMEOUT_UDP => TimeoutUdp(u32_of(v, "timeout udp")?),
            _ => Other(other(buf)?),
        })
    }
}

/// The payload of an IPVS generic-netlink message: a command and its top-level attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpvsMessage {
    /// The command (`genlmsghdr.cmd`).
    pub cmd: Command,
    /// Top-level attributes.
    pub attrs: Vec<CmdAttr>,
}

impl IpvsMessage {
    /// A message with the given command and attributes.
    pub fn new(cmd: Command, attrs: Vec<CmdAttr>) -> Self {
        Self { cmd, attrs }
    }

    /// The nested service attributes, if any.
    pub fn service(&self) -> Option<&[SvcAttr]> {
        self.attrs.iter().find_map(|a| match a {
            CmdAttr::Service(s) => Some(s.as_slice()),
            _ => None,
        })
    }

    /// The nested destination attributes, if any.
    pub fn dest(&self) -> Option<&[DestAttr]> {
        self.attrs.iter().find_map(|a| match a {
            CmdAttr::Dest(s) => Some(s.as_slice()),
            _ => None,
        })
    }

    /// The nested daemon attributes, if any.
    pub fn daemon(&self) -> Option<&[DaemonAttr]> {
        self.attrs.iter().find_map(|a| match a {
            CmdAttr::Daemon(s) => Some(s.as_slice()),
            _ => None,
        })
    }
}

impl GenlFamily for IpvsMessage {
    fn family_name() -> &'static str {
        FAMILY_NAME
    }
    fn command(&self) -> u8 {
        self.cmd.into()
    }
    fn version(&self) -> u8 {
        FAMILY_VERSION
    }
}

impl Emitable for IpvsMessage {
    fn buffer_len(&self) -> usize {
        self.attrs.as_slice().buffer_len()
    }
    fn emit(&self, buffer: &mut [u8]) {
        self.attrs.as_slice().emit(buffer)
    }
}

impl ParseableParametrized<[u8], GenlHeader> for IpvsMessage {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        let cmd = Command::from(header.cmd);
        let attrs = NlasIterator::new(buf)
            .map(|nla| nla.and_then(|b| CmdAttr::parse_with_cmd(&b, cmd)))
            .collect::<Result<Vec<_>, _>>()
            .context("failed to parse IPVS attributes")?;
        Ok(Self { cmd, attrs })
    }
}

/// A complete netlink message carrying an IPVS payload.
pub type Message = NetlinkMessage<GenlMessage<IpvsMessage>>;

/// Wraps `msg` into a netlink message for family id `family_id` with the given extra `flags`
/// (`NLM_F_REQUEST` is always added) and sequence number.
pub fn request(msg: IpvsMessage, family_id: u16, flags: u16, seq: u32) -> Message {
    let mut genl = GenlMessage::from_payload(msg);
    genl.set_resolved_family_id(family_id);
    let mut hdr = NetlinkHeader::default();
    hdr.flags = NLM_F_REQUEST | flags;
    hdr.sequence_number = seq;
    let mut m = NetlinkMessage::new(hdr, NetlinkPayload::InnerMessage(genl));
    m.finalize();
    m
}

/// Encodes `msg` as a complete request datagram (netlink header + genl header + attributes).
pub fn encode_request(msg: &IpvsMessage, family_id: u16, flags: u16, seq: u32) -> Vec<u8> {
    let m = request(msg.clone(), family_id, flags, seq);
    let mut buf = vec![0u8; m.buffer_len()];
    m.serialize(&mut buf);
    buf
}

/// Decodes one netlink message (the first in `buf`) carrying an IPVS payload, an error/ACK or a
/// DONE. Never panics.
pub fn decode_message(buf: &[u8]) -> Result<Message, DecodeError> {
    // NetlinkMessage::deserialize checks the header length against the buffer.
    if buf.len() < 16 {
        return Err(DecodeError::from("netlink message shorter than its header"));
    }
    Message::deserialize(buf)
}

/// Decodes every netlink message in a datagram. Stops at the first malformed one.
pub fn decode_datagram(mut buf: &[u8]) -> Result<Vec<Message>, DecodeError> {
    let mut out = Vec::new();
    while buf.len() >= 16 {
        let len = u32::from_ne_bytes(fixed(buf, "nlmsg len")?) as usize;
        if len < 16 || len > buf.len() {
            return Err(DecodeError::from(format!(
                "bad netlink message length {len}"
            )));
        }
        out.push(decode_message(&buf[..len])?);
        let step = (len + 3) & !3;
        buf = buf.get(step..).unwrap_or(&[]);
    }
    Ok(out)
}

/// The IPVS payload of a decoded message, if it carries one.
pub fn inner(m: &Message) -> Option<&IpvsMessage> {
    match &m.payload {
        NetlinkPayload::InnerMessage(g) => Some(&g.payload),
        _ => None,
    }
}
