//! Forged, truncated, replayed, wrong-key, wrong-source and reflected packets are rejected,
//! counted under their reason, and change nothing: no action, same role, same wake-up, same
//! view of the peer.

mod sim;

use std::net::SocketAddr;
use std::time::Instant;

use heartbeat::packet::{Advert, Kind, PeerState, Reject, encode_auth};
use heartbeat::{Action, Event, Heartbeat, PathId, Role};
use proptest::prelude::*;
use sim::{KEEPALIVE, Mode, config};

const KEY: &[u8] = b"simulation key, 32 bytes long!!!";

fn from(node: usize) -> SocketAddr {
    SocketAddr::new(sim::addr(node, 0), 539)
}

/// Node 1 (standby, hearing node 0) and node 0's datagrams so far; `at` is the time of the
/// last one (no timer of node 1 is due then, so any action would come from the packet).
struct Setup {
    at: Instant,
    node: Heartbeat,
    heard: Vec<Vec<u8>>,
}

fn setup(mode: Mode, active: bool) -> Setup {
    let start = Instant::now();
    let d = std::time::Duration::ZERO;
    let mut peer = Heartbeat::new(config(mode, 0, 10, d), start).expect("config");
    let mut node = Heartbeat::new(config(mode, 1, 10, d), start).expect("config");
    let mut heard = Vec::new();
    let mut now = start;
    for round in 0..3 {
        if round > 0 {
            now += KEEPALIVE;
        }
        for a in peer.handle(now, Event::Timer) {
            if let Action::Send { path, bytes } = a {
                let _ = node.handle(
                    now,
                    Event::Packet {
                        path,
                        from: from(0),
                        bytes: &bytes,
                    },
                );
                heard.push(bytes);
            }
        }
    }
    if active {
        let _ = node.handle(now, Event::ForceActive);
    }
    assert!(node.peer_alive());
    assert_eq!(node.counters().accepted as usize, heard.len());
    assert!(node.poll_timeout().is_some_and(|t| t > now));
    Setup {
        at: now,
        node,
        heard,
    }
}

/// Feeds one datagram; asserts it is rejected for `reason` and changes nothing.
fn assert_rejected(
    node: &mut Heartbeat,
    at: Instant,
    src: SocketAddr,
    bytes: &[u8],
    reason: Reject,
) {
    let (role, timeout, alive) = (node.role(), node.poll_timeout(), node.peer_alive());
    let before = node.counters().clone();
    let actions = node.handle(
        at,
        Event::Packet {
            path: PathId(0),
            from: src,
            bytes,
        },
    );
    assert!(actions.is_empty(), "{reason}: {actions:?}");
    assert_eq!(node.role(), role, "{reason}");
    assert_eq!(node.poll_timeout(), timeout, "{reason}");
    assert_eq!(node.peer_alive(), alive, "{reason}");
    assert_eq!(
        node.counters().rejected(reason),
        before.rejected(reason) + 1,
        "{reason}"
    );
    assert_eq!(
        node.counters().total_rejected(),
        before.total_rejected() + 1,
        "{reason}"
    );
    assert_eq!(node.counters().accepted, before.accepted, "{reason}");
}

fn advert(node_id: u32, epoch: u64, seq: u64, state: PeerState) -> Advert {
    Advert {
        kind: Kind::Advert,
        state,
        priority: 255,
        primary: true,
        forced: true,
        node_id,
        epoch,
        seq,
    }
}

#[test]
fn every_kind_of_bad_authenticated_packet() {
    for active in [false, true] {
        let Setup {
            at,
            mut node,
            heard,
        } = setup(Mode::Auth { failback: true }, active);
        let good = heard.last().expect("heard").clone();
        // Replayed: an exact copy of what was accepted, and an older one.
        assert_rejected(&mut node, at, from(0), &good, Reject::Replay);
        assert_rejected(&mut node, at, from(0), &heard[0], Reject::Replay);
        // Truncated and padded.
        assert_rejected(&mut node, at, from(0), &good[..40], Reject::Truncated);
        assert_rejected(&mut node, at, from(0), &[], Reject::Truncated);
        let mut long = good.clone();
        long.push(0);
        assert_rejected(&mut node, at, from(0), &long, Reject::TooLong);
        // Forged: fields changed without the key; a wrong key.
        let mut forged = good.clone();
        forged[6] = 1; // "active"
        assert_rejected(&mut node, at, from(0), &forged, Reject::BadMac);
        let wrong_key = encode_auth(
            &advert(1, 11, 1, PeerState::Active),
            b"not the right key at all",
        );
        assert_rejected(&mut node, at, from(0), &wrong_key, Reject::BadMac);
        let mut magic = good.clone();
        magic[0] ^= 0xff;
        assert_rejected(&mut node, at, from(0), &magic, Reject::BadMagic);
        let mut version = good.clone();
        version[4] = 9;
        assert_rejected(&mut node, at, from(0), &version, Reject::BadVersion);
        // A pulse heartbeat in authenticated mode.
        assert_rejected(
            &mut node,
            at,
            from(0),
            &[0xda, 0xdb, 0xad, 0xbd],
            Reject::Truncated,
        );
        // Properly signed, but an older epoch of the peer (a recording from before its restart).
        let old = encode_auth(&advert(1, 9, 1000, PeerState::Active), KEY);
        assert_rejected(&mut node, at, from(0), &old, Reject::Replay);
        // Properly signed, but from a node id that is not the peer's; our own reflected back.
        let stranger = encode_auth(&advert(7, 11, 1, PeerState::Active), KEY);
        assert_rejected(&mut node, at, from(0), &stranger, Reject::UnknownNode);
        let reflected = encode_auth(&advert(2, 11, 1, PeerState::Active), KEY);
        assert_rejected(&mut node, at, from(0), &reflected, Reject::UnknownNode);
        // Everything right but the source address.
        let fresh = encode_auth(&advert(1, 10, 1000, PeerState::Active), KEY);
        let elsewhere: SocketAddr = "192.0.2.1:539".parse().expect("addr");
        assert_rejected(&mut node, at, elsewhere, &fresh, Reject::WrongSource);
        // And the same packet from the right source is accepted: the tests above were not
        // rejecting everything.
        let before = node.counters().accepted;
        let _ = node.handle(
            at,
            Event::Packet {
                path: PathId(0),
                from: from(0),
                bytes: &fresh,
            },
        );
        assert_eq!(node.counters().accepted, before + 1);
    }
}

