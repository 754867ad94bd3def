//! The running director: health checks feed the IPVS table, the heartbeat moves the addresses.

mod metrics;
mod notify;
mod requests;
mod track;

use std::{
    collections::{BTreeSet, HashMap},
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use healthcheck::{Monitor, MonitorOptions, Target, TargetId, Update};
use heartbeat::{Driver, Reason, Role};
use ipvs::reconcile::{Ownership, Reconciler, observe};
use ipvs::{Daemon, DaemonState, ServiceKey, Table, Timeouts};
use tokio::sync::{mpsc, oneshot};

use crate::control::{self, DEFAULT_SOCKET, Force, Request, Response};
use arp_announce::takeover::{Addresses, Announce, Event, Takeover};

use crate::{Desired, Plan, ServerKey, ServerPlan, ServicePlan};
use notify::run_command;

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
}

/// How the director runs: the command line's options, which win over the settings overlay's
/// (`None`: the overlay's, or the default).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Keep the owned IPVS services when stopping (for a restart that adopts them).
    pub keep_table_on_exit: bool,
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

/// The drain timeout when nothing sets one.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(300);
/// How long an RFC 5227 probe listens before an address is claimed, when the overlay does not
/// say.
const ADDRESS_PROBE: Duration = Duration::from_millis(50);
/// How often the owned IPVS entries and addresses are compared with the kernel, when the
/// overlay does not say.
const RECONCILE_INTERVAL: Duration = Duration::from_secs(5);

/// When the director programs its IPVS table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TableMode {
    /// On both nodes, so that a takeover only moves addresses (the default).
    #[default]
    Always,
    /// Only while active, as Piranha (lvsd ran only on the active router).
    WhenActive,
}

/// What the director is told while it runs.
#[derive(Debug)]
pub enum Control {
    /// Apply a new, already validated plan as a diff.
    Reload(Box<Plan>),
    /// An operator's request (the control socket's, or SIGHUP's [`Request::Reload`]).
    Request(Request, oneshot::Sender<Response>),
    /// Stop (SIGTERM): resign, release the addresses, remove the owned entries.
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

/// Whether two plans check a real server the same way (then its running check is kept).
fn same_check(a: &ServerPlan, b: &ServerPlan) -> bool {
    a.interval == b.interval && a.health == b.health && a.probe == b.probe
}

fn server_key(s: &ServicePlan, r: &ServerPlan) -> ServerKey {
    ServerKey {
        service: s.service.key,
        addr: r.destination.addr,
        port: r.destination.port,
    }
}

/// Every real server of `plan` with its identity and its service.
fn servers(plan: &Plan) -> impl Iterator<Item = (ServerKey, &ServicePlan, &ServerPlan)> {
    plan.services
        .iter()
        .flat_map(|s| s.servers.iter().map(move |r| (server_key(s, r), s, r)))
}

fn ipvs_timeouts(plan: &Plan) -> Timeouts {
    let secs = |d: Duration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
    let (tcp, fin, udp) = plan.timeouts;
    Timeouts {
        tcp: secs(tcp),
        tcp_fin: secs(fin),
        udp: secs(udp),
    }
}

/// A real server's change, said once the kernel has it: the log line, and the server hook's
/// arguments (`VIRTUAL SERVER ADDRESS:PORT up|down|weight WEIGHT REASON`).
struct ServerChange {
    line: String,
    hook: [String; 6],
}

/// The role decided last, and why.
#[derive(Debug, Clone, Copy)]
struct Decided {
    role: Role,
    reason: Reason,
}

/// The director's running state, between events.
struct Director {
    plan: Plan,
    options: RunOptions,
    ipvs: ipvs::Handle,
    /// Applies the desired table; it remembers what the kernel holds, so that a health change
    /// or a reload sends only what changed.
    reconciler: Reconciler,
    /// The services this director may touch: those of its plan, and those it still has in the
    /// kernel from an earlier plan.
    owned: BTreeSet<ServiceKey>,
    desired: Desired,
    monitor: Monitor,
    /// Each check's real server, and back.
    targets: HashMap<TargetId, ServerKey>,
    checks: HashMap<ServerKey, TargetId>,
    /// The addresses held while active.
    takeover: Takeover,
    active: bool,
    /// The sync daemon this director started, if any.
    sync_daemon: Option<Daemon>,
    /// This node is the primary.
    primary: bool,
    /// The heartbeat (`None`: a router alone).
    heartbeat: Option<heartbeat::DriverHandle>,
    /// The last role decided, and why.
    role: Decided,
    /// The operator's forced role.
    forced: Option<Force>,
    /// Counts for the metrics.
    counts: metrics::Counts,
    /// The router's own health.
    tracking: track::Tracking,
}

impl Director {
    /// When the table is programmed: the command line's choice, else the overlay's.
    fn table_mode(&self) -> TableMode {
        self.options
            .table
            .unwrap_or(if self.plan.operation.table_when_active == Some(true) {
                TableMode::WhenActive
            } else {
                TableMode::Always
            })
    }

