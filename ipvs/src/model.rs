//! Typed model of the IPVS table: services, destinations, daemons, timeouts, info and stats.
//!
//! Conversion to the wire goes through [`crate::codec`]; decoding is by address family and
//! tolerant of unknown attributes. [`Service::validate`] and [`Destination::validate`] check
//! everything the kernel would refuse with a bare `EINVAL`, so users get a message instead.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::codec::{
    self, CmdAttr, DaemonAttr, DestAttr, StatsAttr, SvcAttr, af, dest_attr, fwd, proto, stats_attr,
    svc_flags, tun,
};

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

/// Address family of a service or destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum Family {
    /// IPv4 (`AF_INET`).
    Inet,
    /// IPv6 (`AF_INET6`).
    Inet6,
}

impl Family {
    /// The family of an address.
    pub fn of(addr: &IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => Family::Inet,
            IpAddr::V6(_) => Family::Inet6,
        }
    }
    /// The `AF_*` number.
    pub fn to_raw(self) -> u16 {
        match self {
            Family::Inet => af::INET,
            Family::Inet6 => af::INET6,
        }
    }
    /// From an `AF_*` number.
    pub fn from_raw(v: u16) -> Option<Self> {
        match v {
            af::INET => Some(Family::Inet),
            af::INET6 => Some(Family::Inet6),
            _ => None,
        }
    }
}

/// Transport protocol of an address-based service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
    /// The IP protocol number.
    pub fn to_raw(self) -> u16 {
        match self {
            Protocol::Tcp => proto::TCP,
            Protocol::Udp => proto::UDP,
            Protocol::Sctp => proto::SCTP,
        }
    }
    /// From an IP protocol number.
    pub fn from_raw(v: u16) -> Option<Self> {
        match v {
            proto::TCP => Some(Protocol::Tcp),
            proto::UDP => Some(Protocol::Udp),
            proto::SCTP => Some(Protocol::Sctp),
            _ => None,
        }
    }
    /// ipvsadm's name (`TCP`, `UDP`, `SCTP`).
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

/// What identifies a virtual service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum ServiceKey {
    /// Address, protocol and port.
    Addr {
        /// Protocol.
        protocol: Protocol,
        /// Virtual address (its family is the service's).
        addr: IpAddr,
        /// Virtual port (0: any port; the service must then be persistent).
        port: u16,
    },
    /// Firewall mark with its address family.
    Fwmark {
        /// Address family.
        family: Family,
        /// The mark (non-zero).
        mark: u32,
    },
}

impl ServiceKey {
    /// A TCP service key.
    pub fn tcp(addr: IpAddr, port: u16) -> Self {
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr,
            port,
        }
    }
    /// A UDP service key.
    pub fn udp(addr: IpAddr, port: u16) -> Self {
        ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr,
            port,
        }
    }
    /// An SCTP service key.
    pub fn sctp(addr: IpAddr, port: u16) -> Self {
        ServiceKey::Addr {
            protocol: Protocol::Sctp,
            addr,
            port,
        }
    }
    /// A firewall-mark service key.
    pub fn fwmark(family: Family, mark: u32) -> Self {
        ServiceKey::Fwmark { family, mark }
    }
    /// The service's address family.
    pub fn family(&self) -> Family {
        match self {
            ServiceKey::Addr { addr, .. } => Family::of(addr),
            ServiceKey::Fwmark { family, .. } => *family,
        }
    }

    /// Checks what the kernel would refuse.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            ServiceKey::Addr { addr, .. } => {
                if addr.is_multicast() {
                    return Err(format!("virtual address {addr} is multicast"));
                }
                Ok(())
            }
            ServiceKey::Fwmark { mark, .. } if *mark == 0 => {
                Err("firewall mark must be non-zero".into())
            }
            ServiceKey::Fwmark { .. } => Ok(()),
        }
    }

    /// The identifying attributes.
    pub fn to_attrs(&self) -> Vec<SvcAttr> {
        let mut v = vec![SvcAttr::AddressFamily(self.family().to_raw())];
        match self {
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => {
                v.push(SvcAttr::Protocol(protocol.to_raw()));
                v.push(SvcAttr::Address(addr_bytes(addr)));
                v.push(SvcAttr::Port(*port));
            }
            ServiceKey::Fwmark { mark, .. } => v.push(SvcAttr::Fwmark(*mark)),
        }
        v
    }

    /// Decodes the identifying attributes.
    pub fn from_attrs(attrs: &[SvcAttr]) -> Result<Self, String> {
        let mut family = None;
        let (mut protocol, mut addr, mut port, mut mark) = (None, None, None, None);
        for a in attrs {
            match a {
                SvcAttr::AddressFamily(f) => family = Some(*f),
                SvcAttr::Protocol(p) => protocol = Some(*p),
                SvcAttr::Address(b) => addr = Some(b.as_slice()),
                SvcAttr::Port(p) => port = Some(*p),
                SvcAttr::Fwmark(m) => mark = Some(*m),
                _ => {}
            }
        }
        let raw_af = family.ok_or("service without address family")?;
        let family =
            Family::from_raw(raw_af).ok_or_else(|| format!("unknown address family {raw_af}"))?;
        match mark {
            Some(m) if m != 0 => Ok(ServiceKey::Fwmark { family, mark: m }),
            _ => {
                let p = protocol.ok_or("service without protocol or fwmark")?;
                let protocol =
                    Protocol::from_raw(p).ok_or_else(|| format!("unknown protocol {p}"))?;
                let addr = decode_addr(family, addr.ok_or("service without address")?)?;
                Ok(ServiceKey::Addr {
                    protocol,
                    addr,
                    port: port.unwrap_or(0),
                })
            }
        }
    }
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => {
                write!(f, "{} {}", protocol.name(), fmt_addr_port(addr, *port))
            }
            ServiceKey::Fwmark {
                family: Family::Inet,
                mark,
            } => write!(f, "FWM {mark}"),
            ServiceKey::Fwmark {
                family: Family::Inet6,
                mark,
            } => write!(f, "FWM {mark} IPv6"),
        }
    }
}

