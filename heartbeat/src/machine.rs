//! The failover state machine: no sockets, no clocks, no randomness. Time comes in with every
//! call, and the same calls always give the same actions.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::config::{AuthConfig, Config, Mode, Protocol, Timers};
use crate::error::Error;
use crate::packet::{
    Advert, ByteOrder, Kind, PeerState, PulseMagic, Reject, decode_auth, decode_pulse, encode_auth,
    encode_pulse,
};

/// A heartbeat path, by its index in [`Config::paths`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PathId(pub usize);

impl fmt::Display for PathId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "path {}", self.0)
    }
}

/// The role of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Serving: owns the virtual addresses.
    Active,
    /// Not serving; ready to take over (unless unable: see [`Heartbeat::can_take_over`]).
    Standby,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Active => "ACTIVE",
            Role::Standby => "STANDBY",
        })
    }
}

/// Why the role changed (or why the node re-announces). Displayed as one lower-case word with
/// hyphens, e.g. `peer-dead`, so a line `<time> ACTIVE peer-dead` splits on white space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The initial role.
    Startup,
    /// Nothing valid heard from the peer for a deadtime.
    PeerDead,
    /// The peer said it is inactive, and we take precedence over it or it cannot take over
    /// (pulse's STOPPED heartbeat).
    PeerInactive,
    /// The peer resigned (clean shutdown).
    PeerResigned,
    /// The peer is active and takes precedence: we step down (split brain healed, or Piranha's
    /// master-wins rule).
    PeerActive,
    /// Failback: we take precedence over the active peer and the preempt delay is over.
    Preempt,
    /// The peer is active too but we take precedence: we stay and re-announce (send gratuitous
    /// ARPs again).
    SplitBrain,
    /// The link of a critical path went down.
    LinkDown(PathId),
    /// The links are back and the peer is not serving.
    LinkUp,
    /// The application reported its service failed.
    ServiceFailed,
    /// The application reported its service recovered and the peer is not serving.
    ServiceRecovered,
    /// The operator forced the role (or released a forced role).
    Operator,
    /// Shutting down.
    Shutdown,
    /// The peer said it takes over (pulse's failover-services STOPME): we step down.
    PeerTakesOver,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Startup => f.write_str("startup"),
            Reason::PeerDead => f.write_str("peer-dead"),
            Reason::PeerInactive => f.write_str("peer-inactive"),
            Reason::PeerResigned => f.write_str("peer-resigned"),
            Reason::PeerActive => f.write_str("peer-active"),
            Reason::Preempt => f.write_str("preempt"),
            Reason::SplitBrain => f.write_str("split-brain"),
            Reason::LinkDown(p) => write!(f, "link-down-path-{}", p.0),
            Reason::LinkUp => f.write_str("link-up"),
            Reason::ServiceFailed => f.write_str("service-failed"),
            Reason::ServiceRecovered => f.write_str("service-recovered"),
            Reason::Operator => f.write_str("operator"),
            Reason::Shutdown => f.write_str("shutdown"),
            Reason::PeerTakesOver => f.write_str("peer-takes-over"),
        }
    }
}

/// Something that happened, for [`Heartbeat::handle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// A datagram arrived on `path` from `from`.
    Packet {
        /// The path (socket) it arrived on.
        path: PathId,
        /// Its source address (only the IP is checked, as pulse does).
        from: SocketAddr,
        /// Its payload.
        bytes: &'a [u8],
    },
    /// The time from [`Heartbeat::poll_timeout`] has come (calling it early or late is harmless).
    Timer,
    /// The link of a path came up.
    LinkUp(PathId),
    /// The link of a path went down.
    LinkDown(PathId),
    /// The service this node provides failed: step down, do not take over.
    ServiceFailed,
    /// The service recovered.
    ServiceRecovered,
    /// The operator wants this node active (it still steps down on a local fault). In the
    /// authenticated protocol it stays so (the peer yields) until released; in Piranha mode it
    /// is pulse's `--forceactive`: active now, then the usual rules (a master still wins).
    ForceActive,
    /// The operator wants this node standby, and it does not take over until released.
    ForceStandby,
    /// The operator releases a forced role: back to automatic.
    Release,
    /// Clean shutdown: step down and tell the peer (resign, or pulse's STOPPED). Afterwards the
    /// machine is inert.
    Shutdown,
}

