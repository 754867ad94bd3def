//! Named behaviours of both protocols, each in the simulated network (virtual time) or on a
//! single state machine: resign, failback and preempt delay, split-brain healing, multi-path,
//! link and service faults, the operator's commands, stall detection, and Piranha's rules
//! (master wins, no failback) without Piranha's bugs (start race, standalone node that never
//! recovers).

mod sim;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use heartbeat::packet::ByteOrder;
use heartbeat::{Action, Config, Event, Heartbeat, PathId, Protocol, Reason, Role, Timers};
use sim::{Change, Conditions, DEADTIME, KEEPALIVE, Mode, Sim};

const AUTH: Mode = Mode::Auth { failback: false };
const FAILBACK: Mode = Mode::Auth { failback: true };

fn clean(mode: Mode) -> Sim {
    let mut sim = Sim::new(mode, 1);
    sim.net = Conditions {
        max_delay: Duration::from_millis(5),
        ..Conditions::default()
    };
    sim.run_for(KEEPALIVE * 5);
    assert_eq!(sim.role(0), Some(Role::Active), "{mode:?}: primary active");
    assert_eq!(sim.role(1), Some(Role::Standby), "{mode:?}");
    sim
}

fn became(sim: &Sim, since: Instant, node: usize, role: Role) -> Option<Change> {
    sim.changes_since(since)
        .into_iter()
        .find(|c| c.node == node && c.role == role)
}

#[test]
fn start_race_is_gone_only_the_primary_ever_becomes_active() {
    for mode in [Mode::Piranha, AUTH, FAILBACK] {
        let sim = clean(mode);
        let changes: Vec<(usize, Role, Reason)> = sim
            .changes
            .iter()
            .map(|c| (c.node, c.role, c.reason))
            .collect();
        assert_eq!(
            changes,
            [(0, Role::Active, Reason::PeerInactive)],
            "{mode:?}"
        );
    }
}

#[test]
fn clean_stop_hands_over_at_once() {
    for mode in [Mode::Piranha, AUTH] {
        let mut sim = clean(mode);
        let t = sim.now;
        sim.stop(0);
        sim.run_for(KEEPALIVE);
        let c = became(&sim, t, 1, Role::Active).expect("takeover");
        // One network delay (at most 5 ms), far below the deadtime.
        assert!(
            c.at - t <= Duration::from_millis(5),
            "{mode:?}: {:?}",
            c.at - t
        );
        let expected = if mode == Mode::Piranha {
            Reason::PeerInactive
        } else {
            Reason::PeerResigned
        };
        assert_eq!(c.reason, expected, "{mode:?}");
    }
}

#[test]
fn crash_is_taken_over_after_the_deadtime() {
    for mode in [Mode::Piranha, AUTH] {
        let mut sim = clean(mode);
        let t = sim.now;
        sim.crash(0);
        sim.run_for(DEADTIME + KEEPALIVE);
        let c = became(&sim, t, 1, Role::Active).expect("takeover");
        assert_eq!(c.reason, Reason::PeerDead);
        // A heartbeat in flight when it crashed may still arrive (delay up to 5 ms).
        assert!(
            c.at - t <= DEADTIME + Duration::from_millis(5),
            "{mode:?}: {:?}",
            c.at - t
        );
        assert!(c.at - t > DEADTIME - KEEPALIVE, "{mode:?}: {:?}", c.at - t);
    }
}

#[test]
fn a_returning_primary_stays_standby_without_failback() {
    for mode in [Mode::Piranha, AUTH] {
        let mut sim = clean(mode);
        sim.crash(0);
        sim.run_for(DEADTIME + KEEPALIVE);
        sim.start_node(0);
        let t = sim.now;
        sim.run_for(KEEPALIVE * 100);
        assert_eq!(sim.role(0), Some(Role::Standby), "{mode:?}");
        assert_eq!(sim.role(1), Some(Role::Active), "{mode:?}");
        assert!(
            sim.changes_since(t).is_empty(),
            "{mode:?}: {:?}",
            sim.changes
        );
    }
}