/// `addr:port` with IPv6 addresses in brackets, as ipvsadm prints them.
pub fn fmt_addr_port(addr: &IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

fn addr_bytes(a: &IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// Decodes an address by family (the kernel sends 16 bytes even for IPv4).
fn decode_addr(family: Family, b: &[u8]) -> Result<IpAddr, String> {
    match family {
        Family::Inet => {
            let o: [u8; 4] = b
                .get(..4)
                .and_then(|s| s.try_into().ok())
                .ok_or_else(|| format!("IPv4 address of {} bytes", b.len()))?;
            Ok(IpAddr::V4(Ipv4Addr::from(o)))
        }
        Family::Inet6 => {
            let o: [u8; 16] = b
                .get(..16)
                .and_then(|s| s.try_into().ok())
                .ok_or_else(|| format!("IPv6 address of {} bytes", b.len()))?;
            Ok(IpAddr::V6(Ipv6Addr::from(o)))
        }
    }
}

/// A scheduler: a known name or any other module name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Scheduler {
    /// Round robin (`rr`).
    RoundRobin,
    /// Weighted round robin (`wrr`).
    WeightedRoundRobin,
    /// Least connection (`lc`).
    LeastConnection,
    /// Weighted least connection (`wlc`, ipvsadm's default).
    #[default]
    WeightedLeastConnection,
    /// Locality-based least connection (`lblc`).
    LocalityBasedLeastConnection,
    /// LBLC with replication (`lblcr`).
    LocalityBasedLeastConnectionReplication,
    /// Destination hashing (`dh`).
    DestinationHashing,
    /// Source hashing (`sh`).
    SourceHashing,
    /// Shortest expected delay (`sed`).
    ShortestExpectedDelay,
    /// Never queue (`nq`).
    NeverQueue,
    /// Weighted failover (`fo`).
    WeightedFailover,
    /// Weighted overflow (`ovf`).
    WeightedOverflow,
    /// Maglev hashing (`mh`).
    MaglevHashing,
    /// Weighted random twos choice (`twos`).
    RandomTwos,
    /// No scheduler (`none`).
    None,
    /// Any other scheduler module name.
    Other(String),
}

const SCHEDULERS: &[(&str, Scheduler)] = &[
    ("rr", Scheduler::RoundRobin),
    ("wrr", Scheduler::WeightedRoundRobin),
    ("lc", Scheduler::LeastConnection),
    ("wlc", Scheduler::WeightedLeastConnection),
    ("lblc", Scheduler::LocalityBasedLeastConnection),
    ("lblcr", Scheduler::LocalityBasedLeastConnectionReplication),
    ("dh", Scheduler::DestinationHashing),
    ("sh", Scheduler::SourceHashing),
    ("sed", Scheduler::ShortestExpectedDelay),
    ("nq", Scheduler::NeverQueue),
    ("fo", Scheduler::WeightedFailover),
    ("ovf", Scheduler::WeightedOverflow),
    ("mh", Scheduler::MaglevHashing),
    ("twos", Scheduler::RandomTwos),
    ("none", Scheduler::None),
];

impl Scheduler {
    /// The module name (`ip_vs_<name>`).
    pub fn name(&self) -> &str {
        match self {
            Scheduler::Other(s) => s,
            k => SCHEDULERS
                .iter()
                .find(|(_, s)| s == k)
                .map(|(n, _)| *n)
                .unwrap_or("?"),
        }
    }
    /// From a module name.
    pub fn from_name(n: &str) -> Self {
        SCHEDULERS
            .iter()
            .find(|(name, _)| *name == n)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| Scheduler::Other(n.to_string()))
    }
}

