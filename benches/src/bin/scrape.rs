//! Scrapes at scale: does reading the director's state delay its heartbeat? The director runs
//! 10,000 virtual services × 10 real servers (100,000 destinations, TCP connect checks) with a
//! Piranha heartbeat at a 100 ms keepalive toward a peer address where this program records the
//! arrival of every heartbeat. Over a window without scrapes, then over a window of
//! back-to-back `GET /metrics`, it measures how late each heartbeat is against its schedule;
//! then, side by side on the same table, how long Debian's `prometheus-node-exporter` (its IPVS
//! collector alone) takes to answer. Run as root in a kernel with IPVS (`cargo xtask
//! bench-report --only scrape` runs it in the rig, qemu with 2 CPUs):
//!
//! ```text
//! cargo build --release -p director -p lvs-benches
//! cargo xtask vm --backend qemu --cpus 2 --mem 2048 -- target/release/scrape --director target/release/director
//! ```
//!
//! Prints a Markdown section on stdout.

use std::{
    io::{Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket},
    path::PathBuf,
    process::{Command, ExitCode},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use clap::Parser;
use ipvs::{
    Destination, Forwarding, Handle, Service, ServiceKey, Table, VirtualServer,
    reconcile::{Ownership, Reconciler},
};
use lvs_benches::stats::{millis, percentile, summarize};
use testkit::{Logged, NetNs};

const PER_SERVICE: u32 = 10;
const FIRST_PORT: u32 = 20_000;
const KEEPALIVE: Duration = Duration::from_millis(100);
const METRICS: &str = "127.0.0.1:9135";
const NODE_EXPORTER: &str = "127.0.0.1:9100";
/// `linux/sockios.h`: the receive time of a socket's last datagram, as a `timespec`.
const SIOCGSTAMPNS: libc::c_ulong = 0x8907;

#[derive(Parser)]
#[command(about = "Heartbeat lateness under back-to-back scrapes, 10,000 services × 10")]
struct Cli {
    /// The director binary.
    #[arg(long)]
    director: PathBuf,
    /// Virtual services (each with 10 real servers).
    #[arg(long, default_value_t = 10_000)]
    services: u32,
    /// Seconds of each measuring window.
    #[arg(long, default_value_t = 60)]
    window: u64,
    /// The checks' interval in seconds (`timeout` in lvs.cf).
    #[arg(long, default_value_t = 600)]
    interval: u32,
    /// Seconds between the director becoming active and the first window.
    #[arg(long, default_value_t = 30)]
    settle: u64,
    /// node_exporter's binary.
    #[arg(long, default_value = "prometheus-node-exporter")]
    node_exporter: String,
}

/// Real server `j`: ten addresses, each serving every service's port.
fn rs(j: u32) -> Ipv4Addr {
    Ipv4Addr::new(10, 1, 0, 1 + j as u8)
}

fn lvs_cf(cli: &Cli) -> String {
    let mut c = String::from(
        "serial_no = 1\nprimary = 10.1.255.1\nbackup = 10.1.255.2\nbackup_active = 1\n\
         service = lvs\nheartbeat = 1\nheartbeat_port = 539\nkeepalive = 1\ndeadtime = 3\n\
         network = direct\ndebug_level = NONE\n",
    );
    for s in 0..cli.services {
        c += &format!(
            "virtual vs{s} {{\n  active = 1\n  address = 10.2.0.1 eth0:1\n  \
             vip_nmask = 255.255.255.255\n  port = {}\n  scheduler = wlc\n  protocol = tcp\n  \
             timeout = {}\n  reentry = 1\n",
            FIRST_PORT + s,
            cli.interval
        );
        for j in 0..PER_SERVICE {
            c += &format!(
                "  server rs{j} {{\n    address = {}\n    active = 1\n    weight = 1\n  }}\n",
                rs(j)
            );
        }
        c += "}\n";
    }
    c
}

/// The real servers: a listener on every service's port, on every address of `srv`, that
/// accepts and closes.
fn start_servers(srv: &NetNs, services: u32) -> std::thread::JoinHandle<()> {
    let (ready, wait) = std::sync::mpsc::channel();
    let thread = srv
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async move {
                for s in 0..services {
                    let port = FIRST_PORT + s;
                    let l = tokio::net::TcpListener::bind(("0.0.0.0", port as u16))
                        .await
                        .expect("a listener");
                    tokio::spawn(async move { while l.accept().await.is_ok() {} });
                }
                let _ = ready.send(());
                std::future::pending::<()>().await;
            });
        })
        .expect("the servers start");
    wait.recv().expect("the servers listen");
    thread
}

