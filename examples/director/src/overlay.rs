//! The settings overlay applied to the plan lvs.cf describes (after [`Settings::check`]).

use healthcheck::{Binding, Check, Probe, Timeouts};
use ipvs::Forwarding;
use lvscf::Config;

use crate::Plan;
use crate::plan::{AuthPlan, Operation, ServicePlan, TrackKind, TrackPlan};
use crate::settings::{ForwardingSetting, Mode, Settings, TableSetting};

/// Changes `plan` as `settings` say; `settings` were checked against `config`.
pub(crate) fn apply(plan: &mut Plan, config: &Config, settings: &Settings) {
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
        // Checked by `Settings::check`; a file that changed since is left to the run's error.
        let key = heartbeat::read_key(file.get_ref()).unwrap_or_default();
        plan.heartbeat.auth = Some(AuthPlan {
            key,
            priority: h.priority.unwrap_or(100),
            failback: h.failback.unwrap_or(false),
            preempt_delay: h
                .preempt_delay
                .as_ref()
                .map_or_else(Default::default, |d| *d.get_ref()),
            node_id: h.node_id.as_ref().map(|n| *n.get_ref()),
            peer_node_id: h.peer_node_id.as_ref().map(|n| *n.get_ref()),
        });
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
        metrics: d.metrics,
        address_probe: d.address_probe.as_ref().map(|t| *t.get_ref()),
        role_hook: words(&settings.hooks.role),
        server_hook: words(&settings.hooks.server),
        track: track(&settings.track),
        track_threshold: settings.track.threshold.as_ref().map(|t| *t.get_ref()),
    };
    for service in &mut plan.services {
        if let Some(v) = settings.virtual_server(&service.name) {
            virtual_server(service, v);
        }
    }
    let _ = config;
}

/// The trackers of `[track]` (checked by `Settings::check`).
fn track(t: &crate::settings::TrackSettings) -> Vec<TrackPlan> {
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
        if let Ok(probe) = probe {
            out.push(TrackPlan {
                name: format!("gateway {}", g.address),
                kind: TrackKind::Probe(probe),
                interval,
                fall: g.fall.as_ref().map_or(3, |f| *f.get_ref()),
                weight: g.weight.unwrap_or(1),
            });
        }
    }
    for s in &t.script {
        let interval = get(&s.interval).unwrap_or(std::time::Duration::from_secs(2));
        let Ok(command) = healthcheck::CommandTemplate::parse(s.command.get_ref()) else {
            continue;
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
        if let Ok(probe) = probe {
            out.push(TrackPlan {
                name: format!("script {}", s.command.get_ref()),
                kind: TrackKind::Probe(probe),
                interval,
                fall: s.fall.as_ref().map_or(1, |f| *f.get_ref()),
                weight: s.weight.unwrap_or(1),
            });
        }
    }
    out
}

fn virtual_server(service: &mut ServicePlan, v: &crate::settings::VirtualSettings) {
    if let Some(f) = v.forwarding {
        let forwarding = match f {
            ForwardingSetting::Nat => Forwarding::Masquerade,
            ForwardingSetting::Direct => Forwarding::DirectRoute,
            ForwardingSetting::Tunnel => Forwarding::Tunnel {
                tun_type: Default::default(),
                tun_port: 0,
                csum: false,
                remcsum: false,
            },
        };
        for r in &mut service.servers {
            r.destination.forwarding = forwarding;
        }
        if let Some(sorry) = &mut service.sorry {
            sorry.forwarding = forwarding;
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
        if let Some(http) = &v.http
            && let Ok(check) = http.get_ref().check()
        {
            let text = describe(&check);
            let target = r.probe.target();
            // Checked by `Settings::check` against the same settings.
            if let Ok(probe) = Probe::new(
                target,
                Check::Http(check),
                Binding::default(),
                Timeouts::both(r.interval),
            ) {
                r.probe = probe;
                r.check = text;
            }
        }
    }
}

/// An HTTP check, for people.
fn describe(c: &healthcheck::HttpCheck) -> String {
    let mut text = format!(
        "{} {} {}",
        if c.tls.is_some() { "https" } else { "http" },
        c.method,
        c.path
    );
    text += &format!(" status {}", c.status);
    if let Some(e) = &c.body_expect {
        text += &format!(" expect {e}");
    }
    text
}