impl fmt::Display for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(feature = "serde")]
impl Serialize for Scheduler {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[cfg(feature = "serde")]
impl<'de> Deserialize<'de> for Scheduler {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Scheduler::from_name(&s))
    }
}

/// Service flags a user may set (the kernel's HASHED flag is never part of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize), serde(default))]
pub struct ServiceFlags {
    /// Persistent service (`-p`).
    pub persistent: bool,
    /// One-packet scheduling (`-o`, UDP).
    pub one_packet: bool,
    /// Scheduler flag 1: sh/mh fallback (`sh-fallback`, `mh-fallback`).
    pub sched_fallback: bool,
    /// Scheduler flag 2: sh/mh port (`sh-port`, `mh-port`).
    pub sched_port: bool,
    /// Scheduler flag 3.
    pub sched_flag_3: bool,
}

impl ServiceFlags {
    /// The wire bits.
    pub fn bits(&self) -> u32 {
        let mut b = 0;
        if self.persistent {
            b |= svc_flags::PERSISTENT;
        }
        if self.one_packet {
            b |= svc_flags::ONEPACKET;
        }
        if self.sched_fallback {
            b |= svc_flags::SCHED1;
        }
        if self.sched_port {
            b |= svc_flags::SCHED2;
        }
        if self.sched_flag_3 {
            b |= svc_flags::SCHED3;
        }
        b
    }
    /// From wire bits (HASHED and unknown bits are dropped).
    pub fn from_bits(b: u32) -> Self {
        ServiceFlags {
            persistent: b & svc_flags::PERSISTENT != 0,
            one_packet: b & svc_flags::ONEPACKET != 0,
            sched_fallback: b & svc_flags::SCHED1 != 0,
            sched_port: b & svc_flags::SCHED2 != 0,
            sched_flag_3: b & svc_flags::SCHED3 != 0,
        }
    }
}

/// A virtual service and its settings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Service {
    /// What identifies the service.
    pub key: ServiceKey,
    /// Scheduler.
    #[cfg_attr(feature = "serde", serde(default))]
    pub scheduler: Scheduler,
    /// Flags.
    #[cfg_attr(feature = "serde", serde(default))]
    pub flags: ServiceFlags,
    /// Persistence timeout in seconds (ipvsadm default with `-p`: 300).
    #[cfg_attr(feature = "serde", serde(default))]
    pub timeout: u32,
    /// Persistence netmask as a prefix length: 0..=32 for IPv4, 1..=128 for IPv6. `None` means
    /// a host mask (32 or 128).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub netmask: Option<u8>,
    /// Persistence engine (e.g. `sip`).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub persistence_engine: Option<String>,
}

impl Service {
    /// A service with ipvsadm's defaults (wlc, no flags, host netmask).
    pub fn new(key: ServiceKey) -> Self {
        Service {
            key,
            scheduler: Scheduler::default(),
            flags: ServiceFlags::default(),
            timeout: 0,
            netmask: None,
            persistence_engine: None,
        }
    }
    /// Builder: set the scheduler.
    pub fn with_scheduler(mut self, s: Scheduler) -> Self {
        self.scheduler = s;
        self
    }
    /// Builder: make the service persistent with this timeout in seconds.
    pub fn persistent(mut self, timeout: u32) -> Self {
        self.flags.persistent = true;
        self.timeout = timeout;
        self
    }

    /// The effective prefix length.
    pub fn prefix_len(&self) -> u8 {
        self.netmask.unwrap_or(match self.key.family() {
            Family::Inet => 32,
            Family::Inet6 => 128,
        })
    }

    /// A normalised copy: a netmask equal to the host mask becomes `None`, so that services read
    /// back from the kernel compare equal to what was written.
    pub fn normalized(&self) -> Self {
        let mut s = self.clone();
        let host = match s.key.family() {
            Family::Inet => 32,
            Family::Inet6 => 128,
        };
        if s.netmask == Some(host) {
            s.netmask = None;
        }
        if s.persistence_engine.as_deref() == Some("") {
            s.persistence_engine = None;
        }
        s
    }

    /// Checks everything the kernel would refuse with a bare `EINVAL`.
    pub fn validate(&self) -> Result<(), String> {
        self.key.validate()?;
        let name = self.scheduler.name();
        if name.is_empty() || name.len() > 15 || name.contains('\0') {
            return Err(format!(
                "scheduler name {name:?} must be 1 to 15 bytes without NUL"
            ));
        }
        if let Some(pe) = &self.persistence_engine
            && (pe.len() > 15 || pe.contains('\0'))
        {
            return Err(format!(
                "persistence engine name {pe:?} must be at most 15 bytes without NUL"
            ));
        }
        match (self.key.family(), self.netmask) {
            (Family::Inet, Some(p)) if p > 32 => {
                return Err(format!("IPv4 netmask /{p} is longer than 32"));
            }
            (Family::Inet6, Some(p)) if p == 0 || p > 128 => {
                return Err(format!("IPv6 netmask /{p} must be 1..=128"));
            }
            _ => {}
        }
        if self.timeout > i32::MAX as u32 / 1000 {
            return Err(format!("timeout {} s is too large", self.timeout));
        }
        Ok(())
    }

