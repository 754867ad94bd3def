//! `ipvsctl`: a small ipvsadm-alike on top of the `ipvs` crate.
//!
//! ```text
//! ipvsctl list [--stats|--rate|--json]
//! ipvsctl add-service --tcp-service 10.0.0.1:80 --scheduler rr
//! ipvsctl add-dest --tcp-service 10.0.0.1:80 --real-server 10.0.1.1:80 --masquerading --weight 2
//! ipvsctl apply table.json
//! ```

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use ipvs::reconcile::{self, Ownership};
use ipvs::*;

#[derive(Parser)]
#[command(
    name = "ipvsctl",
    version,
    about = "Program Linux IPVS through the ipvs crate"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// List the table like `ipvsadm -Ln`.
    List {
        /// Counters, like `--stats`.
        #[arg(long)]
        stats: bool,
        /// Rates, like `--rate`.
        #[arg(long)]
        rate: bool,
        /// The table as JSON (what `apply` accepts).
        #[arg(long)]
        json: bool,
    },
    /// Add a virtual service (`-A`).
    AddService(ServiceOpts),
    /// Edit a virtual service (`-E`).
    EditService(ServiceOpts),
    /// Delete a virtual service (`-D`).
    DelService(KeyOpts),
    /// Add a real server (`-a`).
    AddDest(DestOpts),
    /// Edit a real server (`-e`).
    EditDest(DestOpts),
    /// Delete a real server (`-d`).
    DelDest {
        #[command(flatten)]
        key: KeyOpts,
        /// Real server address[:port].
        #[arg(short = 'r', long = "real-server")]
        real_server: String,
    },
    /// Delete every service (`-C`).
    Flush,
    /// Show or set the timeouts: `timeouts [TCP TCPFIN UDP]`.
    Timeouts { values: Vec<u32> },
    /// Sync daemons: `daemon list`, `daemon start STATE --mcast-interface IF --syncid N`, `daemon stop STATE`.
    Daemon {
        /// list | start | stop
        action: String,
        /// master | backup
        state: Option<String>,
        #[arg(long = "mcast-interface")]
        mcast_interface: Option<String>,
        #[arg(long, default_value_t = 0)]
        syncid: u32,
        #[arg(long = "sync-maxlen")]
        sync_maxlen: Option<u16>,
        #[arg(long = "mcast-group")]
        mcast_group: Option<IpAddr>,
        #[arg(long = "mcast-port")]
        mcast_port: Option<u16>,
        #[arg(long = "mcast-ttl")]
        mcast_ttl: Option<u8>,
    },
    /// Reconcile the kernel to the table in FILE.json (as printed by `list --json`).
    Apply {
        /// JSON file.
        file: String,
        /// Dump + diff only; print the plan without applying it.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Args, Clone)]
struct KeyOpts {
    #[arg(short = 't', long = "tcp-service")]
    tcp: Option<String>,
    #[arg(short = 'u', long = "udp-service")]
    udp: Option<String>,
    #[arg(long = "sctp-service")]
    sctp: Option<String>,
    #[arg(short = 'f', long = "fwmark-service")]
    fwmark: Option<u32>,
    /// fwmark service is IPv6.
    #[arg(short = '6', long = "ipv6")]
    ipv6: bool,
}

#[derive(Args)]
struct ServiceOpts {
    #[command(flatten)]
    key: KeyOpts,
    #[arg(short = 's', long, default_value = "wlc")]
    scheduler: String,
    /// Persistent service, with an optional timeout (default 300 s).
    #[arg(short = 'p', long, num_args = 0..=1, default_missing_value = "300")]
    persistent: Option<u32>,
    /// Persistence netmask (dotted IPv4 mask or prefix length).
    #[arg(short = 'M', long)]
    netmask: Option<String>,
    /// Scheduler flags: sh-fallback, sh-port, mh-fallback, mh-port, flag-1..3.
    #[arg(short = 'b', long = "sched-flags")]
    sched_flags: Option<String>,
    /// Persistence engine.
    #[arg(long)]
    pe: Option<String>,
    /// One-packet scheduling.
    #[arg(short = 'o', long)]
    ops: bool,
}

#[derive(Args)]
struct DestOpts {
    #[command(flatten)]
    key: KeyOpts,
    #[arg(short = 'r', long = "real-server")]
    real_server: String,
    #[arg(short = 'm', long)]
    masquerading: bool,
    #[arg(short = 'g', long)]
    gatewaying: bool,
    #[arg(short = 'i', long)]
    ipip: bool,
    #[arg(short = 'w', long, default_value_t = 1)]
    weight: u32,
    #[arg(short = 'x', long = "u-threshold", default_value_t = 0)]
    u_threshold: u32,
    #[arg(short = 'y', long = "l-threshold", default_value_t = 0)]
    l_threshold: u32,
    #[arg(long = "tun-type")]
    tun_type: Option<String>,
    #[arg(long = "tun-port", default_value_t = 0)]
    tun_port: u16,
    #[arg(long = "tun-nocsum")]
    tun_nocsum: bool,
    #[arg(long = "tun-csum")]
    tun_csum: bool,
    #[arg(long = "tun-remcsum")]
    tun_remcsum: bool,
}

type Res<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn parse_sock(s: &str) -> Res<(IpAddr, Option<u16>)> {
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Ok((sa.ip(), Some(sa.port())));
    }
    let t = s.trim_start_matches('[').trim_end_matches(']');
    Ok((
        t.parse::<IpAddr>()
            .map_err(|e| format!("bad address {s:?}: {e}"))?,
        None,
    ))
}

