//! The typed model: what a `lvs.cf` means, with Piranha's defaults applied.
//!
//! Build one with [`Document::config`](crate::Document::config) or [`crate::parse_config`]; write
//! one out in the canonical layout with [`Config::to_document`].

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;
use std::time::Duration;

use crate::value::{inet_aton, is_host_name};

/// A whole `lvs.cf`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct Config {
    /// Top-level settings.
    pub globals: Globals,
    /// `virtual NAME { … }` blocks, in file order.
    pub virtual_servers: Vec<VirtualServer>,
    /// `failover NAME { … }` blocks, in file order.
    pub failover_services: Vec<FailoverService>,
}

/// An IPv4 address or a host name, as written (host names are kept unresolved; Piranha
/// resolves them when it starts).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Host {
    /// An address (any `inet_aton` form, normalised).
    Ip(Ipv4Addr),
    /// A host name.
    Name(String),
}

impl Host {
    /// The address, when this is one.
    pub fn ip(&self) -> Option<Ipv4Addr> {
        match self {
            Host::Ip(ip) => Some(*ip),
            Host::Name(_) => None,
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(ip) => ip.fmt(f),
            Host::Name(n) => f.write_str(n),
        }
    }
}

/// Why a string is not a [`Host`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// An IPv6 address: `lvs.cf` is IPv4 only.
    #[error("IPv6 addresses are not supported by lvs.cf: `{0}`")]
    Ipv6(String),
    /// Neither an address nor a host name.
    #[error("`{0}` is neither an IPv4 address nor a host name")]
    Invalid(String),
}

impl FromStr for Host {
    type Err = HostError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(ip) = inet_aton(s) {
            Ok(Host::Ip(ip))
        } else if s.contains(':') {
            Err(HostError::Ipv6(s.to_owned()))
        } else if is_host_name(s) {
            Ok(Host::Name(s.to_owned()))
        } else {
            Err(HostError::Invalid(s.to_owned()))
        }
    }
}

