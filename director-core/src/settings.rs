//! The settings overlay, `director.toml`: what `lvs.cf` cannot say. `lvs.cf` stays the source
//! of everything it can express; the overlay adds to it and refers to its virtual and real
//! servers by name (a real server also by its address, since Piranha's GUI names every one
//! `localhost.localdomain`). Without an overlay the director behaves as Piranha. Every key is
//! optional; durations are written `200ms`, `1s`, `5m`.
//!
//! ```toml
//! [heartbeat]
//! mode = "authenticated"        # or "piranha" (the default: pairs with a running pulse)
//! key_file = "/etc/sysconfig/ha/heartbeat.key"   # authenticated: 16 bytes or more, the same on both
//! priority = 150                # authenticated: the higher wins (default 100)
//! failback = true               # authenticated: take the active role back from a lower-priority peer
//! preempt_delay = "30s"         # … once it has been active this long
//! keepalive = "200ms"           # instead of lvs.cf's whole seconds
//! deadtime = "1s"
//! node_id = 1                   # authenticated: default, the public IPv4 address as a number
//! peer_node_id = 2
//!
//! [director]
//! drain_timeout = "5m"          # a real server removed by a reload drains this long at most
//! table = "always"              # or "when-active" (Piranha: only the active router programs IPVS)
//! reconcile_interval = "10s"    # the owned IPVS entries and addresses are checked and repaired
//! socket = "/run/director.sock" # the control socket (`director status`, …)
//! control_group = "lvsadmin"     # who may use it besides root (none by default)
//! metrics = "127.0.0.1:9135"    # a Prometheus endpoint (none by default)
//! address_probe = "50ms"        # RFC 5227 probe before claiming an address ("0s": none)
//!
//! [track]                       # what makes this router unfit to be active
//! threshold = 1                 # failing weight that makes it step down (default 1)
//! [[track.interface]]
//! name = "eth2"                 # must be up with a carrier; weight = 1 by default
//! [[track.gateway]]
//! address = "192.168.1.1"       # must answer ping: interval 1s, timeout = interval, fall 3
//! [[track.script]]
//! command = "/usr/local/bin/upstream-ok"   # must exit 0: interval 2s, timeout = interval, fall 1
//! weight = 2
//!
//! [hooks]
//! role = "/etc/sysconfig/ha/notify-role"       # runs with: ROLE REASON
//! server = "/etc/sysconfig/ha/notify-server"   # runs with: VIRTUAL SERVER ADDRESS:PORT EVENT REASON
//! timeout = "30s"   # a hook (or active_cmd, inactive_cmd) still running then is killed, with
//!                   # whatever it started in its process group
//!
//! [cluster]                     # several directors serving at once behind ECMP
//! mode = "active-active"        # or "active-standby" (the default: a pair and its heartbeat)
//! table = 250                   # the VIP host routes' table, which BIRD's kernel protocol imports
//! protocol = 250                # their route protocol (`proto 250`)
//! min_healthy = 1               # healthy real servers a virtual service needs for its VIP
//! hold_down = "5s"              # servable this long before a VIP is announced…
//! max_hold_down = "2m"          # … doubling up to this while it flaps
//! stable_after = "1m"           # an announcement this long was stable (the hold-down resets)
//!
//! [virtual.HTTP]                # lvs.cf's `virtual HTTP`
//! forwarding = "direct"         # "nat", "direct" or "tunnel": instead of lvs.cf's global `network`
//! scheduler = "mh"              # any of the kernel's, instead of lvs.cf's (Piranha's list)
//! scheduler_flags = ["mh-port"] # ipvsadm's -b: mh-fallback, mh-port, sh-fallback, sh-port
//! rise = 2                      # successes in a row to put a real server in (default 1, as nanny)
//! fall = 3                      # failures in a row to take it out (default 1)
//! drain_timeout = "1m"
//! http = { path = "/health", status = "200-299", expect = "OK" }   # instead of send/expect
//!
//! ipv6 = "fd00:1::250/64 eth0" # an IPv6 service beside the IPv4 one (same port, checks…)
//!
//! [virtual.HTTP.server."10.0.0.100"]   # a real server, by name or address
//! ipv6 = "fd00:10::100"         # its IPv6 address, in the IPv6 service
//!
//! [ipv6]
//! nat_router = "fd00:10::254/64 eth1"  # the real servers' IPv6 gateway (NAT), taken over too
//! ```
//!
//! The HTTP check takes `method` (GET), `path` (/), `host`, `status` (200-299), `expect` (a body
//! substring), `https` (false), `insecure` (false), `sni`, `ca_file` and `keep_alive` (false).

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf, time::Duration};

