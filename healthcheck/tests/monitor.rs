//! The monitor: real probes, schedules in virtual time, concurrency, pools, load.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use healthcheck::{
    Binding, Check, Checker, CommandTemplate, EventKind, Health, LoadMonitor, LoadScaling, Monitor,
    MonitorOptions, Override, Pass, PoolEvent, Probe, ProbeFuture, Reason, Target, TargetId,
    TcpCheck, Timeouts, Update,
};
use tokio::{sync::mpsc, time::Instant};

use common::{ms, plain};

/// The application's own check: records when it ran and how many ran at once.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<Instant>>,
    delay: Mutex<Duration>,
    healthy: AtomicBool,
    running: AtomicUsize,
    peak: AtomicUsize,
}

impl Checker for Recorder {
    fn check(&self) -> ProbeFuture<'_> {
        Box::pin(async move {
            self.calls.lock().unwrap().push(Instant::now());
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            let delay = *self.delay.lock().unwrap();
            tokio::time::sleep(delay).await;
            self.running.fetch_sub(1, Ordering::SeqCst);
            if self.healthy.load(Ordering::SeqCst) {
                Ok(Pass::Custom)
            } else {
                Err(healthcheck::ProbeError::Custom("told to fail".into()))
            }
        })
    }

    fn deadline(&self) -> Duration {
        Duration::from_secs(60)
    }
}

fn recorder(healthy: bool, delay: Duration) -> Arc<Recorder> {
    let r = Recorder::default();
    r.healthy.store(healthy, Ordering::SeqCst);
    *r.delay.lock().unwrap() = delay;
    Arc::new(r)
}

fn addr(i: u32) -> SocketAddr {
    SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 80))
}

async fn next_server_event(updates: &mut mpsc::Receiver<Update>) -> (TargetId, EventKind, Reason) {
    loop {
        let u = tokio::time::timeout(Duration::from_secs(10), updates.recv())
            .await
            .expect("an update within 10 s")
            .expect("the monitor is running");
        if let Update::Server { target, event, .. } = u {
            return (target, event.kind, event.reason);
        }
    }
}

