//! The failover services' rules in virtual time: what a role change, a failed check and the
//! reentry time make a node do, and (proptest) that whatever happens, commands pair up: a
//! service is never started twice without a stop between, and addresses are held exactly while
//! the services run.

use std::time::{Duration, Instant};

use fos::services::{Input, Output, Services};
use heartbeat::Role;
use proptest::prelude::*;

const S: Duration = Duration::from_secs(1);

fn failed(service: usize, id: u64) -> Input {
    Input::Checked {
        service,
        id,
        passed: false,
        detail: "connection refused".into(),
    }
}

fn passed(service: usize, id: u64) -> Input {
    Input::Checked {
        service,
        id,
        passed: true,
        detail: "ok".into(),
    }
}

#[test]
fn active_takes_the_addresses_before_starting_and_standby_stops_before_releasing() {
    let t = Instant::now();
    let mut s = Services::new(vec![2 * S, 3 * S], 10 * S);
    assert_eq!(
        s.handle(t, Input::Role(Role::Active)),
        [Output::Take, Output::Start(0), Output::Start(1)]
    );
    // Again: nothing (the heartbeat re-announces, the services run already).
    assert!(s.handle(t, Input::Role(Role::Active)).is_empty());
    assert_eq!(
        s.handle(t + S, Input::Role(Role::Standby)),
        [Output::Stop(1), Output::Stop(0), Output::Release]
    );
    assert!(s.handle(t + S, Input::Role(Role::Standby)).is_empty());
    assert_eq!(s.poll_timeout(), None, "a standby node checks nothing");
}

#[test]
fn each_service_is_checked_at_its_interval_one_check_at_a_time() {
    let t = Instant::now();
    let mut s = Services::new(vec![2 * S, 3 * S], 10 * S);
    let _ = s.handle(t, Input::Role(Role::Active));
    assert_eq!(s.poll_timeout(), Some(t + 2 * S));
    assert_eq!(s.handle(t + 2 * S, Input::Timer), [check(0, 1)]);
    // No answer yet: not asked again, whatever the time.
    assert_eq!(s.handle(t + 3 * S, Input::Timer), [check(1, 2)]);
    assert!(s.handle(t + 5 * S, Input::Timer).is_empty());
    assert!(s.handle(t + 5 * S, passed(0, 1)).is_empty());
    assert_eq!(s.poll_timeout(), Some(t + 7 * S));
    // An answer nobody asked for changes nothing.
    assert!(s.handle(t + 5 * S, failed(0, 1)).is_empty());
    assert!(!s.is_failed());
}

#[test]
fn a_failed_check_steps_down_and_the_node_offers_again_after_reentry() {
    let t = Instant::now();
    let mut s = Services::new(vec![S, S], 10 * S);
    let _ = s.handle(t, Input::Role(Role::Active));
    assert_eq!(s.handle(t + S, Input::Timer), [check(0, 1), check(1, 2)]);
    let out = s.handle(t + S, failed(1, 2));
    assert_eq!(
        out,
        [Output::Failed {
            service: 1,
            detail: "connection refused".into()
        }]
    );
    assert!(s.is_failed());
    // The other service's answer no longer counts: everything moves.
    assert!(s.handle(t + S, failed(0, 1)).is_empty());
    // The heartbeat steps down: both services stop, the address goes.
    assert_eq!(
        s.handle(t + S, Input::Role(Role::Standby)),
        [Output::Stop(1), Output::Stop(0), Output::Release]
    );
    assert_eq!(s.poll_timeout(), Some(t + 11 * S));
    assert!(s.handle(t + 10 * S, Input::Timer).is_empty());
    assert_eq!(s.handle(t + 11 * S, Input::Timer), [Output::Recovered]);
    assert!(!s.is_failed());
}

#[test]
fn a_node_kept_active_by_its_operator_watches_again_after_reentry() {
    let t = Instant::now();
    let mut s = Services::new(vec![S], 5 * S);
    let _ = s.handle(t, Input::Role(Role::Active));
    let _ = s.handle(t + S, Input::Timer);
    let _ = s.handle(t + S, failed(0, 1));
    // No step-down came (forced active): after reentry, checks resume.
    assert_eq!(s.handle(t + 6 * S, Input::Timer), [Output::Recovered]);
    assert_eq!(s.handle(t + 7 * S, Input::Timer), [check(0, 2)]);
}