/// Records when each datagram reaches `addr` in `srv` (the director's heartbeat peer): the
/// kernel's receive time (`SIOCGSTAMPNS`, the wall clock), so that this thread's own wake-up
/// latency does not count.
fn record_heartbeats(srv: &NetNs, addr: &str) -> Arc<Mutex<Vec<Duration>>> {
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let into = arrivals.clone();
    let addr = addr.to_string();
    let (ready, wait) = std::sync::mpsc::channel();
    srv.spawn(move || {
        use std::os::fd::AsRawFd;
        let socket = UdpSocket::bind(&addr).expect("the peer's address");
        let _ = ready.send(());
        let mut buf = [0u8; 512];
        while socket.recv(&mut buf).is_ok() {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: SIOCGSTAMPNS writes one timespec for the socket's last datagram.
            let got = unsafe { libc::ioctl(socket.as_raw_fd(), SIOCGSTAMPNS, &mut ts) };
            let at = if got == 0 {
                Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
            } else {
                now()
            };
            into.lock().expect("arrivals").push(at);
        }
    })
    .expect("the peer starts");
    wait.recv().expect("the peer listens");
    arrivals
}

/// The wall clock, as the kernel's timestamps.
fn now() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// How late each heartbeat in `[from, to)` came, by the heartbeat's own rule: the next one is
/// due a keepalive after the last one was due, or a keepalive after it was sent when that was
/// more than a keepalive late. The first one is taken as on time.
fn lateness(arrivals: &[Duration], from: Duration, to: Duration) -> Vec<Duration> {
    let mut inside = arrivals.iter().copied().filter(|t| *t >= from && *t < to);
    let Some(first) = inside.next() else {
        return Vec::new();
    };
    let (mut due, mut sent) = (first, first);
    let mut late = Vec::new();
    for t in inside {
        due = if sent.saturating_sub(due) < KEEPALIVE {
            due + KEEPALIVE
        } else {
            sent + KEEPALIVE
        };
        late.push(t.saturating_sub(due));
        sent = t;
    }
    late
}

/// Back-to-back `GET /metrics` on `addr` from `ns` for `window`: each one's duration and size.
fn scrape(ns: &NetNs, addr: &str, window: Duration) -> (Vec<Duration>, Vec<usize>) {
    let addr: SocketAddr = addr.parse().expect("address");
    ns.run(move || {
        let (mut took, mut sizes) = (Vec::new(), Vec::new());
        let end = Instant::now() + window;
        while Instant::now() < end {
            let t = Instant::now();
            let Ok(mut s) = TcpStream::connect(addr) else {
                continue;
            };
            let _ = s.write_all(b"GET /metrics HTTP/1.0\r\nHost: bench\r\n\r\n");
            let mut body = Vec::new();
            if s.read_to_end(&mut body).is_ok() && body.starts_with(b"HTTP/1.") {
                took.push(t.elapsed());
                sizes.push(body.len());
            }
        }
        (took, sizes)
    })
    .expect("netns")
}

/// The table the director's lvs.cf describes, every real server in: the director adopts it
/// at start (as after a restart) and keeps each server until a check of it fails.
fn table(services: u32) -> Table {
    let mut t = Table::default();
    for s in 0..services {
        let port = (FIRST_PORT + s) as u16;
        t.services.push(VirtualServer {
            service: Service::new(ServiceKey::tcp(Ipv4Addr::new(10, 2, 0, 1).into(), port)),
            destinations: (0..PER_SERVICE)
                .map(|j| {
                    Destination::new(rs(j).into(), port).with_forwarding(Forwarding::DirectRoute)
                })
                .collect(),
        });
    }
    t
}

