//! Probes: one check of one real server.

mod error;
pub(crate) mod http;
mod http_spec;
pub(crate) mod ping;
pub(crate) mod program;
mod socket;
mod stream;
pub(crate) mod tls;

use std::{fmt, future::Future, net::SocketAddr, pin::Pin, sync::Arc, time::Duration};

use tokio::time::Instant;

pub use error::{ExitReason, ProbeError};
pub use http::{BodyDigest, HttpCheck, StatusSet, Version};
pub use http_spec::HttpSpec;
pub use ping::PingCheck;
pub use program::{Background, CommandTemplate, Finished, Program, ProgramCheck};
pub use socket::Binding;
pub use stream::{TcpCheck, UdpCheck};
pub use tls::Tls;

use crate::Error;

/// How long a probe may take, and how much it may read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct Timeouts {
    /// From the start to an established connection.
    #[cfg_attr(feature = "serde", serde(with = "humantime_serde"))]
    pub connect: Duration,
    /// From the connection to the verdict: TLS handshake, sending, and all reads. A program's
    /// whole run.
    #[cfg_attr(feature = "serde", serde(with = "humantime_serde"))]
    pub read: Duration,
    /// Most bytes of a reply kept for matching (stream probes, HTTP bodies).
    pub max_bytes: usize,
    /// Most HTTP body bytes read when a digest is checked.
    pub max_body: u64,
}

impl Default for Timeouts {
    /// 5 s to connect, 5 s to answer (keepalived's `connect_timeout`), 64 KiB kept, 16 MiB of
    /// body at most.
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            read: Duration::from_secs(5),
            max_bytes: 64 * 1024,
            max_body: 16 * 1024 * 1024,
        }
    }
}

impl Timeouts {
    /// Both timeouts set to `t`: nanny used its interval for both.
    pub fn both(t: Duration) -> Self {
        Timeouts {
            connect: t,
            read: t,
            ..Timeouts::default()
        }
    }

    /// The longest a probe can take.
    pub fn total(&self) -> Duration {
        self.connect + self.read
    }
}

/// Runs one I/O step of a probe before `deadline`: its error goes through `fail`, the deadline
/// becomes [`ProbeError::ReadTimeout`] with `got` bytes read so far.
pub(crate) async fn before<T>(
    deadline: Instant,
    addr: SocketAddr,
    timeouts: &Timeouts,
    got: usize,
    fail: fn(SocketAddr, std::io::Error) -> ProbeError,
    step: impl Future<Output = std::io::Result<T>>,
) -> Result<T, ProbeError> {
    match tokio::time::timeout_at(deadline, step).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(fail(addr, e)),
        Err(_) => Err(ProbeError::ReadTimeout {
            addr,
            after: timeouts.read,
            got,
        }),
    }
}

pub(crate) fn read_error(addr: SocketAddr, source: std::io::Error) -> ProbeError {
    ProbeError::Read { addr, source }
}

pub(crate) fn send_error(addr: SocketAddr, source: std::io::Error) -> ProbeError {
    ProbeError::Send { addr, source }
}

/// What a healthy probe saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pass {
    /// The connection was established (and the send string written).
    Connected,
    /// The reply met the expectation.
    Matched,
    /// The HTTP status (and body checks, if any) were as expected.
    Status(u16),
    /// The program exited 0 (no expectation on its output).
    Exited,
    /// An application's own probe passed.
    Custom,
    /// The target answered an ICMP echo request.
    Echoed,
}

impl fmt::Display for Pass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pass::Connected => f.write_str("connected"),
            Pass::Matched => f.write_str("reply matched"),
            Pass::Status(s) => write!(f, "HTTP {s}"),
            Pass::Exited => f.write_str("program exited 0"),
            Pass::Custom => f.write_str("passed"),
            Pass::Echoed => f.write_str("echo reply"),
        }
    }
}

/// A boxed probe future.
pub type ProbeFuture<'a> = Pin<Box<dyn Future<Output = Result<Pass, ProbeError>> + Send + 'a>>;

