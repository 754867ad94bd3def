//! The failover services on tokio: the heartbeat's driver decides the role, [`Services`] what to
//! do, and this module does it (addresses, commands, checks).

use std::process::Stdio;
use std::time::Duration;

use arp_announce::takeover::{Addresses, Announce, DEFAULT_PROBE, Event, Takeover};
use heartbeat::pulse::{Node, Pulse};
use heartbeat::{Command as HeartbeatCommand, Driver, DriverHandle, Role, RoleChange};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::error::Error;
use crate::plan::{Command, Plan};
use crate::services::{Input, Output, Services};

/// How long a `start_cmd` or `stop_cmd` may run before the next step goes on without it (it is
/// left running: a command that does not return is the service itself).
pub const COMMAND_LIMIT: Duration = Duration::from_secs(30);

/// What a running [`Runner`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status {
    /// Which router this is.
    pub node: Node,
    /// Whether the services run here.
    pub role: Role,
    /// Whether a failed service keeps this node from serving.
    pub failed: bool,
}

/// Piranha's failover services, running: started with [`Runner::start`], stopped with
/// [`Runner::stop`].
#[derive(Debug)]
pub struct Runner {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
    status: watch::Receiver<Status>,
}

impl Runner {
    /// Finds which router this is (the one holding `pulse`'s primary or backup address), binds
    /// the heartbeat (in `pulse`'s mode: failover services' magics unless it is authenticated),
    /// removes addresses an earlier run left, and runs. A router alone is active at once (pulse:
    /// "in FOS mode with no backup it is forced active"). Must be called within a tokio
    /// runtime.
    pub async fn start(plan: Plan, pulse: &Pulse) -> Result<Runner, Error> {
        let addresses = Addresses::new()?;
        let local = addresses.local_ipv4().await?;
        let node = pulse.node(&local)?;
        tracing::info!("this node is the {node}");
        let (config, sockets) = pulse.config(node, heartbeat::unix_epoch_micros())?;
        let mut takeover = Takeover::with_addresses(addresses);
        log(takeover.leftovers(&plan.addresses(), false).await?);
        let (heartbeat, roles) = if config.paths.is_empty() {
            (None, None)
        } else {
            let (handle, roles) = Driver::spawn_thread(config, &sockets, true)?;
            (Some(handle), Some(roles))
        };
        let services = Services::new(
            plan.services.iter().map(|s| s.nanny.interval()).collect(),
            plan.services
                .iter()
                .map(|s| s.reentry)
                .max()
                .unwrap_or_default(),
        );
        let (status_tx, status) = watch::channel(Status {
            node,
            role: Role::Standby,
            failed: false,
        });
        let (stop, stopped) = oneshot::channel();
        let run = Run {
            plan,
            services,
            takeover,
            heartbeat,
            status: status_tx,
            checks: mpsc::unbounded_channel(),
        };
        let task = tokio::spawn(run.run(roles, stopped));
        Ok(Runner { stop, task, status })
    }

    /// What the services do now.
    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    /// Stops: on the active node each `stop_cmd` runs and the addresses go, then the heartbeat
    /// tells the peer (which takes over at once).
    pub async fn stop(self) {
        let _ = self.stop.send(());
        if let Err(e) = self.task.await {
            tracing::error!("failover services: {e}");
        }
    }
}

struct Run {
    plan: Plan,
    services: Services,
    takeover: Takeover,
    heartbeat: Option<DriverHandle>,
    status: watch::Sender<Status>,
    checks: (mpsc::UnboundedSender<Input>, mpsc::UnboundedReceiver<Input>),
}

impl Run {
    async fn run(
        mut self,
        mut roles: Option<mpsc::UnboundedReceiver<RoleChange>>,
        mut stopped: oneshot::Receiver<()>,
    ) {
        if roles.is_none() {
            tracing::info!("ACTIVE (standalone: no backup to hear from)");
            self.handle(Input::Role(Role::Active)).await;
        }
        loop {
            let wake = self.services.poll_timeout().map(Instant::from_std);
            let input = tokio::select! {
                _ = &mut stopped => break,
                Some(change) = next_role(&mut roles) => {
                    let role = change.role();
                    tracing::info!("{role} ({})", change.reason);
                    Input::Role(role)
                }
                Some(checked) = self.checks.1.recv() => checked,
                () = sleep(wake) => Input::Timer,
            };
            self.handle(input).await;
        }
        self.handle(Input::Role(Role::Standby)).await;
        if let Some(heartbeat) = self.heartbeat.take()
            && let Err(e) = heartbeat.shutdown().await
        {
            tracing::warn!("heartbeat: {e}");
        }
    }