    /// How long to listen for another holder of an address before claiming it.
    fn address_probe(&self) -> Duration {
        self.plan.operation.address_probe.unwrap_or(ADDRESS_PROBE)
    }

    /// How long a real server of `service` may drain.
    fn drain_timeout(&self, service: &ServiceKey) -> Duration {
        let of_service = (self.plan.services.iter())
            .find(|s| s.service.key == *service)
            .and_then(|s| s.drain_timeout);
        self.options
            .drain_timeout
            .or(of_service)
            .or(self.plan.operation.drain_timeout)
            .unwrap_or(DRAIN_TIMEOUT)
    }

    /// The table as it should be now.
    fn table(&self) -> Table {
        if self.table_mode() == TableMode::WhenActive && !self.active {
            Table::default()
        } else {
            self.desired.table()
        }
    }

    /// Reconciles the kernel with [`Director::table`]. Errors are reported, never fatal: what
    /// runs keeps running.
    /// Returns how many changes were sent.
    async fn sync_table(&mut self) -> usize {
        let table = self.table();
        self.owned
            .extend(table.services.iter().map(|s| s.service.key));
        let owned = Ownership::Keys(self.owned.clone());
        match self.reconciler.apply(&table, &owned).await {
            Ok(report) => {
                let sent = report.results.len();
                for (op, result) in &report.results {
                    if let Err(e) = result {
                        eprintln!("director: IPVS: {op}: {e}");
                    }
                }
                if report.is_ok() {
                    // What is gone from the kernel and from the plan is no longer ours.
                    self.owned = table
                        .services
                        .iter()
                        .map(|s| s.service.key)
                        .chain(self.plan.services.iter().map(|s| s.service.key))
                        .collect();
                }
                sent
            }
            Err(e) => {
                eprintln!("director: IPVS: {e}");
                0
            }
        }
    }

    /// Compares what this director owns with the kernel and puts it back: the IPVS entries
    /// (someone ran `ipvsadm -C`), and while active the addresses (deleted by hand, or lost
    /// with their interface).
    async fn repair(&mut self) {
        self.reconciler.forget();
        let changes = self.sync_table().await;
        if changes > 0 {
            self.counts.repairs += 1;
            eprintln!(
                "director: the IPVS table was changed behind the director's back: {changes} changes to repair it"
            );
        }
        if self.active {
            let events = self.takeover.repair().await;
            if events.iter().any(|e| matches!(e, Event::Restored(_))) {
                self.counts.repairs += 1;
            }
            log(events);
        }
    }

    /// One check per real server of the plan: checks whose settings did not change since `old`
    /// keep running (and keep their state); the others are replaced or stopped.
    async fn sync_checks(&mut self, old: Option<&Plan>) -> Result<(), RunError> {
        let mut keep = HashMap::new();
        if let Some(old) = old {
            let before: HashMap<_, _> = servers(old).map(|(k, _, r)| (k, r)).collect();
            for (key, _, server) in servers(&self.plan) {
                if let (Some(was), Some(id)) = (before.get(&key), self.checks.get(&key))
                    && same_check(was, server)
                {
                    keep.insert(key, *id);
                }
            }
        }
        for (key, id) in std::mem::take(&mut self.checks) {
            if !keep.contains_key(&key) {
                self.monitor.remove(id).await.map_err(monitor_gone)?;
            }
        }
        self.targets.clear();
        let mut added = Vec::new();
        for (key, s, r) in servers(&self.plan) {
            match keep.get(&key) {
                Some(id) => added.push((key, *id)),
                None => {
                    let target = Target::new(r.probe.clone(), r.health.clone(), r.interval);
                    match refused(self.monitor.add(target).await)? {
                        Ok(id) => added.push((key, id)),
                        Err(e) => eprintln!("director: virtual {} server {}: {e}", s.name, r.name),
                    }
                }
            }
        }
        for (key, id) in added {
            self.targets.insert(id, key);
            self.checks.insert(key, id);
        }
        Ok(())
    }

