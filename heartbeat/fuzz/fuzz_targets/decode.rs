//! Fuzz the packet decoders and the state machine's receive path: any datagram decodes to a
//! heartbeat or a rejection, never a panic; what decodes re-encodes to the same bytes; a
//! rejected datagram changes nothing. Run with `RUSTC_BOOTSTRAP=1 cargo fuzz run decode`.
#![no_main]

use std::time::{Duration, Instant};

use heartbeat::packet::{decode_auth, decode_pulse, encode_auth, encode_pulse};
use heartbeat::{AuthConfig, Config, Event, Heartbeat, PathConfig, PathId, Protocol, Timers};
use libfuzzer_sys::fuzz_target;

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

fuzz_target!(|data: &[u8]| {
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
});