use serde::{Deserialize, Deserializer};
use toml::Spanned;

/// Where the overlay is read from when no `--settings` names one (and it exists).
pub const DEFAULT_SETTINGS: &str = "/etc/director/director.toml";

/// A problem in the overlay, at a line and column of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct SettingsError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// What is wrong.
    pub message: String,
}

/// The parsed overlay.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `[heartbeat]`.
    #[serde(default)]
    pub heartbeat: HeartbeatSettings,
    /// `[director]`.
    #[serde(default)]
    pub director: DirectorSettings,
    /// `[hooks]`.
    #[serde(default)]
    pub hooks: Hooks,
    /// `[ipv6]`: what IPv6 needs besides the virtual and real servers' addresses.
    #[serde(default)]
    pub ipv6: Ipv6Settings,
    /// `[track]`: what makes this router unfit to be active.
    #[serde(default)]
    pub track: TrackSettings,
    /// `[cluster]`: several directors serving at once.
    #[serde(default)]
    pub cluster: ClusterSettings,
    /// `[virtual.NAME]`, by lvs.cf's virtual server names.
    #[serde(default, rename = "virtual")]
    pub virtuals: BTreeMap<Spanned<String>, VirtualSettings>,
    /// The text, to turn spans into lines and columns.
    #[serde(skip)]
    source: String,
}

/// The heartbeat's protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Piranha's pulse protocol (the default).
    #[default]
    Piranha,
    /// HMAC-SHA256 authenticated datagrams, millisecond timers, resign, failback.
    Authenticated,
}

/// `[heartbeat]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatSettings {
    /// The protocol.
    pub mode: Option<Spanned<Mode>>,
    /// The shared key (authenticated mode).
    pub key_file: Option<Spanned<PathBuf>>,
    /// Priority (authenticated mode).
    pub priority: Option<u8>,
    /// Take the active role back from a lower-precedence peer (authenticated mode).
    pub failback: Option<bool>,
    /// How long the peer must have been active before failback.
    #[serde(default, deserialize_with = "duration")]
    pub preempt_delay: Option<Spanned<Duration>>,
    /// Time between heartbeats.
    #[serde(default, deserialize_with = "duration")]
    pub keepalive: Option<Spanned<Duration>>,
    /// Silence after which the peer is dead.
    #[serde(default, deserialize_with = "duration")]
    pub deadtime: Option<Spanned<Duration>>,
    /// Our node id (authenticated mode).
    pub node_id: Option<Spanned<u32>>,
    /// The peer's node id (authenticated mode).
    pub peer_node_id: Option<Spanned<u32>>,
}

/// When the IPVS table is programmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TableSetting {
    /// On both routers.
    Always,
    /// Only on the active router, as Piranha.
    WhenActive,
}

/// `[director]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectorSettings {
    /// How long a removed real server drains at most.
    #[serde(default, deserialize_with = "duration")]
    pub drain_timeout: Option<Spanned<Duration>>,
    /// When the IPVS table is programmed.
    pub table: Option<TableSetting>,
    /// How often the owned IPVS entries and addresses are checked against the kernel.
    #[serde(default, deserialize_with = "duration")]
    pub reconcile_interval: Option<Spanned<Duration>>,
    /// The control socket's path.
    pub socket: Option<PathBuf>,
    /// The group whose members may use the control socket (besides root).
    pub control_group: Option<String>,
    /// The Prometheus endpoint's address: `"ADDRESS:PORT"`, or a port alone (`9135` or
    /// `":9135"`) or `true` (port [`DEFAULT_METRICS_PORT`]) for loopback only.
    #[serde(default, deserialize_with = "metrics_address")]
    pub metrics: Option<SocketAddr>,
    /// How long to listen for another holder of an address before claiming it (RFC 5227);
    /// `0s`: no probe.
    #[serde(default, deserialize_with = "duration")]
    pub address_probe: Option<Spanned<Duration>>,
}

