//! The tokio driver: sockets, timers, link events and commands around one [`Heartbeat`].

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::task::Poll;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::io::ReadBuf;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::{Config, Protocol};
use crate::error::Error;
use crate::link::{self, LinkState, Which};
use crate::machine::{Action, Counters, Event, Heartbeat, PathId, Reason, Role};

/// What the state machine decided about the role: become active, become standby, or stay
/// active and announce the addresses again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RoleAction {
    /// Become active: add the virtual addresses, announce them, start the services.
    BecomeActive,
    /// Become standby: release the virtual addresses.
    BecomeStandby,
    /// Stay active, and announce the virtual addresses again (the peer was active too, so
    /// neighbours may have learnt its MAC address).
    Reannounce,
}

impl RoleAction {
    /// The role once the action is carried out.
    pub fn role(self) -> Role {
        match self {
            RoleAction::BecomeActive | RoleAction::Reannounce => Role::Active,
            RoleAction::BecomeStandby => Role::Standby,
        }
    }
}

impl std::fmt::Display for RoleAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RoleAction::BecomeActive => "become active",
            RoleAction::BecomeStandby => "become standby",
            RoleAction::Reannounce => "reannounce",
        })
    }
}

/// One role action, as the driver hands it to its user: every one, in order, none coalesced
/// (see [`Driver::role_changes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleChange {
    /// What to do.
    pub action: RoleAction,
    /// Why.
    pub reason: Reason,
    /// When, on the wall clock.
    pub at: SystemTime,
    /// 1 for the first change, then one more for each.
    pub seq: u64,
    /// Whether the peer had been heard since start ([`Heartbeat::peer_heard`]): becoming
    /// active then is a takeover from a peer known dead or gone, not a cold start.
    pub peer_heard: bool,
}

impl RoleChange {
    /// The role once the change is carried out.
    pub fn role(&self) -> Role {
        self.action.role()
    }
}

/// What the application can tell a running driver.
#[derive(Debug)]
#[non_exhaustive]
pub enum Command {
    /// The service failed: step down, do not take over ([`Event::ServiceFailed`]).
    ServiceFailed,
    /// The service recovered.
    ServiceRecovered,
    /// Operator: become active.
    ForceActive,
    /// Operator: become standby and stay so.
    ForceStandby,
    /// Operator: back to automatic.
    Release,
    /// Reply with the counters.
    Counters(oneshot::Sender<Counters>),
    /// Resign and stop.
    Shutdown,
}

/// One path's socket: the local address to bind (the peer's address comes from
/// [`PathConfig::peer`](crate::PathConfig::peer)), the peer's port, and optionally the device to
/// bind to (`SO_BINDTODEVICE`) and to monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathSocket {
    /// Our address and port on this path.
    pub local: SocketAddr,
    /// The peer's port (539 for pulse).
    pub peer_port: u16,
    /// Bind the socket to this device; its link is the one monitored for this path. Without
    /// it, the interface holding `local`'s address is monitored.
    pub device: Option<String>,
}

/// A [`Heartbeat`] with its sockets, ready to run on tokio.
///
/// Create it inside a tokio runtime with [`Driver::bind`], take its [`Driver::role_changes`],
/// then [`Driver::spawn`] it (or `.await` [`Driver::run`]). The node starts standby.
#[derive(Debug)]
pub struct Driver {
    machine: Heartbeat,
    sockets: Vec<UdpSocket>,
    peers: Vec<SocketAddr>,
    monitor: Option<Vec<(PathId, Which)>>,
    roles: mpsc::UnboundedSender<RoleChange>,
}

/// The handle of a spawned driver.
#[derive(Debug)]
pub struct DriverHandle {
    commands: mpsc::Sender<Command>,
    task: Task,
}

/// Where a driver runs.
#[derive(Debug)]
enum Task {
    /// A task of the caller's runtime.
    Spawned(JoinHandle<Result<Counters, Error>>),
    /// A thread of its own; its result comes back on the channel.
    Thread(oneshot::Receiver<Result<Counters, Error>>),
}

