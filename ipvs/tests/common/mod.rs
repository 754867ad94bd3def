//! Helpers for the kernel tests: a fresh network namespace per test, on a dedicated thread.
#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use std::future::Future;
use std::process::Command;

/// Runs `f` with a connected handle inside a new network namespace (with `lo` up), on a
/// dedicated thread with its own current-thread Tokio runtime. Panics propagate.
pub fn in_netns<F, Fut>(f: F)
where
    F: FnOnce(ipvs::Handle) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let r = std::thread::spawn(move || {
        // SAFETY: unshare only affects this thread, which is dedicated to the test.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(
            rc,
            0,
            "unshare(CLONE_NEWNET): {}",
            std::io::Error::last_os_error()
        );
        sh("ip link set lo up");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (conn, handle) = ipvs::new_connection().expect("IPVS connection");
            tokio::spawn(conn);
            f(handle).await;
        });
    })
    .join();
    if let Err(p) = r {
        std::panic::resume_unwind(p);
    }
}

/// Runs a shell command in the calling thread's netns; panics on failure; returns stdout.
pub fn sh(cmd: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .output()
        .expect("spawn sh");
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn ip(s: &str) -> std::net::IpAddr {
    s.parse().unwrap()
}
