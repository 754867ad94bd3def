//! The per-server state machine: nanny's behaviour, overrides, and properties over random runs.

use std::time::Duration;

use healthcheck::{
    EventKind, Health, LoadMonitor, LoadScaling, Override, Reason, Server, ServerConfig, SlowStart,
};
use proptest::prelude::*;
use tokio::time::Instant;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn kinds(server: &mut Server) -> Vec<EventKind> {
    std::iter::from_fn(|| server.poll_event())
        .map(|e| e.kind)
        .collect()
}

fn load_config(weight: u32) -> ServerConfig {
    ServerConfig::default()
        .with_weight(weight)
        .with_slow_start(None)
        .with_load(Some(LoadScaling {
            monitor: LoadMonitor::Ruptime,
            scale: 10,
            interval: secs(20),
        }))
}

#[test]
fn slow_start_follows_nanny() {
    let mut s = Server::new(ServerConfig::default().with_weight(100)).unwrap();
    let t0 = Instant::now();
    s.handle_check(t0, true, "ok");
    assert_eq!(kinds(&mut s), [EventKind::Up { weight: 3 }]);
    let mut weights = Vec::new();
    while let Some(at) = s.poll_timeout() {
        s.handle_timeout(at);
        for k in kinds(&mut s) {
            if let EventKind::Weight(w) = k {
                weights.push(w);
            }
        }
    }
    assert_eq!(weights, [6, 12, 24, 48, 96, 100]);
    assert_eq!(s.weight(), 100);
}

#[test]
fn a_late_timeout_catches_up_in_one_step() {
    let mut s = Server::new(ServerConfig::default().with_weight(64)).unwrap();
    let t0 = Instant::now();
    s.handle_check(t0, true, "ok");
    assert_eq!(kinds(&mut s), [EventKind::Up { weight: 2 }]);
    s.handle_timeout(t0 + secs(65));
    assert_eq!(kinds(&mut s), [EventKind::Weight(16)]);
    assert_eq!(s.poll_timeout(), Some(t0 + secs(80)));
}

#[test]
fn reentry_waits_for_continuous_success_after_a_failure() {
    let config = ServerConfig::default()
        .with_reentry(secs(15))
        .with_slow_start(None)
        .with_weight(5);
    let mut s = Server::new(config).unwrap();
    let t0 = Instant::now();
    s.handle_check(t0, true, "ok");
    assert_eq!(kinds(&mut s), [EventKind::Up { weight: 5 }]);
    s.handle_check(t0 + secs(6), false, "refused");
    assert_eq!(kinds(&mut s), [EventKind::Down { quiesce: false }]);
    s.handle_check(t0 + secs(12), true, "ok");
    s.handle_check(t0 + secs(18), true, "ok");
    // A failure restarts the count.
    s.handle_check(t0 + secs(24), false, "refused");
    s.handle_check(t0 + secs(30), true, "ok");
    s.handle_check(t0 + secs(36), true, "ok");
    assert!(kinds(&mut s).is_empty());
    s.handle_check(t0 + secs(45), true, "ok");
    assert_eq!(kinds(&mut s), [EventKind::Up { weight: 5 }]);
}

#[test]
fn rise_fall_and_quiesce() {
    let config = ServerConfig::default()
        .with_rise(2)
        .with_fall(3)
        .with_reentry(Duration::ZERO)
        .with_quiesce(true)
        .with_slow_start(None);
    let mut s = Server::new(config).unwrap();
    let t = Instant::now();
    s.handle_check(t, true, "ok");
    assert!(kinds(&mut s).is_empty());
    s.handle_check(t, true, "ok");
    assert_eq!(kinds(&mut s), [EventKind::Up { weight: 1 }]);
    s.handle_check(t, false, "x");
    s.handle_check(t, false, "x");
    s.handle_check(t, true, "ok");
    s.handle_check(t, false, "x");
    s.handle_check(t, false, "x");
    assert!(kinds(&mut s).is_empty());
    s.handle_check(t, false, "timeout");
    let e = s.poll_event().unwrap();
    assert_eq!(e.kind, EventKind::Down { quiesce: true });
    assert_eq!(e.reason, Reason::Failed("timeout".into()));
    assert_eq!(s.weight(), 0);
    let snap = s.snapshot();
    assert_eq!(
        (
            snap.checks,
            snap.failures,
            snap.transitions,
            snap.failures_in_a_row
        ),
        (8, 5, 2, 3)
    );
}