/// What the caller must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Action {
    /// Send `bytes` to the peer's address on `path`.
    Send {
        /// The path.
        path: PathId,
        /// The datagram.
        bytes: Vec<u8>,
    },
    /// Become active (add the virtual addresses, announce them, start the services).
    BecomeActive {
        /// Why.
        reason: Reason,
    },
    /// Become standby (release the virtual addresses).
    BecomeStandby {
        /// Why.
        reason: Reason,
    },
    /// Stay active but announce the virtual addresses again: the peer was active too, so
    /// neighbours may have learnt its MAC address.
    Reannounce {
        /// Why.
        reason: Reason,
    },
}

/// Rejected datagrams by reason, and other things worth a metric.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    rejected: [u64; Reject::ALL.len()],
    /// Datagrams accepted as the peer's heartbeats.
    pub accepted: u64,
    /// Datagrams handed out to be sent.
    pub sent: u64,
    /// Late wake-ups detected (the process or machine stalled); each gave the peer a fresh
    /// deadtime.
    pub stalls: u64,
}

impl Counters {
    /// Datagrams rejected for `reason`.
    pub fn rejected(&self, reason: Reject) -> u64 {
        self.rejected[Reject::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or_default()]
    }

    /// All rejected datagrams.
    pub fn total_rejected(&self) -> u64 {
        self.rejected.iter().sum()
    }

    fn reject(&mut self, reason: Reject) {
        if let Some(i) = Reject::ALL.iter().position(|r| *r == reason) {
            self.rejected[i] += 1;
        }
    }
}

/// What a pulse heartbeat told.
enum Heard {
    /// RUNNING or STOPPED (of our mode).
    Says(PeerSays),
    /// Only that the peer lives.
    Alive,
    /// Failover services' STOPME: the peer takes over.
    StopMe,
}

/// What the peer last told us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PeerSays {
    /// pulse: RUNNING.
    Running,
    /// pulse: STOPPED.
    Stopped,
    /// Authenticated advertisement.
    Auth {
        state: PeerState,
        precedence: Precedence,
    },
}

/// Who wins when both want to be active. Compared field by field, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Precedence {
    forced: bool,
    priority: u8,
    primary: bool,
    node_id: u32,
}

/// A sliding replay window of 64 sequence numbers, per epoch of the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ReplayWindow {
    epoch: u64,
    top: u64,
    /// Bit `i` set: `top - i` was seen.
    seen: u64,
}

impl ReplayWindow {
    const SIZE: u64 = 64;

    /// Accepts (and records) `seq` of `epoch`, or says it is a replay.
    fn accept(window: &mut Option<ReplayWindow>, epoch: u64, seq: u64) -> bool {
        match window {
            Some(w) if epoch < w.epoch => false,
            Some(w) if epoch == w.epoch => {
                if seq > w.top {
                    let shift = seq - w.top;
                    w.seen = if shift >= Self::SIZE {
                        0
                    } else {
                        w.seen << shift
                    } | 1;
                    w.top = seq;
                    true
                } else {
                    let age = w.top - seq;
                    if age >= Self::SIZE || w.seen & (1 << age) != 0 {
                        false
                    } else {
                        w.seen |= 1 << age;
                        true
                    }
                }
            }
            _ => {
                *window = Some(ReplayWindow {
                    epoch,
                    top: seq,
                    seen: 1,
                });
                true
            }
        }
    }
}

