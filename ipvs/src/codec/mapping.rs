//! The typed model ⇄ attribute lists: which attributes each model type becomes, and how the
//! kernel's attributes decode into it, with a [`MappingError`] when they cannot.
//!
//! The conversions are methods of the model types (`Service::to_attrs`,
//! `DestinationEntry::from_attrs`, …) written here, next to the wire format they follow, so the
//! model stays free of it. Decoding goes by address family and ignores attributes it does not
//! need, so replies of newer kernels still decode.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::attrs::{CmdAttr, DaemonAttr, DestAttr, StatsAttr, SvcAttr, dest_attr, stats_attr};
use super::constants::{af, daemon_state, fwd, proto, svc_flags, tun};
use crate::model::{
    Daemon, DaemonState, Destination, DestinationEntry, Family, Forwarding, Info, Protocol,
    Scheduler, Service, ServiceEntry, ServiceFlags, ServiceKey, Stats, Timeouts, TunnelType,
};

/// `DEST_ATTR_*` ids that only exist since kernel 5.2 (tunnel type/port) and 5.3 (flags).
pub const TUNNEL_ATTRS: [u16; 3] = [
    dest_attr::TUN_TYPE,
    dest_attr::TUN_PORT,
    dest_attr::TUN_FLAGS,
];

/// Why attributes do not make a model value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MappingError {
    /// An attribute the value cannot do without is absent.
    #[error("{object} without {attribute}")]
    MissingAttribute {
        /// What was decoded (`service`, `destination`, `daemon`).
        object: &'static str,
        /// The attribute that is missing.
        attribute: &'static str,
    },
    /// An address family other than `AF_INET` and `AF_INET6`.
    #[error("unknown {object} address family {raw}")]
    UnknownFamily {
        /// Whose family it is (`service`, `destination`).
        object: &'static str,
        /// The `AF_*` number.
        raw: u16,
    },
    /// A protocol other than TCP, UDP and SCTP.
    #[error("unknown protocol {0}")]
    UnknownProtocol(u16),
    /// A sync daemon state other than master and backup.
    #[error("unknown daemon state {0}")]
    UnknownDaemonState(u32),
    /// An address shorter than its family needs.
    #[error("{} address of {len} bytes", ip_version(*.family))]
    AddressLength {
        /// The family the address is read in.
        family: Family,
        /// Its length on the wire.
        len: usize,
    },
}

fn ip_version(family: Family) -> &'static str {
    match family {
        Family::Inet => "IPv4",
        Family::Inet6 => "IPv6",
    }
}

fn missing(object: &'static str, attribute: &'static str) -> MappingError {
    MappingError::MissingAttribute { object, attribute }
}

impl Family {
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
}

