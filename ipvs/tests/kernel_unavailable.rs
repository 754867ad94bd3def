//! "IPVS not available" provoked for real: module autoloading disabled and ip_vs unloaded. Its
//! own test binary, hence its own kernel boot; it reloads ip_vs at the end all the same.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn ipvs_not_available_says_modprobe() {
    let modprobe = std::fs::read_to_string("/proc/sys/kernel/modprobe").unwrap();
    let modprobe = modprobe.trim().to_string();
    std::fs::write("/proc/sys/kernel/modprobe", "/bin/false\n").unwrap();
    sh("for m in $(awk '/^ip_vs_/{print $1}' /proc/modules); do rmmod $m; done; rmmod ip_vs");
    let ns = new_netns();
    let err = ns
        .run(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async { ipvs::new_connection().map(drop) })
        })
        .unwrap();
    std::fs::write("/proc/sys/kernel/modprobe", format!("{modprobe}\n")).unwrap();
    let e = err.unwrap_err();
    assert!(matches!(e, ipvs::Error::IpvsNotAvailable { .. }), "{e}");
    assert_eq!(e.errno(), Some(libc::ENOENT));
    assert!(e.to_string().contains("modprobe ip_vs"), "{e}");
    // Loaded again (the kernel autoloads it on the family lookup), it works again.
    sh(&format!("{modprobe} ip_vs"));
    in_netns(|h| async move {
        assert_eq!(h.info().await.unwrap().version, 0x010201);
    });
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn a_connection_waits_for_ipvs_and_opens_once_it_is_loaded() {
    let modprobe = std::fs::read_to_string("/proc/sys/kernel/modprobe").unwrap();
    let modprobe = modprobe.trim().to_string();
    std::fs::write("/proc/sys/kernel/modprobe", "/bin/false\n").unwrap();
    sh("for m in $(awk '/^ip_vs_/{print $1}' /proc/modules); do rmmod $m; done; rmmod ip_vs");
    let ns = new_netns();
    let (said, attempts, version) = ns
        .run(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let waiter = tokio::spawn(ipvs::new_connection_when_available(
                    std::time::Duration::from_millis(100),
                    move |e, attempt| {
                        let _ = tx.send((e.to_string(), attempt));
                    },
                ));
                // It waits, saying why, attempt after attempt.
                let (said, _) = rx.recv().await.unwrap();
                let (_, attempts) = rx.recv().await.unwrap();
                // Then the module comes (as an operator's `modprobe ip_vs` would load it).
                std::fs::write("/proc/sys/kernel/modprobe", format!("{modprobe}\n")).unwrap();
                sh(&format!("{modprobe} ip_vs"));
                let (conn, h) = waiter.await.unwrap().unwrap();
                tokio::spawn(conn);
                (said, attempts, h.info().await.unwrap().version)
            })
        })
        .unwrap();
    assert!(said.contains("modprobe ip_vs"), "{said}");
    assert!(attempts >= 2);
    assert_eq!(version, 0x010201);
}
