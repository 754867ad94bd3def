//! What a node is told: protocol, timers, paths. Validated once, by [`Heartbeat::new`].
//!
//! [`Heartbeat::new`]: crate::Heartbeat::new

use std::net::IpAddr;
use std::time::Duration;

use crate::error::Error;
use crate::packet::ByteOrder;

/// The shortest key accepted for the authenticated protocol, in bytes.
pub const MIN_KEY_LEN: usize = 16;

/// How often to send, and how long the peer may stay silent before it is dead.
///
/// ```
/// use std::time::Duration;
/// use heartbeat::Timers;
/// let t = Timers::new(Duration::from_millis(100), Duration::from_millis(300))?;
/// assert_eq!(t.keepalive(), Duration::from_millis(100));
/// assert!(Timers::new(Duration::from_millis(300), Duration::from_millis(300)).is_err());
/// # Ok::<(), heartbeat::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "TimersSpec", into = "TimersSpec")
)]
pub struct Timers {
    keepalive: Duration,
    deadtime: Duration,
}

impl Timers {
    /// Validated timers: `keepalive` at least 1 ms, `deadtime` greater than `keepalive`.
    pub fn new(keepalive: Duration, deadtime: Duration) -> Result<Timers, Error> {
        if keepalive < Duration::from_millis(1) {
            return Err(Error::KeepaliveTooShort { keepalive });
        }
        if deadtime <= keepalive {
            return Err(Error::DeadtimeNotAboveKeepalive {
                keepalive,
                deadtime,
            });
        }
        Ok(Timers {
            keepalive,
            deadtime,
        })
    }

    /// Piranha's defaults: keepalive 2 s, deadtime 5 s.
    pub fn piranha() -> Timers {
        Timers {
            keepalive: Duration::from_secs(2),
            deadtime: Duration::from_secs(5),
        }
    }

    /// Time between two heartbeats.
    pub fn keepalive(&self) -> Duration {
        self.keepalive
    }

    /// Silence after which the peer is dead.
    pub fn deadtime(&self) -> Duration {
        self.deadtime
    }
}

/// [`Timers`] as written in a configuration, validated by [`Timers::new`] when read.
#[cfg(feature = "serde")]
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TimersSpec {
    #[serde(with = "humantime_serde")]
    keepalive: Duration,
    #[serde(with = "humantime_serde")]
    deadtime: Duration,
}

#[cfg(feature = "serde")]
impl TryFrom<TimersSpec> for Timers {
    type Error = Error;
    fn try_from(t: TimersSpec) -> Result<Timers, Error> {
        Timers::new(t.keepalive, t.deadtime)
    }
}

#[cfg(feature = "serde")]
impl From<Timers> for TimersSpec {
    fn from(t: Timers) -> TimersSpec {
        TimersSpec {
            keepalive: t.keepalive,
            deadtime: t.deadtime,
        }
    }
}

/// One heartbeat path: a pair of addresses, ours and the peer's, usually on its own network.
/// Built with [`PathConfig::new`] and the `with_*` methods (it may gain settings).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
#[non_exhaustive]
pub struct PathConfig {
    /// The peer's address on this path. Datagrams are sent to it, and a datagram is accepted
    /// only if it comes from the peer's address on one of the paths (any path, as pulse does).
    pub peer: IpAddr,
    /// The node cannot serve when this path's link is down (it steps down and does not take
    /// over). Piranha's pulse treats every monitored link as critical; in the authenticated
    /// protocol a dedicated heartbeat cable is usually not.
    #[cfg_attr(feature = "serde", serde(default))]
    pub critical: bool,
}

impl PathConfig {
    /// A path to `peer`, not critical.
    pub fn new(peer: IpAddr) -> Self {
        PathConfig {
            peer,
            critical: false,
        }
    }

    /// Whether the node cannot serve while this path's link is down.
    pub fn with_critical(mut self, critical: bool) -> Self {
        self.critical = critical;
        self
    }
}

/// The shared key of the authenticated protocol: its bytes, never printed (`Debug` shows only
/// its length).
///
/// ```
/// let key = heartbeat::Key::from(b"sixteen bytes!!!".to_vec());
/// assert_eq!(format!("{key:?}"), "Key(<16 bytes>)");
/// assert_eq!(key.len(), 16);
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Key(Vec<u8>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key(<{} bytes>)", self.0.len())
    }
}