/// `[hooks]`: programs run on events, with arguments (keepalived's `notify_*`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hooks {
    /// On a role change: `ROLE REASON`.
    pub role: Option<Spanned<String>>,
    /// On a real server's change: `VIRTUAL SERVER ADDRESS:PORT EVENT REASON`.
    pub server: Option<Spanned<String>>,
    /// When a hook, `active_cmd` or `inactive_cmd` still running is killed
    /// (default [`HOOK_TIMEOUT`]).
    #[serde(default, deserialize_with = "duration")]
    pub timeout: Option<Spanned<Duration>>,
}

/// How long a hook, `active_cmd` or `inactive_cmd` may run when `[hooks] timeout` does not
/// say: then it is killed, with whatever it left running in its process group.
pub const HOOK_TIMEOUT: Duration = Duration::from_secs(30);

/// An IPv6 address taken over, written `ADDRESS/PREFIX DEVICE` (`fd00:1::250/64 eth0`; a
/// label after the device, `eth0:1`, is accepted and ignored: IPv6 has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6On {
    /// The address.
    pub address: std::net::Ipv6Addr,
    /// Its prefix length (128 when not written).
    pub prefix: u8,
    /// The interface.
    pub device: String,
}

impl<'de> Deserialize<'de> for Ipv6On {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let bad = |why: &str| {
            serde::de::Error::custom(format!(
                "`{text}`: {why} (write ADDRESS/PREFIX DEVICE, e.g. \"fd00:1::250/64 eth0\")"
            ))
        };
        let mut words = text.split_whitespace();
        let (Some(addr), Some(device), None) = (words.next(), words.next(), words.next()) else {
            return Err(bad("an address and an interface"));
        };
        let (addr, prefix) = match addr.split_once('/') {
            Some((a, p)) => (
                a,
                p.parse::<u8>()
                    .ok()
                    .filter(|p| *p <= 128)
                    .ok_or_else(|| bad("a prefix of 0 to 128"))?,
            ),
            None => (addr, 128),
        };
        let address = addr.parse().map_err(|_| bad("not an IPv6 address"))?;
        let device = device.split(':').next().unwrap_or(device).to_string();
        Ok(Ipv6On {
            address,
            prefix,
            device,
        })
    }
}

/// `[ipv6]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ipv6Settings {
    /// The real servers' IPv6 gateway, taken over with the VIPs (lvs.cf's `nat_router` for
    /// IPv6).
    pub nat_router: Option<Ipv6On>,
}

/// `[track]`: the router's own health, beside the heartbeat's links (keepalived's
/// `track_interface`, `track_script`). When the weights of the failing ones add up to
/// `threshold`, the router steps down (and does not take over) until they recover.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackSettings {
    /// The failing weight that makes the router unfit (default 1: any failure).
    pub threshold: Option<Spanned<u32>>,
    /// `[[track.interface]]`: an interface that must be up with a carrier.
    #[serde(default)]
    pub interface: Vec<TrackInterface>,
    /// `[[track.gateway]]`: an address that must answer ICMP echo.
    #[serde(default)]
    pub gateway: Vec<TrackGateway>,
    /// `[[track.script]]`: a program that must exit 0.
    #[serde(default)]
    pub script: Vec<TrackScript>,
}

/// `[[track.interface]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackInterface {
    /// The interface.
    pub name: String,
    /// Its weight (default 1).
    pub weight: Option<u32>,
}

/// `[[track.gateway]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackGateway {
    /// The address to ping.
    pub address: std::net::IpAddr,
    /// Time between pings (default 1s).
    #[serde(default, deserialize_with = "duration")]
    pub interval: Option<Spanned<Duration>>,
    /// How long a reply may take (default: the interval).
    #[serde(default, deserialize_with = "duration")]
    pub timeout: Option<Spanned<Duration>>,
    /// Pings lost in a row before it counts as failing (default 3).
    pub fall: Option<Spanned<u32>>,
    /// Its weight (default 1).
    pub weight: Option<u32>,
}

