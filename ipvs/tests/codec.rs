//! Host-side codec tests: golden byte vectors, kernel-shaped replies, proptest round trips.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use ipvs::codec::{
    self, CmdAttr, Command, DaemonAttr, DestAttr, IpvsMessage, StatsAttr, SvcAttr, stats_attr,
};
use ipvs::*;
use netlink_packet_core::{DefaultNla, NLM_F_ACK, NLM_F_DUMP, NLM_F_MULTIPART};
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The golden vector of the protocol reference (§1.14): NEW_DEST, seq 7, family 0x1c.
#[test]
fn golden_new_dest() {
    let mut addr16 = vec![10, 0, 0, 1];
    addr16.extend([0; 12]);
    let msg = IpvsMessage::new(
        Command::NewDest,
        vec![
            CmdAttr::Service(vec![
                SvcAttr::AddressFamily(2),
                SvcAttr::Protocol(6),
                SvcAttr::Address(addr16),
                SvcAttr::Port(80),
            ]),
            CmdAttr::Dest(vec![
                DestAttr::Address(vec![192, 168, 1, 10]),
                DestAttr::Port(8080),
                DestAttr::FwdMethod(3),
                DestAttr::Weight(1),
                DestAttr::UpperThreshold(0),
                DestAttr::LowerThreshold(0),
                DestAttr::AddressFamily(2),
            ]),
        ],
    );
    let expected = hex("80 00 00 00 1c 00 05 00 07 00 00 00 00 00 00 00
         05 01 00 00
         30 00 01 80
         06 00 01 00 02 00 00 00
         06 00 02 00 06 00 00 00
         14 00 03 00 0a 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00
         06 00 04 00 00 50 00 00
         3c 00 02 80
         08 00 01 00 c0 a8 01 0a
         06 00 02 00 1f 90 00 00
         08 00 03 00 03 00 00 00
         08 00 04 00 01 00 00 00
         08 00 05 00 00 00 00 00 08 00 06 00 00 00 00 00
         06 00 0b 00 02 00 00 00");
    let bytes = codec::encode_request(&msg, 0x1c, NLM_F_ACK, 7);
    assert_eq!(bytes, expected);
    let back = codec::decode_message(&bytes).unwrap();
    assert_eq!(codec::inner(&back), Some(&msg));
}

/// The model produces the same service/dest attributes for that request (with 4-byte ADDR).
#[test]
fn golden_model_new_dest() {
    let key = ServiceKey::tcp(ip("10.0.0.1"), 80);
    let d = Destination::new(ip("192.168.1.10"), 8080);
    let msg = IpvsMessage::new(
        Command::NewDest,
        vec![
            CmdAttr::Service(key.to_attrs()),
            CmdAttr::Dest(d.to_attrs(false)),
        ],
    );
    let expected = hex("74 00 00 00 1c 00 05 00 07 00 00 00 00 00 00 00
         05 01 00 00
         24 00 01 80
         06 00 01 00 02 00 00 00
         06 00 02 00 06 00 00 00
         08 00 03 00 0a 00 00 01
         06 00 04 00 00 50 00 00
         3c 00 02 80
         06 00 0b 00 02 00 00 00
         08 00 01 00 c0 a8 01 0a
         06 00 02 00 1f 90 00 00
         08 00 03 00 03 00 00 00
         08 00 04 00 01 00 00 00
         08 00 05 00 00 00 00 00 08 00 06 00 00 00 00 00");
    assert_eq!(codec::encode_request(&msg, 0x1c, NLM_F_ACK, 7), expected);
}

/// NEW_SERVICE for an IPv4 persistent sh service with /24 netmask, and an IPv6 /64 one.
#[test]
fn golden_service_netmask_and_flags() {
    let mut s = Service::new(ServiceKey::udp(ip("192.0.2.1"), 53))
        .with_scheduler(Scheduler::SourceHashing)
        .persistent(300);
    s.netmask = Some(24);
    s.flags.sched_fallback = true;
    let attrs = s.to_attrs();
    let bytes = codec::encode_request(
        &IpvsMessage::new(Command::NewService, vec![CmdAttr::Service(attrs)]),
        0x1c,
        NLM_F_ACK,
        1,
    );
    let expected_tail = hex("07 00 06 00 73 68 00 00
         0c 00 07 00 09 00 00 00 3d 00 00 00
         08 00 08 00 2c 01 00 00
         08 00 09 00 ff ff ff 00");
    assert!(bytes.ends_with(&expected_tail), "{bytes:02x?}");
    let mut s6 = Service::new(ServiceKey::tcp(ip("2001:db8::1"), 443)).persistent(60);
    s6.netmask = Some(64);
    let a6 = s6.to_attrs();
    assert!(a6.contains(&SvcAttr::Netmask(64u32.to_ne_bytes())));
    assert_eq!(Service::from_attrs(&a6).unwrap(), s6);
    assert_eq!(Service::from_attrs(&s.to_attrs()).unwrap(), s);
}

/// A reply shaped like the kernel's: no NLA_F_NESTED, 16-byte IPv4 address, HASHED flag,
/// legacy stats with PAD and mixed widths, STATS64, an unknown attribute.
#[test]
fn decode_kernel_shaped_service_reply() {
    let mut addr16 = vec![10, 0, 0, 1];
    addr16.extend([0; 12]);
    let stats = vec![
        StatsAttr::U32(stats_attr::CONNS, 5),
        StatsAttr::Other(DefaultNla::new(stats_attr::PAD, vec![])),
        StatsAttr::U64(stats_attr::INBYTES, 1 << 40),
    ];
    let stats64 = Stats {
        conns: 7,
        in_bytes: 1 << 41,
        out_pps: 3,
        ..Default::default()
    }
    .to_attrs64();
    let svc = vec![
        SvcAttr::AddressFamily(2),
        SvcAttr::Protocol(6),
        SvcAttr::Address(addr16),
        SvcAttr::Port(80),
        SvcAttr::SchedName("rr".into()),
        SvcAttr::Flags {
            flags: 0x2 | 0x1,
            mask: u32::MAX,
        },
        SvcAttr::Timeout(300),
        SvcAttr::Netmask([255, 255, 255, 255]),
        SvcAttr::Stats(stats.clone()),
        SvcAttr::Stats64(stats64),
        SvcAttr::Other(DefaultNla::new(99, vec![1, 2, 3])),
    ];
    let msg = IpvsMessage::new(Command::NewService, vec![CmdAttr::Service(svc)]);
    let mut bytes = codec::encode_request(&msg, 0x1c, NLM_F_MULTIPART, 3);
    // Clear NLA_F_NESTED on the SERVICE/STATS attributes, as the kernel sends them.
    let mut cleared = 0;
    for i in 20..bytes.len() - 3 {
        if bytes[i + 3] == 0x80 && matches!(bytes[i + 2], 1 | 10 | 12) {
            bytes[i + 3] = 0;
            cleared += 1;
        }
    }
    assert_eq!(cleared, 3);
    let m = codec::decode_message(&bytes).unwrap();
    let e = ServiceEntry::from_attrs(codec::inner(&m).unwrap().service().unwrap()).unwrap();
    assert_eq!(
        e.service,
        Service::new(ServiceKey::tcp(ip("10.0.0.1"), 80))
            .with_scheduler(Scheduler::RoundRobin)
            .persistent(300)
    );
    assert_eq!(e.stats.conns, 7, "STATS64 preferred");
    assert_eq!(e.stats.in_bytes, 1 << 41);
    assert_eq!(e.stats.out_pps, 3);
    // Legacy-only stats decode too.
    assert_eq!(Stats::from_attrs(&stats).in_bytes, 1 << 40);
}

/// SET_INFO's attributes 1 and 2 are VERSION and CONN_TAB_SIZE, not SERVICE and DEST.
#[test]
fn info_attribute_collision() {
    let bytes = hex("24 00 00 00 1c 00 00 00 01 00 00 00 00 00 00 00
         0e 01 00 00
         08 00 01 00 01 02 01 00
         08 00 02 00 00 10 00 00");
    let m = codec::decode_message(&bytes).unwrap();
    let inner = codec::inner(&m).unwrap();
    assert_eq!(inner.cmd, Command::SetInfo);
    let info = Info::from_attrs(&inner.attrs);
    assert_eq!(
        info,
        Info {
            version: 0x010201,
            conn_tab_size: 4096
        }
    );
    assert_eq!(info.version_triple(), (1, 2, 1));
}

/// Daemon: IPv4 group in network order, port in host order, TTL one byte.
#[test]
fn golden_daemon() {
    let mut d = Daemon::new(DaemonState::Backup, "eth0", 9);
    d.mcast_group = Some(ip("224.0.0.81"));
    d.mcast_port = Some(8848);
    d.mcast_ttl = Some(2);
    d.sync_maxlen = Some(1400);
    let bytes = codec::encode_request(
        &IpvsMessage::new(Command::NewDaemon, vec![CmdAttr::Daemon(d.to_attrs())]),
        0x1c,
        NLM_F_ACK,
        1,
    );
    let expected = hex("54 00 00 00 1c 00 05 00 01 00 00 00 00 00 00 00
         09 01 00 00
         40 00 03 80
         08 00 01 00 02 00 00 00
         09 00 02 00 65 74 68 30 00 00 00 00
         08 00 03 00 09 00 00 00
         06 00 04 00 78 05 00 00
         08 00 05 00 e0 00 00 51
         06 00 07 00 90 22 00 00
         05 00 08 00 02 00 00 00");
    assert_eq!(bytes, expected);
    let m = codec::decode_message(&bytes).unwrap();
    assert_eq!(
        Daemon::from_attrs(codec::inner(&m).unwrap().daemon().unwrap()).unwrap(),
        d
    );
}

/// Tunnel destination with GUE port (big-endian) and checksum flags; IPv6 dest of an IPv4
/// service (mixed family) decodes by its own ADDR_FAMILY.
#[test]
fn golden_tunnel_dest() {
    let d = Destination::new(ip("2001:db8::2"), 80).with_forwarding(Forwarding::Tunnel {
        tun_type: TunnelType::Gue,
        tun_port: 6080,
        csum: true,
        remcsum: true,
    });
    let attrs = d.to_attrs(true);
    assert!(attrs.contains(&DestAttr::TunType(1)));
    assert!(attrs.contains(&DestAttr::TunFlags(3)));
    let msg = IpvsMessage::new(Command::NewDest, vec![CmdAttr::Dest(attrs.clone())]);
    let bytes = codec::encode_request(&msg, 0x1c, NLM_F_ACK, 1);
    let tun = hex("05 00 0d 00 01 00 00 00 06 00 0e 00 17 c0 00 00 06 00 0f 00 03 00 00 00");
    assert!(
        bytes.windows(tun.len()).any(|w| w == tun.as_slice()),
        "{bytes:02x?}"
    );
    assert_eq!(Destination::from_attrs(&attrs, Family::Inet).unwrap(), d);
    // Without ADDR_FAMILY (kernel < 3.18) the service family is used.
    let mut a16 = vec![10, 1, 2, 3];
    a16.extend([0; 12]);
    let old = [
        DestAttr::Address(a16),
        DestAttr::Port(80),
        DestAttr::FwdMethod(0),
        DestAttr::Weight(5),
    ];
    let d = Destination::from_attrs(&old, Family::Inet).unwrap();
    assert_eq!(d.addr, ip("10.1.2.3"));
    assert_eq!(d.forwarding, Forwarding::Masquerade);
}

/// Dumps: a datagram with several messages and DONE; GET requests carry the dump flag bits.
#[test]
fn datagram_with_done() {
    let a = codec::encode_request(
        &IpvsMessage::new(
            Command::NewService,
            vec![CmdAttr::Service(
                ServiceKey::fwmark(Family::Inet6, 5).to_attrs(),
            )],
        ),
        0x1c,
        NLM_F_MULTIPART,
        9,
    );
    let done = hex("14 00 00 00 03 00 02 00 09 00 00 00 00 00 00 00 00 00 00 00");
    let mut dg = a.clone();
    dg.extend(&a);
    dg.extend(&done);
    let msgs = codec::decode_datagram(&dg).unwrap();
    assert_eq!(msgs.len(), 3);
    let k = ServiceKey::from_attrs(codec::inner(&msgs[1]).unwrap().service().unwrap()).unwrap();
    assert_eq!(k, ServiceKey::fwmark(Family::Inet6, 5));
    let req = codec::encode_request(
        &IpvsMessage::new(Command::GetService, vec![]),
        0x1c,
        NLM_F_DUMP,
        1,
    );
    assert_eq!(&req[6..8], &(0x301u16).to_ne_bytes());
}

/// Malformed input gives errors, not panics.
#[test]
fn malformed_inputs_are_errors() {
    for bad in [
        hex(""),
        hex("10 00 00 00"),
        hex("ff 00 00 00 1c 00 00 00 01 00 00 00 00 00 00 00 04 01 00 00"),
        hex("18 00 00 00 1c 00 00 00 01 00 00 00 00 00 00 00 04 01 00 00 04 00 01 00"),
        // SERVICE with a 1-byte AF.
        hex("1c 00 00 00 1c 00 00 00 01 00 00 00 00 00 00 00 01 01 00 00 08 00 01 00 05 00 01 00"),
    ] {
        let _ = codec::decode_message(&bad);
        let _ = codec::decode_datagram(&bad);
    }
    let short_af =
        hex("1c 00 00 00 1c 00 00 00 01 00 00 00 00 00 00 00 01 01 00 00 08 00 01 00 05 00 01 00");
    assert!(codec::decode_message(&short_af).is_err());
    // Unknown command and attributes are kept.
    let unk =
        hex("1c 00 00 00 1c 00 00 00 01 00 00 00 00 00 00 00 63 01 00 00 08 00 63 00 01 02 03 04");
    let m = codec::decode_message(&unk).unwrap();
    let inner = codec::inner(&m).unwrap();
    assert_eq!(inner.cmd, Command::Other(0x63));
    assert_eq!(
        inner.attrs,
        vec![CmdAttr::Other(DefaultNla::new(0x63, vec![1, 2, 3, 4]))]
    );
}

// ------------------------------------------------------------------------------------------
// proptest

fn arb_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<[u8; 16]>().prop_map(IpAddr::from),
    ]
}

fn arb_string() -> impl Strategy<Value = String> {
    "[a-z0-9_]{0,15}"
}

fn arb_stats() -> impl Strategy<Value = Vec<StatsAttr>> {
    prop::collection::vec(
        prop_oneof![
            (1u16..=10, any::<u32>()).prop_map(|(k, v)| StatsAttr::U32(k, v)),
            (1u16..=10, any::<u64>()).prop_map(|(k, v)| StatsAttr::U64(k, v)),
        ],
        0..10,
    )
}

fn arb_other() -> impl Strategy<Value = DefaultNla> {
    (20u16..200, prop::collection::vec(any::<u8>(), 0..12)).prop_map(|(k, v)| DefaultNla::new(k, v))
}

fn arb_svc_attr() -> impl Strategy<Value = SvcAttr> {
    prop_oneof![
        any::<u16>().prop_map(SvcAttr::AddressFamily),
        any::<u16>().prop_map(SvcAttr::Protocol),
        prop::collection::vec(any::<u8>(), 0..17).prop_map(SvcAttr::Address),
        any::<u16>().prop_map(SvcAttr::Port),
        any::<u32>().prop_map(SvcAttr::Fwmark),
        arb_string().prop_map(SvcAttr::SchedName),
        (any::<u32>(), any::<u32>()).prop_map(|(flags, mask)| SvcAttr::Flags { flags, mask }),
        any::<u32>().prop_map(SvcAttr::Timeout),
        any::<[u8; 4]>().prop_map(SvcAttr::Netmask),
        arb_stats().prop_map(SvcAttr::Stats),
        arb_string().prop_map(SvcAttr::PeName),
        arb_stats().prop_map(SvcAttr::Stats64),
        arb_other().prop_map(SvcAttr::Other),
    ]
}

fn arb_dest_attr() -> impl Strategy<Value = DestAttr> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..17).prop_map(DestAttr::Address),
        any::<u16>().prop_map(DestAttr::Port),
        any::<u32>().prop_map(DestAttr::FwdMethod),
        any::<u32>().prop_map(DestAttr::Weight),
        any::<u32>().prop_map(DestAttr::UpperThreshold),
        any::<u32>().prop_map(DestAttr::LowerThreshold),
        any::<u32>().prop_map(DestAttr::ActiveConns),
        any::<u32>().prop_map(DestAttr::InactiveConns),
        any::<u32>().prop_map(DestAttr::PersistConns),
        arb_stats().prop_map(DestAttr::Stats),
        any::<u16>().prop_map(DestAttr::AddressFamily),
        arb_stats().prop_map(DestAttr::Stats64),
        any::<u8>().prop_map(DestAttr::TunType),
        any::<u16>().prop_map(DestAttr::TunPort),
        any::<u16>().prop_map(DestAttr::TunFlags),
        arb_other().prop_map(DestAttr::Other),
    ]
}

