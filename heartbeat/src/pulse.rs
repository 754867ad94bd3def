//! Piranha's pulse, as `lvs.cf` describes it: which node is the primary and which the backup,
//! the heartbeat paths on their public and private addresses, the timers, `monitor_links`, and
//! whether the authenticated protocol replaces pulse's (a director's own setting: `lvs.cf` has
//! no key).
//!
//! ```
//! use std::time::Duration;
//! use heartbeat::pulse::{Node, Pulse};
//! let mut pulse = Pulse::new("10.0.0.1".parse()?);
//! pulse.backup = Some("10.0.0.2".parse()?);
//! assert_eq!(pulse.node(&["10.0.0.2".parse()?])?, Node::Backup);
//! let (config, sockets) = pulse.config(Node::Backup, 1)?;
//! assert_eq!(config.paths[0].peer.to_string(), "10.0.0.1");
//! assert_eq!(sockets[0].local.to_string(), "10.0.0.2:539");
//! assert_eq!(config.timers.deadtime(), Duration::from_secs(5));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::config::{AuthConfig, Config, Key, Mode, PathConfig, Protocol, Timers, node_id_of};
use crate::driver::PathSocket;
use crate::error::Error;

/// pulse's UDP port.
pub const PORT: u16 = 539;

/// Which of the two routers this node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Node {
    /// It holds the `primary` address.
    Primary,
    /// It holds the `backup` address.
    Backup,
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Node::Primary => "primary",
            Node::Backup => "backup",
        })
    }
}

/// The authenticated protocol instead of pulse's, with what it needs beyond `lvs.cf`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Auth {
    /// The shared key.
    pub key: Key,
    /// Priority: the higher wins.
    pub priority: u8,
    /// Take the active role back from a lower-precedence peer.
    pub failback: bool,
    /// How long the peer must have been active before failback.
    pub preempt_delay: Duration,
    /// Our node id (`None`: our public address, [`node_id_of`]).
    pub node_id: Option<u32>,
    /// The peer's (`None`: its public address).
    pub peer_node_id: Option<u32>,
}

impl Auth {
    /// The authenticated protocol with `key`: priority 100, no failback, node ids from the
    /// addresses.
    pub fn new(key: Key) -> Auth {
        Auth {
            key,
            priority: 100,
            failback: false,
            preempt_delay: Duration::ZERO,
            node_id: None,
            peer_node_id: None,
        }
    }
}

/// A pair of routers as `lvs.cf` describes them. With the `serde` feature it reads and writes
/// as a configuration (missing fields take pulse's defaults; durations as `"2s"`); the
/// authenticated protocol's settings are not part of it, since they hold the key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
#[non_exhaustive]
pub struct Pulse {
    /// The primary's public address.
    pub primary: Ipv4Addr,
    /// The primary's private address (a second heartbeat path).
    pub primary_private: Option<Ipv4Addr>,
    /// The backup's public address (none when absent or `0.0.0.0`).
    pub backup: Option<Ipv4Addr>,
    /// The backup's private address.
    pub backup_private: Option<Ipv4Addr>,
    /// Whether the backup runs at all (`backup_active`).
    #[cfg_attr(feature = "serde", serde(default = "defaults::backup_active"))]
    pub backup_active: bool,
    /// The UDP port (`heartbeat_port`).
    #[cfg_attr(feature = "serde", serde(default = "defaults::port"))]
    pub port: u16,
    /// Time between heartbeats (`keepalive`).
    #[cfg_attr(
        feature = "serde",
        serde(default = "defaults::keepalive", with = "humantime_serde")
    )]
    pub keepalive: Duration,
    /// Silence after which the peer is dead (`deadtime`).
    #[cfg_attr(
        feature = "serde",
        serde(default = "defaults::deadtime", with = "humantime_serde")
    )]
    pub deadtime: Duration,
    /// A heartbeat path whose link goes down makes the node step down and refuse to take over
    /// (`monitor_links`).
    #[cfg_attr(feature = "serde", serde(default))]
    pub monitor_links: bool,
    /// Virtual servers or failover services (`service`).
    #[cfg_attr(feature = "serde", serde(default))]
    pub mode: Mode,
    /// The authenticated protocol (`None`: pulse's).
    #[cfg_attr(feature = "serde", serde(skip))]
    pub auth: Option<Auth>,
}