/// Found by the property test below: a failure, then a step-down and a new activation before
/// the reentry time, whose checks are running when the reentry time comes. They go on: the
/// recovery does not start a second check of the same service.
#[test]
fn the_end_of_reentry_does_not_start_a_second_check_of_a_service() {
    let t = Instant::now();
    let mut s = Services::new(vec![S], 5 * S);
    let _ = s.handle(t, Input::Role(Role::Active));
    assert_eq!(s.handle(t + S, Input::Timer), [check(0, 1)]);
    let _ = s.handle(t + S, failed(0, 1));
    let _ = s.handle(t + 2 * S, Input::Role(Role::Standby));
    let _ = s.handle(t + 2 * S, Input::Role(Role::Active));
    assert_eq!(s.handle(t + 3 * S, Input::Timer), [check(0, 2)]);
    // Reentry: the node may serve again; check 2 is still out.
    assert_eq!(s.handle(t + 6 * S, Input::Timer), [Output::Recovered]);
    assert!(s.handle(t + 7 * S, Input::Timer).is_empty());
    // Its answer counts, and the next check follows an interval later.
    assert!(s.handle(t + 7 * S, passed(0, 2)).is_empty());
    assert_eq!(s.handle(t + 8 * S, Input::Timer), [check(0, 3)]);
}

fn check(service: usize, id: u64) -> Output {
    Output::Check { service, id }
}

#[test]
fn an_answer_to_a_check_of_an_earlier_activation_does_not_count() {
    let t = Instant::now();
    let mut s = Services::new(vec![S], 5 * S);
    let _ = s.handle(t, Input::Role(Role::Active));
    assert_eq!(s.handle(t + S, Input::Timer), [check(0, 1)]);
    let _ = s.handle(t + S, Input::Role(Role::Standby));
    let _ = s.handle(t + S, Input::Role(Role::Active));
    assert_eq!(s.handle(t + 2 * S, Input::Timer), [check(0, 2)]);
    // The first check's answer, late: the service was stopped then.
    assert!(s.handle(t + 2 * S, failed(0, 1)).is_empty());
    assert!(!s.is_failed());
}

fn input() -> impl Strategy<Value = (u64, Input)> {
    let one = prop_oneof![
        Just(Input::Role(Role::Active)),
        Just(Input::Role(Role::Standby)),
        Just(Input::Timer),
        (0..3usize, 1..20u64, any::<bool>()).prop_map(|(service, id, ok)| if ok {
            passed(service, id)
        } else {
            failed(service, id)
        }),
    ];
    (0..3000u64, one)
}

proptest! {
    #[test]
    fn commands_pair_up_and_addresses_are_held_while_services_run(
        inputs in proptest::collection::vec(input(), 1..200)
    ) {
        let t0 = Instant::now();
        let mut now = t0;
        let mut s = Services::new(vec![S, 2 * S, 3 * S], 4 * S);
        let mut running = [false; 3];
        let mut held = false;
        // The check of each service awaiting its answer.
        let mut checking: [Option<u64>; 3] = [None; 3];
        let mut last_id = 0;
        for (ms, input) in inputs {
            now += Duration::from_millis(ms);
            let mut fails_current = false;
            if let Input::Checked { service, id, passed, .. } = &input
                && checking[*service] == Some(*id)
            {
                checking[*service] = None;
                fails_current = !passed;
            }
            if matches!(input, Input::Role(Role::Standby)) || fails_current {
                // Checks in flight are forgotten.
                checking = [None; 3];
            }
            for out in s.handle(now, input) {
                match out {
                    Output::Take => { prop_assert!(!held); held = true; }
                    Output::Release => { prop_assert!(held); prop_assert!(running == [false; 3]); held = false; }
                    Output::Start(i) => { prop_assert!(held); prop_assert!(!running[i]); running[i] = true; }
                    Output::Stop(i) => { prop_assert!(running[i]); running[i] = false; }
                    Output::Check { service: i, id } => {
                        prop_assert!(running[i]);
                        // One check at a time per service and activation, each with a fresh id.
                        prop_assert!(checking[i].is_none(), "{:?}", checking);
                        prop_assert!(id > last_id);
                        last_id = id;
                        checking[i] = Some(id);
                    }
                    Output::Failed { .. } | Output::Recovered => {}
                    other => prop_assert!(false, "{other:?}"),
                }
            }
            prop_assert_eq!(held, s.is_active());
            prop_assert!(s.poll_timeout().is_none_or(|t| t > now));
        }
    }
}