fn arb_daemon_attr() -> impl Strategy<Value = DaemonAttr> {
    prop_oneof![
        any::<u32>().prop_map(DaemonAttr::State),
        arb_string().prop_map(DaemonAttr::McastIfn),
        any::<u32>().prop_map(DaemonAttr::SyncId),
        any::<u16>().prop_map(DaemonAttr::SyncMaxLen),
        any::<[u8; 4]>().prop_map(DaemonAttr::McastGroup),
        any::<[u8; 16]>().prop_map(DaemonAttr::McastGroup6),
        any::<u16>().prop_map(DaemonAttr::McastPort),
        any::<u8>().prop_map(DaemonAttr::McastTtl),
        arb_other().prop_map(DaemonAttr::Other),
    ]
}

fn arb_message() -> impl Strategy<Value = IpvsMessage> {
    let normal = (
        prop_oneof![(1u8..=13), (15u8..=17), (18u8..=255)].prop_map(Command::from),
        prop::collection::vec(
            prop_oneof![
                prop::collection::vec(arb_svc_attr(), 0..8).prop_map(CmdAttr::Service),
                prop::collection::vec(arb_dest_attr(), 0..8).prop_map(CmdAttr::Dest),
                prop::collection::vec(arb_daemon_attr(), 0..8).prop_map(CmdAttr::Daemon),
                any::<u32>().prop_map(CmdAttr::TimeoutTcp),
                any::<u32>().prop_map(CmdAttr::TimeoutTcpFin),
                any::<u32>().prop_map(CmdAttr::TimeoutUdp),
                arb_other().prop_map(CmdAttr::Other),
            ],
            0..4,
        ),
    )
        .prop_map(|(cmd, attrs)| IpvsMessage::new(cmd, attrs));
    let info = (any::<u32>(), any::<u32>()).prop_map(|(v, c)| {
        IpvsMessage::new(
            Command::SetInfo,
            vec![CmdAttr::InfoVersion(v), CmdAttr::InfoConnTabSize(c)],
        )
    });
    prop_oneof![4 => normal, 1 => info]
}

