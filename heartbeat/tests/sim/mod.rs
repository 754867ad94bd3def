//! A deterministic two-node network for the state machine: virtual time, per-direction loss,
//! delay (and so reordering), duplication, per-path partitions, crashes, clean stops and
//! restarts. Everything random comes from one seed.

#![allow(dead_code, unreachable_pub)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use heartbeat::packet::ByteOrder;
use heartbeat::{
    Action, AuthConfig, Config, Event, Heartbeat, PathConfig, PathId, Protocol, Reason, Role,
    Timers,
};

pub const KEEPALIVE: Duration = Duration::from_millis(100);
pub const DEADTIME: Duration = Duration::from_millis(300);
pub const PATHS: usize = 2;

/// Node `n`'s address on path `p`.
pub fn addr(n: usize, p: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, p as u8, 0, n as u8 + 1))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Piranha,
    Auth { failback: bool },
}

/// Node 0 is the primary (and in auth mode has the higher priority).
pub fn config(mode: Mode, n: usize, epoch: u64, preempt_delay: Duration) -> Config {
    let paths = (0..PATHS)
        .map(|p| PathConfig::new(addr(1 - n, p)).with_critical(p == 0))
        .collect();
    let protocol = match mode {
        Mode::Piranha => Protocol::Piranha {
            // One node of each byte order: both are accepted.
            byte_order: if n == 0 {
                ByteOrder::Little
            } else {
                ByteOrder::Big
            },
        },
        Mode::Auth { failback } => Protocol::Auth(
            AuthConfig::new(
                b"simulation key, 32 bytes long!!!".to_vec().into(),
                n as u32 + 1,
                2 - n as u32,
                epoch,
            )
            .with_priority(if n == 0 { 200 } else { 100 })
            .with_failback(failback)
            .with_preempt_delay(preempt_delay),
        ),
    };
    Config::new(
        protocol,
        Timers::new(KEEPALIVE, DEADTIME).expect("valid timers"),
    )
    .with_primary(n == 0)
    .with_paths(paths)
}

/// xorshift64*: small, deterministic, good enough for chaos.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u32) -> bool {
        self.next() % 100 < u64::from(percent)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// Network conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Conditions {
    /// Loss in percent, per direction: `[0→1, 1→0]`.
    pub loss: [u32; 2],
    /// Duplication in percent.
    pub dup: u32,
    /// Delay is uniform in `0..=max_delay`: later packets may overtake earlier ones.
    pub max_delay: Duration,
    /// Paths cut.
    pub cut: [bool; PATHS],
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Delivery {
    at: Instant,
    order: u64,
    to: usize,
    path: usize,
    from: usize,
    bytes: Vec<u8>,
}

/// A role change as seen by the test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub at: Instant,
    pub node: usize,
    pub role: Role,
    pub reason: Reason,
    /// How long before the change the node last heard a datagram (or started).
    pub since_heard: Duration,
}

pub struct Sim {
    pub mode: Mode,
    pub start: Instant,
    pub now: Instant,
    pub nodes: [Option<Heartbeat>; 2],
    pub net: Conditions,
    pub rng: Rng,
    queue: BinaryHeap<Reverse<Delivery>>,
    order: u64,
    epoch: u64,
    pub preempt_delay: Duration,
    pub changes: Vec<Change>,
    pub reannounces: Vec<(Instant, usize)>,
    /// When each node last had a datagram delivered to it, or started.
    pub heard: [Instant; 2],
}

impl Sim {
    pub fn new(mode: Mode, seed: u64) -> Sim {
        let start = Instant::now();
        let mut sim = Sim {
            mode,
            start,
            now: start,
            nodes: [None, None],
            net: Conditions::default(),
            rng: Rng::new(seed),
            queue: BinaryHeap::new(),
            order: 0,
            epoch: 0,
            preempt_delay: Duration::ZERO,
            changes: Vec::new(),
            reannounces: Vec::new(),
            heard: [start; 2],
        };
        sim.start_node(0);
        sim.start_node(1);
        sim
    }

    pub fn role(&self, n: usize) -> Option<Role> {
        self.nodes[n].as_ref().map(Heartbeat::role)
    }

    pub fn active_count(&self) -> usize {
        (0..2)
            .filter(|n| self.role(*n) == Some(Role::Active))
            .count()
    }

