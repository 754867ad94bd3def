//! ICMP echo ("ping"): healthy when the target answers an echo request within the read
//! timeout. For what has no port to check: a gateway, a router, a host.

use std::{
    net::{IpAddr, SocketAddr},
    sync::atomic::{AtomicU16, Ordering},
};

use socket2::{Protocol, Type};
use tokio::{io::unix::AsyncFd, time::Instant};

use super::{Pass, ProbeError, Timeouts, before, read_error, send_error};
use crate::probe::socket::Binding;

/// An ICMP (or ICMPv6) echo probe, by the target's address family; the target's port is not
/// used. It needs a raw socket (`CAP_NET_RAW`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PingCheck {
    /// Bytes of payload (56, as ping's default).
    pub payload: usize,
}

impl Default for PingCheck {
    fn default() -> Self {
        PingCheck { payload: 56 }
    }
}

/// Sequence numbers, shared by every ping of the process (the identifier tells processes
/// apart).
static SEQUENCE: AtomicU16 = AtomicU16::new(0);

const ECHO_REQUEST_V4: u8 = 8;
const ECHO_REPLY_V4: u8 = 0;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;

/// An echo request (ICMP header and payload). The ICMPv4 checksum is computed here; the
/// kernel computes ICMPv6's (it covers a pseudo-header the socket knows).
pub(crate) fn echo_request(v6: bool, id: u16, seq: u16, payload: usize) -> Vec<u8> {
    let mut out = vec![0u8; 8 + payload];
    out[0] = if v6 { ECHO_REQUEST_V6 } else { ECHO_REQUEST_V4 };
    out[4..6].copy_from_slice(&id.to_be_bytes());
    out[6..8].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in out[8..].iter_mut().enumerate() {
        *b = i as u8;
    }
    if !v6 {
        let sum = checksum(&out);
        out[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    out
}

/// The Internet checksum (RFC 1071).
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Whether `packet` (as a raw socket reads it: with the IPv4 header for ICMPv4, without one
/// for ICMPv6) is the echo reply to `id` and `seq`. Never panics, whatever the bytes.
pub(crate) fn is_reply(v6: bool, packet: &[u8], id: u16, seq: u16) -> bool {
    let icmp = if v6 {
        packet
    } else {
        let Some(ihl) = packet.first().map(|b| usize::from(b & 0x0f) * 4) else {
            return false;
        };
        match packet.get(ihl..) {
            Some(rest) if ihl >= 20 => rest,
            _ => return false,
        }
    };
    let want = if v6 { ECHO_REPLY_V6 } else { ECHO_REPLY_V4 };
    icmp.len() >= 8
        && icmp[0] == want
        && icmp[1] == 0
        && icmp[4..6] == id.to_be_bytes()
        && icmp[6..8] == seq.to_be_bytes()
}

impl PingCheck {
    pub(crate) async fn run(
        &self,
        addr: SocketAddr,
        binding: &Binding,
        timeouts: &Timeouts,
    ) -> Result<Pass, ProbeError> {
        let v6 = matches!(addr.ip(), IpAddr::V6(_));
        let protocol = if v6 {
            Protocol::ICMPV6
        } else {
            Protocol::ICMPV4
        };
        let socket = binding.socket(addr, Type::RAW, protocol)?;
        // Connected: the kernel only hands this socket what comes from the target.
        socket
            .connect(&SocketAddr::new(addr.ip(), 0).into())
            .map_err(|source| ProbeError::Connect { addr, source })?;
        // SAFETY: the socket owns its descriptor and the `AsyncFd` owns the socket: the
        // descriptor stays open, and the same, for the `AsyncFd`'s whole life.
        let socket = unsafe { AsyncFd::register(socket) }.map_err(|e| ProbeError::Socket {
            addr,
            what: "register with the runtime",
            source: e.into(),
        })?;
        let id = (std::process::id() & 0xffff) as u16;
        let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        let request = echo_request(v6, id, seq, self.payload);
        let deadline = Instant::now() + timeouts.read;
        before(deadline, addr, timeouts, 0, send_error, async {
            loop {
                let mut ready = socket.writable().await?;
                match ready.try_io(|s| s.get_ref().send(&request)) {
                    Ok(result) => return result,
                    Err(_would_block) => continue,
                }
            }
        })
        .await?;
        let mut buf = [0u8; 2048];
        before(deadline, addr, timeouts, 0, read_error, async {
            loop {
                let mut ready = socket.readable().await?;
                match ready.try_io(|s| std::io::Read::read(&mut s.get_ref(), &mut buf)) {
                    Ok(Ok(n)) => {
                        if is_reply(v6, &buf[..n], id, seq) {
                            return Ok(());
                        }
                    }
                    Ok(Err(e)) => return Err(e),
                    Err(_would_block) => continue,
                }
            }
        })
        .await?;
        Ok(Pass::Echoed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_echo_request_as_ping_sends_it() {
        let r = echo_request(false, 0x1234, 7, 4);
        assert_eq!((r[0], r[1]), (8, 0), "type and code");
        assert_eq!(
            r[4..8],
            [0x12, 0x34, 0, 7],
            "identifier and sequence number"
        );
        // The checksum of a packet with its checksum is 0.
        assert_eq!(checksum(&r), 0);
        assert_eq!(&r[8..], &[0, 1, 2, 3]);
        let r6 = echo_request(true, 1, 2, 0);
        assert_eq!(r6, [128, 0, 0, 0, 0, 1, 0, 2]);
    }

    #[test]
    fn only_the_reply_to_our_request_counts() {
        let mut v4 = vec![0x45u8; 20];
        v4.extend([0, 0, 0xab, 0xcd, 0x12, 0x34, 0, 7]);
        assert!(is_reply(false, &v4, 0x1234, 7));
        assert!(!is_reply(false, &v4, 0x1234, 8), "another sequence number");
        assert!(!is_reply(false, &v4, 0x1235, 7), "another process");
        assert!(
            !is_reply(true, &[129, 0, 0, 0, 0, 1, 0, 2][..7], 1, 2),
            "cut short"
        );
        assert!(is_reply(true, &[129, 0, 0, 0, 0, 1, 0, 2], 1, 2));
        assert!(
            !is_reply(true, &[128, 0, 0, 0, 0, 1, 0, 2], 1, 2),
            "a request"
        );
    }

    proptest! {
        #[test]
        fn any_bytes_are_read_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80), v6 in any::<bool>()) {
            let _ = is_reply(v6, &bytes, 1, 2);
        }
    }
}
