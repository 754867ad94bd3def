//! When a director announces a VIP, without I/O: [`Announcer`].

use std::{
    collections::BTreeMap,
    fmt,
    net::IpAddr,
    time::{Duration, Instant},
};

use crate::Error;

/// The rule's settings: [`Settings::default`] and the `with_*` methods.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Settings {
    /// Healthy real servers a virtual service needs for its VIP to be announced (at least 1).
    pub min_healthy: usize,
    /// How long a VIP must have been servable before it is announced, at first and after a
    /// withdrawal that followed a stable announcement.
    pub hold_down: Duration,
    /// The hold-down doubles each time a VIP is withdrawn less than `stable_after` after it was
    /// announced (a flap), up to this.
    pub max_hold_down: Duration,
    /// An announcement that lasted this long was stable: the next hold-down is `hold_down` again.
    pub stable_after: Duration,
}

impl Default for Settings {
    /// One healthy real server, a 5 s hold-down doubling up to 2 minutes, stable after 1 minute.
    fn default() -> Self {
        Settings {
            min_healthy: 1,
            hold_down: Duration::from_secs(5),
            max_hold_down: Duration::from_secs(120),
            stable_after: Duration::from_secs(60),
        }
    }
}

impl Settings {
    /// At least `n` healthy real servers per virtual service.
    pub fn with_min_healthy(mut self, n: usize) -> Self {
        self.min_healthy = n;
        self
    }

    /// A hold-down of `first`, doubling up to `max` while a VIP flaps.
    pub fn with_hold_down(mut self, first: Duration, max: Duration) -> Self {
        self.hold_down = first;
        self.max_hold_down = max;
        self
    }

    /// An announcement lasting `d` counts as stable.
    pub fn with_stable_after(mut self, d: Duration) -> Self {
        self.stable_after = d;
        self
    }

    /// `Err` naming the setting that cannot work.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |what: &str| Err(Error::Settings(what.to_string()));
        if self.min_healthy == 0 {
            return bad(
                "min_healthy must be at least 1 (a VIP with no healthy real server would stay announced)",
            );
        }
        if self.max_hold_down < self.hold_down {
            return bad("max_hold_down must not be shorter than hold_down");
        }
        Ok(())
    }
}

/// What the director tells the rule.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Input {
    /// How many real servers of one of the VIP's virtual services are healthy (`service` is the
    /// caller's key for it, e.g. its index in the configuration).
    Service {
        /// The VIP.
        vip: IpAddr,
        /// Which of its virtual services.
        service: u64,
        /// Its healthy real servers.
        healthy: usize,
    },
    /// A virtual service is gone from the configuration; a VIP without any is withdrawn.
    Removed {
        /// The VIP.
        vip: IpAddr,
        /// Which of its virtual services.
        service: u64,
    },
    /// Whether the director itself can forward: its links up and its tracking fit. While it is
    /// not, every VIP is withdrawn.
    Fit(bool),
    /// Time passed ([`Announcer::poll_timeout`]).
    Timer,
}

/// What the director must do.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output {
    /// Announce the VIP's route (e.g. add its host route to the table BIRD exports).
    Announce(IpAddr),
    /// Withdraw it.
    Withdraw {
        /// The VIP.
        vip: IpAddr,
        /// Why.
        reason: Reason,
    },
}

/// Why a VIP was withdrawn.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// None of its virtual services has enough healthy real servers.
    TooFewHealthy {
        /// The most healthy real servers of any of its services.
        best: usize,
        /// [`Settings::min_healthy`].
        needed: usize,
    },
    /// The director is not fit ([`Input::Fit`]).
    Unfit,
    /// It has no virtual service left.
    Removed,
    /// The director stops ([`Announcer::withdraw_all`]).
    Stopping,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::TooFewHealthy { best, needed } => write!(
                f,
                "no virtual service has {needed} healthy real server(s) (the best has {best})"
            ),
            Reason::Unfit => f.write_str("the director is not fit (a link down or tracking)"),
            Reason::Removed => f.write_str("no virtual service left on it"),
            Reason::Stopping => f.write_str("the director stops"),
        }
    }
}

#[derive(Debug, Clone)]
struct Vip {
    services: BTreeMap<u64, usize>,
    announced_at: Option<Instant>,
    /// Since when it has been servable without a break, while not announced.
    servable_since: Option<Instant>,
    hold: Duration,
}

