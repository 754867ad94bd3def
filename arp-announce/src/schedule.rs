//! When frames go out: bursts, a delayed second burst, periodic refresh and a global rate
//! limit, as a sans-IO state machine that takes `now` and says which address to announce next.

use std::time::{Duration, Instant};

/// How many frames go out, and when.
///
/// A *round* sends one frame for every address. The first burst is `count` rounds, `interval`
/// apart, starting at once; the optional second burst starts `delay` after the first round;
/// the optional refresh then repeats one round every `refresh` until stopped. `max_rate`
/// spaces all frames of all addresses to at most that many per second.
///
/// The default is Piranha's: 5 frames, 1 s apart.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[non_exhaustive]
pub struct Schedule {
    /// Rounds in the first burst (at least 1).
    pub count: u32,
    /// Time between the rounds of a burst.
    #[cfg_attr(feature = "serde", serde(with = "humantime_serde"))]
    pub interval: Duration,
    /// A second burst, as keepalived's `garp_master_delay` / `garp_master_repeat`.
    pub second_burst: Option<Burst>,
    /// After the bursts, one round every this long while the announcer runs.
    #[cfg_attr(feature = "serde", serde(with = "humantime_serde"))]
    pub refresh: Option<Duration>,
    /// At most this many frames per second, all addresses together.
    pub max_rate: Option<u32>,
}

/// A delayed burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
#[non_exhaustive]
pub struct Burst {
    /// From the start of the announcement to the burst's first round.
    #[cfg_attr(feature = "serde", serde(with = "humantime_serde"))]
    pub delay: Duration,
    /// Rounds in the burst.
    pub count: u32,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule::piranha()
    }
}

impl Schedule {
    /// Piranha's pulse: 5 frames per address, 1 s apart.
    pub fn piranha() -> Schedule {
        Schedule {
            count: 5,
            interval: Duration::from_secs(1),
            second_burst: None,
            refresh: None,
            max_rate: None,
        }
    }

    /// keepalived's defaults: 5 frames at once, and 5 more after 5 s.
    pub fn keepalived() -> Schedule {
        Schedule {
            count: 5,
            interval: Duration::ZERO,
            second_burst: Some(Burst {
                delay: Duration::from_secs(5),
                count: 5,
            }),
            refresh: None,
            max_rate: None,
        }
    }

    /// One frame per address, now.
    pub fn once() -> Schedule {
        Schedule {
            count: 1,
            ..Schedule::piranha()
        }
    }

    /// `count` rounds in the first burst.
    pub fn with_count(mut self, count: u32) -> Schedule {
        self.count = count;
        self
    }

    /// `interval` between the rounds of a burst.
    pub fn with_interval(mut self, interval: Duration) -> Schedule {
        self.interval = interval;
        self
    }

    /// A second burst of `count` rounds, `delay` after the start.
    pub fn with_second_burst(mut self, delay: Duration, count: u32) -> Schedule {
        self.second_burst = Some(Burst::new(delay, count));
        self
    }

    /// One round every `refresh` after the bursts.
    pub fn with_refresh(mut self, refresh: Duration) -> Schedule {
        self.refresh = Some(refresh);
        self
    }

    /// At most `max_rate` frames per second, all addresses together.
    pub fn with_max_rate(mut self, max_rate: u32) -> Schedule {
        self.max_rate = Some(max_rate);
        self
    }
}

impl Burst {
    /// `count` rounds, the first `delay` after the start of the announcement.
    pub fn new(delay: Duration, count: u32) -> Burst {
        Burst { delay, count }
    }
}

/// Which part of the schedule the next round belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    First(u32),
    Second(u32),
    Refresh,
    Done,
}

