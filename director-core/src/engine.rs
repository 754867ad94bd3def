//! The director's deterministic core: it takes the time and what happened (health verdicts,
//! the heartbeat's role changes, the operator's requests, reloads, drain counts) and says what
//! to do (the IPVS table to reconcile, the addresses to take or release, the sync daemon, the
//! commands to run, the lines to log, the replies), in order. It reads no clock and opens no
//! socket: `run` executes its outputs, and tests drive it in virtual time.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arp_announce::takeover::{Address, Announce, Probe};
use healthcheck::table::Admin;
use healthcheck::{EventKind, ServerConfig, Target};
use heartbeat::fitness::{Fitness, Verdict};
use heartbeat::{Command, Reason, Role, RoleChange};
use ipvs::{Daemon, DaemonState, ServiceKey, Table, Timeouts};

use crate::control::{Force, Response};
use crate::flaps::Flaps;
use crate::{Desired, Plan, ServerKey, ServerPlan, ServicePlan, TrackKind};

/// When the director programs its IPVS table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TableMode {
    /// On both nodes, so that a takeover only moves addresses (the default).
    #[default]
    Always,
    /// Only while active, as Piranha (lvsd ran only on the active router).
    WhenActive,
}

/// The command line's choices that win over the plan's.
#[derive(Debug, Clone, Copy, Default)]
pub struct Choices {
    /// When the IPVS table is programmed.
    pub table: Option<TableMode>,
    /// How long a removed real server drains at most.
    pub drain_timeout: Option<Duration>,
}

/// What a stopping director leaves behind ([`Engine::leaving`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leaving {
    /// Remove the addresses it holds.
    pub release_addresses: bool,
    /// Remove the IPVS entries it owns.
    pub remove_table: bool,
}

/// One real server's health verdict, from the monitor.
#[derive(Debug, Clone)]
pub struct Verdicted {
    /// Which real server.
    pub server: ServerKey,
    /// Its address as checked.
    pub address: SocketAddr,
    /// The verdict.
    pub event: healthcheck::Event,
}

/// What happened.
#[derive(Debug)]
#[non_exhaustive]
pub enum Input {
    /// Health verdicts (those queued together go into one table change).
    Health(Vec<Verdicted>),
    /// The time [`Engine::poll_timeout`] gave has come.
    Timer,
    /// A tracker's verdict: its index in the plan's trackers, and why.
    Tracker {
        /// The tracker.
        index: usize,
        /// Up or down.
        kind: EventKind,
        /// Why, for the log.
        reason: String,
    },
    /// The heartbeat decided a role.
    Role(RoleChange),
    /// A new, valid plan to apply as a diff.
    Reload(Box<Plan>),
    /// The files were read again and are not valid: the problems, one line each.
    ReloadFailed(Vec<String>),
    /// The operator drains, disables or enables a real server (its name, address or
    /// `address:port`) of a virtual server.
    Admin {
        /// What to do.
        action: Admin,
        /// The virtual server's name.
        virtual_server: String,
        /// The real server.
        server: String,
    },
    /// The operator forces a role, or gives the choice back.
    Force(Force),
    /// The active connections of the draining real servers, as read from the kernel (`None`:
    /// they could not be read).
    DrainCounts(HashMap<ServerKey, Option<u32>>),
}

