//! Typed model of the IPVS table: services, destinations, daemons, timeouts, info and stats.
//!
//! The types, their builders, their display and their checks; nothing about the wire. How each
//! type becomes attributes and back (`to_attrs`, `from_attrs`, the `AF_*` and protocol numbers,
//! the flag bits) is written in [`crate::codec`], next to the format it follows.
//! [`Service::validate`] and [`Destination::validate`] check everything the kernel would refuse
//! with a bare `EINVAL`, so users get a message instead.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

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
}

/// Transport protocol of an address-based service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(rename_all = "lowercase")
)]
#[non_exhaustive]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
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
    pub fn validate(&self) -> Result<(), ValidationError> {
        match self {
            ServiceKey::Addr { addr, .. } => {
                if addr.is_multicast() {
                    return Err(ValidationError::MulticastVirtualAddress(*addr));
                }
                Ok(())
            }
            ServiceKey::Fwmark { mark, .. } if *mark == 0 => Err(ValidationError::ZeroFwmark),
            ServiceKey::Fwmark { .. } => Ok(()),
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

/// A scheduler: a known name or any other module name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[non_exhaustive]
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

/// Service flags a user may set (the kernel's HASHED flag is never part of it). Start from the
/// default (none) or [`ServiceFlags::from_bits`]; kernels add flags, so there may be more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize), serde(default))]
#[non_exhaustive]
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

/// A virtual service and its settings. Made with [`Service::new`] and its builders; kernels add
/// service settings, so there may be more fields.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[non_exhaustive]
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
        s.netmask = self.effective_netmask();
        s.persistence_engine = self.effective_engine().map(str::to_owned);
        s
    }

    /// Whether `other` has the same settings once both are normalised ([`Service::normalized`]),
    /// without copying either.
    pub fn same_settings(&self, other: &Service) -> bool {
        // Every field, so that a new one cannot be forgotten here.
        let Service {
            key,
            scheduler,
            flags,
            timeout,
            netmask: _,
            persistence_engine: _,
        } = self;
        *key == other.key
            && *scheduler == other.scheduler
            && *flags == other.flags
            && *timeout == other.timeout
            && self.effective_netmask() == other.effective_netmask()
            && self.effective_engine() == other.effective_engine()
    }

    /// The netmask, `None` for the host mask.
    fn effective_netmask(&self) -> Option<u8> {
        let host = match self.key.family() {
            Family::Inet => 32,
            Family::Inet6 => 128,
        };
        self.netmask.filter(|m| *m != host)
    }

    /// The persistence engine, `None` for an empty name.
    fn effective_engine(&self) -> Option<&str> {
        self.persistence_engine.as_deref().filter(|e| !e.is_empty())
    }

    /// Checks everything the kernel would refuse with a bare `EINVAL`.
    pub fn validate(&self) -> Result<(), ValidationError> {
        self.key.validate()?;
        let name = self.scheduler.name();
        if name.is_empty() || name.len() > 15 || name.contains('\0') {
            return Err(ValidationError::SchedulerName(name.to_string()));
        }
        if let Some(pe) = &self.persistence_engine
            && (pe.len() > 15 || pe.contains('\0'))
        {
            return Err(ValidationError::PersistenceEngineName(pe.clone()));
        }
        match (self.key.family(), self.netmask) {
            (Family::Inet, Some(p)) if p > 32 => {
                return Err(ValidationError::Ipv4Netmask(p));
            }
            (Family::Inet6, Some(p)) if p == 0 || p > 128 => {
                return Err(ValidationError::Ipv6Netmask(p));
            }
            _ => {}
        }
        check_timeout("persistence", self.timeout)
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

/// A service as the kernel reports it: settings plus stats.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct ServiceEntry {
    /// The service.
    pub service: Service,
    /// Its counters.
    pub stats: Stats,
}

/// Tunnel encapsulation of a tunnelled destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(rename_all = "lowercase")
)]
#[non_exhaustive]
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
    pub fn validate(&self, svc: &ServiceKey) -> Result<(), ValidationError> {
        if self.weight > i32::MAX as u32 {
            return Err(ValidationError::Weight(self.weight));
        }
        if self.lower_threshold > self.upper_threshold {
            return Err(ValidationError::Thresholds {
                lower: self.lower_threshold,
                upper: self.upper_threshold,
            });
        }
        if self.addr.is_unspecified() || self.addr.is_multicast() {
            return Err(ValidationError::NotUnicast(self.addr));
        }
        if let IpAddr::V4(a) = self.addr
            && a.is_broadcast()
        {
            return Err(ValidationError::Broadcast(a));
        }
        if Family::of(&self.addr) != svc.family()
            && !matches!(self.forwarding, Forwarding::Tunnel { .. })
        {
            return Err(ValidationError::MixedFamilies {
                addr: self.addr,
                service: *svc,
            });
        }
        if let Forwarding::Tunnel {
            tun_type,
            tun_port,
            remcsum,
            ..
        } = self.forwarding
        {
            if tun_type == TunnelType::Gue && tun_port == 0 {
                return Err(ValidationError::GueWithoutPort);
            }
            if remcsum && tun_type != TunnelType::Gue {
                return Err(ValidationError::RemoteChecksumWithoutGue);
            }
        }
        Ok(())
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

impl fmt::Display for Daemon {
    /// `master sync daemon on eth1 (syncid 7)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} sync daemon on {} (syncid {})",
            self.state, self.interface, self.sync_id
        )
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

/// A connection-synchronisation daemon. Made with [`Daemon::new`]; kernels add sync settings, so
/// there may be more fields.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[non_exhaustive]
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
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.interface.is_empty() || self.interface.len() > 15 || self.interface.contains('\0') {
            return Err(ValidationError::InterfaceName(self.interface.clone()));
        }
        if let Some(g) = self.mcast_group
            && !g.is_multicast()
        {
            return Err(ValidationError::SyncGroupNotMulticast(g));
        }
        Ok(())
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
    /// Checks what the kernel would refuse (more than `INT_MAX / HZ`; HZ ≤ 1000 assumed).
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_timeout("tcp", self.tcp)?;
        check_timeout("tcpfin", self.tcp_fin)?;
        check_timeout("udp", self.udp)
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
}

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

