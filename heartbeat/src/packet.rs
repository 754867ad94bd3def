//! The two wire formats, as pure functions: Piranha's 4-byte pulse heartbeats and the
//! authenticated 64-byte advertisement. No sockets, no clocks.
//!
//! # Piranha (`pulse`)
//!
//! One C `unsigned int` in the *sender's* byte order, nothing else. [`encode_pulse`] writes the
//! chosen byte order (little-endian, as on x86, by default); [`decode_pulse`] accepts both orders
//! and reports which one it saw.
//!
//! ```
//! use heartbeat::packet::{ByteOrder, PulseMagic, decode_pulse, encode_pulse};
//! assert_eq!(encode_pulse(PulseMagic::Running, ByteOrder::Little), [0xda, 0xdb, 0xad, 0xbd]);
//! assert_eq!(decode_pulse(&[0xbd, 0xad, 0xdb, 0xda]), Ok((PulseMagic::Running, ByteOrder::Big)));
//! ```
//!
//! # Authenticated
//!
//! 64 bytes, every integer big-endian:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `LVHB` (`4c 56 48 42`) |
//! | 4 | 1 | version, 1 |
//! | 5 | 1 | kind: 1 advertisement, 2 resign |
//! | 6 | 1 | state: 0 standby, 1 active, 2 standby and unable to take over (fault or held) |
//! | 7 | 1 | priority |
//! | 8 | 1 | flags: bit 0 primary, bit 1 forced active by the operator; others zero |
//! | 9 | 3 | zero |
//! | 12 | 4 | node id of the sender |
//! | 16 | 8 | epoch of the sender (fixed for the life of its process, larger after a restart) |
//! | 24 | 8 | sequence number (one per datagram sent, on any path) |
//! | 32 | 32 | HMAC-SHA256 over bytes 0..32, the full tag, untruncated |
//!
//! ```
//! use heartbeat::packet::{Advert, Kind, PeerState, decode_auth, encode_auth};
//! let key = b"0123456789abcdef";
//! let advert = Advert { kind: Kind::Advert, state: PeerState::Active, priority: 100,
//!     primary: true, forced: false, node_id: 7, epoch: 1, seq: 42 };
//! let bytes = encode_auth(&advert, key);
//! assert_eq!(decode_auth(&bytes, key), Ok(advert));
//! assert!(decode_auth(&bytes, b"another key, 16+").is_err());
//! ```

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Pulse's magic numbers (LVS mode, plus the FOS and hold magics it also accepts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PulseMagic {
    /// `0xbdaddbda`: the sender is active.
    Running,
    /// `0xadbddabd`: the sender is inactive.
    Stopped,
    /// `0xbeefbabe`: FOS mode, active.
    FosRunning,
    /// `0xdeadbeef`: FOS mode, inactive.
    FosStopped,
    /// `0xdeaddada`: FOS "go inactive, I take over".
    FosStopMe,
    /// `0xdeafbabe`: hold (accepted by pulse, then ignored).
    Hold,
    /// `0xdeafdada`: held (accepted by pulse, then ignored).
    Held,
}

impl PulseMagic {
    /// Every magic.
    pub const ALL: [PulseMagic; 7] = [
        PulseMagic::Running,
        PulseMagic::Stopped,
        PulseMagic::FosRunning,
        PulseMagic::FosStopped,
        PulseMagic::FosStopMe,
        PulseMagic::Hold,
        PulseMagic::Held,
    ];

    /// The 32-bit value.
    pub const fn value(self) -> u32 {
        match self {
            PulseMagic::Running => 0xbdad_dbda,
            PulseMagic::Stopped => 0xadbd_dabd,
            PulseMagic::FosRunning => 0xbeef_babe,
            PulseMagic::FosStopped => 0xdead_beef,
            PulseMagic::FosStopMe => 0xdead_dada,
            PulseMagic::Hold => 0xdeaf_babe,
            PulseMagic::Held => 0xdeaf_dada,
        }
    }

    /// The magic with this value.
    pub fn from_value(v: u32) -> Option<PulseMagic> {
        PulseMagic::ALL.into_iter().find(|m| m.value() == v)
    }
}

/// The byte order of a pulse heartbeat (pulse sends its host's order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ByteOrder {
    /// x86 and most others.
    #[default]
    Little,
    /// s390x, older POWER and SPARC.
    Big,
}

