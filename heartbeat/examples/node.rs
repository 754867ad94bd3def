//! `node`: one director's heartbeat, printing its role changes.
//!
//! ```text
//! node --mode piranha|auth --local ADDR[:PORT] --peer ADDR[:PORT]
//!      [--private-local ADDR[:PORT] --private-peer ADDR[:PORT]] [--primary]
//!      --keepalive 100ms --deadtime 300ms [--key-file F] [--priority N] [--failback]
//!      [--preempt-delay 0s] [--device DEV] [--private-device DEV] [--no-link-monitor]
//!      [--byte-order native|little|big] [--node-id N] [--peer-node-id N]
//! ```
//!
//! Prints `<unix-time-ms> ACTIVE|STANDBY <reason>` on stdout, the initial role first, then one
//! line per role change. Re-announcements (split brain healed in our favour) go to stderr as
//! `<unix-time-ms> REANNOUNCE <reason>`. SIGTERM or SIGINT: step down, resign (auth mode) or
//! say STOPPED (piranha mode), and exit 0. Exit 1 on bad usage, 2 when it cannot run.
//!
//! The port defaults to 539 in both modes. The key file's bytes are the key, as they are (a
//! file of hex text is a key of those ASCII characters); at least 16. Node ids default to the
//! public addresses (IPv4 as a 32-bit number), so they differ without configuration.

use std::error::Error as _;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Parser, ValueEnum};
use heartbeat::packet::ByteOrder;
use heartbeat::{
    AuthConfig, Config, Driver, PathConfig, PathSocket, Protocol, Reason, Role, RoleAction,
    RoleChange, Timers, node_id_of, read_key, unix_epoch_micros,
};
use tokio::signal::unix::{SignalKind, signal};

const PORT: u16 = 539;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// Piranha's pulse protocol.
    Piranha,
    /// The authenticated protocol.
    Auth,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Order {
    Native,
    Little,
    Big,
}

#[derive(Debug, Parser)]
#[command(
    name = "node",
    about = "Run one director's heartbeat and print its role changes"
)]
struct Args {
    /// The protocol.
    #[arg(long, value_enum)]
    mode: Mode,
    /// Our public address (and port, default 539).
    #[arg(long, value_parser = addr_port)]
    local: SocketAddr,
    /// The peer's public address (and port, default 539).
    #[arg(long, value_parser = addr_port)]
    peer: SocketAddr,
    /// Our private (second path) address.
    #[arg(long, value_parser = addr_port, requires = "private_peer")]
    private_local: Option<SocketAddr>,
    /// The peer's private address.
    #[arg(long, value_parser = addr_port, requires = "private_local")]
    private_peer: Option<SocketAddr>,
    /// This node is the primary (Piranha's master; wins ties of priority).
    #[arg(long)]
    primary: bool,
    /// Time between heartbeats, with a unit (100ms, 2s).
    #[arg(long, value_parser = duration)]
    keepalive: Duration,
    /// Silence after which the peer is dead, with a unit; more than the keepalive.
    #[arg(long, value_parser = duration)]
    deadtime: Duration,
    /// The shared key (auth mode), at least 16 bytes.
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// Priority (auth mode); the higher wins.
    #[arg(long, default_value_t = 100)]
    priority: u8,
    /// Take the active role back from a lower-precedence peer (auth mode).
    #[arg(long)]
    failback: bool,
    /// With --failback: how long the lower peer must have been active first.
    #[arg(long, value_parser = duration, default_value = "0s")]
    preempt_delay: Duration,
    /// Bind the public socket to this device (SO_BINDTODEVICE) and monitor its link.
    #[arg(long)]
    device: Option<String>,
    /// Bind the private socket to this device and monitor its link.
    #[arg(long)]
    private_device: Option<String>,
    /// Do not monitor links.
    #[arg(long)]
    no_link_monitor: bool,
    /// Byte order of pulse heartbeats sent (piranha mode).
    #[arg(long, value_enum, default_value = "native")]
    byte_order: Order,
    /// Our node id (auth mode); default: from --local.
    #[arg(long)]
    node_id: Option<u32>,
    /// The peer's node id (auth mode); default: from --peer.
    #[arg(long)]
    peer_node_id: Option<u32>,
}