/// `[[track.script]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackScript {
    /// The command line (split into words, run without a shell).
    pub command: Spanned<String>,
    /// Time between runs (default 2s).
    #[serde(default, deserialize_with = "duration")]
    pub interval: Option<Spanned<Duration>>,
    /// How long a run may take (default: the interval).
    #[serde(default, deserialize_with = "duration")]
    pub timeout: Option<Spanned<Duration>>,
    /// Failed runs in a row before it counts as failing (default 1).
    pub fall: Option<Spanned<u32>>,
    /// Its weight (default 1).
    pub weight: Option<u32>,
}

/// How directors share the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClusterMode {
    /// A pair: one active, one standby, chosen by the heartbeat (Piranha's way; the default).
    #[default]
    ActiveStandby,
    /// Every director serves, behind a router that spreads flows over them by ECMP; each
    /// announces a VIP (through the routing daemon, over BGP) while it can serve it.
    ActiveActive,
}

/// `[cluster]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSettings {
    /// The mode.
    pub mode: Option<Spanned<ClusterMode>>,
    /// The routing table of the VIP host routes (default 250).
    pub table: Option<Spanned<u32>>,
    /// Their route protocol (default 250).
    pub protocol: Option<Spanned<u8>>,
    /// Healthy real servers a virtual service needs for its VIP to be announced (default 1).
    pub min_healthy: Option<Spanned<usize>>,
    /// How long a VIP must be servable before it is announced (default 5 s).
    #[serde(default, deserialize_with = "duration")]
    pub hold_down: Option<Spanned<Duration>>,
    /// The longest hold-down, as it doubles while a VIP flaps (default 2 minutes).
    #[serde(default, deserialize_with = "duration")]
    pub max_hold_down: Option<Spanned<Duration>>,
    /// An announcement that lasted this long was stable (default 1 minute).
    #[serde(default, deserialize_with = "duration")]
    pub stable_after: Option<Spanned<Duration>>,
}

impl ClusterSettings {
    /// Whether the directors all serve at once.
    pub fn active_active(&self) -> bool {
        self.mode
            .as_ref()
            .is_some_and(|m| *m.get_ref() == ClusterMode::ActiveActive)
    }

    /// The announcement rule's settings.
    pub fn announcer(&self) -> cluster::Settings {
        let d = cluster::Settings::default();
        let get =
            |v: &Option<Spanned<Duration>>, or: Duration| v.as_ref().map_or(or, |v| *v.get_ref());
        d.clone()
            .with_min_healthy(
                self.min_healthy
                    .as_ref()
                    .map_or(d.min_healthy, |n| *n.get_ref()),
            )
            .with_hold_down(
                get(&self.hold_down, d.hold_down),
                get(&self.max_hold_down, d.max_hold_down),
            )
            .with_stable_after(get(&self.stable_after, d.stable_after))
    }
}

/// The forwarding method of one virtual server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForwardingSetting {
    /// Masquerading.
    Nat,
    /// Direct routing.
    Direct,
    /// IP-in-IP.
    Tunnel,
}

impl ForwardingSetting {
    /// As lvs.cf's `network` says it.
    pub fn network(self) -> lvscf::Network {
        match self {
            ForwardingSetting::Nat => lvscf::Network::Nat,
            ForwardingSetting::Direct => lvscf::Network::Direct,
            ForwardingSetting::Tunnel => lvscf::Network::Tunnel,
        }
    }
}

/// `[virtual.NAME]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirtualSettings {
    /// Its forwarding method, instead of lvs.cf's global `network`.
    pub forwarding: Option<ForwardingSetting>,
    /// Its scheduler, instead of lvs.cf's (which knows only Piranha's): any of the kernel's,
    /// such as `mh` (Maglev hashing) for active-active directors.
    pub scheduler: Option<Spanned<String>>,
    /// The scheduler's flags, as ipvsadm's `-b` spells them: `mh-fallback`, `mh-port`,
    /// `sh-fallback`, `sh-port`.
    #[serde(default)]
    pub scheduler_flags: Vec<Spanned<String>>,
    /// Successes in a row to put a real server in.
    pub rise: Option<Spanned<u32>>,
    /// Failures in a row to take it out.
    pub fall: Option<Spanned<u32>>,
    /// How long a removed real server of this service drains at most.
    #[serde(default, deserialize_with = "duration")]
    pub drain_timeout: Option<Spanned<Duration>>,
    /// An HTTP or HTTPS check instead of send/expect.
    pub http: Option<Spanned<healthcheck::HttpSpec>>,
    /// An IPv6 service beside the IPv4 one: the same port, protocol (or firewall mark),
    /// scheduler, persistence and checks, for the real servers given an `ipv6` address.
    pub ipv6: Option<Ipv6On>,
    /// `[virtual.NAME.server.NAME_OR_ADDRESS]`.
    #[serde(default)]
    pub server: BTreeMap<Spanned<String>, ServerSettings>,
}

