//! The director's engine on the host, in virtual time: the seed's NAT and DR deployments
//! started, real servers going up and down, a failover, reloads (one that drains, one that is
//! invalid), the operator draining a server, a restart that adopts what the kernel has, and
//! property tests over random event sequences. No kernel, no socket, no clock: the engine is
//! fed inputs and its outputs are checked.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use arp_announce::takeover::Probe;
use director_core::Plan;
use director_core::control::{Admin, Force};
use director_core::engine::{Choices, Engine, Input, Output};
use healthcheck::EventKind;
use heartbeat::{RoleAction, RoleChange};
use ipvs::{Destination, Forwarding, Service, Table, VirtualServer};
use proptest::prelude::*;

mod common;
use common::{down, server, up, verdict, vip_service};

const NAT_ALONE: &str = include_str!("../../lvscf/tests/fixtures/seed/01-nat-single-router.cf");
const NAT_PAIR: &str =
    include_str!("../../lvscf/tests/fixtures/seed/02-nat-with-backup-as-published.cf");
const DR: &str = include_str!("../../lvscf/tests/fixtures/seed/03-dr-primary.cf");

fn plan(text: &str) -> Plan {
    let doc = lvscf::Document::parse(text).expect("the seed parses");
    Plan::build(doc.config(), &|_| None).expect("the seed plans")
}

/// The seed with the real server `address` removed from `virtual HTTP`.
fn without(text: &str, address: &str) -> String {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let block = lines[i].trim_start().starts_with("server ")
            && lines[i + 1].contains(&format!("address = {address}"));
        if block {
            while !lines[i].trim().starts_with('}') {
                i += 1;
            }
        } else {
            out.push(lines[i]);
        }
        i += 1;
    }
    out.join("\n") + "\n"
}

fn role(action: RoleAction, reason: heartbeat::Reason, seq: u64) -> Input {
    Input::Role(RoleChange {
        action,
        reason,
        at: SystemTime::UNIX_EPOCH,
        seq,
        peer_heard: true,
    })
}

/// The real servers of the last table output, with their weights.
fn last_table(outputs: &[Output]) -> Option<Vec<(IpAddr, u32)>> {
    outputs.iter().rev().find_map(|o| match o {
        Output::Table(t) => Some(weights(t)),
        _ => None,
    })
}

fn weights(t: &Table) -> Vec<(IpAddr, u32)> {
    t.services
        .iter()
        .flat_map(|vs| vs.destinations.iter().map(|d| (d.addr, d.weight)))
        .collect()
}

fn logs(outputs: &[Output]) -> Vec<&str> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Log(l) => Some(l.as_str()),
            _ => None,
        })
        .collect()
}

fn reply(outputs: &[Output]) -> Option<(bool, &str)> {
    outputs.iter().find_map(|o| match o {
        Output::Reply(r) => Some((r.ok, r.message.as_str())),
        _ => None,
    })
}

fn takes(outputs: &[Output]) -> usize {
    (outputs.iter())
        .filter(|o| matches!(o, Output::Take { report: true, .. }))
        .count()
}

fn releases(outputs: &[Output]) -> usize {
    (outputs.iter())
        .filter(|o| matches!(o, Output::Release { keep } if keep.is_empty()))
        .count()
}

const A: [u8; 4] = [10, 0, 0, 100];
const B: [u8; 4] = [10, 0, 0, 200];

