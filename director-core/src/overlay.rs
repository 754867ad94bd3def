//! A plan built: what lvs.cf describes, then the settings overlay applied (after
//! [`Settings::check`]).

use healthcheck::{Binding, Check, Probe, Timeouts};
use ipvs::{Family, ServiceKey};
use std::net::Ipv4Addr;

use lvscf::Config;

use crate::Plan;
use crate::plan::{
    AddressPlan, ClusterPlan, Operation, PlanError, ServicePlan, TrackKind, TrackPlan,
};
use crate::settings::{Mode, Settings, TableSetting};

impl Plan {
    /// Builds the plan; `resolve` turns host names into addresses (the director uses the
    /// system's resolver; tests pass their own). Every problem is reported, not only the first.
    pub fn build(
        config: &Config,
        resolve: &dyn Fn(&str) -> Option<Ipv4Addr>,
    ) -> Result<Plan, Vec<PlanError>> {
        Plan::build_with(config, &Settings::default(), resolve)
    }

    /// [`Plan::build`] with a settings overlay: checked against `config`, then applied.
    pub fn build_with(
        config: &Config,
        settings: &Settings,
        resolve: &dyn Fn(&str) -> Option<Ipv4Addr>,
    ) -> Result<Plan, Vec<PlanError>> {
        let overlay_errors: Vec<PlanError> = settings
            .check(config)
            .into_iter()
            .map(PlanError::Settings)
            .collect();
        if !overlay_errors.is_empty() {
            return Err(overlay_errors);
        }
        let mut plan = Plan::from_lvscf(config, settings, resolve)?;
        apply(&mut plan, config, settings)?;
        Ok(plan)
    }
}

