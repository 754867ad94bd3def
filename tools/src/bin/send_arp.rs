//! `send_arp`: a drop-in for Piranha's `send_arp`, and a modern form.
//!
//! ```text
//! send_arp [-i dev] src_ip src_hw targ_ip targ_hw
//!     Piranha's form: one ARP reply exactly as Piranha's send_arp sends it (targ_ip is
//!     ignored, as there). Exit 1 on bad usage.
//!
//! send_arp --interface eth0 [--form request|reply] [--count 5] [--interval 1s] ADDR...
//!     IPv4 addresses get gratuitous ARPs of the given form (default request), IPv6
//!     addresses unsolicited neighbour advertisements; `count` rounds, `interval` apart.
//! ```

use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;

use arp_announce::{Announcer, ArpForm, Interface, Options, Schedule, frame, parse_mac};

const USAGE: &str = "usage: send_arp [-i dev] src_ip_addr src_hw_addr targ_ip_addr targ_hw_addr\n       send_arp --interface DEV [--form request|reply] [--count N] [--interval DURATION] ADDR...";

/// Both forms as clap describes them, for `--help`, `--version` and the man page (the
/// arguments themselves are parsed as Piranha's send_arp parsed them).
fn command() -> clap::Command {
    use clap::{Arg, ArgAction, Command};
    Command::new("send_arp")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Announce addresses: Piranha's send_arp, and gratuitous ARP / unsolicited NA")
        .override_usage(USAGE.trim_start_matches("usage: "))
        .arg(
            Arg::new("i")
                .short('i')
                .value_name("DEV")
                .help("Piranha's form: the interface"),
        )
        .arg(
            Arg::new("interface")
                .long("interface")
                .value_name("DEV")
                .help("The interface"),
        )
        .arg(
            Arg::new("form")
                .long("form")
                .value_parser(["request", "reply"])
                .help("ARP request (RFC 5227, the default) or reply (Piranha's)"),
        )
        .arg(
            Arg::new("count")
                .long("count")
                .value_name("N")
                .help("Rounds (default 5)"),
        )
        .arg(
            Arg::new("interval")
                .long("interval")
                .value_name("DURATION")
                .help("Between rounds (default 1s)"),
        )
        .arg(
            Arg::new("ADDR")
                .action(ArgAction::Append)
                .help("Piranha's: src_ip src_hw targ_ip targ_hw; the modern form: addresses"),
        )
        .after_help("Exit status: 0 sent, 1 usage error (as Piranha's), 2 could not send.")
}

fn main() -> ExitCode {
    if let Some(code) = lvs_tools::answer_common(command()) {
        return code;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.first().is_some_and(|a| a.starts_with("--")) {
        modern(&args)
    } else {
        piranha(&args)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(msg)) => {
            eprintln!("send_arp: {msg}\n{USAGE}");
            ExitCode::from(1)
        }
        Err(Failure::Run(e)) => {
            eprintln!("send_arp: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::from(2)
        }
    }
}

enum Failure {
    Usage(String),
    Run(arp_announce::Error),
}

impl From<arp_announce::Error> for Failure {
    fn from(e: arp_announce::Error) -> Self {
        Failure::Run(e)
    }
}

/// `send_arp [-i dev] src_ip src_hw targ_ip targ_hw`: exactly 4 arguments, or 6 with `-i`.
fn piranha(args: &[String]) -> Result<(), Failure> {
    let (dev, rest) = match args {
        [flag, dev, rest @ ..] if flag == "-i" => (dev.as_str(), rest),
        rest => ("eth0", rest),
    };
    let [src_ip, src_hw, _targ_ip, targ_hw] = rest else {
        return Err(Failure::Usage("expected 4 arguments (6 with -i)".into()));
    };
    let src_ip: Ipv4Addr = src_ip
        .parse()
        .map_err(|_| Failure::Usage(format!("bad IPv4 address {src_ip:?}")))?;
    let src_hw = parse_mac(src_hw).map_err(|e| Failure::Usage(e.to_string()))?;
    let targ_hw = parse_mac(targ_hw).map_err(|e| Failure::Usage(e.to_string()))?;
    let frame = frame::piranha_send_arp(src_ip, src_hw, targ_hw);
    // Checks the interface (exists, up) before opening the socket.
    Interface::by_name(dev)?;
    Announcer::from_frames(dev, vec![frame], Schedule::once()).send_once()?;
    Ok(())
}

fn modern(args: &[String]) -> Result<(), Failure> {
    let mut interface = None;
    let mut options = Options::default();
    let mut addrs: Vec<IpAddr> = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| Failure::Usage(format!("{name} needs a value")))
        };
        match arg.as_str() {
            "--interface" | "-i" => interface = Some(value("--interface")?),
            "--form" => {
                options.form = match value("--form")?.as_str() {
                    "request" => ArpForm::Request,
                    "reply" => ArpForm::Reply,
                    other => return Err(Failure::Usage(format!("unknown form {other:?}"))),
                }
            }
            "--count" => {
                let v = value("--count")?;
                options.schedule.count = v
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| Failure::Usage(format!("bad count {v:?}")))?;
            }
            "--interval" => {
                let v = value("--interval")?;
                options.schedule.interval =
                    humantime::parse_duration(&v).ok().ok_or_else(|| {
                        Failure::Usage(format!("bad interval {v:?} (e.g. 1s, 200ms)"))
                    })?;
            }
            "--" => {
                for a in it.by_ref() {
                    addrs.push(parse_addr(a)?);
                }
            }
            a if a.starts_with('-') => return Err(Failure::Usage(format!("unknown option {a}"))),
            a => addrs.push(parse_addr(a)?),
        }
    }
    let interface = interface.ok_or_else(|| Failure::Usage("--interface is required".into()))?;
    if addrs.is_empty() {
        return Err(Failure::Usage("no address given".into()));
    }
    let announcer = Announcer::new(&interface, &addrs, options)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| Failure::Usage(format!("cannot start a runtime: {e}")))?;
    runtime.block_on(async { announcer.spawn()?.finished().await })?;
    Ok(())
}

fn parse_addr(s: &str) -> Result<IpAddr, Failure> {
    s.parse()
        .map_err(|_| Failure::Usage(format!("bad address {s:?}")))
}
