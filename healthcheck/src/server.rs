//! The state of one real server (sans-IO): probe results in, add/remove/weight events out.

use std::{collections::VecDeque, fmt, time::Duration};

use tokio::time::Instant;

use crate::{Error, LoadMonitor, Outcome, Pass};

/// Weights IPVS accepts (the kernel takes a non-negative `int`).
const MAX_WEIGHT: u32 = i32::MAX as u32;

/// How a real server is judged and weighted. The defaults are nanny's, with `rise` and `fall`
/// added (1 each, as nanny behaves). Built from [`ServerConfig::default`] and the `with_*`
/// methods (it may gain settings):
///
/// ```
/// use std::time::Duration;
/// let c = healthcheck::ServerConfig::default()
///     .with_weight(5)
///     .with_fall(3)
///     .with_reentry(Duration::from_secs(15))
///     .with_slow_start(None);
/// assert!(c.validate().is_ok());
/// ```
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[non_exhaustive]
pub struct ServerConfig {
    /// Configured weight.
    pub weight: u32,
    /// Consecutive successes needed to bring the server up.
    pub rise: u32,
    /// Consecutive failures needed to take it down.
    pub fall: u32,
    /// After the server has been down, how long its checks must have succeeded without a break
    /// before it is re-admitted (Piranha's `reentry`, 180 s by nanny's default). The very first
    /// admission only needs `rise` successes, as in nanny.
    #[cfg_attr(feature = "serde", serde(with = "humantime_serde"))]
    pub reentry: Duration,
    /// On failure set the weight to 0 instead of removing the server (`quiesce_server`).
    pub quiesce: bool,
    /// Start at a fraction of the weight and double it step by step (nanny always does).
    pub slow_start: Option<SlowStart>,
    /// Raise the weight of lightly loaded servers (Piranha's `load_monitor`).
    pub load: Option<LoadScaling>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            weight: 1,
            rise: 1,
            fall: 1,
            reentry: Duration::from_secs(180),
            quiesce: false,
            slow_start: Some(SlowStart::default()),
            load: None,
        }
    }
}

impl ServerConfig {
    /// With configured weight `weight`.
    pub fn with_weight(mut self, weight: u32) -> Self {
        self.weight = weight;
        self
    }

    /// With `rise` successes in a row to bring the server up.
    pub fn with_rise(mut self, rise: u32) -> Self {
        self.rise = rise;
        self
    }

    /// With `fall` failures in a row to take it down.
    pub fn with_fall(mut self, fall: u32) -> Self {
        self.fall = fall;
        self
    }

    /// With Piranha's `reentry` delay.
    pub fn with_reentry(mut self, reentry: Duration) -> Self {
        self.reentry = reentry;
        self
    }

    /// Quiescing (weight 0) instead of removing a failed server.
    pub fn with_quiesce(mut self, quiesce: bool) -> Self {
        self.quiesce = quiesce;
        self
    }

    /// With nanny's slow start, another, or none.
    pub fn with_slow_start(mut self, slow_start: Option<SlowStart>) -> Self {
        self.slow_start = slow_start;
        self
    }

    /// With load-based weights, or none.
    pub fn with_load(mut self, load: Option<LoadScaling>) -> Self {
        self.load = load;
        self
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |s: &str| Err(Error::Server(s.into()));
        if self.weight > MAX_WEIGHT {
            return bad("weight above 2147483647");
        }
        if self.rise == 0 || self.fall == 0 {
            return bad("rise and fall must be at least 1");
        }
        if let Some(s) = &self.slow_start
            && s.step.is_zero()
        {
            return bad("slow start step must be greater than zero");
        }
        if let Some(l) = &self.load {
            if l.scale == 0 {
                return bad("load scale must be at least 1");
            }
            if l.interval.is_zero() {
                return bad("load interval must be greater than zero");
            }
        }
        Ok(())
    }

    /// The weight a server starts at when admitted.
    fn start_weight(&self) -> u32 {
        match self.slow_start {
            // nanny: weight >> 5, at least 1; never above the configured weight.
            Some(_) => (self.weight >> 5).max(1).min(self.weight),
            None => self.weight,
        }
    }

    /// Upper bound of a load-scaled weight.
    fn load_ceiling(&self) -> u32 {
        let scale = self.load.as_ref().map_or(1, |l| l.scale);
        self.weight.saturating_mul(scale).min(MAX_WEIGHT)
    }
}

