//! Active-active mode (`[cluster] mode = "active-active"`) on the host, in virtual time: the
//! plan (VIPs on `lo`, both sync daemons, no heartbeat), the overlay's refusals at their line
//! and column, and the engine announcing a VIP while it can serve it: after the hold-down,
//! withdrawn when its real servers fail, when a tracker fails, when the operator holds the
//! director out, and when it stops.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::net::IpAddr;
use std::time::{Duration, Instant};

use arp_announce::takeover::Probe;
use director_core::control::Force;
use director_core::engine::{Choices, Engine, Input, Output};
use director_core::{Plan, Settings};
use healthcheck::EventKind;
use ipvs::environment::{Level, Machine};
use ipvs::{DaemonState, Table};

mod common;
use common::{down, up};

const DR: &str = include_str!("../../lvscf/tests/fixtures/seed/03-dr-primary.cf");
const NAT: &str = include_str!("../../lvscf/tests/fixtures/seed/01-nat-single-router.cf");
const CLUSTER: &str = "[cluster]\nmode = \"active-active\"\nhold_down = \"2s\"\n";
const VIP: [u8; 4] = [192, 168, 1, 250];
const A: [u8; 4] = [192, 168, 1, 111];
const B: [u8; 4] = [192, 168, 1, 222];

/// The DR seed with the sync daemon on, as an active-active site runs it.
fn dr() -> String {
    DR.replace(
        "network = direct\n",
        "network = direct\nsyncdaemon = 1\nsyncd_iface = eth1\nsyncd_id = 7\n",
    )
}

fn plan_with(cf: &str, overlay: &str) -> Result<Plan, Vec<String>> {
    let doc = lvscf::Document::parse(cf).unwrap();
    let settings = Settings::parse(overlay).map_err(|e| vec![e.to_string()])?;
    Plan::build_with(doc.config(), &settings, &|_| None)
        .map_err(|e| e.iter().map(ToString::to_string).collect())
}

fn plan(overlay: &str) -> Plan {
    plan_with(&dr(), overlay).unwrap()
}

/// The routes the outputs change: `(VIP, announced)`, in order.
fn routes(outputs: &[Output]) -> Vec<(IpAddr, bool)> {
    (outputs.iter())
        .filter_map(|o| match o {
            Output::Announce(vip) => Some((*vip, true)),
            Output::Withdraw { vip, .. } => Some((*vip, false)),
            _ => None,
        })
        .collect()
}

