//! What the fuzz targets assert, shared with the replay of their kept corpora
//! (`fuzz/seeds/TARGET/`) by the test command (`tests/fuzz_corpus.rs`).

pub mod decode {
    //! Fuzz the packet decoders and the state machine's receive path: any datagram decodes to a
    //! heartbeat or a rejection, never a panic; what decodes re-encodes to the same bytes; a
    //! rejected datagram changes nothing. Run with `RUSTC_BOOTSTRAP=1 cargo fuzz run decode`.

    use std::time::{Duration, Instant};

    use heartbeat::packet::{decode_auth, decode_pulse, encode_auth, encode_pulse};
    use heartbeat::{AuthConfig, Config, Event, Heartbeat, PathConfig, PathId, Protocol, Timers};

    const KEY: &[u8] = b"fuzzing key, sixteen+ bytes";

    fn node(auth: bool, now: Instant) -> Heartbeat {
        let protocol = if auth {
            Protocol::Auth(
                AuthConfig::new(KEY.to_vec().into(), 2, 1, 1)
                    .with_priority(100)
                    .with_failback(true)
                    .with_preempt_delay(Duration::ZERO),
            )
        } else {
            Protocol::Piranha {
                byte_order: Default::default(),
            }
        };
        let config = Config::new(
            protocol,
            Timers::new(Duration::from_millis(100), Duration::from_millis(300)).expect("timers"),
        )
        .with_primary(false)
        .with_paths(vec![
            PathConfig::new("10.0.0.1".parse().expect("ip")).with_critical(true),
        ]);
        Heartbeat::new(config, now).expect("config")
    }

    /// The target's checks on one input.
    pub fn check(data: &[u8]) {
        if let Ok((magic, order)) = decode_pulse(data) {
            assert_eq!(encode_pulse(magic, order)[..], data[..]);
        }
        if let Ok(advert) = decode_auth(data, KEY) {
            assert_eq!(encode_auth(&advert, KEY)[..], data[..]);
        }
        let now = Instant::now();
        for auth in [false, true] {
            let mut n = node(auth, now);
            let _ = n.handle(now, Event::Timer);
            let (role, timeout) = (n.role(), n.poll_timeout());
            let from = "10.0.0.1:539".parse().expect("addr");
            let actions = n.handle(
                now,
                Event::Packet {
                    path: PathId(0),
                    from,
                    bytes: data,
                },
            );
            if n.counters().total_rejected() == 1 {
                assert!(actions.is_empty());
                assert_eq!(n.role(), role);
                assert_eq!(n.poll_timeout(), timeout);
            }
        }
    }
}

pub mod signed {
    //! Fuzz the state machine with authenticated datagrams that pass the HMAC (the fuzzer picks the
    //! header, this target signs it), interleaved with local events and time steps. Checks: no
    //! panic; role changes alternate and match `role()`; the next wake-up is always in the future.
    //! Run with `RUSTC_BOOTSTRAP=1 cargo fuzz run signed`.

    use std::time::{Duration, Instant};

    use heartbeat::packet::{Advert, Kind, PeerState, encode_auth};
    use heartbeat::{
        Action, AuthConfig, Config, Event, Heartbeat, PathConfig, PathId, Protocol, Role, Timers,
    };

    const KEY: &[u8] = b"fuzzing key, sixteen+ bytes";

    fn node(now: Instant, failback: bool) -> Heartbeat {
        let config = Config::new(
            Protocol::Auth(
                AuthConfig::new(KEY.to_vec().into(), 2, 1, 1)
                    .with_priority(100)
                    .with_failback(failback)
                    .with_preempt_delay(Duration::from_millis(150)),
            ),
            Timers::new(Duration::from_millis(100), Duration::from_millis(300)).expect("timers"),
        )
        .with_primary(false)
        .with_paths(vec![
            PathConfig::new("10.0.0.1".parse().expect("ip")).with_critical(true),
            PathConfig::new("10.1.0.1".parse().expect("ip")).with_critical(false),
        ]);
        Heartbeat::new(config, now).expect("config")
    }

    /// The target's checks on one input.
    pub fn check(data: &[u8]) {
        let Some((&first, rest)) = data.split_first() else {
            return;
        };
        let mut now = Instant::now();
        let mut n = node(now, first & 1 == 1);
        let mut role = n.role();
        for chunk in rest.chunks(8) {
            let b = |i: usize| chunk.get(i).copied().unwrap_or(0);
            now += Duration::from_millis(u64::from(b(0)) * 4);
            let bytes;
            let event = match b(1) % 12 {
                0 => Event::Timer,
                1 => Event::LinkDown(PathId(usize::from(b(2) % 3))),
                2 => Event::LinkUp(PathId(usize::from(b(2) % 3))),
                3 => Event::ServiceFailed,
                4 => Event::ServiceRecovered,
                5 => Event::ForceActive,
                6 => Event::ForceStandby,
                7 => Event::Release,
                _ => {
                    let advert = Advert {
                        kind: if b(2) & 0x80 != 0 {
                            Kind::Resign
                        } else {
                            Kind::Advert
                        },
                        state: [PeerState::Standby, PeerState::Active, PeerState::Unable]
                            [usize::from(b(2) % 3)],
                        priority: b(3),
                        primary: b(4) & 1 != 0,
                        forced: b(4) & 2 != 0,
                        node_id: if b(4) & 4 != 0 { 7 } else { 1 },
                        epoch: u64::from(b(5) % 4),
                        seq: u64::from(b(6)),
                    };
                    bytes = encode_auth(&advert, KEY);
                    let from = if b(7) & 1 == 0 {
                        "10.0.0.1:539"
                    } else {
                        "10.1.0.1:539"
                    };
                    Event::Packet {
                        path: PathId(usize::from(b(7) & 1)),
                        from: from.parse().expect("addr"),
                        bytes: &bytes,
                    }
                }
            };
            for a in n.handle(now, event) {
                match a {
                    Action::BecomeActive { .. } => {
                        assert_eq!(role, Role::Standby);
                        role = Role::Active;
                    }
                    Action::BecomeStandby { .. } => {
                        assert_eq!(role, Role::Active);
                        role = Role::Standby;
                    }
                    Action::Reannounce { .. } => assert_eq!(role, Role::Active),
                    Action::Send { bytes, .. } => assert_eq!(bytes.len(), 64),
                }
            }
            assert_eq!(n.role(), role);
            if let Some(t) = n.poll_timeout() {
                assert!(t > now, "a wake-up that is not in the future");
            }
        }
    }
}
