//! HTTP/1.x and HTTPS probes.

use std::{
    fmt,
    net::SocketAddr,
    str::FromStr,
    sync::{Arc, Mutex},
};

use md5::Md5;
use sha2::{Digest as _, Sha256};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    time::Instant,
};

use super::{
    Pass, ProbeError, Timeouts, before, read_error, send_error,
    stream::{connect, registered},
    tls::Tls,
};
use crate::{
    Error,
    expect::{Expect, Matcher, Progress, Snippet},
    probe::socket::Binding,
};

/// Largest response head (status line and headers) accepted.
const MAX_HEAD: usize = 16 * 1024;
/// Most headers accepted in a response.
const MAX_HEADERS: usize = 64;

/// The HTTP version a probe speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0.
    Http10,
    /// HTTP/1.1, with `Connection: close` (the default).
    #[default]
    Http11,
}

/// An HTTP or HTTPS probe. Start from [`HttpCheck::get`], set the fields, and give it to
/// [`Probe::new`](super::Probe::new) as [`Check::Http`](super::Check::Http), which renders the
/// request and builds the TLS configuration once.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpCheck {
    /// Request method.
    pub method: String,
    /// Request target (path and query).
    pub path: String,
    /// `Host` header; by default the target's address and port.
    pub host: Option<String>,
    /// Extra headers, sent as given.
    pub headers: Vec<(String, String)>,
    /// Request body (a `Content-Length` is added when it is not empty).
    pub body: Vec<u8>,
    /// HTTP version.
    pub version: Version,
    /// Accepted statuses (default 200–299).
    pub status: StatusSet,
    /// What the body must contain, if anything.
    pub body_expect: Option<Expect>,
    /// The body's digest, if checked.
    pub digest: Option<BodyDigest>,
    /// TLS settings: `Some` for HTTPS.
    pub tls: Option<Tls>,
    /// Keep the connection open between checks (an HTTP/1.1 persistent connection) and send
    /// the next request on it. Much cheaper for thousands of targets, but a server that stops
    /// accepting new connections still passes while the old one stays open. Off by default: a
    /// fresh connection per check, as nanny and keepalived do.
    pub keep_alive: bool,
}

impl HttpCheck {
    /// `GET path` over plain HTTP, accepting 2xx.
    pub fn get(path: impl Into<String>) -> Self {
        HttpCheck {
            method: "GET".into(),
            path: path.into(),
            host: None,
            headers: Vec::new(),
            body: Vec::new(),
            version: Version::Http11,
            status: StatusSet::default(),
            body_expect: None,
            digest: None,
            tls: None,
            keep_alive: false,
        }
    }

    /// Checks the settings and renders the request for `addr`.
    pub(crate) fn prepare(&self, addr: SocketAddr) -> Result<PreparedHttp, Error> {
        let bad = |what: &str| Error::Http(what.to_string());
        if self.method.is_empty() || !self.method.bytes().all(is_token) {
            return Err(bad("the method must be an HTTP token"));
        }
        if self.path.is_empty() || self.path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(bad(
                "the path must be non-empty, without spaces or control characters",
            ));
        }
        let host = match &self.host {
            Some(h) => h.clone(),
            None => default_host(addr, self.tls.is_some()),
        };
        let mut req = Vec::with_capacity(128 + self.body.len());
        let version = match self.version {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        };
        req.extend_from_slice(format!("{} {} {version}\r\n", self.method, self.path).as_bytes());
        let mut header = |name: &str, value: &str| -> Result<(), Error> {
            if name.is_empty() || !name.bytes().all(is_token) {
                return Err(Error::Http(format!("bad header name {name:?}")));
            }
            if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                return Err(Error::Http(format!("bad value for header {name:?}")));
            }
            req.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
            Ok(())
        };
        header("Host", &host)?;
        let has = |n: &str| self.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
        if !has("user-agent") {
            header(
                "User-Agent",
                concat!("lvs-healthcheck/", env!("CARGO_PKG_VERSION")),
            )?;
        }
        if !has("connection") && !self.keep_alive {
            header("Connection", "close")?;
        }
        for (k, v) in &self.headers {
            header(k, v)?;
        }
        if !self.body.is_empty() && !has("content-length") {
            header("Content-Length", &self.body.len().to_string())?;
        }
        req.extend_from_slice(b"\r\n");
        req.extend_from_slice(&self.body);
        let tls = match &self.tls {
            Some(tls) => Some(tls.prepare(&host, addr)?),
            None => None,
        };
        if self.keep_alive && self.version == Version::Http10 {
            return Err(bad("keep-alive needs HTTP/1.1"));
        }
        Ok(PreparedHttp {
            keep_alive: self.keep_alive,
            idle: std::sync::Mutex::new(None),
            request: req.into(),
            head_only: self.method.eq_ignore_ascii_case("HEAD"),
            status: self.status.clone(),
            body_expect: self.body_expect.clone(),
            digest: self.digest,
            tls,
        })
    }
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn default_host(addr: SocketAddr, tls: bool) -> String {
    let default_port = if tls { 443 } else { 80 };
    match (addr, addr.port() == default_port) {
        (SocketAddr::V4(a), true) => a.ip().to_string(),
        (SocketAddr::V6(a), true) => format!("[{}]", a.ip()),
        (a, false) => a.to_string(),
    }
}