/// What the engine asks the outside world to do, in order.
#[derive(Debug)]
#[non_exhaustive]
pub enum Output {
    /// Reconcile the kernel's IPVS table with this one.
    Table(Table),
    /// Take over these addresses (add the missing ones, probing for another holder as
    /// `probe` says), and announce as said; with `report`, log how many are held after.
    Take {
        /// The addresses.
        addresses: Vec<Address>,
        /// Which to announce.
        announce: Announce,
        /// How long to probe for another holder, and whether before adding the addresses
        /// (a cold start) or while adding them (a takeover from a peer known dead or gone).
        probe: Probe,
        /// Log `took over N addresses`.
        report: bool,
    },
    /// Release the held addresses that `keep` does not name.
    Release {
        /// What stays.
        keep: Vec<Address>,
    },
    /// Run these sync daemons, and no other of ours (none, one, or in active-active mode a
    /// master and a backup at once).
    SyncDaemons(Vec<Daemon>),
    /// Active-active: announce this VIP (add its host route, which the routing daemon carries
    /// to the router).
    Announce(IpAddr),
    /// Active-active: withdraw this VIP's route.
    Withdraw {
        /// The VIP.
        vip: IpAddr,
        /// Why, for the log.
        reason: cluster::Reason,
    },
    /// Set the IPVS timeouts.
    Timeouts(Timeouts),
    /// Stop the checks of `remove`, start those of `add` (the others keep running).
    Checks {
        /// Checks to stop.
        remove: Vec<ServerKey>,
        /// Checks to start, with the label to log a refusal under.
        add: Vec<(ServerKey, Target, String)>,
    },
    /// Replace every tracker by these (their index in the plan's trackers, label, target).
    Trackers(Vec<(usize, String, TrackerTarget)>),
    /// Tell the heartbeat; if it has stopped, the rest of this step is dropped and the
    /// request in progress answered with an error.
    Heartbeat(Command),
    /// Run a command (not waited for): `what` names it in errors.
    Run {
        /// For errors: `active_cmd`, `the role hook`.
        what: &'static str,
        /// The command (nothing to run when `None`).
        command: Option<Vec<String>>,
        /// Arguments after it.
        args: Vec<String>,
        /// When it is killed (with whatever it started) if still running.
        limit: Duration,
    },
    /// A line for the log.
    Log(String),
    /// Tell the service manager the new status line.
    Status(String),
    /// A reload was applied: log and answer its summary, with the time it took.
    Reloaded {
        /// Services now.
        services: usize,
        /// Services added.
        added: usize,
        /// Services removed.
        removed: usize,
        /// Real servers draining.
        draining: usize,
    },
    /// The answer to the request in progress.
    Reply(Response),
}

/// What a tracker checks.
#[derive(Debug)]
pub enum TrackerTarget {
    /// A probe, run by the monitor.
    Probe(Target),
    /// An interface that must be up with a carrier, at this interval, with this health.
    Interface {
        /// The interface.
        name: String,
        /// Between readings.
        interval: Duration,
        /// Rise and fall.
        config: ServerConfig,
    },
}

/// The role decided last, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decided {
    /// The role.
    pub role: Role,
    /// Why.
    pub reason: Reason,
}

/// Counts for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Becoming active or standby.
    pub role_changes: u64,
    /// Reloads applied.
    pub reloads: u64,
    /// Reloads refused (invalid files).
    pub reload_failures: u64,
    /// Repairs of the IPVS table or of the addresses made behind the director's back.
    pub repairs: u64,
}

/// The director's state between events. Cloning it is a snapshot (the plan is shared), e.g.
/// to render a status or metrics away from the event loop.
#[derive(Debug, Clone)]
pub struct Engine {
    plan: Arc<Plan>,
    /// Where each real server of the plan is (its service's and its own index): a verdict finds
    /// its server without a scan.
    index: HashMap<ServerKey, (usize, usize)>,
    choices: Choices,
    desired: Desired,
    active: bool,
    role: Decided,
    /// Whether the heartbeat had heard the peer when it decided the role.
    peer_heard: bool,
    forced: Option<Force>,
    /// With a heartbeat (a peer), or a router alone.
    with_peer: bool,
    /// The sync daemons asked for last.
    sync: Vec<Daemon>,
    /// Active-active: when each VIP is announced.
    announcer: Option<cluster::Announcer>,
    /// Active-active: each service's id for the announcer, VIP and serving real servers, as
    /// told last.
    counted: HashMap<ServiceKey, (u64, IpAddr, usize)>,
    /// Active-active: the operator holds this director out (every VIP withdrawn).
    held_out: bool,
    /// Active-active: the fitness the announcer was told last.
    told_fit: Option<bool>,
    /// The real servers being checked.
    checked: BTreeSet<ServerKey>,
    /// The trackers' weights and which fail.
    fitness: Fitness<usize>,
    counts: Counts,
    /// What keeps the log bounded when real servers flap.
    flaps: Flaps,
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

/// Where each real server of `plan` is.
fn index(plan: &Plan) -> HashMap<ServerKey, (usize, usize)> {
    let mut index = HashMap::new();
    for (i, s) in plan.services.iter().enumerate() {
        for (j, r) in s.servers.iter().enumerate() {
            index.entry(server_key(s, r)).or_insert((i, j));
        }
    }
    index
}

/// Every real server of `plan` with its identity and its service.
fn servers(plan: &Plan) -> impl Iterator<Item = (ServerKey, &ServicePlan, &ServerPlan)> {
    plan.services
        .iter()
        .flat_map(|s| s.servers.iter().map(move |r| (server_key(s, r), s, r)))
}

fn log(line: impl Into<String>) -> Output {
    Output::Log(line.into())
}

/// What the announcer decided, as outputs with their log lines.
fn route(decided: cluster::Output) -> Vec<Output> {
    match decided {
        cluster::Output::Announce(vip) => vec![
            Output::Announce(vip),
            log(format!("director: announcing VIP {vip}")),
        ],
        cluster::Output::Withdraw { vip, reason } => vec![
            log(format!("director: withdrawing VIP {vip}: {reason}")),
            Output::Withdraw { vip, reason },
        ],
        _ => Vec::new(),
    }
}

impl Engine {
    /// A director that has not started: standby, with nothing in the table. `with_peer`: a
    /// heartbeat decides the role (otherwise the router is alone and active at once). An
    /// active-active plan ([`Plan::cluster`]) has no peer: every director serves, and announces
    /// each VIP while it can serve it (from the first [`Engine::handle`] on).
    pub fn new(plan: Plan, choices: Choices, with_peer: bool) -> Engine {
        let desired = Desired::new(&plan);
        let announcer =
            (plan.cluster.as_ref()).and_then(|c| cluster::Announcer::new(c.announce.clone()).ok());
        Engine {
            with_peer: with_peer && plan.cluster.is_none(),
            announcer,
            counted: HashMap::new(),
            held_out: false,
            told_fit: None,
            index: index(&plan),
            plan: Arc::new(plan),
            choices,
            desired,
            active: false,
            role: Decided {
                role: Role::Standby,
                reason: Reason::Startup,
            },
            peer_heard: false,
            forced: None,
            sync: Vec::new(),
            checked: BTreeSet::new(),
            fitness: Fitness::new(1),
            counts: Counts::default(),
            flaps: Flaps::default(),
        }
    }