#[test]
fn failback_waits_for_the_preempt_delay() {
    let mut sim = Sim::new(FAILBACK, 1);
    sim.preempt_delay = Duration::from_secs(2);
    sim.net = Conditions {
        max_delay: Duration::from_millis(5),
        ..Conditions::default()
    };
    sim.run_for(KEEPALIVE * 5);
    sim.crash(0);
    sim.run_for(DEADTIME + KEEPALIVE);
    assert_eq!(sim.role(1), Some(Role::Active));
    sim.start_node(0);
    let back = sim.now;
    sim.run_for(Duration::from_secs(4));
    let preempt = became(&sim, back, 0, Role::Active).expect("failback");
    assert_eq!(preempt.reason, Reason::Preempt);
    let waited = preempt.at - back;
    assert!(
        waited >= Duration::from_secs(2) && waited <= Duration::from_secs(2) + KEEPALIVE,
        "{waited:?}"
    );
    let step_down = became(&sim, back, 1, Role::Standby).expect("the other steps down");
    assert_eq!(step_down.reason, Reason::PeerActive);
    assert!(step_down.at - preempt.at <= Duration::from_millis(5));
    assert_eq!(sim.active_count(), 1);
}

#[test]
fn split_brain_heals_the_winner_re_announces() {
    for mode in [Mode::Piranha, AUTH] {
        let mut sim = clean(mode);
        sim.net.cut = [true, true];
        sim.run_for(DEADTIME * 3);
        assert_eq!(sim.active_count(), 2, "{mode:?}: partitioned, both active");
        let healed = sim.now;
        sim.net.cut = [false, false];
        sim.run_for(KEEPALIVE * 3);
        assert_eq!(sim.active_count(), 1, "{mode:?}");
        assert_eq!(
            sim.role(0),
            Some(Role::Active),
            "{mode:?}: the primary wins"
        );
        let down = became(&sim, healed, 1, Role::Standby).expect("loser steps down");
        assert_eq!(down.reason, Reason::PeerActive);
        assert!(down.at - healed <= KEEPALIVE + Duration::from_millis(5));
        assert!(
            sim.reannounces.iter().any(|(t, n)| *n == 0 && *t >= healed),
            "{mode:?}: the winner re-announces: {:?}",
            sim.reannounces
        );
    }
}

#[test]
fn one_path_is_enough() {
    for mode in [Mode::Piranha, AUTH] {
        let mut sim = clean(mode);
        let t = sim.now;
        sim.net.cut = [true, false];
        sim.run_for(KEEPALIVE * 100);
        sim.net.cut = [false, true];
        sim.run_for(KEEPALIVE * 100);
        assert!(
            sim.changes_since(t).is_empty(),
            "{mode:?}: {:?}",
            sim.changes
        );
    }
}

#[test]
fn heavy_one_sided_loss_below_the_deadtime_causes_no_takeover() {
    // Every other heartbeat from the active node is lost on both paths: at most one keepalive
    // of silence, below the deadtime.
    let mut sim = clean(AUTH);
    let t = sim.now;
    for _ in 0..100 {
        sim.net.cut = [true, true];
        sim.run_for(KEEPALIVE);
        sim.net.cut = [false, false];
        sim.run_for(KEEPALIVE);
    }
    assert!(sim.changes_since(t).is_empty(), "{:?}", sim.changes);
}

#[test]
fn local_link_down_steps_down_and_the_peer_takes_over() {
    for mode in [Mode::Piranha, AUTH] {
        let mut sim = clean(mode);
        let t = sim.now;
        sim.event(0, Event::LinkDown(PathId(0)));
        sim.run_for(KEEPALIVE);
        let down = became(&sim, t, 0, Role::Standby).expect("steps down");
        assert_eq!(down.reason, Reason::LinkDown(PathId(0)));
        // The peer hears "inactive" over the private path and takes over at once.
        let up = became(&sim, t, 1, Role::Active).expect("takeover");
        assert_eq!(up.reason, Reason::PeerInactive, "{mode:?}");
        assert!(up.at - t <= Duration::from_millis(5), "{mode:?}");
        // The private path's link going down changes nothing (not critical).
        let t = sim.now;
        sim.event(1, Event::LinkDown(PathId(1)));
        sim.run_for(KEEPALIVE * 10);
        assert!(
            sim.changes_since(t).is_empty(),
            "{mode:?}: {:?}",
            sim.changes
        );
        // Links back: node 0 stays standby (no failback), node 1 stays active.
        sim.event(0, Event::LinkUp(PathId(0)));
        sim.event(1, Event::LinkUp(PathId(1)));
        sim.run_for(KEEPALIVE * 10);
        assert_eq!(
            [sim.role(0), sim.role(1)],
            [Some(Role::Standby), Some(Role::Active)]
        );
    }
}