fn withdrawn_because(outputs: &[Output]) -> Vec<cluster::Reason> {
    (outputs.iter())
        .filter_map(|o| match o {
            Output::Withdraw { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

fn vip() -> IpAddr {
    IpAddr::from(VIP)
}

/// A started engine with both real servers up at `t0`, and the time its VIP is announced.
fn announced(overlay: &str) -> (Engine, Instant, Instant) {
    let mut e = Engine::new(plan(overlay), Choices::default(), true);
    let _ = e.start(&Table::default());
    let t0 = Instant::now();
    assert!(routes(&e.handle(t0, Input::Timer)).is_empty());
    let _ = e.handle(t0, up(A));
    let _ = e.handle(t0, up(B));
    let due = e.poll_timeout().expect("the hold-down runs");
    assert_eq!(routes(&e.handle(due, Input::Timer)), [(vip(), true)]);
    (e, t0, due)
}

#[test]
fn the_plan_holds_the_vips_on_lo_runs_both_sync_daemons_and_no_heartbeat() {
    let p = plan(CLUSTER);
    let c = p.cluster.as_ref().expect("active-active");
    assert_eq!((c.table, c.protocol), (250, 250));
    assert_eq!(c.announce.hold_down, Duration::from_secs(2));
    let vip = &p.addresses[0];
    assert_eq!(
        (vip.address, vip.prefix, vip.device.as_str()),
        (self::vip(), 32, "lo")
    );
    assert_eq!(vip.label, None, "lvs.cf's eth0:1 is not where the VIP goes");
    let shown = p.to_string();
    assert!(
        shown.contains("cluster: active-active, no heartbeat"),
        "{shown}"
    );
    assert!(
        shown.contains("sync daemon: master and backup at once, on eth1, id 7"),
        "{shown}"
    );
    assert!(shown.contains("192.168.1.250/32 dev lo"), "{shown}");

    // The engine ignores the peer that lvs.cf names: it is active at once, on every director.
    let mut e = Engine::new(p, Choices::default(), true);
    let out = e.start(&Table::default());
    assert!(e.is_active());
    assert!(!out.iter().any(|o| matches!(o, Output::Heartbeat(_))));
    let take = out.iter().find_map(|o| match o {
        Output::Take {
            addresses, probe, ..
        } => Some((addresses.clone(), *probe)),
        _ => None,
    });
    let (addresses, probe) = take.expect("the VIPs are held");
    assert_eq!(addresses[0].device, "lo");
    assert_eq!(probe, Probe::First(Duration::ZERO), "nobody to probe on lo");
    let daemons: Vec<DaemonState> = out
        .iter()
        .find_map(|o| match o {
            Output::SyncDaemons(d) => Some(d.iter().map(|d| d.state).collect()),
            _ => None,
        })
        .expect("the sync daemons");
    assert_eq!(daemons, [DaemonState::Master, DaemonState::Backup]);
    assert!(
        !e.leaving(false, false).release_addresses,
        "kept for a restart"
    );
}

#[test]
fn a_vip_is_announced_after_its_hold_down_and_withdrawn_when_its_servers_fail() {
    let mut e = Engine::new(plan(CLUSTER), Choices::default(), false);
    let _ = e.start(&Table::default());
    let t0 = Instant::now();
    assert!(routes(&e.handle(t0, Input::Timer)).is_empty());
    assert_eq!(
        e.poll_timeout(),
        None,
        "nothing to serve with: no hold-down"
    );
    let t1 = t0 + Duration::from_secs(1);
    assert!(routes(&e.handle(t1, up(A))).is_empty(), "held down first");
    assert_eq!(e.poll_timeout(), Some(t1 + Duration::from_secs(2)));
    assert!(routes(&e.handle(t1 + Duration::from_millis(1999), Input::Timer)).is_empty());
    let out = e.handle(t1 + Duration::from_secs(2), Input::Timer);
    assert_eq!(routes(&out), [(vip(), true)]);
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Log(l) if l == "director: announcing VIP 192.168.1.250"))
    );
    assert_eq!(e.announced(), [vip()]);
    let status = e.status(&director_core::Live::new(false));
    assert_eq!(status.node, "active-active");
    let metrics = e.metrics(&director_core::Live::new(false));
    assert!(
        metrics.contains("lvs_director_vip_announced{vip=\"192.168.1.250\"} 1\n"),
        "{metrics}"
    );
    assert_eq!(status.announced, Some(vec!["192.168.1.250".to_string()]));
    assert!(
        status.render().contains("announced: 192.168.1.250\n"),
        "{}",
        status.render()
    );

    // One server of two fails: it still serves. The last one fails: withdrawn at once, the
    // table and the VIP on lo kept (established flows go on while the router moves).
    let t2 = t1 + Duration::from_secs(10);
    assert!(routes(&e.handle(t2, up(B))).is_empty());
    assert!(routes(&e.handle(t2, down(A))).is_empty());
    let out = e.handle(t2, down(B));
    assert_eq!(routes(&out), [(vip(), false)]);
    assert_eq!(
        withdrawn_because(&out),
        [cluster::Reason::TooFewHealthy { best: 0, needed: 1 }]
    );
    assert!(!out.iter().any(|o| matches!(o, Output::Release { .. })));
    assert!(e.announced().is_empty());
    let metrics = e.metrics(&director_core::Live::new(false));
    assert!(
        metrics.contains("lvs_director_vip_announced{vip=\"192.168.1.250\"} 0\n"),
        "{metrics}"
    );
    // Back within a minute of its announcement: a flap, so the hold-down doubled.
    let t3 = t2 + Duration::from_secs(1);
    let _ = e.handle(t3, up(A));
    assert_eq!(e.poll_timeout(), Some(t3 + Duration::from_secs(4)));
    assert_eq!(
        routes(&e.handle(t3 + Duration::from_secs(4), Input::Timer)),
        [(vip(), true)]
    );
}

#[test]
fn a_failing_tracker_withdraws_without_giving_up_the_vips_and_so_does_the_operator() {
    let overlay = format!("{CLUSTER}[[track.interface]]\nname = \"eth9\"\n");
    let (mut e, _, due) = announced(&overlay);
    let t = due + Duration::from_secs(120);
    let out = e.handle(
        t,
        Input::Tracker {
            index: 0,
            kind: EventKind::Down { quiesce: false },
            reason: "eth9 is down".into(),
        },
    );
    assert_eq!(withdrawn_because(&out), [cluster::Reason::Unfit]);
    assert!(e.is_active(), "every director serves what reaches it");
    assert!(
        !out.iter()
            .any(|o| matches!(o, Output::Release { .. } | Output::SyncDaemons(_)))
    );
    let back = e.handle(
        t,
        Input::Tracker {
            index: 0,
            kind: EventKind::Up { weight: 1 },
            reason: "eth9 is up".into(),
        },
    );
    assert!(routes(&back).is_empty(), "held down again");
    let due = e.poll_timeout().unwrap();
    assert_eq!(routes(&e.handle(due, Input::Timer)), [(vip(), true)]);

    // The operator holds the director out for maintenance, then gives it back.
    let t = due + Duration::from_secs(120);
    let out = e.handle(t, Input::Force(Force::Standby));
    assert_eq!(withdrawn_because(&out), [cluster::Reason::Unfit]);
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Reply(r) if r.ok && r.message.contains("held out")))
    );
    assert!(e.is_active());
    // Healthy servers do not bring it back while held out.
    assert!(routes(&e.handle(t + Duration::from_secs(60), up(B))).is_empty());
    assert_eq!(e.poll_timeout(), None);
    let _ = e.handle(t + Duration::from_secs(60), Input::Force(Force::Auto));
    let due = e.poll_timeout().unwrap();
    assert_eq!(routes(&e.handle(due, Input::Timer)), [(vip(), true)]);

    // Stopping withdraws first.
    let out = e.stopping();
    assert_eq!(routes(&out), [(vip(), false)]);
    assert_eq!(withdrawn_because(&out), [cluster::Reason::Stopping]);
}