    /// Starts: adopts what the kernel already has (`observed`: a restart keeps the real
    /// servers that are in until a check fails), sets the timeouts, programs the table, runs
    /// `inactive_cmd` and a backup sync daemon (as pulse: a node starts inactive), starts the
    /// checks and the trackers; a router alone becomes active at once.
    pub fn start(&mut self, observed: &Table) -> Vec<Output> {
        self.desired.adopt(observed);
        let mut out = Vec::new();
        let t = self.plan.timeouts;
        if t != Timeouts::default() {
            out.push(Output::Timeouts(t));
        }
        out.push(Output::Table(self.table()));
        out.push(self.run("inactive_cmd", self.plan.commands.inactive.as_deref(), &[]));
        out.extend(self.sync_daemon(DaemonState::Backup));
        out.push(self.checks(None));
        out.extend(self.trackers());
        if !self.with_peer {
            // pulse waited a deadtime for a peer it would never hear.
            self.role.role = Role::Active;
            out.push(log(if self.announcer.is_some() {
                "director: ACTIVE (active-active: each VIP announced while it can be served)"
            } else {
                "director: ACTIVE (standalone: no backup to hear from)"
            }));
            out.extend(self.become_active());
        }
        out
    }

    /// The director stops: in active-active mode, every announced VIP is withdrawn first (the
    /// router stops sending new flows here).
    pub fn stopping(&mut self) -> Vec<Output> {
        let Some(announcer) = &mut self.announcer else {
            return Vec::new();
        };
        announcer
            .withdraw_all()
            .into_iter()
            .flat_map(route)
            .collect()
    }

    /// The sync daemons asked for last (what the driver should be running).
    pub fn sync_daemons(&self) -> &[Daemon] {
        &self.sync
    }

    /// The VIPs announced now (active-active mode).
    pub fn announced(&self) -> Vec<IpAddr> {
        (self.announcer.iter())
            .flat_map(|a| a.announced())
            .collect()
    }

    /// The startup is over (the heartbeat runs): a standby router's hook hears its initial
    /// role, as `inactive_cmd` did.
    pub fn started(&self) -> Vec<Output> {
        if self.active {
            Vec::new()
        } else {
            self.role_hook()
        }
    }

    /// Handles one input at `now`.
    pub fn handle(&mut self, now: Instant, input: Input) -> Vec<Output> {
        let mut out = self.step(now, input);
        out.extend(self.announce(now));
        out
    }

