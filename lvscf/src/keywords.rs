//! The keyword tables of Piranha 0.8.6's `lvs.cf`: where each keyword may appear, how many
//! values it takes and of what type.

/// Where a statement is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Scope {
    /// The top level of the file (global settings).
    Global,
    /// Inside `virtual NAME { … }`.
    Virtual,
    /// Inside `failover NAME { … }`.
    Failover,
    /// Inside `server NAME { … }`.
    Server,
}

/// The type of a keyword's value(s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    /// Integer (decimal, hex, octal).
    Int,
    /// `0` or `1`.
    Bool,
    /// Integer or a service name.
    Port,
    /// IPv4 address or host name.
    Host,
    /// Like `Host`, but `0.0.0.0` is refused.
    HostNonZero,
    /// An IPv4 address literal only (`sorry_server`).
    Ipv4,
    /// A dotted netmask.
    Netmask,
    /// One word of a fixed set.
    Enum(&'static [&'static str]),
    /// Any single token.
    Str,
    /// Host and device (`address = 1.2.3.4 eth0:1`).
    HostDevice,
    /// `[ item … ]`
    List,
}

/// Every keyword, in one enum, so the parser records a small id per statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
#[non_exhaustive]
pub enum Key {
    // globals
    SerialNo,
    Primary,
    PrimaryPrivate,
    PrimaryShared,
    Backup,
    BackupActive,
    BackupPrivate,
    BackupShared,
    ReservationConflictAction,
    NatNmask,
    NatRouter,
    ActiveCmd,
    InactiveCmd,
    MonitorLinks,
    DebugLevel,
    HardShutdown,
    Ipvsadm,
    Keepalive,
    Deadtime,
    RshCommand,
    Syncdaemon,
    SyncdIface,
    SyncdId,
    TcpTimeout,
    TcpfinTimeout,
    UdpTimeout,
    Heartbeat,
    HeartbeatPort,
    Sync,
    Network,
    Service,
    // virtual / failover
    Active,
    Address,
    SorryServer,
    VipNmask,
    Fwmark,
    Protocol,
    Port,
    Scheduler,
    Persistent,
    Pmask,
    ClientMonitor,
    SendProgram,
    Send,
    Expect,
    UseRegex,
    Timeout,
    Reentry,
    LoadMonitor,
    QuiesceServer,
    StartCmd,
    StopCmd,
    Master,
    Dirs,
    // server
    Weight,
}

pub(crate) const SCHEDULERS: &[&str] = &["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh"];
pub(crate) const NETWORKS: &[&str] = &["direct", "nat", "tunnel"];
pub(crate) const SERVICES: &[&str] = &["lvs", "fos"];
pub(crate) const PROTOCOLS: &[&str] = &["tcp", "udp"];
pub(crate) const CONFLICT_ACTIONS: &[&str] = &["nothing", "preempt"];

impl Key {
    /// Looks a keyword up in a scope (case-sensitive, like Piranha).
    pub fn lookup(scope: Scope, word: &str) -> Option<Key> {
        use Key::*;
        let k = match scope {
            Scope::Global => match word {
                "serial_no" => SerialNo,
                "primary" => Primary,
                "primary_private" => PrimaryPrivate,
                "primary_shared" => PrimaryShared,
                "backup" => Backup,
                "backup_active" => BackupActive,
                "backup_private" => BackupPrivate,
                "backup_shared" => BackupShared,
                "reservation_conflict_action" => ReservationConflictAction,
                "nat_nmask" => NatNmask,
                "nat_router" => NatRouter,
                "active_cmd" => ActiveCmd,
                "inactive_cmd" => InactiveCmd,
                "monitor_links" => MonitorLinks,
                "debug_level" => DebugLevel,
                "hard_shutdown" => HardShutdown,
                "ipvsadm" => Ipvsadm,
                "keepalive" => Keepalive,
                "deadtime" => Deadtime,
                "rsh_command" => RshCommand,
                "syncdaemon" => Syncdaemon,
                "syncd_iface" => SyncdIface,
                "syncd_id" => SyncdId,
                "tcp_timeout" => TcpTimeout,
                "tcpfin_timeout" => TcpfinTimeout,
                "udp_timeout" => UdpTimeout,
                "heartbeat" => Heartbeat,
                "heartbeat_port" => HeartbeatPort,
                "sync" => Sync,
                "network" => Network,
                "service" => Service,
                _ => return None,
            },
            Scope::Virtual | Scope::Failover => match word {
                "active" => Active,
                "address" => Address,
                "sorry_server" => SorryServer,
                "vip_nmask" => VipNmask,
                "fwmark" => Fwmark,
                "protocol" => Protocol,
                "port" => Port,
                "scheduler" => Scheduler,
                "persistent" => Persistent,
                "pmask" => Pmask,
                "client_monitor" => ClientMonitor,
                "send_program" => SendProgram,
                "send" => Send,
                "expect" => Expect,
                "use_regex" => UseRegex,
                "timeout" => Timeout,
                "reentry" => Reentry,
                "load_monitor" => LoadMonitor,
                "quiesce_server" => QuiesceServer,
                "start_cmd" => StartCmd,
                "stop_cmd" => StopCmd,
                "master" => Master,
                "dirs" => Dirs,
                _ => return None,
            },
            Scope::Server => match word {
                "address" => Address,
                "active" => Active,
                "weight" => Weight,
                "port" => Port,
                _ => return None,
            },
        };
        Some(k)
    }