/// nanny's slow start: admitted at `weight / 32` (at least 1), doubled every `step`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct SlowStart {
    /// Time between doublings (nanny adjusts about every 20 s).
    #[cfg_attr(feature = "serde", serde(with = "humantime_serde"))]
    pub step: Duration,
}

impl Default for SlowStart {
    fn default() -> Self {
        SlowStart {
            step: Duration::from_secs(20),
        }
    }
}

/// Piranha's load-based weights: the weight rises on lightly loaded servers, up to
/// `scale × weight`, and never falls below the configured weight.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct LoadScaling {
    /// How the load is read.
    pub monitor: LoadMonitor,
    /// Maximum weight multiplier (nanny's `--scale`, 10).
    pub scale: u32,
    /// How often the load is read (nanny: about every 20 s).
    #[cfg_attr(feature = "serde", serde(with = "humantime_serde"))]
    pub interval: Duration,
}

/// What the server currently is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Health {
    /// Not judged yet.
    Unknown,
    /// In service.
    Up,
    /// Out of service (removed, or weight 0 when quiesced).
    Down,
}

/// An operator's override (nanny's SIGUSR2 / SIGUSR1 / SIGHUP, and a plain freeze).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Override {
    /// Put the server in with its configured weight and stop acting on checks.
    ForceUp,
    /// Take the server out (or quiesce it) and stop acting on checks.
    ForceDown,
    /// Keep everything as it is and stop acting on checks.
    Freeze,
    /// Act on checks again; the next `rise` successes re-admit a down server without waiting
    /// for `reentry` (as nanny's SIGHUP does).
    Resume,
}

impl fmt::Display for Override {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Override::ForceUp => "forced up",
            Override::ForceDown => "forced down",
            Override::Freeze => "frozen",
            Override::Resume => "resumed",
        })
    }
}

/// What the application must do to its table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// Put the server in service with this weight (add it, or set the weight of a quiesced
    /// entry).
    Up {
        /// The weight.
        weight: u32,
    },
    /// Take the server out of service.
    Down {
        /// Keep the entry with weight 0 instead of removing it.
        quiesce: bool,
    },
    /// Change the weight of a server in service.
    Weight(u32),
}

/// Why an event happened.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Reason {
    /// The checks passed; the last one's detail.
    Passed(String),
    /// The checks failed; the last one's error.
    Failed(String),
    /// A slow-start step.
    SlowStart,
    /// Load scaling, with the load read.
    Load(f64),
    /// An operator's override.
    Override(Override),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Passed(s) | Reason::Failed(s) => f.write_str(s),
            Reason::SlowStart => f.write_str("slow start"),
            Reason::Load(l) => write!(f, "load {l:.2}"),
            Reason::Override(o) => write!(f, "{o} by the operator"),
        }
    }
}

/// One change for the application.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The change.
    pub kind: EventKind,
    /// Why.
    pub reason: Reason,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            EventKind::Up { weight } => write!(f, "up weight {weight}")?,
            EventKind::Down { quiesce: false } => f.write_str("down")?,
            EventKind::Down { quiesce: true } => f.write_str("down (quiesced, weight 0)")?,
            EventKind::Weight(w) => write!(f, "weight {w}")?,
        }
        write!(f, ": {}", self.reason)
    }
}

/// The last probe result, as kept in a [`Snapshot`].
#[derive(Clone, Debug, PartialEq)]
pub struct LastCheck {
    /// When it finished.
    pub at: Instant,
    /// Whether it passed.
    pub ok: bool,
    /// What it saw, or its error.
    pub detail: Detail,
    /// How long it took.
    pub latency: Duration,
}

/// What a check saw: kept without formatting, so a passing check costs no allocation.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Detail {
    /// A probe's pass.
    Pass(Pass),
    /// A probe's error, or a caller's text.
    Text(String),
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Detail::Pass(p) => p.fmt(f),
            Detail::Text(t) => f.write_str(t),
        }
    }
}

/// A server's current state, for status displays.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// Up, down or unknown.
    pub health: Health,
    /// The weight in force (0 when down).
    pub weight: u32,
    /// An override in force, if any.
    pub frozen: Option<Override>,
    /// The last check.
    pub last: Option<LastCheck>,
    /// Checks run.
    pub checks: u64,
    /// Checks failed.
    pub failures: u64,
    /// Up/down transitions.
    pub transitions: u64,
    /// Consecutive successes now.
    pub successes_in_a_row: u32,
    /// Consecutive failures now.
    pub failures_in_a_row: u32,
}