fn addr_bytes(a: &IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// Decodes an address by family (the kernel sends 16 bytes even for IPv4).
fn decode_addr(family: Family, b: &[u8]) -> Result<IpAddr, MappingError> {
    let short = MappingError::AddressLength {
        family,
        len: b.len(),
    };
    match family {
        Family::Inet => {
            let o: [u8; 4] = b.get(..4).and_then(|s| s.try_into().ok()).ok_or(short)?;
            Ok(IpAddr::V4(Ipv4Addr::from(o)))
        }
        Family::Inet6 => {
            let o: [u8; 16] = b.get(..16).and_then(|s| s.try_into().ok()).ok_or(short)?;
            Ok(IpAddr::V6(Ipv6Addr::from(o)))
        }
    }
}

impl ServiceKey {
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
    pub fn from_attrs(attrs: &[SvcAttr]) -> Result<Self, MappingError> {
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
        let raw = family.ok_or(missing("service", "address family"))?;
        let family = Family::from_raw(raw).ok_or(MappingError::UnknownFamily {
            object: "service",
            raw,
        })?;
        match mark {
            Some(m) if m != 0 => Ok(ServiceKey::Fwmark { family, mark: m }),
            _ => {
                let p = protocol.ok_or(missing("service", "protocol or fwmark"))?;
                let protocol = Protocol::from_raw(p).ok_or(MappingError::UnknownProtocol(p))?;
                let addr = decode_addr(family, addr.ok_or(missing("service", "address"))?)?;
                Ok(ServiceKey::Addr {
                    protocol,
                    addr,
                    port: port.unwrap_or(0),
                })
            }
        }
    }
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

impl Service {
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
        // The kernel reads an IPv4 netmask as a mask in network order, an IPv6 one as a prefix
        // length in host order.
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
    pub fn from_attrs(attrs: &[SvcAttr]) -> Result<Self, MappingError> {
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

    /// `STATS64` when the kernel sends it (3.18+), else the legacy nest's narrower counters.
    fn pick(legacy: Option<&Vec<StatsAttr>>, s64: Option<&Vec<StatsAttr>>) -> Stats {
        match (s64, legacy) {
            (Some(a), _) => Stats::from_attrs(a),
            (None, Some(a)) => Stats::from_attrs(a),
            (None, None) => Stats::default(),
        }
    }
}

impl ServiceEntry {
    /// Decodes a kernel reply's service nest.
    pub fn from_attrs(attrs: &[SvcAttr]) -> Result<Self, MappingError> {
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

fn forwarding_raw(f: &Forwarding) -> u32 {
    match f {
        Forwarding::Masquerade => fwd::MASQ,
        Forwarding::Local => fwd::LOCALNODE,
        Forwarding::Tunnel { .. } => fwd::TUNNEL,
        Forwarding::DirectRoute => fwd::DROUTE,
        Forwarding::Bypass => fwd::BYPASS,
    }
}

impl Destination {
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
        v.push(DestAttr::FwdMethod(forwarding_raw(&self.forwarding)));
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
    pub fn from_attrs(attrs: &[DestAttr], svc_family: Family) -> Result<Self, MappingError> {
        let mut family = svc_family;
        let (mut addr, mut port, mut fwdm) = (None, 0, fwd::DROUTE);
        let (mut weight, mut u, mut l) = (0, 0, 0);
        let (mut tt, mut tp, mut tf) = (0u8, 0u16, 0u16);
        for a in attrs {
            match a {
                DestAttr::AddressFamily(f) => {
                    family = Family::from_raw(*f).ok_or(MappingError::UnknownFamily {
                        object: "destination",
                        raw: *f,
                    })?
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
        let addr = decode_addr(family, addr.ok_or(missing("destination", "address"))?)?;
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

impl DestinationEntry {
    /// Decodes a kernel reply's destination nest.
    pub fn from_attrs(attrs: &[DestAttr], svc_family: Family) -> Result<Self, MappingError> {
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

fn daemon_state_raw(s: DaemonState) -> u32 {
    match s {
        DaemonState::Master => daemon_state::MASTER,
        DaemonState::Backup => daemon_state::BACKUP,
    }
}

impl Daemon {
    /// Attributes for NEW_DAEMON.
    pub fn to_attrs(&self) -> Vec<DaemonAttr> {
        let mut v = vec![
            DaemonAttr::State(daemon_state_raw(self.state)),
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
    pub fn from_attrs(attrs: &[DaemonAttr]) -> Result<Self, MappingError> {
        let mut d = Daemon::new(DaemonState::Master, "", 0);
        let mut state = None;
        for a in attrs {
            match a {
                DaemonAttr::State(s) => {
                    state = Some(match *s {
                        daemon_state::MASTER => DaemonState::Master,
                        daemon_state::BACKUP => DaemonState::Backup,
                        o => return Err(MappingError::UnknownDaemonState(o)),
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
        d.state = state.ok_or(missing("daemon", "state"))?;
        Ok(d)
    }
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
}

impl Info {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_errors_are_typed_and_say_what_is_wrong() {
        let no_af = [SvcAttr::Protocol(proto::TCP)];
        let e = ServiceKey::from_attrs(&no_af).unwrap_err();
        assert_eq!(e, missing("service", "address family"));
        assert_eq!(e.to_string(), "service without address family");

        let odd_af = [SvcAttr::AddressFamily(7)];
        assert_eq!(
            ServiceKey::from_attrs(&odd_af).unwrap_err().to_string(),
            "unknown service address family 7"
        );

        let odd_proto = [
            SvcAttr::AddressFamily(af::INET),
            SvcAttr::Protocol(99),
            SvcAttr::Address(vec![10, 0, 0, 1]),
        ];
        assert_eq!(
            ServiceKey::from_attrs(&odd_proto).unwrap_err(),
            MappingError::UnknownProtocol(99)
        );

        let short = [
            SvcAttr::AddressFamily(af::INET6),
            SvcAttr::Protocol(proto::TCP),
            SvcAttr::Address(vec![0; 4]),
        ];
        let e = ServiceKey::from_attrs(&short).unwrap_err();
        assert_eq!(
            e,
            MappingError::AddressLength {
                family: Family::Inet6,
                len: 4
            }
        );
        assert_eq!(e.to_string(), "IPv6 address of 4 bytes");

        let odd_dest_af = [DestAttr::AddressFamily(3), DestAttr::Address(vec![0; 16])];
        assert_eq!(
            Destination::from_attrs(&odd_dest_af, Family::Inet)
                .unwrap_err()
                .to_string(),
            "unknown destination address family 3"
        );
        assert_eq!(
            Destination::from_attrs(&[], Family::Inet)
                .unwrap_err()
                .to_string(),
            "destination without address"
        );

        assert_eq!(
            Daemon::from_attrs(&[DaemonAttr::State(3)]).unwrap_err(),
            MappingError::UnknownDaemonState(3)
        );
        assert_eq!(
            Daemon::from_attrs(&[]).unwrap_err().to_string(),
            "daemon without state"
        );
    }

    #[test]
    fn flag_bits_round_trip() {
        for bits in 0..64 {
            let f = ServiceFlags::from_bits(bits);
            assert_eq!(f.bits(), bits & svc_flags::USER_MASK, "{bits:#x}");
        }
    }
}