    /// All attributes for NEW/SET_SERVICE.
    pub fn to_attrs(&self) -> Vec<SvcAttr> {
        let mut v = self.key.to_attrs();
        v.push(SvcAttr::SchedName(self.scheduler.name().to_string()));
        if let Some(pe) = &self.persistence_engine {
            v.push(SvcAttr::PeName(pe.clone()));
        }
        v.push(SvcAttr::Flags {
            flags: self.flags.bits(),
            mask: svc_flags::USER_MASK,
        });
        v.push(SvcAttr::Timeout(self.timeout));
        let p = self.prefix_len();
        let raw = match self.key.family() {
            Family::Inet => {
                let m: u32 = if p == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(p.min(32)))
                };
                m.to_be_bytes()
            }
            Family::Inet6 => u32::from(p).to_ne_bytes(),
        };
        v.push(SvcAttr::Netmask(raw));
        v
    }

    /// Decodes a service from the kernel's attributes.
    pub fn from_attrs(attrs: &[SvcAttr]) -> Result<Self, String> {
        let key = ServiceKey::from_attrs(attrs)?;
        let mut s = Service::new(key);
        for a in attrs {
            match a {
                SvcAttr::SchedName(n) => s.scheduler = Scheduler::from_name(n),
                SvcAttr::Flags { flags, mask } => s.flags = ServiceFlags::from_bits(flags & mask),
                SvcAttr::Timeout(t) => s.timeout = *t,
                SvcAttr::PeName(p) if !p.is_empty() => s.persistence_engine = Some(p.clone()),
                SvcAttr::Netmask(raw) => {
                    s.netmask = Some(match key.family() {
                        Family::Inet => u32::from_be_bytes(*raw).leading_ones() as u8,
                        Family::Inet6 => u32::from_ne_bytes(*raw).min(128) as u8,
                    })
                }
                _ => {}
            }
        }
        Ok(s.normalized())
    }
}

/// Traffic counters and rates. 64-bit values are preferred when the kernel sends them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize), serde(default))]
pub struct Stats {
    /// Connections.
    pub conns: u64,
    /// Incoming packets.
    pub in_pkts: u64,
    /// Outgoing packets.
    pub out_pkts: u64,
    /// Incoming bytes.
    pub in_bytes: u64,
    /// Outgoing bytes.
    pub out_bytes: u64,
    /// Connections per second.
    pub cps: u64,
    /// Incoming packets per second.
    pub in_pps: u64,
    /// Outgoing packets per second.
    pub out_pps: u64,
    /// Incoming bytes per second.
    pub in_bps: u64,
    /// Outgoing bytes per second.
    pub out_bps: u64,
}

impl Stats {
    /// From a `STATS` or `STATS64` nest (padding and unknown attributes are skipped).
    pub fn from_attrs(attrs: &[StatsAttr]) -> Self {
        let mut s = Stats::default();
        for a in attrs {
            let (k, v) = match a {
                StatsAttr::U32(k, v) => (*k, u64::from(*v)),
                StatsAttr::U64(k, v) => (*k, *v),
                StatsAttr::Other(_) => continue,
            };
            let slot = match k {
                stats_attr::CONNS => &mut s.conns,
                stats_attr::INPKTS => &mut s.in_pkts,
                stats_attr::OUTPKTS => &mut s.out_pkts,
                stats_attr::INBYTES => &mut s.in_bytes,
                stats_attr::OUTBYTES => &mut s.out_bytes,
                stats_attr::CPS => &mut s.cps,
                stats_attr::INPPS => &mut s.in_pps,
                stats_attr::OUTPPS => &mut s.out_pps,
                stats_attr::INBPS => &mut s.in_bps,
                stats_attr::OUTBPS => &mut s.out_bps,
                _ => continue,
            };
            *slot = v;
        }
        s
    }

    /// As a `STATS64` nest.
    pub fn to_attrs64(&self) -> Vec<StatsAttr> {
        use stats_attr::*;
        [
            (CONNS, self.conns),
            (INPKTS, self.in_pkts),
            (OUTPKTS, self.out_pkts),
            (INBYTES, self.in_bytes),
            (OUTBYTES, self.out_bytes),
            (CPS, self.cps),
            (INPPS, self.in_pps),
            (OUTPPS, self.out_pps),
            (INBPS, self.in_bps),
            (OUTBPS, self.out_bps),
        ]
        .into_iter()
        .map(|(k, v)| StatsAttr::U64(k, v))
        .collect()
    }

