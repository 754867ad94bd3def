//! The `send_arp` example's usage errors (exit 1, as Piranha's), checked on the host: no frame
//! is sent for bad usage, so no privileges are needed.

use std::process::Command;

fn send_arp() -> Command {
    Command::new(env!("CARGO_BIN_EXE_send_arp"))
}

#[test]
fn bad_usage_exits_1_with_the_usage() {
    for args in [
        &[][..],
        &["10.0.0.1", "001122334455", "10.0.0.1"],
        &["-i", "eth0", "10.0.0.1", "001122334455", "10.0.0.1"],
        &["10.0.0.1", "0011223344", "10.0.0.1", "ffffffffffff"],
        &["not-an-ip", "001122334455", "10.0.0.1", "ffffffffffff"],
        &["--interface", "eth0"],
        &["--count", "3", "10.0.0.1"],
        &["--interface", "eth0", "--form", "sideways", "10.0.0.1"],
        &["--interface", "eth0", "--interval", "soon", "10.0.0.1"],
        &["--interface", "eth0", "--bogus", "10.0.0.1"],
    ] {
        let out = send_arp().args(args).output().expect("runs");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("usage: send_arp"),
            "{args:?}"
        );
    }
}