    fn step(&mut self, now: Instant, input: Input) -> Vec<Output> {
        match input {
            Input::Health(verdicts) => self.health(now, verdicts),
            Input::Timer => self.flaps.expire(now).into_iter().map(log).collect(),
            Input::Tracker {
                index,
                kind,
                reason,
            } => self.tracker(index, kind, &reason),
            Input::Role(change) => {
                self.role = Decided {
                    role: change.role(),
                    reason: change.reason,
                };
                self.peer_heard = change.peer_heard;
                let mut out = vec![log(format!(
                    "director: {} ({})",
                    change.role(),
                    change.reason
                ))];
                out.extend(self.follow_role());
                out
            }
            Input::Reload(plan) => self.reload(now, *plan),
            Input::ReloadFailed(problems) => {
                self.counts.reload_failures += 1;
                let mut out: Vec<Output> = problems.iter().map(|p| log(p.clone())).collect();
                out.push(log(
                    "director: reload: the configuration is not valid; the running one is kept",
                ));
                out.push(Output::Reply(Response::error(format!(
                    "the configuration is not valid; the running one is kept:\n{}",
                    problems.join("\n")
                ))));
                out
            }
            Input::Admin {
                action,
                virtual_server,
                server,
            } => self.admin(action, &virtual_server, &server),
            Input::Force(role) => self.force(role),
            Input::DrainCounts(active) => {
                let done = (self.desired.draining_mut())
                    .poll(now, |key| active.get(key).copied().unwrap_or(Some(0)));
                if done.is_empty() {
                    return Vec::new();
                }
                let mut out = vec![Output::Table(self.table())];
                for (d, why) in done {
                    out.push(log(format!(
                        "director: drained {} ({why})",
                        SocketAddr::new(d.destination.addr, d.destination.port)
                    )));
                }
                out
            }
        }
    }

    /// When the engine wants [`Input::Timer`] (a flapping real server's summary is due, or a
    /// VIP's hold-down ends).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let hold = self.announcer.as_ref().and_then(|a| a.poll_timeout());
        [self.flaps.poll_timeout(), hold]
            .into_iter()
            .flatten()
            .min()
    }

    /// When the table is programmed: the command line's choice, else the plan's.
    pub fn table_mode(&self) -> TableMode {
        self.choices
            .table
            .unwrap_or(if self.plan.operation.table_when_active == Some(true) {
                TableMode::WhenActive
            } else {
                TableMode::Always
            })
    }

    /// The table as it should be now.
    pub fn table(&self) -> Table {
        if self.table_mode() == TableMode::WhenActive && !self.active {
            Table::default()
        } else {
            self.desired.table()
        }
    }

    /// The plan running.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The desired table's state (health, operator decisions, drains).
    pub fn desired(&self) -> &Desired {
        &self.desired
    }

    /// What stopping leaves behind. A router with a peer gives its addresses back (the peer
    /// takes over) and removes its table unless `keep_table`; a router alone keeps both, so
    /// that the established connections live through a restart (the next start adopts them),
    /// unless `release` (the operator takes the router out).
    pub fn leaving(&self, keep_table: bool, release: bool) -> Leaving {
        if self.with_peer || release {
            Leaving {
                release_addresses: true,
                remove_table: release || !keep_table,
            }
        } else {
            Leaving {
                release_addresses: false,
                remove_table: false,
            }
        }
    }

    /// Whether this router is active.
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// The role decided last.
    pub fn role(&self) -> Decided {
        self.role
    }

    /// The operator's forced role.
    pub fn forced(&self) -> Option<Force> {
        self.forced
    }

    /// Whether the router's trackers let it be active.
    pub fn is_fit(&self) -> bool {
        self.fitness.is_fit()
    }

    /// The trackers for the status: (name, weight, failing).
    pub fn trackers_status(&self) -> Vec<(String, u32, bool)> {
        (self.plan.operation.track.iter().enumerate())
            .map(|(i, t)| {
                let failing = self.fitness.failing(&i) == Some(true);
                (t.name.clone(), t.weight, failing)
            })
            .collect()
    }

    /// The counts for the metrics.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// A repair of the table or of the addresses was made.
    pub fn repaired(&mut self) {
        self.counts.repairs += 1;
    }

    /// The services whose connection counts [`Input::DrainCounts`] needs.
    pub fn draining_services(&self) -> Vec<ServiceKey> {
        self.desired.draining().services()
    }

    /// `command` followed by `args`, run with the hooks' time limit.
    fn run(&self, what: &'static str, command: Option<&[String]>, args: &[&str]) -> Output {
        Output::Run {
            what,
            command: command.map(<[String]>::to_vec),
            args: args.iter().map(|a| a.to_string()).collect(),
            limit: (self.plan.operation.hook_timeout).unwrap_or(crate::settings::HOOK_TIMEOUT),
        }
    }

    /// How long to listen for another holder of an address before claiming it.
    fn address_probe(&self) -> Duration {
        self.plan
            .operation
            .address_probe
            .unwrap_or(arp_announce::takeover::DEFAULT_PROBE)
    }