/// Why a datagram is not a heartbeat. Each reason has its own counter in
/// [`Counters`](crate::Counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reject {
    /// Shorter than the format's length.
    Truncated,
    /// Longer than the format's length.
    TooLong,
    /// Not one of the known magics.
    BadMagic,
    /// A known magic but a version this code does not speak.
    BadVersion,
    /// A field with a value the format does not define (kind, state, reserved bits).
    Malformed,
    /// The HMAC does not verify with our key.
    BadMac,
    /// Authenticated, but an old epoch, or a sequence number already seen or too old.
    Replay,
    /// From an address that is not the peer's on any path.
    WrongSource,
    /// Authenticated, but from a node id that is not the peer's (our own packets reflected
    /// back, or a third node sharing the key).
    UnknownNode,
    /// A valid pulse magic that the current mode does not use (FOS magics in LVS mode, hold).
    WrongMode,
}

impl Reject {
    /// Every reason, in [`Counters`](crate::Counters) order.
    pub const ALL: [Reject; 10] = [
        Reject::Truncated,
        Reject::TooLong,
        Reject::BadMagic,
        Reject::BadVersion,
        Reject::Malformed,
        Reject::BadMac,
        Reject::Replay,
        Reject::WrongSource,
        Reject::UnknownNode,
        Reject::WrongMode,
    ];

    /// A short name, for logs and metrics.
    pub const fn name(self) -> &'static str {
        match self {
            Reject::Truncated => "truncated",
            Reject::TooLong => "too long",
            Reject::BadMagic => "bad magic",
            Reject::BadVersion => "bad version",
            Reject::Malformed => "malformed",
            Reject::BadMac => "bad MAC",
            Reject::Replay => "replay",
            Reject::WrongSource => "wrong source",
            Reject::UnknownNode => "unknown node",
            Reject::WrongMode => "wrong mode",
        }
    }
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The length of a pulse heartbeat.
pub const PULSE_LEN: usize = 4;

/// A pulse heartbeat in the given byte order.
pub fn encode_pulse(magic: PulseMagic, order: ByteOrder) -> [u8; PULSE_LEN] {
    match order {
        ByteOrder::Little => magic.value().to_le_bytes(),
        ByteOrder::Big => magic.value().to_be_bytes(),
    }
}

/// Decodes a pulse heartbeat in either byte order (little-endian is tried first, as wireshark
/// does; no magic reads as another magic in the other order).
pub fn decode_pulse(bytes: &[u8]) -> Result<(PulseMagic, ByteOrder), Reject> {
    let word: [u8; PULSE_LEN] = match bytes.len() {
        n if n < PULSE_LEN => return Err(Reject::Truncated),
        n if n > PULSE_LEN => return Err(Reject::TooLong),
        _ => [bytes[0], bytes[1], bytes[2], bytes[3]],
    };
    if let Some(m) = PulseMagic::from_value(u32::from_le_bytes(word)) {
        return Ok((m, ByteOrder::Little));
    }
    PulseMagic::from_value(u32::from_be_bytes(word))
        .map(|m| (m, ByteOrder::Big))
        .ok_or(Reject::BadMagic)
}

/// The authenticated packet's magic, `LVHB`.
pub const AUTH_MAGIC: [u8; 4] = *b"LVHB";
/// The authenticated packet's version.
pub const AUTH_VERSION: u8 = 1;
/// The authenticated packet's length.
pub const AUTH_LEN: usize = 64;
/// The length of the authenticated header (what the HMAC covers).
const HEADER_LEN: usize = 32;

/// What an authenticated packet says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A periodic (or immediate) advertisement of the sender's state.
    Advert,
    /// The sender is shutting down cleanly: take over now.
    Resign,
}

/// The sender's state in an authenticated packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerState {
    /// Standby, able to take over.
    Standby,
    /// Active.
    Active,
    /// Standby and unable to take over: a local fault (link, service) or held by the operator.
    Unable,
}

/// The fields of an authenticated packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Advert {
    /// Advertisement or resignation.
    pub kind: Kind,
    /// The sender's state.
    pub state: PeerState,
    /// The sender's priority (higher wins).
    pub priority: u8,
    /// The sender is configured as the primary (wins ties of priority).
    pub primary: bool,
    /// The sender was forced active by its operator (wins over any precedence).
    pub forced: bool,
    /// The sender's node id.
    pub node_id: u32,
    /// The sender's epoch.
    pub epoch: u64,
    /// The datagram's sequence number.
    pub seq: u64,
}

const FLAG_PRIMARY: u8 = 1;
const FLAG_FORCED: u8 = 2;

fn mac_of(key: &[u8], header: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(header);
    mac
}

