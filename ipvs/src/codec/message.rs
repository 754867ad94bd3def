//! Whole IPVS messages: the command, the top-level attributes, and their netlink framing.

use netlink_packet_core::{
    DecodeError, Emitable, ErrorContext, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload, NlasIterator, ParseableParametrized,
};
use netlink_packet_generic::{GenlFamily, GenlHeader, GenlMessage};

use super::attrs::{CmdAttr, DaemonAttr, DestAttr, SvcAttr};
use super::command::Command;
use super::constants::{FAMILY_NAME, FAMILY_VERSION};
use super::value::fixed;

/// The payload of an IPVS generic-netlink message: a command and its top-level attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpvsMessage {
    /// The command (`genlmsghdr.cmd`).
    pub cmd: Command,
    /// Top-level attributes.
    pub attrs: Vec<CmdAttr>,
}

impl IpvsMessage {
    /// A message with the given command and attributes.
    pub fn new(cmd: Command, attrs: Vec<CmdAttr>) -> Self {
        Self { cmd, attrs }
    }

    /// The nested service attributes, if any.
    pub fn service(&self) -> Option<&[SvcAttr]> {
        self.attrs.iter().find_map(|a| match a {
            CmdAttr::Service(s) => Some(s.as_slice()),
            _ => None,
        })
    }

    /// The nested destination attributes, if any.
    pub fn dest(&self) -> Option<&[DestAttr]> {
        self.attrs.iter().find_map(|a| match a {
            CmdAttr::Dest(s) => Some(s.as_slice()),
            _ => None,
        })
    }

    /// The nested daemon attributes, if any.
    pub fn daemon(&self) -> Option<&[DaemonAttr]> {
        self.attrs.iter().find_map(|a| match a {
            CmdAttr::Daemon(s) => Some(s.as_slice()),
            _ => None,
        })
    }
}

impl GenlFamily for IpvsMessage {
    fn family_name() -> &'static str {
        FAMILY_NAME
    }
    fn command(&self) -> u8 {
        self.cmd.into()
    }
    fn version(&self) -> u8 {
        FAMILY_VERSION
    }
}

impl Emitable for IpvsMessage {
    fn buffer_len(&self) -> usize {
        self.attrs.as_slice().buffer_len()
    }
    fn emit(&self, buffer: &mut [u8]) {
        self.attrs.as_slice().emit(buffer)
    }
}

impl ParseableParametrized<[u8], GenlHeader> for IpvsMessage {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        let cmd = Command::from(header.cmd);
        let attrs = NlasIterator::new(buf)
            .map(|nla| nla.and_then(|b| CmdAttr::parse_with_cmd(&b, cmd)))
            .collect::<Result<Vec<_>, _>>()
            .context("failed to parse IPVS attributes")?;
        Ok(Self { cmd, attrs })
    }
}

/// A complete netlink message carrying an IPVS payload.
pub type Message = NetlinkMessage<GenlMessage<IpvsMessage>>;

/// Wraps `msg` into a netlink message for family id `family_id` with the given extra `flags`
/// (`NLM_F_REQUEST` is always added) and sequence number.
pub fn request(msg: IpvsMessage, family_id: u16, flags: u16, seq: u32) -> Message {
    let mut genl = GenlMessage::from_payload(msg);
    genl.set_resolved_family_id(family_id);
    let mut hdr = NetlinkHeader::default();
    hdr.flags = NLM_F_REQUEST | flags;
    hdr.sequence_number = seq;
    let mut m = NetlinkMessage::new(hdr, NetlinkPayload::InnerMessage(genl));
    m.finalize();
    m
}

/// Encodes `msg` as a complete request datagram (netlink header + genl header + attributes).
pub fn encode_request(msg: &IpvsMessage, family_id: u16, flags: u16, seq: u32) -> Vec<u8> {
    let m = request(msg.clone(), family_id, flags, seq);
    let mut buf = vec![0u8; m.buffer_len()];
    m.serialize(&mut buf);
    buf
}

/// Decodes one netlink message (the first in `buf`) carrying an IPVS payload, an error/ACK or a
/// DONE. Never panics.
pub fn decode_message(buf: &[u8]) -> Result<Message, DecodeError> {
    // NetlinkMessage::deserialize checks the header length against the buffer.
    if buf.len() < 16 {
        return Err(DecodeError::from("netlink message shorter than its header"));
    }
    Message::deserialize(buf)
}

/// Decodes every netlink message in a datagram. Stops at the first malformed one.
pub fn decode_datagram(mut buf: &[u8]) -> Result<Vec<Message>, DecodeError> {
    let mut out = Vec::new();
    while buf.len() >= 16 {
        let len = u32::from_ne_bytes(fixed(buf, "nlmsg len")?) as usize;
        if len < 16 || len > buf.len() {
            return Err(DecodeError::from(format!(
                "bad netlink message length {len}"
            )));
        }
        out.push(decode_message(&buf[..len])?);
        let step = (len + 3) & !3;
        buf = buf.get(step..).unwrap_or(&[]);
    }
    Ok(out)
}

/// The IPVS payload of a decoded message, if it carries one.
pub fn inner(m: &Message) -> Option<&IpvsMessage> {
    match &m.payload {
        NetlinkPayload::InnerMessage(g) => Some(&g.payload),
        _ => None,
    }
}
