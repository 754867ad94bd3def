//! The driver: many targets in one tokio task, with bounded concurrency and steady intervals.

use std::{
    cmp::Reverse,
    collections::{BTreeSet, BinaryHeap, HashMap, VecDeque},
    fmt,
    net::SocketAddr,
    panic::AssertUnwindSafe,
    pin::{Pin, pin},
    sync::Arc,
    time::Duration,
};

use futures::{FutureExt, StreamExt, stream::FuturesUnordered};
use slab::Slab;
use tokio::{
    sync::{mpsc, oneshot},
    time::{Instant, sleep_until, timeout_at},
};

use crate::{
    Checker, Error, Event, Health, Outcome, Override, Pool, PoolEvent, Probe, ProbeError, Server,
    ServerConfig, Snapshot,
};

/// Settings of a [`Monitor`]: [`MonitorOptions::default`] and the `with_*` methods (it may gain
/// settings).
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[non_exhaustive]
pub struct MonitorOptions {
    /// Most checks (and load readings) running at once; others wait their turn. The monitor
    /// raises the process's soft descriptor limit (`RLIMIT_NOFILE`) to fit them, within the
    /// hard limit, and runs fewer at once (with a warning) when the hard limit is lower.
    pub max_concurrency: usize,
    /// Capacity of the update channel. While it is full, no new checks start.
    pub update_capacity: usize,
    /// Spread each target's first check uniformly over its interval (no thundering herd).
    pub jitter: bool,
    /// Seed of the jitter, for reproducible schedules.
    pub seed: u64,
}

impl MonitorOptions {
    /// At most `n` checks at once.
    pub fn with_max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = n;
        self
    }

    /// An update channel of `n` slots.
    pub fn with_update_capacity(mut self, n: usize) -> Self {
        self.update_capacity = n;
        self
    }

    /// Whether first checks are spread over their interval, and the jitter's seed.
    pub fn with_jitter(mut self, jitter: bool, seed: u64) -> Self {
        self.jitter = jitter;
        self.seed = seed;
        self
    }
}

impl Default for MonitorOptions {
    fn default() -> Self {
        MonitorOptions {
            max_concurrency: 1024,
            update_capacity: 1024,
            jitter: true,
            seed: 0x5eed,
        }
    }
}

/// `outcome` for another member of a shared check (an error is passed on as its text, which
/// is what a server keeps of it).
fn copied(outcome: &Outcome) -> Outcome {
    Outcome {
        latency: outcome.latency,
        result: match &outcome.result {
            Ok(pass) => Ok(*pass),
            Err(e) => Err(ProbeError::Custom(e.to_string())),
        },
    }
}

/// At most one warning this often about checks that could not run for want of a local
/// resource ([`ProbeError::is_local`]).
const LOCAL_ERROR_REPORT: Duration = Duration::from_secs(10);

/// Identifies a target in a [`Monitor`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetId(u64);

impl fmt::Display for TargetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "target#{}", self.0)
    }
}

/// A real server to watch.
#[derive(Clone)]
pub struct Target {
    address: SocketAddr,
    checker: Arc<dyn Checker>,
    /// The probe's settings, when it is one of ours: targets with equal probes and intervals
    /// share one check.
    probe: Option<Arc<Probe>>,
    config: ServerConfig,
    interval: Duration,
    group: Option<u64>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("address", &self.address)
            .field("interval", &self.interval)
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

impl Target {
    /// Checks `probe` every `interval`, judged by `config`.
    ///
    /// Targets whose probes are equal (the same settings against the same real server) and
    /// whose intervals are equal share one check: a real server in several virtual services
    /// is probed once per interval, and every target judges the result by its own `config`.
    pub fn new(probe: Probe, config: ServerConfig, interval: Duration) -> Self {
        let probe = Arc::new(probe);
        Target {
            address: probe.target(),
            checker: probe.clone(),
            probe: Some(probe),
            config,
            interval,
            group: None,
        }
    }

    /// An application's own check of the server at `address`.
    pub fn custom(
        address: SocketAddr,
        checker: Arc<dyn Checker>,
        config: ServerConfig,
        interval: Duration,
    ) -> Self {
        Target {
            address,
            checker,
            probe: None,
            config,
            interval,
            group: None,
        }
    }

