//! Runs one health probe once: `OK|FAIL <latency> <reason>`, exit 0 (healthy), 1 (unhealthy) or
//! 2 (usage).
//!
//! ```text
//! probe tcp HOST:PORT [--send S] [--expect E] [--regex]
//! probe udp HOST:PORT [--send S] [--expect E] [--regex]
//! probe http URL [--method M] [--header 'Name: value'] [--status 200-299] [--body-regex R]
//! probe https URL [--insecure] [--sni NAME] [--ca-file PEM]
//! probe program 'CMD %h %p' --host H --port P [--expect E]
//! ```
//! Every form takes `--timeout DURATION` (`2s`, `500ms`; default 5s), `--source ADDR`,
//! `--interface DEV` and `--fwmark N`. Send and expect strings use nanny's escapes.

use std::{
    net::{SocketAddr, ToSocketAddrs},
    process::ExitCode,
    time::Duration,
};

use clap::{Args, Parser, Subcommand};
use healthcheck::{
    Binding, BodyDigest, Check, CommandTemplate, Expect, HttpCheck, Probe, ProgramCheck, StatusSet,
    TcpCheck, Timeouts, Tls, UdpCheck, decode_escapes,
};

#[derive(Parser)]
#[command(name = "lvs-probe", version, about = "Run one health probe once")]
struct Cli {
    #[command(subcommand)]
    kind: Kind,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct Common {
    /// Connect timeout, and the time allowed for the answer (e.g. 2s, 500ms).
    #[arg(long, global = true, default_value = "5s", value_parser = duration)]
    timeout: Duration,
    /// Source address of the probe.
    #[arg(long, global = true)]
    source: Option<std::net::IpAddr>,
    /// Send through this interface (SO_BINDTODEVICE).
    #[arg(long, global = true)]
    interface: Option<String>,
    /// Firewall mark on the probe's packets (SO_MARK).
    #[arg(long, global = true)]
    fwmark: Option<u32>,
}

#[derive(Args)]
struct Stream {
    /// HOST:PORT of the real server.
    target: String,
    /// Bytes to send (nanny's escapes: \r \n \t \\ \' \").
    #[arg(long)]
    send: Option<String>,
    /// What the reply must contain (nanny's escapes; "*" is any byte).
    #[arg(long)]
    expect: Option<String>,
    /// --expect is a regular expression.
    #[arg(long)]
    regex: bool,
    /// Piranha's matching: one read, which must start with --expect.
    #[arg(long, conflicts_with = "regex")]
    first_read_prefix: bool,
}

#[derive(Args)]
struct Http {
    /// http://HOST[:PORT]/PATH
    url: String,
    /// Request method.
    #[arg(long, default_value = "GET")]
    method: String,
    /// Extra header, 'Name: value' (repeatable).
    #[arg(long)]
    header: Vec<String>,
    /// Request body.
    #[arg(long)]
    data: Option<String>,
    /// Accepted statuses, e.g. 200-299,301.
    #[arg(long, default_value = "200-299")]
    status: String,
    /// Text the body must contain.
    #[arg(long)]
    body: Option<String>,
    /// Regular expression the body must match.
    #[arg(long, conflicts_with = "body")]
    body_regex: Option<String>,
    /// Digest of the body: 32 hex digits (MD5) or 64 (SHA-256).
    #[arg(long)]
    digest: Option<String>,
    /// Use HTTP/1.0.
    #[arg(long)]
    http10: bool,
    /// HTTPS: accept any certificate.
    #[arg(long)]
    insecure: bool,
    /// HTTPS: server name for SNI and verification.
    #[arg(long)]
    sni: Option<String>,
    /// HTTPS: trusted CA certificates (PEM) instead of the system's.
    #[arg(long)]
    ca_file: Option<std::path::PathBuf>,
}

#[derive(Args)]
struct Program {
    /// Command line; %h and %p become --host and --port. Run without a shell.
    command: String,
    /// The real server's address.
    #[arg(long)]
    host: std::net::IpAddr,
    /// The real server's port.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The program's output, without its trailing newline (nanny's escapes); without it, exit
    /// status 0 is healthy.
    #[arg(long)]
    expect: Option<String>,
    /// --expect is a regular expression.
    #[arg(long)]
    regex: bool,
}

#[derive(Subcommand)]
enum Kind {
    /// TCP connect, optionally send/expect.
    Tcp(Stream),
    /// UDP send/expect.
    Udp(Stream),
    /// HTTP/1.x.
    Http(Http),
    /// HTTPS.
    Https(Http),
    /// An external program.
    Program(Program),
}

fn duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (write e.g. 2s or 500ms)"))?;
    if d.is_zero() {
        return Err("must be greater than zero".into());
    }
    Ok(d)
}