fn key_of(k: &KeyOpts) -> Res<ServiceKey> {
    let one = |s: &str, p: Protocol| -> Res<ServiceKey> {
        let (addr, port) = parse_sock(s)?;
        Ok(ServiceKey::Addr {
            protocol: p,
            addr,
            port: port.unwrap_or(0),
        })
    };
    match (&k.tcp, &k.udp, &k.sctp, k.fwmark) {
        (Some(s), None, None, None) => one(s, Protocol::Tcp),
        (None, Some(s), None, None) => one(s, Protocol::Udp),
        (None, None, Some(s), None) => one(s, Protocol::Sctp),
        (None, None, None, Some(m)) => Ok(ServiceKey::fwmark(
            if k.ipv6 { Family::Inet6 } else { Family::Inet },
            m,
        )),
        _ => Err(
            "give exactly one of --tcp-service, --udp-service, --sctp-service, --fwmark-service"
                .into(),
        ),
    }
}

fn service_of(o: &ServiceOpts) -> Res<Service> {
    let mut s = Service::new(key_of(&o.key)?).with_scheduler(Scheduler::from_name(&o.scheduler));
    if let Some(t) = o.persistent {
        s = s.persistent(t);
    }
    if let Some(m) = &o.netmask {
        s.netmask = Some(match m.parse::<std::net::Ipv4Addr>() {
            Ok(a) => u32::from(a).leading_ones() as u8,
            Err(_) => m.parse().map_err(|e| format!("bad netmask {m:?}: {e}"))?,
        });
    }
    for f in o.sched_flags.iter().flat_map(|f| f.split(',')) {
        match f {
            "sh-fallback" | "mh-fallback" | "flag-1" => s.flags.sched_fallback = true,
            "sh-port" | "mh-port" | "flag-2" => s.flags.sched_port = true,
            "flag-3" => s.flags.sched_flag_3 = true,
            o => return Err(format!("unknown scheduler flag {o:?}").into()),
        }
    }
    s.persistence_engine = o.pe.clone();
    s.flags.one_packet = o.ops;
    Ok(s.normalized())
}

fn dest_of(key: &ServiceKey, o: &DestOpts) -> Res<Destination> {
    let (addr, port) = parse_sock(&o.real_server)?;
    let svc_port = match key {
        ServiceKey::Addr { port, .. } => *port,
        ServiceKey::Fwmark { .. } => 0,
    };
    let forwarding = if o.masquerading {
        Forwarding::Masquerade
    } else if o.ipip || o.tun_type.is_some() {
        let tun_type = match o.tun_type.as_deref() {
            None | Some("ipip") => TunnelType::Ipip,
            Some("gue") => TunnelType::Gue,
            Some("gre") => TunnelType::Gre,
            Some(t) => return Err(format!("unknown tunnel type {t:?}").into()),
        };
        Forwarding::Tunnel {
            tun_type,
            tun_port: o.tun_port,
            csum: o.tun_csum && !o.tun_nocsum,
            remcsum: o.tun_remcsum,
        }
    } else {
        let _ = o.gatewaying;
        Forwarding::DirectRoute
    };
    // Like ipvsadm: DR and tunnels of address services use the service port.
    let port = match (forwarding, key) {
        (Forwarding::Masquerade, _) | (_, ServiceKey::Fwmark { .. }) => port.unwrap_or(svc_port),
        _ => svc_port,
    };
    Ok(Destination {
        addr,
        port,
        forwarding,
        weight: o.weight,
        upper_threshold: o.u_threshold,
        lower_threshold: o.l_threshold,
    })
}