#[test]
fn a_nat_router_alone_starts_active_and_admits_servers_after_their_first_check() {
    let mut e = Engine::new(plan(NAT_ALONE), Choices::default(), false);
    let out = e.start(&Table::default());
    // The table has the service and no real server yet: they enter after a check passes.
    assert_eq!(last_table(&out), Some(vec![]));
    assert!(matches!(
        &out[..],
        [
            Output::Table(_),
            Output::Run {
                what: "inactive_cmd",
                ..
            },
            ..
        ]
    ));
    let checks = out.iter().find_map(|o| match o {
        Output::Checks { remove, add } => Some((remove.len(), add.len())),
        _ => None,
    });
    assert_eq!(checks, Some((0, 2)), "one check per real server");
    assert!(logs(&out).contains(&"director: ACTIVE (standalone: no backup to hear from)"));
    assert_eq!(
        takes(&out),
        1,
        "the router alone takes its addresses at once"
    );
    let take = out.iter().find_map(|o| match o {
        Output::Take { addresses, .. } => Some(addresses.clone()),
        _ => None,
    });
    let taken: Vec<String> = take.unwrap().iter().map(|a| a.to_string()).collect();
    assert_eq!(taken, ["10.0.0.254/16 on eth1", "192.168.1.250/24 on eth0"]);
    assert!(e.is_active());

    let t0 = Instant::now();
    let out = e.handle(t0, up(A));
    assert_eq!(last_table(&out), Some(vec![(A.into(), 1)]));
    assert_eq!(
        logs(&out),
        ["director: [ active ] 10.0.0.100:80 up weight 1: HTTP"]
    );
    let out = e.handle(t0, up(B));
    assert_eq!(last_table(&out), Some(vec![(A.into(), 1), (B.into(), 1)]));
    let out = e.handle(t0, down(A));
    assert_eq!(last_table(&out), Some(vec![(B.into(), 1)]));
    assert!(logs(&out)[0].starts_with("director: [inactive] 10.0.0.100:80 down"));
}

#[test]
fn a_failover_takes_the_addresses_and_standing_down_gives_them_back() {
    let mut e = Engine::new(plan(NAT_PAIR), Choices::default(), true);
    let out = e.start(&Table::default());
    assert_eq!(takes(&out), 0, "with a peer, the heartbeat decides");
    assert!(!e.is_active());
    let out = e.started();
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Status(s) if s == "standby (startup)"))
    );

    let t0 = Instant::now();
    let out = e.handle(
        t0,
        role(RoleAction::BecomeActive, heartbeat::Reason::PeerDead, 1),
    );
    assert_eq!(logs(&out)[0], "director: ACTIVE (peer-dead)");
    assert_eq!(takes(&out), 1);
    assert!(e.is_active());
    // The peer comes back active too and we stay: the addresses are announced again, not
    // taken a second time.
    let out = e.handle(
        t0,
        role(RoleAction::Reannounce, heartbeat::Reason::SplitBrain, 2),
    );
    assert_eq!(takes(&out), 0);
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Take { report: false, .. }))
    );
    let out = e.handle(
        t0,
        role(RoleAction::BecomeStandby, heartbeat::Reason::Preempt, 3),
    );
    assert_eq!(releases(&out), 1);
    assert!(logs(&out).contains(&"director: released the addresses"));
    assert!(!e.is_active());
}

/// How the first `Take` of `outputs` probes.
fn probe_of(outputs: &[Output]) -> Option<Probe> {
    outputs.iter().find_map(|o| match o {
        Output::Take { probe, .. } => Some(*probe),
        _ => None,
    })
}

#[test]
fn a_takeover_from_a_peer_known_dead_claims_at_once_and_a_cold_start_probes_first() {
    let wait = arp_announce::takeover::DEFAULT_PROBE;
    let t0 = Instant::now();
    // A cold start: the peer was never heard, its deadtime after start passes.
    let mut e = Engine::new(plan(NAT_PAIR), Choices::default(), true);
    let _ = e.start(&Table::default());
    let _ = e.started();
    let mut cold = role(RoleAction::BecomeActive, heartbeat::Reason::PeerDead, 1);
    if let Input::Role(change) = &mut cold {
        change.peer_heard = false;
    }
    assert_eq!(probe_of(&e.handle(t0, cold)), Some(Probe::First(wait)));

    // The peer was heard, then died or resigned: add and announce at once, probe meanwhile.
    for reason in [heartbeat::Reason::PeerDead, heartbeat::Reason::PeerResigned] {
        let mut e = Engine::new(plan(NAT_PAIR), Choices::default(), true);
        let _ = e.start(&Table::default());
        let _ = e.started();
        let out = e.handle(t0, role(RoleAction::BecomeActive, reason, 1));
        assert_eq!(probe_of(&out), Some(Probe::Alongside(wait)), "{reason}");
    }
    // The operator forcing the role proves nothing about the addresses: probe first.
    let mut e = Engine::new(plan(NAT_PAIR), Choices::default(), true);
    let _ = e.start(&Table::default());
    let _ = e.started();
    let out = e.handle(
        t0,
        role(RoleAction::BecomeActive, heartbeat::Reason::Operator, 1),
    );
    assert_eq!(probe_of(&out), Some(Probe::First(wait)));
}