/// The failover state machine of one node.
///
/// Drive it like this: call [`handle`](Heartbeat::handle) with the current time for every event
/// and carry out the returned actions in order; then sleep until
/// [`poll_timeout`](Heartbeat::poll_timeout) (or the next event, whichever comes first) and call
/// `handle(now, Event::Timer)`. All the actions come out of `handle`; there is nothing else to
/// drain. `poll_timeout` is never more than a keepalive away while the node runs.
///
/// ```
/// use std::time::{Duration, Instant};
/// use heartbeat::{Action, Config, Event, Heartbeat, PathConfig, PathId, Protocol, Reason, Role, Timers};
/// use heartbeat::packet::ByteOrder;
/// let timers = Timers::new(Duration::from_millis(100), Duration::from_millis(300))?;
/// let config = Config::new(Protocol::Piranha { byte_order: ByteOrder::Little }, timers)
///     .with_primary(true)
///     .with_paths(vec![PathConfig::new("10.0.0.2".parse().unwrap()).with_critical(true)]);
/// let start = Instant::now();
/// let mut node = Heartbeat::new(config, start)?;
/// assert_eq!(node.role(), Role::Standby);
/// // The first heartbeat (STOPPED) goes out at once.
/// let actions = node.handle(start, Event::Timer);
/// assert_eq!(actions, [Action::Send { path: PathId(0), bytes: vec![0xbd, 0xda, 0xbd, 0xad] }]);
/// // Silence: wake up when asked; one deadtime after start the peer is dead and we take over.
/// assert_eq!(node.poll_timeout(), Some(start + Duration::from_millis(100)));
/// let (now, actions) = loop {
///     let now = node.poll_timeout().expect("a running node always has a timeout");
///     let actions = node.handle(now, Event::Timer);
///     if actions.iter().any(|a| matches!(a, Action::BecomeActive { .. })) {
///         break (now, actions);
///     }
/// };
/// assert_eq!(now, start + Duration::from_millis(300));
/// assert_eq!(actions[0], Action::BecomeActive { reason: Reason::PeerDead });
/// // ... and says so (RUNNING).
/// assert_eq!(actions[1], Action::Send { path: PathId(0), bytes: vec![0xda, 0xdb, 0xad, 0xbd] });
/// # Ok::<(), heartbeat::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Heartbeat {
    config: Config,
    auth: Option<AuthConfig>,
    byte_order: ByteOrder,
    role: Role,
    forced: Option<Role>,
    link_down: Vec<bool>,
    service_failed: bool,
    shutdown: bool,
    /// When the next periodic heartbeat is due.
    next_send: Instant,
    /// When the peer is dead unless heard from; `None` once it is dead (or resigned).
    peer_dead_at: Option<Instant>,
    /// What the peer said last (while it is alive).
    peer: Option<PeerSays>,
    /// What the peer said last on each path. Datagrams on different paths can overtake each
    /// other (one waits for ARP, the other does not), so a STOPPED says "the active master
    /// stepped down" only when the same path carried its RUNNING before.
    said: Vec<Option<PeerSays>>,
    peer_resigned: bool,
    /// `peer` predates our last return to being able to take over.
    peer_stale: bool,
    /// `can_take_over()` at the last local change.
    could_take_over: bool,
    replay: Option<ReplayWindow>,
    seq: u64,
    /// Piranha backup: a standby master keeps saying STOPPED; take over at this time.
    stopped_grace: Option<Instant>,
    /// Failback: take over at this time.
    preempt_at: Option<Instant>,
    last_reannounce: Option<Instant>,
    /// The wake-up time we asked for last; for stall detection.
    expected_wake: Option<Instant>,
    counters: Counters,
    /// Byte order of the peer's last pulse heartbeat.
    peer_byte_order: Option<ByteOrder>,
}

impl Heartbeat {
    /// A node starting at `now`, standby. Its first heartbeat is due at once (pulse waits a
    /// keepalive), and the peer is declared dead one deadtime from now unless heard.
    pub fn new(config: Config, now: Instant) -> Result<Heartbeat, Error> {
        config.validate()?;
        let (auth, byte_order) = match &config.protocol {
            Protocol::Piranha { byte_order } => (None, *byte_order),
            Protocol::Auth(a) => (Some(a.clone()), ByteOrder::Little),
        };
        let paths = config.paths.len();
        let deadtime = config.timers.deadtime();
        let mut machine = Heartbeat {
            config,
            auth,
            byte_order,
            role: Role::Standby,
            forced: None,
            link_down: vec![false; paths],
            service_failed: false,
            shutdown: false,
            next_send: now,
            peer_dead_at: Some(now + deadtime),
            peer: None,
            said: vec![None; paths],
            peer_resigned: false,
            peer_stale: false,
            could_take_over: true,
            replay: None,
            seq: 0,
            stopped_grace: None,
            preempt_at: None,
            last_reannounce: None,
            expected_wake: None,
            counters: Counters::default(),
            peer_byte_order: None,
        };
        machine.expected_wake = machine.poll_timeout();
        Ok(machine)
    }

