//! Every path of a check (success, refusal, timeout, kill, orphaned grandchild) gives its
//! descriptors back. Alone in its binary: it counts the whole process's descriptors.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::time::Duration;

use healthcheck::{
    Binding, Check, CommandTemplate, Monitor, MonitorOptions, Probe, ProgramCheck, Target, Timeouts,
};
use tokio::{io::AsyncReadExt, time::Instant};

use common::{ms, plain};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn descriptors_are_released_on_every_path() {
    let healthy = common::http_server().await.0;
    let refused = common::closed_port();
    // Accepts, reads whatever comes and never answers; closes when the prober gives up.
    let hanging = common::tcp_server(|mut s| async move {
        let mut sink = [0u8; 512];
        while matches!(s.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
    let t = Timeouts::both(ms(150));
    let http = |a| {
        Probe::new(
            a,
            Check::Http(healthcheck::HttpCheck::get("/")),
            Binding::default(),
            t,
        )
        .unwrap()
    };
    let program = |cmd: &str| {
        let check = Check::Program(ProgramCheck {
            command: CommandTemplate::parse(cmd).unwrap(),
            expect: None,
        });
        Probe::new(healthy, check, Binding::default(), t).unwrap()
    };
    // Warm up what the runtime allocates once (the child-process signal pipe, the pools).
    assert!(program("true").run().await.is_ok());
    assert!(http(healthy).run().await.is_ok());
    let before = open_fds();

    let (monitor, mut updates) = Monitor::spawn(MonitorOptions::default());
    tokio::spawn(async move { while updates.recv().await.is_some() {} });
    let mut keep = healthcheck::HttpCheck::get("/");
    keep.keep_alive = true;
    let kept = Probe::new(healthy, Check::Http(keep), Binding::default(), t).unwrap();
    let probes = [
        kept,
        http(healthy),
        http(refused),
        http(hanging),
        program("true"),
        program("sh -c 'exit 1'"),
        program("sleep 30"),
        program("sh -c 'sleep 30 & echo started'"),
    ];
    let mut ids = Vec::new();
    for p in probes {
        for _ in 0..5 {
            ids.push(
                monitor
                    .add(Target::new(p.clone(), plain(), ms(50)))
                    .await
                    .unwrap(),
            );
        }
    }
    // Let every path run several times: timeouts, refusals, kills, successes.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = monitor.status().await.unwrap();
        if status.iter().all(|(_, s)| s.state.checks >= 3) {
            break;
        }
        assert!(Instant::now() < deadline, "checks did not run");
        tokio::time::sleep(ms(50)).await;
    }
    assert!(open_fds() > before);
    monitor.shutdown().await;
    // The test's own servers run in this process: let them close their ends first.
    common::eventually("the test servers to close", || {
        common::live_connections() == 0
    })
    .await;
    assert_eq!(open_fds(), before, "descriptors left open after shutdown");
}