/// A check the [`Monitor`](crate::Monitor) can run: the built-in [`Probe`] implements it, and
/// applications can add their own.
pub trait Checker: Send + Sync + 'static {
    /// Runs one check. It must finish by itself (apply its own timeouts); the monitor also drops
    /// it after [`Checker::deadline`].
    fn check(&self) -> ProbeFuture<'_>;

    /// The longest one check may take before the monitor abandons it.
    fn deadline(&self) -> Duration;
}

/// The kinds of check, as configured.
// A configuration value built once per target: the size difference does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Check {
    /// TCP connect, optionally send/expect.
    Tcp(TcpCheck),
    /// UDP send/expect.
    Udp(UdpCheck),
    /// HTTP or HTTPS.
    Http(HttpCheck),
    /// An external program.
    Program(ProgramCheck),
    /// ICMP echo (ping).
    Ping(PingCheck),
}

/// A probe of one real server, ready to run as often as needed: the request is rendered and the
/// TLS configuration built once, by [`Probe::new`].
///
/// ```no_run
/// use healthcheck::{Check, Probe, TcpCheck, Timeouts, Binding};
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let probe = Probe::new(
///     "10.0.0.1:80".parse()?,
///     Check::Tcp(TcpCheck::default()),
///     Binding::default(),
///     Timeouts::default(),
/// )?;
/// let outcome = probe.run().await;
/// println!("{outcome}");
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Probe {
    target: SocketAddr,
    kind: Kind,
    binding: Binding,
    timeouts: Timeouts,
}

#[derive(Clone, Debug)]
enum Kind {
    Tcp(TcpCheck),
    Udp(UdpCheck),
    /// The settings, and the request and TLS configuration prepared from them.
    Http(Box<HttpCheck>, Arc<http::PreparedHttp>),
    Program(ProgramCheck),
    Ping(PingCheck),
}

/// Two probes are equal when they were made from the same settings, against the same target;
/// what they have seen (a kept-alive connection) does not count. An application that reloads
/// its configuration keeps a running probe whose settings did not change.
impl PartialEq for Probe {
    fn eq(&self, other: &Self) -> bool {
        let same_kind = match (&self.kind, &other.kind) {
            (Kind::Tcp(a), Kind::Tcp(b)) => a == b,
            (Kind::Udp(a), Kind::Udp(b)) => a == b,
            (Kind::Http(a, _), Kind::Http(b, _)) => a == b,
            (Kind::Program(a), Kind::Program(b)) => a == b,
            (Kind::Ping(a), Kind::Ping(b)) => a == b,
            _ => false,
        };
        same_kind
            && self.target == other.target
            && self.binding == other.binding
            && self.timeouts == other.timeouts
    }
}

impl Eq for Probe {}

impl Probe {
    /// Prepares `check` against `target`.
    pub fn new(
        target: SocketAddr,
        check: Check,
        binding: Binding,
        timeouts: Timeouts,
    ) -> Result<Self, Error> {
        if timeouts.connect.is_zero() || timeouts.read.is_zero() {
            return Err(Error::Timeout);
        }
        let kind = match check {
            Check::Tcp(c) => Kind::Tcp(c),
            Check::Udp(c) => Kind::Udp(c),
            Check::Http(c) => {
                let prepared = Arc::new(c.prepare(target)?);
                Kind::Http(Box::new(c), prepared)
            }
            Check::Program(c) => Kind::Program(c),
            Check::Ping(c) => Kind::Ping(c),
        };
        Ok(Probe {
            target,
            kind,
            binding,
            timeouts,
        })
    }

    /// The real server probed.
    pub fn target(&self) -> SocketAddr {
        self.target
    }

    /// The same probe against another target (an HTTP request is prepared again: its `Host`
    /// header may name the target).
    pub fn with_target(&self, target: SocketAddr) -> Result<Probe, Error> {
        let kind = match &self.kind {
            Kind::Http(check, _) => Kind::Http(check.clone(), Arc::new(check.prepare(target)?)),
            other => other.clone(),
        };
        Ok(Probe {
            target,
            kind,
            binding: self.binding.clone(),
            timeouts: self.timeouts,
        })
    }

    /// Runs the probe once and times it.
    pub async fn run(&self) -> Outcome {
        let start = Instant::now();
        let result = self.check_once().await;
        Outcome {
            latency: start.elapsed(),
            result,
        }
    }

    async fn check_once(&self) -> Result<Pass, ProbeError> {
        let (addr, b, t) = (self.target, &self.binding, &self.timeouts);
        match &self.kind {
            Kind::Tcp(c) => c.run(addr, b, t).await,
            Kind::Udp(c) => c.run(addr, b, t).await,
            Kind::Http(_, c) => c.run(addr, b, t).await,
            // A program has one limit for its whole run: the read timeout.
            Kind::Program(c) => c.run(addr, t.read).await,
            Kind::Ping(c) => c.run(addr, b, t).await,
        }
    }
}

impl Checker for Probe {
    fn check(&self) -> ProbeFuture<'_> {
        Box::pin(self.check_once())
    }

    fn deadline(&self) -> Duration {
        // Every phase has its own timeout; the margin covers scheduling and reaping.
        self.timeouts.total() + Duration::from_secs(1)
    }
}