#[test]
fn a_reload_drains_a_removed_server_until_its_connections_are_gone() {
    let mut e = Engine::new(plan(NAT_ALONE), Choices::default(), false);
    e.start(&Table::default());
    let t0 = Instant::now();
    e.handle(t0, up(A));
    e.handle(t0, up(B));

    let out = e.handle(
        t0,
        Input::Reload(Box::new(plan(&without(NAT_ALONE, "10.0.0.200")))),
    );
    // B stays at weight 0 while it drains; its check stops.
    assert_eq!(last_table(&out), Some(vec![(A.into(), 1), (B.into(), 0)]));
    let stopped = out.iter().find_map(|o| match o {
        Output::Checks { remove, .. } => Some(remove.clone()),
        _ => None,
    });
    assert_eq!(stopped, Some(vec![server(B)]));
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Reloaded {
            services: 1,
            added: 0,
            removed: 0,
            draining: 1
        }
    )));
    // Connections remain: it goes on draining.
    let busy = HashMap::from([(server(B), Some(3))]);
    assert!(
        e.handle(t0 + Duration::from_secs(1), Input::DrainCounts(busy))
            .is_empty()
    );
    // They are gone: it leaves.
    let idle = HashMap::from([(server(B), Some(0))]);
    let out = e.handle(t0 + Duration::from_secs(2), Input::DrainCounts(idle));
    assert_eq!(last_table(&out), Some(vec![(A.into(), 1)]));
    assert_eq!(
        logs(&out),
        ["director: drained 10.0.0.200:80 (no active connection left)"]
    );
    assert!(e.draining_services().is_empty());
}

#[test]
fn a_drain_ends_at_its_timeout_with_connections_left() {
    let choices = Choices {
        drain_timeout: Some(Duration::from_secs(60)),
        ..Choices::default()
    };
    let mut e = Engine::new(plan(NAT_ALONE), choices, false);
    e.start(&Table::default());
    let t0 = Instant::now();
    e.handle(t0, up(B));
    e.handle(
        t0,
        Input::Reload(Box::new(plan(&without(NAT_ALONE, "10.0.0.200")))),
    );
    let busy = || HashMap::from([(server(B), Some(2))]);
    assert!(
        e.handle(t0 + Duration::from_secs(59), Input::DrainCounts(busy()))
            .is_empty()
    );
    let out = e.handle(t0 + Duration::from_secs(60), Input::DrainCounts(busy()));
    assert_eq!(
        logs(&out),
        ["director: drained 10.0.0.200:80 (drain timeout, 2 active connections dropped)"]
    );
}

#[test]
fn an_invalid_reload_changes_nothing_and_says_why() {
    let mut e = Engine::new(plan(NAT_ALONE), Choices::default(), false);
    e.start(&Table::default());
    let t0 = Instant::now();
    e.handle(t0, up(A));
    let before = e.table();
    let problems = vec!["lvs.cf:3:1: error: unknown key `bogus`".to_string()];
    let out = e.handle(t0, Input::ReloadFailed(problems));
    assert!(!out.iter().any(|o| matches!(o, Output::Table(_))));
    assert_eq!(e.table(), before);
    let (ok, message) = reply(&out).expect("an answer");
    assert!(!ok && message.contains("unknown key `bogus`"), "{message}");
    assert_eq!(e.counts().reload_failures, 1);
}