impl From<Ipv4Addr> for Host {
    fn from(ip: Ipv4Addr) -> Self {
        Host::Ip(ip)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Host {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Host {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A whole number of seconds, as `lvs.cf` writes durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct Seconds(pub u32);

impl Seconds {
    /// As a [`Duration`].
    pub fn as_duration(self) -> Duration {
        Duration::from_secs(u64::from(self.0))
    }
}

impl From<Seconds> for Duration {
    fn from(s: Seconds) -> Duration {
        s.as_duration()
    }
}

macro_rules! word_enum {
    ($(#[$m:meta])* $name:ident { $( $(#[$vm:meta])* $v:ident = $w:literal ),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        pub enum $name {
            $( $(#[$vm])* #[cfg_attr(feature = "serde", serde(rename = $w))] $v, )*
        }
        impl $name {
            /// The word as written in `lvs.cf`.
            pub fn as_str(self) -> &'static str {
                match self { $( $name::$v => $w, )* }
            }
            /// Parses the exact (case-sensitive) word.
            pub fn from_word(w: &str) -> Option<Self> {
                match w { $( $w => Some($name::$v), )* _ => None }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

word_enum! {
    /// `network`: the IPVS forwarding method.
    Network {
        /// Direct routing (`ipvsadm -g`).
        Direct = "direct",
        /// Masquerading (`ipvsadm -m`); the default.
        Nat = "nat",
        /// IP-in-IP tunnelling (`ipvsadm -i`).
        Tunnel = "tunnel",
    }
}

word_enum! {
    /// `service`: which kind of blocks pulse runs.
    ServiceType {
        /// LVS routing (`virtual` blocks); the default.
        Lvs = "lvs",
        /// Failover services (`failover` blocks).
        Fos = "fos",
    }
}

word_enum! {
    /// `protocol` of a virtual server.
    Protocol {
        /// TCP; the default.
        Tcp = "tcp",
        /// UDP.
        Udp = "udp",
    }
}

word_enum! {
    /// `scheduler` of a virtual server: the eight Piranha accepts.
    Scheduler {
        /// Round robin.
        Rr = "rr",
        /// Weighted round robin.
        Wrr = "wrr",
        /// Least connections.
        Lc = "lc",
        /// Weighted least connections; the default.
        Wlc = "wlc",
        /// Locality-based least connections.
        Lblc = "lblc",
        /// Locality-based least connections with replication.
        Lblcr = "lblcr",
        /// Destination hashing.
        Dh = "dh",
        /// Source hashing.
        Sh = "sh",
    }
}

word_enum! {
    /// `reservation_conflict_action` (shared-SCSI failover services).
    ConflictAction {
        /// Do nothing.
        Nothing = "nothing",
        /// Preempt the reservation.
        Preempt = "preempt",
    }
}

/// An address with the interface it lives on (`address = 192.168.1.250 eth0:1`,
/// `nat_router = 10.0.0.254 eth1:1`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct AddressOnDevice {
    /// The address.
    pub address: Host,
    /// The interface (alias), e.g. `eth0:1`.
    pub device: String,
}

/// The top-level settings, with Piranha's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct Globals {
    /// `serial_no` (default 0): bumped by Piranha's GUI on every save.
    pub serial_no: u32,
    /// `primary`: the primary director's public address.
    pub primary: Option<Host>,
    /// `primary_private`: see [`Globals::effective_primary_private`].
    pub primary_private: Option<Host>,
    /// `primary_shared`: shared-SCSI device (failover services).
    pub primary_shared: Option<String>,
    /// `backup`: the backup director's public address (`0.0.0.0` = none).
    pub backup: Option<Host>,
    /// `backup_active` (default false): whether there is a backup director.
    pub backup_active: bool,
    /// `backup_private`: see [`Globals::effective_backup_private`].
    pub backup_private: Option<Host>,
    /// `backup_shared`: shared-SCSI device.
    pub backup_shared: Option<String>,
    /// `reservation_conflict_action`.
    pub reservation_conflict_action: Option<ConflictAction>,
    /// `nat_nmask` (default `0.0.0.0`): netmask of the NAT router address.
    pub nat_nmask: Ipv4Addr,
    /// `nat_router`: the real servers' floating gateway.
    pub nat_router: Option<AddressOnDevice>,
    /// `active_cmd`: run when this director becomes active.
    pub active_cmd: Option<String>,
    /// `inactive_cmd`: run when this director becomes inactive.
    pub inactive_cmd: Option<String>,
    /// `monitor_links` (default false): take over when a monitored link goes down.
    pub monitor_links: bool,
    /// `debug_level` (default `NONE`; Piranha ignores it).
    pub debug_level: String,
    /// `hard_shutdown` (default true): stop everything when a monitor dies.
    pub hard_shutdown: bool,
    /// `ipvsadm` (default `/sbin/ipvsadm`).
    pub ipvsadm: String,
    /// `keepalive` (default 2 s): time between heartbeats.
    pub keepalive: Seconds,
    /// `deadtime` (default 5 s): silence after which the peer is declared dead.
    pub deadtime: Seconds,
    /// `rsh_command` (default `rsh`): used by `load_monitor = uptime`.
    pub rsh_command: String,
    /// `syncdaemon` (default false): run the IPVS connection sync daemon.
    pub syncdaemon: bool,
    /// `syncd_iface` (default `eth0`).
    pub syncd_iface: String,
    /// `syncd_id` (default 0; 0–255).
    pub syncd_id: u8,
    /// `tcp_timeout` (default 0 = keep the kernel's value).
    pub tcp_timeout: Seconds,
    /// `tcpfin_timeout` (default 0 = keep the kernel's value).
    pub tcpfin_timeout: Seconds,
    /// `udp_timeout` (default 0 = keep the kernel's value).
    pub udp_timeout: Seconds,
    /// `heartbeat` (default false; Piranha ignores it).
    pub heartbeat: bool,
    /// `heartbeat_port` (default 539): UDP port of the heartbeat.
    pub heartbeat_port: u16,
    /// `sync` (default false; Piranha ignores it).
    pub sync: bool,
    /// `network` (default `nat`).
    pub network: Network,
    /// `service` (default `lvs`).
    pub service: ServiceType,
}

impl Default for Globals {
    fn default() -> Self {
        Globals {
            serial_no: 0,
            primary: None,
            primary_private: None,
            primary_shared: None,
            backup: None,
            backup_active: false,
            backup_private: None,
            backup_shared: None,
            reservation_conflict_action: None,
            nat_nmask: Ipv4Addr::UNSPECIFIED,
            nat_router: None,
            active_cmd: None,
            inactive_cmd: None,
            monitor_links: false,
            debug_level: "NONE".to_owned(),
            hard_shutdown: true,
            ipvsadm: "/sbin/ipvsadm".to_owned(),
            keepalive: Seconds(2),
            deadtime: Seconds(5),
            rsh_command: "rsh".to_owned(),
            syncdaemon: false,
            syncd_iface: "eth0".to_owned(),
            syncd_id: 0,
            tcp_timeout: Seconds(0),
            tcpfin_timeout: Seconds(0),
            udp_timeout: Seconds(0),
            heartbeat: false,
            heartbeat_port: 539,
            sync: false,
            network: Network::Nat,
            service: ServiceType::Lvs,
        }
    }
}

impl Globals {
    /// The primary's private (heartbeat) address as Piranha uses it: `primary_private`, or
    /// `primary` when `primary_private` is absent.
    pub fn effective_primary_private(&self) -> Option<&Host> {
        self.primary_private.as_ref().or(self.primary.as_ref())
    }

    /// The backup's private address as Piranha uses it: `backup_private`; or `backup` when
    /// `primary_private` is absent too; otherwise none.
    pub fn effective_backup_private(&self) -> Option<&Host> {
        match (&self.backup_private, &self.primary_private) {
            (Some(b), _) => Some(b),
            (None, None) => self.backup.as_ref(),
            (None, Some(_)) => None,
        }
    }
}

/// A `virtual NAME { … }` block: one IPVS virtual service and its real servers.
///
/// `failover` blocks use the same keywords ([`FailoverService`] is this type).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct VirtualServer {
    /// The block's name.
    pub name: String,
    /// `active` (default false: an inactive service is ignored).
    pub active: bool,
    /// `address`: the VIP and the interface it goes on.
    pub address: Option<AddressOnDevice>,
    /// `sorry_server`: where traffic goes when every real server is down.
    pub sorry_server: Option<Ipv4Addr>,
    /// `vip_nmask` (default `0.0.0.0` = none).
    pub vip_nmask: Ipv4Addr,
    /// `fwmark` (default 0 = not a firewall-mark service).
    pub fwmark: u32,
    /// `protocol` (default `tcp`).
    pub protocol: Protocol,
    /// `port` (default 80; service names such as `http` are accepted in the file).
    pub port: u16,
    /// `scheduler` (default `wlc`).
    pub scheduler: Scheduler,
    /// `persistent` (default 0 = no persistence).
    pub persistent: Seconds,
    /// `pmask`: persistence netmask (`255.255.255.255` means none, as in Piranha).
    pub pmask: Option<Ipv4Addr>,
    /// `client_monitor` (default `/usr/sbin/nanny`).
    pub client_monitor: String,
    /// `send_program`: an external check (`%h` = real server address); replaces `send`.
    pub send_program: Option<String>,
    /// `send`: what the check sends, with its escapes such as `\r\n` as written (nanny decodes
    /// them; `healthcheck::decode_escapes` does the same).
    pub send: Option<String>,
    /// `expect`: what the check expects back (`*` = any reply).
    pub expect: Option<String>,
    /// `use_regex` (default false): `expect` is a POSIX extended regular expression.
    pub use_regex: bool,
    /// `timeout` (default 10 s): check interval and connect/read timeout.
    pub timeout: Seconds,
    /// `reentry` (default 180 s): how long a failed server must pass checks to come back.
    pub reentry: Seconds,
    /// `load_monitor` (`uptime`, `rup`, `ruptime`, `none`, or a command).
    pub load_monitor: Option<String>,
    /// `quiesce_server` (default false): on recovery, zero the connection counters.
    pub quiesce_server: bool,
    /// `start_cmd` (failover services).
    pub start_cmd: Option<String>,
    /// `stop_cmd` (failover services).
    pub stop_cmd: Option<String>,
    /// `master` (legacy; Piranha ignores it).
    pub master: Option<Host>,
    /// `dirs = [ … ]` (legacy; Piranha ignores it).
    pub dirs: Option<Vec<String>>,
    /// `server NAME { … }` blocks, in file order (duplicates kept).
    pub servers: Vec<RealServer>,
}

/// A `failover NAME { … }` block: same keywords as a virtual server.
pub type FailoverService = VirtualServer;

impl Default for VirtualServer {
    fn default() -> Self {
        VirtualServer {
            name: String::new(),
            active: false,
            address: None,
            sorry_server: None,
            vip_nmask: Ipv4Addr::UNSPECIFIED,
            fwmark: 0,
            protocol: Protocol::Tcp,
            port: 80,
            scheduler: Scheduler::Wlc,
            persistent: Seconds(0),
            pmask: None,
            client_monitor: "/usr/sbin/nanny".to_owned(),
            send_program: None,
            send: None,
            expect: None,
            use_regex: false,
            timeout: Seconds(10),
            reentry: Seconds(180),
            load_monitor: None,
            quiesce_server: false,
            start_cmd: None,
            stop_cmd: None,
            master: None,
            dirs: None,
            servers: Vec::new(),
        }
    }
}

/// A `server NAME { … }` block: one real server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct RealServer {
    /// The block's name.
    pub name: String,
    /// `address` (default `0.0.0.0`).
    pub address: Host,
    /// `active` (default false).
    pub active: bool,
    /// `weight` (default 1; 0–65535).
    pub weight: u32,
    /// `port`: by default the virtual server's `port` as it was when the `server` line was read.
    pub port: u16,
}

impl Default for RealServer {
    fn default() -> Self {
        RealServer {
            name: String::new(),
            address: Host::Ip(Ipv4Addr::UNSPECIFIED),
            active: false,
            weight: 1,
            port: 80,
        }
    }
}