    /// Applies one health update to the desired table; what to say once the kernel has it.
    fn health(&mut self, update: Update) -> Option<ServerChange> {
        let Update::Server {
            target,
            address,
            event,
        } = update
        else {
            return None;
        };
        let (si, ri) = self.desired.position(self.targets.get(&target)?)?;
        self.desired.apply(si, ri, event.kind);
        let (tag, word, weight) = match event.kind {
            healthcheck::EventKind::Up { weight } => ("[ active ]", "up", weight),
            healthcheck::EventKind::Weight(weight) => ("[ active ]", "weight", weight),
            healthcheck::EventKind::Down { .. } => ("[inactive]", "down", 0),
        };
        let service = &self.plan.services[si];
        Some(ServerChange {
            line: format!("director: {tag} {address} {event}"),
            hook: [
                service.name.clone(),
                service.servers[ri].name.clone(),
                address.to_string(),
                word.into(),
                weight.to_string(),
                event.reason.to_string(),
            ],
        })
    }

    /// Logs a real server's change and runs the server hook with it.
    fn announce_change(&self, change: &ServerChange) {
        eprintln!("{}", change.line);
        let args: Vec<&str> = change.hook.iter().map(String::as_str).collect();
        run_command(
            "the server hook",
            self.plan.operation.server_hook.as_deref(),
            &args,
        );
    }

    /// Runs the sync daemon in `state` (as pulse: the other one stopped first), when the plan
    /// asks for one; stops ours when it does not.
    async fn sync_daemon(&mut self, state: DaemonState) {
        let want = self
            .plan
            .sync_daemon
            .as_ref()
            .map(|(iface, id)| Daemon::new(state, iface.clone(), u32::from(*id)));
        if want == self.sync_daemon {
            return;
        }
        if let Some(old) = self.sync_daemon.take()
            && let Err(e) = self.ipvs.del_daemon(old.state).await
        {
            eprintln!("director: stopping the {} sync daemon: {e}", old.state);
        }
        let Some(want) = want else { return };
        // A daemon in the same state left by someone else (or an earlier run) is replaced.
        if let Ok(running) = self.ipvs.daemons().await
            && running.iter().any(|d| d.state == want.state)
            && let Err(e) = self.ipvs.del_daemon(want.state).await
        {
            eprintln!("director: stopping the {} sync daemon: {e}", want.state);
        }
        match self.ipvs.add_daemon(&want).await {
            Ok(()) => {
                eprintln!(
                    "director: {} sync daemon on {} (syncid {})",
                    want.state, want.interface, want.sync_id
                );
                self.sync_daemon = Some(want);
            }
            Err(e) => eprintln!("director: starting the {} sync daemon: {e}", want.state),
        }
    }

    /// Sets the IPVS timeouts the plan has (0 keeps a value).
    async fn set_timeouts(&self) {
        let t = ipvs_timeouts(&self.plan);
        if t != Timeouts::default()
            && let Err(e) = self.ipvs.set_timeouts(&t).await
        {
            eprintln!("director: IPVS timeouts: {e}");
        }
    }

    /// The peer is active too and we stay (pulse: "partner active: resending arps"): the
    /// addresses are added if they went missing and announced again, and `active_cmd` runs
    /// again.
    async fn reannounce(&mut self) {
        let probe = self.address_probe();
        log((self.takeover)
            .take(&self.plan.takeover(), Announce::All, probe)
            .await);
        run_command("active_cmd", self.plan.commands.active.as_deref(), &[]);
    }

    /// Acts on the role decided last ([`Director::role`]).
    async fn follow_role(&mut self) {
        match (self.role.role, self.active) {
            (Role::Active, false) => self.become_active().await,
            (Role::Standby, true) => self.become_standby().await,
            (Role::Active, true) => self.reannounce().await,
            (Role::Standby, false) => {}
        }
    }

