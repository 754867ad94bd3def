//! Two nodes in a simulated network (virtual time, see `sim/mod.rs`), for both protocols:
//! random chaos (loss, delay and reordering, duplication, partitions, crashes, clean stops,
//! restarts), then a healed network, checking the three properties of the issue:
//!
//! 1. after a partition heals, exactly one node is active within 3 keepalives;
//! 2. when the active node dies, the standby is active within deadtime + one keepalive;
//! 3. no flapping under stable conditions: no role change once settled.

mod sim;

use std::time::Duration;

use heartbeat::{Reason, Role};
use proptest::prelude::*;
use sim::{Conditions, DEADTIME, KEEPALIVE, Mode, PATHS, Sim};

/// One stretch of chaos.
#[derive(Debug, Clone)]
struct Segment {
    keepalives: u32,
    net: Conditions,
    /// Crash (false) or cleanly stop (true) this node at the start of the segment.
    kill: Option<(usize, bool)>,
    /// Restart this node (if it is down) at the start of the segment.
    restart: Option<usize>,
}

fn segment() -> impl Strategy<Value = Segment> {
    (
        1u32..30,
        (0u32..=100, 0u32..=100),
        0u32..30,
        0u64..=300,
        proptest::array::uniform2(any::<bool>()),
        proptest::option::weighted(0.2, (0usize..2, any::<bool>())),
        proptest::option::weighted(0.4, 0usize..2),
    )
        .prop_map(
            |(keepalives, loss, dup, delay_ms, cut, kill, restart)| Segment {
                keepalives,
                net: Conditions {
                    loss: [loss.0, loss.1],
                    dup,
                    max_delay: Duration::from_millis(delay_ms),
                    cut,
                },
                kill,
                restart,
            },
        )
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![
        Just(Mode::Piranha),
        Just(Mode::Auth { failback: false }),
        Just(Mode::Auth { failback: true }),
    ]
}

/// Healed network: no loss, no duplication, jitter up to a quarter keepalive (so packets can
/// still overtake each other).
fn healed() -> Conditions {
    Conditions {
        loss: [0, 0],
        dup: 0,
        max_delay: KEEPALIVE / 4,
        cut: [false; PATHS],
    }
}

fn check(mode: Mode, seed: u64, chaos: &[Segment]) -> Result<(), TestCaseError> {
    let mut sim = Sim::new(mode, seed);
    for seg in chaos {
        if let Some((n, clean)) = seg.kill {
            if clean {
                sim.stop(n);
            } else {
                sim.crash(n);
            }
        }
        if let Some(n) = seg.restart
            && sim.nodes[n].is_none()
        {
            sim.start_node(n);
        }
        sim.net = seg.net;
        sim.run_for(KEEPALIVE * seg.keepalives);
    }

    // Heal: both nodes up, network fine.
    sim.net = healed();
    for n in 0..2 {
        if sim.nodes[n].is_none() {
            sim.start_node(n);
        }
    }
    let healed_at = sim.now;
    // Property 1: exactly one active within 3 keepalives...
    sim.run_for(KEEPALIVE * 3);
    prop_assert_eq!(
        sim.active_count(),
        1,
        "3 keepalives after healing: roles {:?}, changes since: {:?}",
        [sim.role(0), sim.role(1)],
        sim.changes_since(healed_at)
    );
    // ... and property 3: it stays that way, with no role change at all.
    let settled = sim.now;
    sim.run_for(KEEPALIVE * 50);
    prop_assert_eq!(sim.active_count(), 1);
    let flaps = sim.changes_since(settled + Duration::from_nanos(1));
    prop_assert!(flaps.is_empty(), "flapping when stable: {:?}", flaps);
    if mode == (Mode::Auth { failback: true }) {
        prop_assert_eq!(sim.role(0), Some(Role::Active), "failback: the primary");
    }

    // Property 2: the active one dies; the other takes over in time.
    let active = (0..2)
        .find(|n| sim.role(*n) == Some(Role::Active))
        .unwrap_or_default();
    let standby = 1 - active;
    sim.crash(active);
    let died = sim.now;
    sim.run_for(DEADTIME + KEEPALIVE);
    let takeover = sim
        .changes_since(died)
        .into_iter()
        .find(|c| c.node == standby && c.role == Role::Active);
    prop_assert!(
        takeover.is_some(),
        "no takeover within deadtime + keepalive after the active node died"
    );
    if let Some(t) = takeover {
        prop_assert_eq!(t.reason, Reason::PeerDead);
        prop_assert!(t.at - died <= DEADTIME + KEEPALIVE);
    }
    // Property 4: through chaos and after it, no node ever declared its peer dead later than
    // a deadtime after it last heard anything (or started): never late, whatever the losses.
    let late: Vec<_> = sim
        .changes
        .iter()
        .filter(|c| c.reason == Reason::PeerDead && c.since_heard > DEADTIME)
        .collect();
    prop_assert!(
        late.is_empty(),
        "later than a deadtime after the last datagram: {:?}",
        late
    );
    Ok(())
}