#[test]
fn reloads_keep_the_mode_and_a_service_removed_withdraws_its_vip() {
    let (mut e, _, due) = announced(CLUSTER);
    // Switching modes needs a restart: the running plan is kept.
    let out = e.handle(due, Input::Reload(Box::new(plan(""))));
    assert!(out.iter().any(
        |o| matches!(o, Output::Reply(r) if !r.ok && r.message.contains("[cluster] mode changed"))
    ));
    assert!(e.plan().cluster.is_some());
    assert_eq!(e.announced(), [vip()]);

    // A reload without the virtual server: its VIP has no service left.
    let cf = dr().replace(
        "     active = 1\n     address = 192.168.1.250",
        "     active = 0\n     address = 192.168.1.250",
    );
    let empty = plan_with(&cf, CLUSTER).unwrap();
    assert!(empty.services.is_empty());
    let out = e.handle(due + Duration::from_secs(1), Input::Reload(Box::new(empty)));
    assert_eq!(withdrawn_because(&out), [cluster::Reason::Removed]);
}

#[test]
fn the_overlay_refuses_nat_and_the_kernels_tables_at_their_place() {
    // The seed's NAT file without its NAT router address (refused too: below).
    let nat = NAT.replace("nat_router = 10.0.0.254 eth1:1\n", "");
    assert_ne!(nat, NAT);
    let errors = plan_with(&nat, CLUSTER).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("2:8: virtual HTTP: NAT (masquerading) cannot run active-active"),
        "{errors:?}"
    );
    // The overlay's own forwarding wins over lvs.cf's network.
    let direct = format!("{CLUSTER}[virtual.HTTP]\nforwarding = \"direct\"\n");
    assert!(plan_with(&nat, &direct).is_ok());
    let bad = "[cluster]\nmode = \"active-active\"\ntable = 254\nprotocol = 2\nmin_healthy = 0\n";
    let errors = plan_with(&dr(), bad).unwrap_err();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors[0].starts_with("3:9: table: 0, 253 (default), 254 (main)"),
        "{errors:?}"
    );
    assert!(
        errors[1].starts_with("4:12: protocol: 0 to 4 are the kernel's"),
        "{errors:?}"
    );
    assert!(
        errors[2].starts_with("5:15: cluster settings: min_healthy must be at least 1"),
        "{errors:?}"
    );
    let unknown = plan_with(&dr(), "[cluster]\nmode = \"active-passive\"\n").unwrap_err();
    assert!(
        unknown[0].starts_with("2:8: unknown variant `active-passive`"),
        "{unknown:?}"
    );
    // A NAT router address cannot be every director's at once.
    let with_router = dr().replace(
        "network = direct\n",
        "network = direct\nnat_router = 10.0.0.254 eth1:1\n",
    );
    let errors = plan_with(&with_router, CLUSTER).unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("nat_router cannot be taken over in active-active mode")),
        "{errors:?}"
    );
    // Active-standby is the default, and says nothing of NAT.
    assert!(
        plan_with(NAT, "[cluster]\nmode = \"active-standby\"\n")
            .unwrap()
            .cluster
            .is_none()
    );
}