    /// The current role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The timers.
    pub fn timers(&self) -> Timers {
        self.config.timers
    }

    /// Whether the node may become active: no failed service, no critical link down, not held
    /// standby by the operator, not shut down.
    pub fn can_take_over(&self) -> bool {
        !self.shutdown
            && !self.service_failed
            && self.forced != Some(Role::Standby)
            && !self
                .config
                .paths
                .iter()
                .zip(&self.link_down)
                .any(|(p, down)| p.critical && *down)
    }

    /// Whether anything valid was heard from the peer since start: a takeover after that is
    /// from a peer known dead or resigned, whose addresses it was; before, a cold start.
    pub fn peer_heard(&self) -> bool {
        self.counters.accepted > 0
    }

    /// Whether the peer is alive: heard within the last deadtime.
    pub fn peer_alive(&self) -> bool {
        self.peer_dead_at.is_some() && self.peer.is_some()
    }

    /// The byte order of the peer's last pulse heartbeat (Piranha mode).
    pub fn peer_byte_order(&self) -> Option<ByteOrder> {
        self.peer_byte_order
    }

    /// Counters of accepted, rejected and sent datagrams, and of stalls.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Whether [`Event::Shutdown`] was handled.
    pub fn is_shut_down(&self) -> bool {
        self.shutdown
    }