async fn list(h: &Handle, stats: bool, rate: bool, json: bool) -> Res<()> {
    let mut t = h.table().await?;
    listing::sort(&mut t);
    if json {
        let table: Table = t.into_iter().collect();
        println!("{}", serde_json::to_string_pretty(&table)?);
        return Ok(());
    }
    let info = h.info().await?;
    let (ma, mi, pa) = info.version_triple();
    println!(
        "IP Virtual Server version {ma}.{mi}.{pa} (size={})",
        info.conn_tab_size
    );
    if stats || rate {
        let rate = !stats;
        println!(
            "{}",
            if rate {
                listing::RATE_HEADER
            } else {
                listing::STATS_HEADER
            }
        );
        for (s, ds) in &t {
            println!("{}", listing::service_stats_line(s, rate));
            for d in ds {
                println!("{}", listing::destination_stats_line(d, rate));
            }
        }
        return Ok(());
    }
    println!("{}", listing::HEADER);
    for (s, ds) in &t {
        println!("{}", listing::service_line(&s.service));
        for d in ds {
            println!("{}", listing::destination_line(d));
        }
    }
    Ok(())
}

fn state_of(s: Option<&str>) -> Res<DaemonState> {
    match s {
        Some("master") => Ok(DaemonState::Master),
        Some("backup") => Ok(DaemonState::Backup),
        o => Err(format!("daemon state must be master or backup, not {o:?}").into()),
    }
}

async fn run(cli: Cli) -> Res<()> {
    let (conn, h) = ipvs::new_connection()?;
    tokio::spawn(conn);
    match cli.cmd {
        Cmd::List { stats, rate, json } => list(&h, stats, rate, json).await?,
        Cmd::AddService(o) => h.add_service(&service_of(&o)?).await?,
        Cmd::EditService(o) => h.edit_service(&service_of(&o)?).await?,
        Cmd::DelService(k) => h.del_service(&key_of(&k)?).await?,
        Cmd::AddDest(o) => {
            let k = key_of(&o.key)?;
            h.add_destination(&k, &dest_of(&k, &o)?).await?
        }
        Cmd::EditDest(o) => {
            let k = key_of(&o.key)?;
            h.edit_destination(&k, &dest_of(&k, &o)?).await?
        }
        Cmd::DelDest { key, real_server } => {
            let k = key_of(&key)?;
            let (addr, port) = parse_sock(&real_server)?;
            let port = port.unwrap_or(match k {
                ServiceKey::Addr { port, .. } => port,
                ServiceKey::Fwmark { .. } => 0,
            });
            h.del_destination(&k, addr, port).await?
        }
        Cmd::Flush => h.flush().await?,
        Cmd::Timeouts { values } => match values.as_slice() {
            [] => {
                let t = h.timeouts().await?;
                println!(
                    "Timeout (tcp tcpfin udp): {} {} {}",
                    t.tcp, t.tcp_fin, t.udp
                );
            }
            [tcp, tcp_fin, udp] => {
                h.set_timeouts(&Timeouts {
                    tcp: *tcp,
                    tcp_fin: *tcp_fin,
                    udp: *udp,
                })
                .await?
            }
            _ => return Err("timeouts takes no value or three: TCP TCPFIN UDP".into()),
        },
        Cmd::Daemon {
            action,
            state,
            mcast_interface,
            syncid,
            sync_maxlen,
            mcast_group,
            mcast_port,
            mcast_ttl,
        } => match action.as_str() {
            "list" => {
                for d in h.daemons().await? {
                    println!("{}", serde_json::to_string(&d)?);
                }
            }
            "start" => {
                let mut d = Daemon::new(
                    state_of(state.as_deref())?,
                    mcast_interface.ok_or("--mcast-interface is required")?,
                    syncid,
                );
                d.sync_maxlen = sync_maxlen;
                d.mcast_group = mcast_group;
                d.mcast_port = mcast_port;
                d.mcast_ttl = mcast_ttl;
                h.add_daemon(&d).await?
            }
            "stop" => h.del_daemon(state_of(state.as_deref())?).await?,
            o => {
                return Err(format!("daemon action must be list, start or stop, not {o:?}").into());
            }
        },
        Cmd::Apply { file, dry_run } => {
            let desired: Table = serde_json::from_str(&std::fs::read_to_string(&file)?)?;
            if dry_run {
                let observed = reconcile::observe(&h).await?;
                for op in reconcile::plan(&desired, &observed, &Ownership::All).ops {
                    println!("{op}");
                }
                return Ok(());
            }
            let report = reconcile::apply(&h, &desired, &Ownership::All).await?;
            let mut failed = None;
            for (op, r) in report.results {
                match r {
                    Ok(()) => println!("{op}"),
                    Err(e) => {
                        eprintln!("{op}: {e}");
                        failed = Some(e);
                    }
                }
            }
            if let Some(e) = failed {
                return Err(e.into());
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    if let Some(what) = lvs_tools::generate_requested() {
        return lvs_tools::generate(<Cli as clap::CommandFactory>::command(), &what);
    }
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ipvsctl: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ipvsctl: {e}");
            ExitCode::FAILURE
        }
    }
}