/// The state machine of one real server: feed it probe results, load readings and `now`; take
/// [`Event`]s out with [`Server::poll_event`]; call [`Server::handle_timeout`] at
/// [`Server::poll_timeout`].
///
/// ```
/// use std::time::Duration;
/// use healthcheck::{EventKind, Server, ServerConfig};
/// use tokio::time::Instant;
///
/// let config = ServerConfig::default().with_weight(100);
/// let mut server = Server::new(config).unwrap();
/// let t0 = Instant::now();
/// server.handle_check(t0, true, "HTTP 200");
/// assert_eq!(server.poll_event().unwrap().kind, EventKind::Up { weight: 3 });
/// // Slow start doubles the weight every 20 s.
/// server.handle_timeout(t0 + Duration::from_secs(20));
/// assert_eq!(server.poll_event().unwrap().kind, EventKind::Weight(6));
/// server.handle_check(t0 + Duration::from_secs(21), false, "connect refused");
/// assert_eq!(server.poll_event().unwrap().kind, EventKind::Down { quiesce: false });
/// ```
#[derive(Clone, Debug)]
pub struct Server {
    config: ServerConfig,
    health: Health,
    weight: u32,
    successes: u32,
    failures: u32,
    streak_since: Option<Instant>,
    reentry_waived: bool,
    admitted_at: Option<Instant>,
    slow_start_done: bool,
    frozen: Option<Override>,
    last: Option<LastCheck>,
    checks: u64,
    failed: u64,
    transitions: u64,
    events: VecDeque<Event>,
}