fn arb_key() -> impl Strategy<Value = ServiceKey> {
    prop_oneof![
        (
            prop_oneof![
                Just(Protocol::Tcp),
                Just(Protocol::Udp),
                Just(Protocol::Sctp)
            ],
            arb_ip(),
            any::<u16>()
        )
            .prop_map(|(protocol, addr, port)| ServiceKey::Addr {
                protocol,
                addr,
                port
            }),
        (prop_oneof![Just(Family::Inet), Just(Family::Inet6)], 1u32..)
            .prop_map(|(family, mark)| ServiceKey::Fwmark { family, mark }),
    ]
}

fn arb_service() -> impl Strategy<Value = Service> {
    (
        arb_key(),
        prop_oneof![
            Just("rr"),
            Just("wlc"),
            Just("sh"),
            Just("mh"),
            Just("custom")
        ],
        0u32..64,
        any::<u32>(),
        any::<u8>(),
        prop::option::of(prop_oneof![Just("sip".to_string())]),
    )
        .prop_map(|(key, sched, flags, timeout, nm, pe)| {
            let mut s = Service::new(key);
            s.scheduler = Scheduler::from_name(sched);
            s.flags = ServiceFlags::from_bits(flags);
            s.timeout = timeout;
            s.netmask = Some(match key.family() {
                Family::Inet => nm % 33,
                Family::Inet6 => nm % 128 + 1,
            });
            s.persistence_engine = pe;
            s.normalized()
        })
}

