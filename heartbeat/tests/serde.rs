//! Pulse's settings as a configuration file holds them (TOML here): pulse's defaults for what
//! is left out, durations as people write them, timers validated, the key never written.
#![cfg(feature = "serde")]

use std::time::Duration;

use heartbeat::pulse::{Auth, Pulse};
use heartbeat::{Key, PathConfig, Timers};

#[test]
fn a_pulse_pair_reads_with_pulses_defaults() {
    let p: Pulse = toml::from_str("primary = \"10.0.0.1\"\nbackup = \"10.0.0.2\"\n").unwrap();
    let mut want = Pulse::new("10.0.0.1".parse().unwrap());
    want.backup = Some("10.0.0.2".parse().unwrap());
    assert_eq!(p, want);
    let p: Pulse = toml::from_str(
        "primary = \"10.0.0.1\"\nkeepalive = \"100ms\"\ndeadtime = \"300ms\"\nmonitor_links = true\n",
    )
    .unwrap();
    assert_eq!(
        (p.keepalive, p.deadtime, p.monitor_links, p.port),
        (
            Duration::from_millis(100),
            Duration::from_millis(300),
            true,
            539
        )
    );
    let e = toml::from_str::<Pulse>("primary = \"10.0.0.1\"\nkeepalive = 2\n").unwrap_err();
    assert!(e.to_string().contains("keepalive"), "{e}");
    let e = toml::from_str::<Pulse>("primary = \"10.0.0.1\"\ndeadtme = \"5s\"\n").unwrap_err();
    assert!(e.to_string().contains("deadtme"), "{e}");
}

#[test]
fn the_key_is_never_written() {
    let mut p = Pulse::new("10.0.0.1".parse().unwrap());
    p.auth = Some(Auth::new(Key::from(b"a secret of sixteen".to_vec())));
    let written = toml::to_string(&p).unwrap();
    assert!(
        !written.contains("secret") && !written.contains("auth"),
        "{written}"
    );
    let back: Pulse = toml::from_str(&written).unwrap();
    assert_eq!(back.auth, None);
    assert_eq!(back.keepalive, p.keepalive);
}

#[test]
fn timers_are_validated_when_read() {
    let t: Timers = toml::from_str("keepalive = \"100ms\"\ndeadtime = \"300ms\"\n").unwrap();
    assert_eq!(
        t,
        Timers::new(Duration::from_millis(100), Duration::from_millis(300)).unwrap()
    );
    let e = toml::from_str::<Timers>("keepalive = \"1s\"\ndeadtime = \"1s\"\n").unwrap_err();
    assert!(e.to_string().contains("deadtime"), "{e}");
    assert_eq!(
        toml::from_str::<Timers>(&toml::to_string(&Timers::piranha()).unwrap()).unwrap(),
        Timers::piranha()
    );
    let path: PathConfig = toml::from_str("peer = \"192.168.7.2\"\n").unwrap();
    assert_eq!(path, PathConfig::new("192.168.7.2".parse().unwrap()));
}
