//! Sockets for probes: source address, interface and fwmark, set before connecting.

use std::{
    io::{self, Write},
    net::{IpAddr, SocketAddr},
};

use socket2::{Domain, Protocol, SockAddr, SockRef, Socket, Type};
use tokio::{
    io::{AsyncWriteExt, Interest},
    net::{TcpStream, UdpSocket},
};

use super::ProbeError;

/// Where a probe's packets come from, for direct-routing setups and policy routing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Binding {
    /// Source address (port chosen by the kernel).
    pub source: Option<IpAddr>,
    /// Interface to send through (`SO_BINDTODEVICE`; needs `CAP_NET_RAW`).
    pub interface: Option<String>,
    /// Firewall mark on the probe's packets (`SO_MARK`; needs `CAP_NET_ADMIN`).
    pub fwmark: Option<u32>,
}

impl Binding {
    /// The kernel's choice of source, interface and mark.
    pub fn new() -> Binding {
        Binding::default()
    }

    /// From `source` (port chosen by the kernel).
    pub fn with_source(mut self, source: IpAddr) -> Binding {
        self.source = Some(source);
        self
    }

    /// Through `interface` (`SO_BINDTODEVICE`).
    pub fn with_interface(mut self, interface: impl Into<String>) -> Binding {
        self.interface = Some(interface.into());
        self
    }

    /// With firewall mark `fwmark` (`SO_MARK`).
    pub fn with_fwmark(mut self, fwmark: u32) -> Binding {
        self.fwmark = Some(fwmark);
        self
    }

    pub(crate) fn socket(
        &self,
        addr: SocketAddr,
        ty: Type,
        proto: Protocol,
    ) -> Result<Socket, ProbeError> {
        let fail = |what| move |source| ProbeError::Socket { addr, what, source };
        // Non-blocking from the start (`SOCK_NONBLOCK`; socket2 adds `SOCK_CLOEXEC`): no
        // `fcntl` pair per check.
        let socket = Socket::new(Domain::for_address(addr), ty.nonblocking(), Some(proto))
            .map_err(fail("socket"))?;
        if let Some(dev) = &self.interface {
            socket
                .bind_device(Some(dev.as_bytes()))
                .map_err(fail("bind to interface"))?;
        }
        if let Some(mark) = self.fwmark {
            socket.set_mark(mark).map_err(fail("fwmark"))?;
        }
        if let Some(source) = self.source {
            socket
                .bind(&SocketAddr::new(source, 0).into())
                .map_err(fail("bind to source address"))?;
        }
        Ok(socket)
    }

    /// A TCP connection to `addr`: over at once (or failed) when the server is close, or a
    /// future to wait on, to which the caller applies the connect timeout.
    pub(crate) fn tcp(
        &self,
        addr: SocketAddr,
    ) -> Result<Connect<impl Future<Output = io::Result<Connection>> + use<>>, ProbeError> {
        let socket = self.socket(addr, Type::STREAM, Protocol::TCP)?;
        // Close with a reset once the verdict is in, as HAProxy's checks do: no TIME_WAIT
        // left on the director for every check, and no FIN exchange to pay for.
        socket
            .set_linger(Some(std::time::Duration::ZERO))
            .map_err(|source| ProbeError::Socket {
                addr,
                what: "SO_LINGER",
                source,
            })?;
        let target = SockAddr::from(addr);
        match socket.connect(&target) {
            Ok(()) => return Ok(Connect::Over(Ok(Connection::Bare(socket.into())))),
            Err(e) if e.raw_os_error() != Some(libc::EINPROGRESS) => {
                return Ok(Connect::Over(Err(e)));
            }
            Err(_in_progress) => {}
        }
        // A server on this host or in a neighbour's namespace has usually answered within
        // `connect` itself: a second `connect` says how it went (0 or `EISCONN`: up; the error:
        // refused or unreachable; `EALREADY`: still going), and only then is the socket handed
        // to the reactor (and a timer) to wait.
        match again(&SockRef::from(&socket), &target) {
            Ok(true) => return Ok(Connect::Over(Ok(Connection::Bare(socket.into())))),
            Ok(false) => {}
            Err(e) => return Ok(Connect::Over(Err(e))),
        }
        Ok(Connect::Waiting(async move {
            let stream = TcpStream::from_std(socket.into())?;
            loop {
                stream.writable().await?;
                let asked = stream.try_io(Interest::WRITABLE, || {
                    match again(&SockRef::from(&stream), &target) {
                        Ok(true) => Ok(()),
                        // Woken before the handshake is over: wait again.
                        Ok(false) => Err(io::ErrorKind::WouldBlock.into()),
                        Err(e) => Err(e),
                    }
                });
                match asked {
                    Ok(()) => return Ok(Connection::Registered(stream)),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(e) => return Err(e),
                }
            }
        }))
    }

    /// A UDP socket connected to `addr` (so ICMP errors come back as read errors).
    pub(crate) fn udp(&self, addr: SocketAddr) -> Result<UdpSocket, ProbeError> {
        let socket = self.socket(addr, Type::DGRAM, Protocol::UDP)?;
        socket
            .connect(&addr.into())
            .map_err(|source| ProbeError::Connect { addr, source })?;
        UdpSocket::from_std(std::net::UdpSocket::from(socket)).map_err(unregistered(addr))
    }
}

/// `connect` asked again on a connecting socket: `true` once it is up, `false` while the
/// handshake goes on, or why it failed.
fn again(socket: &SockRef<'_>, target: &SockAddr) -> io::Result<bool> {
    match socket.connect(target) {
        Ok(()) => Ok(true),
        Err(e) => match e.raw_os_error() {
            Some(libc::EISCONN) => Ok(true),
            Some(libc::EALREADY | libc::EINPROGRESS) => Ok(false),
            _ => Err(e),
        },
    }
}

/// How a TCP connection started: [`Binding::tcp`].
pub(crate) enum Connect<F> {
    /// Up or failed already.
    Over(io::Result<Connection>),
    /// The handshake goes on: wait for this.
    Waiting(F),
}

/// A probe's TCP connection, up. A `Bare` one is not registered with tokio's reactor yet: a
/// connect check never needs it, and a probe's request goes out before it does (one `epoll`
/// registration and one wake-up fewer per check).
#[derive(Debug)]
pub(crate) enum Connection {
    Bare(std::net::TcpStream),
    Registered(TcpStream),
}

impl Connection {
    /// Writes `bytes` whole: straight into a bare socket's send buffer, where a probe's
    /// request fits, and through the reactor for what does not.
    pub(crate) async fn send(self, bytes: &[u8]) -> io::Result<Connection> {
        let mut rest = bytes;
        if let Connection::Bare(socket) = &self {
            while !rest.is_empty() {
                match (&*socket).write(rest) {
                    Ok(n) => rest = &rest[n..],
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            if rest.is_empty() {
                return Ok(self);
            }
        }
        let mut stream = self.into_stream()?;
        stream.write_all(rest).await?;
        Ok(Connection::Registered(stream))
    }

    /// The connection as a tokio stream, registered with the reactor to wait for replies.
    pub(crate) fn into_stream(self) -> io::Result<TcpStream> {
        match self {
            Connection::Bare(socket) => TcpStream::from_std(socket),
            Connection::Registered(stream) => Ok(stream),
        }
    }
}

/// The error of a socket to `addr` that tokio's reactor would not take.
pub(crate) fn unregistered(addr: SocketAddr) -> impl FnOnce(io::Error) -> ProbeError {
    move |source| ProbeError::Socket {
        addr,
        what: "register with the runtime",
        source,
    }
}