fn arb_dest() -> impl Strategy<Value = Destination> {
    (
        arb_ip(),
        any::<u16>(),
        prop_oneof![
            Just(Forwarding::Masquerade),
            Just(Forwarding::Local),
            Just(Forwarding::DirectRoute),
            Just(Forwarding::Bypass),
            (
                prop_oneof![
                    Just(TunnelType::Ipip),
                    Just(TunnelType::Gue),
                    Just(TunnelType::Gre)
                ],
                any::<u16>(),
                any::<bool>(),
                any::<bool>()
            )
                .prop_map(|(tun_type, tun_port, csum, remcsum)| Forwarding::Tunnel {
                    tun_type,
                    tun_port,
                    csum,
                    remcsum
                }),
        ],
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(addr, port, forwarding, weight, upper_threshold, lower_threshold)| Destination {
                addr,
                port,
                forwarding,
                weight,
                upper_threshold,
                lower_threshold,
            },
        )
}

proptest! {
    #[test]
    fn message_round_trip(msg in arb_message(), seq in any::<u32>(), id in 16u16..) {
        let bytes = codec::encode_request(&msg, id, NLM_F_ACK, seq);
        let back = codec::decode_message(&bytes).unwrap();
        prop_assert_eq!(back.header.sequence_number, seq);
        prop_assert_eq!(back.header.message_type, id);
        prop_assert_eq!(codec::inner(&back), Some(&msg));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = codec::decode_datagram(&bytes);
        let _ = codec::decode_message(&bytes);
    }

    #[test]
    fn mutated_messages_never_panic(msg in arb_message(), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut bytes = codec::encode_request(&msg, 0x1c, 0, 1);
        for (i, b) in flips {
            let i = i.index(bytes.len());
            bytes[i] = b;
        }
        if let Ok(m) = codec::decode_message(&bytes)
            && let Some(inner) = codec::inner(&m) {
                if let Some(s) = inner.service() { let _ = ServiceEntry::from_attrs(s); }
                if let Some(d) = inner.dest() { let _ = DestinationEntry::from_attrs(d, Family::Inet); }
                if let Some(d) = inner.daemon() { let _ = Daemon::from_attrs(d); }
            }
    }

    #[test]
    fn service_model_round_trip(s in arb_service()) {
        let attrs = s.to_attrs();
        let bytes = codec::encode_request(&IpvsMessage::new(Command::NewService, vec![CmdAttr::Service(attrs)]), 0x1c, 0, 1);
        let m = codec::decode_message(&bytes).unwrap();
        let back = Service::from_attrs(codec::inner(&m).unwrap().service().unwrap()).unwrap();
        prop_assert_eq!(back, s);
    }

    #[test]
    fn dest_model_round_trip(d in arb_dest(), fam in prop_oneof![Just(Family::Inet), Just(Family::Inet6)]) {
        let back = Destination::from_attrs(&d.to_attrs(true), fam).unwrap();
        prop_assert_eq!(back, d);
    }

    #[test]
    #[cfg(feature = "serde")]
    fn serde_round_trip(s in arb_service(), ds in prop::collection::vec(arb_dest(), 0..4)) {
        let t = Table { services: vec![VirtualServer { service: s, destinations: ds }] };
        let json = serde_json::to_string(&t).unwrap();
        let back: Table = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, t);
    }
}