/// A bare TCP connect to `target`, 500 ms timeouts.
fn tcp_probe(target: std::net::SocketAddr) -> Probe {
    Probe::new(
        target,
        Check::Tcp(TcpCheck::default()),
        Binding::default(),
        Timeouts::both(ms(500)),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_tcp_target_goes_up_and_down() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap();
    let (monitor, mut updates) = Monitor::spawn(MonitorOptions::default());
    let probe = tcp_probe(target);
    let id = monitor
        .add(Target::new(probe, plain(), ms(50)))
        .await
        .unwrap();
    let (got, kind, reason) = next_server_event(&mut updates).await;
    assert_eq!((got, kind), (id, EventKind::Up { weight: 1 }));
    assert_eq!(reason, Reason::Passed("connected".into()));
    drop(listener);
    let (got, kind, reason) = next_server_event(&mut updates).await;
    assert_eq!((got, kind), (id, EventKind::Down { quiesce: false }));
    assert!(reason.to_string().contains("refused"), "{reason}");
    let status = monitor.status().await.unwrap();
    assert_eq!(status.len(), 1);
    let state = &status[0].1.state;
    assert_eq!(state.health, Health::Down);
    assert!(state.checks >= 2 && state.failures >= 1);
    assert!(!state.last.as_ref().unwrap().ok);
    monitor.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn first_checks_are_spread_over_the_interval() {
    let (monitor, _updates) = Monitor::spawn(MonitorOptions::default());
    let interval = Duration::from_secs(10);
    let start = Instant::now();
    let mut all = Vec::new();
    for i in 0..200 {
        let r = recorder(true, Duration::ZERO);
        monitor
            .add(Target::custom(addr(i), r.clone(), plain(), interval))
            .await
            .unwrap();
        all.push(r);
    }
    tokio::time::sleep(interval).await;
    let mut buckets = [0usize; 10];
    for r in &all {
        let calls = r.calls.lock().unwrap();
        assert_eq!(calls.len(), 1, "one check in the first interval");
        let frac = (calls[0] - start).as_secs_f64() / interval.as_secs_f64();
        buckets[((frac * 10.0) as usize).min(9)] += 1;
    }
    // 200 first checks in 10 buckets: about 20 each, none empty, none a herd.
    assert!(buckets.iter().all(|b| (5..=45).contains(b)), "{buckets:?}");
    monitor.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn intervals_do_not_drift_and_long_checks_skip_ticks() {
    let options = MonitorOptions::default().with_jitter(false, 0x5eed);
    let (monitor, _updates) = Monitor::spawn(options);
    let fast = recorder(true, ms(37));
    let slow = recorder(true, ms(250));
    let start = Instant::now();
    monitor
        .add(Target::custom(addr(1), fast.clone(), plain(), ms(100)))
        .await
        .unwrap();
    monitor
        .add(Target::custom(addr(2), slow.clone(), plain(), ms(100)))
        .await
        .unwrap();
    tokio::time::sleep(ms(1050)).await;
    let fast_calls: Vec<u128> = fast
        .calls
        .lock()
        .unwrap()
        .iter()
        .map(|t| (*t - start).as_millis())
        .collect();
    // Each check takes 37 ms, yet the checks start on the 100 ms grid: no drift.
    assert_eq!(fast_calls, (0..=10).map(|k| k * 100).collect::<Vec<_>>());
    // A 250 ms check over a 100 ms interval: ticks missed while it runs are skipped, and the
    // next check starts on the grid.
    let slow_calls: Vec<u128> = slow
        .calls
        .lock()
        .unwrap()
        .iter()
        .map(|t| (*t - start).as_millis())
        .collect();
    assert_eq!(slow_calls, [0, 300, 600, 900]);
    monitor.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn concurrency_is_bounded() {
    let options = MonitorOptions::default().with_max_concurrency(5);
    let (monitor, _updates) = Monitor::spawn(options);
    let r = recorder(true, ms(300));
    for i in 0..50 {
        monitor
            .add(Target::custom(addr(i), r.clone(), plain(), ms(1000)))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(r.peak.load(Ordering::SeqCst), 5);
    // 5 at a time, 300 ms each: about 16 checks a second, far below the 50 a second asked for.
    let calls = r.calls.lock().unwrap().len();
    assert!((70..=90).contains(&calls), "{calls}");
    monitor.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn overrides_pools_and_removal() {
    let (monitor, mut updates) = Monitor::spawn(MonitorOptions::default());
    let a = recorder(false, Duration::ZERO);
    let b = recorder(false, Duration::ZERO);
    let ia = monitor
        .add(Target::custom(addr(1), a.clone(), plain(), ms(100)).group(7))
        .await
        .unwrap();
    let ib = monitor
        .add(Target::custom(addr(2), b.clone(), plain(), ms(100)).group(7))
        .await
        .unwrap();
    let mut pool = Vec::new();
    let mut downs = 0;
    while pool.is_empty() {
        match updates.recv().await.unwrap() {
            Update::Pool { group, event } => pool.push((group, event)),
            Update::Server { event, .. } => {
                assert_eq!(event.kind, EventKind::Down { quiesce: false });
                downs += 1;
            }
            other => panic!("unexpected update {other:?}"),
        }
    }
    assert_eq!((downs, pool[0]), (2, (7, PoolEvent::AllDown)));
    // The operator forces one in: the pool is restored.
    assert!(monitor.set_override(ia, Override::ForceUp).await.unwrap());
    let u1 = updates.recv().await.unwrap();
    let u2 = updates.recv().await.unwrap();
    assert!(
        matches!(u1, Update::Server { target, ref event, .. } if target == ia && event.kind == EventKind::Up { weight: 1 }),
        "{u1:?}"
    );
    assert_eq!(
        u2,
        Update::Pool {
            group: 7,
            event: PoolEvent::Restored
        }
    );
    let status = monitor.status().await.unwrap();
    assert_eq!(status[0].1.state.frozen, Some(Override::ForceUp));
    // b recovers by itself.
    b.healthy.store(true, Ordering::SeqCst);
    let (t, kind, _) = next_server_event(&mut updates).await;
    assert_eq!((t, kind), (ib, EventKind::Up { weight: 1 }));
    assert!(monitor.remove(ia).await.unwrap());
    assert!(!monitor.remove(ia).await.unwrap());
    assert!(!monitor.set_override(ia, Override::Resume).await.unwrap());
    let calls = a.calls.lock().unwrap().len();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        a.calls.lock().unwrap().len(),
        calls,
        "a removed target is not checked"
    );
    monitor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_monitoring_through_any_command() {
    // Commands printing each style of output (the real server's address is appended).
    let styles: [(&str, f64); 3] = [
        (
            "echo ' 10:14:03 up 3 days,  2:01,  1 user,  load average: 0.00, 0.03, 0.01'",
            0.0,
        ),
        (
            "echo 'web1      up  3 days,  2:01,     load average: 0.50, 0.03, 0.01'",
            0.5,
        ),
        (
            "echo 'web1      up  3+02:01,     1 user,   load 3.00, 0.03, 0.01'",
            3.0,
        ),
    ];
    for (cmd, load) in styles {
        let config = plain().with_weight(100).with_load(Some(LoadScaling {
            monitor: LoadMonitor::Command(CommandTemplate::parse(cmd).unwrap()),
            scale: 3,
            interval: ms(200),
        }));
        let (monitor, mut updates) = Monitor::spawn(MonitorOptions::default());
        let r = recorder(true, Duration::ZERO);
        monitor
            .add(Target::custom(addr(1), r, config, ms(20)))
            .await
            .unwrap();
        assert_eq!(
            next_server_event(&mut updates).await.1,
            EventKind::Up { weight: 100 }
        );
        if load > 1.0 {
            // Overloaded at the configured weight: the weight never goes below it. Let several
            // readings happen, then check nothing was emitted.
            let deadline = Instant::now() + ms(1000);
            while Instant::now() < deadline {
                if let Ok(Some(u)) = tokio::time::timeout(ms(50), updates.recv()).await {
                    panic!("unexpected update {u:?}");
                }
            }
            let status = monitor.status().await.unwrap();
            assert_eq!(status[0].1.state.weight, 100);
        } else {
            // nanny's formula: + (100 / 2) × cbrt(1 − load) per reading, capped at 3 × 100,
            // applied only when it moves the weight by at least 100 / 4.
            let mut expected = Vec::new();
            let mut w = 100u32;
            loop {
                let next = ((f64::from(w) + 50.0 * (1.0 - load).cbrt()) as u32).min(300);
                if next - w < 25 {
                    break;
                }
                expected.push(next);
                w = next;
            }
            assert!(expected.len() >= 4, "{expected:?}");
            for want in expected {
                let (_, kind, reason) = next_server_event(&mut updates).await;
                assert_eq!(kind, EventKind::Weight(want));
                assert_eq!(reason, Reason::Load(load));
            }
        }
        monitor.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_server_in_many_services_is_probed_once_per_interval() {
    // A real server that counts the connections it accepts.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counted = accepted.clone();
    let open = Arc::new(AtomicBool::new(true));
    let still_open = open.clone();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            if !still_open.load(Ordering::SeqCst) {
                return;
            }
            counted.fetch_add(1, Ordering::SeqCst);
            drop(s);
        }
    });
    let (monitor, mut updates) = Monitor::spawn(MonitorOptions::default());
    let probe = tcp_probe(target);
    // Ten virtual services with the same real server and check, each judging by its own rules
    // (the last needs three passes in a row).
    let mut ids = Vec::new();
    for service in 0..10u64 {
        let config = if service == 9 {
            plain().with_rise(3)
        } else {
            plain()
        };
        ids.push(
            monitor
                .add(Target::new(probe.clone(), config, ms(50)).group(service))
                .await
                .unwrap(),
        );
    }
    let mut up = std::collections::BTreeSet::new();
    while up.len() < 10 {
        let (id, kind, _) = next_server_event(&mut updates).await;
        assert_eq!(kind, EventKind::Up { weight: 1 });
        up.insert(id);
    }
    // Twenty intervals' worth of results.
    let checks = loop {
        let status = monitor.status().await.unwrap();
        let checks: Vec<u64> = status.iter().map(|(_, s)| s.state.checks).collect();
        if checks.iter().all(|&c| c >= 20) {
            break checks;
        }
        tokio::task::yield_now().await;
    };
    let probes = accepted.load(Ordering::SeqCst) as u64;
    let most = *checks.iter().max().unwrap();
    assert!(
        probes <= most + 1,
        "{probes} probes for {checks:?} results: one probe per interval for all ten"
    );
    // The one probe that removes a runner does not stall the others.
    assert!(monitor.remove(ids[0]).await.unwrap());
    let before = monitor.status().await.unwrap()[0].1.state.checks;
    loop {
        let status = monitor.status().await.unwrap();
        if status[0].1.state.checks >= before + 3 {
            break;
        }
        tokio::task::yield_now().await;
    }
    // The server fails: every service sees it at once.
    open.store(false, Ordering::SeqCst);
    // The accept loop ends on its next connection; refusals follow.
    let _ = std::net::TcpStream::connect(target);
    let mut down = std::collections::BTreeSet::new();
    while down.len() < 9 {
        let (id, kind, _) = next_server_event(&mut updates).await;
        if kind == (EventKind::Down { quiesce: false }) {
            down.insert(id);
        }
    }
    assert_eq!(down, ids[1..].iter().copied().collect());
    monitor.shutdown().await;
}

/// An application's check that panics on its second run.
#[derive(Default)]
struct Panicky {
    runs: AtomicUsize,
}

impl Checker for Panicky {
    fn check(&self) -> ProbeFuture<'_> {
        Box::pin(async move {
            if self.runs.fetch_add(1, Ordering::SeqCst) == 1 {
                panic!("a bug in the application's checker");
            }
            Ok(Pass::Custom)
        })
    }

    fn deadline(&self) -> Duration {
        Duration::from_secs(60)
    }
}

#[tokio::test(start_paused = true)]
async fn a_check_that_panics_fails_and_the_monitor_goes_on() {
    let (monitor, mut updates) = Monitor::spawn(MonitorOptions::default().with_jitter(false, 0));
    let panicky = monitor
        .add(Target::custom(
            addr(1),
            Arc::new(Panicky::default()),
            plain(),
            ms(100),
        ))
        .await
        .unwrap();
    let steady = recorder(true, Duration::ZERO);
    let other = monitor
        .add(Target::custom(addr(2), steady.clone(), plain(), ms(100)))
        .await
        .unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        seen.push(next_server_event(&mut updates).await);
    }
    let up = (other, EventKind::Up { weight: 1 });
    assert!(seen.iter().any(|(t, k, _)| (*t, *k) == up), "{seen:?}");
    let down = seen
        .iter()
        .find(|(t, k, _)| *t == panicky && matches!(k, EventKind::Down { .. }))
        .expect("the panicking target went down");
    assert!(down.2.to_string().contains("panicked"), "{}", down.2);
    // The next check of the same target runs, and passes.
    let (got, kind, _) = next_server_event(&mut updates).await;
    assert_eq!((got, kind), (panicky, EventKind::Up { weight: 1 }));
    assert!(steady.calls.lock().unwrap().len() >= 3);
    monitor.shutdown().await;
}
