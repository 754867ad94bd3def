//! Every attribute of every nest, encoded: the bytes are pinned so that a change to how the
//! attribute enums are written (by hand or generated) cannot change the wire format unnoticed.
#![allow(clippy::unwrap_used)]

use ipvs::codec::{
    self, CmdAttr, Command, DaemonAttr, DestAttr, IpvsMessage, StatsAttr, SvcAttr, stats_attr,
};
use netlink_packet_core::{DefaultNla, NLM_F_ACK};

fn stats() -> Vec<StatsAttr> {
    vec![
        StatsAttr::U32(stats_attr::CONNS, 0x0102_0304),
        StatsAttr::U64(stats_attr::OUTBPS, 0x0102_0304_0506_0708),
        StatsAttr::Other(DefaultNla::new(stats_attr::PAD, vec![])),
    ]
}

fn every_attribute() -> IpvsMessage {
    IpvsMessage::new(
        Command::NewDest,
        vec![
            CmdAttr::Service(vec![
                SvcAttr::AddressFamily(10),
                SvcAttr::Protocol(132),
                SvcAttr::Address(vec![0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
                SvcAttr::Port(0x1234),
                SvcAttr::Fwmark(0xdead_beef),
                SvcAttr::SchedName("wlc".into()),
                SvcAttr::Flags {
                    flags: 0x11,
                    mask: 0x3d,
                },
                SvcAttr::Timeout(300),
                SvcAttr::Netmask([255, 255, 255, 0]),
                SvcAttr::Stats(stats()),
                SvcAttr::PeName("sip".into()),
                SvcAttr::Stats64(stats()),
                SvcAttr::Other(DefaultNla::new(99, vec![1, 2, 3])),
            ]),
            CmdAttr::Dest(vec![
                DestAttr::Address(vec![10, 0, 0, 2]),
                DestAttr::Port(0x1f90),
                DestAttr::FwdMethod(2),
                DestAttr::Weight(7),
                DestAttr::UpperThreshold(100),
                DestAttr::LowerThreshold(10),
                DestAttr::ActiveConns(1),
                DestAttr::InactiveConns(2),
                DestAttr::PersistConns(3),
                DestAttr::Stats(stats()),
                DestAttr::AddressFamily(2),
                DestAttr::Stats64(stats()),
                DestAttr::TunType(1),
                DestAttr::TunPort(0x17c0),
                DestAttr::TunFlags(3),
                DestAttr::Other(DefaultNla::new(77, vec![9])),
            ]),
            CmdAttr::Daemon(vec![
                DaemonAttr::State(2),
                DaemonAttr::McastIfn("eth0".into()),
                DaemonAttr::SyncId(9),
                DaemonAttr::SyncMaxLen(1400),
                DaemonAttr::McastGroup([224, 0, 0, 81]),
                DaemonAttr::McastGroup6([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x51]),
                DaemonAttr::McastPort(8848),
                DaemonAttr::McastTtl(2),
                DaemonAttr::Other(DefaultNla::new(66, vec![])),
            ]),
            CmdAttr::TimeoutTcp(900),
            CmdAttr::TimeoutTcpFin(120),
            CmdAttr::TimeoutUdp(300),
            CmdAttr::Other(DefaultNla::new(55, vec![5, 5])),
        ],
    )
}

/// NLA header + value + padding, as a kernel would write an attribute.
fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
    let len = 4 + value.len();
    let mut v = Vec::with_capacity((len + 3) & !3);
    v.extend((len as u16).to_ne_bytes());
    v.extend(kind.to_ne_bytes());
    v.extend(value);
    v.resize((len + 3) & !3, 0);
    v
}

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

#[test]
fn every_attribute_has_its_bytes() {
    let expected = hex("dc 01 00 00 1c 00 05 00 07 00 00 00 00 00 00 00
         05 01 00 00 a4 00 01 80 06 00 01 00 0a 00 00 00
         06 00 02 00 84 00 00 00 14 00 03 00 20 01 0d b8
         00 00 00 00 00 00 00 00 00 00 00 01 06 00 04 00
         12 34 00 00 08 00 05 00 ef be ad de 08 00 06 00
         77 6c 63 00 0c 00 07 00 11 00 00 00 3d 00 00 00
         08 00 08 00 2c 01 00 00 08 00 09 00 ff ff ff 00
         1c 00 0a 80 08 00 01 00 04 03 02 01 0c 00 0a 00
         08 07 06 05 04 03 02 01 04 00 0b 00 08 00 0b 00
         73 69 70 00 1c 00 0c 80 08 00 01 00 04 03 02 01
         0c 00 0a 00 08 07 06 05 04 03 02 01 04 00 0b 00
         07 00 63 00 01 02 03 00 ac 00 02 80 08 00 01 00
         0a 00 00 02 06 00 02 00 1f 90 00 00 08 00 03 00
         02 00 00 00 08 00 04 00 07 00 00 00 08 00 05 00
         64 00 00 00 08 00 06 00 0a 00 00 00 08 00 07 00
         01 00 00 00 08 00 08 00 02 00 00 00 08 00 09 00
         03 00 00 00 1c 00 0a 80 08 00 01 00 04 03 02 01
         0c 00 0a 00 08 07 06 05 04 03 02 01 04 00 0b 00
         06 00 0b 00 02 00 00 00 1c 00 0c 80 08 00 01 00
         04 03 02 01 0c 00 0a 00 08 07 06 05 04 03 02 01
         04 00 0b 00 05 00 0d 00 01 00 00 00 06 00 0e 00
         17 c0 00 00 06 00 0f 00 03 00 00 00 05 00 4d 00
         09 00 00 00 58 00 03 80 08 00 01 00 02 00 00 00
         09 00 02 00 65 74 68 30 00 00 00 00 08 00 03 00
         09 00 00 00 06 00 04 00 78 05 00 00 08 00 05 00
         e0 00 00 51 14 00 06 00 ff 02 00 00 00 00 00 00
         00 00 00 00 00 00 00 51 06 00 07 00 90 22 00 00
         05 00 08 00 02 00 00 00 04 00 42 00 08 00 04 00
         84 03 00 00 08 00 05 00 78 00 00 00 08 00 06 00
         2c 01 00 00 06 00 37 00 05 05 00 00");
    let bytes = codec::encode_request(&every_attribute(), 0x1c, NLM_F_ACK, 7);
    assert_eq!(bytes, expected);
    let back = codec::decode_message(&bytes).unwrap();
    assert_eq!(codec::inner(&back), Some(&every_attribute()));
}

#[test]
fn info_attributes_have_their_bytes() {
    let info = IpvsMessage::new(
        Command::SetInfo,
        vec![
            CmdAttr::InfoVersion(0x010201),
            CmdAttr::InfoConnTabSize(4096),
        ],
    );
    let bytes = codec::encode_request(&info, 0x1c, 0, 8);
    assert_eq!(
        bytes,
        hex("24 00 00 00 1c 00 01 00 08 00 00 00 00 00 00 00
         0e 01 00 00 08 00 01 00 01 02 01 00 08 00 02 00
         00 10 00 00")
    );
    let back = codec::decode_message(&bytes).unwrap();
    assert_eq!(codec::inner(&back), Some(&info));
}

/// A GET_DEST reply (command 5) whose DEST nest holds `inner`, decoded.
fn dest_reply(inner: &[u8]) -> Result<Vec<DestAttr>, String> {
    let msg = IpvsMessage::new(
        Command::NewDest,
        vec![CmdAttr::Other(DefaultNla::new(
            codec::cmd_attr::DEST,
            inner.to_vec(),
        ))],
    );
    let bytes = codec::encode_request(&msg, 0x1c, 0, 1);
    let m = codec::decode_message(&bytes).map_err(|e| e.to_string())?;
    Ok(codec::inner(&m).unwrap().dest().unwrap().to_vec())
}

/// A GET_SERVICE reply whose SERVICE nest holds `inner`, decoded.
fn svc_reply(inner: &[u8]) -> Result<Vec<SvcAttr>, String> {
    let msg = IpvsMessage::new(
        Command::NewService,
        vec![CmdAttr::Other(DefaultNla::new(
            codec::cmd_attr::SERVICE,
            inner.to_vec(),
        ))],
    );
    let bytes = codec::encode_request(&msg, 0x1c, 0, 1);
    let m = codec::decode_message(&bytes).map_err(|e| e.to_string())?;
    Ok(codec::inner(&m).unwrap().service().unwrap().to_vec())
}

/// Fixed-width values read their first bytes and ignore any excess; a value too short for its
/// width is an error; strings end at their first NUL or at the end of the value.
#[test]
fn value_widths_on_decode() {
    use codec::{dest_attr, svc_attr};
    assert_eq!(
        dest_reply(&nla(dest_attr::WEIGHT, &[1, 0, 0, 0, 0xff, 0xff])).unwrap(),
        vec![DestAttr::Weight(u32::from_ne_bytes([1, 0, 0, 0]))]
    );
    assert!(dest_reply(&nla(dest_attr::WEIGHT, &[1, 0, 0])).is_err());
    assert_eq!(
        dest_reply(&nla(dest_attr::TUN_TYPE, &[2, 9])).unwrap(),
        vec![DestAttr::TunType(2)]
    );
    assert!(dest_reply(&nla(dest_attr::TUN_TYPE, &[])).is_err());
    assert_eq!(
        dest_reply(&nla(dest_attr::PORT, &[0x1f, 0x90, 7])).unwrap(),
        vec![DestAttr::Port(8080)]
    );
    assert!(dest_reply(&nla(dest_attr::PORT, &[0x1f])).is_err());
    assert!(dest_reply(&nla(dest_attr::ADDR_FAMILY, &[2])).is_err());
    assert_eq!(
        dest_reply(&nla(dest_attr::ADDR, &[1, 2, 3])).unwrap(),
        vec![DestAttr::Address(vec![1, 2, 3])]
    );
    assert!(dest_reply(&nla(dest_attr::STATS, &[3, 0, 1, 0])).is_err());
    assert_eq!(
        svc_reply(&nla(svc_attr::SCHED_NAME, b"rr\0xy")).unwrap(),
        vec![SvcAttr::SchedName("rr".into())]
    );
    assert_eq!(
        svc_reply(&nla(svc_attr::PE_NAME, b"sip")).unwrap(),
        vec![SvcAttr::PeName("sip".into())]
    );
    assert!(svc_reply(&nla(svc_attr::NETMASK, &[255, 255, 255])).is_err());
    assert!(svc_reply(&nla(svc_attr::FLAGS, &[1, 0, 0, 0, 0xff, 0xff, 0xff])).is_err());
    let flags = [1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 9];
    assert_eq!(
        svc_reply(&nla(svc_attr::FLAGS, &flags)).unwrap(),
        vec![SvcAttr::Flags {
            flags: u32::from_ne_bytes([1, 0, 0, 0]),
            mask: u32::MAX
        }]
    );
}