/// pulse's defaults, for [`Pulse::new`] and the fields a configuration leaves out.
mod defaults {
    use std::time::Duration;

    use crate::Timers;

    pub(super) fn backup_active() -> bool {
        true
    }

    pub(super) fn port() -> u16 {
        super::PORT
    }

    pub(super) fn keepalive() -> Duration {
        Timers::piranha().keepalive()
    }

    pub(super) fn deadtime() -> Duration {
        Timers::piranha().deadtime()
    }
}

impl Pulse {
    /// A primary alone, with pulse's defaults: port 539, keepalive 2 s, deadtime 5 s, the backup
    /// active once it has an address.
    pub fn new(primary: Ipv4Addr) -> Pulse {
        Pulse {
            primary,
            primary_private: None,
            backup: None,
            backup_private: None,
            backup_active: defaults::backup_active(),
            port: defaults::port(),
            keepalive: defaults::keepalive(),
            deadtime: defaults::deadtime(),
            monitor_links: false,
            mode: Mode::Lvs,
            auth: None,
        }
    }

    /// The pair of `lvs.cf`'s global settings; `ip` resolves a host, told which keyword it is
    /// for (`primary`, `primary_private`, `backup`, `backup_private`) so that its caller can
    /// report a name that does not resolve at its place. Addresses `0.0.0.0` count as unset, as
    /// pulse's. `None` when `primary` is unset or does not resolve (a director finds its role by
    /// holding the primary's or the backup's address).
    #[cfg(feature = "lvscf")]
    pub fn from_lvscf(
        g: &lvscf::Globals,
        ip: &mut dyn FnMut(&lvscf::Host, &'static str) -> Option<Ipv4Addr>,
    ) -> Option<Pulse> {
        let mut address = |host: Option<&lvscf::Host>, key| {
            host.and_then(|h| ip(h, key))
                .filter(|a| !a.is_unspecified())
        };
        // In file order, so that names that do not resolve are reported in that order.
        let primary = address(g.primary.as_ref(), "primary");
        let primary_private = address(g.effective_primary_private(), "primary_private");
        let backup = address(g.backup.as_ref(), "backup");
        let backup_private = address(g.effective_backup_private(), "backup_private");
        Some(Pulse {
            primary_private,
            backup,
            backup_private,
            backup_active: g.backup_active,
            port: g.heartbeat_port,
            keepalive: g.keepalive.as_duration(),
            deadtime: g.deadtime.as_duration(),
            monitor_links: g.monitor_links,
            mode: match g.service {
                lvscf::ServiceType::Fos => Mode::Fos,
                _ => Mode::Lvs,
            },
            auth: None,
            ..Pulse::new(primary?)
        })
    }

    /// The timers, checked.
    pub fn timers(&self) -> Result<Timers, Error> {
        Timers::new(self.keepalive, self.deadtime)
    }

    /// Which node this is, from its addresses (secondary ones count too; pulse saw only each
    /// interface's primary address): the primary if it holds the primary's address.
    pub fn node(&self, local: &[Ipv4Addr]) -> Result<Node, Error> {
        if local.contains(&self.primary) {
            Ok(Node::Primary)
        } else if let Some(backup) = self.backup.filter(|b| local.contains(b)) {
            if self.backup_active {
                Ok(Node::Backup)
            } else {
                // pulse: "We are backup node and backup is marked inactive -- exiting pulse".
                Err(Error::BackupInactive { backup })
            }
        } else {
            Err(Error::NotInConfig {
                primary: self.primary,
                backup: self.backup,
            })
        }
    }

    /// Whether `node` runs alone: no backup runs, or it is the same node (the published backup
    /// file names the same address twice). pulse sent no heartbeats then.
    pub fn alone(&self) -> bool {
        !self.backup_active || self.backup.is_none_or(|b| b == self.primary)
    }

    /// The heartbeat of `node`: its state machine's configuration and a socket per path (the
    /// public addresses, then the private ones when both are set). Without a peer
    /// ([`Pulse::alone`]) there is no path. `epoch` goes to the authenticated protocol (the
    /// driver's [`unix_epoch_micros`](crate::unix_epoch_micros)).
    pub fn config(&self, node: Node, epoch: u64) -> Result<(Config, Vec<PathSocket>), Error> {
        let (me, peer, my_private, peer_private) = match node {
            Node::Primary => (
                Some(self.primary),
                self.backup,
                self.primary_private,
                self.backup_private,
            ),
            Node::Backup => (
                self.backup,
                Some(self.primary),
                self.backup_private,
                self.primary_private,
            ),
        };
        let mut paths = Vec::new();
        let mut sockets = Vec::new();
        let mut path = |mine: Ipv4Addr, theirs: Ipv4Addr| {
            paths.push(PathConfig::new(IpAddr::V4(theirs)).with_critical(self.monitor_links));
            sockets.push(PathSocket {
                local: SocketAddr::new(IpAddr::V4(mine), self.port),
                peer_port: self.port,
                device: None,
            });
        };
        if let (Some(me), Some(peer)) = (me, peer)
            && !self.alone()
        {
            path(me, peer);
            if let (Some(mine), Some(theirs)) = (my_private, peer_private)
                && mine != me
                && theirs != peer
            {
                path(mine, theirs);
            }
        }
        let protocol = match (&self.auth, me, peer) {
            (Some(a), Some(me), Some(peer)) => Protocol::Auth(
                AuthConfig::new(
                    a.key.clone(),
                    a.node_id.unwrap_or(node_id_of(me.into())),
                    a.peer_node_id.unwrap_or(node_id_of(peer.into())),
                    epoch,
                )
                .with_priority(a.priority)
                .with_failback(a.failback)
                .with_preempt_delay(a.preempt_delay),
            ),
            _ => Protocol::Piranha {
                byte_order: Default::default(),
            },
        };
        let config = Config::new(protocol, self.timers()?)
            .with_primary(node == Node::Primary)
            .with_paths(paths)
            .with_mode(self.mode);
        config.validate()?;
        Ok((config, sockets))
    }
}

impl fmt::Display for Pulse {
    /// Two lines for people: the protocol and its timers, then the addresses.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |a: Option<Ipv4Addr>| a.map_or("none".to_string(), |a| a.to_string());
        let mode = match &self.auth {
            None if self.mode == Mode::Fos => "Piranha-compatible (failover services)".to_string(),
            None => "Piranha-compatible".to_string(),
            Some(a) => format!(
                "authenticated (HMAC-SHA256), priority {}, failback {}",
                a.priority,
                if a.failback {
                    format!("after {:?}", a.preempt_delay)
                } else {
                    "off".into()
                }
            ),
        };
        writeln!(
            f,
            "heartbeat: {mode}, UDP port {}, keepalive {:?}, deadtime {:?}{}",
            self.port,
            self.keepalive,
            self.deadtime,
            if self.monitor_links {
                ", links monitored"
            } else {
                ""
            }
        )?;
        writeln!(
            f,
            "  primary {} (private {}), backup {} (private {}){}",
            self.primary,
            show(self.primary_private),
            show(self.backup),
            show(self.backup_private),
            if self.backup_active {
                ""
            } else {
                ", backup inactive"
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> Pulse {
        let mut p = Pulse::new("10.0.0.1".parse().unwrap());
        p.backup = Some("10.0.0.2".parse().unwrap());
        p.primary_private = Some("192.168.9.1".parse().unwrap());
        p.backup_private = Some("192.168.9.2".parse().unwrap());
        p
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn the_role_comes_from_the_nodes_addresses() {
        let p = pair();
        assert_eq!(
            p.node(&[ip("127.0.0.1"), ip("10.0.0.1")]).unwrap(),
            Node::Primary
        );
        assert_eq!(p.node(&[ip("10.0.0.2")]).unwrap(), Node::Backup);
        let e = p.node(&[ip("10.0.0.3")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "this node has neither the primary (10.0.0.1) nor the backup (10.0.0.2) address"
        );
        let mut inactive = p.clone();
        inactive.backup_active = false;
        assert_eq!(
            inactive.node(&[ip("10.0.0.2")]).unwrap_err().to_string(),
            "this node is the backup (10.0.0.2), and `backup_active = 0` says the backup does not run"
        );
    }

    #[test]
    fn two_paths_from_the_private_addresses_and_none_for_a_router_alone() {
        let (config, sockets) = pair().config(Node::Backup, 0).unwrap();
        assert!(!config.primary);
        let peers: Vec<String> = config.paths.iter().map(|p| p.peer.to_string()).collect();
        assert_eq!(peers, ["10.0.0.1", "192.168.9.1"]);
        let locals: Vec<String> = sockets.iter().map(|s| s.local.to_string()).collect();
        assert_eq!(locals, ["10.0.0.2:539", "192.168.9.2:539"]);
        let mut alone = pair();
        alone.backup_active = false;
        assert!(alone.config(Node::Primary, 0).unwrap().0.paths.is_empty());
        let mut same = pair();
        same.backup = Some(same.primary);
        assert!(same.alone());
    }

    #[test]
    fn the_authenticated_protocol_takes_the_addresses_as_node_ids_unless_given() {
        let mut p = pair();
        p.auth = Some(Auth::new(vec![7; 16].into()));
        let (config, _) = p.config(Node::Primary, 42).unwrap();
        let Protocol::Auth(a) = config.protocol else {
            panic!("not authenticated")
        };
        assert_eq!(
            (a.node_id, a.peer_node_id, a.epoch),
            (0x0a00_0001, 0x0a00_0002, 42)
        );
        assert!(!format!("{p:?}").contains("7, 7"), "the key is not printed");
        p.keepalive = Duration::from_secs(9);
        assert!(matches!(
            p.config(Node::Primary, 0),
            Err(Error::DeadtimeNotAboveKeepalive { .. })
        ));
    }

    #[cfg(feature = "lvscf")]
    #[test]
    fn from_lvs_cf_with_names_resolved_in_file_order() {
        let doc = lvscf::Document::parse(
            "primary = 10.0.0.1\nbackup_active = 1\nbackup = router2\nheartbeat_port = 1539\n\
             keepalive = 1\ndeadtime = 3\nmonitor_links = 1\n",
        )
        .unwrap();
        let mut asked = Vec::new();
        let pulse = Pulse::from_lvscf(&doc.config().globals, &mut |host, key| {
            asked.push(key);
            match host {
                lvscf::Host::Ip(ip) => Some(*ip),
                lvscf::Host::Name(_) => Some("10.0.0.2".parse().unwrap()),
            }
        })
        .unwrap();
        // Without private addresses, pulse takes the public ones (one path then).
        assert_eq!(
            asked,
            ["primary", "primary_private", "backup", "backup_private"]
        );
        assert_eq!(pulse.backup, Some(ip("10.0.0.2")));
        assert_eq!(pulse.backup_private, Some(ip("10.0.0.2")));
        assert_eq!(pulse.config(Node::Primary, 0).unwrap().0.paths.len(), 1);
        assert_eq!((pulse.port, pulse.monitor_links), (1539, true));
        assert_eq!(pulse.timers().unwrap().deadtime(), Duration::from_secs(3));
        assert_eq!(
            pulse.to_string(),
            "heartbeat: Piranha-compatible, UDP port 1539, keepalive 1s, deadtime 3s, links monitored\n  \
             primary 10.0.0.1 (private 10.0.0.1), backup 10.0.0.2 (private 10.0.0.2)\n"
        );
        let none = lvscf::Document::parse("backup = 10.0.0.2\n").unwrap();
        assert_eq!(
            Pulse::from_lvscf(&none.config().globals, &mut |_, _| None),
            None
        );
    }
}