/// The state of one announcement of `addresses` addresses.
///
/// Drive it like this: after creating it and after every wake-up, call
/// [`Plan::poll_transmit`] until it returns `None`, sending a frame for each index it returns;
/// then sleep until [`Plan::poll_timeout`] (or forever when that is `None`: the plan is done).
///
/// ```
/// use std::time::{Duration, Instant};
/// use arp_announce::{Plan, Schedule};
/// let start = Instant::now();
/// let mut plan = Plan::new(Schedule::piranha(), 2, start);
/// assert_eq!((plan.poll_transmit(start), plan.poll_transmit(start), plan.poll_transmit(start)), (Some(0), Some(1), None));
/// assert_eq!(plan.poll_timeout(), Some(start + Duration::from_secs(1)));
/// ```
#[derive(Debug, Clone)]
pub struct Plan {
    schedule: Schedule,
    addresses: usize,
    start: Instant,
    phase: Phase,
    /// When the next round is due.
    next_round: Instant,
    /// The next address of the round in progress (`addresses` when no round is in progress).
    cursor: usize,
    /// The earliest time the next frame may go (rate limit).
    next_frame: Instant,
}

impl Plan {
    /// A plan whose first round is due at `now`.
    pub fn new(schedule: Schedule, addresses: usize, now: Instant) -> Plan {
        let phase = if addresses == 0 {
            Phase::Done
        } else if schedule.count > 0 {
            Phase::First(0)
        } else {
            match schedule.second_burst {
                Some(b) if b.count > 0 => Phase::Second(0),
                _ => Phase::Done,
            }
        };
        let next_round = match phase {
            Phase::Second(_) => now + schedule.second_burst.map_or(Duration::ZERO, |b| b.delay),
            _ => now,
        };
        Plan {
            schedule,
            addresses,
            start: now,
            phase,
            next_round,
            cursor: addresses,
            next_frame: now,
        }
    }

