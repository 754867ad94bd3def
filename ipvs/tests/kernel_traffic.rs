//! Counters with real traffic: connection counts (immediate), 64-bit stats (updated by the
//! kernel's estimator, so polled), and ZERO.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::*;
use ipvs::*;

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn stats_and_connection_counts_with_traffic() {
    let director = new_netns();
    let client = new_netns();
    client
        .veth("10.7.0.2/24", &director, "10.7.0.1/24")
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let h = rt.block_on(async {
        let (conn, h) = ipvs::new_connection_in_netns(director.path()).unwrap();
        tokio::spawn(conn);
        h
    });
    let k = ServiceKey::tcp(ip("10.7.0.1"), 80);
    // The real server is the director itself (the kernel delivers locally).
    rt.block_on(async {
        h.add_service(&Service::new(k).with_scheduler(Scheduler::RoundRobin))
            .await
            .unwrap();
        h.add_destination(&k, &Destination::new(ip("10.7.0.1"), 80))
            .await
            .unwrap();
    });
    let listener = director
        .run(|| TcpListener::bind("10.7.0.1:80"))
        .unwrap()
        .unwrap();
    let mut conn = client
        .run(|| TcpStream::connect_timeout(&"10.7.0.1:80".parse().unwrap(), Duration::from_secs(5)))
        .unwrap()
        .unwrap();
    let (mut server_side, _) = listener.accept().unwrap();
    conn.write_all(&[7u8; 1000]).unwrap();
    let mut buf = [0u8; 1000];
    server_side.read_exact(&mut buf).unwrap();
    server_side.write_all(&buf).unwrap();
    conn.read_exact(&mut buf).unwrap();

    rt.block_on(async {
        let d = h.destinations(&k).await.unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].active_conns, 1, "{d:?}");
        // Stats are folded in by the estimator every 2 s: poll.
        let deadline = Instant::now() + Duration::from_secs(15);
        let s = loop {
            let s = h.get_service(&k).await.unwrap().stats;
            if s.conns >= 1 && s.in_bytes >= 1000 && s.out_bytes >= 1000 {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "stats never showed the traffic: {s:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(s.conns, 1);
        assert!(s.in_pkts >= 2 && s.out_pkts >= 2, "{s:?}");
        let ds = h.destinations(&k).await.unwrap()[0].stats;
        assert_eq!(ds.conns, 1);
        assert!(ds.in_bytes >= 1000, "{ds:?}");
        // The dump agrees with ipvsadm's exact counters.
        let adm = director
            .exec("ipvsadm", ["-Ln", "--stats", "--exact"])
            .unwrap();
        let line = adm
            .lines()
            .find(|l| l.starts_with("TCP  10.7.0.1:80"))
            .unwrap()
            .to_string();
        let cols: Vec<&str> = line.split_whitespace().collect();
        let cur = h.get_service(&k).await.unwrap().stats;
        assert_eq!(
            cols[2..7],
            [
                cur.conns,
                cur.in_pkts,
                cur.out_pkts,
                cur.in_bytes,
                cur.out_bytes
            ]
            .map(|n| n.to_string())
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()[..],
            "{adm}"
        );
        // ZERO one service: counters restart from zero.
        h.zero(Some(&k)).await.unwrap();
        let z = h.get_service(&k).await.unwrap().stats;
        assert_eq!((z.conns, z.in_pkts, z.in_bytes), (0, 0, 0), "{z:?}");
    });
    drop((conn, server_side, listener));
}