fn count_dests(rt: &tokio::runtime::Runtime, h: &Handle) -> usize {
    rt.block_on(h.table())
        .map(|t| t.iter().map(|(_, d)| d.len()).sum())
        .unwrap_or(0)
}

fn wait_answering(ns: &NetNs, addr: &str, limit: Duration) -> bool {
    let addr: SocketAddr = addr.parse().expect("address");
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if ns
            .run(move || TcpStream::connect(addr).is_ok())
            .unwrap_or(false)
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn raise_open_files() {
    let limit = libc::rlimit {
        rlim_cur: 1 << 18,
        rlim_max: 1 << 18,
    };
    // SAFETY: setrlimit reads the struct we pass.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        eprintln!("scrape: cannot raise the open-file limit");
    }
}

struct Window {
    lateness: Vec<Duration>,
    scrapes: Vec<Duration>,
    sizes: Vec<usize>,
}

fn row(name: &str, w: &Window) {
    let p = |q| percentile(&w.lateness, q).map_or("—".into(), millis_1);
    let s = summarize(&w.scrapes);
    let size = w.sizes.iter().max().copied().unwrap_or(0);
    println!(
        "| {name} | {} | {} | {} | {} | {} | {} | {} | {:.1} MB |",
        w.lateness.len(),
        p(50.0),
        p(99.0),
        w.lateness
            .iter()
            .max()
            .copied()
            .map_or("—".into(), millis_1),
        w.scrapes.len(),
        s.map_or("—".into(), |s| millis(s.median)),
        s.map_or("—".into(), |s| millis(s.worst)),
        size as f64 / 1e6
    );
}