    pub fn start_node(&mut self, n: usize) {
        self.epoch += 1;
        let config = config(self.mode, n, self.epoch, self.preempt_delay);
        let node = Heartbeat::new(config, self.now).expect("config");
        self.nodes[n] = Some(node);
        self.heard[n] = self.now;
        self.event(n, Event::Timer);
    }

    /// The process dies: no goodbye.
    pub fn crash(&mut self, n: usize) {
        self.nodes[n] = None;
    }

    /// Clean stop: resign (or STOPPED), then gone.
    pub fn stop(&mut self, n: usize) {
        self.event(n, Event::Shutdown);
        self.nodes[n] = None;
    }

    pub fn event(&mut self, n: usize, event: Event<'_>) {
        let now = self.now;
        let Some(node) = self.nodes[n].as_mut() else {
            return;
        };
        let actions = node.handle(now, event);
        self.apply(n, actions);
    }

    fn apply(&mut self, n: usize, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::Send { path, bytes } => self.transmit(n, path.0, bytes),
                Action::BecomeActive { reason } => self.changes.push(Change {
                    at: self.now,
                    node: n,
                    role: Role::Active,
                    reason,
                    since_heard: self.now - self.heard[n],
                }),
                Action::BecomeStandby { reason } => self.changes.push(Change {
                    at: self.now,
                    node: n,
                    role: Role::Standby,
                    reason,
                    since_heard: self.now - self.heard[n],
                }),
                Action::Reannounce { .. } => self.reannounces.push((self.now, n)),
            }
        }
    }

    fn transmit(&mut self, from: usize, path: usize, bytes: Vec<u8>) {
        if self.net.cut[path] || self.rng.chance(self.net.loss[from]) {
            return;
        }
        let copies = if self.rng.chance(self.net.dup) { 2 } else { 1 };
        for _ in 0..copies {
            let delay = self.rng.below(self.net.max_delay.as_micros() as u64 + 1);
            self.order += 1;
            self.queue.push(Reverse(Delivery {
                at: self.now + Duration::from_micros(delay),
                order: self.order,
                to: 1 - from,
                path,
                from,
                bytes: bytes.clone(),
            }));
        }
    }

    /// Runs every event up to and including `until`.
    pub fn run_until(&mut self, until: Instant) {
        let (mut last, mut same) = (self.now, 0u32);
        loop {
            same = if self.now == last { same + 1 } else { 0 };
            last = self.now;
            assert!(
                same < 10_000,
                "no progress at {:?}: a timeout that does not advance",
                self.now - self.start
            );
            let timers = (0..2).filter_map(|n| {
                self.nodes[n]
                    .as_ref()
                    .and_then(Heartbeat::poll_timeout)
                    .map(|t| (t, n))
            });
            let next_timer = timers.min();
            let next_packet = self.queue.peek().map(|Reverse(d)| d.at);
            let next = match (next_timer, next_packet) {
                (Some((t, _)), Some(p)) => t.min(p),
                (Some((t, _)), None) => t,
                (None, Some(p)) => p,
                (None, None) => break,
            };
            if next > until {
                break;
            }
            self.now = self.now.max(next);
            if next_packet == Some(next) {
                let Some(Reverse(d)) = self.queue.pop() else {
                    break;
                };
                let from = SocketAddr::new(addr(d.from, d.path), 539);
                if self.nodes[d.to].is_some() {
                    self.heard[d.to] = self.now;
                }
                self.event(
                    d.to,
                    Event::Packet {
                        path: PathId(d.path),
                        from,
                        bytes: &d.bytes,
                    },
                );
            } else if let Some((_, n)) = next_timer {
                self.event(n, Event::Timer);
            }
        }
        self.now = self.now.max(until);
    }

    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    /// Role changes at or after `since`.
    pub fn changes_since(&self, since: Instant) -> Vec<Change> {
        self.changes
            .iter()
            .filter(|c| c.at >= since)
            .copied()
            .collect()
    }

    /// Runs until node `n` is active, at most `limit`; returns when it became so.
    pub fn run_until_active(&mut self, n: usize, limit: Duration) -> Option<Instant> {
        let deadline = self.now + limit;
        while self.now < deadline {
            if self.role(n) == Some(Role::Active) {
                return Some(self.now);
            }
            let step = self.now + Duration::from_millis(1);
            self.run_until(step.min(deadline));
        }
        (self.role(n) == Some(Role::Active)).then_some(self.now)
    }
}