    async fn become_active(&mut self) {
        self.active = true;
        self.counts.role_changes += 1;
        if self.table_mode() == TableMode::WhenActive {
            self.sync_table().await;
        }
        let probe = self.address_probe();
        log((self.takeover)
            .take(&self.plan.takeover(), Announce::All, probe)
            .await);
        eprintln!(
            "director: took over {} addresses",
            self.takeover.held().len()
        );
        self.sync_daemon(DaemonState::Master).await;
        run_command("active_cmd", self.plan.commands.active.as_deref(), &[]);
        self.role_hook();
    }

    /// Runs the role hook (`ROLE REASON`) and tells the service manager.
    fn role_hook(&self) {
        let role = if self.active { "active" } else { "standby" };
        let reason = self.role.reason.to_string();
        run_command(
            "the role hook",
            self.plan.operation.role_hook.as_deref(),
            &[role, &reason],
        );
        notify::status(&format!("{role} ({reason})"));
    }

    async fn become_standby(&mut self) {
        self.active = false;
        self.counts.role_changes += 1;
        log(self.takeover.release_all().await);
        eprintln!("director: released the addresses");
        self.sync_daemon(DaemonState::Backup).await;
        if self.table_mode() == TableMode::WhenActive {
            self.sync_table().await;
        }
        run_command("inactive_cmd", self.plan.commands.inactive.as_deref(), &[]);
        self.role_hook();
    }

    /// Applies a new plan as a diff; the summary line, also logged.
    async fn reload(&mut self, plan: Plan) -> Result<String, RunError> {
        let start = Instant::now();
        notify::reloading();
        let old = std::mem::replace(&mut self.plan, plan);
        if old.heartbeat != self.plan.heartbeat {
            eprintln!(
                "director: warning: the heartbeat settings changed; they apply when the director restarts"
            );
        }
        if (old.operation.metrics, &old.operation.socket)
            != (self.plan.operation.metrics, &self.plan.operation.socket)
        {
            eprintln!(
                "director: warning: the metrics address or the control socket changed; they apply when the director restarts"
            );
        }
        self.desired = self
            .desired
            .reload(&self.plan, start, |k| self.drain_timeout(k));
        self.sync_checks(Some(&old)).await?;
        self.sync_table().await;
        if self.active {
            let wanted = self.plan.takeover();
            log(self.takeover.release(&wanted).await);
            let probe = self.address_probe();
            log(self.takeover.take(&wanted, Announce::New, probe).await);
        }
        if old.sync_daemon != self.plan.sync_daemon {
            let state = if self.active {
                DaemonState::Master
            } else {
                DaemonState::Backup
            };
            self.sync_daemon(state).await;
        }
        if old.timeouts != self.plan.timeouts {
            self.set_timeouts().await;
        }
        if old.operation.track != self.plan.operation.track
            || old.operation.track_threshold != self.plan.operation.track_threshold
        {
            self.sync_trackers().await?;
        }
        let before: BTreeSet<_> = old.services.iter().map(|s| s.service.key).collect();
        let after: BTreeSet<_> = self.plan.services.iter().map(|s| s.service.key).collect();
        let summary = format!(
            "reloaded: {} services ({} added, {} removed), {} real servers draining; applied in {:.1} ms",
            after.len(),
            after.difference(&before).count(),
            before.difference(&after).count(),
            self.desired.draining().len(),
            start.elapsed().as_secs_f64() * 1000.0
        );
        eprintln!("director: {summary}");
        self.counts.reloads += 1;
        notify::ready(&summary);
        Ok(summary)
    }

    /// Ends the drains that are over: no active connection left, or the drain timeout passed.
    async fn check_drains(&mut self) {
        let mut active = HashMap::new();
        for service in self.desired.draining().services() {
            match self.ipvs.destinations(&service).await {
                Ok(list) => {
                    for e in list {
                        let key = ServerKey::of(&service, &e.destination);
                        active.insert(key, Some(e.active_conns));
                    }
                }
                // The service is gone: so are its real servers.
                Err(ipvs::Error::NotFound { .. }) => {}
                Err(e) => {
                    eprintln!("director: IPVS: {e}");
                    for d in self.desired.draining().iter() {
                        if d.service.key == service {
                            active.insert(d.key(), None);
                        }
                    }
                }
            }
        }
        let done = (self.desired.draining_mut()).poll(Instant::now(), |key| {
            active.get(key).copied().unwrap_or(Some(0))
        });
        if done.is_empty() {
            return;
        }
        self.sync_table().await;
        for (d, why) in done {
            eprintln!(
                "director: drained {} ({why})",
                SocketAddr::new(d.destination.addr, d.destination.port)
            );
        }
    }