#[test]
fn service_failure_hands_over_and_blocks_takeover_until_recovered() {
    let mut sim = clean(AUTH);
    let t = sim.now;
    sim.event(0, Event::ServiceFailed);
    sim.run_for(KEEPALIVE);
    assert_eq!(
        became(&sim, t, 0, Role::Standby).map(|c| c.reason),
        Some(Reason::ServiceFailed)
    );
    assert_eq!(
        became(&sim, t, 1, Role::Active).map(|c| c.reason),
        Some(Reason::PeerInactive)
    );
    // Node 1 dies: node 0 cannot take over while its service is down ...
    sim.crash(1);
    let t = sim.now;
    sim.run_for(DEADTIME * 3);
    assert!(sim.changes_since(t).is_empty());
    // ... and does as soon as it recovers.
    sim.event(0, Event::ServiceRecovered);
    assert_eq!(sim.role(0), Some(Role::Active));
    assert_eq!(
        sim.changes.last().map(|c| c.reason),
        Some(Reason::ServiceRecovered)
    );
}

fn standalone() -> Config {
    Config::new(
        Protocol::Piranha {
            byte_order: ByteOrder::Little,
        },
        Timers::new(KEEPALIVE, DEADTIME).expect("timers"),
    )
    .with_primary(true)
    .with_paths(vec![])
}

/// Piranha's bug: a standalone node whose lvsd died never reactivated. Here it does once the
/// service is back.
#[test]
fn standalone_node_recovers_after_its_service_recovers() {
    let start = Instant::now();
    let mut node = Heartbeat::new(standalone(), start).expect("config");
    assert_eq!(node.poll_timeout(), Some(start + DEADTIME));
    let a = node.handle(start + DEADTIME, Event::Timer);
    assert_eq!(
        a,
        [Action::BecomeActive {
            reason: Reason::PeerDead
        }]
    );
    let t = start + DEADTIME * 2;
    let a = node.handle(t, Event::ServiceFailed);
    assert_eq!(
        a,
        [Action::BecomeStandby {
            reason: Reason::ServiceFailed
        }]
    );
    assert_eq!(node.poll_timeout(), None, "nothing to wait for");
    let a = node.handle(t + Duration::from_secs(60), Event::ServiceRecovered);
    assert_eq!(
        a,
        [Action::BecomeActive {
            reason: Reason::ServiceRecovered
        }]
    );
}

#[test]
fn operator_force_and_release() {
    let mut sim = clean(AUTH);
    // Force the lower-precedence node active: the primary steps down and stays down.
    let t = sim.now;
    sim.event(1, Event::ForceActive);
    sim.run_for(KEEPALIVE * 20);
    assert_eq!(
        became(&sim, t, 1, Role::Active).map(|c| c.reason),
        Some(Reason::Operator)
    );
    assert_eq!(
        became(&sim, t, 0, Role::Standby).map(|c| c.reason),
        Some(Reason::PeerActive)
    );
    assert_eq!(
        [sim.role(0), sim.role(1)],
        [Some(Role::Standby), Some(Role::Active)]
    );
    // Release: automatic again; no failback configured, so nothing moves.
    let t = sim.now;
    sim.event(1, Event::Release);
    sim.run_for(KEEPALIVE * 20);
    assert!(sim.changes_since(t).is_empty(), "{:?}", sim.changes);
    // Hold the active node standby: the other takes over at once, and the held one does not
    // take over even when the other dies.
    let t = sim.now;
    sim.event(1, Event::ForceStandby);
    sim.run_for(KEEPALIVE);
    assert_eq!(
        became(&sim, t, 0, Role::Active).map(|c| c.reason),
        Some(Reason::PeerInactive)
    );
    sim.crash(0);
    let t = sim.now;
    sim.run_for(DEADTIME * 3);
    assert!(sim.changes_since(t).is_empty(), "{:?}", sim.changes);
    sim.event(1, Event::Release);
    assert_eq!(sim.role(1), Some(Role::Active));
}