#[test]
fn a_flapping_server_is_logged_a_few_times_then_summed_up_while_every_change_applies() {
    use director_core::flaps::{FLAP_WINDOW, LOGGED_CHANGES};
    let mut e = Engine::new(plan(NAT_ALONE), Choices::default(), false);
    e.start(&Table::default());
    let t0 = Instant::now();
    e.handle(t0, up(B));
    assert_eq!(e.poll_timeout(), None);
    // A flips every 100 ms for 50 s: 500 changes.
    let mut lines = Vec::new();
    let mut tables = 0;
    let mut hooks = 0;
    for i in 0..500u32 {
        let now = t0 + Duration::from_millis(100 * u64::from(i));
        let out = e.handle(now, if i % 2 == 0 { up(A) } else { down(A) });
        tables += out.iter().filter(|o| matches!(o, Output::Table(_))).count();
        hooks += (out.iter())
            .filter(|o| {
                matches!(
                    o,
                    Output::Run {
                        what: "the server hook",
                        ..
                    }
                )
            })
            .count();
        lines.extend(logs(&out).into_iter().map(String::from));
        // The table follows every change.
        let up = e.table().services[0].destinations.len() == 2;
        assert_eq!(up, i % 2 == 0, "change {i}");
    }
    assert_eq!((tables, hooks), (500, 500));
    assert_eq!(lines.len(), LOGGED_CHANGES as usize + 1, "{lines:#?}");
    assert!(
        lines[LOGGED_CHANGES as usize].contains("10.0.0.100:80 flaps"),
        "{lines:#?}"
    );
    // At the end of the window, one line: the state then, and how many were not logged.
    let due = e.poll_timeout().expect("a summary is due");
    assert_eq!(due, t0 + FLAP_WINDOW);
    assert!(
        e.handle(due - Duration::from_millis(1), Input::Timer)
            .is_empty()
    );
    let out = e.handle(due, Input::Timer);
    assert_eq!(
        logs(&out),
        [format!(
            "director: [inactive] 10.0.0.100:80 down: connection refused (now; {} changes in the \
             last 60s were not logged one by one)",
            500 - LOGGED_CHANGES
        )]
    );
    assert_eq!(e.poll_timeout(), None);
    // A later change starts a new window: logged again.
    let out = e.handle(due + Duration::from_secs(1), up(A));
    assert_eq!(logs(&out).len(), 1);
    // B, which did not flap, was never held back.
    let out = e.handle(due + Duration::from_secs(1), down(B));
    assert!(
        logs(&out)[0].contains("10.0.0.200:80 down"),
        "{:?}",
        logs(&out)
    );
}

#[test]
fn the_operator_drains_disables_and_enables_a_server() {
    let mut e = Engine::new(plan(DR), Choices::default(), true);
    e.start(&Table::default());
    let t0 = Instant::now();
    let a = [192, 168, 1, 111];
    e.handle(t0, verdict(a, EventKind::Up { weight: 1 }));
    let admin = |action| Input::Admin {
        action,
        virtual_server: "HTTP".into(),
        server: "192.168.1.111".into(),
    };
    let out = e.handle(t0, admin(Admin::Drain));
    assert_eq!(last_table(&out), Some(vec![(a.into(), 0)]));
    assert_eq!(
        reply(&out),
        Some((
            true,
            "virtual HTTP server localhost.localdomain (192.168.1.111:80): drained by the operator"
        ))
    );
    let out = e.handle(t0, admin(Admin::Disable));
    assert_eq!(last_table(&out), Some(vec![]));
    let out = e.handle(t0, admin(Admin::Enable));
    assert_eq!(last_table(&out), Some(vec![(a.into(), 1)]));
    // Two servers share the seed's name: a name alone is ambiguous, and an unknown one is named.
    let out = e.handle(
        t0,
        Input::Admin {
            action: Admin::Drain,
            virtual_server: "HTTP".into(),
            server: "localhost.localdomain".into(),
        },
    );
    assert_eq!(
        reply(&out),
        Some((
            false,
            "virtual HTTP has 2 real servers named `localhost.localdomain`: give its address"
        ))
    );
    let out = e.handle(
        t0,
        Input::Admin {
            action: Admin::Drain,
            virtual_server: "MAIL".into(),
            server: "x".into(),
        },
    );
    assert_eq!(
        reply(&out),
        Some((false, "no virtual server `MAIL` is running"))
    );
    // DR real servers are routed directly.
    let forwarding: Vec<Forwarding> = (e.table().services.iter())
        .flat_map(|vs| vs.destinations.iter().map(|d| d.forwarding))
        .collect();
    assert_eq!(forwarding, [Forwarding::DirectRoute]);
}