/// A connection a probe can read and write.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An HTTP check ready to run: request bytes rendered once, TLS configuration built once.
pub(crate) struct PreparedHttp {
    request: Arc<[u8]>,
    head_only: bool,
    status: StatusSet,
    body_expect: Option<Expect>,
    digest: Option<BodyDigest>,
    tls: Option<super::tls::PreparedTls>,
    keep_alive: bool,
    /// The connection kept from the last check, with `keep_alive`.
    idle: Mutex<Option<Box<dyn Io>>>,
}

impl fmt::Debug for PreparedHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedHttp")
            .field("request", &Snippet(&self.request))
            .field("status", &self.status)
            .field("body_expect", &self.body_expect)
            .field("digest", &self.digest)
            .field("tls", &self.tls)
            .field("keep_alive", &self.keep_alive)
            .finish_non_exhaustive()
    }
}

impl PreparedHttp {
    pub(crate) async fn run(
        &self,
        addr: SocketAddr,
        binding: &Binding,
        timeouts: &Timeouts,
    ) -> Result<Pass, ProbeError> {
        let kept = if self.keep_alive {
            self.idle.lock().ok().and_then(|mut idle| idle.take())
        } else {
            None
        };
        if let Some(conn) = kept {
            let deadline = Instant::now() + timeouts.read;
            match self.exchange(conn, false, addr, deadline, timeouts).await {
                // The server closed the kept connection in the meantime: try a new one.
                Exchange::Stale => {}
                Exchange::Done(result, conn) => return self.keep(result, conn),
            }
        }
        let connection = connect(binding, addr, timeouts).await?;
        let deadline = Instant::now() + timeouts.read;
        let (conn, sent): (Box<dyn Io>, bool) = match &self.tls {
            None => {
                // The request goes out before the socket is registered with the reactor.
                let sending = connection.send(&self.request);
                let connection = before(deadline, addr, timeouts, 0, send_error, sending).await?;
                (Box::new(registered(connection, addr)?), true)
            }
            Some(tls) => {
                let stream = registered(connection, addr)?;
                let tls = tls.handshake(stream, addr, deadline, timeouts).await?;
                (Box::new(tls), false)
            }
        };
        match self.exchange(conn, sent, addr, deadline, timeouts).await {
            Exchange::Stale => Err(bad(addr, "connection closed without a response".into())),
            Exchange::Done(result, conn) => self.keep(result, conn),
        }
    }

    fn keep(
        &self,
        result: Result<Pass, ProbeError>,
        conn: Option<Box<dyn Io>>,
    ) -> Result<Pass, ProbeError> {
        if let (Ok(_), Some(conn)) = (&result, conn)
            && let Ok(mut idle) = self.idle.lock()
        {
            *idle = Some(conn);
        }
        result
    }

    /// One request (unless already `sent`) and its response; the connection comes back when
    /// it can carry another.
    async fn exchange(
        &self,
        stream: Box<dyn Io>,
        sent: bool,
        addr: SocketAddr,
        deadline: Instant,
        timeouts: &Timeouts,
    ) -> Exchange {
        let mut reader = Reader {
            stream,
            buf: Vec::new(),
            start: 0,
            total: 0,
            addr,
            deadline,
            timeouts,
        };
        let result = self.request(&mut reader, sent).await;
        match result {
            Err(Failure::Stale) => Exchange::Stale,
            Err(Failure::Error(e)) => Exchange::Done(Err(e), None),
            Ok((pass, reusable)) => {
                let reusable = reusable && self.keep_alive && reader.start == reader.buf.len();
                Exchange::Done(Ok(pass), reusable.then_some(reader.stream))
            }
        }
    }

