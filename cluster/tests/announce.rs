//! The announcement rule, in virtual time.

use std::{
    collections::BTreeMap,
    net::IpAddr,
    time::{Duration, Instant},
};

use cluster::{Announcer, Error, Input, Output, Reason, Settings};
use proptest::prelude::*;

fn ip(n: u8) -> IpAddr {
    IpAddr::from([192, 0, 2, n])
}

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn settings() -> Settings {
    Settings::default()
        .with_hold_down(s(2), s(16))
        .with_stable_after(s(30))
}

/// A fit director with one VIP of one service, announced at `t0 + 2 s`.
fn announced(t0: Instant) -> Announcer {
    let mut rule = Announcer::new(settings()).expect("valid");
    assert!(rule.handle(t0, Input::Fit(true)).is_empty());
    let up = Input::Service {
        vip: ip(1),
        service: 80,
        healthy: 3,
    };
    assert!(rule.handle(t0, up).is_empty());
    assert_eq!(
        rule.handle(t0 + s(2), Input::Timer),
        [Output::Announce(ip(1))]
    );
    rule
}

#[test]
fn a_vip_is_announced_after_the_hold_down_and_not_before() {
    let t0 = Instant::now();
    let mut rule = Announcer::new(settings()).unwrap();
    let _ = rule.handle(t0, Input::Fit(true));
    let up = Input::Service {
        vip: ip(1),
        service: 80,
        healthy: 1,
    };
    assert!(rule.handle(t0, up).is_empty());
    assert_eq!(rule.poll_timeout(), Some(t0 + s(2)));
    let early = t0 + s(2) - Duration::from_millis(1);
    assert!(rule.handle(early, Input::Timer).is_empty());
    assert_eq!(
        rule.handle(t0 + s(2), Input::Timer),
        [Output::Announce(ip(1))]
    );
    assert_eq!(rule.announced().collect::<Vec<_>>(), [ip(1)]);
    assert_eq!(rule.poll_timeout(), None);
}

#[test]
fn an_unfit_director_announces_nothing_and_withdraws_everything_at_once() {
    let t0 = Instant::now();
    let mut rule = Announcer::new(settings()).unwrap();
    let up = Input::Service {
        vip: ip(1),
        service: 80,
        healthy: 5,
    };
    assert!(rule.handle(t0, up).is_empty());
    assert_eq!(rule.poll_timeout(), None, "not fit yet");
    let mut rule = announced(t0);
    let out = rule.handle(t0 + s(40), Input::Fit(false));
    assert_eq!(
        out,
        [Output::Withdraw {
            vip: ip(1),
            reason: Reason::Unfit
        }]
    );
}

#[test]
fn a_vip_stays_while_any_of_its_services_can_serve() {
    let t0 = Instant::now();
    let mut rule = announced(t0);
    let other = Input::Service {
        vip: ip(1),
        service: 443,
        healthy: 2,
    };
    assert!(rule.handle(t0 + s(3), other).is_empty());
    let dead = |service| Input::Service {
        vip: ip(1),
        service,
        healthy: 0,
    };
    assert!(
        rule.handle(t0 + s(4), dead(80)).is_empty(),
        "443 still serves"
    );
    let out = rule.handle(t0 + s(5), dead(443));
    assert_eq!(
        out,
        [Output::Withdraw {
            vip: ip(1),
            reason: Reason::TooFewHealthy { best: 0, needed: 1 }
        }]
    );
    if let Output::Withdraw { reason, .. } = &out[0] {
        assert!(
            reason
                .to_string()
                .contains("no virtual service has 1 healthy")
        );
    }
}

#[test]
fn flaps_double_the_hold_down_up_to_the_maximum_and_a_stable_run_resets_it() {
    let t0 = Instant::now();
    let mut rule = announced(t0);
    let health = |healthy| Input::Service {
        vip: ip(1),
        service: 80,
        healthy,
    };
    let mut now = t0 + s(2);
    for expected in [4, 8, 16, 16] {
        // Withdrawn soon after the announcement: a flap.
        now += s(1);
        assert_eq!(rule.handle(now, health(0)).len(), 1);
        assert_eq!(rule.hold_down(ip(1)), Some(s(expected)));
        assert!(rule.handle(now, health(3)).is_empty());
        assert_eq!(rule.poll_timeout(), Some(now + s(expected)));
        now += s(expected);
        assert_eq!(rule.handle(now, Input::Timer), [Output::Announce(ip(1))]);
    }
    // Announced for longer than `stable_after`: the next withdrawal starts over.
    now += s(30);
    assert_eq!(rule.handle(now, health(0)).len(), 1);
    assert_eq!(rule.hold_down(ip(1)), Some(s(2)));
}

#[test]
fn a_break_during_the_hold_down_starts_it_again() {
    let t0 = Instant::now();
    let mut rule = Announcer::new(settings()).unwrap();
    let _ = rule.handle(t0, Input::Fit(true));
    let health = |healthy| Input::Service {
        vip: ip(1),
        service: 80,
        healthy,
    };
    let _ = rule.handle(t0, health(1));
    assert!(rule.handle(t0 + s(1), health(0)).is_empty());
    assert_eq!(rule.poll_timeout(), None);
    assert!(rule.handle(t0 + s(1), health(1)).is_empty());
    assert!(rule.handle(t0 + s(2), Input::Timer).is_empty());
    assert_eq!(
        rule.handle(t0 + s(3), Input::Timer),
        [Output::Announce(ip(1))]
    );
}