/// The bound of the failover issue: a standby takes over exactly one deadtime after the last
/// heartbeat it heard, wherever in the period the active node dies and whatever was lost
/// before (lost heartbeats move the last one heard earlier, never the takeover later).
#[test]
fn the_takeover_comes_one_deadtime_after_the_last_heartbeat_heard() {
    for mode in [Mode::Piranha, Mode::Auth { failback: false }] {
        for seed in 0..200u64 {
            let mut sim = Sim::new(mode, seed);
            sim.net = healed();
            sim.run_for(KEEPALIVE * 5);
            // Some loss before the death, then a death at a random moment of the period.
            sim.net.loss = [(seed % 60) as u32, 0];
            let offset = sim.rng.below(KEEPALIVE.as_micros() as u64 * 4);
            sim.run_for(Duration::from_micros(offset));
            let active = (0..2)
                .find(|n| sim.role(*n) == Some(Role::Active))
                .expect("one active node");
            let standby = 1 - active;
            sim.crash(active);
            let died = sim.now;
            sim.run_for(DEADTIME * 2);
            let t = sim
                .changes_since(died)
                .into_iter()
                .find(|c| c.node == standby && c.role == Role::Active)
                .unwrap_or_else(|| panic!("{mode:?} seed {seed}: no takeover"));
            assert_eq!(t.reason, Reason::PeerDead, "{mode:?} seed {seed}");
            assert_eq!(
                t.since_heard, DEADTIME,
                "{mode:?} seed {seed}: taken over {:?} after the last heartbeat heard",
                t.since_heard
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn chaos_then_heal(mode in mode(), seed in any::<u64>(), chaos in proptest::collection::vec(segment(), 0..12)) {
        check(mode, seed, &chaos)?;
    }

    /// Determinism: the same seed and chaos give the same role changes at the same times.
    #[test]
    fn same_inputs_same_outputs(mode in mode(), seed in any::<u64>(), chaos in proptest::collection::vec(segment(), 1..6)) {
        let run = || {
            let mut sim = Sim::new(mode, seed);
            for seg in &chaos {
                if let Some((n, clean)) = seg.kill {
                    if clean { sim.stop(n) } else { sim.crash(n) }
                }
                if let Some(n) = seg.restart && sim.nodes[n].is_none() {
                    sim.start_node(n);
                }
                sim.net = seg.net;
                sim.run_for(KEEPALIVE * seg.keepalives);
            }
            sim.changes.iter().map(|c| (c.at - sim.start, c.node, c.role, c.reason)).collect::<Vec<_>>()
        };
        prop_assert_eq!(run(), run());
    }
}

/// Stable network from the start: one node active after start-up, never a change afterwards.
#[test]
fn no_flapping_from_a_clean_start() {
    for mode in [
        Mode::Piranha,
        Mode::Auth { failback: false },
        Mode::Auth { failback: true },
    ] {
        let mut sim = Sim::new(mode, 7);
        sim.net = healed();
        sim.run_for(KEEPALIVE * 3);
        assert_eq!(sim.active_count(), 1, "{mode:?}");
        assert_eq!(
            sim.role(0),
            Some(Role::Active),
            "{mode:?}: the primary wins"
        );
        let n = sim.changes.len();
        sim.run_for(Duration::from_secs(600));
        assert_eq!(sim.changes.len(), n, "{mode:?}: {:?}", sim.changes);
    }
}
