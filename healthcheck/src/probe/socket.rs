//! Sockets for probes: source address, interface and fwmark, set before connecting.

use std::{io, net::IpAddr, net::SocketAddr};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};

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
        let socket =
            Socket::new(Domain::for_address(addr), ty, Some(proto)).map_err(fail("socket"))?;
        socket
            .set_nonblocking(true)
            .map_err(fail("non-blocking mode"))?;
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

    /// A TCP connection to `addr`, not yet awaited: the caller applies the connect timeout.
    pub(crate) fn tcp(
        &self,
        addr: SocketAddr,
    ) -> Result<impl Future<Output = io::Result<TcpStream>> + use<>, ProbeError> {
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
        let socket = TcpSocket::from_std_stream(std::net::TcpStream::from(socket));
        Ok(socket.connect(addr))
    }

    /// A UDP socket connected to `addr` (so ICMP errors come back as read errors).
    pub(crate) fn udp(&self, addr: SocketAddr) -> Result<UdpSocket, ProbeError> {
        let socket = self.socket(addr, Type::DGRAM, Protocol::UDP)?;
        socket
            .connect(&addr.into())
            .map_err(|source| ProbeError::Connect { addr, source })?;
        UdpSocket::from_std(std::net::UdpSocket::from(socket)).map_err(|source| {
            ProbeError::Socket {
                addr,
                what: "register with the runtime",
                source,
            }
        })
    }
}