#[test]
fn load_scaling_uses_nanny_formula_within_bounds() {
    let mut s = Server::new(load_config(100)).unwrap();
    let t = Instant::now();
    s.handle_check(t, true, "ok");
    assert_eq!(kinds(&mut s), [EventKind::Up { weight: 100 }]);
    // Idle: +50 × cbrt(1) per reading, up to 10 × 100.
    let mut seen = Vec::new();
    for _ in 0..30 {
        s.handle_load(t, 0.0);
        seen.extend(kinds(&mut s));
    }
    let expected: Vec<_> = (3..=20).map(|i| EventKind::Weight(i * 50)).collect();
    assert_eq!(seen, expected);
    // Overloaded: down, but never below the configured weight.
    for _ in 0..100 {
        s.handle_load(t, 9.0);
    }
    let last = std::iter::from_fn(|| s.poll_event()).last();
    assert_eq!(s.weight(), 100, "{last:?}");
    // A change below the threshold (100 / 4) is not applied: 50 × cbrt(0.1) = 23.2.
    s.handle_load(t, 0.9);
    assert!(kinds(&mut s).is_empty());
    s.handle_load(t, 0.5);
    assert_eq!(kinds(&mut s), [EventKind::Weight(139)]);
    // Exactly 1.0 and nonsense change nothing.
    s.handle_load(t, 1.0);
    s.handle_load(t, -1.0);
    s.handle_load(t, f64::NAN);
    assert!(kinds(&mut s).is_empty());
}

#[test]
fn overrides() {
    let config = ServerConfig::default()
        .with_reentry(secs(100))
        .with_slow_start(None)
        .with_weight(7);
    let mut s = Server::new(config).unwrap();
    let t = Instant::now();
    s.handle_check(t, false, "x");
    assert_eq!(kinds(&mut s), [EventKind::Down { quiesce: false }]);
    s.set_override(t, Override::ForceUp);
    assert_eq!(kinds(&mut s), [EventKind::Up { weight: 7 }]);
    s.handle_check(t, false, "x");
    assert!(kinds(&mut s).is_empty(), "frozen");
    assert_eq!(s.health(), Health::Up);
    s.set_override(t, Override::ForceDown);
    assert_eq!(kinds(&mut s), [EventKind::Down { quiesce: false }]);
    s.handle_check(t, true, "ok");
    assert!(kinds(&mut s).is_empty(), "frozen");
    // Resume: the next success re-admits without waiting for reentry, as nanny's SIGHUP.
    s.set_override(t, Override::Resume);
    s.handle_check(t + secs(1), true, "ok");
    assert_eq!(kinds(&mut s), [EventKind::Up { weight: 7 }]);
    s.set_override(t, Override::Freeze);
    s.handle_check(t, false, "x");
    assert!(kinds(&mut s).is_empty());
    assert_eq!(s.snapshot().frozen, Some(Override::Freeze));
}

#[test]
fn invalid_settings_are_refused() {
    for config in [
        ServerConfig::default().with_rise(0),
        ServerConfig::default().with_fall(0),
        ServerConfig::default().with_weight(u32::MAX),
        ServerConfig::default().with_slow_start(Some(SlowStart {
            step: Duration::ZERO,
        })),
    ] {
        assert!(Server::new(config).is_err());
    }
}

#[derive(Clone, Debug)]
enum Input {
    Check(bool),
    Load(f64),
    Timeout,
}

fn input() -> impl Strategy<Value = (u64, Input)> {
    (
        0u64..8000,
        prop_oneof![
            6 => any::<bool>().prop_map(Input::Check),
            2 => (0.0f64..4.0).prop_map(Input::Load),
            1 => Just(Input::Timeout),
        ],
    )
}