/// `[virtual.NAME.server.NAME_OR_ADDRESS]`: one real server.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Its IPv6 address, in the virtual server's IPv6 service.
    pub ipv6: Option<Spanned<std::net::Ipv6Addr>>,
}

/// A duration written for people (`200ms`, `1s`, `5m`).
/// The metrics endpoint's port when the overlay says only `metrics = true`.
pub const DEFAULT_METRICS_PORT: u16 = 9135;

/// `metrics`: an address and port; a port alone, or `true`, listens on loopback only (an
/// endpoint nobody asked to expose is not exposed); `false` is none.
fn metrics_address<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        Enabled(bool),
        Port(i64),
        Text(String),
    }
    let loopback = |port| Some(SocketAddr::from(([127, 0, 0, 1], port)));
    match Given::deserialize(d)? {
        Given::Enabled(false) => Ok(None),
        Given::Enabled(true) => Ok(loopback(DEFAULT_METRICS_PORT)),
        Given::Port(port) => u16::try_from(port).map(loopback).map_err(|_| {
            serde::de::Error::custom(format!(
                "`{port}` is not an address and port (such as 127.0.0.1:9135), a port alone \
                 (9135, \":9135\", on loopback) or true: not a port"
            ))
        }),
        Given::Text(text) => match text.strip_prefix(':').map(str::parse::<u16>) {
            Some(Ok(port)) => Ok(loopback(port)),
            _ => text.parse().map(Some).map_err(|e| {
                serde::de::Error::custom(format!(
                    "`{}` is not an address and port (such as 127.0.0.1:9135), a port alone \
                     (9135, \":9135\", on loopback) or true: {e}",
                    lvscf::shorten(&text)
                ))
            }),
        },
    }
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Spanned<Duration>>, D::Error> {
    let text = Spanned::<String>::deserialize(d)?;
    let span = text.span();
    let value = humantime::parse_duration(text.get_ref()).map_err(|e| {
        serde::de::Error::custom(format!(
            "`{}` is not a duration (such as 200ms, 1s, 5m): {e}",
            text.get_ref()
        ))
    })?;
    Ok(Some(Spanned::new(span, value)))
}