/// Microseconds since the Unix epoch, now: an epoch for [`AuthConfig`](crate::AuthConfig) that
/// grows across restarts as long as the wall clock does not step back between them.
pub fn unix_epoch_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

impl Driver {
    /// Binds one UDP socket per path (`paths[i]` for `config.paths[i]`) and creates the state
    /// machine. Link monitoring is on; see [`Driver::without_link_monitoring`]. Must be called
    /// inside a tokio runtime.
    pub fn bind(config: Config, paths: &[PathSocket]) -> Result<Driver, Error> {
        if paths.len() != config.paths.len() {
            return Err(Error::PathCount {
                sockets: paths.len(),
                paths: config.paths.len(),
            });
        }
        let mut sockets = Vec::with_capacity(paths.len());
        let mut peers = Vec::with_capacity(paths.len());
        let mut monitor = Vec::with_capacity(paths.len());
        for (i, (p, c)) in paths.iter().zip(&config.paths).enumerate() {
            let bind = |source| Error::Bind {
                path: i,
                addr: p.local,
                source,
            };
            let std = std::net::UdpSocket::bind(p.local).map_err(bind)?;
            std.set_nonblocking(true).map_err(bind)?;
            let socket = UdpSocket::from_std(std).map_err(bind)?;
            if let Some(dev) = &p.device {
                socket
                    .bind_device(Some(dev.as_bytes()))
                    .map_err(|source| Error::BindDevice {
                        path: i,
                        device: dev.clone(),
                        source,
                    })?;
            }
            sockets.push(socket);
            peers.push(SocketAddr::new(c.peer, p.peer_port));
            monitor.push((
                PathId(i),
                match &p.device {
                    Some(d) => Which::Device(d.clone()),
                    None => Which::Address(p.local.ip()),
                },
            ));
        }
        let machine = Heartbeat::new(config, Instant::now().into_std())?;
        // Nobody listens until `role_changes` is called: changes until then are dropped.
        let (roles, _) = mpsc::unbounded_channel();
        Ok(Driver {
            machine,
            sockets,
            peers,
            monitor: Some(monitor),
            roles,
        })
    }

    /// Do not watch the links (no rtnetlink socket).
    pub fn without_link_monitoring(mut self) -> Driver {
        self.monitor = None;
        self
    }