/// Changes `plan` as `settings` say; `settings` were checked against `config`, so an error
/// here means a file changed since (the key file), and every one is reported.
pub(crate) fn apply(
    plan: &mut Plan,
    config: &Config,
    settings: &Settings,
) -> Result<(), Vec<PlanError>> {
    let mut errors = Vec::new();
    let h = &settings.heartbeat;
    if let Some(k) = &h.keepalive {
        plan.heartbeat.keepalive = *k.get_ref();
    }
    if let Some(d) = &h.deadtime {
        plan.heartbeat.deadtime = *d.get_ref();
    }
    let auth = h
        .mode
        .as_ref()
        .is_some_and(|m| *m.get_ref() == Mode::Authenticated);
    if auth && let Some(file) = &h.key_file {
        let key = match heartbeat::read_key(file.get_ref()) {
            Ok(key) => key,
            Err(e) => {
                errors.push(PlanError::Heartbeat(e));
                Default::default()
            }
        };
        let mut auth = heartbeat::pulse::Auth::new(key);
        auth.priority = h.priority.unwrap_or(100);
        auth.failback = h.failback.unwrap_or(false);
        auth.preempt_delay = h
            .preempt_delay
            .as_ref()
            .map_or_else(Default::default, |d| *d.get_ref());
        auth.node_id = h.node_id.as_ref().map(|n| *n.get_ref());
        auth.peer_node_id = h.peer_node_id.as_ref().map(|n| *n.get_ref());
        plan.heartbeat.auth = Some(auth);
    }
    let d = &settings.director;
    let words = |line: &Option<toml::Spanned<String>>| {
        line.as_ref().and_then(|l| shlex::split(l.get_ref()))
    };
    plan.operation = Operation {
        drain_timeout: d.drain_timeout.as_ref().map(|t| *t.get_ref()),
        table_when_active: d.table.map(|t| t == TableSetting::WhenActive),
        reconcile_interval: d.reconcile_interval.as_ref().map(|t| *t.get_ref()),
        socket: d.socket.clone(),
        control_group: d.control_group.clone(),
        metrics: d.metrics,
        address_probe: d.address_probe.as_ref().map(|t| *t.get_ref()),
        role_hook: words(&settings.hooks.role),
        server_hook: words(&settings.hooks.server),
        hook_timeout: settings.hooks.timeout.as_ref().map(|t| *t.get_ref()),
        track: track(&settings.track, &mut errors),
        track_threshold: settings.track.threshold.as_ref().map(|t| *t.get_ref()),
    };
    for service in &mut plan.services {
        if let Some(v) = settings.virtual_server(&service.name) {
            virtual_server(service, v, &mut errors);
        }
    }
    // IPv6: a service beside each IPv4 one that has an `ipv6` address, and the gateway.
    let mut services = Vec::new();
    for service in &plan.services {
        let Some(v) = settings.virtual_server(&service.name) else {
            continue;
        };
        let Some(on) = &v.ipv6 else { continue };
        plan.addresses.push(AddressPlan {
            address: on.address.into(),
            prefix: on.prefix,
            device: on.device.clone(),
            label: None,
            purpose: format!("virtual {} (IPv6)", service.name),
        });
        services.push(ipv6_service(service, v, on.address, &mut errors));
    }
    plan.services.extend(services);
    if let Some(on) = &settings.ipv6.nat_router {
        plan.addresses.push(AddressPlan {
            address: on.address.into(),
            prefix: on.prefix,
            device: on.device.clone(),
            label: None,
            purpose: "nat_router (IPv6)".into(),
        });
    }
    if settings.cluster.active_active() {
        active_active(plan, settings);
    }
    let _ = config;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The IPv6 twin of `service`: its key on `vip` (or its firewall mark for IPv6), and the real
/// servers that `v` gives an IPv6 address, checked the same way there.
fn ipv6_service(
    service: &ServicePlan,
    v: &crate::settings::VirtualSettings,
    vip: std::net::Ipv6Addr,
    errors: &mut Vec<PlanError>,
) -> ServicePlan {
    let mut twin = service.service.clone();
    twin.key = match service.service.key {
        ServiceKey::Addr { protocol, port, .. } => ServiceKey::Addr {
            protocol,
            addr: vip.into(),
            port,
        },
        ServiceKey::Fwmark { mark, .. } => ServiceKey::fwmark(Family::Inet6, mark),
    };
    if twin.netmask.is_some() {
        // Persistence per client address (lvs.cf's pmask is an IPv4 mask).
        twin.netmask = Some(128);
    }
    let mut servers = Vec::new();
    for r in &service.servers {
        let own = v.server.iter().find(|(key, _)| {
            let key = key.get_ref();
            *key == r.name || key.parse::<std::net::IpAddr>().ok() == Some(r.destination.addr)
        });
        let Some(ip) = own.and_then(|(_, s)| s.ipv6.as_ref()) else {
            continue;
        };
        let target = std::net::SocketAddr::new((*ip.get_ref()).into(), r.destination.port);
        // The same check: only its target changes.
        let probe = match r.probe.with_target(target) {
            Ok(probe) => probe,
            Err(e) => {
                errors.push(PlanError::Check(e));
                continue;
            }
        };
        let mut server = r.clone();
        server.destination.addr = target.ip();
        server.probe = probe;
        servers.push(server);
    }
    ServicePlan {
        name: service.name.clone(),
        vip: vip.into(),
        service: twin,
        servers,
        sorry: None,
        drain_timeout: service.drain_timeout,
    }
}

/// Active-active: the VIPs go on `lo` as host addresses (the router sends them here by the
/// announced route; no neighbour is told), and the VIPs are announced as `[cluster]` says.
fn active_active(plan: &mut Plan, settings: &Settings) {
    let c = &settings.cluster;
    let vips: std::collections::BTreeSet<std::net::IpAddr> =
        plan.services.iter().map(|s| s.vip).collect();
    for a in plan
        .addresses
        .iter_mut()
        .filter(|a| vips.contains(&a.address))
    {
        a.device = "lo".into();
        a.label = None;
        a.prefix = if a.address.is_ipv4() { 32 } else { 128 };
    }
    plan.cluster = Some(ClusterPlan {
        announce: c.announcer(),
        table: c
            .table
            .as_ref()
            .map_or(cluster::Routes::DEFAULT_TABLE, |t| *t.get_ref()),
        protocol: (c.protocol.as_ref()).map_or(cluster::Routes::DEFAULT_PROTOCOL, |p| *p.get_ref()),
    });
}

/// The trackers of `[track]` (checked by `Settings::check`).
fn track(t: &crate::settings::TrackSettings, errors: &mut Vec<PlanError>) -> Vec<TrackPlan> {
    let get = |d: &Option<toml::Spanned<std::time::Duration>>| d.as_ref().map(|d| *d.get_ref());
    let mut out = Vec::new();
    for i in &t.interface {
        out.push(TrackPlan {
            name: format!("interface {}", i.name),
            kind: TrackKind::Interface(i.name.clone()),
            interval: std::time::Duration::from_millis(500),
            fall: 1,
            weight: i.weight.unwrap_or(1),
        });
    }
    for g in &t.gateway {
        let interval = get(&g.interval).unwrap_or(std::time::Duration::from_secs(1));
        let probe = Probe::new(
            std::net::SocketAddr::new(g.address, 0),
            Check::Ping(healthcheck::PingCheck::default()),
            Binding::default(),
            Timeouts::both(get(&g.timeout).unwrap_or(interval)),
        );
        match probe {
            Err(e) => errors.push(PlanError::Check(e)),
            Ok(probe) => out.push(TrackPlan {
                name: format!("gateway {}", g.address),
                kind: TrackKind::Probe(probe),
                interval,
                fall: g.fall.as_ref().map_or(3, |f| *f.get_ref()),
                weight: g.weight.unwrap_or(1),
            }),
        }
    }
    for s in &t.script {
        let interval = get(&s.interval).unwrap_or(std::time::Duration::from_secs(2));
        let command = match healthcheck::CommandTemplate::parse(s.command.get_ref()) {
            Ok(command) => command,
            Err(e) => {
                errors.push(PlanError::Check(e));
                continue;
            }
        };
        let probe = Probe::new(
            std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
            Check::Program(healthcheck::ProgramCheck {
                command,
                expect: None,
            }),
            Binding::default(),
            Timeouts::both(get(&s.timeout).unwrap_or(interval)),
        );
        match probe {
            Err(e) => errors.push(PlanError::Check(e)),
            Ok(probe) => out.push(TrackPlan {
                name: format!("script {}", s.command.get_ref()),
                kind: TrackKind::Probe(probe),
                interval,
                fall: s.fall.as_ref().map_or(1, |f| *f.get_ref()),
                weight: s.weight.unwrap_or(1),
            }),
        }
    }
    out
}

fn virtual_server(
    service: &mut ServicePlan,
    v: &crate::settings::VirtualSettings,
    errors: &mut Vec<PlanError>,
) {
    if let Some(f) = v.forwarding {
        let forwarding = ipvs::lvscf::forwarding(f.network());
        for r in &mut service.servers {
            r.destination.forwarding = forwarding;
        }
        if let Some(sorry) = &mut service.sorry {
            sorry.forwarding = forwarding;
        }
    }
    if let Some(name) = &v.scheduler {
        service.service.scheduler = ipvs::Scheduler::from_name(name.get_ref());
    }
    for flag in &v.scheduler_flags {
        let flags = &mut service.service.flags;
        match flag.get_ref().split_once('-') {
            Some((_, "fallback")) => flags.sched_fallback = true,
            _ => flags.sched_port = true,
        }
    }
    service.drain_timeout = v.drain_timeout.as_ref().map(|t| *t.get_ref());
    for r in &mut service.servers {
        if let Some(n) = &v.rise {
            r.health.rise = *n.get_ref();
        }
        if let Some(n) = &v.fall {
            r.health.fall = *n.get_ref();
        }
        if let Some(http) = &v.http {
            let check = match http.get_ref().check() {
                Ok(check) => check,
                Err(e) => {
                    errors.push(PlanError::Check(e));
                    continue;
                }
            };
            let text = check.to_string();
            let timeouts = Timeouts::both(r.interval);
            match Probe::new(
                r.probe.target(),
                Check::Http(check),
                Binding::default(),
                timeouts,
            ) {
                Ok(probe) => {
                    r.probe = probe;
                    r.check = text;
                }
                Err(e) => errors.push(PlanError::Check(e)),
            }
        }
    }
}