/// `ADDR`, `ADDR:PORT`, `[V6]:PORT`.
fn addr_port(s: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    s.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, PORT))
        .map_err(|_| format!("bad address {s:?}: expected ADDR or ADDR:PORT"))
}

fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("bad duration {s:?}: {e} (e.g. 100ms, 6s)"))
}

fn config(args: &Args) -> Result<Config, heartbeat::Error> {
    let timers = Timers::new(args.keepalive, args.deadtime)?;
    let mut paths = vec![PathConfig::new(args.peer.ip()).with_critical(true)];
    if let Some(p) = args.private_peer {
        // Piranha: pulse checks both links; auth: the private path is a spare.
        paths.push(PathConfig::new(p.ip()).with_critical(args.mode == Mode::Piranha));
    }
    let protocol = match args.mode {
        Mode::Piranha => Protocol::Piranha {
            byte_order: match args.byte_order {
                Order::Little => ByteOrder::Little,
                Order::Big => ByteOrder::Big,
                Order::Native if cfg!(target_endian = "big") => ByteOrder::Big,
                Order::Native => ByteOrder::Little,
            },
        },
        Mode::Auth => {
            let path = args
                .key_file
                .clone()
                .ok_or_else(|| heartbeat::Error::KeyFile {
                    path: PathBuf::from("(none)"),
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "--mode auth needs --key-file",
                    ),
                })?;
            let key = read_key(&path)?;
            Protocol::Auth(
                AuthConfig::new(
                    key,
                    args.node_id.unwrap_or_else(|| node_id_of(args.local.ip())),
                    args.peer_node_id
                        .unwrap_or_else(|| node_id_of(args.peer.ip())),
                    unix_epoch_micros(),
                )
                .with_priority(args.priority)
                .with_failback(args.failback)
                .with_preempt_delay(args.preempt_delay),
            )
        }
    };
    let config = Config::new(protocol, timers)
        .with_primary(args.primary)
        .with_paths(paths);
    config.validate()?;
    Ok(config)
}

fn print(change: &RoleChange) {
    if change.action == RoleAction::Reannounce {
        let ms = millis(change.at);
        eprintln!("{ms} REANNOUNCE {}", change.reason);
    } else {
        print_role(change.role(), change.reason, change.at);
    }
}

fn millis(at: SystemTime) -> u128 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis())
}

fn print_role(role: Role, reason: Reason, at: SystemTime) {
    let mut out = std::io::stdout().lock();
    // A closed stdout must not stop the heartbeat.
    let _ = writeln!(out, "{} {role} {reason}", millis(at));
    let _ = out.flush();
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            // Usage errors exit 1 (clap's default is 2, which here means "cannot run").
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    if args.mode == Mode::Piranha && args.key_file.is_some() {
        eprintln!("node: --key-file is for --mode auth (pulse heartbeats are not authenticated)");
        return ExitCode::from(1);
    }
    let config = match config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("node: {e}");
            let mut source = e.source();
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            return ExitCode::from(1);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("node: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(args, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("node: {e}");
            let mut source = e.source();
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args, config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let mut sockets = vec![PathSocket {
        local: args.local,
        peer_port: args.peer.port(),
        device: args.device.clone(),
    }];
    if let (Some(local), Some(peer)) = (args.private_local, args.private_peer) {
        sockets.push(PathSocket {
            local,
            peer_port: peer.port(),
            device: args.private_device.clone(),
        });
    }
    let mut driver = Driver::bind(config, &sockets)?;
    if args.no_link_monitor {
        driver = driver.without_link_monitoring();
    }
    let mut roles = driver.role_changes();
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let handle = driver.spawn();

    // A node starts standby.
    print_role(Role::Standby, Reason::Startup, SystemTime::now());
    loop {
        tokio::select! {
            change = roles.recv() => {
                let Some(change) = change else {
                    // The driver stopped on its own: an error.
                    return Ok(handle.shutdown().await.map(drop)?);
                };
                print(&change);
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    let counters = handle.shutdown().await?;
    while let Ok(change) = roles.try_recv() {
        print(&change);
    }
    eprintln!(
        "node: stopped; {} heartbeats sent, {} accepted, {} rejected, {} stalls",
        counters.sent,
        counters.accepted,
        counters.total_rejected(),
        counters.stalls
    );
    Ok(())
}