    async fn handle(&mut self, input: Input) {
        let outputs = self.services.handle(Instant::now().into_std(), input);
        for output in outputs {
            self.execute(output).await;
        }
        self.status.send_modify(|s| {
            s.role = if self.services.is_active() {
                Role::Active
            } else {
                Role::Standby
            };
            s.failed = self.services.is_failed();
        });
    }

    async fn execute(&mut self, output: Output) {
        let services = &self.plan.services;
        match output {
            Output::Take => {
                let wanted = self.plan.addresses();
                log(self
                    .takeover
                    .take(&wanted, Announce::All, DEFAULT_PROBE)
                    .await);
                tracing::info!("took over {} addresses", self.takeover.held().len());
            }
            Output::Release => log(self.takeover.release_all().await),
            Output::Start(i) => run_command(&services[i].name, "started", &services[i].start).await,
            Output::Stop(i) => run_command(&services[i].name, "stopped", &services[i].stop).await,
            Output::Check { service: i, id } => {
                let probe = services[i].probe.clone();
                let tx = self.checks.0.clone();
                tokio::spawn(async move {
                    let outcome = probe.run().await;
                    let _ = tx.send(Input::Checked {
                        service: i,
                        id,
                        passed: outcome.is_ok(),
                        detail: outcome.to_string(),
                    });
                });
            }
            Output::Failed { service, detail } => {
                tracing::warn!(
                    "failover {}: check failed: {detail}",
                    services[service].name
                );
                self.tell(HeartbeatCommand::ServiceFailed).await;
            }
            Output::Recovered => {
                tracing::info!("failover services: may serve again (reentry over)");
                self.tell(HeartbeatCommand::ServiceRecovered).await;
            }
        }
    }

    /// Tells the heartbeat; a router alone is its own heartbeat.
    async fn tell(&mut self, command: HeartbeatCommand) {
        match &self.heartbeat {
            Some(h) => {
                let _ = h.command(command).await;
            }
            None => {
                let (role, why) = match command {
                    HeartbeatCommand::ServiceFailed => (Role::Standby, "service-failed"),
                    _ => (Role::Active, "service-recovered"),
                };
                tracing::info!("{role} ({why})");
                Box::pin(self.handle(Input::Role(role))).await;
            }
        }
    }
}

async fn next_role(roles: &mut Option<mpsc::UnboundedReceiver<RoleChange>>) -> Option<RoleChange> {
    match roles {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep(until: Option<Instant>) {
    match until {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Runs `command` for `service`, waiting at most [`COMMAND_LIMIT`]; its output goes where the
/// daemon's goes. `done` says what it does, for the log (`started`, `stopped`).
async fn run_command(service: &str, done: &str, command: &Command) {
    let argv = command.argv();
    let spawned = tokio::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            tracing::error!("failover {service}: cannot run `{command}`: {e}");
            return;
        }
    };
    match tokio::time::timeout(COMMAND_LIMIT, child.wait()).await {
        Ok(Ok(status)) if status.success() => {
            tracing::info!("failover {service}: {done} (`{command}`)");
        }
        Ok(Ok(status)) => tracing::warn!("failover {service}: `{command}` {status}"),
        Ok(Err(e)) => tracing::warn!("failover {service}: `{command}`: {e}"),
        Err(_) => tracing::warn!(
            "failover {service}: `{command}` still runs after {COMMAND_LIMIT:?}; going on"
        ),
    }
}

/// Logs what a takeover step met.
fn log(events: Vec<Event>) {
    for e in events {
        match e {
            Event::Failed(_) | Event::Conflict { .. } => tracing::error!("{e}"),
            _ => tracing::info!("{e}"),
        }
    }
}