    fn pick(legacy: Option<&Vec<StatsAttr>>, s64: Option<&Vec<StatsAttr>>) -> Stats {
        match (s64, legacy) {
            (Some(a), _) => Stats::from_attrs(a),
            (None, Some(a)) => Stats::from_attrs(a),
            (None, None) => Stats::default(),
        }
    }
}

/// A service as the kernel reports it: settings plus stats.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct ServiceEntry {
    /// The service.
    pub service: Service,
    /// Its counters.
    pub stats: Stats,
}

impl ServiceEntry {
    /// Decodes a kernel reply's service nest.
    pub fn from_attrs(attrs: &[SvcAttr]) -> Result<Self, String> {
        let service = Service::from_attrs(attrs)?;
        let legacy = attrs.iter().find_map(|a| match a {
            SvcAttr::Stats(s) => Some(s),
            _ => None,
        });
        let s64 = attrs.iter().find_map(|a| match a {
            SvcAttr::Stats64(s) => Some(s),
            _ => None,
        });
        Ok(ServiceEntry {
            service,
            stats: Stats::pick(legacy, s64),
        })
    }
}

/// Tunnel encapsulation of a tunnelled destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum TunnelType {
    /// IP-in-IP (the default, and all that kernels before 5.2 know).
    #[default]
    Ipip,
    /// Generic UDP encapsulation (needs a port).
    Gue,
    /// GRE.
    Gre,
}

/// How packets reach a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Forwarding {
    /// NAT (`-m`, `--masquerading`).
    Masquerade,
    /// Local node.
    Local,
    /// Tunnelling (`-i`, `--ipip`).
    Tunnel {
        /// Encapsulation.
        #[cfg_attr(feature = "serde", serde(default))]
        tun_type: TunnelType,
        /// Encapsulation port (GUE).
        #[cfg_attr(feature = "serde", serde(default))]
        tun_port: u16,
        /// Send a checksum (GUE/GRE, 5.3+).
        #[cfg_attr(feature = "serde", serde(default))]
        csum: bool,
        /// Remote checksum offload (GUE, 5.3+).
        #[cfg_attr(feature = "serde", serde(default))]
        remcsum: bool,
    },
    /// Direct routing (`-g`, `--gatewaying`, ipvsadm's default).
    #[default]
    DirectRoute,
    /// Bypass.
    Bypass,
}

impl Forwarding {
    /// A plain IPIP tunnel.
    pub fn ipip() -> Self {
        Forwarding::Tunnel {
            tun_type: TunnelType::Ipip,
            tun_port: 0,
            csum: false,
            remcsum: false,
        }
    }
    fn raw(&self) -> u32 {
        match self {
            Forwarding::Masquerade => fwd::MASQ,
            Forwarding::Local => fwd::LOCALNODE,
            Forwarding::Tunnel { .. } => fwd::TUNNEL,
            Forwarding::DirectRoute => fwd::DROUTE,
            Forwarding::Bypass => fwd::BYPASS,
        }
    }
    /// ipvsadm's column name (`Masq`, `Local`, `Tunnel`, `Route`, `Bypass`).
    pub fn name(&self) -> &'static str {
        match self {
            Forwarding::Masquerade => "Masq",
            Forwarding::Local => "Local",
            Forwarding::Tunnel { .. } => "Tunnel",
            Forwarding::DirectRoute => "Route",
            Forwarding::Bypass => "Bypass",
        }
    }
}

/// A real server's settings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Destination {
    /// Address; a family different from the service's needs tunnelling.
    pub addr: IpAddr,
    /// Port.
    pub port: u16,
    /// Forwarding method.
    #[cfg_attr(feature = "serde", serde(default))]
    pub forwarding: Forwarding,
    /// Weight (0 = quiesced, at most `i32::MAX`).
    #[cfg_attr(feature = "serde", serde(default = "one"))]
    pub weight: u32,
    /// Upper connection threshold (0 = none).
    #[cfg_attr(feature = "serde", serde(default))]
    pub upper_threshold: u32,
    /// Lower connection threshold (0 = none).
    #[cfg_attr(feature = "serde", serde(default))]
    pub lower_threshold: u32,
}

#[cfg(feature = "serde")]
fn one() -> u32 {
    1
}

impl Destination {
    /// A destination with ipvsadm's defaults (direct routing, weight 1).
    pub fn new(addr: IpAddr, port: u16) -> Self {
        Destination {
            addr,
            port,
            forwarding: Forwarding::DirectRoute,
            weight: 1,
            upper_threshold: 0,
            lower_threshold: 0,
        }
    }
    /// Builder: forwarding method.
    pub fn with_forwarding(mut self, f: Forwarding) -> Self {
        self.forwarding = f;
        self
    }
    /// Builder: weight.
    pub fn with_weight(mut self, w: u32) -> Self {
        self.weight = w;
        self
    }