    async fn request(
        &self,
        reader: &mut Reader<'_, Box<dyn Io>>,
        sent: bool,
    ) -> Result<(Pass, bool), Failure> {
        let (addr, deadline, timeouts) = (reader.addr, reader.deadline, reader.timeouts);
        if !sent {
            let write = reader.stream.write_all(&self.request);
            match before(deadline, addr, timeouts, 0, send_error, write).await {
                Ok(()) => {}
                Err(ProbeError::Send { .. }) if self.keep_alive => return Err(Failure::Stale),
                Err(e) => return Err(e.into()),
            }
        }
        // The head.
        let (status, framing, reusable, head_len) = loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&reader.buf) {
                Ok(httparse::Status::Complete(len)) => {
                    let code = response.code.unwrap_or(0);
                    if (100..200).contains(&code) && code != 101 {
                        // An interim response: drop it and read the final one.
                        reader.buf.drain(..len);
                        continue;
                    }
                    let framing = framing(&response, code, self.head_only, addr)?;
                    let reusable = response.version == Some(1)
                        && !response.headers.iter().any(|h| {
                            h.name.eq_ignore_ascii_case("connection")
                                && h.value.trim_ascii().eq_ignore_ascii_case(b"close")
                        })
                        && !matches!(framing, Framing::UntilClose);
                    break (code, framing, reusable, len);
                }
                Ok(httparse::Status::Partial) => {
                    if reader.buf.len() >= MAX_HEAD {
                        return Err(bad(
                            addr,
                            format!("response head larger than {MAX_HEAD} bytes"),
                        )
                        .into());
                    }
                    let nothing_yet = reader.buf.is_empty();
                    match reader.fill().await {
                        Ok(0) | Err(ProbeError::Read { .. }) if nothing_yet && self.keep_alive => {
                            return Err(Failure::Stale);
                        }
                        Ok(0) if nothing_yet => {
                            return Err(
                                bad(addr, "connection closed without a response".into()).into()
                            );
                        }
                        Ok(0) => {
                            return Err(bad(
                                addr,
                                "connection closed inside the response head".into(),
                            )
                            .into());
                        }
                        Ok(_) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(e) => return Err(bad(addr, format!("{e} in the response head")).into()),
            }
        };
        if !self.status.contains(status) {
            return Err(ProbeError::Status {
                got: status,
                expected: self.status.to_string(),
            }
            .into());
        }
        let keep = self.keep_alive && reusable;
        if self.body_expect.is_none() && self.digest.is_none() && !keep {
            return Ok((Pass::Status(status), false));
        }
        reader.start = head_len;
        let mut body = BodyCheck {
            matcher: self
                .body_expect
                .as_ref()
                .map(|e| e.matcher(timeouts.max_bytes)),
            matched: false,
            digest: self.digest.map(BodyHasher::new),
            whole: keep,
        };
        reader.body(framing, &mut body).await?;
        if let Some(m) = &body.matcher
            && !body.matched
            && !m.finish()
        {
            let expect = self
                .body_expect
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            return Err(ProbeError::mismatch(format!("a body with {expect}"), m.seen()).into());
        }
        if let (Some(hasher), Some(want)) = (body.digest, self.digest) {
            let got = hasher.finish();
            if got != want {
                return Err(ProbeError::Digest {
                    expected: want.to_string(),
                    got: got.to_string(),
                }
                .into());
            }
        }
        Ok((Pass::Status(status), keep))
    }
}

/// How one exchange ended.
enum Exchange {
    /// A kept connection turned out to be closed before any response byte: retry on a new one.
    Stale,
    /// The verdict, and the connection if it can carry another request.
    Done(Result<Pass, ProbeError>, Option<Box<dyn Io>>),
}

enum Failure {
    Stale,
    Error(ProbeError),
}

impl From<ProbeError> for Failure {
    fn from(e: ProbeError) -> Self {
        Failure::Error(e)
    }
}

fn bad(addr: SocketAddr, what: String) -> ProbeError {
    ProbeError::BadResponse { addr, what }
}

/// How the body of a response is delimited.
#[derive(Clone, Copy, Debug)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