    /// When to call `handle(now, Event::Timer)` next; `None` after shutdown (and for a standalone
    /// node with nothing left to wait for).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.shutdown {
            return None;
        }
        let send = (!self.config.paths.is_empty()).then_some(self.next_send);
        [send, self.peer_dead_at, self.stopped_grace, self.preempt_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// Handles one event at `now` and returns what to do, in order. Due timers are handled
    /// too, whatever the event.
    #[must_use = "the actions must be carried out: datagrams sent, roles taken"]
    pub fn handle(&mut self, now: Instant, event: Event<'_>) -> Vec<Action> {
        let mut out = Vec::new();
        if self.shutdown {
            return out;
        }
        self.detect_stall(now);
        match event {
            Event::Packet { path, from, bytes } => self.on_packet(now, path, from, bytes, &mut out),
            Event::Timer => {}
            Event::LinkUp(p) | Event::LinkDown(p) => {
                let down = matches!(event, Event::LinkDown(_));
                // Only a change is news (the driver reports the initial state too).
                if let Some(d) = self.link_down.get_mut(p.0).filter(|d| **d != down) {
                    *d = down;
                    let reason = if down {
                        Reason::LinkDown(p)
                    } else {
                        Reason::LinkUp
                    };
                    self.local_change(now, reason, &mut out);
                }
            }
            Event::ServiceFailed => {
                self.service_failed = true;
                self.local_change(now, Reason::ServiceFailed, &mut out);
            }
            Event::ServiceRecovered => {
                self.service_failed = false;
                self.local_change(now, Reason::ServiceRecovered, &mut out);
            }
            Event::ForceActive => {
                self.forced = Some(Role::Active);
                self.local_change(now, Reason::Operator, &mut out);
                if self.auth.is_none() {
                    // pulse has no way to tell a master to step down: a forced backup that
                    // stayed forced would mean a split brain for good. As pulse's
                    // --forceactive: active now, then the usual rules (the master wins).
                    self.forced = None;
                }
            }
            Event::ForceStandby => {
                self.forced = Some(Role::Standby);
                self.local_change(now, Reason::Operator, &mut out);
            }
            Event::Release => {
                self.forced = None;
                self.local_change(now, Reason::Operator, &mut out);
            }
            Event::Shutdown => {
                self.shutdown = true;
                if self.role == Role::Active {
                    self.role = Role::Standby;
                    out.push(Action::BecomeStandby {
                        reason: Reason::Shutdown,
                    });
                }
                // Resign (or pulse's STOPPED, on which a pulse peer takes over at once).
                self.send_all(now, &mut out);
                self.expected_wake = None;
                return out;
            }
        }
        self.on_timers(now, &mut out);
        // A deadline that has passed and was not acted on is moot in the current state (the
        // node is forced, unable, or waiting for fresh news): drop it, or the caller would be
        // woken again at once, forever.
        if self.stopped_grace.is_some_and(|t| t <= now) {
            self.stopped_grace = None;
        }
        if self.preempt_at.is_some_and(|t| t <= now) {
            self.preempt_at = None;
        }
        self.expected_wake = self.poll_timeout();
        debug_assert!(self.expected_wake.is_none_or(|t| t > now));
        out
    }

    /// A wake-up much later than asked for means this process (or its machine) was not running:
    /// the peer's silence meanwhile proves nothing, so it gets a fresh deadtime.
    fn detect_stall(&mut self, now: Instant) {
        let Some(expected) = self.expected_wake else {
            return;
        };
        if now > expected + self.config.timers.keepalive() {
            self.counters.stalls += 1;
            if let Some(dead_at) = &mut self.peer_dead_at {
                *dead_at = (*dead_at).max(now + self.config.timers.deadtime());
            }
        }
    }

    fn on_timers(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.peer_dead_at.is_some_and(|t| now >= t) {
            self.peer_dead_at = None;
            self.peer = None;
            self.said.fill(None);
            self.stopped_grace = None;
            self.preempt_at = None;
            self.evaluate(now, Reason::PeerDead, out);
        }
        if self.stopped_grace.is_some_and(|t| now >= t) || self.preempt_at.is_some_and(|t| now >= t)
        {
            self.evaluate(now, Reason::PeerInactive, out);
        }
        if !self.config.paths.is_empty() && now >= self.next_send {
            let due = self.next_send;
            self.send_all(now, out);
            // Keep the period, not the wake-up lateness (unless far behind).
            if now < due + self.config.timers.keepalive() {
                self.next_send = due + self.config.timers.keepalive();
            }
        }
    }

    fn on_packet(
        &mut self,
        now: Instant,
        path: PathId,
        from: SocketAddr,
        bytes: &[u8],
        out: &mut Vec<Action>,
    ) {
        if !self.config.paths.iter().any(|p| p.peer == from.ip()) {
            self.counters.reject(Reject::WrongSource);
            return;
        }
        let says = match &self.auth {
            None => match self.accept_pulse(bytes) {
                Ok(Heard::Says(says)) => says,
                Ok(Heard::Alive) => {
                    // pulse's hold/held (and stop-me in LVS mode): proof of life, no transition.
                    self.counters.accepted += 1;
                    self.heard(now);
                    return;
                }
                Ok(Heard::StopMe) => {
                    // Failover services: the peer found our service failed and takes over.
                    self.counters.accepted += 1;
                    self.heard(now);
                    self.peer = Some(PeerSays::Running);
                    if let Some(said) = self.said.get_mut(path.0) {
                        *said = Some(PeerSays::Running);
                    }
                    self.stopped_grace = None;
                    if self.role == Role::Active && self.forced != Some(Role::Active) {
                        self.role = Role::Standby;
                        out.push(Action::BecomeStandby {
                            reason: Reason::PeerTakesOver,
                        });
                        self.send_all(now, out);
                    }
                    return;
                }
                Err(r) => {
                    self.counters.reject(r);
                    return;
                }
            },
            Some(auth) => match accept_auth(auth, &mut self.replay, bytes) {
                Ok(advert) => {
                    if advert.kind == Kind::Resign {
                        self.counters.accepted += 1;
                        self.peer_dead_at = None;
                        self.peer = None;
                        self.peer_resigned = true;
                        self.preempt_at = None;
                        self.evaluate(now, Reason::PeerResigned, out);
                        return;
                    }
                    PeerSays::Auth {
                        state: advert.state,
                        precedence: Precedence {
                            forced: advert.forced,
                            priority: advert.priority,
                            primary: advert.primary,
                            node_id: advert.node_id,
                        },
                    }
                }
                Err(r) => {
                    self.counters.reject(r);
                    return;
                }
            },
        };
        self.counters.accepted += 1;
        self.heard(now);
        let said = self.said.get_mut(path.0);
        if says == PeerSays::Stopped
            && self.peer == Some(PeerSays::Running)
            && said.as_deref() == Some(&Some(PeerSays::Running))
        {
            // The master was active and has stepped down (shutdown, fault): no reason to wait.
            self.stopped_grace = Some(now);
        }
        if let Some(said) = said {
            *said = Some(says);
        }
        self.peer = Some(says);
        if says == PeerSays::Running && self.auth.is_none() {
            // pulse clears CHILDFAIL when the partner is seen running: it has taken over, so
            // this node may take over again later.
            self.service_failed = false;
        }
        let peer_active = matches!(
            says,
            PeerSays::Running
                | PeerSays::Auth {
                    state: PeerState::Active,
                    ..
                }
        );
        if peer_active && self.role == Role::Active && self.wins_over_active_peer() {
            // Split brain: both active, and we stay. Re-announce (at most once a keepalive) and
            // tell the peer at once.
            let due = self
                .last_reannounce
                .is_none_or(|t| now >= t + self.config.timers.keepalive());
            if due {
                self.last_reannounce = Some(now);
                out.push(Action::Reannounce {
                    reason: Reason::SplitBrain,
                });
                self.send_all(now, out);
            }
        }
        self.evaluate(now, Reason::PeerInactive, out);
    }

    fn heard(&mut self, now: Instant) {
        self.peer_dead_at = Some(now + self.config.timers.deadtime());
        self.peer_resigned = false;
        self.peer_stale = false;
    }

    fn accept_pulse(&mut self, bytes: &[u8]) -> Result<Heard, Reject> {
        let (magic, order) = decode_pulse(bytes)?;
        self.peer_byte_order = Some(order);
        let fos = self.config.mode == Mode::Fos;
        match magic {
            PulseMagic::Running if !fos => Ok(Heard::Says(PeerSays::Running)),
            PulseMagic::Stopped if !fos => Ok(Heard::Says(PeerSays::Stopped)),
            PulseMagic::FosRunning if fos => Ok(Heard::Says(PeerSays::Running)),
            PulseMagic::FosStopped if fos => Ok(Heard::Says(PeerSays::Stopped)),
            PulseMagic::FosStopMe if fos => Ok(Heard::StopMe),
            PulseMagic::Hold | PulseMagic::Held | PulseMagic::FosStopMe => Ok(Heard::Alive),
            // pulse's magics differ by mode so that a pair in different modes refuse each other.
            _ => Err(Reject::WrongMode),
        }
    }

    fn our_precedence(&self) -> Option<Precedence> {
        self.auth.as_ref().map(|a| Precedence {
            forced: self.forced == Some(Role::Active),
            priority: a.priority,
            primary: self.config.primary,
            node_id: a.node_id,
        })
    }

    /// Both active: do we stay?
    fn wins_over_active_peer(&self) -> bool {
        match (self.peer, self.our_precedence()) {
            (Some(PeerSays::Auth { precedence, .. }), Some(ours)) => ours > precedence,
            // Piranha: the master wins ties; a forced backup stays too.
            _ => self.config.primary || self.forced == Some(Role::Active),
        }
    }

    /// The role this node should have now, from what it knows, with the reason.
    fn desired(&mut self, now: Instant, trigger: Reason) -> (Role, Reason) {
        let keep = (self.role, trigger);
        if !self.can_take_over() {
            self.stopped_grace = None;
            self.preempt_at = None;
            let why = if self.shutdown {
                Reason::Shutdown
            } else if self.forced == Some(Role::Standby) {
                Reason::Operator
            } else if self.service_failed {
                Reason::ServiceFailed
            } else {
                match trigger {
                    Reason::LinkDown(p) => Reason::LinkDown(p),
                    _ => self
                        .link_down
                        .iter()
                        .position(|d| *d)
                        .map_or(trigger, |i| Reason::LinkDown(PathId(i))),
                }
            };
            return (Role::Standby, why);
        }
        if self.forced == Some(Role::Active) {
            return (Role::Active, Reason::Operator);
        }
        if self.peer_stale && self.peer_alive() {
            return keep;
        }
        let Some(peer) = self.peer.filter(|_| self.peer_alive()) else {
            if self.peer_dead_at.is_some() {
                // Not heard yet, and not yet a deadtime since start: wait.
                return keep;
            }
            // The peer is dead or has resigned.
            let why = match trigger {
                Reason::LinkUp | Reason::ServiceRecovered | Reason::Operator => trigger,
                _ if self.peer_resigned => Reason::PeerResigned,
                _ => Reason::PeerDead,
            };
            return (Role::Active, why);
        };
        let active = self.role == Role::Active;
        match peer {
            PeerSays::Running => {
                self.stopped_grace = None;
                if active && !self.wins_over_active_peer() {
                    (Role::Standby, Reason::PeerActive)
                } else {
                    keep
                }
            }
            PeerSays::Stopped => {
                if active {
                    self.stopped_grace = None;
                    keep
                } else if self.config.primary {
                    (Role::Active, Reason::PeerInactive)
                } else {
                    // pulse's backup takes over as soon as it sees a standby master, so both
                    // start active and the master wins. We give a healthy master two
                    // keepalives to take over first; a master that cannot (link, service)
                    // keeps saying STOPPED, and then we do.
                    let at = *self
                        .stopped_grace
                        .get_or_insert(now + 2 * self.config.timers.keepalive());
                    if now >= at {
                        self.stopped_grace = None;
                        (Role::Active, Reason::PeerInactive)
                    } else {
                        keep
                    }
                }
            }
            PeerSays::Auth { state, precedence } => {
                let ours = self.our_precedence().unwrap_or(precedence);
                match state {
                    PeerState::Active => {
                        if active {
                            self.preempt_at = None;
                            if ours > precedence {
                                keep
                            } else {
                                (Role::Standby, Reason::PeerActive)
                            }
                        } else if self.auth.as_ref().is_some_and(|a| a.failback)
                            && ours > precedence
                        {
                            let delay = self
                                .auth
                                .as_ref()
                                .map_or(Duration::ZERO, |a| a.preempt_delay);
                            let at = *self.preempt_at.get_or_insert(now + delay);
                            if now >= at {
                                self.preempt_at = None;
                                (Role::Active, Reason::Preempt)
                            } else {
                                keep
                            }
                        } else {
                            self.preempt_at = None;
                            keep
                        }
                    }
                    PeerState::Standby | PeerState::Unable => {
                        self.preempt_at = None;
                        if !active && (state == PeerState::Unable || ours > precedence) {
                            (Role::Active, Reason::PeerInactive)
                        } else {
                            keep
                        }
                    }
                }
            }
        }
    }

    /// Something local changed (link, service, operator): re-decide, and tell the peer at once
    /// what we are now.
    fn local_change(&mut self, now: Instant, trigger: Reason, out: &mut Vec<Action>) {
        if self.can_take_over() && !self.could_take_over {
            // Able again (link up, service back, released): what the peer said while we were
            // not is stale (it may have taken over since, unheard on a down path). Decide on
            // its next heartbeat, or on its death.
            self.peer_stale = true;
        }
        self.could_take_over = self.can_take_over();
        if !self.evaluate(now, trigger, out) {
            self.send_all(now, out);
        }
    }

    /// Re-decides the role; true if it changed (then the peer has been told).
    fn evaluate(&mut self, now: Instant, trigger: Reason, out: &mut Vec<Action>) -> bool {
        let (role, reason) = self.desired(now, trigger);
        if role == self.role {
            return false;
        }
        if role == Role::Standby && reason == Reason::PeerActive {
            // Like pulse's backup: one more "active" heartbeat before stepping down, so the
            // winner learns that it must re-announce.
            self.send_all(now, out);
        }
        self.set_role(now, role, reason, out);
        true
    }

    fn set_role(&mut self, now: Instant, role: Role, reason: Reason, out: &mut Vec<Action>) {
        self.role = role;
        self.stopped_grace = None;
        self.preempt_at = None;
        out.push(match role {
            Role::Active => Action::BecomeActive { reason },
            Role::Standby => Action::BecomeStandby { reason },
        });
        // Tell the peer at once (the VRRP order: advert first, then the addresses).
        self.send_all(now, out);
    }

    /// One heartbeat on every path; the periodic timer restarts. Paths whose link is reported
    /// down are not skipped: the report may lag (the kernel debounces carrier changes), and a
    /// datagram on a dead link costs nothing.
    fn send_all(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.next_send = now + self.config.timers.keepalive();
        for i in 0..self.config.paths.len() {
            let bytes = self.datagram();
            self.counters.sent += 1;
            out.push(Action::Send {
                path: PathId(i),
                bytes,
            });
        }
    }

    fn datagram(&mut self) -> Vec<u8> {
        match &self.auth {
            None => {
                let magic = match (self.config.mode, self.role) {
                    (Mode::Lvs, Role::Active) => PulseMagic::Running,
                    (Mode::Lvs, Role::Standby) => PulseMagic::Stopped,
                    (Mode::Fos, Role::Active) => PulseMagic::FosRunning,
                    (Mode::Fos, Role::Standby) => PulseMagic::FosStopped,
                };
                encode_pulse(magic, self.byte_order).to_vec()
            }
            Some(a) => {
                self.seq += 1;
                let state = if self.role == Role::Active {
                    PeerState::Active
                } else if self.can_take_over() {
                    PeerState::Standby
                } else {
                    PeerState::Unable
                };
                let advert = Advert {
                    kind: if self.shutdown {
                        Kind::Resign
                    } else {
                        Kind::Advert
                    },
                    state,
                    priority: a.priority,
                    primary: self.config.primary,
                    forced: self.forced == Some(Role::Active),
                    node_id: a.node_id,
                    epoch: a.epoch,
                    seq: self.seq,
                };
                encode_auth(&advert, &a.key).to_vec()
            }
        }
    }
}