/// Encodes and signs an authenticated packet.
pub fn encode_auth(advert: &Advert, key: &[u8]) -> [u8; AUTH_LEN] {
    let mut out = [0u8; AUTH_LEN];
    out[0..4].copy_from_slice(&AUTH_MAGIC);
    out[4] = AUTH_VERSION;
    out[5] = match advert.kind {
        Kind::Advert => 1,
        Kind::Resign => 2,
    };
    out[6] = match advert.state {
        PeerState::Standby => 0,
        PeerState::Active => 1,
        PeerState::Unable => 2,
    };
    out[7] = advert.priority;
    out[8] =
        if advert.primary { FLAG_PRIMARY } else { 0 } | if advert.forced { FLAG_FORCED } else { 0 };
    out[12..16].copy_from_slice(&advert.node_id.to_be_bytes());
    out[16..24].copy_from_slice(&advert.epoch.to_be_bytes());
    out[24..32].copy_from_slice(&advert.seq.to_be_bytes());
    let tag = mac_of(key, &out[..HEADER_LEN]).finalize().into_bytes();
    out[HEADER_LEN..].copy_from_slice(&tag);
    out
}

/// Decodes an authenticated packet and verifies its HMAC (in constant time).
///
/// Checks, in order: length, magic, version, HMAC, then the fields. A packet that fails the HMAC
/// is never looked at further. Replay and node-id checks are the state machine's (they need
/// state).
pub fn decode_auth(bytes: &[u8], key: &[u8]) -> Result<Advert, Reject> {
    if bytes.len() < AUTH_LEN {
        return Err(Reject::Truncated);
    }
    if bytes.len() > AUTH_LEN {
        return Err(Reject::TooLong);
    }
    if bytes[0..4] != AUTH_MAGIC {
        return Err(Reject::BadMagic);
    }
    if bytes[4] != AUTH_VERSION {
        return Err(Reject::BadVersion);
    }
    mac_of(key, &bytes[..HEADER_LEN])
        .verify_slice(&bytes[HEADER_LEN..])
        .map_err(|_| Reject::BadMac)?;
    let kind = match bytes[5] {
        1 => Kind::Advert,
        2 => Kind::Resign,
        _ => return Err(Reject::Malformed),
    };
    let state = match bytes[6] {
        0 => PeerState::Standby,
        1 => PeerState::Active,
        2 => PeerState::Unable,
        _ => return Err(Reject::Malformed),
    };
    let flags = bytes[8];
    if flags & !(FLAG_PRIMARY | FLAG_FORCED) != 0 || bytes[9..12] != [0, 0, 0] {
        return Err(Reject::Malformed);
    }
    let be32 = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let be64 = |i: usize| (u64::from(be32(i)) << 32) | u64::from(be32(i + 4));
    Ok(Advert {
        kind,
        state,
        priority: bytes[7],
        primary: flags & FLAG_PRIMARY != 0,
        forced: flags & FLAG_FORCED != 0,
        node_id: be32(12),
        epoch: be64(16),
        seq: be64(24),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The byte table of piranha's pulse (little-endian host).
    #[test]
    fn pulse_bytes_match_the_reference_table() {
        let table: [(PulseMagic, [u8; 4]); 7] = [
            (PulseMagic::Running, [0xda, 0xdb, 0xad, 0xbd]),
            (PulseMagic::Stopped, [0xbd, 0xda, 0xbd, 0xad]),
            (PulseMagic::FosRunning, [0xbe, 0xba, 0xef, 0xbe]),
            (PulseMagic::FosStopped, [0xef, 0xbe, 0xad, 0xde]),
            (PulseMagic::FosStopMe, [0xda, 0xda, 0xad, 0xde]),
            (PulseMagic::Hold, [0xbe, 0xba, 0xaf, 0xde]),
            (PulseMagic::Held, [0xda, 0xda, 0xaf, 0xde]),
        ];
        for (magic, bytes) in table {
            assert_eq!(encode_pulse(magic, ByteOrder::Little), bytes, "{magic:?}");
            let mut be = bytes;
            be.reverse();
            assert_eq!(encode_pulse(magic, ByteOrder::Big), be, "{magic:?}");
            assert_eq!(decode_pulse(&bytes), Ok((magic, ByteOrder::Little)));
            assert_eq!(decode_pulse(&be), Ok((magic, ByteOrder::Big)));
        }
    }

    #[test]
    fn pulse_lengths_and_unknown_magic() {
        assert_eq!(decode_pulse(&[]), Err(Reject::Truncated));
        assert_eq!(decode_pulse(&[0xda, 0xdb, 0xad]), Err(Reject::Truncated));
        assert_eq!(
            decode_pulse(&[0xda, 0xdb, 0xad, 0xbd, 0]),
            Err(Reject::TooLong)
        );
        assert_eq!(decode_pulse(&[1, 2, 3, 4]), Err(Reject::BadMagic));
    }

    fn sample() -> Advert {
        Advert {
            kind: Kind::Advert,
            state: PeerState::Standby,
            priority: 100,
            primary: false,
            forced: true,
            node_id: 0x0a00_0001,
            epoch: 0x0102_0304_0506_0708,
            seq: 9,
        }
    }

    /// The header laid out by hand, the tag from RFC 4231's construction as implemented by
    /// RustCrypto (checked against a second, independent computation below).
    #[test]
    fn auth_layout_is_as_documented() {
        let key = b"sixteen byte key";
        let bytes = encode_auth(&sample(), key);
        let header: [u8; 32] = [
            0x4c, 0x56, 0x48, 0x42, 1, 1, 0, 100, 2, 0, 0, 0, 0x0a, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7,
            8, 0, 0, 0, 0, 0, 0, 0, 9,
        ];
        assert_eq!(bytes[..32], header);
        assert_eq!(bytes[32..], hmac_sha256_by_hand(key, &header));
    }

    /// HMAC-SHA256 from its definition (RFC 2104) on top of `sha2`, independent of `hmac`.
    fn hmac_sha256_by_hand(key: &[u8], msg: &[u8]) -> [u8; 32] {
        use sha2::Digest;
        let mut k = [0u8; 64];
        if key.len() > 64 {
            k[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            k[..key.len()].copy_from_slice(key);
        }
        let pad = |b: u8| k.map(|x| x ^ b);
        let inner = Sha256::new()
            .chain_update(pad(0x36))
            .chain_update(msg)
            .finalize();
        Sha256::new()
            .chain_update(pad(0x5c))
            .chain_update(inner)
            .finalize()
            .into()
    }

    #[test]
    fn rfc4231_test_case_2() {
        let tag = hmac_sha256_by_hand(b"Jefe", b"what do ya want for nothing?");
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, expected);
    }

    #[test]
    fn auth_rejects_in_order() {
        let key = b"sixteen byte key";
        let good = encode_auth(&sample(), key);
        assert_eq!(decode_auth(&good[..63], key), Err(Reject::Truncated));
        let mut long = good.to_vec();
        long.push(0);
        assert_eq!(decode_auth(&long, key), Err(Reject::TooLong));
        let mut b = good;
        b[0] = b'X';
        assert_eq!(decode_auth(&b, key), Err(Reject::BadMagic));
        let mut b = good;
        b[4] = 2;
        assert_eq!(decode_auth(&b, key), Err(Reject::BadVersion));
        assert_eq!(decode_auth(&good, b"other sixteen b!"), Err(Reject::BadMac));
        // A field the MAC covers, changed: bad MAC, not a decoded lie.
        let mut b = good;
        b[7] = 255;
        assert_eq!(decode_auth(&b, key), Err(Reject::BadMac));
        // A well-signed packet with an undefined field value.
        let mut raw = good;
        raw[5] = 9;
        let tag = mac_of(key, &raw[..32]).finalize().into_bytes();
        raw[32..].copy_from_slice(&tag);
        assert_eq!(decode_auth(&raw, key), Err(Reject::Malformed));
    }

    fn any_advert() -> impl Strategy<Value = Advert> {
        (
            any::<bool>(),
            0u8..3,
            any::<u8>(),
            any::<bool>(),
            any::<bool>(),
            any::<u32>(),
            any::<u64>(),
            any::<u64>(),
        )
            .prop_map(
                |(resign, s, priority, primary, forced, node_id, epoch, seq)| Advert {
                    kind: if resign { Kind::Resign } else { Kind::Advert },
                    state: [PeerState::Standby, PeerState::Active, PeerState::Unable]
                        [usize::from(s)],
                    priority,
                    primary,
                    forced,
                    node_id,
                    epoch,
                    seq,
                },
            )
    }

    proptest! {
        #[test]
        fn auth_round_trips(a in any_advert(), key in proptest::collection::vec(any::<u8>(), 16..80)) {
            prop_assert_eq!(decode_auth(&encode_auth(&a, &key), &key), Ok(a));
        }

        #[test]
        fn any_bit_flip_is_rejected(a in any_advert(), bit in 0usize..(AUTH_LEN * 8)) {
            let key = b"a key of 16 byte";
            let mut b = encode_auth(&a, key);
            b[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(decode_auth(&b, key).is_err());
        }

        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = decode_pulse(&bytes);
            let _ = decode_auth(&bytes, b"a key of 16 byte");
        }

        #[test]
        fn pulse_round_trips(i in 0usize..7, big in any::<bool>()) {
            let m = PulseMagic::ALL[i];
            let order = if big { ByteOrder::Big } else { ByteOrder::Little };
            prop_assert_eq!(decode_pulse(&encode_pulse(m, order)), Ok((m, order)));
        }
    }
}
