//! The running director: health checks feed the IPVS table, the heartbeat moves the addresses.

use std::{
    collections::{BTreeSet, HashMap},
    net::{IpAddr, Ipv4Addr, SocketAddr},
    process::Stdio,
};

use healthcheck::{Monitor, MonitorOptions, Target, TargetId, Update};
use heartbeat::{Config, Driver, PathConfig, PathSocket, Protocol, Role, Timers};
use ipvs::reconcile::{Ownership, apply, observe};

use crate::{AddressError, AddressPlan, Addresses, Desired, Plan};

/// Why the director cannot run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// None of this node's addresses is the configuration's `primary` or `backup`.
    #[error("this node has neither the primary ({primary}) nor the backup ({backup}) address")]
    NotInConfig {
        /// The configured primary.
        primary: String,
        /// The configured backup.
        backup: String,
    },
    /// An address could not be listed, added or removed.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// IPVS.
    #[error("IPVS: {0}")]
    Ipvs(#[from] ipvs::Error),
    /// The heartbeat.
    #[error("heartbeat: {0}")]
    Heartbeat(String),
}

/// How the director runs.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Keep the owned IPVS services when stopping (for a restart that adopts them).
    pub keep_table_on_exit: bool,
}

/// Whether this node is the primary (true) or the backup, from its addresses. As pulse: the
/// primary if it holds the primary's address (secondary addresses count too).
pub fn is_primary(plan: &Plan, local: &[Ipv4Addr]) -> Result<bool, RunError> {
    let h = &plan.heartbeat;
    let has = |a: Option<Ipv4Addr>| a.is_some_and(|a| local.contains(&a));
    if has(h.primary) {
        Ok(true)
    } else if has(h.backup) {
        Ok(false)
    } else {
        let show = |a: Option<Ipv4Addr>| a.map_or("none".to_string(), |a| a.to_string());
        Err(RunError::NotInConfig {
            primary: show(h.primary),
            backup: show(h.backup),
        })
    }
}

fn heartbeat_config(plan: &Plan, primary: bool) -> Result<(Config, Vec<PathSocket>), RunError> {
    let h = &plan.heartbeat;
    let (me, peer, my_private, peer_private) = if primary {
        (h.primary, h.backup, h.primary_private, h.backup_private)
    } else {
        (h.backup, h.primary, h.backup_private, h.primary_private)
    };
    let timers =
        Timers::new(h.keepalive, h.deadtime).map_err(|e| RunError::Heartbeat(e.to_string()))?;
    let mut paths = Vec::new();
    let mut sockets = Vec::new();
    // A peer only when there is one and it is another node (the published backup file names
    // the same address twice).
    if let (Some(me), Some(peer)) = (me, peer)
        && me != peer
        && (primary || h.backup_active)
    {
        paths.push(PathConfig {
            peer: IpAddr::V4(peer),
            critical: true,
        });
        sockets.push(PathSocket {
            local: SocketAddr::new(IpAddr::V4(me), h.port),
            peer_port: h.port,
            device: None,
        });
        if let (Some(mine), Some(theirs)) = (my_private, peer_private)
            && mine != me
            && theirs != peer
        {
            paths.push(PathConfig {
                peer: IpAddr::V4(theirs),
                critical: true,
            });
            sockets.push(PathSocket {
                local: SocketAddr::new(IpAddr::V4(mine), h.port),
                peer_port: h.port,
                device: None,
            });
        }
    }
    let config = Config {
        protocol: Protocol::Piranha {
            byte_order: Default::default(),
        },
        timers,
        primary,
        paths,
    };
    Ok((config, sockets))
}

fn run_command(what: &str, command: Option<&str>) {
    let Some(command) = command else { return };
    match std::process::Command::new("/bin/sh")
        .args(["-c", command])
        .stdin(Stdio::null())
        .spawn()
    {
        // Reaped by a thread so that a slow command never holds the director up.
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(e) => eprintln!("director: cannot run {what} `{command}`: {e}"),
    }
}