/// The rule of route health injection for one director: a VIP is announced while the director
/// can serve it, withdrawn at once when it cannot, and announced again only after it has been
/// servable for a hold-down that doubles while it flaps.
///
/// A VIP is servable while the director is fit ([`Input::Fit`]) and **at least one** of its
/// virtual services has [`Settings::min_healthy`] healthy real servers: a VIP whose port 80
/// pool died while its port 443 pool serves stays announced, since every director shares the
/// same real servers and withdrawing it everywhere would take port 443 down too.
///
/// ```
/// use std::{net::IpAddr, time::{Duration, Instant}};
/// use cluster::{Announcer, Input, Output, Settings};
///
/// let vip: IpAddr = "192.0.2.10".parse()?;
/// let settings = Settings::default().with_hold_down(Duration::from_secs(2), Duration::from_secs(30));
/// let mut rule = Announcer::new(settings)?;
/// let t0 = Instant::now();
/// assert!(rule.handle(t0, Input::Fit(true)).is_empty());
/// assert!(rule.handle(t0, Input::Service { vip, service: 0, healthy: 3 }).is_empty());
/// // Announced once it has been servable for the hold-down.
/// let due = rule.poll_timeout().expect("a hold-down runs");
/// assert_eq!(due, t0 + Duration::from_secs(2));
/// assert_eq!(rule.handle(due, Input::Timer), [Output::Announce(vip)]);
/// // Withdrawn at once when its real servers fail.
/// let out = rule.handle(due, Input::Service { vip, service: 0, healthy: 0 });
/// assert!(matches!(out[..], [Output::Withdraw { .. }]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Announcer {
    settings: Settings,
    fit: bool,
    vips: BTreeMap<IpAddr, Vip>,
}

impl Announcer {
    /// The rule with `settings`; the director starts unfit until told otherwise.
    pub fn new(settings: Settings) -> Result<Announcer, Error> {
        settings.validate()?;
        Ok(Announcer {
            settings,
            fit: false,
            vips: BTreeMap::new(),
        })
    }

    /// The VIPs announced now.
    pub fn announced(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.vips
            .iter()
            .filter(|(_, v)| v.announced_at.is_some())
            .map(|(ip, _)| *ip)
    }

    /// The hold-down a VIP would wait now before being announced (after its flaps).
    pub fn hold_down(&self, vip: IpAddr) -> Option<Duration> {
        self.vips.get(&vip).map(|v| v.hold)
    }

    /// The director stops: every announced VIP is withdrawn (and would wait a first hold-down
    /// again).
    #[must_use = "the outputs must be carried out"]
    pub fn withdraw_all(&mut self) -> Vec<Output> {
        let base = self.settings.hold_down;
        let mut out = Vec::new();
        for (ip, v) in &mut self.vips {
            if v.announced_at.take().is_some() {
                out.push(Output::Withdraw {
                    vip: *ip,
                    reason: Reason::Stopping,
                });
            }
            v.servable_since = None;
            v.hold = base;
        }
        out
    }

    /// When to call `handle(now, Input::Timer)` next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.vips
            .values()
            .filter(|v| v.announced_at.is_none())
            .filter_map(|v| v.servable_since.map(|s| s + v.hold))
            .min()
    }

    /// Handles one input at `now`; due hold-downs end too, whatever the input.
    #[must_use = "the outputs must be carried out"]
    pub fn handle(&mut self, now: Instant, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        let base = self.settings.hold_down;
        match input {
            Input::Service {
                vip,
                service,
                healthy,
            } => {
                let v = self.vips.entry(vip).or_insert_with(|| Vip {
                    services: BTreeMap::new(),
                    announced_at: None,
                    servable_since: None,
                    hold: base,
                });
                v.services.insert(service, healthy);
            }
            Input::Removed { vip, service } => {
                if let Some(v) = self.vips.get_mut(&vip) {
                    v.services.remove(&service);
                    if v.services.is_empty() {
                        if v.announced_at.is_some() {
                            out.push(Output::Withdraw {
                                vip,
                                reason: Reason::Removed,
                            });
                        }
                        self.vips.remove(&vip);
                    }
                }
            }
            Input::Fit(fit) => self.fit = fit,
            Input::Timer => {}
        }
        let (fit, needed) = (self.fit, self.settings.min_healthy);
        for (ip, v) in &mut self.vips {
            let best = v.services.values().copied().max().unwrap_or(0);
            let servable = fit && best >= needed;
            match (v.announced_at, servable) {
                (Some(at), false) => {
                    // A withdrawal soon after the announcement is a flap: wait longer next time.
                    v.hold = if now.saturating_duration_since(at) < self.settings.stable_after {
                        v.hold.saturating_mul(2).min(self.settings.max_hold_down)
                    } else {
                        base
                    };
                    v.announced_at = None;
                    v.servable_since = None;
                    let reason = if fit {
                        Reason::TooFewHealthy { best, needed }
                    } else {
                        Reason::Unfit
                    };
                    out.push(Output::Withdraw { vip: *ip, reason });
                }
                (None, false) => v.servable_since = None,
                (None, true) => {
                    let since = *v.servable_since.get_or_insert(now);
                    if now >= since + v.hold {
                        v.announced_at = Some(now);
                        v.servable_since = None;
                        out.push(Output::Announce(*ip));
                    }
                }
                (Some(_), true) => {}
            }
        }
        out
    }
}