fn framing(
    response: &httparse::Response<'_, '_>,
    code: u16,
    head_only: bool,
    addr: SocketAddr,
) -> Result<Framing, ProbeError> {
    if head_only || code == 204 || code == 304 || (100..200).contains(&code) {
        return Ok(Framing::None);
    }
    let mut length = None;
    for h in response.headers.iter() {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            let chunked = h
                .value
                .rsplit(|b| *b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            if chunked {
                return Ok(Framing::Chunked);
            }
            return Ok(Framing::UntilClose);
        }
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| bad(addr, "invalid Content-Length".into()))?;
            if length.is_some_and(|l| l != n) {
                return Err(bad(addr, "conflicting Content-Length headers".into()));
            }
            length = Some(n);
        }
    }
    Ok(length.map_or(Framing::UntilClose, Framing::Length))
}

struct BodyCheck<'a> {
    matcher: Option<Matcher<'a>>,
    matched: bool,
    digest: Option<BodyHasher>,
    /// Read the whole body even when the checks are decided (to reuse the connection).
    whole: bool,
}

impl BodyCheck<'_> {
    /// Feeds body bytes; true when nothing more needs reading.
    fn feed(&mut self, data: &[u8]) -> Result<bool, ProbeError> {
        if let Some(h) = &mut self.digest {
            h.update(data);
        }
        if let Some(m) = &mut self.matcher
            && !self.matched
        {
            match m.feed(data) {
                Progress::Matched => self.matched = true,
                Progress::Failed if self.digest.is_none() && !self.whole => {
                    return Err(ProbeError::mismatch("the expected body", m.seen()));
                }
                _ => {}
            }
        }
        Ok(!self.whole && self.digest.is_none() && self.matched)
    }
}

/// Bounded reading of a response, with one deadline for all of it.
struct Reader<'t, S> {
    stream: S,
    buf: Vec<u8>,
    /// Start of unconsumed bytes in `buf`.
    start: usize,
    /// Body bytes consumed so far.
    total: u64,
    addr: SocketAddr,
    deadline: Instant,
    timeouts: &'t Timeouts,
}

