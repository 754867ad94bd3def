//! Piranha's failover services (`service = fos`) on the wire: their own magic numbers, a pair
//! in different modes refusing each other, and STOPME ("I take over") making the active node
//! step down.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use heartbeat::packet::{ByteOrder, Reject};
use heartbeat::{
    Action, Config, Event, Heartbeat, Mode, PathConfig, PathId, Protocol, Reason, Role, Timers,
};

const FOS_RUNNING: [u8; 4] = [0xbe, 0xba, 0xef, 0xbe];
const FOS_STOPPED: [u8; 4] = [0xef, 0xbe, 0xad, 0xde];
const FOS_STOPME: [u8; 4] = [0xda, 0xda, 0xad, 0xde];
const LVS_RUNNING: [u8; 4] = [0xda, 0xdb, 0xad, 0xbd];

fn primary(mode: Mode) -> Config {
    let timers = Timers::new(Duration::from_secs(1), Duration::from_secs(3)).expect("timers");
    Config::new(
        Protocol::Piranha {
            byte_order: ByteOrder::Little,
        },
        timers,
    )
    .with_primary(true)
    .with_paths(vec![
        PathConfig::new("192.168.1.20".parse().expect("ip")).with_critical(false),
    ])
    .with_mode(mode)
}

fn peer() -> SocketAddr {
    "192.168.1.20:539".parse().expect("addr")
}

fn packet(node: &mut Heartbeat, at: Instant, bytes: &[u8]) -> Vec<Action> {
    node.handle(
        at,
        Event::Packet {
            path: PathId(0),
            from: peer(),
            bytes,
        },
    )
}

fn sent(actions: &[Action]) -> Vec<Vec<u8>> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { bytes, .. } => Some(bytes.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn failover_services_send_their_own_magics() {
    let start = Instant::now();
    let mut node = Heartbeat::new(primary(Mode::Fos), start).expect("config");
    // Standby at first: 0xdeadbeef in the host's (little-endian) order.
    assert_eq!(sent(&node.handle(start, Event::Timer)), [FOS_STOPPED]);
    // A standby peer: the primary takes over and says 0xbeefbabe.
    let a = packet(&mut node, start + Duration::from_millis(10), &FOS_STOPPED);
    assert_eq!(
        a.first(),
        Some(&Action::BecomeActive {
            reason: Reason::PeerInactive
        })
    );
    assert_eq!(sent(&a), [FOS_RUNNING]);
    assert_eq!(node.role(), Role::Active);
}

#[test]
fn a_pair_in_different_modes_refuse_each_other() {
    let start = Instant::now();
    let mut fos = Heartbeat::new(primary(Mode::Fos), start).expect("config");
    let _ = fos.handle(start, Event::Timer);
    assert!(packet(&mut fos, start, &LVS_RUNNING).is_empty());
    assert_eq!(fos.counters().rejected(Reject::WrongMode), 1);
    let mut lvs = Heartbeat::new(primary(Mode::Lvs), start).expect("config");
    let _ = lvs.handle(start, Event::Timer);
    assert!(packet(&mut lvs, start, &FOS_RUNNING).is_empty());
    assert_eq!(lvs.counters().rejected(Reject::WrongMode), 1);
    // Refused heartbeats are no proof of life: the peer is dead after the deadtime.
    let a: Vec<Action> = (1..=3)
        .flat_map(|s| fos.handle(start + Duration::from_secs(s), Event::Timer))
        .collect();
    assert!(a.contains(&Action::BecomeActive {
        reason: Reason::PeerDead
    }));
}

#[test]
fn stopme_makes_the_active_node_step_down_and_stay_down() {
    let start = Instant::now();
    let mut node = Heartbeat::new(primary(Mode::Fos), start).expect("config");
    let _ = node.handle(start, Event::Timer);
    let _ = packet(&mut node, start + Duration::from_millis(10), &FOS_STOPPED);
    assert_eq!(node.role(), Role::Active);
    // The backup found our service failed: it takes over and tells us.
    let t = start + Duration::from_millis(500);
    let a = packet(&mut node, t, &FOS_STOPME);
    assert_eq!(
        a.first(),
        Some(&Action::BecomeStandby {
            reason: Reason::PeerTakesOver
        })
    );
    assert_eq!(sent(&a), [FOS_STOPPED], "says so at once");
    // The backup now runs the services: the primary does not take them back (no failback),
    // for as long as it hears it.
    for i in 1..10 {
        let t = t + Duration::from_secs(i);
        let a = packet(&mut node, t, &FOS_RUNNING);
        assert!(
            !a.iter().any(|a| matches!(a, Action::BecomeActive { .. })),
            "{a:?}"
        );
        let _ = node.handle(t, Event::Timer);
    }
    assert_eq!(node.role(), Role::Standby);
}

#[test]
fn in_lvs_mode_stopme_is_only_a_sign_of_life() {
    let start = Instant::now();
    let mut node = Heartbeat::new(primary(Mode::Lvs), start).expect("config");
    let _ = node.handle(start, Event::Timer);
    let _ = packet(&mut node, start, &[0xbd, 0xda, 0xbd, 0xad]);
    assert_eq!(node.role(), Role::Active);
    assert!(packet(&mut node, start + Duration::from_millis(10), &FOS_STOPME).is_empty());
    assert_eq!(node.role(), Role::Active);
    assert_eq!(node.counters().total_rejected(), 0);
}