    /// Puts the target in a pool (a virtual service): [`Update::Pool`] says when all of the
    /// pool's servers are down.
    pub fn group(mut self, group: u64) -> Self {
        self.group = Some(group);
        self
    }
}

/// What the [`Monitor`] reports.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Update {
    /// A server's change.
    Server {
        /// Which.
        target: TargetId,
        /// Its address.
        address: SocketAddr,
        /// The change.
        event: Event,
    },
    /// A pool's change.
    Pool {
        /// The group given by [`Target::group`].
        group: u64,
        /// The change.
        event: PoolEvent,
    },
}

impl fmt::Display for Update {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Update::Server { address, event, .. } => write!(f, "{address} {event}"),
            Update::Pool { group, event } => write!(f, "pool {group} {event:?}"),
        }
    }
}

/// One target's state, as [`Monitor::status`] reports it.
#[derive(Clone, Debug)]
pub struct TargetStatus {
    /// The real server.
    pub address: SocketAddr,
    /// Its pool, if any.
    pub group: Option<u64>,
    /// Its check interval.
    pub interval: Duration,
    /// Health, weight, last result and counters.
    pub state: Snapshot,
}

/// The monitor's task has ended.
enum Command {
    Add(Target, oneshot::Sender<Result<TargetId, Error>>),
    Remove(TargetId, oneshot::Sender<bool>),
    Override(TargetId, Override, oneshot::Sender<bool>),
    Status(oneshot::Sender<Vec<(TargetId, TargetStatus)>>),
    Shutdown,
}

/// A handle to the health monitor: a tokio task that checks every target at its interval,
/// feeds each [`Server`] and sends [`Update`]s. Cheap to clone; the task ends when every handle
/// is dropped or [`Monitor::shutdown`] is called, and running checks are then cancelled (sockets
/// closed, programs' process groups killed).
#[derive(Clone, Debug)]
pub struct Monitor {
    commands: mpsc::Sender<Command>,
    done: Arc<tokio::sync::Notify>,
}