impl std::ops::Deref for Key {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for Key {
    fn from(bytes: Vec<u8>) -> Key {
        Key(bytes)
    }
}

/// Settings of the authenticated protocol. Built with [`AuthConfig::new`] and the `with_*`
/// methods (it may gain settings).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthConfig {
    /// The shared HMAC-SHA256 key, at least [`MIN_KEY_LEN`] bytes.
    pub key: Key,
    /// Our node id. It must differ from the peer's; packets carrying any other id than
    /// `peer_node_id` are rejected (this also rejects our own packets reflected back).
    pub node_id: u32,
    /// The peer's node id.
    pub peer_node_id: u32,
    /// Our epoch: a number that is larger every time the process starts (the driver uses the
    /// wall clock in microseconds). The peer rejects packets of an older epoch than the newest it
    /// has seen, and sequence numbers are per epoch.
    pub epoch: u64,
    /// Priority; the higher wins. Ties go to the primary, then to the higher node id.
    pub priority: u8,
    /// Take the active role back from a lower-precedence active peer (keepalived's preempt).
    /// Off: like Piranha, a node that comes back stays standby.
    pub failback: bool,
    /// With `failback`, how long the lower-precedence peer must have been seen active before we
    /// take over (a flapping node then does not drag the service with it).
    pub preempt_delay: Duration,
}

impl AuthConfig {
    /// `key`, our node id, the peer's, and our epoch; priority 100, no failback.
    pub fn new(key: Key, node_id: u32, peer_node_id: u32, epoch: u64) -> Self {
        AuthConfig {
            key,
            node_id,
            peer_node_id,
            epoch,
            priority: 100,
            failback: false,
            preempt_delay: Duration::ZERO,
        }
    }

    /// With another key.
    pub fn with_key(mut self, key: Key) -> Self {
        self.key = key;
        self
    }

    /// With another peer node id.
    pub fn with_peer_node_id(mut self, id: u32) -> Self {
        self.peer_node_id = id;
        self
    }

    /// With this priority (the higher wins).
    pub fn with_priority(mut self, priority: u8) -> Self {
        self.priority = priority;
        self
    }

    /// Taking the active role back from a lower-precedence peer, or not.
    pub fn with_failback(mut self, failback: bool) -> Self {
        self.failback = failback;
        self
    }

    /// With failback, after the lower-precedence peer has been active this long.
    pub fn with_preempt_delay(mut self, delay: Duration) -> Self {
        self.preempt_delay = delay;
        self
    }
}

/// A node's id in the authenticated protocol when none is configured: its IPv4 address as a
/// number, or the XOR of an IPv6 address's four 32-bit words.
///
/// ```
/// assert_eq!(heartbeat::node_id_of("10.0.0.1".parse().unwrap()), 0x0a00_0001);
/// ```
pub fn node_id_of(ip: IpAddr) -> u32 {
    match ip {
        IpAddr::V4(a) => u32::from(a),
        IpAddr::V6(a) => a.octets().chunks(4).fold(0, |acc, c| {
            acc ^ c.iter().fold(0u32, |w, b| (w << 8) | u32::from(*b))
        }),
    }
}

/// What a pair of routers serves, which in Piranha's protocol decides the heartbeat's magic
/// numbers: LVS (`service = lvs`) or failover services (`service = fos`). Pulse gave them
/// different magics so that a pair in different modes refuse each other; STOPME ("I take
/// over") exists only in failover services. The authenticated protocol is the same in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
#[non_exhaustive]
pub enum Mode {
    /// Virtual servers (pulse's RUNNING `0xbdaddbda`, STOPPED `0xadbddabd`).
    #[default]
    Lvs,
    /// Failover services (RUNNING `0xbeefbabe`, STOPPED `0xdeadbeef`, STOPME `0xdeaddada`).
    Fos,
}

/// Which protocol is spoken on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// Piranha's pulse: 4-byte magics, no authentication. Pairs with a real pulse peer.
    Piranha {
        /// The byte order our heartbeats are sent in (pulse sends its host's). Both orders are
        /// accepted on receive.
        byte_order: ByteOrder,
    },
    /// The authenticated protocol.
    Auth(AuthConfig),
}