struct Sysctls(&'static str);

impl Machine for Sysctls {
    fn sysctl(&self, name: &str) -> Option<String> {
        match name {
            "net/ipv4/vs/sloppy_tcp" => Some(self.0.into()),
            _ => Some("1".into()),
        }
    }
    fn firewall(&self) -> Option<String> {
        None
    }
}

#[test]
fn the_environment_check_warns_of_what_active_active_needs() {
    let warnings = |cf: &str, overlay: &str, sloppy| {
        let p = plan_with(cf, &format!("{CLUSTER}{overlay}")).unwrap();
        (p.environment(&Sysctls(sloppy)).into_iter())
            .filter(|f| f.level == Level::Warning)
            .map(|f| f.message)
            .collect::<Vec<_>>()
    };
    let found = warnings(&dr(), "", "0");
    assert!(
        found.iter().any(|m| m.contains("scheduler wlc")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|m| m.contains("sloppy_tcp = 0")),
        "{found:?}"
    );
    // lvs.cf knows Piranha's eight schedulers; the overlay gives the kernel's others.
    let mh = "[virtual.HTTP]\nscheduler = \"mh\"\nscheduler_flags = [\"mh-port\"]\n";
    let found = warnings(&dr(), mh, "1");
    assert!(
        !found
            .iter()
            .any(|m| m.contains("scheduler") || m.contains("sloppy")),
        "{found:?}"
    );
    let found = warnings(DR, "", "1");
    assert!(
        found.iter().any(|m| m.contains("without `syncdaemon = 1`")),
        "{found:?}"
    );
}

#[test]
fn the_overlay_gives_the_kernels_schedulers_and_their_flags() {
    let overlay =
        "[virtual.HTTP]\nscheduler = \"mh\"\nscheduler_flags = [\"mh-fallback\", \"mh-port\"]\n";
    let p = plan_with(&dr(), overlay).unwrap();
    let service = &p.services[0].service;
    assert_eq!(service.scheduler, ipvs::Scheduler::MaglevHashing);
    assert!(service.flags.sched_fallback && service.flags.sched_port);
    let errors = plan_with(
        &dr(),
        "[virtual.HTTP]\nscheduler = \"maglev\"\nscheduler_flags = [\"sh-port\"]\n",
    )
    .unwrap_err();
    assert!(
        errors[0].starts_with("2:13: unknown scheduler `maglev`"),
        "{errors:?}"
    );
    assert!(
        errors[1].starts_with("3:20: scheduler flag `sh-port` does not go with scheduler maglev"),
        "{errors:?}"
    );
    // lvs.cf's scheduler counts when the overlay names none.
    let errors = plan_with(&dr(), "[virtual.HTTP]\nscheduler_flags = [\"mh-port\"]\n").unwrap_err();
    assert!(
        errors[0].contains("does not go with scheduler wlc"),
        "{errors:?}"
    );
}