/// Authenticity, then identity, then freshness.
fn accept_auth(
    auth: &AuthConfig,
    replay: &mut Option<ReplayWindow>,
    bytes: &[u8],
) -> Result<Advert, Reject> {
    let advert = decode_auth(bytes, &auth.key)?;
    if advert.node_id != auth.peer_node_id {
        return Err(Reject::UnknownNode);
    }
    if !ReplayWindow::accept(replay, advert.epoch, advert.seq) {
        return Err(Reject::Replay);
    }
    Ok(advert)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_window() {
        let mut w = None;
        assert!(ReplayWindow::accept(&mut w, 5, 10));
        assert!(!ReplayWindow::accept(&mut w, 5, 10), "duplicate");
        assert!(ReplayWindow::accept(&mut w, 5, 8), "reordered, in window");
        assert!(!ReplayWindow::accept(&mut w, 5, 8), "reordered duplicate");
        assert!(ReplayWindow::accept(&mut w, 5, 100));
        assert!(!ReplayWindow::accept(&mut w, 5, 36), "too old: 64 behind");
        assert!(ReplayWindow::accept(&mut w, 5, 37), "just inside");
        assert!(!ReplayWindow::accept(&mut w, 4, 1000), "older epoch");
        assert!(ReplayWindow::accept(&mut w, 6, 1), "newer epoch restarts");
        assert!(
            !ReplayWindow::accept(&mut w, 5, 101),
            "back to the old epoch"
        );
        assert!(ReplayWindow::accept(&mut w, 6, 1000));
        assert!(
            !ReplayWindow::accept(&mut w, 6, 2),
            "far behind the new top"
        );
        assert!(
            ReplayWindow::accept(&mut w, 6, 999),
            "the jump cleared the window"
        );
    }
}