impl<S: AsyncRead + Unpin> Reader<'_, S> {
    /// Reads the trailer section after the last chunk, up to and including its empty line.
    async fn trailers(&mut self) -> Result<(), ProbeError> {
        loop {
            match self.buf[self.start..].windows(2).position(|w| w == b"\r\n") {
                Some(0) => {
                    self.start += 2;
                    return Ok(());
                }
                // A trailer field: skipped.
                Some(at) => self.start += at + 2,
                None => {
                    if self.buf.len() - self.start > 8 * 1024 {
                        return Err(bad(self.addr, "trailer section too long".into()));
                    }
                    if self.fill().await? == 0 {
                        // The body is whole; the connection is not reusable anyway.
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Reads more into `buf`; 0 at end of stream.
    async fn fill(&mut self) -> Result<usize, ProbeError> {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        let len = self.buf.len();
        self.buf.reserve(4096);
        // Reads into the spare capacity: no zeroing.
        let read = self.stream.read_buf(&mut self.buf);
        let n = before(
            self.deadline,
            self.addr,
            self.timeouts,
            len,
            read_error,
            read,
        )
        .await?;
        Ok(n)
    }

    /// Hands up to `max` unconsumed body bytes to `body`; true when it needs no more.
    fn consume(&mut self, max: u64, body: &mut BodyCheck<'_>) -> Result<(u64, bool), ProbeError> {
        let avail = (self.buf.len() - self.start) as u64;
        let n = avail.min(max);
        let end = self.start + n as usize;
        self.total += n;
        if self.total > self.timeouts.max_body {
            return Err(bad(
                self.addr,
                format!("body larger than {} bytes", self.timeouts.max_body),
            ));
        }
        let done = body.feed(&self.buf[self.start..end])?;
        self.start = end;
        Ok((n, done))
    }

    async fn body(&mut self, framing: Framing, body: &mut BodyCheck<'_>) -> Result<(), ProbeError> {
        match framing {
            Framing::None => Ok(()),
            Framing::Length(mut left) => {
                while left > 0 {
                    let (n, done) = self.consume(left, body)?;
                    left -= n;
                    if done || left == 0 {
                        return Ok(());
                    }
                    if self.fill().await? == 0 {
                        return Err(bad(self.addr, "connection closed inside the body".into()));
                    }
                }
                Ok(())
            }
            Framing::UntilClose => loop {
                let (_, done) = self.consume(u64::MAX, body)?;
                if done || self.fill().await? == 0 {
                    return Ok(());
                }
            },
            Framing::Chunked => loop {
                let size = loop {
                    match httparse::parse_chunk_size(&self.buf[self.start..]) {
                        Ok(httparse::Status::Complete((used, size))) => {
                            self.start += used;
                            break size;
                        }
                        Ok(httparse::Status::Partial) => {
                            if self.buf.len() - self.start > 1024 {
                                return Err(bad(self.addr, "chunk size line too long".into()));
                            }
                            if self.fill().await? == 0 {
                                return Err(bad(
                                    self.addr,
                                    "connection closed inside a chunk".into(),
                                ));
                            }
                        }
                        Err(_) => return Err(bad(self.addr, "invalid chunk size".into())),
                    }
                };
                if size == 0 {
                    // The last chunk: then trailer lines, and the empty line that ends the
                    // message. Consumed, so that a kept-alive connection starts the next
                    // response at its status line.
                    return self.trailers().await;
                }
                let mut left = size;
                while left > 0 {
                    let (n, done) = self.consume(left, body)?;
                    left -= n;
                    if done {
                        return Ok(());
                    }
                    if left > 0 && self.fill().await? == 0 {
                        return Err(bad(self.addr, "connection closed inside a chunk".into()));
                    }
                }
                // The CRLF after the chunk's data.
                while self.buf.len() - self.start < 2 {
                    if self.fill().await? == 0 {
                        return Err(bad(self.addr, "connection closed inside a chunk".into()));
                    }
                }
                if &self.buf[self.start..self.start + 2] != b"\r\n" {
                    return Err(bad(self.addr, "chunk not followed by CRLF".into()));
                }
                self.start += 2;
            },
        }
    }
}

/// Accepted HTTP statuses: a union of ranges, written `200-299,301,302`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusSet(Vec<(u16, u16)>);

impl StatusSet {
    /// Whether `code` is accepted.
    pub fn contains(&self, code: u16) -> bool {
        self.0.iter().any(|(lo, hi)| (*lo..=*hi).contains(&code))
    }
}

impl Default for StatusSet {
    /// 200–299.
    fn default() -> Self {
        StatusSet(vec![(200, 299)])
    }
}

impl FromStr for StatusSet {
    type Err = Error;

    /// ```
    /// let s: healthcheck::StatusSet = "200-299, 301,302".parse().unwrap();
    /// assert!(s.contains(204) && s.contains(302) && !s.contains(300));
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || Error::Http(format!("bad status list {s:?} (want e.g. 200-299,301)"));
        let code = |t: &str| -> Result<u16, Error> {
            t.trim()
                .parse::<u16>()
                .ok()
                .filter(|c| (100..=599).contains(c))
                .ok_or_else(bad)
        };
        let mut ranges = Vec::new();
        for part in s.split(',') {
            let r = match part.split_once('-') {
                Some((lo, hi)) => (code(lo)?, code(hi)?),
                None => (code(part)?, code(part)?),
            };
            if r.0 > r.1 {
                return Err(bad());
            }
            ranges.push(r);
        }
        Ok(StatusSet(ranges))
    }
}

impl fmt::Display for StatusSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (lo, hi)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if lo == hi {
                write!(f, "{lo}")?;
            } else {
                write!(f, "{lo}-{hi}")?;
            }
        }
        Ok(())
    }
}

/// A digest of the response body: MD5 (keepalived's `digest`, 32 hex digits) or SHA-256 (64).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyDigest {
    /// MD5.
    Md5([u8; 16]),
    /// SHA-256.
    Sha256([u8; 32]),
}

impl FromStr for BodyDigest {
    type Err = Error;