fn millis_1(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    raise_open_files();
    let lvs_benches::lab::Pair {
        lb,
        srv,
        srv_dev,
        rt,
        ipvs: h,
    } = lvs_benches::lab::Pair::new();
    lb.ip(["link", "set", "lo", "up"]).expect("lo");
    for j in 0..PER_SERVICE {
        srv.ip(["address", "add", &format!("{}/16", rs(j)), "dev", &srv_dev])
            .expect("a real server's address");
    }
    let _servers = start_servers(&srv, cli.services);
    let arrivals = record_heartbeats(&srv, "10.1.255.2:539");
    let id = std::process::id();
    let cf = std::env::temp_dir().join(format!("scrape-{id}.cf"));
    let overlay = std::env::temp_dir().join(format!("scrape-{id}.toml"));
    std::fs::write(&cf, lvs_cf(&cli)).expect("lvs.cf");
    std::fs::write(
        &overlay,
        format!(
            "[heartbeat]\nkeepalive = \"100ms\"\ndeadtime = \"300ms\"\n\n\
             [director]\nmetrics = \"{METRICS}\"\n"
        ),
    )
    .expect("overlay");
    let mut cmd = lb.command(&cli.director);
    cmd.args(["run", "--release-on-exit", "--config"])
        .arg(&cf)
        .arg("--settings")
        .arg(&overlay)
        .arg("--socket")
        .arg(std::env::temp_dir().join(format!("scrape-{id}.sock")));
    // The whole table first (its first round of checks would take the interval): the director
    // adopts it, as after a restart.
    let all = (cli.services * PER_SERVICE) as usize;
    let report =
        rt.block_on(Reconciler::new(h.clone()).apply(&table(cli.services), &Ownership::All));
    if let Some(e) = report.ok().as_ref().and_then(|r| r.first_error()) {
        eprintln!("scrape: cannot program the table: {e}");
        return ExitCode::FAILURE;
    }
    let mut director = Logged::spawn(cmd, "director").expect("the director starts");
    if director
        .try_wait_for("took over 1 addresses", Duration::from_secs(600))
        .is_none()
    {
        eprintln!("scrape: the director did not become active within 10 minutes");
        return ExitCode::FAILURE;
    }
    let dests = count_dests(&rt, &h);
    if dests != all {
        eprintln!("scrape: {dests} destinations in the table, not {all}");
        return ExitCode::FAILURE;
    }
    eprintln!("scrape: the director runs, {all} destinations");
    let window = Duration::from_secs(cli.window);
    // Adopting the table and the first checks are over before anything is measured.
    std::thread::sleep(Duration::from_secs(cli.settle));

    let idle_from = now();
    std::thread::sleep(window);
    let idle_to = now();
    let (scrapes, sizes) = scrape(&lb, METRICS, window);
    let scraped_to = now();
    let heard = arrivals.lock().expect("arrivals").clone();
    let idle = Window {
        lateness: lateness(&heard, idle_from, idle_to),
        scrapes: Vec::new(),
        sizes: Vec::new(),
    };
    let busy = Window {
        lateness: lateness(&heard, idle_to, scraped_to),
        scrapes,
        sizes,
    };
    eprintln!(
        "scrape: idle p99 {:?}, scraping p99 {:?} over {} scrapes",
        percentile(&idle.lateness, 99.0),
        percentile(&busy.lateness, 99.0),
        busy.scrapes.len()
    );

    // The peer, on the same table: node_exporter with its IPVS collector alone.
    let mut peer = lb.command(&cli.node_exporter);
    peer.args([
        &format!("--web.listen-address={NODE_EXPORTER}"),
        "--collector.disable-defaults",
        "--collector.ipvs",
    ]);
    let node = Logged::spawn(peer, "node_exporter").ok();
    let theirs = if node.is_some() && wait_answering(&lb, NODE_EXPORTER, Duration::from_secs(30)) {
        let from = now();
        let (scrapes, sizes) = scrape(&lb, NODE_EXPORTER, window);
        let heard = arrivals.lock().expect("arrivals").clone();
        Some(Window {
            lateness: lateness(&heard, from, now()),
            scrapes,
            sizes,
        })
    } else {
        None
    };
    let _ = director.signal(libc::SIGTERM);
    let _ = director.child.wait();
    drop(node);
    let _ = Command::new("rm").arg("-f").arg(&cf).arg(&overlay).status();

    println!("## Scrapes at scale: heartbeat lateness, ours vs node_exporter\n");
    println!(
        "The director with {} virtual services × {PER_SERVICE} real servers ({all} destinations, \
         direct routing, TCP connect checks every {} s; the table is programmed before it starts \
         and adopted, as after a restart) and a Piranha heartbeat at a 100 ms \
         keepalive toward a peer address where every heartbeat's arrival is recorded \
         (`benches/src/bin/scrape.rs`, in the rig). Lateness: how far each heartbeat arrived (the \
         kernel's receive timestamp) after it was due by the heartbeat's own rule (a keepalive \
         after the previous one was due; the first of each window taken as on time). {} s after \
         the director became active, first {} s with no scrape, then {} s of back-to-back `GET /metrics` on the director's endpoint (each \
         gathers the kernel's table, the checks' state and the counters, and renders every \
         series), then, on the same table, back-to-back scrapes of Debian's \
         `prometheus-node-exporter` with only its IPVS collector (the director's heartbeat still \
         measured). Target: p99 ≤ 10 ms while scraping. The heartbeat runs on a thread of its \
         own; the scrape is gathered and rendered away from the director's event loop.\n",
        cli.services, cli.interval, cli.settle, cli.window, cli.window
    );
    println!(
        "| window | heartbeats | lateness p50 | p99 | max | scrapes | scrape median | worst | size |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    row("no scrape", &idle);
    row("ours: back-to-back `/metrics`", &busy);
    match &theirs {
        Some(w) => row("node_exporter (IPVS collector): back-to-back", w),
        None => println!(
            "| node_exporter | not run ({}) | | | | | | | |",
            cli.node_exporter
        ),
    }
    println!();
    ExitCode::SUCCESS
}