    /// The next address (its index) to announce at `now`, if one is due.
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant) -> Option<usize> {
        if self.cursor >= self.addresses {
            if self.phase == Phase::Done || now < self.next_round {
                return None;
            }
            self.cursor = 0;
            self.advance();
        }
        if now < self.next_frame {
            return None;
        }
        let i = self.cursor;
        self.cursor += 1;
        if let Some(rate) = self.schedule.max_rate.filter(|r| *r > 0) {
            self.next_frame = now + Duration::from_secs(1) / rate;
        }
        Some(i)
    }

    /// When [`Plan::poll_transmit`] should be called next; `None` once everything is sent (or
    /// after [`Plan::stop`]).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.cursor < self.addresses {
            return Some(self.next_frame);
        }
        match self.phase {
            Phase::Done => None,
            _ => Some(self.next_round.max(self.next_frame)),
        }
    }

    /// Stops: nothing more is sent.
    pub fn stop(&mut self) {
        self.phase = Phase::Done;
        self.cursor = self.addresses;
    }

    /// `true` once nothing more will be sent.
    pub fn is_done(&self) -> bool {
        self.poll_timeout().is_none()
    }

    /// A round has just started: work out when the next one is due.
    fn advance(&mut self) {
        let s = &self.schedule;
        let second = s.second_burst.filter(|b| b.count > 0);
        let round_time = self.next_round;
        self.phase = match self.phase {
            Phase::First(k) if k + 1 < s.count => {
                self.next_round = round_time + s.interval;
                Phase::First(k + 1)
            }
            Phase::First(_) => match second {
                Some(b) => {
                    self.next_round = (self.start + b.delay).max(round_time);
                    Phase::Second(0)
                }
                None => self.refresh_from(round_time),
            },
            Phase::Second(k) if second.is_some_and(|b| k + 1 < b.count) => {
                self.next_round = round_time + s.interval;
                Phase::Second(k + 1)
            }
            Phase::Second(_) | Phase::Refresh => self.refresh_from(round_time),
            Phase::Done => Phase::Done,
        };
    }

    fn refresh_from(&mut self, round_time: Instant) -> Phase {
        match self.schedule.refresh.filter(|r| !r.is_zero()) {
            Some(r) => {
                self.next_round = round_time + r;
                Phase::Refresh
            }
            None => Phase::Done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Runs a plan to `until` (or to its end), returning (time since start, address) per frame.
    fn run(schedule: Schedule, addresses: usize, until: Duration) -> Vec<(Duration, usize)> {
        let start = Instant::now();
        let mut plan = Plan::new(schedule, addresses, start);
        let mut now = start;
        let mut out = Vec::new();
        loop {
            while let Some(i) = plan.poll_transmit(now) {
                out.push((now - start, i));
            }
            match plan.poll_timeout() {
                Some(t) if t - start <= until => {
                    assert!(t >= now, "time goes forward");
                    now = t;
                }
                _ => return out,
            }
        }
    }

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn piranha_five_one_second_apart() {
        let got = run(Schedule::piranha(), 1, Duration::from_secs(60));
        let want: Vec<_> = (0..5).map(|k| (Duration::from_secs(k), 0)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn keepalived_two_bursts() {
        let got = run(Schedule::keepalived(), 2, Duration::from_secs(60));
        assert_eq!(got.len(), 20);
        assert!(got[..10].iter().all(|(t, _)| t.is_zero()));
        assert!(got[10..].iter().all(|(t, _)| *t == Duration::from_secs(5)));
    }

    #[test]
    fn second_burst_and_refresh() {
        let s = Schedule {
            count: 2,
            interval: ms(100),
            second_burst: Some(Burst {
                delay: ms(1000),
                count: 2,
            }),
            refresh: Some(ms(500)),
            max_rate: None,
        };
        let times: Vec<_> = run(s, 1, ms(2600)).into_iter().map(|(t, _)| t).collect();
        assert_eq!(
            times,
            [
                ms(0),
                ms(100),
                ms(1000),
                ms(1100),
                ms(1600),
                ms(2100),
                ms(2600)
            ]
        );
    }

    #[test]
    fn rate_limit_spaces_frames_across_addresses() {
        let s = Schedule {
            count: 2,
            interval: ms(10),
            max_rate: Some(100),
            ..Schedule::piranha()
        };
        let got = run(s, 3, Duration::from_secs(10));
        let times: Vec<_> = got.iter().map(|(t, _)| *t).collect();
        // 3 addresses at 10 ms spacing, then the second round as soon as the limit allows.
        assert_eq!(times, [ms(0), ms(10), ms(20), ms(30), ms(40), ms(50)]);
        assert_eq!(
            got.iter().map(|(_, i)| *i).collect::<Vec<_>>(),
            [0, 1, 2, 0, 1, 2]
        );
    }

    #[test]
    fn stop_and_empty() {
        let start = Instant::now();
        let mut plan = Plan::new(Schedule::piranha(), 1, start);
        assert_eq!(plan.poll_transmit(start), Some(0));
        plan.stop();
        assert_eq!(plan.poll_transmit(start + Duration::from_secs(9)), None);
        assert!(plan.is_done());
        let mut empty = Plan::new(Schedule::piranha(), 0, start);
        assert_eq!(empty.poll_transmit(start), None);
        assert!(empty.is_done());
    }

    proptest! {
        #[test]
        fn every_round_sends_every_address_once_in_order(
            count in 1u32..6, interval in 0u64..2000, addresses in 1usize..5,
            second in proptest::option::of((0u64..5000, 1u32..4)), rate in proptest::option::of(1u32..1000),
        ) {
            let s = Schedule {
                count,
                interval: ms(interval),
                second_burst: second.map(|(d, c)| Burst { delay: ms(d), count: c }),
                refresh: None,
                max_rate: rate,
            };
            let got = run(s.clone(), addresses, Duration::from_secs(3600));
            let rounds = count + second.map_or(0, |(_, c)| c);
            prop_assert_eq!(got.len(), rounds as usize * addresses);
            for (k, (_, i)) in got.iter().enumerate() {
                prop_assert_eq!(*i, k % addresses);
            }
            // Frames never go faster than the rate limit, and rounds never sooner than planned.
            for w in got.windows(2) {
                prop_assert!(w[1].0 >= w[0].0);
                if let Some(r) = rate {
                    prop_assert!(w[1].0 - w[0].0 >= Duration::from_secs(1) / r);
                }
            }
            for (k, (t, _)) in got.iter().step_by(addresses).take(count as usize).enumerate() {
                prop_assert!(*t >= ms(interval) * k as u32);
            }
        }
    }
}
