//! The running director: the [`Engine`] decides, this driver does. It feeds the engine the
//! monitor's verdicts, the heartbeat's role changes, the operator's requests and the drain
//! counts, and executes what it says: the IPVS table reconciled, the addresses taken and
//! released, the sync daemon, the checks, the commands and the log.

mod failover;
mod notify;
mod requests;
mod track;

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use arp_announce::takeover::{Addresses, Event, Takeover};
use healthcheck::{Monitor, MonitorOptions, TargetId, Update};
use heartbeat::Driver;
use ipvs::daemon::Step;
use ipvs::reconcile::{Ownership, Reconciler, observe};
use ipvs::{Daemon, Table};
use tokio::sync::{mpsc, oneshot};

use crate::control::{self, DEFAULT_SOCKET, Request, Response};
pub use crate::engine::TableMode;
use crate::engine::{Choices, Engine, Input, Output, Verdicted};
use crate::{Plan, ServerKey};

/// Why the director cannot run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// This node's role cannot be found from its addresses.
    #[error(transparent)]
    Role(heartbeat::Error),
    /// An address could not be listed, added or removed.
    #[error(transparent)]
    Address(#[from] arp_announce::Error),
    /// IPVS.
    #[error("IPVS: {0}")]
    Ipvs(#[from] ipvs::Error),
    /// The heartbeat.
    #[error("heartbeat: {0}")]
    Heartbeat(#[from] heartbeat::Error),
    /// The health monitor stopped.
    #[error("the health monitor stopped: {0}")]
    Monitor(healthcheck::Error),
    /// The control socket.
    #[error("control socket {0}")]
    Control(String),
    /// The failover services.
    #[error(transparent)]
    Failover(#[from] fos::Error),
    /// Active-active: the VIP routes.
    #[error(transparent)]
    Cluster(#[from] cluster::Error),
    /// The file of the services owned ([`director_core::owned`]) is unreadable.
    #[error("the services owned: {0} (remove the file to start without it)")]
    Owned(std::io::Error),
}

/// How the director runs: the command line's options, which win over the settings overlay's
/// (`None`: the overlay's, or the default).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Keep the owned IPVS services when stopping (for a restart that adopts them); a router
    /// alone keeps them (and its addresses) anyway, unless `release_on_exit`.
    pub keep_table_on_exit: bool,
    /// Remove the addresses and the table when stopping, even on a router alone.
    pub release_on_exit: bool,
    /// When the IPVS table is programmed (default: always).
    pub table: Option<TableMode>,
    /// How long a real server removed by a reload may drain before it is deleted anyway
    /// (default: the service's in the overlay, the overlay's, or 5 minutes).
    pub drain_timeout: Option<Duration>,
    /// The control socket (default: the overlay's, or [`DEFAULT_SOCKET`]).
    pub socket: Option<std::path::PathBuf>,
    /// How [`Request::Reload`] (and SIGHUP) reads the configuration; without one, reloads
    /// are refused.
    pub loader: Option<Loader>,
}

/// How often the owned IPVS entries and addresses are compared with the kernel, when the
/// overlay does not say.
const RECONCILE_INTERVAL: Duration = Duration::from_secs(5);

/// What the director is told while it runs.
#[derive(Debug)]
pub enum Control {
    /// An operator's request (the control socket's, or SIGHUP's [`Request::Reload`]).
    Request(Request, oneshot::Sender<Response>),
    /// Stop (SIGTERM): resign and, as [`Engine::leaving`] says, release the addresses and
    /// remove the owned entries.
    Stop,
}

/// Reads and plans the configuration again, for [`Request::Reload`]: the plan, or the
/// problems found (one line each, with their places).
#[derive(Clone)]
pub struct Loader(pub Arc<dyn Fn() -> Result<Plan, Vec<String>> + Send + Sync>);

impl std::fmt::Debug for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Loader")
    }
}

/// What a check of the monitor is for.
#[derive(Debug, Clone, Copy)]
enum Checked {
    /// A real server.
    Server(ServerKey),
    /// A tracker (its index in the plan's trackers).
    Tracker(usize),
}

/// The driver: the engine and the handles it acts through.
struct Director {
    engine: Engine,
    options: RunOptions,
    ipvs: ipvs::Handle,
    /// Applies the desired table; it remembers what the kernel holds, so that a health change
    /// or a reload sends only what changed.
    reconciler: Reconciler,
    /// The services this director may touch: those of its plan, and those it still has in the
    /// kernel from an earlier plan.
    owned: director_core::owned::Owned,
    monitor: Monitor,
    /// Each check, and what it is for.
    targets: HashMap<TargetId, Checked>,
    /// Each real server's check.
    checks: HashMap<ServerKey, TargetId>,
    /// The addresses held while active.
    takeover: Takeover,
    /// The sync daemons this director started.
    sync_daemons: Vec<Daemon>,
    /// Active-active: the VIP routes the routing daemon announces.
    routes: Option<cluster::Routes>,
    /// This node is the primary.
    primary: bool,
    /// The heartbeat (`None`: a router alone).
    heartbeat: Option<heartbeat::DriverHandle>,
    /// One status or metrics rendering at a time ([`Director::answer`]).
    renders: Arc<tokio::sync::Semaphore>,
    /// The hooks and commands running; waited for when stopping.
    hooks: healthcheck::Background,
}

impl Director {
    /// Does what the engine said, in order; the answer to the request in progress, if any. A
    /// heartbeat that has stopped drops the rest and answers with an error. `Err` only for
    /// what stops the director.
    async fn execute(
        &mut self,
        started: Instant,
        outputs: Vec<Output>,
    ) -> Result<Option<Response>, RunError> {
        let mut reply = None;
        for output in outputs {
            match output {
                Output::Table(table) => {
                    self.sync_table(&table).await;
                }
                Output::Take {
                    addresses,
                    announce,
                    probe,
                    report,
                } => {
                    log(self.takeover.take(&addresses, announce, probe).await);
                    if report {
                        let n = self.takeover.held().len();
                        tracing::info!("took over {n} addresses");
                    }
                }
                Output::Release { keep } => log(self.takeover.release(&keep).await),
                Output::SyncDaemons(want) => self.sync_daemons(&want).await,
                Output::Announce(vip) => self.route(vip, true).await,
                Output::Withdraw { vip, .. } => self.route(vip, false).await,
                Output::Timeouts(t) => {
                    if let Err(e) = self.ipvs.set_timeouts(&t).await {
                        tracing::error!("IPVS timeouts: {e}");
                    }
                }
                Output::Checks { remove, add } => self.checks(remove, add).await?,
                Output::Trackers(trackers) => self.trackers(trackers).await?,
                Output::Heartbeat(command) => {
                    if let Some(h) = &self.heartbeat
                        && !h.command(command).await
                    {
                        return Ok(Some(Response::error("the heartbeat has stopped")));
                    }
                }
                Output::Run {
                    what,
                    command: Some(command),
                    args,
                    limit,
                } => self.hooks.spawn(what, [command, args].concat(), limit),
                Output::Run { command: None, .. } => {}
                Output::Log(line) => tracing::info!(target: crate::log::LINE, "{line}"),
                Output::Status(line) => notify::status(&line),
                Output::Reloaded {
                    services,
                    added,
                    removed,
                    draining,
                } => {
                    let summary = format!(
                        "reloaded: {services} services ({added} added, {removed} removed), {draining} real servers draining; applied in {:.1} ms",
                        started.elapsed().as_secs_f64() * 1000.0
                    );
                    tracing::info!("{summary}");
                    notify::ready(&summary);
                    reply = Some(Response::ok(summary));
                }
                Output::Reply(r) => reply = Some(r),
                other => tracing::error!("an output this director cannot carry out: {other:?}"),
            }
        }
        Ok(reply)
    }

    /// Hands `input` to the engine and does what it says.
    async fn handle(&mut self, input: Input) -> Result<Option<Response>, RunError> {
        let now = Instant::now();
        let outputs = self.engine.handle(now, input);
        self.execute(now, outputs).await
    }

    /// Adds (`announce`) or deletes the route of `vip` (active-active), logging a failure.
    async fn route(&self, vip: std::net::IpAddr, announce: bool) {
        let Some(r) = &self.routes else { return };
        if let Err(e) = r.set(vip, announce).await {
            tracing::error!("{e}");
        }
    }

    /// Reconciles the kernel with `table`. Errors are reported, never fatal: what runs keeps
    /// running. Returns how many changes were made, and whether none failed.
    async fn sync_table(&mut self, table: &Table) -> (usize, bool) {
        let adding = table.services.iter().map(|s| s.service.key);
        if let Err(e) = self.owned.claim(adding) {
            tracing::error!("the services owned: {e}");
        }
        let owned = Ownership::Keys(self.owned.keys().clone());
        match self.reconciler.apply(table, &owned).await {
            Ok(report) => {
                for (op, result) in &report.results {
                    if let Err(e) = result {
                        tracing::error!("IPVS: {op}: {e}");
                    }
                }
                if report.is_ok() {
                    // What is gone from the kernel and from the plan is no longer ours.
                    let plan = &self.engine.plan().services;
                    let keys = (table.services.iter().map(|s| s.service.key))
                        .chain(plan.iter().map(|s| s.service.key));
                    if let Err(e) = self.owned.settle(keys) {
                        tracing::error!("the services owned: {e}");
                    }
                }
                let made = report.results.iter().filter(|(_, r)| r.is_ok()).count();
                (made, report.is_ok())
            }
            Err(e) => {
                tracing::error!("IPVS: {e}");
                (0, false)
            }
        }
    }

    /// Compares what this director owns with the kernel and puts it back: the IPVS entries
    /// (someone ran `ipvsadm -C`), and while active the addresses (deleted by hand, or lost
    /// with their interface).
    async fn repair(&mut self) {
        let mut changes = 0;
        // A change made while the kernel is read (`ipvsadm -C` between the services and their
        // real servers) fails a step: read it again, once.
        for _ in 0..2 {
            self.reconciler.forget();
            let (made, ok) = self.sync_table(&self.engine.table()).await;
            changes += made;
            if ok {
                break;
            }
        }
        if changes > 0 {
            self.engine.repaired();
            tracing::warn!(
                "the IPVS table was changed behind the director's back: {changes} changes to repair it"
            );
        }
        if let Some(r) = &self.routes {
            match r.reconcile(&self.engine.announced()).await {
                Ok((added, gone)) if !(added.is_empty() && gone.is_empty()) => {
                    self.engine.repaired();
                    tracing::warn!("VIP routes repaired: {added:?} added, {gone:?} withdrawn");
                }
                Ok(_) => {}
                Err(e) => tracing::error!("{e}"),
            }
        }
        // A sync daemon that could not start (its interface not up yet) is tried again.
        // (Nothing is read from the kernel when they all run.)
        let want = self.engine.sync_daemons().to_vec();
        self.sync_daemons(&want).await;
        if self.engine.is_active() {
            let events = self.takeover.repair().await;
            if events.iter().any(|e| matches!(e, Event::Restored(_))) {
                self.engine.repaired();
            }
            log(events);
        }
    }

    /// Stops the checks of `remove` and starts those of `add`.
    async fn checks(
        &mut self,
        remove: Vec<ServerKey>,
        add: Vec<(ServerKey, healthcheck::Target, String)>,
    ) -> Result<(), RunError> {
        for key in remove {
            if let Some(id) = self.checks.remove(&key) {
                self.targets.remove(&id);
                self.monitor.remove(id).await.map_err(RunError::Monitor)?;
            }
        }
        for (key, target, label) in add {
            match refused(self.monitor.add(target).await)? {
                Ok(id) => {
                    self.targets.insert(id, Checked::Server(key));
                    self.checks.insert(key, id);
                }
                Err(e) => tracing::error!("{label}: {e}"),
            }
        }
        Ok(())
    }

    /// Runs the sync daemons `want` (as pulse: the other one stopped first), or none.
    async fn sync_daemons(&mut self, want: &[Daemon]) {
        let (now, done) = ipvs::daemon::switch_to(&self.ipvs, &self.sync_daemons, want).await;
        for (step, result) in done {
            match (&step, result) {
                (Step::Start(d), Ok(())) => tracing::info!("{d}"),
                (_, Err(e)) => tracing::error!("{step}: {e}"),
                _ => {}
            }
        }
        self.sync_daemons = now;
    }

    /// Stops: resign, stop our sync daemon, and give the addresses back and remove what we own
    /// as [`Engine::leaving`] says (a router alone keeps them for the next start).
    async fn stop(mut self) {
        notify::stopping();
        let withdrawn = self.engine.stopping();
        if !withdrawn.is_empty() {
            let _ = self.execute(Instant::now(), withdrawn).await;
            // The router moves the flows (BFD, BGP) while this director still serves and syncs.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        if let Some(heartbeat) = self.heartbeat.take() {
            let _ = heartbeat.shutdown().await;
        }
        let leaving = (self.engine).leaving(
            self.options.keep_table_on_exit,
            self.options.release_on_exit,
        );
        if leaving.release_addresses {
            log(self.takeover.release_all().await);
        } else {
            tracing::info!(
                "stopping alone: the addresses and the IPVS table stay for the next start \
                 (--release-on-exit removes them)"
            );
        }
        self.sync_daemons(&[]).await;
        if leaving.remove_table {
            // Everything owned goes, drains included: an empty table under the same ownership.
            let table = self.engine.desired().table();
            let _ = (self.owned).claim(table.services.iter().map(|s| s.service.key));
            // Read from the kernel: whatever happened, nothing of ours is left.
            self.reconciler.forget();
            let owned = Ownership::Keys(self.owned.keys().clone());
            match self.reconciler.apply(&Table::default(), &owned).await {
                Ok(report) => match report.first_error() {
                    Some(e) => tracing::error!("IPVS: {e}"),
                    None => {
                        let _ = self.owned.settle([]);
                    }
                },
                Err(e) => tracing::error!("IPVS: {e}"),
            }
        }
        self.monitor.shutdown().await;
        self.hooks.finish().await;
    }
}

/// Logs what a takeover step met.
fn log(events: Vec<Event>) {
    for e in events {
        match e {
            Event::Failed(_) => tracing::error!("{e}"),
            Event::Restored(_) | Event::Adopted(_) => tracing::info!("{e}"),
            _ => tracing::warn!("{e}"),
        }
    }
}

/// A target the monitor refused (its settings), or the monitor gone (fatal).
fn refused(
    added: Result<TargetId, healthcheck::Error>,
) -> Result<Result<TargetId, healthcheck::Error>, RunError> {
    match added {
        Err(e @ healthcheck::Error::MonitorStopped) => Err(RunError::Monitor(e)),
        other => Ok(other),
    }
}

/// Runs the director until told to stop (or until `control` closes).
///
/// A reload ([`Request::Reload`], SIGHUP) is applied as a diff: checks whose settings did not change keep
/// running, the IPVS table is reconciled, a real server that left the configuration drains
/// (weight 0) until its active connections are gone or [`RunOptions::drain_timeout`] passed.
pub async fn run(
    plan: Plan,
    options: RunOptions,
    mut control: mpsc::Receiver<Control>,
) -> Result<(), RunError> {
    if let Some(services) = plan.failover.clone() {
        return failover::run(services, &plan.heartbeat, control).await;
    }
    let addresses = Addresses::new()?;
    let local = addresses.local_ipv4().await?;
    // Active-active: every director serves, none is the primary or the backup.
    let node = (plan.cluster.is_none().then(|| plan.heartbeat.node(&local)))
        .transpose()
        .map_err(RunError::Role)?;
    let primary = node == Some(heartbeat::pulse::Node::Primary);
    if let Some(node) = node {
        tracing::info!("this node is the {node}");
    }

    let (conn, ipvs) = ipvs::new_connection_when_available(Duration::from_secs(5), |e, n| {
        if n % 12 == 1 {
            tracing::warn!("{e}: waiting for it (trying again every 5 s)");
        }
    })
    .await?;
    tokio::spawn(conn);
    // A restart adopts what the kernel has: real servers already in stay in until a check fails.
    let observed = observe(&ipvs).await?;
    let (monitor, mut updates) = Monitor::spawn(MonitorOptions::default());
    let micros = heartbeat::unix_epoch_micros();
    let heartbeat = (node.map(|n| plan.heartbeat.config(n, micros))).transpose()?;
    let standalone = heartbeat.as_ref().is_none_or(|(c, _)| c.paths.is_empty());
    let routes = (plan.cluster.as_ref())
        .map(|c| cluster::Routes::new().map(|r| r.in_table(c.table, c.protocol)))
        .transpose()?;
    // Announced only while a running director judges a VIP servable: an earlier run's go first.
    if let Some(r) = &routes {
        for vip in r.reconcile(&[]).await?.1 {
            tracing::info!("withdrew the route of VIP {vip}, left by an earlier run");
        }
    }
    let socket = (options.socket.clone())
        .or_else(|| plan.operation.socket.clone())
        .unwrap_or_else(|| DEFAULT_SOCKET.into());
    let access = control::Access::for_group(plan.operation.control_group.as_deref())
        .map_err(RunError::Control)?;
    let (requests_tx, mut requests) = mpsc::channel(16);
    let _control = crate::control_server::serve(&socket, access, requests_tx.clone())
        .await
        .map_err(|e| RunError::Control(format!("{}: {e}", socket.display())))?;
    let _metrics = match plan.operation.metrics {
        Some(addr) => {
            let serving = crate::exporter::serve(addr, requests_tx)
                .await
                .map_err(|e| RunError::Control(format!("metrics on {addr}: {e}")))?;
            tracing::info!("metrics on http://{addr}/metrics");
            Some(serving)
        }
        None => None,
    };
    let choices = Choices {
        table: options.table,
        drain_timeout: options.drain_timeout,
    };
    let wanted = plan.takeover();
    let mut d = Director {
        owned: director_core::owned::Owned::load(
            &director_core::owned::path_beside(&socket),
            plan.services.iter().map(|s| s.service.key),
        )
        .map_err(RunError::Owned)?,
        engine: Engine::new(plan, choices, !standalone),
        options,
        reconciler: Reconciler::new(ipvs.clone()),
        ipvs,
        monitor,
        targets: HashMap::new(),
        checks: HashMap::new(),
        takeover: Takeover::with_addresses(addresses),
        sync_daemons: Vec::new(),
        routes,
        primary,
        heartbeat: None,
        renders: Arc::new(tokio::sync::Semaphore::new(1)),
        hooks: healthcheck::Background::default(),
    };
    log(d.takeover.leftovers(&wanted, standalone).await?);
    let outputs = d.engine.start(&observed);
    d.execute(Instant::now(), outputs).await?;

    // With a peer, the heartbeat decides. A router alone (no backup, or `backup_active = 0`)
    // is active at once: pulse waited a deadtime for a peer it would never hear.
    let mut roles = match heartbeat.filter(|_| !standalone) {
        None => None,
        Some((config, sockets)) => {
            // On a thread of its own: a scrape or a burst of checks does not delay a heartbeat.
            let (handle, roles) = Driver::spawn_thread(config, &sockets, true)?;
            d.heartbeat = Some(handle);
            Some(roles)
        }
    };
    tracing::info!("control socket {}", socket.display());
    let outputs = d.engine.started();
    d.execute(Instant::now(), outputs).await?;
    // The engine's first reading of the clock (active-active: the hold-downs start).
    d.handle(Input::Timer).await?;
    notify::ready(if d.engine.is_active() {
        "active"
    } else {
        "standby"
    });
    let watchdog_every = notify::watchdog_period();
    let mut watchdog = tokio::time::interval(watchdog_every.unwrap_or(Duration::from_secs(3600)));
    let mut drains = tokio::time::interval(Duration::from_secs(1));
    drains.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let repair_every =
        |d: &Director| (d.engine.plan().operation.reconcile_interval).unwrap_or(RECONCILE_INTERVAL);
    let timer = |every| {
        let mut t = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    };
    let mut every = repair_every(&d);
    let mut repairs = timer(every);

    // Whatever ends the loop (an error too), the director stops as it should (routes withdrawn).
    let ended = async {
        loop {
            tokio::select! {
                command = control.recv() => match command {
                    Some(Control::Request(request, reply)) => d.answer(request, reply).await?,
                    Some(Control::Stop) | None => break,
                },
                Some((request, reply)) = requests.recv() => d.answer(request, reply).await?,
                update = updates.recv() => {
                    let Some(update) = update else { break };
                    // Every update already queued goes into one reconcile.
                    let mut verdicts = Vec::new();
                    let mut next = Some(update);
                    while let Some(update) = next.take().or_else(|| updates.try_recv().ok()) {
                        let Update::Server { target, address, event } = update else { continue };
                        match d.targets.get(&target) {
                            Some(Checked::Tracker(index)) => {
                                let input = Input::Tracker {
                                    index: *index,
                                    kind: event.kind,
                                    reason: event.reason.to_string(),
                                };
                                d.handle(input).await?;
                            }
                            Some(Checked::Server(server)) => verdicts.push(Verdicted {
                                server: *server,
                                address,
                                event,
                            }),
                            None => {}
                        }
                    }
                    d.handle(Input::Health(verdicts)).await?;
                }
                change = next_role(&mut roles) => {
                    // The heartbeat stopped by itself: so does the director.
                    let Some(change) = change else { break };
                    d.handle(Input::Role(change)).await?;
                }
                _ = drains.tick(), if !d.engine.draining_services().is_empty() => {
                    let (counts, errors) = d.engine.desired().draining().read(&d.ipvs).await;
                    errors.iter().for_each(|e| tracing::error!("IPVS: {e}"));
                    d.handle(Input::DrainCounts(counts)).await?;
                }
                _ = repairs.tick() => d.repair().await,
                () = sleep_until(d.engine.poll_timeout()) => {
                    d.handle(Input::Timer).await?;
                }
                _ = watchdog.tick(), if watchdog_every.is_some() => notify::watchdog(),
            }
            // A reload may have changed the interval.
            if repair_every(&d) != every {
                every = repair_every(&d);
                repairs = timer(every);
            }
        }
        Ok::<(), RunError>(())
    }
    .await;
    d.stop().await;
    let _ = std::fs::remove_file(&socket);
    ended
}

/// Until `t`; for ever when `None`.
async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

/// The heartbeat's next role change; never, for a router alone.
async fn next_role(
    roles: &mut Option<mpsc::UnboundedReceiver<heartbeat::RoleChange>>,
) -> Option<heartbeat::RoleChange> {
    match roles {
        Some(roles) => roles.recv().await,
        None => std::future::pending().await,
    }
}