impl Monitor {
    /// Starts the task on the current tokio runtime; returns its handle and its updates.
    pub fn spawn(options: MonitorOptions) -> (Monitor, mpsc::Receiver<Update>) {
        let (commands, rx) = mpsc::channel(64);
        let (updates, updates_rx) = mpsc::channel(options.update_capacity.max(1));
        let done = Arc::new(tokio::sync::Notify::new());
        let task = Task::new(options, updates);
        let notify = done.clone();
        tokio::spawn(async move {
            task.run(rx).await;
            notify.notify_waiters();
            notify.notify_one();
        });
        (Monitor { commands, done }, updates_rx)
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, Error> {
        let (tx, rx) = oneshot::channel();
        // A closed channel is the whole story: the task has ended.
        let stopped = |_closed| Error::MonitorStopped;
        self.commands.send(make(tx)).await.map_err(stopped)?;
        rx.await.map_err(|_closed| Error::MonitorStopped)
    }

    /// Adds a target; its first check comes within one interval (jittered). `Err` when its
    /// settings cannot work, or the monitor has stopped.
    pub async fn add(&self, target: Target) -> Result<TargetId, Error> {
        self.ask(|tx| Command::Add(target, tx)).await?
    }

    /// Removes a target; its running check is abandoned. False if it was not there.
    pub async fn remove(&self, id: TargetId) -> Result<bool, Error> {
        self.ask(|tx| Command::Remove(id, tx)).await
    }

    /// Applies an operator's override. False if the target is not there.
    pub async fn set_override(&self, id: TargetId, o: Override) -> Result<bool, Error> {
        self.ask(|tx| Command::Override(id, o, tx)).await
    }

    /// Every target's state, ordered by id.
    pub async fn status(&self) -> Result<Vec<(TargetId, TargetStatus)>, Error> {
        self.ask(Command::Status).await
    }

    /// Stops the task and waits until it has ended and its checks are cancelled.
    pub async fn shutdown(self) {
        let done = self.done.notified();
        if self.commands.send(Command::Shutdown).await.is_ok() {
            done.await;
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Job {
    Check,
    Timeout,
    Load,
}

struct Slot {
    address: SocketAddr,
    checker: Arc<dyn Checker>,
    /// The [`Shared`] check the target is a member of (its key in `Task::groups`).
    shared: Option<usize>,
    server: Server,
    interval: Duration,
    group: Option<u64>,
    next_check: Instant,
    /// When the check in flight started (its latency is measured from there).
    started: Instant,
    checking: bool,
    queued: bool,
    timeout_at: Option<Instant>,
    next_load: Option<Instant>,
    loading: bool,
}

/// One check shared by targets with equal probes and intervals.
struct Shared {
    probe: Arc<Probe>,
    /// The check every member runs: the first member's (its kept-alive connection, if any).
    checker: Arc<dyn Checker>,
    members: BTreeSet<TargetId>,
    /// The member whose turn started the check in flight (or queued), and the members waiting
    /// for its result.
    runner: Option<TargetId>,
    waiters: Vec<TargetId>,
}

enum Done {
    Check(Result<crate::Pass, ProbeError>),
    Load(Result<f64, ProbeError>),
}

/// A check or load reading in flight, polled by the monitor's own task.
type Running = Pin<Box<dyn Future<Output = (TargetId, Done)> + Send>>;

/// What woke the monitor's task.
enum Wake<'a> {
    Command(Option<Command>),
    Done(TargetId, Done),
    Permit(Result<mpsc::Permit<'a, Update>, mpsc::error::SendError<()>>),
    Timer,
}

struct Task {
    options: MonitorOptions,
    updates: mpsc::Sender<Update>,
    slots: HashMap<TargetId, Slot>,
    next_id: u64,
    heap: BinaryHeap<Reverse<(Instant, TargetId, Job)>>,
    queue: VecDeque<(TargetId, Job)>,
    /// Checks and load readings in flight. They run in this task, not a task each: most
    /// checks of a nearby server are over in their first poll (see `probe::socket`), and those
    /// that wait wake this task once for all that finished meanwhile.
    running: FuturesUnordered<Running>,
    outbox: VecDeque<Update>,
    pools: HashMap<u64, Pool<TargetId>>,
    /// Shared checks; a member's slot holds its key, so a check finds its group without a
    /// lookup.
    groups: Slab<Shared>,
    /// The keys of the shared checks, by real server and interval (then by equal probes).
    shared: HashMap<(SocketAddr, Duration), Vec<usize>>,
    /// Checks that could not run for want of a local resource since the last warning, and when
    /// that warning was.
    local_errors: (u64, Option<Instant>),
}

impl Task {
    fn new(mut options: MonitorOptions, updates: mpsc::Sender<Update>) -> Self {
        // Each check in flight holds a descriptor (or a few, for programs): the process's limit
        // must let them all run, or checks would fail on our own EMFILE.
        options.max_concurrency = crate::limits::fit_descriptors(options.max_concurrency);
        Task {
            options,
            local_errors: (0, None),
            groups: Slab::new(),
            shared: HashMap::new(),
            updates,
            slots: HashMap::new(),
            next_id: 0,
            heap: BinaryHeap::new(),
            queue: VecDeque::new(),
            running: FuturesUnordered::new(),
            outbox: VecDeque::new(),
            pools: HashMap::new(),
        }
    }

    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let far = |now: Instant| now + Duration::from_secs(86400);
        // The clock is read once per wake-up, for everything it handles: some clock sources
        // are slow to read (HPET: 1.5 µs in the qemu rig; a system call where there is no vDSO).
        let mut now = Instant::now();
        let mut sleep = pin!(sleep_until(far(now)));
        let mut armed: Option<Instant> = None;
        loop {
            self.start_due(now);
            let next = self.heap.peek().map(|Reverse((at, _, _))| *at);
            if next != armed {
                sleep.as_mut().reset(next.unwrap_or_else(|| far(now)));
                armed = next;
            }
            let updates = self.updates.clone();
            let wake = tokio::select! {
                command = commands.recv() => Wake::Command(command),
                Some((id, done)) = self.running.next(), if !self.running.is_empty() => {
                    Wake::Done(id, done)
                }
                permit = updates.reserve(), if !self.outbox.is_empty() => Wake::Permit(permit),
                () = &mut sleep, if armed.is_some() => {
                    armed = None;
                    Wake::Timer
                }
            };
            now = Instant::now();
            match wake {
                Wake::Command(None | Some(Command::Shutdown)) => break,
                Wake::Command(Some(c)) => self.command(c, now),
                Wake::Done(id, done) => {
                    self.finished(id, done, now);
                    // Checks started together mostly end together: take every one that is
                    // over without waiting (the next `select!` registers this task again).
                    while let Some(Some((id, done))) = self.running.next().now_or_never() {
                        self.finished(id, done, now);
                    }
                }
                Wake::Permit(Ok(permit)) => {
                    if let Some(u) = self.outbox.pop_front() {
                        permit.send(u);
                    }
                }
                Wake::Permit(Err(_)) => self.outbox.clear(),
                Wake::Timer => {}
            }
        }
        // Cancels what still runs: sockets closed, programs' process groups killed.
        self.running.clear();
    }

    fn jitter(&self, id: TargetId, interval: Duration) -> Duration {
        if !self.options.jitter {
            return Duration::ZERO;
        }
        // splitmix64 of the seed and the id: a fixed, well-spread fraction per target.
        let mut z = self.options.seed ^ id.0.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        interval.mul_f64((z >> 11) as f64 / (1u64 << 53) as f64)
    }

    fn command(&mut self, command: Command, now: Instant) {
        match command {
            Command::Add(target, reply) => {
                let _ = reply.send(self.add(target, now));
            }
            Command::Remove(id, reply) => {
                let found = self.slots.remove(&id);
                if let Some(slot) = &found
                    && let Some(key) = slot.shared
                {
                    self.leave_shared(id, key, (slot.address, slot.interval));
                }
                if let Some(slot) = &found
                    && let Some(g) = slot.group
                    && let Some(pool) = self.pools.get_mut(&g)
                {
                    let event = pool.remove(&id);
                    if pool.is_empty() {
                        self.pools.remove(&g);
                    }
                    self.pool_event(g, event);
                }
                let _ = reply.send(found.is_some());
            }
            Command::Override(id, o, reply) => {
                let found = match self.slots.get_mut(&id) {
                    Some(slot) => {
                        slot.server.set_override(now, o);
                        true
                    }
                    None => false,
                };
                if found {
                    self.drain(id, now);
                }
                let _ = reply.send(found);
            }
            Command::Status(reply) => {
                let mut all: Vec<_> = self
                    .slots
                    .iter()
                    .map(|(id, s)| {
                        (
                            *id,
                            TargetStatus {
                                address: s.address,
                                group: s.group,
                                interval: s.interval,
                                state: s.server.snapshot(),
                            },
                        )
                    })
                    .collect();
                all.sort_by_key(|(id, _)| *id);
                let _ = reply.send(all);
            }
            Command::Shutdown => {}
        }
    }

    /// Takes `id` out of its shared check; the members waiting on its turn check again at
    /// their next interval.
    fn leave_shared(&mut self, id: TargetId, key: usize, server: (SocketAddr, Duration)) {
        let Some(g) = self.groups.get_mut(key) else {
            return;
        };
        g.members.remove(&id);
        g.waiters.retain(|w| *w != id);
        let released = if g.runner == Some(id) {
            g.runner = None;
            std::mem::take(&mut g.waiters)
        } else {
            Vec::new()
        };
        if g.members.is_empty() {
            self.groups.remove(key);
            if let Some(bucket) = self.shared.get_mut(&server) {
                bucket.retain(|k| *k != key);
                if bucket.is_empty() {
                    self.shared.remove(&server);
                }
            }
        }
        for w in released {
            if let Some(slot) = self.slots.get_mut(&w) {
                slot.checking = false;
            }
        }
    }

    fn add(&mut self, target: Target, now: Instant) -> Result<TargetId, Error> {
        if target.interval.is_zero() {
            return Err(Error::Server(
                "the check interval must be greater than zero".into(),
            ));
        }
        let server = Server::new(target.config.clone())?;
        let id = TargetId(self.next_id);
        self.next_id += 1;
        let mut first = now + self.jitter(id, target.interval);
        let mut shared = None;
        if let Some(probe) = target.probe {
            let bucket = self
                .shared
                .entry((target.address, target.interval))
                .or_default();
            let groups = &mut self.groups;
            match bucket.iter().copied().find(|k| *groups[*k].probe == *probe) {
                Some(key) => {
                    let g = &mut groups[key];
                    // On the check's grid: due with the other members.
                    if let Some(next) = g.members.iter().find_map(|m| self.slots.get(m)) {
                        first = next.next_check;
                    }
                    g.members.insert(id);
                    shared = Some(key);
                }
                None => {
                    let key = groups.insert(Shared {
                        probe,
                        checker: target.checker.clone(),
                        members: BTreeSet::from([id]),
                        runner: None,
                        waiters: Vec::new(),
                    });
                    bucket.push(key);
                    shared = Some(key);
                }
            }
        }
        let next_load = target
            .config
            .load
            .as_ref()
            .map(|l| now + l.interval + self.jitter(id, l.interval));
        self.heap.push(Reverse((first, id, Job::Check)));
        if let Some(at) = next_load {
            self.heap.push(Reverse((at, id, Job::Load)));
        }
        if let Some(g) = target.group {
            let event = self.pools.entry(g).or_default().insert(id);
            self.pool_event(g, event);
        }
        self.slots.insert(
            id,
            Slot {
                address: target.address,
                checker: target.checker,
                shared,
                server,
                interval: target.interval,
                group: target.group,
                next_check: first,
                started: now,
                checking: false,
                queued: false,
                timeout_at: None,
                next_load,
                loading: false,
            },
        );
        Ok(id)
    }

    /// Pops due jobs, queues checks, and starts queued work while there is room.
    fn start_due(&mut self, now: Instant) {
        while let Some(Reverse((at, id, job))) = self.heap.peek().copied() {
            if at > now {
                break;
            }
            self.heap.pop();
            let Some(slot) = self.slots.get_mut(&id) else {
                continue;
            };
            match job {
                Job::Check if slot.next_check == at => {
                    // The next tick is on the original grid: intervals never drift, and ticks
                    // missed while a check ran long are skipped, not bunched.
                    let mut next = at + slot.interval;
                    while next <= now {
                        next += slot.interval;
                    }
                    slot.next_check = next;
                    self.heap.push(Reverse((next, id, Job::Check)));
                    if !slot.checking && !slot.queued {
                        if let Some(g) = slot.shared.and_then(|k| self.groups.get_mut(k)) {
                            match g.runner {
                                // Another member's turn started it: wait for its result.
                                Some(runner) if runner != id => {
                                    slot.checking = true;
                                    g.waiters.push(id);
                                    continue;
                                }
                                _ => g.runner = Some(id),
                            }
                        }
                        slot.queued = true;
                        self.queue.push_back((id, Job::Check));
                    }
                }
                Job::Timeout if slot.timeout_at == Some(at) => {
                    slot.timeout_at = None;
                    slot.server.handle_timeout(now);
                    self.drain(id, now);
                }
                Job::Load if slot.next_load == Some(at) => {
                    let interval = slot.server.config().load.as_ref().map(|l| l.interval);
                    if let Some(interval) = interval {
                        let mut next = at + interval;
                        while next <= now {
                            next += interval;
                        }
                        slot.next_load = Some(next);
                        self.heap.push(Reverse((next, id, Job::Load)));
                        let wanted = slot.server.health() == Health::Up && !slot.loading;
                        if wanted {
                            slot.loading = true;
                            self.queue.push_back((id, Job::Load));
                        }
                    }
                }
                _ => {}
            }
        }
        while self.running.len() < self.options.max_concurrency
            && self.outbox.len() < self.options.update_capacity
        {
            let Some((id, job)) = self.queue.pop_front() else {
                break;
            };
            let Some(slot) = self.slots.get_mut(&id) else {
                continue;
            };
            match job {
                Job::Check => {
                    slot.queued = false;
                    slot.checking = true;
                    slot.started = now;
                    let checker = match slot.shared.and_then(|k| self.groups.get(k)) {
                        Some(g) => g.checker.clone(),
                        None => slot.checker.clone(),
                    };
                    let limit = checker.deadline();
                    self.running.push(Box::pin(async move {
                        let check = AssertUnwindSafe(timeout_at(now + limit, checker.check()));
                        // An application's checker that panics fails its check; the monitor
                        // and every other check go on.
                        let result = match check.catch_unwind().await {
                            Ok(Ok(r)) => r,
                            Ok(Err(_elapsed)) => Err(ProbeError::Abandoned { after: limit }),
                            Err(_panic) => Err(ProbeError::Custom("the check panicked".into())),
                        };
                        (id, Done::Check(result))
                    }));
                }
                Job::Load => {
                    let Some(load) = slot.server.config().load.clone() else {
                        continue;
                    };
                    let address = slot.address;
                    // A reading must be over before the next one is due.
                    let limit = load.interval;
                    self.running.push(Box::pin(async move {
                        (id, Done::Load(load.monitor.query(address, limit).await))
                    }));
                }
                Job::Timeout => {}
            }
        }
    }

    fn finished(&mut self, id: TargetId, done: Done, now: Instant) {
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        match done {
            Done::Check(result) => {
                slot.checking = false;
                let outcome = Outcome {
                    latency: now.saturating_duration_since(slot.started),
                    result,
                };
                let waiters = match slot.shared.and_then(|k| self.groups.get_mut(k)) {
                    Some(g) => {
                        g.runner = None;
                        std::mem::take(&mut g.waiters)
                    }
                    None => Vec::new(),
                };
                match &outcome.result {
                    // Our own shortage (descriptors, memory) says nothing of the server: no
                    // verdict, the next tick checks again.
                    Err(e) if e.is_local() => {
                        let (count, warned) = &mut self.local_errors;
                        *count += 1 + waiters.len() as u64;
                        if warned.is_none_or(|at| now.duration_since(at) >= LOCAL_ERROR_REPORT) {
                            tracing::warn!(
                                "{count} checks could not run here (the last: {e}); their servers \
                                 keep their state until a check runs"
                            );
                            *count = 0;
                            *warned = Some(now);
                        }
                        for w in waiters {
                            if let Some(waiting) = self.slots.get_mut(&w) {
                                waiting.checking = false;
                            }
                        }
                        return;
                    }
                    Err(e) => tracing::debug!(target = %slot.address, "check failed: {e}"),
                    Ok(_) => {}
                }
                slot.server.handle_outcome(now, &outcome);
                // The same result for every member that waited on it.
                for w in waiters {
                    if let Some(waiting) = self.slots.get_mut(&w) {
                        waiting.checking = false;
                        waiting.server.handle_outcome(now, &copied(&outcome));
                        self.drain(w, now);
                    }
                }
            }
            Done::Load(Ok(load)) => {
                slot.loading = false;
                slot.server.handle_load(now, load);
            }
            Done::Load(Err(e)) => {
                slot.loading = false;
                // nanny ignores failures to read the load: the weight stays.
                tracing::debug!(target = %slot.address, "load reading failed: {e}");
            }
        }
        self.drain(id, now);
    }

    /// Moves a server's events to the outbox and re-arms its timeout.
    fn drain(&mut self, id: TargetId, _now: Instant) {
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        let mut health_changed = false;
        while let Some(event) = slot.server.poll_event() {
            health_changed |= !matches!(event.kind, crate::EventKind::Weight(_));
            if !self.updates.is_closed() {
                self.outbox.push_back(Update::Server {
                    target: id,
                    address: slot.address,
                    event,
                });
            }
        }
        let timeout = slot.server.poll_timeout();
        if timeout != slot.timeout_at {
            slot.timeout_at = timeout;
            if let Some(at) = timeout {
                self.heap.push(Reverse((at, id, Job::Timeout)));
            }
        }
        if health_changed && let Some(g) = slot.group {
            let health = slot.server.health();
            let event = self.pools.get_mut(&g).and_then(|p| p.update(id, health));
            self.pool_event(g, event);
        }
    }

    fn pool_event(&mut self, group: u64, event: Option<PoolEvent>) {
        if let Some(event) = event
            && !self.updates.is_closed()
        {
            self.outbox.push_back(Update::Pool { group, event });
        }
    }
}