    /// Checks what the kernel would refuse, for a destination of service `svc`.
    pub fn validate(&self, svc: &ServiceKey) -> Result<(), String> {
        if self.weight > i32::MAX as u32 {
            return Err(format!(
                "weight {} is larger than {}",
                self.weight,
                i32::MAX
            ));
        }
        if self.lower_threshold > self.upper_threshold {
            return Err(format!(
                "lower threshold {} is above upper threshold {}",
                self.lower_threshold, self.upper_threshold
            ));
        }
        if self.addr.is_unspecified() || self.addr.is_multicast() {
            return Err(format!("real server address {} is not unicast", self.addr));
        }
        if let IpAddr::V4(a) = self.addr
            && a.is_broadcast()
        {
            return Err(format!("real server address {a} is broadcast"));
        }
        if Family::of(&self.addr) != svc.family()
            && !matches!(self.forwarding, Forwarding::Tunnel { .. })
        {
            return Err(format!(
                "real server {} has another address family than service {svc}: only tunnelling can mix families",
                self.addr
            ));
        }
        if let Forwarding::Tunnel {
            tun_type,
            tun_port,
            remcsum,
            ..
        } = self.forwarding
        {
            if tun_type == TunnelType::Gue && tun_port == 0 {
                return Err("GUE tunnel needs a non-zero tunnel port".into());
            }
            if remcsum && tun_type != TunnelType::Gue {
                return Err("remote checksum offload is only for GUE tunnels".into());
            }
        }
        Ok(())
    }

    /// The identifying attributes (for DEL_DEST).
    pub fn key_attrs(addr: &IpAddr, port: u16) -> Vec<DestAttr> {
        vec![
            DestAttr::AddressFamily(Family::of(addr).to_raw()),
            DestAttr::Address(addr_bytes(addr)),
            DestAttr::Port(port),
        ]
    }

    /// All attributes for NEW/SET_DEST. `tunnel_attrs` says whether to include the tunnel
    /// attributes (5.2+), which older kernels would silently drop.
    pub fn to_attrs(&self, tunnel_attrs: bool) -> Vec<DestAttr> {
        let mut v = Self::key_attrs(&self.addr, self.port);
        v.push(DestAttr::FwdMethod(self.forwarding.raw()));
        v.push(DestAttr::Weight(self.weight));
        v.push(DestAttr::UpperThreshold(self.upper_threshold));
        v.push(DestAttr::LowerThreshold(self.lower_threshold));
        if tunnel_attrs {
            let (t, p, f) = match self.forwarding {
                Forwarding::Tunnel {
                    tun_type,
                    tun_port,
                    csum,
                    remcsum,
                } => (
                    match tun_type {
                        TunnelType::Ipip => tun::TYPE_IPIP,
                        TunnelType::Gue => tun::TYPE_GUE,
                        TunnelType::Gre => tun::TYPE_GRE,
                    },
                    tun_port,
                    (if csum { tun::FLAG_CSUM } else { 0 })
                        | (if remcsum { tun::FLAG_REMCSUM } else { 0 }),
                ),
                _ => (0, 0, 0),
            };
            v.push(DestAttr::TunType(t));
            v.push(DestAttr::TunPort(p));
            v.push(DestAttr::TunFlags(f));
        }
        v
    }

    /// Decodes a destination; `svc_family` is used when the kernel omits `ADDR_FAMILY` (< 3.18).
    pub fn from_attrs(attrs: &[DestAttr], svc_family: Family) -> Result<Self, String> {
        let mut family = svc_family;
        let (mut addr, mut port, mut fwdm) = (None, 0, fwd::DROUTE);
        let (mut weight, mut u, mut l) = (0, 0, 0);
        let (mut tt, mut tp, mut tf) = (0u8, 0u16, 0u16);
        for a in attrs {
            match a {
                DestAttr::AddressFamily(f) => {
                    family = Family::from_raw(*f)
                        .ok_or_else(|| format!("unknown destination address family {f}"))?
                }
                DestAttr::Address(b) => addr = Some(b.as_slice()),
                DestAttr::Port(p) => port = *p,
                DestAttr::FwdMethod(f) => fwdm = *f & fwd::MASK,
                DestAttr::Weight(w) => weight = *w,
                DestAttr::UpperThreshold(x) => u = *x,
                DestAttr::LowerThreshold(x) => l = *x,
                DestAttr::TunType(t) => tt = *t,
                DestAttr::TunPort(p) => tp = *p,
                DestAttr::TunFlags(f) => tf = *f,
                _ => {}
            }
        }
        let addr = decode_addr(family, addr.ok_or("destination without address")?)?;
        let forwarding = match fwdm {
            fwd::MASQ => Forwarding::Masquerade,
            fwd::LOCALNODE => Forwarding::Local,
            fwd::TUNNEL => Forwarding::Tunnel {
                tun_type: match tt {
                    tun::TYPE_GUE => TunnelType::Gue,
                    tun::TYPE_GRE => TunnelType::Gre,
                    _ => TunnelType::Ipip,
                },
                tun_port: tp,
                csum: tf & tun::FLAG_CSUM != 0,
                remcsum: tf & tun::FLAG_REMCSUM != 0,
            },
            fwd::BYPASS => Forwarding::Bypass,
            _ => Forwarding::DirectRoute,
        };
        Ok(Destination {
            addr,
            port,
            forwarding,
            weight,
            upper_threshold: u,
            lower_threshold: l,
        })
    }
}