/// Runs the director until `shutdown` completes.
pub async fn run(
    plan: Plan,
    options: RunOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    let addresses = Addresses::new()?;
    let local = addresses.local_ipv4().await?;
    let primary = is_primary(&plan, &local)?;
    eprintln!(
        "director: this node is the {}",
        if primary { "primary" } else { "backup" }
    );

    let (conn, ipvs) = ipvs::new_connection()?;
    tokio::spawn(conn);
    let owned: BTreeSet<_> = plan.services.iter().map(|s| s.service.key).collect();
    let ownership = Ownership::Keys(owned);
    let mut desired = Desired::new(&plan);
    // A restart adopts what the kernel has: real servers already in stay in until a check fails.
    desired.adopt(&observe(&ipvs).await?);
    let report = apply(&ipvs, &desired.table(), &ownership).await?;
    if let Some(e) = report.first_error() {
        eprintln!("director: IPVS: {e}");
    }

    let (monitor, mut updates) = Monitor::spawn(MonitorOptions::default());
    let mut targets: HashMap<TargetId, (usize, usize)> = HashMap::new();
    for (si, s) in plan.services.iter().enumerate() {
        for (ri, r) in s.servers.iter().enumerate() {
            let target =
                Target::new(r.probe.clone(), r.health.clone(), r.interval).group(si as u64);
            match monitor.add(target).await {
                Ok(Ok(id)) => {
                    targets.insert(id, (si, ri));
                }
                Ok(Err(e)) => eprintln!("director: virtual {} server {}: {e}", s.name, r.name),
                Err(e) => return Err(RunError::Heartbeat(e.to_string())),
            }
        }
    }

    let (config, sockets) = heartbeat_config(&plan, primary)?;
    let driver = Driver::bind(config, &sockets).map_err(|e| RunError::Heartbeat(e.to_string()))?;
    let mut roles = driver.roles();
    let heartbeat = driver.spawn();

    let mut taken: Vec<AddressPlan> = Vec::new();
    let mut announcers = Vec::new();
    let mut active = false;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            update = updates.recv() => {
                let Some(Update::Server { target, address, event }) = update else { continue };
                let Some(&(si, ri)) = targets.get(&target) else { continue };
                let tag = if matches!(event.kind, healthcheck::EventKind::Down { .. }) { "[inactive]" } else { "[ active ]" };
                if desired.apply(si, ri, event.kind) {
                    let report = apply(&ipvs, &desired.table(), &ownership).await?;
                    if let Some(e) = report.first_error() {
                        eprintln!("director: IPVS: {e}");
                    }
                }
                // Logged once the table has it, so that whoever reads the log can rely on it.
                eprintln!("director: {tag} {address} {event}");
            }
            changed = roles.changed() => {
                if changed.is_err() {
                    break;
                }
                let change = *roles.borrow_and_update();
                eprintln!("director: {} ({})", change.role, change.reason);
                match (change.role, active) {
                    (Role::Active, false) => {
                        active = true;
                        for a in &plan.addresses {
                            match addresses.add(a).await {
                                Ok(true) => taken.push(a.clone()),
                                Ok(false) => {}
                                Err(e) => eprintln!("director: {e}"),
                            }
                            let options = arp_announce::Options::default();
                            match arp_announce::Announcer::new(&a.device, &[IpAddr::V4(a.address)], options)
                                .and_then(|an| an.spawn())
                            {
                                Ok(handle) => announcers.push(handle),
                                Err(e) => eprintln!("director: announcing {}: {e}", a.address),
                            }
                        }
                        eprintln!("director: took over {} addresses", taken.len());
                        run_command("active_cmd", plan.commands.0.as_deref());
                    }
                    (Role::Standby, true) => {
                        active = false;
                        announcers.clear();
                        for a in taken.drain(..) {
                            if let Err(e) = addresses.remove(&a).await {
                                eprintln!("director: {e}");
                            }
                        }
                        eprintln!("director: released the addresses");
                        run_command("inactive_cmd", plan.commands.1.as_deref());
                    }
                    _ => {}
                }
            }
        }
    }

    // Stopping: resign, give the addresses back, remove what we own.
    let _ = heartbeat.shutdown().await;
    announcers.clear();
    for a in taken.drain(..) {
        if let Err(e) = addresses.remove(&a).await {
            eprintln!("director: {e}");
        }
    }
    monitor.shutdown().await;
    if !options.keep_table_on_exit {
        let report = apply(&ipvs, &ipvs::Table::default(), &ownership).await?;
        if let Some(e) = report.first_error() {
            eprintln!("director: IPVS: {e}");
        }
    }
    Ok(())
}
