//! Helpers for the kernel tests: a fresh network namespace per test, on a dedicated thread.
#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use std::future::Future;
use std::process::Command;

/// Runs `f` with a connected handle inside a new network namespace (testkit's [`testkit::NetNs`],
/// `lo` up, deleted afterwards), on a dedicated thread with its own current-thread Tokio runtime.
/// Panics propagate.
pub fn in_netns<F, Fut>(f: F)
where
    F: FnOnce(ipvs::Handle) -> Fut + Send,
    Fut: Future<Output = ()>,
{
    let ns = testkit::NetNs::new().expect("create netns");
    ns.run(move || {
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
    .expect("run in netns");
}

/// The path of a fresh namespace, for tests of `new_connection_in_netns`.
pub fn new_netns() -> testkit::NetNs {
    testkit::NetNs::new().expect("create netns")
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