    /// How long a real server of `service` may drain.
    fn drain_timeout(&self, service: &ServiceKey) -> Duration {
        let of_service = (self.plan.services.iter())
            .find(|s| s.service.key == *service)
            .and_then(|s| s.drain_timeout);
        self.choices
            .drain_timeout
            .or(of_service)
            .or(self.plan.operation.drain_timeout)
            .unwrap_or(ipvs::drain::DEFAULT_TIMEOUT)
    }

    /// The sync daemons the plan asks for, in `state` (both at once in active-active mode),
    /// when they differ from the last asked.
    fn sync_daemon(&mut self, state: DaemonState) -> Option<Output> {
        let active = state == DaemonState::Master;
        let want: Vec<Daemon> = match &self.plan.sync_daemon {
            None => Vec::new(),
            Some((iface, id)) if self.plan.cluster.is_some() => {
                ipvs::daemon::both(iface, u32::from(*id)).to_vec()
            }
            Some((iface, id)) => vec![ipvs::daemon::for_role(active, iface, u32::from(*id))],
        };
        if want == self.sync {
            return None;
        }
        self.sync = want.clone();
        Some(Output::SyncDaemons(want))
    }

    /// Active-active: tells the announcer what changed (the director's fitness or the
    /// operator's hold, the serving real servers of each service, the services gone) and says
    /// what it decided.
    fn announce(&mut self, now: Instant) -> Vec<Output> {
        let Some(announcer) = &mut self.announcer else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let fit = self.fitness.is_fit() && !self.held_out;
        if self.told_fit != Some(fit) {
            self.told_fit = Some(fit);
            out.extend(announcer.handle(now, cluster::Input::Fit(fit)));
        }
        let vips: HashMap<ServiceKey, IpAddr> = (self.plan.services.iter())
            .map(|s| (s.service.key, s.vip))
            .collect();
        let gone: Vec<ServiceKey> = (self.counted.keys())
            .filter(|k| vips.get(k) != self.counted.get(k).map(|(_, vip, _)| vip))
            .copied()
            .collect();
        for key in gone {
            if let Some((service, vip, _)) = self.counted.remove(&key) {
                out.extend(announcer.handle(now, cluster::Input::Removed { vip, service }));
            }
        }
        let mut next = self
            .counted
            .values()
            .map(|(id, ..)| id + 1)
            .max()
            .unwrap_or(0);
        for (key, healthy) in self.desired.serving() {
            let Some(&vip) = vips.get(&key) else { continue };
            let id = match self.counted.get(&key) {
                Some(&(_, _, was)) if was == healthy => continue,
                Some(&(id, ..)) => id,
                None => {
                    next += 1;
                    next - 1
                }
            };
            self.counted.insert(key, (id, vip, healthy));
            let input = cluster::Input::Service {
                vip,
                service: id,
                healthy,
            };
            out.extend(announcer.handle(now, input));
        }
        out.extend(announcer.handle(now, cluster::Input::Timer));
        out.into_iter().flat_map(route).collect()
    }

    /// One check per real server of the plan: checks whose settings did not change since `old`
    /// keep running (and keep their state); the others are replaced or stopped.
    fn checks(&mut self, old: Option<&Plan>) -> Output {
        let mut keep = BTreeSet::new();
        if let Some(old) = old {
            let before: HashMap<_, _> = servers(old).map(|(k, _, r)| (k, r)).collect();
            for (key, _, server) in servers(&self.plan) {
                if let Some(was) = before.get(&key)
                    && self.checked.contains(&key)
                    && same_check(was, server)
                {
                    keep.insert(key);
                }
            }
        }
        let remove: Vec<ServerKey> = std::mem::take(&mut self.checked)
            .into_iter()
            .filter(|k| !keep.contains(k))
            .collect();
        let mut add = Vec::new();
        for (key, s, r) in servers(&self.plan) {
            if !keep.contains(&key) {
                let target = Target::new(r.probe.clone(), r.health.clone(), r.interval);
                add.push((key, target, format!("virtual {} server {}", s.name, r.name)));
            }
            self.checked.insert(key);
        }
        Output::Checks { remove, add }
    }