/// A destination as the kernel reports it: settings, connection counts and stats.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct DestinationEntry {
    /// The destination.
    pub destination: Destination,
    /// Active connections.
    pub active_conns: u32,
    /// Inactive connections.
    pub inactive_conns: u32,
    /// Persistent connections (templates).
    pub persistent_conns: u32,
    /// Counters.
    pub stats: Stats,
}

impl DestinationEntry {
    /// Decodes a kernel reply's destination nest.
    pub fn from_attrs(attrs: &[DestAttr], svc_family: Family) -> Result<Self, String> {
        let destination = Destination::from_attrs(attrs, svc_family)?;
        let mut e = DestinationEntry {
            destination,
            active_conns: 0,
            inactive_conns: 0,
            persistent_conns: 0,
            stats: Stats::default(),
        };
        let (mut legacy, mut s64) = (None, None);
        for a in attrs {
            match a {
                DestAttr::ActiveConns(x) => e.active_conns = *x,
                DestAttr::InactiveConns(x) => e.inactive_conns = *x,
                DestAttr::PersistConns(x) => e.persistent_conns = *x,
                DestAttr::Stats(s) => legacy = Some(s),
                DestAttr::Stats64(s) => s64 = Some(s),
                _ => {}
            }
        }
        e.stats = Stats::pick(legacy, s64);
        Ok(e)
    }
}

/// Sync daemon role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum DaemonState {
    /// Master: sends connection state.
    Master,
    /// Backup: receives connection state.
    Backup,
}

impl DaemonState {
    fn raw(self) -> u32 {
        match self {
            DaemonState::Master => codec::daemon_state::MASTER,
            DaemonState::Backup => codec::daemon_state::BACKUP,
        }
    }
}

impl fmt::Display for DaemonState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DaemonState::Master => "master",
            DaemonState::Backup => "backup",
        })
    }
}

/// A connection-synchronisation daemon.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Daemon {
    /// Master or backup.
    pub state: DaemonState,
    /// Multicast interface.
    pub interface: String,
    /// Sync id (0..=255).
    #[cfg_attr(feature = "serde", serde(default))]
    pub sync_id: u32,
    /// Maximum sync message length (kernel default from the MTU).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub sync_maxlen: Option<u16>,
    /// Multicast group (default 224.0.0.81).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub mcast_group: Option<IpAddr>,
    /// Multicast port (default 8848).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub mcast_port: Option<u16>,
    /// Multicast TTL (default 1).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub mcast_ttl: Option<u8>,
}

impl Daemon {
    /// A daemon with kernel defaults.
    pub fn new(state: DaemonState, interface: impl Into<String>, sync_id: u32) -> Self {
        Daemon {
            state,
            interface: interface.into(),
            sync_id,
            sync_maxlen: None,
            mcast_group: None,
            mcast_port: None,
            mcast_ttl: None,
        }
    }

    /// Checks what the kernel would refuse.
    pub fn validate(&self) -> Result<(), String> {
        if self.interface.is_empty() || self.interface.len() > 15 || self.interface.contains('\0') {
            return Err(format!(
                "interface name {:?} must be 1 to 15 bytes",
                self.interface
            ));
        }
        if let Some(g) = self.mcast_group
            && !g.is_multicast()
        {
            return Err(format!("sync group {g} is not multicast"));
        }
        Ok(())
    }

    /// Attributes for NEW_DAEMON.
    pub fn to_attrs(&self) -> Vec<DaemonAttr> {
        let mut v = vec![
            DaemonAttr::State(self.state.raw()),
            DaemonAttr::McastIfn(self.interface.clone()),
            DaemonAttr::SyncId(self.sync_id),
        ];
        if let Some(m) = self.sync_maxlen {
            v.push(DaemonAttr::SyncMaxLen(m));
        }
        match self.mcast_group {
            Some(IpAddr::V4(g)) => v.push(DaemonAttr::McastGroup(g.octets())),
            Some(IpAddr::V6(g)) => v.push(DaemonAttr::McastGroup6(g.octets())),
            None => {}
        }
        if let Some(p) = self.mcast_port {
            v.push(DaemonAttr::McastPort(p));
        }
        if let Some(t) = self.mcast_ttl {
            v.push(DaemonAttr::McastTtl(t));
        }
        v
    }