impl Settings {
    /// Parses an overlay. The first problem is returned with its line and column.
    ///
    /// ```
    /// let s = director_core::Settings::parse("[heartbeat]\nkeepalive = \"200ms\"\n")?;
    /// assert_eq!(
    ///     s.heartbeat.keepalive.map(|k| *k.get_ref()),
    ///     Some(std::time::Duration::from_millis(200))
    /// );
    /// let e = director_core::Settings::parse("[heartbeat]\nkeepalive = 5\n").unwrap_err();
    /// assert_eq!((e.line, e.column), (2, 13));
    /// # Ok::<(), director_core::SettingsError>(())
    /// ```
    pub fn parse(text: &str) -> Result<Settings, SettingsError> {
        let mut settings: Settings = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            position(text, span.start, e.message().to_string())
        })?;
        settings.source = text.to_string();
        Ok(settings)
    }

    /// An error at the place `span` of the overlay.
    pub fn error(&self, span: std::ops::Range<usize>, message: impl Into<String>) -> SettingsError {
        position(&self.source, span.start, message.into())
    }

    /// Checks the overlay against `config` (the lvs.cf it goes with): names that lvs.cf does
    /// not have, settings that cannot work (a missing or short key, equal node ids, timers,
    /// an HTTP check that cannot be sent, a hook that cannot be split into words). Every
    /// problem is reported, with its place in the overlay.
    pub fn check(&self, config: &lvscf::Config) -> Vec<SettingsError> {
        let mut out = Vec::new();
        let h = &self.heartbeat;
        let auth = h
            .mode
            .as_ref()
            .is_some_and(|m| *m.get_ref() == Mode::Authenticated);
        if auth {
            match &h.key_file {
                None => out.push(self.error(
                    h.mode.as_ref().map_or(0..0, Spanned::span),
                    "the authenticated heartbeat needs `key_file`",
                )),
                Some(file) => {
                    if let Err(e) = heartbeat::read_key(file.get_ref()) {
                        let why = std::error::Error::source(&e)
                            .map_or_else(|| e.to_string(), |s| format!("{e}: {s}"));
                        out.push(self.error(file.span(), why));
                    }
                }
            }
            if let (Some(a), Some(b)) = (&h.node_id, &h.peer_node_id)
                && a.get_ref() == b.get_ref()
            {
                out.push(self.error(
                    b.span(),
                    format!("node_id and peer_node_id are both {}", a.get_ref()),
                ));
            }
        }
        let g = &config.globals;
        let keepalive = h
            .keepalive
            .as_ref()
            .map_or(g.keepalive.as_duration(), |k| *k.get_ref());
        let deadtime = h
            .deadtime
            .as_ref()
            .map_or(g.deadtime.as_duration(), |d| *d.get_ref());
        if (h.keepalive.is_some() || h.deadtime.is_some())
            && let Err(e) = heartbeat::Timers::new(keepalive, deadtime)
        {
            let at = h
                .deadtime
                .as_ref()
                .or(h.keepalive.as_ref())
                .map_or(0..0, Spanned::span);
            out.push(self.error(at, format!("the heartbeat cannot run: {e}")));
        }
        let t = &self.track;
        if let Some(n) = &t.threshold
            && *n.get_ref() == 0
        {
            out.push(self.error(n.span(), "threshold must be at least 1"));
        }
        for fall in t
            .gateway
            .iter()
            .map(|g| &g.fall)
            .chain(t.script.iter().map(|s| &s.fall))
            .flatten()
        {
            if *fall.get_ref() == 0 {
                out.push(self.error(fall.span(), "fall must be at least 1"));
            }
        }
        for d in t
            .gateway
            .iter()
            .flat_map(|g| [&g.interval, &g.timeout])
            .chain(t.script.iter().flat_map(|s| [&s.interval, &s.timeout]))
            .flatten()
        {
            if d.get_ref().is_zero() {
                out.push(self.error(d.span(), "must be longer than 0s"));
            }
        }
        for s in &t.script {
            if let Err(e) = healthcheck::CommandTemplate::parse(s.command.get_ref()) {
                out.push(self.error(s.command.span(), format!("track.script: {e}")));
            }
        }
        if let Some(t) = &self.hooks.timeout
            && t.get_ref().is_zero()
        {
            out.push(self.error(t.span(), "hooks.timeout must be longer than 0s"));
        }
        for (key, hook) in [("role", &self.hooks.role), ("server", &self.hooks.server)] {
            if let Some(line) = hook
                && shlex::split(line.get_ref()).is_none_or(|w| w.is_empty())
            {
                out.push(self.error(
                    line.span(),
                    format!("hooks.{key}: cannot split {:?} into words", line.get_ref()),
                ));
            }
        }
        out.extend(self.check_cluster(config));
        for (name, v) in &self.virtuals {
            let Some(vs) = config
                .virtual_servers
                .iter()
                .find(|vs| vs.name == *name.get_ref())
            else {
                out.push(self.error(
                    name.span(),
                    format!("lvs.cf has no virtual server `{}`", name.get_ref()),
                ));
                continue;
            };
            out.extend(self.check_scheduler(vs, v));
            for (key, n) in [("rise", &v.rise), ("fall", &v.fall)] {
                if let Some(n) = n
                    && *n.get_ref() == 0
                {
                    out.push(self.error(n.span(), format!("{key} must be at least 1")));
                }
            }
            if let Some(http) = &v.http
                && let Err(e) = http.get_ref().check().and_then(|c| {
                    healthcheck::Probe::new(
                        ([127, 0, 0, 1], vs.port).into(),
                        healthcheck::Check::Http(c),
                        healthcheck::Binding::default(),
                        healthcheck::Timeouts::default(),
                    )
                })
            {
                out.push(self.error(http.span(), format!("http: {e}")));
            }
            for (server, settings) in &v.server {
                let wanted = server.get_ref();
                let found = (vs.servers.iter())
                    .filter(|rs| rs.name == *wanted || rs.address.to_string() == *wanted)
                    .count();
                match found {
                    1 => {}
                    0 => out.push(self.error(
                        server.span(),
                        format!(
                            "virtual {} has no real server named or addressed `{wanted}`",
                            vs.name
                        ),
                    )),
                    n => out.push(self.error(
                        server.span(),
                        format!(
                            "virtual {} has {n} real servers named `{wanted}`: name it by its address",
                            vs.name
                        ),
                    )),
                }
                if let Some(ip) = &settings.ipv6
                    && v.ipv6.is_none()
                {
                    out.push(self.error(
                        ip.span(),
                        format!(
                            "virtual {} has no `ipv6` address for this one to serve",
                            vs.name
                        ),
                    ));
                }
            }
        }
        out
    }

    /// A virtual server's `scheduler` and `scheduler_flags`.
    fn check_scheduler(
        &self,
        vs: &lvscf::VirtualServer,
        v: &VirtualSettings,
    ) -> Vec<SettingsError> {
        let mut out = Vec::new();
        let name = match &v.scheduler {
            Some(s) => {
                if let ipvs::Scheduler::Other(n) = ipvs::Scheduler::from_name(s.get_ref()) {
                    out.push(self.error(
                        s.span(),
                        format!("unknown scheduler `{n}`: one of rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos"),
                    ));
                }
                s.get_ref().clone()
            }
            None => vs.scheduler.to_string(),
        };
        for flag in &v.scheduler_flags {
            let ok = match flag.get_ref().split_once('-') {
                Some((family, "fallback" | "port")) => {
                    family == name && matches!(family, "sh" | "mh")
                }
                _ => false,
            };
            if !ok {
                out.push(self.error(
                    flag.span(),
                    format!(
                        "scheduler flag `{}` does not go with scheduler {name}: mh-fallback and mh-port go with mh, sh-fallback and sh-port with sh",
                        flag.get_ref()
                    ),
                ));
            }
        }
        out
    }

    /// `[cluster]` against `config`: active-active refuses NAT (named per virtual server, at
    /// `mode`), a table or protocol the kernel keeps for itself, and announcement timers that
    /// cannot work.
    fn check_cluster(&self, config: &lvscf::Config) -> Vec<SettingsError> {
        let c = &self.cluster;
        let mut out = Vec::new();
        let Some(mode) = c.mode.as_ref().filter(|_| c.active_active()) else {
            return out;
        };
        for vs in config.virtual_servers.iter().filter(|v| v.active) {
            let network = (self.virtual_server(&vs.name))
                .and_then(|v| v.forwarding)
                .map_or(config.globals.network, ForwardingSetting::network);
            if let Some(r) = cluster::check::refused(&vs.name, &ipvs::lvscf::forwarding(network)) {
                out.push(self.error(mode.span(), r.to_string()));
            }
        }
        if config.globals.nat_router.is_some() || self.ipv6.nat_router.is_some() {
            out.push(self.error(
                mode.span(),
                "nat_router cannot be taken over in active-active mode: every director would \
                 hold the real servers' gateway address at once (NAT is refused in this mode; \
                 remove nat_router)",
            ));
        }
        if let Some(t) = &c.table
            && matches!(t.get_ref(), 0 | 253..=255)
        {
            out.push(self.error(
                t.span(),
                "table: 0, 253 (default), 254 (main) and 255 (local) are the kernel's; use a table of the VIP routes' own (250 by default)",
            ));
        }
        if let Some(p) = &c.protocol
            && *p.get_ref() <= 4
        {
            out.push(self.error(
                p.span(),
                "protocol: 0 to 4 are the kernel's (unspec, redirect, kernel, boot, static); use one of the VIP routes' own (250 by default)",
            ));
        }
        if let Err(e) = c.announcer().validate() {
            let at = (c.min_healthy.as_ref().map(Spanned::span))
                .or(c.max_hold_down.as_ref().map(Spanned::span))
                .unwrap_or(mode.span());
            out.push(self.error(at, e.to_string()));
        }
        out
    }

    /// The settings of virtual server `name`.
    pub fn virtual_server(&self, name: &str) -> Option<&VirtualSettings> {
        self.virtuals
            .iter()
            .find(|(k, _)| k.get_ref() == name)
            .map(|(_, v)| v)
    }
}