    /// Every tracker of the plan, anew (after a reload too): none fails until it says so.
    fn trackers(&mut self) -> Vec<Output> {
        let was_fit = self.fitness.is_fit();
        self.fitness = Fitness::new(self.plan.operation.track_threshold.unwrap_or(1));
        let mut targets = Vec::new();
        for (i, t) in self.plan.operation.track.iter().enumerate() {
            let config = ServerConfig::default()
                .with_weight(1)
                .with_rise(1)
                .with_fall(t.fall)
                .with_reentry(Duration::ZERO)
                .with_quiesce(false)
                .with_slow_start(None)
                .with_load(None);
            let target = match &t.kind {
                TrackKind::Probe(p) => {
                    TrackerTarget::Probe(Target::new(p.clone(), config, t.interval))
                }
                TrackKind::Interface(dev) => TrackerTarget::Interface {
                    name: dev.clone(),
                    interval: t.interval,
                    config,
                },
            };
            self.fitness.track(i, t.weight);
            targets.push((i, t.name.clone(), target));
        }
        // Always said, empty too: a reload that drops every tracker must stop the old ones.
        let mut out = vec![Output::Trackers(targets)];
        if !was_fit {
            out.extend(self.verdict(Verdict::Fit));
        }
        out
    }

    /// Health verdicts: the table once, then a line (unless the server flaps: [`Flaps`]) and
    /// the server hook for each change.
    fn health(&mut self, now: Instant, verdicts: Vec<Verdicted>) -> Vec<Output> {
        let mut said: Vec<Output> = self.flaps.expire(now).into_iter().map(log).collect();
        for v in verdicts {
            let Some(&(i, j)) = self.index.get(&v.server) else {
                continue;
            };
            let service = &self.plan.services[i];
            let (service, server) = (service.name.clone(), service.servers[j].name.clone());
            self.desired.apply(&v.server, v.event.kind);
            let (tag, word, weight) = match v.event.kind {
                EventKind::Up { weight } => ("[ active ]", "up", weight),
                EventKind::Weight(weight) => ("[ active ]", "weight", weight),
                EventKind::Down { .. } => ("[inactive]", "down", 0),
            };
            let line = format!("director: {tag} {} {}", v.address, v.event);
            said.extend(self.flaps.change(now, v.server, line).into_iter().map(log));
            let weight = weight.to_string();
            let address = v.address.to_string();
            let reason = v.event.reason.to_string();
            said.push(self.run(
                "the server hook",
                self.plan.operation.server_hook.as_deref(),
                &[&service, &server, &address, word, &weight, &reason],
            ));
        }
        if said.is_empty() {
            return said;
        }
        // Said once the kernel has it, so that whoever reads the log can rely on it.
        let mut out = vec![Output::Table(self.table())];
        out.extend(said);
        out
    }

    /// A tracker's verdict.
    fn tracker(&mut self, index: usize, kind: EventKind, why: &str) -> Vec<Output> {
        let Some(t) = self.plan.operation.track.get(index) else {
            return Vec::new();
        };
        let failing = matches!(kind, EventKind::Down { .. });
        let mut out = Vec::new();
        if failing {
            out.push(log(format!("director: track: {} fails: {why}", t.name)));
        } else if self.fitness.failing(&index) == Some(true) {
            out.push(log(format!("director: track: {} is back", t.name)));
        }
        if let Some(verdict) = self.fitness.set(&index, failing) {
            out.extend(self.verdict(verdict));
        }
        out
    }

    /// Acts on a change of the router's fitness.
    fn verdict(&mut self, verdict: Verdict) -> Vec<Output> {
        let unfit = matches!(verdict, Verdict::Unfit { .. });
        if self.announcer.is_some() {
            // Every director serves: an unfit one only stops being announced.
            let line = match verdict {
                Verdict::Unfit { failing, threshold } => format!(
                    "director: unfit: failing weight {failing} of threshold {threshold}: withdrawing the VIPs"
                ),
                _ => "director: fit again: the VIPs are announced after their hold-down".into(),
            };
            // The announcer hears it in `announce`.
            return vec![log(line)];
        }
        let mut out = vec![match verdict {
            Verdict::Unfit { failing, threshold } => log(format!(
                "director: unfit: failing weight {failing} of threshold {threshold}: stepping down"
            )),
            _ => log("director: fit again"),
        }];
        if self.with_peer {
            out.push(Output::Heartbeat(verdict.command()));
        } else {
            // A router alone follows its own fitness.
            self.role = if unfit {
                Decided {
                    role: Role::Standby,
                    reason: Reason::ServiceFailed,
                }
            } else {
                Decided {
                    role: Role::Active,
                    reason: Reason::ServiceRecovered,
                }
            };
            out.push(log(format!(
                "director: {} ({})",
                self.role.role, self.role.reason
            )));
            out.extend(self.follow_role());
        }
        out
    }