fn config() -> impl Strategy<Value = ServerConfig> {
    (
        0u32..2000,
        1u32..4,
        1u32..4,
        0u64..20_000,
        any::<bool>(),
        proptest::option::of(1u64..10_000),
        proptest::option::of(1u32..12),
    )
        .prop_map(|(weight, rise, fall, reentry, quiesce, step, scale)| {
            ServerConfig::default()
                .with_weight(weight)
                .with_rise(rise)
                .with_fall(fall)
                .with_reentry(Duration::from_millis(reentry))
                .with_quiesce(quiesce)
                .with_slow_start(step.map(|ms| SlowStart {
                    step: Duration::from_millis(ms),
                }))
                .with_load(scale.map(|scale| LoadScaling {
                    monitor: LoadMonitor::Ruptime,
                    scale,
                    interval: secs(20),
                }))
        })
}

proptest! {
    /// Transitions never come faster than configured, weights stay in their bounds, and the
    /// events always describe a consistent table.
    #[test]
    fn never_flaps_and_weights_stay_bounded(
        config in config(),
        inputs in proptest::collection::vec(input(), 1..200),
    ) {
        let mut s = Server::new(config.clone()).unwrap();
        let t0 = Instant::now();
        let mut now = t0;
        let (mut ok_run, mut fail_run) = (0u32, 0u32);
        let mut streak_start: Option<Instant> = None;
        let mut was_down = false;
        let mut up = false;
        let ceiling = config.weight.saturating_mul(config.load.as_ref().map_or(1, |l| l.scale));
        for (dt, input) in inputs {
            now += Duration::from_millis(dt);
            match input {
                Input::Check(ok) => {
                    if ok {
                        ok_run += 1;
                        fail_run = 0;
                        streak_start.get_or_insert(now);
                    } else {
                        fail_run += 1;
                        ok_run = 0;
                        streak_start = None;
                    }
                    s.handle_check(now, ok, if ok { "ok" } else { "fail" });
                }
                Input::Load(l) => s.handle_load(now, l),
                Input::Timeout => s.handle_timeout(now),
            }
            while let Some(e) = s.poll_event() {
                match e.kind {
                    EventKind::Up { weight } => {
                        prop_assert!(!up, "up while up");
                        prop_assert!(ok_run >= config.rise, "up after {ok_run} successes");
                        if was_down {
                            let since = streak_start.expect("a success streak");
                            prop_assert!(now - since >= config.reentry, "re-admitted after {:?}", now - since);
                        }
                        prop_assert!(weight <= config.weight);
                        up = true;
                    }
                    EventKind::Down { quiesce } => {
                        prop_assert!(fail_run >= config.fall, "down after {fail_run} failures");
                        prop_assert_eq!(quiesce, config.quiesce);
                        up = false;
                        was_down = true;
                    }
                    EventKind::Weight(w) => {
                        prop_assert!(up, "weight while down");
                        prop_assert!(w <= ceiling.max(config.weight));
                        if matches!(e.reason, Reason::Load(_)) {
                            prop_assert!(w >= config.weight);
                        } else {
                            prop_assert!(w <= config.weight);
                        }
                    }
                }
            }
            prop_assert_eq!(s.health() == Health::Up, up);
            if !up {
                prop_assert_eq!(s.weight(), 0);
            }
        }
    }

    /// The same inputs give the same events.
    #[test]
    fn deterministic(config in config(), inputs in proptest::collection::vec(input(), 1..60)) {
        let t0 = Instant::now();
        let run = || {
            let mut s = Server::new(config.clone()).unwrap();
            let mut now = t0;
            let mut out = Vec::new();
            for (dt, input) in &inputs {
                now += Duration::from_millis(*dt);
                match input {
                    Input::Check(ok) => s.handle_check(now, *ok, "r"),
                    Input::Load(l) => s.handle_load(now, *l),
                    Input::Timeout => s.handle_timeout(now),
                }
                out.extend(std::iter::from_fn(|| s.poll_event()));
            }
            out
        };
        prop_assert_eq!(run(), run());
    }
}