#[test]
fn piranha_force_active_is_pulses_one_shot() {
    let mut sim = clean(Mode::Piranha);
    let t = sim.now;
    sim.event(1, Event::ForceActive);
    sim.run_for(KEEPALIVE * 20);
    // The backup becomes active, the master's RUNNING sends it back: no lasting split brain,
    // no flapping.
    assert_eq!(
        became(&sim, t, 1, Role::Active).map(|c| c.reason),
        Some(Reason::Operator)
    );
    assert_eq!(
        became(&sim, t, 1, Role::Standby).map(|c| c.reason),
        Some(Reason::PeerActive)
    );
    assert_eq!(sim.changes_since(t).len(), 2, "{:?}", sim.changes);
    assert_eq!(
        [sim.role(0), sim.role(1)],
        [Some(Role::Active), Some(Role::Standby)]
    );
    // Forced while the master is dead, it keeps the role when the master returns (no failback).
    sim.crash(0);
    sim.event(1, Event::ForceActive);
    assert_eq!(sim.role(1), Some(Role::Active));
    sim.run_for(KEEPALIVE);
    sim.start_node(0);
    let t = sim.now + Duration::from_nanos(1);
    sim.run_for(KEEPALIVE * 20);
    assert!(sim.changes_since(t).is_empty(), "{:?}", sim.changes);
    assert_eq!(
        [sim.role(0), sim.role(1)],
        [Some(Role::Standby), Some(Role::Active)]
    );
}

/// A wake-up long after the scheduled one (the process was stopped, the VM paused) does not
/// make the peer dead; a deadtime of real silence afterwards does.
#[test]
fn a_stall_is_not_a_dead_peer() {
    let mut sim = clean(AUTH);
    let mut node = sim.nodes[1].take().expect("node 1");
    let scheduled = node.poll_timeout().expect("timeout");
    // Asleep for 10 deadtimes; nothing received meanwhile.
    let woke = scheduled + DEADTIME * 10;
    let actions = node.handle(woke, Event::Timer);
    assert!(
        actions.iter().all(|a| matches!(a, Action::Send { .. })),
        "{actions:?}"
    );
    assert_eq!(node.role(), Role::Standby);
    assert_eq!(node.counters().stalls, 1);
    assert!(node.peer_alive());
    // Now on time, still silent: dead one deadtime after the wake-up, not before.
    let now = loop {
        let now = node.poll_timeout().expect("timeout");
        let actions = node.handle(now, Event::Timer);
        if actions.contains(&Action::BecomeActive {
            reason: Reason::PeerDead,
        }) {
            break now;
        }
        assert!(now < woke + DEADTIME, "{:?}", now - woke);
    };
    assert_eq!(now, woke + DEADTIME);
    assert_eq!(node.counters().stalls, 1);
}

#[test]
fn small_lateness_is_not_a_stall() {
    let mut sim = clean(AUTH);
    let mut node = sim.nodes[1].take().expect("node 1");
    let scheduled = node.poll_timeout().expect("timeout");
    let _ = node.handle(scheduled + KEEPALIVE / 2, Event::Timer);
    assert_eq!(node.counters().stalls, 0);
}