    /// Acts on the role decided last.
    fn follow_role(&mut self) -> Vec<Output> {
        match (self.role.role, self.active) {
            (Role::Active, false) => self.become_active(),
            (Role::Standby, true) => self.become_standby(),
            // The peer is active too and we stay (pulse: "partner active: resending arps"):
            // the addresses are added if they went missing and announced again, and
            // `active_cmd` runs again.
            (Role::Active, true) => vec![
                self.take(Announce::All, false),
                self.run("active_cmd", self.plan.commands.active.as_deref(), &[]),
            ],
            (Role::Standby, false) => Vec::new(),
        }
    }

    fn take(&self, announce: Announce, report: bool) -> Output {
        let wait = self.address_probe();
        // The peer held these addresses and is known dead or gone: every millisecond is a
        // client's, so claim them at once and probe meanwhile (a conflict is still reported).
        // At a cold start nothing says they are free: probe first.
        let from_peer =
            self.peer_heard && matches!(self.role.reason, Reason::PeerDead | Reason::PeerResigned);
        Output::Take {
            addresses: self.plan.takeover(),
            announce,
            probe: if self.plan.cluster.is_some() {
                // Active-active: the VIPs go on `lo` of every director at once.
                Probe::First(Duration::ZERO)
            } else if from_peer {
                Probe::Alongside(wait)
            } else {
                Probe::First(wait)
            },
            report,
        }
    }

    fn become_active(&mut self) -> Vec<Output> {
        self.active = true;
        self.counts.role_changes += 1;
        let mut out = Vec::new();
        if self.table_mode() == TableMode::WhenActive {
            out.push(Output::Table(self.table()));
        }
        out.push(self.take(Announce::All, true));
        out.extend(self.sync_daemon(DaemonState::Master));
        out.push(self.run("active_cmd", self.plan.commands.active.as_deref(), &[]));
        out.extend(self.role_hook());
        out
    }

    fn become_standby(&mut self) -> Vec<Output> {
        self.active = false;
        self.counts.role_changes += 1;
        let mut out = vec![
            Output::Release { keep: Vec::new() },
            log("director: released the addresses"),
        ];
        out.extend(self.sync_daemon(DaemonState::Backup));
        if self.table_mode() == TableMode::WhenActive {
            out.push(Output::Table(self.table()));
        }
        out.push(self.run("inactive_cmd", self.plan.commands.inactive.as_deref(), &[]));
        out.extend(self.role_hook());
        out
    }

    /// The role hook (`ROLE REASON`) and the service manager's status line.
    fn role_hook(&self) -> Vec<Output> {
        let role = if self.active { "active" } else { "standby" };
        let reason = self.role.reason.to_string();
        vec![
            self.run(
                "the role hook",
                self.plan.operation.role_hook.as_deref(),
                &[role, &reason],
            ),
            Output::Status(format!("{role} ({reason})")),
        ]
    }

    /// Applies a new plan as a diff.
    fn reload(&mut self, now: Instant, plan: Plan) -> Vec<Output> {
        if plan.cluster.is_some() != self.plan.cluster.is_some() {
            return self.step(
                now,
                Input::ReloadFailed(vec![
                    "director: [cluster] mode changed: it applies when the director restarts"
                        .into(),
                ]),
            );
        }
        let mut out = Vec::new();
        let old = std::mem::replace(&mut self.plan, Arc::new(plan));
        self.index = index(&self.plan);
        if old.cluster != self.plan.cluster {
            out.push(log(
                "director: warning: the [cluster] settings changed; they apply when the director restarts",
            ));
        }
        if old.heartbeat != self.plan.heartbeat {
            out.push(log(
                "director: warning: the heartbeat settings changed; they apply when the director restarts",
            ));
        }
        if (old.operation.metrics, &old.operation.socket)
            != (self.plan.operation.metrics, &self.plan.operation.socket)
        {
            out.push(log(
                "director: warning: the metrics address or the control socket changed; they apply when the director restarts",
            ));
        }
        self.desired = self
            .desired
            .reload(&self.plan, now, |k| self.drain_timeout(k));
        out.push(self.checks(Some(&old)));
        out.push(Output::Table(self.table()));
        if self.active {
            let wanted = self.plan.takeover();
            out.push(Output::Release { keep: wanted });
            out.push(self.take(Announce::New, false));
        }
        if old.sync_daemon != self.plan.sync_daemon {
            let state = if self.active {
                DaemonState::Master
            } else {
                DaemonState::Backup
            };
            out.extend(self.sync_daemon(state));
        }
        if old.timeouts != self.plan.timeouts {
            let t = self.plan.timeouts;
            if t != Timeouts::default() {
                out.push(Output::Timeouts(t));
            }
        }
        if old.operation.track != self.plan.operation.track
            || old.operation.track_threshold != self.plan.operation.track_threshold
        {
            out.extend(self.trackers());
        }
        let before: BTreeSet<_> = old.services.iter().map(|s| s.service.key).collect();
        let after: BTreeSet<_> = self.plan.services.iter().map(|s| s.service.key).collect();
        self.counts.reloads += 1;
        out.push(Output::Reloaded {
            services: after.len(),
            added: after.difference(&before).count(),
            removed: before.difference(&after).count(),
            draining: self.desired.draining().len(),
        });
        out
    }

