//! Putting frames on the wire: a packet socket (pnet's datalink channel) behind a small trait.

use std::io;
use std::time::Duration;

use pnet_datalink::{Channel, Config, DataLinkSender};

use crate::error::Error;
use crate::interface::Interface;

/// Where frames go. [`PacketSocket`] is the real one; the trait lets callers send through
/// their own socket, or record frames.
pub trait FrameSink: Send {
    /// Sends one complete Ethernet frame. Must not wait for the network.
    fn send(&mut self, frame: &[u8]) -> io::Result<()>;
}

/// A raw packet socket bound to one interface.
pub struct PacketSocket {
    tx: Box<dyn DataLinkSender>,
    ifname: String,
}

impl std::fmt::Debug for PacketSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketSocket")
            .field("ifname", &self.ifname)
            .finish()
    }
}

impl PacketSocket {
    /// Opens a packet socket on the interface (needs `CAP_NET_RAW`).
    ///
    /// Sends never wait: the socket is polled with a zero timeout, so a full send queue is an
    /// error rather than a stall of the caller's runtime.
    pub fn open(iface: &Interface) -> Result<PacketSocket, Error> {
        let config = Config {
            promiscuous: false,
            write_timeout: Some(Duration::ZERO),
            read_buffer_size: 64,
            write_buffer_size: 128,
            ..Config::default()
        };
        let ifname = iface.name().to_owned();
        match pnet_datalink::channel(iface.raw(), config) {
            Ok(Channel::Ethernet(tx, _rx)) => Ok(PacketSocket { tx, ifname }),
            Ok(_) => Err(Error::OpenSocket {
                ifname,
                source: io::Error::other("pnet returned a channel that is not Ethernet"),
            }),
            Err(source) if source.kind() == io::ErrorKind::PermissionDenied => {
                Err(Error::PermissionDenied { ifname, source })
            }
            Err(source) => Err(Error::OpenSocket { ifname, source }),
        }
    }

    /// The interface this socket sends on.
    pub fn ifname(&self) -> &str {
        &self.ifname
    }
}

impl FrameSink for PacketSocket {
    fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        self.tx
            .send_to(frame, None)
            .unwrap_or_else(|| Err(io::Error::other("the packet socket refused the frame")))
    }
}