    /// The local addresses of the sockets (useful after binding port 0).
    pub fn local_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        self.sockets.iter().map(UdpSocket::local_addr).collect()
    }

    /// The receiver of every role change, in order, none coalesced: call it once, before the
    /// driver runs (a second call gives a new receiver, and the first one gets nothing more).
    /// Unbounded: role changes are rare, and each one must reach the user.
    pub fn role_changes(&mut self) -> mpsc::UnboundedReceiver<RoleChange> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.roles = tx;
        rx
    }

    /// Spawns the driver on the current runtime.
    pub fn spawn(self) -> DriverHandle {
        let (tx, rx) = mpsc::channel(16);
        DriverHandle {
            commands: tx,
            task: Task::Spawned(tokio::spawn(self.run(rx))),
        }
    }

    /// Binds as [`Driver::bind`] (with link monitoring when `link_monitoring`), and runs the
    /// driver on a thread of its own with a single-threaded runtime: its heartbeats keep their
    /// time whatever the application's runtime is busy with (a metrics scrape that renders
    /// 100,000 real servers, a burst of checks). The handle and the role changes are used from
    /// any runtime. Need not be called inside one.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), heartbeat::Error> {
    /// use heartbeat::{Config, Driver, PathConfig, PathSocket, Protocol, Timers, packet::ByteOrder};
    /// let config = Config::new(Protocol::Piranha { byte_order: ByteOrder::Little }, Timers::piranha())
    ///     .with_paths(vec![PathConfig::new("10.0.0.2".parse().unwrap())]);
    /// let socket = PathSocket { local: "10.0.0.1:539".parse().unwrap(), peer_port: 539, device: None };
    /// let (handle, mut roles) = Driver::spawn_thread(config, &[socket], true)?;
    /// # let _ = (handle, roles.try_recv());
    /// # Ok(())
    /// # }
    /// ```
    pub fn spawn_thread(
        config: Config,
        paths: &[PathSocket],
        link_monitoring: bool,
    ) -> Result<(DriverHandle, mpsc::UnboundedReceiver<RoleChange>), Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| Error::Thread { source })?;
        let (driver, roles) = {
            // The sockets register with this runtime's reactor.
            let _inside = runtime.enter();
            let mut driver = Driver::bind(config, paths)?;
            if !link_monitoring {
                driver = driver.without_link_monitoring();
            }
            let roles = driver.role_changes();
            (driver, roles)
        };
        let (tx, rx) = mpsc::channel(16);
        let (done, result) = oneshot::channel();
        std::thread::Builder::new()
            .name("heartbeat".into())
            .spawn(move || {
                let _ = done.send(runtime.block_on(driver.run(rx)));
            })
            .map_err(|source| Error::Thread { source })?;
        let handle = DriverHandle {
            commands: tx,
            task: Task::Thread(result),
        };
        Ok((handle, roles))
    }

    /// Runs until [`Command::Shutdown`] (or until every sender of `commands` is dropped, which
    /// is a shutdown too), and returns the final counters.
    pub async fn run(mut self, mut commands: mpsc::Receiver<Command>) -> Result<Counters, Error> {
        if matches!(self.machine.config().protocol, Protocol::Piranha { .. })
            && let Some(peer) = self.peers.first()
        {
            tracing::warn!(
                "Piranha-compatible heartbeat: unauthenticated; whoever can send UDP to port {} \
                 from {} can make this node take over or step down (the authenticated protocol \
                 signs every heartbeat)",
                peer.port(),
                peer.ip()
            );
        }
        let mut links = match self.monitor.take() {
            Some(paths) => Some(link::watch(paths).await?),
            None => None,
        };
        let mut buf = vec![0u8; 2048];
        let mut seq = 0u64;
        let mut act = |machine: &mut Heartbeat, event: Event<'_>, sockets: &[UdpSocket]| {
            let actions = machine.handle(Instant::now().into_std(), event);
            let peer_heard = machine.peer_heard();
            execute(
                actions,
                sockets,
                &self.peers,
                &self.roles,
                &mut seq,
                peer_heard,
            );
        };
        act(&mut self.machine, Event::Timer, &self.sockets);
        loop {
            let deadline = self.machine.poll_timeout().map(Instant::from_std);
            tokio::select! {
                // Datagrams first: after a stall, the queued heartbeats count before the timer.
                biased;
                (path, result) = poll_fn(|cx| poll_recv(&self.sockets, &mut buf, cx)) => {
                    match result {
                        Ok((len, from)) => {
                            let bytes = buf.get(..len).unwrap_or_default();
                            act(&mut self.machine, Event::Packet { path, from, bytes }, &self.sockets);
                        }
                        // An ICMP port unreachable for an earlier send: the peer is not
                        // listening (yet). pulse ignores it too.
                        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
                        Err(e) => tracing::warn!(%path, error = %e, "receive failed"),
                    }
                }
                Some((path, state)) = recv_link(&mut links) => {
                    tracing::info!(%path, %state, "link state");
                    let event = if state.is_up() { Event::LinkUp(path) } else { Event::LinkDown(path) };
                    act(&mut self.machine, event, &self.sockets);
                }
                command = commands.recv() => {
                    let event = match command {
                        Some(Command::ServiceFailed) => Event::ServiceFailed,
                        Some(Command::ServiceRecovered) => Event::ServiceRecovered,
                        Some(Command::ForceActive) => Event::ForceActive,
                        Some(Command::ForceStandby) => Event::ForceStandby,
                        Some(Command::Release) => Event::Release,
                        Some(Command::Counters(reply)) => {
                            let _ = reply.send(self.machine.counters().clone());
                            continue;
                        }
                        Some(Command::Shutdown) | None => {
                            act(&mut self.machine, Event::Shutdown, &self.sockets);
                            return Ok(self.machine.counters().clone());
                        }
                    };
                    act(&mut self.machine, event, &self.sockets);
                }
                () = sleep_until(deadline) => {
                    act(&mut self.machine, Event::Timer, &self.sockets);
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

async fn recv_link(
    links: &mut Option<mpsc::UnboundedReceiver<(PathId, LinkState)>>,
) -> Option<(PathId, LinkState)> {
    match links {
        Some(rx) => match rx.recv().await {
            Some(x) => Some(x),
            None => {
                // The monitor ended (its socket failed): carry on without it.
                tracing::warn!("link monitoring stopped");
                *links = None;
                std::future::pending().await
            }
        },
        None => std::future::pending().await,
    }
}

fn poll_recv(
    sockets: &[UdpSocket],
    buf: &mut [u8],
    cx: &mut std::task::Context<'_>,
) -> Poll<(PathId, io::Result<(usize, SocketAddr)>)> {
    for (i, socket) in sockets.iter().enumerate() {
        let mut rb = ReadBuf::new(buf);
        if let Poll::Ready(r) = socket.poll_recv_from(cx, &mut rb) {
            let len = rb.filled().len();
            return Poll::Ready((PathId(i), r.map(|from| (len, from))));
        }
    }
    Poll::Pending
}

fn execute(
    actions: Vec<Action>,
    sockets: &[UdpSocket],
    peers: &[SocketAddr],
    roles: &mpsc::UnboundedSender<RoleChange>,
    seq: &mut u64,
    peer_heard: bool,
) {
    for action in actions {
        let (action, reason) = match action {
            Action::Send { path, bytes } => {
                if let (Some(s), Some(peer)) = (sockets.get(path.0), peers.get(path.0)) {
                    // Non-blocking: a full buffer or a down link loses this heartbeat, the
                    // next one follows a keepalive later.
                    if let Err(e) = s.try_send_to(&bytes, *peer) {
                        tracing::debug!(%path, %peer, error = %e, "send failed");
                    }
                }
                continue;
            }
            Action::BecomeActive { reason } => (RoleAction::BecomeActive, reason),
            Action::BecomeStandby { reason } => (RoleAction::BecomeStandby, reason),
            Action::Reannounce { reason } => (RoleAction::Reannounce, reason),
        };
        *seq += 1;
        tracing::info!(%action, %reason, "role");
        // Nobody listening is the user's choice.
        let _ = roles.send(RoleChange {
            action,
            reason,
            at: SystemTime::now(),
            seq: *seq,
            peer_heard,
        });
    }
}

impl DriverHandle {
    /// Sends a command; false if the driver has stopped.
    pub async fn command(&self, command: Command) -> bool {
        self.commands.send(command).await.is_ok()
    }

    /// The driver's counters; `None` if it has stopped.
    pub async fn counters(&self) -> Option<Counters> {
        let (tx, rx) = oneshot::channel();
        if !self.command(Command::Counters(tx)).await {
            return None;
        }
        rx.await.ok()
    }

    /// Resigns (authenticated) or says STOPPED (Piranha), stops, and returns the final counters.
    pub async fn shutdown(self) -> Result<Counters, Error> {
        let _ = self.commands.send(Command::Shutdown).await;
        match self.task {
            Task::Spawned(task) => match task.await {
                Ok(r) => r,
                Err(source) => Err(Error::Task { source }),
            },
            Task::Thread(result) => result.await.unwrap_or_else(|_| {
                Err(Error::Thread {
                    source: io::Error::other("it ended without an answer (a panic)"),
                })
            }),
        }
    }
}
