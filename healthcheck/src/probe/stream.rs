//! TCP and UDP send/expect.

use std::net::SocketAddr;

use tokio::{
    io::{AsyncRead, AsyncReadExt},
    time::{Instant, timeout},
};

use super::{Pass, ProbeError, Timeouts, before, read_error, send_error};
use crate::expect::{Expect, Progress};
use crate::probe::socket::{Binding, Connect, Connection, unregistered};

/// A TCP probe: connect, then optionally send bytes and read until an expectation is met.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TcpCheck {
    /// Bytes written once connected (already escape-decoded).
    pub send: Option<Vec<u8>>,
    /// What the reply must contain; with none, a completed connect (and send) is healthy.
    pub expect: Option<Expect>,
}

/// A UDP probe: send a datagram and wait for a reply that meets the expectation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UdpCheck {
    /// The datagram sent (already escape-decoded); empty when `None`.
    pub send: Option<Vec<u8>>,
    /// What the reply datagram must contain; with none, any non-empty reply is healthy. A reply
    /// that does not match, or an ICMP port-unreachable, fails the probe at once; with no reply the
    /// read timeout does.
    pub expect: Option<Expect>,
}

impl TcpCheck {
    /// A connect, nothing sent, nothing expected.
    pub fn new() -> TcpCheck {
        TcpCheck::default()
    }

    /// Sends `send` once connected.
    pub fn with_send(mut self, send: impl Into<Vec<u8>>) -> TcpCheck {
        self.send = Some(send.into());
        self
    }

    /// Reads until the reply meets `expect`.
    pub fn with_expect(mut self, expect: Expect) -> TcpCheck {
        self.expect = Some(expect);
        self
    }
}

impl UdpCheck {
    /// An empty datagram; any non-empty reply passes.
    pub fn new() -> UdpCheck {
        UdpCheck::default()
    }

    /// Sends `send` as the datagram.
    pub fn with_send(mut self, send: impl Into<Vec<u8>>) -> UdpCheck {
        self.send = Some(send.into());
        self
    }

    /// The reply must meet `expect`.
    pub fn with_expect(mut self, expect: Expect) -> UdpCheck {
        self.expect = Some(expect);
        self
    }
}

pub(crate) async fn connect(
    binding: &Binding,
    addr: SocketAddr,
    timeouts: &Timeouts,
) -> Result<Connection, ProbeError> {
    let waiting = match binding.tcp(addr)? {
        Connect::Over(Ok(connection)) => return Ok(connection),
        Connect::Over(Err(source)) => return Err(ProbeError::Connect { addr, source }),
        Connect::Waiting(waiting) => waiting,
    };
    match timeout(timeouts.connect, waiting).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(source)) => Err(ProbeError::Connect { addr, source }),
        Err(_) => Err(ProbeError::ConnectTimeout {
            addr,
            after: timeouts.connect,
        }),
    }
}

impl TcpCheck {
    pub(crate) async fn run(
        &self,
        addr: SocketAddr,
        binding: &Binding,
        timeouts: &Timeouts,
    ) -> Result<Pass, ProbeError> {
        let mut connection = connect(binding, addr, timeouts).await?;
        if self.send.is_none() && self.expect.is_none() {
            return Ok(Pass::Connected);
        }
        let deadline = Instant::now() + timeouts.read;
        if let Some(send) = &self.send {
            let sent = connection.send(send);
            connection = before(deadline, addr, timeouts, 0, send_error, sent).await?;
        }
        match &self.expect {
            None => Ok(Pass::Connected),
            Some(expect) => {
                let mut stream = registered(connection, addr)?;
                read_expect(&mut stream, expect, addr, deadline, timeouts).await
            }
        }
    }
}

/// `connection` registered with the reactor, to wait for its replies.
pub(crate) fn registered(
    connection: Connection,
    addr: SocketAddr,
) -> Result<tokio::net::TcpStream, ProbeError> {
    connection.into_stream().map_err(unregistered(addr))
}

/// Reads until `expect` is met, the peer closes, the limit is reached or the deadline passes.
pub(crate) async fn read_expect<R: AsyncRead + Unpin>(
    reader: &mut R,
    expect: &Expect,
    addr: SocketAddr,
    deadline: Instant,
    timeouts: &Timeouts,
) -> Result<Pass, ProbeError> {
    let mut matcher = expect.matcher(timeouts.max_bytes);
    let mut buf = vec![0u8; 4096];
    loop {
        let want = matcher.read_size(buf.len());
        let got = matcher.seen().len();
        let n = before(
            deadline,
            addr,
            timeouts,
            got,
            read_error,
            reader.read(&mut buf[..want]),
        )
        .await?;
        if n == 0 {
            return if matcher.finish() {
                Ok(Pass::Matched)
            } else {
                Err(ProbeError::mismatch(expect, matcher.seen()))
            };
        }
        match matcher.feed(&buf[..n]) {
            Progress::Matched => return Ok(Pass::Matched),
            Progress::Failed => return Err(ProbeError::mismatch(expect, matcher.seen())),
            Progress::NeedMore => {}
        }
    }
}

impl UdpCheck {
    pub(crate) async fn run(
        &self,
        addr: SocketAddr,
        binding: &Binding,
        timeouts: &Timeouts,
    ) -> Result<Pass, ProbeError> {
        let socket = binding.udp(addr)?;
        let deadline = Instant::now() + timeouts.read;
        let payload = self.send.as_deref().unwrap_or_default();
        socket
            .send(payload)
            .await
            .map_err(|source| ProbeError::Send { addr, source })?;
        let any = Expect::Any;
        let expect = self.expect.as_ref().unwrap_or(&any);
        let mut matcher = expect.matcher(timeouts.max_bytes);
        let mut buf = vec![0u8; 65536];
        loop {
            let got = matcher.seen().len();
            let n = before(
                deadline,
                addr,
                timeouts,
                got,
                read_error,
                socket.recv(&mut buf),
            )
            .await?;
            // A datagram is a whole reply: judge it now.
            if matcher.feed(&buf[..n]) == Progress::Matched || matcher.finish() {
                return Ok(Pass::Matched);
            }
            if n > 0 {
                return Err(ProbeError::mismatch(expect, matcher.seen()));
            }
        }
    }
}