/// One probe's result and how long it took.
#[derive(Debug)]
pub struct Outcome {
    /// From the start of the probe to the verdict.
    pub latency: Duration,
    /// The verdict.
    pub result: Result<Pass, ProbeError>,
}

impl Outcome {
    /// Whether the server passed.
    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }
}

impl fmt::Display for Outcome {
    /// `OK <latency> <reason>` or `FAIL <latency> <reason>`, latency in milliseconds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.latency.as_secs_f64() * 1000.0;
        match &self.result {
            Ok(pass) => write!(f, "OK {ms:.3}ms {pass}"),
            Err(e) => write!(f, "FAIL {ms:.3}ms {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Expect;

    fn probe(target: &str, check: Check) -> Probe {
        Probe::new(
            target.parse().expect("address"),
            check,
            Binding::default(),
            Timeouts::default(),
        )
        .expect("valid")
    }

    #[test]
    fn a_probe_moved_to_another_target_is_the_same_check_there() {
        let http = probe("10.0.0.1:80", Check::Http(HttpCheck::get("/")));
        let moved = http
            .with_target("[fd00::1]:80".parse().expect("addr"))
            .expect("moved");
        assert_eq!(moved.target(), "[fd00::1]:80".parse().expect("addr"));
        assert_eq!(
            moved,
            probe("[fd00::1]:80", Check::Http(HttpCheck::get("/")))
        );
    }

    #[test]
    fn probes_are_equal_when_made_from_the_same_settings() {
        let http = || Check::Http(HttpCheck::get("/health"));
        assert_eq!(probe("10.0.0.1:80", http()), probe("10.0.0.1:80", http()));
        assert_ne!(probe("10.0.0.1:80", http()), probe("10.0.0.2:80", http()));
        let mut other = HttpCheck::get("/health");
        other.status = "200".parse().expect("status set");
        assert_ne!(
            probe("10.0.0.1:80", http()),
            probe("10.0.0.1:80", Check::Http(other))
        );
        let regex = |p: &str| {
            Check::Tcp(TcpCheck {
                send: None,
                expect: Some(Expect::regex(p).expect("regex")),
            })
        };
        assert_eq!(
            probe("10.0.0.1:80", regex("^OK")),
            probe("10.0.0.1:80", regex("^OK"))
        );
        assert_ne!(
            probe("10.0.0.1:80", regex("^OK")),
            probe("10.0.0.1:80", regex("^KO"))
        );
        assert_ne!(
            probe("10.0.0.1:80", regex("^OK")),
            probe("10.0.0.1:80", Check::Tcp(TcpCheck::default()))
        );
    }
}