#[test]
fn a_restart_adopts_the_servers_the_kernel_has() {
    let mut e = Engine::new(plan(NAT_ALONE), Choices::default(), false);
    let observed = Table {
        services: vec![VirtualServer {
            service: Service::new(vip_service()),
            destinations: vec![
                Destination::new(A.into(), 80).with_weight(1),
                Destination::new(B.into(), 80).with_weight(0),
            ],
        }],
    };
    let out = e.start(&observed);
    // Both stay in (B quiesced, as the kernel had it) until a check says otherwise.
    assert_eq!(
        last_table(&out[..1]),
        Some(vec![(A.into(), 1), (B.into(), 0)])
    );
    let out = e.handle(Instant::now(), down(A));
    assert_eq!(last_table(&out), Some(vec![(B.into(), 0)]));
}

#[test]
fn a_router_alone_follows_a_forced_role() {
    let mut e = Engine::new(plan(NAT_ALONE), Choices::default(), false);
    e.start(&Table::default());
    let out = e.handle(Instant::now(), Input::Force(Force::Standby));
    assert_eq!(releases(&out), 1);
    assert_eq!(reply(&out), Some((true, "forced standby")));
    let out = e.handle(Instant::now(), Input::Force(Force::Auto));
    assert_eq!(takes(&out), 1);
}

/// A random event for the property tests.
#[derive(Debug, Clone)]
enum Step {
    Up(usize),
    Down(usize),
    Role(RoleAction),
    Reload(bool),
    Drained(usize),
    Admin(usize, Admin),
    Force(Force),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0usize..2).prop_map(Step::Up),
        (0usize..2).prop_map(Step::Down),
        prop_oneof![
            Just(RoleAction::BecomeActive),
            Just(RoleAction::BecomeStandby),
            Just(RoleAction::Reannounce)
        ]
        .prop_map(Step::Role),
        any::<bool>().prop_map(Step::Reload),
        (0usize..2).prop_map(Step::Drained),
        (
            0usize..2,
            prop_oneof![
                Just(Admin::Drain),
                Just(Admin::Disable),
                Just(Admin::Enable)
            ]
        )
            .prop_map(|(i, a)| Step::Admin(i, a)),
        prop_oneof![Just(Force::Active), Just(Force::Standby), Just(Force::Auto)]
            .prop_map(Step::Force),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever happens: never two takeovers without a release between them; a real server
    /// that left the file, once drained, is never in a table again until a reload brings it
    /// back; and the table always has exactly the plan's service.
    #[test]
    fn takeovers_alternate_and_removed_servers_stay_out(
        steps in proptest::collection::vec(step(), 1..60),
        with_peer in any::<bool>(),
    ) {
        let full = plan(NAT_PAIR);
        let smaller = plan(&without(NAT_PAIR, "10.0.0.200"));
        let servers = [A, B];
        let mut e = Engine::new(full.clone(), Choices::default(), with_peer);
        let mut holding = false;
        let check = |out: &[Output], holding: &mut bool| -> Result<(), TestCaseError> {
            for o in out {
                match o {
                    Output::Take { report: true, .. } => {
                        prop_assert!(!*holding, "a second takeover without a release");
                        *holding = true;
                    }
                    Output::Release { keep } if keep.is_empty() => *holding = false,
                    _ => {}
                }
            }
            Ok(())
        };
        check(&e.start(&Table::default()), &mut holding)?;
        let t0 = Instant::now();
        let mut seq = 0;
        let mut in_file = true;
        let mut gone = false;
        for (i, s) in steps.into_iter().enumerate() {
            let now = t0 + Duration::from_secs(i as u64);
            let input = match s {
                Step::Up(k) => up(servers[k]),
                Step::Down(k) => down(servers[k]),
                Step::Role(action) => {
                    seq += 1;
                    role(action, heartbeat::Reason::PeerDead, seq)
                }
                Step::Reload(keep_b) => {
                    in_file = keep_b;
                    if keep_b {
                        gone = false;
                    }
                    Input::Reload(Box::new(if keep_b { full.clone() } else { smaller.clone() }))
                }
                Step::Drained(k) => {
                    Input::DrainCounts(HashMap::from([(server(servers[k]), Some(0))]))
                }
                Step::Admin(k, action) => Input::Admin {
                    action,
                    virtual_server: "HTTP".into(),
                    server: IpAddr::from(servers[k]).to_string(),
                },
                Step::Force(role) => Input::Force(role),
            };
            let out = e.handle(now, input);
            check(&out, &mut holding)?;
            let draining: BTreeSet<_> = e.desired().draining().iter().map(|d| d.key()).collect();
            if !in_file && !draining.contains(&server(B)) {
                gone = true;
            }
            for o in &out {
                if let Output::Table(t) = o {
                    let addrs: Vec<IpAddr> = weights(t).into_iter().map(|(a, _)| a).collect();
                    if gone {
                        prop_assert!(!addrs.contains(&IpAddr::from(B)), "a removed server came back: {addrs:?}");
                    }
                    prop_assert!(t.services.len() <= 1);
                }
            }
        }
    }
}