    /// Decodes a GET_DAEMON reply. Zero-valued optional settings are reported as `None`-free
    /// values exactly as the kernel sends them; an all-zero IPv4 group means "none".
    pub fn from_attrs(attrs: &[DaemonAttr]) -> Result<Self, String> {
        let mut d = Daemon::new(DaemonState::Master, "", 0);
        let mut state = None;
        for a in attrs {
            match a {
                DaemonAttr::State(s) => {
                    state = Some(match *s {
                        codec::daemon_state::MASTER => DaemonState::Master,
                        codec::daemon_state::BACKUP => DaemonState::Backup,
                        o => return Err(format!("unknown daemon state {o}")),
                    })
                }
                DaemonAttr::McastIfn(i) => d.interface = i.clone(),
                DaemonAttr::SyncId(i) => d.sync_id = *i,
                DaemonAttr::SyncMaxLen(m) => d.sync_maxlen = Some(*m),
                DaemonAttr::McastGroup(g) if *g != [0; 4] => {
                    d.mcast_group = Some(IpAddr::V4(Ipv4Addr::from(*g)))
                }
                DaemonAttr::McastGroup6(g) if *g != [0; 16] => {
                    d.mcast_group = Some(IpAddr::V6(Ipv6Addr::from(*g)))
                }
                DaemonAttr::McastPort(p) => d.mcast_port = Some(*p),
                DaemonAttr::McastTtl(t) => d.mcast_ttl = Some(*t),
                _ => {}
            }
        }
        d.state = state.ok_or("daemon without state")?;
        Ok(d)
    }
}

/// Connection timeouts in seconds (0 in a SET means "unchanged").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize), serde(default))]
pub struct Timeouts {
    /// Established TCP.
    pub tcp: u32,
    /// TCP after FIN.
    pub tcp_fin: u32,
    /// UDP.
    pub udp: u32,
}

impl Timeouts {
    /// Top-level attributes for SET_CONFIG.
    pub fn to_attrs(&self) -> Vec<CmdAttr> {
        vec![
            CmdAttr::TimeoutTcp(self.tcp),
            CmdAttr::TimeoutTcpFin(self.tcp_fin),
            CmdAttr::TimeoutUdp(self.udp),
        ]
    }
    /// From a GET_CONFIG reply.
    pub fn from_attrs(attrs: &[CmdAttr]) -> Self {
        let mut t = Timeouts::default();
        for a in attrs {
            match a {
                CmdAttr::TimeoutTcp(v) => t.tcp = *v,
                CmdAttr::TimeoutTcpFin(v) => t.tcp_fin = *v,
                CmdAttr::TimeoutUdp(v) => t.udp = *v,
                _ => {}
            }
        }
        t
    }
    /// Checks what the kernel would refuse (more than `INT_MAX / HZ`; HZ ≤ 1000 assumed).
    pub fn validate(&self) -> Result<(), String> {
        for (n, v) in [
            ("tcp", self.tcp),
            ("tcpfin", self.tcp_fin),
            ("udp", self.udp),
        ] {
            if v > i32::MAX as u32 / 1000 {
                return Err(format!("{n} timeout {v} s is too large"));
            }
        }
        Ok(())
    }
}

/// IPVS version and connection table size (GET_INFO).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Info {
    /// Version code, e.g. `0x010201` for 1.2.1.
    pub version: u32,
    /// Connection hash table size.
    pub conn_tab_size: u32,
}

impl Info {
    /// `(major, minor, patch)`.
    pub fn version_triple(&self) -> (u8, u8, u8) {
        (
            (self.version >> 16) as u8,
            (self.version >> 8) as u8,
            self.version as u8,
        )
    }
    /// From a SET_INFO reply.
    pub fn from_attrs(attrs: &[CmdAttr]) -> Self {
        let mut i = Info::default();
        for a in attrs {
            match a {
                CmdAttr::InfoVersion(v) => i.version = *v,
                CmdAttr::InfoConnTabSize(v) => i.conn_tab_size = *v,
                _ => {}
            }
        }
        i
    }
}

/// `DEST_ATTR_*` ids that only exist since kernel 5.2 (tunnel type/port) and 5.3 (flags).
pub const TUNNEL_ATTRS: [u16; 3] = [
    dest_attr::TUN_TYPE,
    dest_attr::TUN_PORT,
    dest_attr::TUN_FLAGS,
];

/// A service with its destinations: one row of a desired or observed table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct VirtualServer {
    /// The service.
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub service: Service,
    /// Its real servers.
    #[cfg_attr(feature = "serde", serde(default))]
    pub destinations: Vec<Destination>,
}

/// A whole IPVS table: what `ipvsctl list --json` prints and `apply` accepts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Table {
    /// Services with their destinations.
    #[cfg_attr(feature = "serde", serde(default))]
    pub services: Vec<VirtualServer>,
}