    /// The keyword as written in the file.
    pub fn name(self) -> &'static str {
        use Key::*;
        match self {
            SerialNo => "serial_no",
            Primary => "primary",
            PrimaryPrivate => "primary_private",
            PrimaryShared => "primary_shared",
            Backup => "backup",
            BackupActive => "backup_active",
            BackupPrivate => "backup_private",
            BackupShared => "backup_shared",
            ReservationConflictAction => "reservation_conflict_action",
            NatNmask => "nat_nmask",
            NatRouter => "nat_router",
            ActiveCmd => "active_cmd",
            InactiveCmd => "inactive_cmd",
            MonitorLinks => "monitor_links",
            DebugLevel => "debug_level",
            HardShutdown => "hard_shutdown",
            Ipvsadm => "ipvsadm",
            Keepalive => "keepalive",
            Deadtime => "deadtime",
            RshCommand => "rsh_command",
            Syncdaemon => "syncdaemon",
            SyncdIface => "syncd_iface",
            SyncdId => "syncd_id",
            TcpTimeout => "tcp_timeout",
            TcpfinTimeout => "tcpfin_timeout",
            UdpTimeout => "udp_timeout",
            Heartbeat => "heartbeat",
            HeartbeatPort => "heartbeat_port",
            Sync => "sync",
            Network => "network",
            Service => "service",
            Active => "active",
            Address => "address",
            SorryServer => "sorry_server",
            VipNmask => "vip_nmask",
            Fwmark => "fwmark",
            Protocol => "protocol",
            Port => "port",
            Scheduler => "scheduler",
            Persistent => "persistent",
            Pmask => "pmask",
            ClientMonitor => "client_monitor",
            SendProgram => "send_program",
            Send => "send",
            Expect => "expect",
            UseRegex => "use_regex",
            Timeout => "timeout",
            Reentry => "reentry",
            LoadMonitor => "load_monitor",
            QuiesceServer => "quiesce_server",
            StartCmd => "start_cmd",
            StopCmd => "stop_cmd",
            Master => "master",
            Dirs => "dirs",
            Weight => "weight",
        }
    }

    /// The value type in a scope (only `address` and `port` differ between scopes).
    pub(crate) fn ty(self, scope: Scope) -> Ty {
        use Key::*;
        match self {
            SerialNo | MonitorLinks | Keepalive | Deadtime | SyncdId | TcpTimeout
            | TcpfinTimeout | UdpTimeout | Fwmark | Persistent | Timeout | Reentry | Weight => {
                Ty::Int
            }
            BackupActive | HardShutdown | Syncdaemon | Heartbeat | Sync | Active | UseRegex
            | QuiesceServer => Ty::Bool,
            HeartbeatPort => Ty::Port,
            Port if scope == Scope::Server => Ty::Int,
            Port => Ty::Port,
            Primary | PrimaryPrivate | BackupPrivate => Ty::HostNonZero,
            Backup | Master => Ty::Host,
            Address if scope == Scope::Server => Ty::Host,
            Address | NatRouter => Ty::HostDevice,
            SorryServer => Ty::Ipv4,
            NatNmask | VipNmask | Pmask => Ty::Netmask,
            ReservationConflictAction => Ty::Enum(CONFLICT_ACTIONS),
            Network => Ty::Enum(NETWORKS),
            Service => Ty::Enum(SERVICES),
            Protocol => Ty::Enum(PROTOCOLS),
            Scheduler => Ty::Enum(SCHEDULERS),
            PrimaryShared | BackupShared | ActiveCmd | InactiveCmd | DebugLevel | Ipvsadm
            | RshCommand | SyncdIface | ClientMonitor | SendProgram | Send | Expect
            | LoadMonitor | StartCmd | StopCmd => Ty::Str,
            Dirs => Ty::List,
        }
    }

    /// How many values the keyword takes (`None` for a list).
    pub(crate) fn arity(self, scope: Scope) -> Option<usize> {
        match self.ty(scope) {
            Ty::HostDevice => Some(2),
            Ty::List => None,
            _ => Some(1),
        }
    }

    /// Keywords whose value Piranha keeps with its quote characters (and lvsd strips only `"`).
    pub(crate) fn keeps_quotes(self) -> bool {
        matches!(
            self,
            Key::Send | Key::Expect | Key::SendProgram | Key::StartCmd | Key::StopCmd
        )
    }

    /// Keywords Piranha parses and never uses.
    pub(crate) fn ignored_by_piranha(self) -> bool {
        matches!(
            self,
            Key::Heartbeat | Key::DebugLevel | Key::Sync | Key::Master | Key::Dirs
        )
    }
}

/// The words that open a block.
pub(crate) fn block_scope(word: &str) -> Option<Scope> {
    match word {
        "virtual" => Some(Scope::Virtual),
        "failover" => Some(Scope::Failover),
        "server" => Some(Scope::Server),
        _ => None,
    }
}

impl Scope {
    /// The word that opens a block of this scope (`""` for the top level).
    pub fn keyword(self) -> &'static str {
        match self {
            Scope::Global => "",
            Scope::Virtual => "virtual",
            Scope::Failover => "failover",
            Scope::Server => "server",
        }
    }
}