/// Everything a [`Heartbeat`](crate::Heartbeat) needs. Built with [`Config::new`] and the `with_*`
/// methods (it may gain settings).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The protocol.
    pub protocol: Protocol,
    /// Timers.
    pub timers: Timers,
    /// This node is the primary: in Piranha mode the LVS "master" (it wins when both are
    /// active); in the authenticated protocol it wins ties of priority.
    pub primary: bool,
    /// The heartbeat paths, numbered by [`PathId`](crate::PathId) in this order. Path 0 is the
    /// public one. No paths makes a standalone node: it sends nothing and becomes active one
    /// deadtime after start.
    pub paths: Vec<PathConfig>,
    /// LVS or failover services (Piranha's magic numbers).
    pub mode: Mode,
}

impl Config {
    /// `protocol` with `timers`: not the primary, no paths (a standalone node).
    pub fn new(protocol: Protocol, timers: Timers) -> Self {
        Config {
            protocol,
            timers,
            primary: false,
            paths: Vec::new(),
            mode: Mode::Lvs,
        }
    }

    /// In `mode` (LVS by default).
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Whether this node is the primary.
    pub fn with_primary(mut self, primary: bool) -> Self {
        self.primary = primary;
        self
    }

    /// With these heartbeat paths (path 0 is the public one).
    pub fn with_paths(mut self, paths: Vec<PathConfig>) -> Self {
        self.paths = paths;
        self
    }

    /// Validates what [`Timers::new`] cannot: the key length and the node ids.
    pub fn validate(&self) -> Result<(), Error> {
        Timers::new(self.timers.keepalive, self.timers.deadtime)?;
        if let Protocol::Auth(a) = &self.protocol {
            if a.key.len() < MIN_KEY_LEN {
                return Err(Error::KeyTooShort { len: a.key.len() });
            }
            if a.node_id == a.peer_node_id {
                return Err(Error::SameNodeId { id: a.node_id });
            }
        }
        Ok(())
    }
}

/// Reads a key file: its bytes are the key, as they are (a file of hex text is a key of those
/// ASCII characters, not of the bytes they spell). At least [`MIN_KEY_LEN`] bytes, and the
/// owner's alone: a file that its group or others may read or write is refused
/// ([`Error::KeyFileMode`]), as OpenSSH refuses such a private key.
pub fn read_key(path: &std::path::Path) -> Result<Key, Error> {
    let file_error = |e| Error::KeyFile {
        path: path.to_owned(),
        source: e,
    };
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .map_err(file_error)?
            .permissions()
            .mode()
            & 0o7777
    };
    if mode & 0o077 != 0 {
        return Err(Error::KeyFileMode {
            path: path.to_owned(),
            mode,
        });
    }
    let key = std::fs::read(path).map_err(file_error)?;
    if key.len() < MIN_KEY_LEN {
        return Err(Error::KeyTooShort { len: key.len() });
    }
    Ok(Key(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_are_validated() {
        let ms = Duration::from_millis;
        assert!(Timers::new(ms(100), ms(300)).is_ok());
        assert!(matches!(
            Timers::new(ms(0), ms(300)),
            Err(Error::KeepaliveTooShort { keepalive }) if keepalive == ms(0)
        ));
        assert!(matches!(
            Timers::new(ms(300), ms(300)),
            Err(Error::DeadtimeNotAboveKeepalive { keepalive, deadtime })
                if (keepalive, deadtime) == (ms(300), ms(300))
        ));
        assert!(matches!(
            Timers::new(ms(500), ms(300)),
            Err(Error::DeadtimeNotAboveKeepalive { keepalive, deadtime })
                if (keepalive, deadtime) == (ms(500), ms(300))
        ));
    }

    #[test]
    fn auth_config_is_validated_and_the_key_is_not_printed() {
        let auth = AuthConfig::new(b"short".to_vec().into(), 1, 2, 1)
            .with_priority(100)
            .with_failback(false)
            .with_preempt_delay(Duration::ZERO);
        let mut c = Config::new(Protocol::Auth(auth.clone()), Timers::piranha())
            .with_primary(true)
            .with_paths(vec![]);
        assert!(matches!(c.validate(), Err(Error::KeyTooShort { len: 5 })));
        assert!(!format!("{c:?}").contains("short"));
        c.protocol = Protocol::Auth(auth.with_key(vec![7; 16].into()).with_peer_node_id(1));
        assert!(matches!(c.validate(), Err(Error::SameNodeId { id: 1 })));
    }
}
