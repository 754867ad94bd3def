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

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn a_reconciler_with_memory_sends_only_the_changes_and_repairs_after_forget() {
    let ns = common::new_netns();
    ns.run(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (conn, h) = ipvs::new_connection().unwrap();
            tokio::spawn(conn);
            let key = ServiceKey::tcp("10.9.0.1".parse().unwrap(), 80);
            let dest = |last: u8, weight| {
                Destination::new(format!("10.9.1.{last}").parse().unwrap(), 80)
                    .with_forwarding(Forwarding::Masquerade)
                    .with_weight(weight)
            };
            let table = |weight| Table {
                services: vec![VirtualServer {
                    service: Service::new(key),
                    destinations: vec![dest(1, weight), dest(2, 1)],
                }],
            };
            let own = Ownership::Keys(BTreeSet::from([key]));
            let mut r = reconcile::Reconciler::new(h.clone());
            let first = r.apply(&table(1), &own).await.unwrap();
            assert!(
                first.is_ok() && first.results.len() == 3,
                "{:?}",
                first.results
            );
            // Nothing changed: no request. One weight changed: one request.
            assert!(r.apply(&table(1), &own).await.unwrap().results.is_empty());
            let one = r.apply(&table(5), &own).await.unwrap();
            assert_eq!(one.results.len(), 1, "{:?}", one.results);
            assert_eq!(
                canon(&reconcile::observe(&h).await.unwrap()),
                canon(&table(5))
            );

            // Someone deletes a destination behind its back: from memory the reconciler sees
            // no change; after forget() it reads the kernel and puts it back.
            h.del_destination(&key, dest(2, 1).addr, 80).await.unwrap();
            assert!(r.apply(&table(5), &own).await.unwrap().results.is_empty());
            r.forget();
            let repaired = r.apply(&table(5), &own).await.unwrap();
            assert_eq!(repaired.results.len(), 1, "{:?}", repaired.results);
            assert_eq!(
                canon(&reconcile::observe(&h).await.unwrap()),
                canon(&table(5))
            );

            // A request that fails (its destination is gone) makes the next apply read the
            // kernel again.
            h.del_destination(&key, dest(1, 5).addr, 80).await.unwrap();
            let failed = r.apply(&table(7), &own).await.unwrap();
            assert!(!failed.is_ok());
            let healed = r.apply(&table(7), &own).await.unwrap();
            assert!(healed.is_ok(), "{:?}", healed.first_error());
            assert_eq!(
                canon(&reconcile::observe(&h).await.unwrap()),
                canon(&table(7))
            );
        });
    })
    .unwrap();
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn a_large_table_is_dumped_whole_across_the_dump_sockets() {
    // Large enough to be dumped in parallel slices (one per dump socket); services with 0 to 4
    // destinations, so a slice boundary falling anywhere is checked.
    let mut desired = Table::default();
    for i in 0..700u32 {
        let vip = std::net::Ipv4Addr::from(0x0a00_0000 + 1 + i);
        let key = if i % 3 == 0 {
            ServiceKey::udp(vip.into(), 53)
        } else {
            ServiceKey::tcp(vip.into(), 80)
        };
        desired.services.push(VirtualServer {
            service: Service::new(key),
            destinations: (0..i % 5)
                .map(|j| {
                    Destination::new(
                        std::net::Ipv4Addr::new(10, 128, 0, 1 + j as u8).into(),
                        8080,
                    )
                    .with_forwarding(Forwarding::Masquerade)
                })
                .collect(),
        });
    }
    common::in_netns(move |h| async move {
        let r = reconcile::apply(&h, &desired, &Ownership::All)
            .await
            .unwrap();
        assert!(r.is_ok(), "{:?}", r.first_error());
        let table = h.table().await.unwrap();
        assert_eq!(table.len(), 700);
        for (s, d) in &table {
            let want = desired
                .services
                .iter()
                .find(|vs| vs.service.key == s.service.key)
                .expect("a desired service");
            assert_eq!(d.len(), want.destinations.len(), "{:?}", s.service.key);
        }
        let observed = reconcile::observe(&h).await.unwrap();
        assert_eq!(canon(&observed), canon(&desired));
        let listed: usize = table.iter().map(|(_, d)| d.len()).sum();
        assert_eq!(listed, (0..700).map(|i| i % 5).sum::<usize>());
        // ipvsadm, which we did not write, sees as many destinations.
        let out = common::sh("ipvsadm -Ln");
        let dests = out
            .lines()
            .filter(|l| l.trim_start().starts_with("->") && !l.contains("RemoteAddress"))
            .count();
        assert_eq!(listed, dests);
    });
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn dumps_racing_heavy_changes_give_a_table_or_a_typed_error_and_the_reconciler_converges() {
    common::in_netns(|h| async move {
        let (conn, churner) = ipvs::new_connection().unwrap();
        tokio::spawn(conn);
        let key = |i: u16| ServiceKey::tcp("10.8.0.1".parse().unwrap(), 1000 + i);
        let service = move |i: u16| VirtualServer {
            service: Service::new(key(i)),
            destinations: (1..=4u8)
                .map(|j| {
                    Destination::new(std::net::IpAddr::from([10, 8, 1, j]), 80)
                        .with_forwarding(Forwarding::Masquerade)
                })
                .collect(),
        };
        // 150 services; the churner deletes and re-adds them one after the other while the
        // table is dumped again and again (a dump resumes by position: without care, one
        // racing changes lists a service twice or fails on one deleted meanwhile).
        let all = Table {
            services: (0..150).map(service).collect(),
        };
        let own = Ownership::All;
        assert!(reconcile::apply(&h, &all, &own).await.unwrap().is_ok());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let churn = tokio::task::spawn_blocking(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let mut changes = 0u32;
                let mut i = 0u16;
                while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                    let k = key(i % 150);
                    churner.del_service(&k).await.unwrap();
                    let one = Table {
                        services: vec![service(i % 150)],
                    };
                    let keys = Ownership::Keys(BTreeSet::from([k]));
                    assert!(
                        reconcile::apply(&churner, &one, &keys)
                            .await
                            .unwrap()
                            .is_ok()
                    );
                    changes += 6;
                    i = i.wrapping_add(1);
                }
                changes
            })
        });
        // `LVS_TEST_DUMPS` (default 40; `cargo xtask reliability --only netlink`: 1,000).
        let dumps: u32 = testkit::scale("LVS_TEST_DUMPS", 40);
        let (mut whole, mut errors) = (0, Vec::new());
        for _ in 0..dumps {
            match h.table().await {
                Ok(t) => {
                    let keys: BTreeSet<_> = t.iter().map(|(s, _)| s.service.key).collect();
                    assert_eq!(keys.len(), t.len(), "a service listed twice");
                    whole += 1;
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let changes = churn.await.unwrap();
        println!(
            "netlink: {dumps} dumps of 150 services x 4 racing {changes} changes: {whole} \
             whole, {} errors {:?}",
            errors.len(),
            errors.iter().take(3).collect::<Vec<_>>()
        );
        // Whatever the dumps met, a reconciler that reads the kernel converges to the table.
        let mut r = reconcile::Reconciler::new(h.clone());
        let report = r.apply(&all, &own).await.unwrap();
        assert!(report.is_ok(), "{:?}", report.first_error());
        assert_eq!(canon(&reconcile::observe(&h).await.unwrap()), canon(&all));
        // An error is one of those a dump may meet, typed, never a panic or a garbled table.
        for e in &errors {
            assert!(
                e.contains("not found") || e.contains("No such") || e.contains("interrupted"),
                "{e}"
            );
        }
    });
}