#[test]
fn a_vip_without_services_is_withdrawn_and_forgotten() {
    let t0 = Instant::now();
    let mut rule = announced(t0);
    let removed = Input::Removed {
        vip: ip(1),
        service: 80,
    };
    assert_eq!(
        rule.handle(t0 + s(5), removed.clone()),
        [Output::Withdraw {
            vip: ip(1),
            reason: Reason::Removed
        }]
    );
    assert_eq!(rule.hold_down(ip(1)), None);
    assert!(rule.handle(t0 + s(6), removed).is_empty());
}

#[test]
fn settings_that_cannot_work_are_refused_with_the_reason() {
    let zero = Announcer::new(settings().with_min_healthy(0)).unwrap_err();
    assert!(
        matches!(&zero, Error::Settings(m) if m.contains("min_healthy")),
        "{zero}"
    );
    let short = Announcer::new(settings().with_hold_down(s(10), s(5))).unwrap_err();
    assert!(short.to_string().contains("max_hold_down"), "{short}");
}

#[derive(Clone, Debug)]
enum Step {
    Health {
        vip: u8,
        service: u64,
        healthy: usize,
    },
    Removed {
        vip: u8,
        service: u64,
    },
    Fit(bool),
}

fn step() -> impl Strategy<Value = (u64, Step)> {
    let input = prop_oneof![
        6 => (0u8..3, 0u64..2, 0usize..4).prop_map(|(vip, service, healthy)| Step::Health { vip, service, healthy }),
        1 => (0u8..3, 0u64..2).prop_map(|(vip, service)| Step::Removed { vip, service }),
        2 => any::<bool>().prop_map(Step::Fit),
    ];
    (0u64..20_000, input)
}

proptest! {
    /// Driven as a director drives it (timers honoured between inputs), the rule never leaves
    /// an unservable VIP announced, announces only VIPs servable for at least the first
    /// hold-down, alternates announce and withdraw per VIP, and announces every VIP that stays
    /// servable longer than the longest hold-down.
    #[test]
    fn announcements_follow_the_rule(steps in prop::collection::vec(step(), 1..80), min in 1usize..3) {
        let settings = Settings::default()
            .with_min_healthy(min)
            .with_hold_down(s(2), s(16))
            .with_stable_after(s(30));
        let mut rule = Announcer::new(settings).unwrap();
        let t0 = Instant::now();
        let mut now = t0;
        // The test's own model of what is servable, and since when.
        let mut fit = false;
        let mut services: BTreeMap<IpAddr, BTreeMap<u64, usize>> = BTreeMap::new();
        let mut since: BTreeMap<IpAddr, Instant> = BTreeMap::new();
        let mut up: BTreeMap<IpAddr, bool> = BTreeMap::new();
        let servable = |fit: bool, services: &BTreeMap<IpAddr, BTreeMap<u64, usize>>, vip: &IpAddr| {
            fit && services.get(vip).and_then(|s| s.values().max()).is_some_and(|b| *b >= min)
        };
        let check = |out: Vec<Output>, now: Instant, fit: bool,
                     services: &BTreeMap<IpAddr, BTreeMap<u64, usize>>,
                     since: &BTreeMap<IpAddr, Instant>, up: &mut BTreeMap<IpAddr, bool>|
         -> Result<(), TestCaseError> {
            for o in out {
                match o {
                    Output::Announce(vip) => {
                        prop_assert!(!up.get(&vip).copied().unwrap_or(false), "announced twice");
                        prop_assert!(servable(fit, services, &vip));
                        let from = since.get(&vip).copied();
                        prop_assert!(from.is_some_and(|f| now >= f + s(2)), "announced before the hold-down");
                        up.insert(vip, true);
                    }
                    Output::Withdraw { vip, .. } => {
                        prop_assert!(up.get(&vip).copied().unwrap_or(false), "withdrawn while not announced");
                        up.insert(vip, false);
                    }
                    _ => prop_assert!(false, "unknown output"),
                }
            }
            for vip in rule_vips(up) {
                prop_assert!(servable(fit, services, &vip), "{vip} announced while not servable");
            }
            Ok(())
        };
        for (dt, step) in steps {
            let next = now + Duration::from_millis(dt);
            // Timers due before the next input, as the driver would fire them.
            while let Some(t) = rule.poll_timeout().filter(|t| *t <= next) {
                now = t.max(now);
                let out = rule.handle(now, Input::Timer);
                check(out, now, fit, &services, &since, &mut up)?;
            }
            // Liveness: servable for longer than the longest hold-down means announced.
            for (vip, from) in &since {
                if servable(fit, &services, vip) && next.duration_since(*from) > s(16) {
                    prop_assert!(up.get(vip).copied().unwrap_or(false), "{vip} servable since {from:?} but not announced");
                }
            }
            now = next;
            let input = match step {
                Step::Health { vip, service, healthy } => {
                    services.entry(ip(vip)).or_default().insert(service, healthy);
                    Input::Service { vip: ip(vip), service, healthy }
                }
                Step::Removed { vip, service } => {
                    if let Some(s) = services.get_mut(&ip(vip)) {
                        s.remove(&service);
                        if s.is_empty() {
                            services.remove(&ip(vip));
                        }
                    }
                    Input::Removed { vip: ip(vip), service }
                }
                Step::Fit(f) => {
                    fit = f;
                    Input::Fit(f)
                }
            };
            // The model's "servable since", updated before judging the outputs.
            for n in 0..3 {
                let vip = ip(n);
                if servable(fit, &services, &vip) {
                    since.entry(vip).or_insert(now);
                } else {
                    since.remove(&vip);
                }
            }
            let out = rule.handle(now, input);
            check(out, now, fit, &services, &since, &mut up)?;
        }
    }
}

fn rule_vips(up: &BTreeMap<IpAddr, bool>) -> Vec<IpAddr> {
    up.iter().filter(|(_, u)| **u).map(|(v, _)| *v).collect()
}