impl FromIterator<(ServiceEntry, Vec<DestinationEntry>)> for Table {
    /// A dump's entries (as [`Handle::table`](crate::Handle::table) reads them) as a table:
    /// their settings, without counters.
    fn from_iter<I: IntoIterator<Item = (ServiceEntry, Vec<DestinationEntry>)>>(dump: I) -> Self {
        Table {
            services: dump
                .into_iter()
                .map(|(s, d)| VirtualServer {
                    service: s.service,
                    destinations: d.into_iter().map(|e| e.destination).collect(),
                })
                .collect(),
        }
    }
}

/// What the kernel would refuse in a service, destination, daemon or timeouts, found before
/// sending (the kernel itself says only `EINVAL`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// A service's virtual address is multicast.
    #[error("virtual address {0} is multicast")]
    MulticastVirtualAddress(IpAddr),
    /// A firewall-mark service with mark 0.
    #[error("firewall mark must be non-zero")]
    ZeroFwmark,
    /// A scheduler name that is empty, longer than 15 bytes or holds a NUL.
    #[error("scheduler name {0:?} must be 1 to 15 bytes without NUL")]
    SchedulerName(String),
    /// A persistence engine name longer than 15 bytes or holding a NUL.
    #[error("persistence engine name {0:?} must be at most 15 bytes without NUL")]
    PersistenceEngineName(String),
    /// An IPv4 persistence netmask longer than /32.
    #[error("IPv4 netmask /{0} is longer than 32")]
    Ipv4Netmask(u8),
    /// A persistence netmask given as an address that is not a contiguous netmask.
    #[error("{0} is not a contiguous netmask")]
    Netmask(Ipv4Addr),
    /// An IPv6 persistence netmask outside /1 to /128.
    #[error("IPv6 netmask /{0} must be 1..=128")]
    Ipv6Netmask(u8),
    /// A timeout the kernel cannot hold in jiffies (more than `INT_MAX / HZ`, HZ ≤ 1000).
    #[error("{timeout} timeout {seconds} s is too large")]
    TimeoutTooLarge {
        /// Which one: `persistence`, `tcp`, `tcpfin` or `udp`.
        timeout: &'static str,
        /// The value asked for.
        seconds: u32,
    },
    /// A weight above `i32::MAX`.
    #[error("weight {0} is larger than {max}", max = i32::MAX)]
    Weight(u32),
    /// A lower connection threshold above the upper one.
    #[error("lower threshold {lower} is above upper threshold {upper}")]
    Thresholds {
        /// Lower threshold.
        lower: u32,
        /// Upper threshold.
        upper: u32,
    },
    /// A real server address that is unspecified or multicast.
    #[error("real server address {0} is not unicast")]
    NotUnicast(IpAddr),
    /// A real server address that is the IPv4 broadcast address.
    #[error("real server address {0} is broadcast")]
    Broadcast(Ipv4Addr),
    /// A real server of another family than its service, without tunnelling.
    #[error(
        "real server {addr} has another address family than service {service}: only tunnelling can mix families"
    )]
    MixedFamilies {
        /// The real server's address.
        addr: IpAddr,
        /// The service.
        service: ServiceKey,
    },
    /// A GUE tunnel without a port.
    #[error("GUE tunnel needs a non-zero tunnel port")]
    GueWithoutPort,
    /// Remote checksum offload on a tunnel other than GUE.
    #[error("remote checksum offload is only for GUE tunnels")]
    RemoteChecksumWithoutGue,
    /// A sync interface name that is empty, longer than 15 bytes or holds a NUL.
    #[error("interface name {0:?} must be 1 to 15 bytes")]
    InterfaceName(String),
    /// A sync group that is not a multicast address.
    #[error("sync group {0} is not multicast")]
    SyncGroupNotMulticast(IpAddr),
}

/// Timeouts become jiffies in an `int` in the kernel: more than `INT_MAX / HZ` seconds overflow
/// (HZ ≤ 1000 assumed).
fn check_timeout(timeout: &'static str, seconds: u32) -> Result<(), ValidationError> {
    if seconds > i32::MAX as u32 / 1000 {
        return Err(ValidationError::TimeoutTooLarge { timeout, seconds });
    }
    Ok(())
}