#[test]
fn a_lone_router_follows_its_trackers_and_a_reload_that_drops_them_stops_them() {
    let doc = lvscf::Document::parse(NAT_ALONE).expect("the seed parses");
    let settings = director_core::Settings::parse("[[track.interface]]\nname = \"eth9\"\n")
        .expect("the overlay parses");
    let tracked = Plan::build_with(doc.config(), &settings, &|_| None).expect("plans");
    let mut e = Engine::new(tracked.clone(), Choices::default(), false);
    let out = e.start(&Table::default());
    let trackers = |out: &[Output]| {
        out.iter().find_map(|o| match o {
            Output::Trackers(t) => Some(t.len()),
            _ => None,
        })
    };
    assert_eq!(trackers(&out), Some(1));
    assert!(e.is_active());
    let t0 = Instant::now();
    let out = e.handle(
        t0,
        Input::Tracker {
            index: 0,
            kind: EventKind::Down { quiesce: false },
            reason: "interface eth9 is down".into(),
        },
    );
    assert_eq!(
        logs(&out)[..2],
        [
            "director: track: interface eth9 fails: interface eth9 is down",
            "director: unfit: failing weight 1 of threshold 1: stepping down",
        ]
    );
    assert_eq!(releases(&out), 1, "unfit: it stands down");
    assert!(!e.is_active());
    // The tracker leaves the overlay: it is stopped, the router is fit again and takes over.
    let out = e.handle(t0, Input::Reload(Box::new(plan(NAT_ALONE))));
    assert_eq!(trackers(&out), Some(0));
    assert!(logs(&out).contains(&"director: fit again"));
    assert_eq!(takes(&out), 1);
    assert!(e.is_active() && e.is_fit());
    // Back, then gone again while the router is fit: stopped all the same.
    let out = e.handle(t0, Input::Reload(Box::new(tracked)));
    assert_eq!(trackers(&out), Some(1));
    let out = e.handle(t0, Input::Reload(Box::new(plan(NAT_ALONE))));
    assert_eq!(trackers(&out), Some(0));
}

#[test]
fn a_router_alone_keeps_its_addresses_and_table_when_it_stops_and_a_pair_hands_over() {
    use director_core::engine::Leaving;
    let alone = Engine::new(plan(NAT_ALONE), Choices::default(), false);
    let keep = Leaving {
        release_addresses: false,
        remove_table: false,
    };
    assert_eq!(alone.leaving(false, false), keep, "a restart keeps traffic");
    assert_eq!(alone.leaving(true, false), keep);
    assert_eq!(
        alone.leaving(false, true),
        Leaving {
            release_addresses: true,
            remove_table: true
        },
        "--release-on-exit takes the router out"
    );
    let pair = Engine::new(plan(NAT_PAIR), Choices::default(), true);
    assert_eq!(
        pair.leaving(false, false),
        Leaving {
            release_addresses: true,
            remove_table: true
        },
        "the peer takes over"
    );
    assert_eq!(
        pair.leaving(true, false),
        Leaving {
            release_addresses: true,
            remove_table: false
        }
    );
}
