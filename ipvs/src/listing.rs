//! `ipvsadm -Ln`'s layout, byte for byte: its order, its header lines and its service and
//! destination lines, with `--stats` and `--rate` numbers. For programs that print the table as
//! operators know it (the `ipvsctl` example, a director's status).
//!
//! ```
//! use ipvs::{DestinationEntry, Destination, Forwarding, Service, ServiceKey, listing};
//! let svc = Service::new(ServiceKey::tcp("192.168.1.250".parse().unwrap(), 80));
//! assert_eq!(listing::service_line(&svc), "TCP  192.168.1.250:80 wlc");
//! let d = DestinationEntry {
//!     destination: Destination::new("10.0.0.100".parse().unwrap(), 80)
//!         .with_forwarding(Forwarding::Masquerade),
//!     active_conns: 0,
//!     inactive_conns: 0,
//!     persistent_conns: 0,
//!     stats: Default::default(),
//! };
//! assert_eq!(
//!     listing::destination_line(&d),
//!     "  -> 10.0.0.100:80                Masq    1      0          0         "
//! );
//! ```

use std::net::IpAddr;

use crate::model::{
    DestinationEntry, Family, Scheduler, Service, ServiceEntry, ServiceKey, Stats, fmt_addr_port,
};

/// The header of the plain listing (`ipvsadm -Ln`), after the version line.
pub const HEADER: &str = "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn";
/// The header of `ipvsadm -Ln --stats`.
pub const STATS_HEADER: &str = "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n  -> RemoteAddress:Port";
/// The header of `ipvsadm -Ln --rate`.
pub const RATE_HEADER: &str = "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n  -> RemoteAddress:Port";

/// Sorts a dumped table as ipvsadm lists it: services by fwmark, family, protocol, address and
/// port; destinations by family, address and port.
pub fn sort(table: &mut [(ServiceEntry, Vec<DestinationEntry>)]) {
    table.sort_by_key(|(s, _)| sort_key(&s.service.key));
    for (_, d) in table.iter_mut() {
        d.sort_by_key(|d| {
            (
                Family::of(&d.destination.addr).to_raw(),
                d.destination.addr,
                d.destination.port,
            )
        });
    }
}

/// A service's line (`TCP  192.168.1.250:80 wlc persistent 300`).
pub fn service_line(s: &Service) -> String {
    format!("{} {}{}", svc_name(&s.key), s.scheduler, svc_flags(s))
}

/// A destination's line (`  -> 10.0.0.100:80                Masq    1      0          0`).
pub fn destination_line(d: &DestinationEntry) -> String {
    let a = fmt_addr_port(&d.destination.addr, d.destination.port);
    format!(
        "  -> {a:<28} {:<7} {:<6} {:<10} {:<10}",
        d.destination.forwarding.name(),
        d.destination.weight,
        d.active_conns,
        d.inactive_conns
    )
}

/// A service's line with its counters (`rate`: per second) as `--stats` / `--rate` list them.
pub fn service_stats_line(s: &ServiceEntry, rate: bool) -> String {
    format!(
        "{:<33}{}",
        svc_name(&s.service.key),
        numbers(&s.stats, rate)
    )
}

/// A destination's line with its counters.
pub fn destination_stats_line(d: &DestinationEntry, rate: bool) -> String {
    let a = fmt_addr_port(&d.destination.addr, d.destination.port);
    format!("  -> {a:<28}{}", numbers(&d.stats, rate))
}

fn numbers(s: &Stats, rate: bool) -> String {
    let v = if rate {
        [s.cps, s.in_pps, s.out_pps, s.in_bps, s.out_bps]
    } else {
        [s.conns, s.in_pkts, s.out_pkts, s.in_bytes, s.out_bytes]
    };
    v.iter().map(|n| largenum(*n)).collect()
}

/// ipvsadm's sort key for services: fwmark, family, protocol, address, port.
fn sort_key(k: &ServiceKey) -> (u32, u16, u16, IpAddr, u16) {
    match k {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => (
            0,
            Family::of(addr).to_raw(),
            protocol.to_raw(),
            *addr,
            *port,
        ),
        ServiceKey::Fwmark { family, mark } => {
            (*mark, family.to_raw(), 0, IpAddr::from([0, 0, 0, 0]), 0)
        }
    }
}

fn svc_name(k: &ServiceKey) -> String {
    match k {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            format!("{:<4} {}", protocol.name(), fmt_addr_port(addr, *port))
        }
        ServiceKey::Fwmark { family, mark } => {
            format!(
                "FWM  {mark}{}",
                if *family == Family::Inet6 {
                    " IPv6"
                } else {
                    ""
                }
            )
        }
    }
}

fn largenum(i: u64) -> String {
    if i < 100_000_000 {
        format!("{i:9}")
    } else if i < 1_000_000_000 {
        format!("{:8}K", i / 1000)
    } else if i < 100_000_000_000 {
        format!("{:8}M", i / 1_000_000)
    } else if i < 100_000_000_000_000 {
        format!("{:8}G", i / 1_000_000_000)
    } else {
        format!("{:8}T", i / 1_000_000_000_000)
    }
}

fn svc_flags(s: &Service) -> String {
    let mut out = String::new();
    let prefix = match s.scheduler {
        Scheduler::SourceHashing => "sh-",
        Scheduler::MaglevHashing => "mh-",
        _ => "",
    };
    let mut f = Vec::new();
    if s.flags.sched_fallback {
        f.push(if prefix.is_empty() {
            "flag-1".to_string()
        } else {
            format!("{prefix}fallback")
        });
    }
    if s.flags.sched_port {
        f.push(if prefix.is_empty() {
            "flag-2".to_string()
        } else {
            format!("{prefix}port")
        });
    }
    if s.flags.sched_flag_3 {
        f.push("flag-3".to_string());
    }
    if !f.is_empty() {
        out += &format!(" ({})", f.join(","));
    }
    if s.flags.persistent {
        out += &format!(" persistent {}", s.timeout);
        if let Some(p) = s.netmask {
            match s.key.family() {
                Family::Inet => {
                    let m = if p == 0 {
                        0
                    } else {
                        u32::MAX << (32 - u32::from(p))
                    };
                    out += &format!(" mask {}", std::net::Ipv4Addr::from(m));
                }
                Family::Inet6 => out += &format!(" mask {p}"),
            }
        }
        if let Some(pe) = &s.persistence_engine {
            out += &format!(" pe {pe}");
        }
    }
    if s.flags.one_packet {
        out += " ops";
    }
    out
}