#[test]
fn every_kind_of_bad_pulse_packet() {
    for active in [false, true] {
        let Setup { at, mut node, .. } = setup(Mode::Piranha, active);
        let running = [0xda, 0xdb, 0xad, 0xbd];
        let elsewhere: SocketAddr = "192.0.2.1:539".parse().expect("addr");
        assert_rejected(&mut node, at, elsewhere, &running, Reject::WrongSource);
        assert_rejected(&mut node, at, from(0), &running[..3], Reject::Truncated);
        assert_rejected(
            &mut node,
            at,
            from(0),
            &[0xda, 0xdb, 0xad, 0xbd, 0],
            Reject::TooLong,
        );
        assert_rejected(&mut node, at, from(0), &[1, 2, 3, 4], Reject::BadMagic);
        // FOS magics are valid pulse, but not LVS mode.
        assert_rejected(
            &mut node,
            at,
            from(0),
            &[0xbe, 0xba, 0xef, 0xbe],
            Reject::WrongMode,
        );
        assert_rejected(
            &mut node,
            at,
            from(0),
            &[0xef, 0xbe, 0xad, 0xde],
            Reject::WrongMode,
        );
        // A 64-byte authenticated packet is not a pulse heartbeat.
        let auth = encode_auth(&advert(1, 11, 1, PeerState::Active), KEY);
        assert_rejected(&mut node, at, from(0), &auth, Reject::TooLong);
    }
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::Piranha), Just(Mode::Auth { failback: true })]
}

proptest! {
    /// Any corruption of an accepted authenticated packet (flipped bits, cut, extended) is
    /// rejected without effect.
    #[test]
    fn corrupted_auth_packets_change_nothing(
        active in any::<bool>(),
        flips in proptest::collection::vec((0usize..64, 1u8..=255), 1..4),
        cut in proptest::option::of(0usize..64),
    ) {
        let Setup { at, mut node, heard } = setup(Mode::Auth { failback: true }, active);
        let mut bytes = heard.last().expect("heard").clone();
        // The last accepted packet, corrupted (intact, it would be a replay).
        for (i, x) in flips {
            bytes[i] ^= x;
        }
        if let Some(n) = cut {
            bytes.truncate(n);
        }
        let (role, timeout) = (node.role(), node.poll_timeout());
        let before = node.counters().clone();
        let actions = node.handle(at, Event::Packet { path: PathId(0), from: from(0), bytes: &bytes });
        prop_assert!(actions.is_empty());
        prop_assert_eq!(node.role(), role);
        prop_assert_eq!(node.poll_timeout(), timeout);
        prop_assert_eq!(node.counters().total_rejected(), before.total_rejected() + 1);
    }

    /// Random datagrams never change anything unless they are a valid heartbeat (for pulse,
    /// 1 chance in 2^30 or so; then skip).
    #[test]
    fn random_datagrams_change_nothing(
        mode in mode(),
        active in any::<bool>(),
        bytes in proptest::collection::vec(any::<u8>(), 0..100),
    ) {
        let Setup { at, mut node, .. } = setup(mode, active);
        prop_assume!(heartbeat::packet::decode_pulse(&bytes).is_err() || mode != Mode::Piranha);
        let (role, timeout) = (node.role(), node.poll_timeout());
        let actions = node.handle(at, Event::Packet { path: PathId(0), from: from(0), bytes: &bytes });
        prop_assert!(actions.is_empty());
        prop_assert_eq!(node.role(), role);
        prop_assert_eq!(node.poll_timeout(), timeout);
        prop_assert_eq!(node.counters().total_rejected(), 1);
        prop_assert!(matches!(node.role(), Role::Active | Role::Standby));
    }
}