    /// Hex; an optional `md5:` or `sha256:` prefix, otherwise the length decides.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || Error::Http(format!("bad digest {s:?} (32 or 64 hex digits)"));
        let hex = s
            .strip_prefix("md5:")
            .or_else(|| s.strip_prefix("sha256:"))
            .unwrap_or(s);
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| {
                hex.get(i..i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .collect::<Option<_>>()
            .ok_or_else(bad)?;
        match (bytes.len(), s.starts_with("sha256:"), s.starts_with("md5:")) {
            (16, false, _) => Ok(BodyDigest::Md5(bytes.try_into().map_err(|_| bad())?)),
            (32, _, false) => Ok(BodyDigest::Sha256(bytes.try_into().map_err(|_| bad())?)),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for BodyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, bytes): (&str, &[u8]) = match self {
            BodyDigest::Md5(b) => ("md5", b),
            BodyDigest::Sha256(b) => ("sha256", b),
        };
        write!(f, "{name}:")?;
        bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

enum BodyHasher {
    Md5(Md5),
    Sha256(Sha256),
}

impl BodyHasher {
    fn new(kind: BodyDigest) -> Self {
        match kind {
            BodyDigest::Md5(_) => BodyHasher::Md5(Md5::new()),
            BodyDigest::Sha256(_) => BodyHasher::Sha256(Sha256::new()),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            BodyHasher::Md5(h) => h.update(data),
            BodyHasher::Sha256(h) => h.update(data),
        }
    }

    fn finish(self) -> BodyDigest {
        match self {
            BodyHasher::Md5(h) => BodyDigest::Md5(h.finalize().into()),
            BodyHasher::Sha256(h) => BodyDigest::Sha256(h.finalize().into()),
        }
    }
}

/// Runs the response reader over `response` as if a server had sent it (for the fuzz target).
pub(crate) fn fuzz_response(response: &[u8]) -> bool {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    else {
        return false;
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], 80));
    let selector = response.first().copied().unwrap_or(0);
    let mut check = HttpCheck::get("/");
    check.keep_alive = selector & 1 != 0;
    if selector & 2 != 0 {
        check.body_expect = Some(Expect::Substring(b"ok".to_vec()));
    }
    if selector & 4 != 0 {
        check.digest = Some(BodyDigest::Md5([0; 16]));
    }
    if selector & 8 != 0 {
        check.method = "HEAD".into();
    }
    let Ok(prepared) = check.prepare(addr) else {
        return false;
    };
    let timeouts = Timeouts {
        max_bytes: 256,
        max_body: 4096,
        ..Timeouts::default()
    };
    let stream: Box<dyn Io> = Box::new(tokio::io::join(
        std::io::Cursor::new(response.to_vec()),
        tokio::io::sink(),
    ));
    runtime.block_on(async {
        let deadline = Instant::now() + timeouts.read;
        matches!(
            prepared
                .exchange(stream, false, addr, deadline, &timeouts)
                .await,
            Exchange::Done(Ok(_), _)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_sets() {
        let s: StatusSet = "200,300-302".parse().unwrap();
        assert!(s.contains(200) && s.contains(301) && !s.contains(201));
        assert_eq!(s.to_string(), "200,300-302");
        assert!("99".parse::<StatusSet>().is_err());
        assert!("300-200".parse::<StatusSet>().is_err());
        assert!("".parse::<StatusSet>().is_err());
    }

    #[test]
    fn digests() {
        let md5: BodyDigest = "d41d8cd98f00b204e9800998ecf8427e".parse().unwrap();
        assert_eq!(md5.to_string(), "md5:d41d8cd98f00b204e9800998ecf8427e");
        assert!(
            "md5:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
                .parse::<BodyDigest>()
                .is_err()
        );
        assert!("xyz".parse::<BodyDigest>().is_err());
    }

    #[test]
    fn request_rendering() {
        let mut c = HttpCheck::get("/health?x=1");
        c.headers.push(("X-Probe".into(), "1".into()));
        c.body = b"hi".to_vec();
        c.method = "POST".into();
        let p = c.prepare("10.0.0.1:8080".parse().unwrap()).unwrap();
        let text = String::from_utf8(p.request.to_vec()).unwrap();
        assert_eq!(
            text,
            concat!(
                "POST /health?x=1 HTTP/1.1\r\nHost: 10.0.0.1:8080\r\nUser-Agent: lvs-healthcheck/",
                env!("CARGO_PKG_VERSION"),
                "\r\nConnection: close\r\nX-Probe: 1\r\nContent-Length: 2\r\n\r\nhi"
            )
        );
        let p = HttpCheck::get("/")
            .prepare("[::1]:80".parse().unwrap())
            .unwrap();
        assert!(p.request.starts_with(b"GET / HTTP/1.1\r\nHost: [::1]\r\n"));
        let mut c = HttpCheck::get("/");
        c.headers.push(("Bad\r\nName".into(), "x".into()));
        assert!(c.prepare("10.0.0.1:80".parse().unwrap()).is_err());
        assert!(
            HttpCheck::get("/a b")
                .prepare("10.0.0.1:80".parse().unwrap())
                .is_err()
        );
    }
}
