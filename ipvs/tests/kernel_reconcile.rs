//! Reconciler against the real kernel: random desired tables over random current tables
//! (proptest), ownership respected, second apply empty.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/tables.rs"]
mod tables;

use std::collections::BTreeSet;

use ipvs::reconcile::{self, Ownership};
use ipvs::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use tables::*;

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn random_tables_converge_in_the_kernel() {
    let ns = common::new_netns();
    ns.run(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let h = rt.block_on(async {
            let (conn, h) = ipvs::new_connection().unwrap();
            tokio::spawn(conn);
            h
        });
        let mut runner = TestRunner::new(Config {
            cases: 32,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(
                &(arb_table(), arb_table(), any::<u64>()),
                |(desired, current, mask)| {
                    rt.block_on(async {
                        h.flush().await.unwrap();
                        let r = reconcile::apply(&h, &current, &Ownership::All)
                            .await
                            .unwrap();
                        prop_assert!(r.is_ok(), "programming current: {:?}", r.first_error());
                        let before = reconcile::observe(&h).await.unwrap();
                        prop_assert_eq!(canon(&before), canon(&current));
                        let owned: BTreeSet<ServiceKey> = current
                            .services
                            .iter()
                            .enumerate()
                            .filter(|(i, _)| mask & (1 << i) != 0)
                            .map(|(_, vs)| vs.service.key)
                            .collect();
                        let own = Ownership::Keys(owned.clone());
                        let r = reconcile::apply(&h, &desired, &own).await.unwrap();
                        prop_assert!(r.is_ok(), "apply: {:?}", r.first_error());
                        let after = canon(&reconcile::observe(&h).await.unwrap());
                        let before = canon(&before);
                        let desired_c = canon(&desired);
                        let existed: BTreeSet<ServiceKey> =
                            before.services.iter().map(|v| v.service.key).collect();
                        // Unowned services untouched.
                        for vs in &before.services {
                            if !owned.contains(&vs.service.key) {
                                prop_assert!(
                                    after.services.contains(vs),
                                    "unowned {} changed",
                                    vs.service.key
                                );
                            }
                        }
                        // Owned or new desired services are as desired; owned undesired are gone.
                        for vs in &desired_c.services {
                            let k = vs.service.key;
                            if owned.contains(&k) || !existed.contains(&k) {
                                prop_assert!(after.services.contains(vs), "{k} not as desired");
                            }
                        }
                        for k in &owned {
                            if !desired_c.services.iter().any(|v| v.service.key == *k) {
                                prop_assert!(
                                    after.services.iter().all(|v| v.service.key != *k),
                                    "{k} not deleted"
                                );
                            }
                        }
                        let again = reconcile::apply(&h, &desired, &own).await.unwrap();
                        prop_assert!(
                            again.results.is_empty(),
                            "second apply not empty: {:?}",
                            again.results
                        );
                        Ok::<(), TestCaseError>(())
                    })
                },
            )
            .unwrap();
    })
    .unwrap();
}