/// The longest message a parser of operator input gives, in characters.
const MAX_MESSAGE: usize = 300;

/// `message` with every quoted value at most ~80 characters long ([`lvscf::shorten`]) and, as a
/// value of short words can still be long, at most [`MAX_MESSAGE`] characters in all.
pub(crate) fn bounded(message: &str) -> String {
    let short = lvscf::shorten(message);
    let n = short.chars().count();
    if n <= MAX_MESSAGE {
        return short.into_owned();
    }
    let head: String = short.chars().take(MAX_MESSAGE - 30).collect();
    format!("{head}… ({n} characters)")
}

fn position(text: &str, offset: usize, message: String) -> SettingsError {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    SettingsError {
        line: u32::try_from(line).unwrap_or(u32::MAX),
        column: u32::try_from(column).unwrap_or(u32::MAX),
        message: bounded(&message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_without_an_address_listen_on_loopback() {
        for (given, addr) in [
            ("\"0.0.0.0:9100\"", Some("0.0.0.0:9100")),
            ("\"[::1]:9100\"", Some("[::1]:9100")),
            ("9200", Some("127.0.0.1:9200")),
            ("\":9300\"", Some("127.0.0.1:9300")),
            ("true", Some("127.0.0.1:9135")),
            ("false", None),
        ] {
            let s = Settings::parse(&format!("[director]\nmetrics = {given}\n"))
                .unwrap_or_else(|e| panic!("{given}: {e}"));
            assert_eq!(
                s.director.metrics,
                addr.map(|a| a.parse().expect("address")),
                "{given}"
            );
        }
    }

    #[test]
    fn errors_name_their_line_and_column() {
        for (text, at, what) in [
            (
                "[heartbeat]\nmode = \"pulse\"\n",
                (2, 8),
                "unknown variant `pulse`",
            ),
            (
                "[director]\ndrain_timeout = \"soon\"\n",
                (2, 17),
                "`soon` is not a duration",
            ),
            ("[virtual.A]\nrise = -1\n", (2, 8), "invalid value"),
            ("[virtual.A]\nfal = 1\n", (2, 1), "unknown field `fal`"),
            (
                "[heartbeat]\nkeepalive = \"1s\"\n[oops]\n",
                (3, 2),
                "unknown field `oops`",
            ),
            (
                "[director]\nmetrics = \"localhost\"\n",
                (2, 11),
                "`localhost` is not an address and port",
            ),
            (
                "[director]\nmetrics = 70000\n",
                (2, 11),
                "is not an address and port",
            ),
            (
                "[virtual.A]\nhttp = { path = 1 }\n",
                (2, 17),
                "invalid type",
            ),
        ] {
            let e = Settings::parse(text).unwrap_err();
            assert_eq!((e.line, e.column), at, "{text:?}: {e}");
            assert!(e.message.contains(what), "{text:?}: {e}");
        }
    }

    #[test]
    fn names_keep_their_place() {
        let s = Settings::parse(
            "[virtual.WEB]\nrise = 2\n[virtual.WEB.server.\"10.0.0.100\"]\n[virtual.\"DNS\"]\nfall = 3\n",
        )
        .unwrap();
        let (name, web) = s
            .virtuals
            .iter()
            .find(|(k, _)| k.get_ref() == "WEB")
            .unwrap();
        assert_eq!(s.error(name.span(), "x").line, 1);
        let (server, _) = web.server.iter().next().unwrap();
        assert_eq!(server.get_ref(), "10.0.0.100");
        assert_eq!(s.error(server.span(), "x").line, 3);
        assert_eq!(
            s.virtual_server("DNS")
                .and_then(|v| v.fall.clone())
                .map(|f| *f.get_ref()),
            Some(3)
        );
        assert!(s.virtual_server("NONE").is_none());
    }
}