/// A signal handler that does nothing: installed without `SA_RESTART`, a signal that arrives
/// during a blocking system call makes it fail with `EINTR`, as in a program whose own handlers
/// are installed that way.
extern "C" fn ignore(_: libc::c_int) {}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn signals_without_sa_restart_interrupt_no_dump_and_no_change() {
    // SAFETY: a handler that touches nothing, installed for SIGUSR1 only.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = ignore as *const () as libc::sighandler_t;
        action.sa_flags = 0;
        assert_eq!(
            libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()),
            0
        );
    }
    common::in_netns(|h| async move {
        let key = |i: u16| ServiceKey::tcp("10.9.0.1".parse().unwrap(), 1000 + i);
        let table = |weight: u32| Table {
            services: (0..200)
                .map(|i| VirtualServer {
                    service: Service::new(key(i)),
                    destinations: (1..=4u8)
                        .map(|j| {
                            Destination::new(std::net::IpAddr::from([10, 9, 1, j]), 80)
                                .with_forwarding(Forwarding::Masquerade)
                                .with_weight(weight + u32::from(i % 3))
                        })
                        .collect(),
                })
                .collect(),
        };
        let own = Ownership::All;
        let mut r = reconcile::Reconciler::new(h.clone());
        assert!(r.apply(&table(1), &own).await.unwrap().is_ok());
        // Every thread of this process (the runtime's, the blocking dumps') gets SIGUSR1 again
        // and again while the table is dumped and changed.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let storm = std::thread::spawn(move || {
            let pid = std::process::id() as libc::pid_t;
            let mut sent = 0u64;
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
                    let Ok(tid) = task.file_name().to_string_lossy().parse::<libc::pid_t>() else {
                        continue;
                    };
                    // SAFETY: tgkill of a thread of this process with a handled signal.
                    if unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, libc::SIGUSR1) } == 0 {
                        sent += 1;
                    }
                }
                std::thread::yield_now();
            }
            sent
        });
        // `LVS_TEST_EINTR_ROUNDS` (default 20; `cargo xtask reliability --only netlink`: 500).
        let rounds: u32 = testkit::scale("LVS_TEST_EINTR_ROUNDS", 20);
        let mut errors = Vec::new();
        for round in 0..rounds {
            let want = table(2 + round % 2);
            match h.table().await {
                Ok(t) => assert_eq!(t.len(), 200),
                Err(e) => errors.push(format!("dump: {e}")),
            }
            match r.apply(&want, &own).await {
                Ok(report) if report.is_ok() => {}
                Ok(report) => errors.push(format!("apply: {:?}", report.first_error())),
                Err(e) => errors.push(format!("apply: {e}")),
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let sent = storm.join().unwrap();
        println!(
            "netlink: EINTR: {rounds} dumps and {rounds} changes of 200 services x 4 while \
             {sent} signals (a handler without SA_RESTART) hit every thread: {} errors {:?}",
            errors.len(),
            errors.iter().take(3).collect::<Vec<_>>()
        );
        assert!(sent > u64::from(rounds), "the storm sent {sent} signals");
        assert!(errors.is_empty(), "{errors:?}");
        let last = table(2 + (rounds - 1) % 2);
        assert_eq!(canon(&reconcile::observe(&h).await.unwrap()), canon(&last));
    });
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn dumps_through_the_smallest_receive_buffer_are_whole_never_enobufs() {
    // The dump sockets take the default receive buffer: at its smallest, a dump of 300
    // services x 8 still comes whole, one datagram per read (the kernel fills a dump socket
    // only as it is read, so a dump never overruns: no ENOBUFS).
    let path = "/proc/sys/net/core/rmem_default";
    let saved = std::fs::read_to_string(path).unwrap();
    // The kernel's floor (SOCK_MIN_RCVBUF) depends on its struct sizes: the first it takes.
    let smallest = [2304, 4608, 9216]
        .into_iter()
        .find(|n| std::fs::write(path, format!("{n}\n")).is_ok())
        .unwrap();
    println!("netlink: dumps with a receive buffer of {smallest} bytes");
    let result = std::panic::catch_unwind(|| {
        common::in_netns(|h| async move {
            let key = |i: u16| ServiceKey::tcp("10.7.0.1".parse().unwrap(), 1000 + i);
            let all = Table {
                services: (0..300)
                    .map(|i| VirtualServer {
                        service: Service::new(key(i)),
                        destinations: (1..=8u8)
                            .map(|j| {
                                Destination::new(std::net::IpAddr::from([10, 7, 1, j]), 80)
                                    .with_forwarding(Forwarding::Masquerade)
                            })
                            .collect(),
                    })
                    .collect(),
            };
            assert!(
                reconcile::apply(&h, &all, &Ownership::All)
                    .await
                    .unwrap()
                    .is_ok()
            );
            for _ in 0..10 {
                let t = reconcile::observe(&h).await.unwrap();
                assert_eq!(canon(&t), canon(&all));
            }
        })
    });
    std::fs::write(path, saved).unwrap();
    result.unwrap();
}