    /// Stops: resign, give the addresses back, remove what we own, stop our sync daemon.
    async fn stop(mut self) {
        notify::stopping();
        if let Some(heartbeat) = self.heartbeat.take() {
            let _ = heartbeat.shutdown().await;
        }
        log(self.takeover.release_all().await);
        if let Some(d) = self.sync_daemon.take()
            && let Err(e) = self.ipvs.del_daemon(d.state).await
        {
            eprintln!("director: stopping the {} sync daemon: {e}", d.state);
        }
        if !self.options.keep_table_on_exit {
            // Everything owned goes, drains included: an empty table under the same ownership.
            self.owned
                .extend(self.desired.table().services.iter().map(|s| s.service.key));
            // Read from the kernel: whatever happened, nothing of ours is left.
            self.reconciler.forget();
            let owned = Ownership::Keys(self.owned.clone());
            match self.reconciler.apply(&Table::default(), &owned).await {
                Ok(report) => {
                    if let Some(e) = report.first_error() {
                        eprintln!("director: IPVS: {e}");
                    }
                }
                Err(e) => eprintln!("director: IPVS: {e}"),
            }
        }
        self.monitor.shutdown().await;
    }
}

/// Logs what a takeover step met.
fn log(events: Vec<Event>) {
    for e in events {
        eprintln!("director: {e}");
    }
}

fn monitor_gone(e: healthcheck::Error) -> RunError {
    RunError::Monitor(e)
}

/// A target the monitor refused (its settings), or the monitor gone (fatal).
fn refused(
    added: Result<TargetId, healthcheck::Error>,
) -> Result<Result<TargetId, healthcheck::Error>, RunError> {
    match added {
        Err(e @ healthcheck::Error::MonitorStopped) => Err(monitor_gone(e)),
        other => Ok(other),
    }
}

/// Runs the director until told to stop (or until `control` closes).
///
/// A reload ([`Control::Reload`]) is applied as a diff: checks whose settings did not change keep
/// running, the IPVS table is reconciled, a real server that left the configuration drains
/// (weight 0) until its active connections are gone or [`RunOptions::drain_timeout`] passed.
pub async fn run(
    plan: Plan,
    options: RunOptions,
    mut control: mpsc::Receiver<Control>,
) -> Result<(), RunError> {
    let addresses = Addresses::new()?;
    let local = addresses.local_ipv4().await?;
    let node = plan.heartbeat.node(&local).map_err(RunError::Role)?;
    let primary = node == heartbeat::pulse::Node::Primary;
    eprintln!(
        "director: this node is the {}",
        if primary { "primary" } else { "backup" }
    );

    let (conn, ipvs) = ipvs::new_connection()?;
    tokio::spawn(conn);
    let mut desired = Desired::new(&plan);
    // A restart adopts what the kernel has: real servers already in stay in until a check fails.
    desired.adopt(&observe(&ipvs).await?);
    let (monitor, mut updates) = Monitor::spawn(MonitorOptions::default());
    let (config, sockets) = plan
        .heartbeat
        .config(node, heartbeat::unix_epoch_micros())?;
    let standalone = config.paths.is_empty();
    let socket = (options.socket.clone())
        .or_else(|| plan.operation.socket.clone())
        .unwrap_or_else(|| DEFAULT_SOCKET.into());
    let (requests_tx, mut requests) = mpsc::channel(16);
    let _control = control::serve(&socket, requests_tx.clone())
        .await
        .map_err(|e| RunError::Control(format!("{}: {e}", socket.display())))?;
    let _metrics = match plan.operation.metrics {
        Some(addr) => {
            let serving = crate::exporter::serve(addr, requests_tx)
                .await
                .map_err(|e| RunError::Control(format!("metrics on {addr}: {e}")))?;
            eprintln!("director: metrics on http://{addr}/metrics");
            Some(serving)
        }
        None => None,
    };
    let mut d = Director {
        owned: plan.services.iter().map(|s| s.service.key).collect(),
        plan,
        options,
        reconciler: Reconciler::new(ipvs.clone()),
        ipvs,
        desired,
        monitor,
        targets: HashMap::new(),
        checks: HashMap::new(),
        takeover: Takeover::with_addresses(addresses),
        active: false,
        sync_daemon: None,
        primary,
        heartbeat: None,
        role: Decided {
            role: Role::Standby,
            reason: Reason::Startup,
        },
        forced: None,
        counts: metrics::Counts::default(),
        tracking: track::Tracking::default(),
    };
    log(d.takeover.leftovers(&d.plan.takeover(), standalone).await?);
    d.set_timeouts().await;
    d.sync_table().await;
    // As pulse: a node starts inactive, with `inactive_cmd` and a backup sync daemon.
    run_command("inactive_cmd", d.plan.commands.inactive.as_deref(), &[]);
    d.sync_daemon(DaemonState::Backup).await;
    d.sync_checks(None).await?;
    d.sync_trackers().await?;

    // With a peer, the heartbeat decides. A router alone (no backup, or `backup_active = 0`)
    // is active at once: pulse waited a deadtime for a peer it would never hear.
    let mut roles = if standalone {
        d.role.role = Role::Active;
        eprintln!("director: ACTIVE (standalone: no backup to hear from)");
        d.become_active().await;
        None
    } else {
        let mut driver = Driver::bind(config, &sockets)?;
        let roles = driver.role_changes();
        d.heartbeat = Some(driver.spawn());
        Some(roles)
    };
    eprintln!("director: control socket {}", socket.display());
    if !d.active {
        // As `inactive_cmd` at start: the hook hears the initial role too.
        d.role_hook();
    }
    notify::ready(if d.active { "active" } else { "standby" });
    let watchdog_every = notify::watchdog_period();
    let mut watchdog = tokio::time::interval(watchdog_every.unwrap_or(Duration::from_secs(3600)));
    let mut drains = tokio::time::interval(Duration::from_secs(1));
    drains.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let repair_every = |d: &Director| {
        d.plan
            .operation
            .reconcile_interval
            .unwrap_or(RECONCILE_INTERVAL)
    };
    let timer = |every| {
        let mut t = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    };
    let mut every = repair_every(&d);
    let mut repairs = timer(every);

    loop {
        tokio::select! {
            command = control.recv() => match command {
                Some(Control::Reload(plan)) => {
                    d.reload(*plan).await?;
                }
                Some(Control::Request(request, reply)) => {
                    let _ = reply.send(d.request(request).await?);
                }
                Some(Control::Stop) | None => break,
            },
            Some((request, reply)) = requests.recv() => {
                let _ = reply.send(d.request(request).await?);
            }
            update = updates.recv() => {
                let Some(update) = update else { break };
                // Every update already queued goes into one reconcile.
                let mut changes: Vec<ServerChange> = Vec::new();
                let mut next = Some(update);
                while let Some(update) = next.take().or_else(|| updates.try_recv().ok()) {
                    match update {
                        Update::Server { target, event, .. } if d.tracking.owns(&target) => {
                            d.tracker_event(&target, event.kind, &event.reason.to_string()).await;
                        }
                        update => changes.extend(d.health(update)),
                    }
                }
                if !changes.is_empty() {
                    d.sync_table().await;
                }
                // Said once the kernel has it, so that whoever reads the log can rely on it.
                for change in &changes {
                    d.announce_change(change);
                }
            }
            change = next_role(&mut roles) => {
                // The heartbeat stopped by itself: so does the director.
                let Some(change) = change else { break };
                d.role = Decided { role: change.role(), reason: change.reason };
                eprintln!("director: {} ({})", change.role(), change.reason);
                d.follow_role().await;
            }
            _ = drains.tick(), if !d.desired.draining().is_empty() => d.check_drains().await,
            _ = repairs.tick() => d.repair().await,
            _ = watchdog.tick(), if watchdog_every.is_some() => notify::watchdog(),
        }
        // A reload may have changed the interval.
        if repair_every(&d) != every {
            every = repair_every(&d);
            repairs = timer(every);
        }
    }
    d.stop().await;
    let _ = std::fs::remove_file(&socket);
    Ok(())
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