#[test]
fn packets_after_shutdown_are_ignored() {
    let mut sim = clean(AUTH);
    sim.event(0, Event::Shutdown);
    let mut node = sim.nodes[0].take().expect("node 0");
    assert!(node.is_shut_down());
    assert_eq!(node.poll_timeout(), None);
    let from: SocketAddr = "10.0.0.2:539".parse().expect("addr");
    let a = node.handle(
        sim.now,
        Event::Packet {
            path: PathId(0),
            from,
            bytes: &[0xda, 0xdb, 0xad, 0xbd],
        },
    );
    assert!(a.is_empty());
    assert!(node.handle(sim.now, Event::ForceActive).is_empty());
}

/// Found by the kernel test: a node regaining its link must not act on what the peer said
/// before (the peer may have taken over meanwhile, unheard).
#[test]
fn regaining_the_link_waits_for_fresh_news_of_the_peer() {
    for mode in [Mode::Piranha, AUTH] {
        let mut sim = clean(mode);
        // Node 0's public link fails, and from now on nothing from node 1 reaches node 0: the
        // last node 0 heard is "standby".
        sim.net.loss = [0, 100];
        let t = sim.now;
        sim.event(0, Event::LinkDown(PathId(0)));
        sim.run_for(KEEPALIVE / 2);
        assert_eq!(
            became(&sim, t, 1, Role::Active).map(|c| c.reason),
            Some(Reason::PeerInactive)
        );
        // The link is back while node 1 is still unheard (but not yet for a deadtime): node 0
        // waits.
        sim.event(0, Event::LinkUp(PathId(0)));
        sim.run_for(KEEPALIVE / 2);
        assert_eq!(
            sim.role(0),
            Some(Role::Standby),
            "{mode:?}: acted on stale news"
        );
        // Node 1 heard again: it is active, node 0 stays standby; nothing flips.
        sim.net.loss = [0, 0];
        sim.run_for(KEEPALIVE * 20);
        assert_eq!(
            [sim.role(0), sim.role(1)],
            [Some(Role::Standby), Some(Role::Active)],
            "{mode:?}"
        );
        assert_eq!(
            became(&sim, t, 0, Role::Active),
            None,
            "{mode:?}: {:?}",
            sim.changes
        );
    }
}

/// Found by the director's failover test: at start the master's first STOPPED waited for ARP on
/// the public path while its RUNNING came over the private one; the backup read the late STOPPED
/// as "the active master stepped down" and took over at once, a split brain. A STOPPED means
/// that only after a RUNNING on the same path.
#[test]
fn a_stopped_overtaken_on_another_path_is_not_a_step_down() {
    let start = Instant::now();
    let backup = standalone().with_primary(false).with_paths(vec![
        heartbeat::PathConfig::new("192.168.1.10".parse().expect("ip")).with_critical(false),
        heartbeat::PathConfig::new("10.0.0.10".parse().expect("ip")).with_critical(false),
    ]);
    let mut node = Heartbeat::new(backup, start).expect("config");
    let _ = node.handle(start, Event::Timer);
    let running = [0xda, 0xdb, 0xad, 0xbd];
    let stopped = [0xbd, 0xda, 0xbd, 0xad];
    let public: SocketAddr = "192.168.1.10:539".parse().expect("addr");
    let private: SocketAddr = "10.0.0.10:539".parse().expect("addr");
    let at = |ms| start + Duration::from_millis(ms);
    let packet = |node: &mut Heartbeat, t, path, from, bytes: &[u8]| {
        node.handle(
            t,
            Event::Packet {
                path: PathId(path),
                from,
                bytes,
            },
        )
    };
    assert!(packet(&mut node, at(10), 1, private, &running).is_empty());
    // The master's first datagram on the public path, sent before it took over, arrives late.
    let a = packet(&mut node, at(20), 0, public, &stopped);
    assert!(
        !a.iter().any(|a| matches!(a, Action::BecomeActive { .. })),
        "{a:?}"
    );
    assert!(packet(&mut node, at(30), 0, public, &running).is_empty());
    // A real step-down: STOPPED after RUNNING on the same path: at once.
    let a = packet(&mut node, at(1000), 0, public, &stopped);
    assert_eq!(
        a.iter().find(|a| matches!(a, Action::BecomeActive { .. })),
        Some(&Action::BecomeActive {
            reason: Reason::PeerInactive
        }),
        "{a:?}"
    );
}