    /// Finds real server `server` (its name, address or `address:port`) of virtual server
    /// `name`, in each of its services (IPv4 and IPv6): their (service, server) indices.
    fn find_server(&self, name: &str, server: &str) -> Result<Vec<(usize, usize)>, String> {
        let services: Vec<usize> = (self.plan.services.iter().enumerate())
            .filter(|(_, s)| s.name == name)
            .map(|(si, _)| si)
            .collect();
        if services.is_empty() {
            return Err(format!("no virtual server `{name}` is running"));
        }
        let mut found = Vec::new();
        for si in services {
            let matching: Vec<usize> = (self.plan.services[si].servers.iter().enumerate())
                .filter(|(_, r)| {
                    let at = SocketAddr::new(r.destination.addr, r.destination.port);
                    r.name == server
                        || r.destination.addr.to_string() == server
                        || at.to_string() == server
                })
                .map(|(i, _)| i)
                .collect();
            if matching.len() > 1 {
                return Err(format!(
                    "virtual {name} has {} real servers named `{server}`: give its address",
                    matching.len()
                ));
            }
            found.extend(matching.into_iter().map(|ri| (si, ri)));
        }
        if found.is_empty() {
            return Err(format!("virtual {name} has no real server `{server}`"));
        }
        Ok(found)
    }

    fn admin(&mut self, action: Admin, name: &str, server: &str) -> Vec<Output> {
        let found = match self.find_server(name, server) {
            Ok(found) => found,
            Err(e) => return vec![Output::Reply(Response::error(e))],
        };
        let mut changed = false;
        let mut hooks = Vec::new();
        let mut messages = Vec::new();
        for (si, ri) in found {
            let (s, r) = (&self.plan.services[si], &self.plan.services[si].servers[ri]);
            changed |= self.desired.set_admin(&server_key(s, r), action);
            let address = SocketAddr::new(r.destination.addr, r.destination.port).to_string();
            hooks.push(self.run(
                "the server hook",
                self.plan.operation.server_hook.as_deref(),
                &[name, &r.name, &address, action.verb(), "-", "operator"],
            ));
            messages.push(format!(
                "virtual {name} server {} ({address}): {}",
                r.name,
                action.word()
            ));
        }
        let mut out = hooks;
        if changed {
            out.push(Output::Table(self.table()));
        }
        out.extend((messages.iter()).map(|m| log(format!("director: operator: {m}"))));
        out.push(Output::Reply(Response::ok(messages.join("\n"))));
        out
    }

    fn force(&mut self, role: Force) -> Vec<Output> {
        self.forced = (role != Force::Auto).then_some(role);
        let mut out = Vec::new();
        if self.announcer.is_some() {
            // Every director serves: standby holds this one out of the ECMP group (its VIPs
            // withdrawn, what it carries still served), for maintenance.
            self.held_out = role == Force::Standby;
            let message = if self.held_out {
                "held out: every VIP withdrawn (`director force auto` announces them again)"
            } else {
                "the VIPs are announced again while they can be served"
            };
            out.push(log(format!("director: operator: {message}")));
            out.push(Output::Reply(Response::ok(message)));
            return out;
        }
        if self.with_peer {
            out.push(Output::Heartbeat(match role {
                Force::Active => Command::ForceActive,
                Force::Standby => Command::ForceStandby,
                Force::Auto => Command::Release,
            }));
        } else {
            // A router alone is active unless held standby.
            self.role = Decided {
                role: if role == Force::Standby {
                    Role::Standby
                } else {
                    Role::Active
                },
                reason: Reason::Operator,
            };
            out.push(log(format!("director: {} (operator)", self.role.role)));
            out.extend(self.follow_role());
        }
        let message = match role {
            Force::Active => "forced active",
            Force::Standby => "forced standby",
            Force::Auto => "the heartbeat decides the role again",
        };
        out.push(log(format!("director: operator: {message}")));
        out.push(Output::Reply(Response::ok(message)));
        out
    }
}