impl Server {
    /// A server not judged yet.
    pub fn new(config: ServerConfig) -> Result<Self, Error> {
        config.validate()?;
        Ok(Server {
            config,
            health: Health::Unknown,
            weight: 0,
            successes: 0,
            failures: 0,
            streak_since: None,
            reentry_waived: false,
            admitted_at: None,
            slow_start_done: false,
            frozen: None,
            last: None,
            checks: 0,
            failed: 0,
            transitions: 0,
            events: VecDeque::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Up, down or unknown.
    pub fn health(&self) -> Health {
        self.health
    }

    /// The weight in force (0 when down).
    pub fn weight(&self) -> u32 {
        self.weight
    }

    /// A probe's outcome.
    pub fn handle_outcome(&mut self, now: Instant, outcome: &Outcome) {
        let detail = match &outcome.result {
            Ok(pass) => Detail::Pass(*pass),
            Err(e) => Detail::Text(e.to_string()),
        };
        self.record(now, outcome.is_ok(), detail, outcome.latency);
    }

    /// A check's verdict with its reason, for checks that are not [`Probe`](crate::Probe)s.
    pub fn handle_check(&mut self, now: Instant, ok: bool, reason: &str) {
        self.record(now, ok, Detail::Text(reason.to_string()), Duration::ZERO);
    }

    fn record(&mut self, now: Instant, ok: bool, detail: Detail, latency: Duration) {
        self.checks += 1;
        if ok {
            self.successes = self.successes.saturating_add(1);
            self.failures = 0;
            self.streak_since.get_or_insert(now);
        } else {
            self.failed += 1;
            self.failures = self.failures.saturating_add(1);
            self.successes = 0;
            self.streak_since = None;
        }
        let reason = || detail.to_string();
        let admit_now = match (self.health, ok) {
            (Health::Unknown, true) => self.successes >= self.config.rise,
            (Health::Down, true) if self.successes >= self.config.rise => {
                let since = self.streak_since.unwrap_or(now);
                self.reentry_waived || now.saturating_duration_since(since) >= self.config.reentry
            }
            _ => false,
        };
        let down_now = matches!(self.health, Health::Unknown | Health::Up)
            && !ok
            && self.failures >= self.config.fall;
        if self.frozen.is_none() {
            if admit_now {
                self.admit(now, Reason::Passed(reason()));
            } else if down_now {
                self.take_down(Reason::Failed(reason()));
            }
        }
        self.last = Some(LastCheck {
            at: now,
            ok,
            detail,
            latency,
        });
    }

    fn admit(&mut self, now: Instant, reason: Reason) {
        self.health = Health::Up;
        self.transitions += 1;
        self.reentry_waived = false;
        self.admitted_at = Some(now);
        self.weight = self.config.start_weight();
        self.slow_start_done = self.weight >= self.config.weight;
        self.events.push_back(Event {
            kind: EventKind::Up {
                weight: self.weight,
            },
            reason,
        });
    }

    fn take_down(&mut self, reason: Reason) {
        self.health = Health::Down;
        self.transitions += 1;
        self.weight = 0;
        self.admitted_at = None;
        self.events.push_back(Event {
            kind: EventKind::Down {
                quiesce: self.config.quiesce,
            },
            reason,
        });
    }

    fn set_weight(&mut self, weight: u32, reason: Reason) {
        if weight != self.weight {
            self.weight = weight;
            self.events.push_back(Event {
                kind: EventKind::Weight(weight),
                reason,
            });
        }
    }

    /// The next time [`Server::handle_timeout`] has something to do (a slow-start step).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let (Some(at), Some(s)) = (self.admitted_at, self.config.slow_start) else {
            return None;
        };
        if self.health != Health::Up || self.slow_start_done || self.frozen.is_some() {
            return None;
        }
        let steps = self.steps_for(self.weight);
        Some(at + s.step.saturating_mul(steps + 1))
    }

    /// Doublings from the start weight to reach `weight`.
    fn steps_for(&self, weight: u32) -> u32 {
        let start = self.config.start_weight().max(1);
        let mut w = start;
        let mut steps = 0;
        while w < weight {
            w = w.saturating_mul(2);
            steps += 1;
        }
        steps
    }

    /// Time passes: applies the slow-start step due at `now`. The weight is computed from the
    /// time since admission, so a late call catches up in one event.
    pub fn handle_timeout(&mut self, now: Instant) {
        let (Some(at), Some(s)) = (self.admitted_at, self.config.slow_start) else {
            return;
        };
        if self.health != Health::Up || self.slow_start_done || self.frozen.is_some() {
            return;
        }
        let elapsed = now.saturating_duration_since(at);
        let steps = (elapsed.as_nanos() / s.step.as_nanos().max(1)).min(32) as u32;
        let start = u64::from(self.config.start_weight());
        let weight = (start << steps).min(u64::from(self.config.weight)) as u32;
        if weight >= self.config.weight {
            self.slow_start_done = true;
        }
        if weight > self.weight {
            self.set_weight(weight, Reason::SlowStart);
        }
    }

    /// A load reading (the 1-minute load average): nanny's formula, once slow start is over.
    /// Readings below 0, of exactly 1.0, or not finite change nothing, as in nanny.
    pub fn handle_load(&mut self, _now: Instant, load: f64) {
        if self.health != Health::Up || !self.slow_start_done || self.frozen.is_some() {
            return;
        }
        if self.config.load.is_none() || !load.is_finite() || load < 0.0 || load == 1.0 {
            return;
        }
        let weight = i64::from(self.config.weight);
        let last = i64::from(self.weight);
        // nanny's integer scale factor and threshold.
        let scale_factor = (weight / 2) as f64;
        let threshold = weight / 4;
        let step = if load < 1.0 {
            scale_factor * (1.0 - load).cbrt()
        } else {
            -scale_factor * (load - 1.0).cbrt()
        };
        let floor = weight;
        let ceiling = i64::from(self.config.load_ceiling());
        // Bounded before the cast: never accumulates beyond [weight, scale × weight].
        let next = ((last as f64 + step).trunc() as i64).clamp(floor, ceiling.max(floor));
        if (next - last).abs() >= threshold.max(1) {
            self.set_weight(next as u32, Reason::Load(load));
        }
    }

    /// Applies an operator's override.
    pub fn set_override(&mut self, now: Instant, o: Override) {
        let reason = Reason::Override(o);
        match o {
            Override::ForceUp => {
                self.frozen = Some(o);
                if self.health == Health::Up {
                    self.set_weight(self.config.weight, reason);
                } else {
                    self.health = Health::Up;
                    self.transitions += 1;
                    self.admitted_at = Some(now);
                    self.weight = self.config.weight;
                    self.events.push_back(Event {
                        kind: EventKind::Up {
                            weight: self.weight,
                        },
                        reason,
                    });
                }
                self.slow_start_done = true;
            }
            Override::ForceDown => {
                self.frozen = Some(o);
                if self.health != Health::Down {
                    self.take_down(reason);
                }
            }
            Override::Freeze => self.frozen = Some(o),
            Override::Resume => {
                self.frozen = None;
                self.successes = 0;
                self.failures = 0;
                self.streak_since = None;
                self.reentry_waived = true;
            }
        }
    }

    /// The next event for the application.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The current state.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            health: self.health,
            weight: self.weight,
            frozen: self.frozen,
            last: self.last.clone(),
            checks: self.checks,
            failures: self.failed,
            transitions: self.transitions,
            successes_in_a_row: self.successes,
            failures_in_a_row: self.failures,
        }
    }
}
