//! The tokio driver on the host, over loopback (127.0.0.1 and 127.0.0.2): two drivers find
//! each other, one becomes active, commands reach the state machine, shutdown resigns and the
//! other takes over at once. No root needed (link monitoring off).

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use heartbeat::{
    AuthConfig, Command, Config, Driver, DriverHandle, PathConfig, PathSocket, Protocol, Reason,
    Role, RoleChange, Timers,
};
use tokio::sync::mpsc;
use tokio::time::timeout;

const A: &str = "127.0.0.1";
const B: &str = "127.0.0.2";

/// A free UDP port on `ip` (bound and released; another process could take it meanwhile, which
/// would make the test fail loudly, not pass wrongly).
fn free_port(ip: &str) -> u16 {
    UdpSocket::bind((ip, 0))
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn config(me: usize, deadtime: Duration) -> Config {
    Config::new(
        Protocol::Auth(AuthConfig::new(
            b"driver test key, 16+ bytes".to_vec().into(),
            me as u32 + 1,
            2 - me as u32,
            heartbeat::unix_epoch_micros(),
        )),
        Timers::new(Duration::from_millis(50), deadtime).expect("timers"),
    )
    .with_primary(me == 0)
    .with_paths(vec![
        PathConfig::new([B, A][me].parse().expect("ip")).with_critical(true),
    ])
}

fn start(
    me: usize,
    ports: [u16; 2],
    deadtime: Duration,
) -> (DriverHandle, mpsc::UnboundedReceiver<RoleChange>) {
    let ip = [A, B][me];
    let local = SocketAddr::new(ip.parse().expect("ip"), ports[me]);
    let socket = PathSocket {
        local,
        peer_port: ports[1 - me],
        device: None,
    };
    let mut driver = Driver::bind(config(me, deadtime), &[socket])
        .expect("bind")
        .without_link_monitoring();
    assert_eq!(driver.local_addrs().expect("addrs"), [local]);
    let roles = driver.role_changes();
    (driver.spawn(), roles)
}

/// The next role change, which must be to `role`: changes come one by one, in order, so the
/// test sees every one.
async fn until(roles: &mut mpsc::UnboundedReceiver<RoleChange>, role: Role) -> RoleChange {
    let change = timeout(Duration::from_secs(10), roles.recv())
        .await
        .expect("in time")
        .expect("driver running");
    assert_eq!(change.role(), role, "{change:?}");
    change
}

#[tokio::test]
async fn two_drivers_elect_the_primary_and_hand_over_on_shutdown() {
    let ports = [free_port(A), free_port(B)];
    // A long deadtime: a takeover within it can only come from the resignation.
    let deadtime = Duration::from_secs(30);
    let (a, mut a_roles) = start(0, ports, deadtime);
    let (b, mut b_roles) = start(1, ports, deadtime);
    let active = until(&mut a_roles, Role::Active).await;
    assert_eq!(active.reason, Reason::PeerInactive);

    // Commands reach the machine: counters come back and show traffic both ways.
    let counters = timeout(Duration::from_secs(10), async {
        loop {
            let c = b.counters().await.expect("b runs");
            if c.accepted >= 3 {
                break c;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("b hears a");
    assert_eq!(counters.total_rejected(), 0);
    // b stays standby: it has changed nothing.
    assert!(b_roles.try_recv().is_err());

    let final_a = a.shutdown().await.expect("clean stop");
    assert!(final_a.sent >= 2);
    assert_eq!(
        until(&mut a_roles, Role::Standby).await.reason,
        Reason::Shutdown
    );
    let takeover = until(&mut b_roles, Role::Active).await;
    assert_eq!(takeover.reason, Reason::PeerResigned);

    // A failed service hands nothing over (no peer) but steps down; recovery brings it back.
    // Both changes reach the user, in order, though the second follows the first at once (a
    // channel of the latest role would have shown only the last).
    assert!(b.command(Command::ServiceFailed).await);
    assert!(b.command(Command::ServiceRecovered).await);
    let failed = until(&mut b_roles, Role::Standby).await;
    assert_eq!(failed.reason, Reason::ServiceFailed);
    let recovered = until(&mut b_roles, Role::Active).await;
    assert_eq!(recovered.reason, Reason::ServiceRecovered);
    assert_eq!(recovered.seq, failed.seq + 1);
    b.shutdown().await.expect("clean stop");
}

#[tokio::test]
async fn a_socket_per_path_is_required() {
    let err = Driver::bind(config(0, Duration::from_secs(1)), &[]).expect_err("no sockets");
    assert_eq!(
        err.to_string(),
        "0 sockets for 1 paths: give one socket per path"
    );
}

/// The largest gap between the heartbeats that reach a plain socket on `peer` while the
/// caller's runtime thread is kept busy for `busy` (std::thread::sleep: the load, not a wait),
/// with the driver on its own thread or on the caller's runtime.
async fn largest_gap_while_busy(own_thread: bool, busy: Duration) -> (usize, Duration) {
    let peer = UdpSocket::bind((B, 0)).expect("peer");
    peer.set_read_timeout(Some(Duration::from_millis(20)))
        .expect("timeout");
    let peer_port = peer.local_addr().expect("addr").port();
    let local = SocketAddr::new(A.parse().expect("ip"), free_port(A));
    let socket = PathSocket {
        local,
        peer_port,
        device: None,
    };
    let config = config(0, Duration::from_secs(30));
    let (handle, _roles) = if own_thread {
        Driver::spawn_thread(config, &[socket], false).expect("thread")
    } else {
        let mut d = Driver::bind(config, &[socket])
            .expect("bind")
            .without_link_monitoring();
        let roles = d.role_changes();
        (d.spawn(), roles)
    };
    // Let the driver send its first heartbeat before the load starts.
    tokio::task::yield_now().await;
    let listen = std::thread::spawn(move || {
        let mut arrivals = Vec::new();
        let until = std::time::Instant::now() + busy + Duration::from_millis(100);
        let mut buf = [0u8; 512];
        while std::time::Instant::now() < until {
            if peer.recv(&mut buf).is_ok() {
                arrivals.push(std::time::Instant::now());
            }
        }
        arrivals
    });
    std::thread::sleep(busy);
    let arrivals = listen.join().expect("listener");
    let _ = handle.shutdown().await;
    let gap = arrivals
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or(Duration::MAX);
    (arrivals.len(), gap)
}

#[tokio::test]
async fn a_driver_on_its_own_thread_keeps_its_time_while_the_callers_runtime_is_busy() {
    let busy = Duration::from_millis(600);
    // keepalive 50 ms: about 14 heartbeats in 700 ms, none much later than its time.
    let (count, gap) = largest_gap_while_busy(true, busy).await;
    assert!(count >= 10, "{count} heartbeats");
    assert!(gap < Duration::from_millis(80), "largest gap {gap:?}");
    // On the caller's (single-threaded) runtime, the same load silences it: the first
    // heartbeat, then nothing until the load is over.
    let (count, _) = largest_gap_while_busy(false, busy).await;
    assert!(count <= 1, "{count} heartbeats");
}
