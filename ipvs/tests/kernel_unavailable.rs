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
