//! Benchmark: many HTTP targets checked by one [`Monitor`] — CPU and peak RSS of the checking
//! process.
//!
//! ```text
//! cargo run --release -p lvs-healthcheck --example bench_targets -- [TARGETS] [INTERVAL] [SECONDS] [keep-alive]
//! ```
//! Defaults: 10000 targets, 1s, 60 s. It starts itself again as separate server processes that
//! listen on TARGETS loopback addresses (127.1.0.1 and up, port 8080) and answer every request
//! with a small 200 response, so only the checker is measured. It prints the checker's
//! CPU time as a share of one core, its peak RSS, and how many checks ran and failed; then the
//! CPU cost of a bare blocking connect/request/close, for comparison.

use std::{
    io::{BufRead, BufReader, Write},
    net::{IpAddr, Ipv4Addr, SocketAddr},
    process::{Command, Stdio},
    time::Duration,
};

use healthcheck::{
    Binding, Check, HttpCheck, Monitor, MonitorOptions, Probe, ServerConfig, Target, Timeouts,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Error = Box<dyn std::error::Error>;

fn address(i: usize) -> SocketAddr {
    // 127.1.0.1, 127.1.0.2, …: all on lo, no configuration needed.
    let n = (1u32 << 16) + 1 + i as u32;
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x7f00_0000 | n)), 8080)
}

fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            // Root may raise the hard limit too (10,000 listeners and as many connections).
            let wanted = libc::rlimit {
                rlim_cur: 65536,
                rlim_max: lim.rlim_max.max(65536),
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) != 0 {
                lim.rlim_cur = lim.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
        }
    }
}

/// Seconds of CPU (user + system) used by this process, and its peak RSS in KiB.
fn usage() -> (f64, i64) {
    // SAFETY: getrusage fills a local struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(ru.ru_utime) + t(ru.ru_stime), ru.ru_maxrss)
}

async fn serve(first: usize, count: usize) -> Result<(), Error> {
    // Persistent connections are allowed: a client that sends `Connection: close` closes.
    const REPLY: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    for i in first..first + count {
        let listener = tokio::net::TcpListener::bind(address(i)).await?;
        tokio::spawn(async move {
            loop {
                // Out of descriptors for a moment (10,000 listeners and as many connections):
                // back off instead of closing the listener.
                let Ok((mut s, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    loop {
                        let mut got = 0;
                        loop {
                            match s.read(&mut buf[got..]).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => got += n,
                            }
                            if buf[..got].windows(4).any(|w| w == b"\r\n\r\n") || got == buf.len() {
                                break;
                            }
                        }
                        if s.write_all(REPLY).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
    }
    println!("ready");
    std::io::stdout().flush()?;
    // Serve until the parent closes our stdin.
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)
    })
    .await??;
    Ok(())
}

fn main() -> Result<(), Error> {
    raise_fd_limit();
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        let first = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
        let count = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0);
        return tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(serve(first, count));
    }
    let targets: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let interval = args
        .get(2)
        .map(|s| humantime::parse_duration(s))
        .transpose()?
        .unwrap_or(Duration::from_secs(1));
    let seconds: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(60);
    let keep_alive = args.get(4).map(String::as_str) == Some("keep-alive");

    // Servers in processes of their own, 2,500 targets each: a listener and a kept connection
    // per target must fit under the descriptor limit (20,000 here, and not raisable).
    let mut servers = Vec::new();
    for first in (0..targets).step_by(2500) {
        let count = (targets - first).min(2500);
        let mut server = Command::new(std::env::current_exe()?)
            .args(["serve", &first.to_string(), &count.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut ready = String::new();
        BufReader::new(server.stdout.take().ok_or("no stdout")?).read_line(&mut ready)?;
        if ready.trim() != "ready" {
            return Err(format!("server did not start: {ready:?}").into());
        }
        servers.push(server);
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (cpu0, _) = usage();
    let wall = std::time::Instant::now();
    let status = runtime.block_on(async {
        let (monitor, mut updates) = Monitor::spawn(MonitorOptions::default());
        tokio::spawn(async move { while updates.recv().await.is_some() {} });
        let config = ServerConfig::default().with_slow_start(None);
        for i in 0..targets {
            let mut check = HttpCheck::get("/");
            check.keep_alive = keep_alive;
            let probe = Probe::new(
                address(i),
                Check::Http(check),
                Binding::default(),
                Timeouts::both(Duration::from_secs(2)),
            )?;
            monitor
                .add(Target::new(probe, config.clone(), interval))
                .await?;
        }
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        let status = monitor.status().await?;
        monitor.shutdown().await;
        Ok::<_, Error>(status)
    })?;
    let elapsed = wall.elapsed().as_secs_f64();
    let (cpu1, peak_kib) = usage();
    // The floor: the same request over a fresh connection, blocking, no runtime, no epoll —
    // what the kernel alone costs this process per check on this machine.
    let floor_runs = 20_000;
    let (f0, _) = usage();
    for i in 0..floor_runs {
        use std::io::Read;
        let mut s = std::net::TcpStream::connect(address(i % targets))?;
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
        let mut buf = [0u8; 256];
        let _ = s.read(&mut buf)?;
    }
    let (f1, _) = usage();
    let floor_us = (f1 - f0) / floor_runs as f64 * 1e6;
    for mut server in servers {
        drop(server.stdin.take());
        let _ = server.wait();
    }

    for (_, s) in status.iter().filter(|(_, s)| s.state.failures > 0).take(3) {
        let last = s
            .state
            .last
            .as_ref()
            .map(|l| l.detail.to_string())
            .unwrap_or_default();
        println!(
            "  {} failed {} times; last: {last}",
            s.address, s.state.failures
        );
    }
    let checks: u64 = status.iter().map(|(_, s)| s.state.checks).sum();
    let failures: u64 = status.iter().map(|(_, s)| s.state.failures).sum();
    let up = status
        .iter()
        .filter(|(_, s)| s.state.health == healthcheck::Health::Up)
        .count();
    println!(
        "targets {targets} interval {interval:?} keep-alive {keep_alive} wall {elapsed:.1}s: checks {checks} ({:.0}/s), failures {failures}, up {up}",
        checks as f64 / elapsed
    );
    println!(
        "checker CPU {:.2}s = {:.1}% of one core; peak RSS {:.1} MiB",
        cpu1 - cpu0,
        (cpu1 - cpu0) / elapsed * 100.0,
        peak_kib as f64 / 1024.0
    );
    let per_check = (cpu1 - cpu0) / checks.max(1) as f64 * 1e6;
    println!(
        "per check: {per_check:.1} µs of CPU; a blocking fresh connection alone costs {floor_us:.1} µs here"
    );
    if !keep_alive {
        // The monitor's own share: what a check costs beyond the kernel's floor.
        let beyond = per_check - floor_us;
        println!(
            "beyond the floor: {beyond:.1} µs per check (target ≤ 5 µs: {})",
            if beyond <= 5.0 { "met" } else { "not met" }
        );
    }
    Ok(())
}