fn resolve(host_port: &str) -> Result<SocketAddr, String> {
    host_port
        .to_socket_addrs()
        .map_err(|e| format!("{host_port}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host_port}: no address"))
}

fn expect(
    text: Option<&str>,
    regex: bool,
    prefix: bool,
    exact: bool,
) -> Result<Option<Expect>, String> {
    let Some(text) = text else { return Ok(None) };
    if regex {
        return Expect::regex(text).map(Some).map_err(|e| e.to_string());
    }
    let bytes = decode_escapes(text);
    Ok(Some(if prefix {
        Expect::FirstReadPrefix(bytes)
    } else if exact {
        Expect::Exact(bytes)
    } else {
        Expect::nanny(bytes)
    }))
}

fn http(h: Http, tls: bool) -> Result<(SocketAddr, Check), String> {
    let scheme = if tls { "https://" } else { "http://" };
    let rest = h
        .url
        .strip_prefix(scheme)
        .ok_or_else(|| format!("the URL must start with {scheme}"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let has_port = if authority.starts_with('[') {
        authority.contains("]:")
    } else {
        authority.contains(':')
    };
    let with_port = if has_port {
        authority.to_string()
    } else {
        format!("{authority}:{}", if tls { 443 } else { 80 })
    };
    let addr = resolve(&with_port)?;
    let mut check = HttpCheck::get(path);
    check.method = h.method;
    check.host = Some(authority.to_string());
    for header in h.header {
        let (k, v) = header
            .split_once(':')
            .ok_or_else(|| format!("bad header {header:?} (want 'Name: value')"))?;
        check
            .headers
            .push((k.trim().to_string(), v.trim().to_string()));
    }
    check.body = h.data.map(String::into_bytes).unwrap_or_default();
    check.status = h.status.parse::<StatusSet>().map_err(|e| e.to_string())?;
    check.body_expect = match (h.body, h.body_regex) {
        (Some(b), _) => Some(Expect::Substring(b.into_bytes())),
        (None, Some(r)) => Some(Expect::regex(&r).map_err(|e| e.to_string())?),
        (None, None) => None,
    };
    check.digest = h
        .digest
        .map(|d| d.parse::<BodyDigest>())
        .transpose()
        .map_err(|e| e.to_string())?;
    if h.http10 {
        check.version = healthcheck::Version::Http10;
    }
    if tls {
        let mut t = Tls::new().with_insecure(h.insecure);
        t.sni = h.sni;
        t.ca_file = h.ca_file;
        check.tls = Some(t);
    } else if h.insecure || h.sni.is_some() || h.ca_file.is_some() {
        return Err("--insecure, --sni and --ca-file are for https".into());
    }
    Ok((addr, Check::Http(check)))
}

fn build(cli: Cli) -> Result<Probe, String> {
    let (addr, check) = match cli.kind {
        Kind::Tcp(s) | Kind::Udp(s) if s.first_read_prefix && s.expect.is_none() => {
            return Err("--first-read-prefix needs --expect".into());
        }
        Kind::Tcp(s) => (
            resolve(&s.target)?,
            Check::Tcp({
                let mut c = TcpCheck::new();
                c.send = s.send.as_deref().map(decode_escapes);
                c.expect = expect(s.expect.as_deref(), s.regex, s.first_read_prefix, false)?;
                c
            }),
        ),
        Kind::Udp(s) => (
            resolve(&s.target)?,
            Check::Udp({
                let mut c = UdpCheck::new();
                c.send = s.send.as_deref().map(decode_escapes);
                c.expect = expect(s.expect.as_deref(), s.regex, s.first_read_prefix, false)?;
                c
            }),
        ),
        Kind::Http(h) => http(h, false)?,
        Kind::Https(h) => http(h, true)?,
        Kind::Program(p) => (
            SocketAddr::new(p.host, p.port),
            Check::Program(ProgramCheck {
                command: CommandTemplate::parse(&p.command).map_err(|e| e.to_string())?,
                expect: expect(p.expect.as_deref(), p.regex, false, true)?,
            }),
        ),
    };
    let mut binding = Binding::new();
    binding.source = cli.common.source;
    binding.interface = cli.common.interface;
    binding.fwmark = cli.common.fwmark;
    Probe::new(addr, check, binding, Timeouts::both(cli.common.timeout)).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    if let Some(what) = lvs_tools::generate_requested() {
        return lvs_tools::generate(<Cli as clap::CommandFactory>::command(), &what);
    }
    let cli = Cli::parse();
    let probe = match build(cli) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("probe: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("probe: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let outcome = runtime.block_on(probe.run());
    println!("{outcome}");
    if outcome.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
