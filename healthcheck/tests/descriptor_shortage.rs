//! A check that cannot run for want of descriptors (our own EMFILE) gives no verdict on its
//! server. Alone in its binary: it lowers the whole process's descriptor limit.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use healthcheck::{
    Binding, Check, EventKind, Monitor, MonitorOptions, Probe, Target, TcpCheck, Timeouts, Update,
};

use common::{ms, plain};

/// The log, kept for the test to read.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn set_soft_limit(n: u64) {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a struct of ours.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut l), 0);
        l.rlim_cur = n;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &l), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_that_cannot_get_a_descriptor_give_no_verdict() {
    let log = Log::default();
    let writer = log.clone();
    // Global: the monitor's task runs on the runtime's threads.
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish(),
    )
    .unwrap();
    // A real server that counts what it accepts.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counted = accepted.clone();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(s);
        }
    });
    let (monitor, mut updates) = Monitor::spawn(MonitorOptions::default());
    // No descriptor left: every socket() fails with EMFILE.
    let open = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
    set_soft_limit(open + 16);
    let mut fillers = Vec::new();
    while let Ok(f) = std::fs::File::open("/dev/null") {
        fillers.push(f);
    }
    let probe = Probe::new(
        addr,
        Check::Tcp(TcpCheck::default()),
        Binding::default(),
        Timeouts::both(ms(500)),
    )
    .unwrap();
    monitor
        .add(Target::new(probe, plain(), ms(50)))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !log.text().contains("could not run here") {
        assert!(tokio::time::Instant::now() < deadline, "{}", log.text());
        tokio::task::yield_now().await;
    }
    drop(fillers);
    set_soft_limit(open + 512);
    assert!(log.text().contains("Too many open files"), "{}", log.text());
    // The server never went down for it; once descriptors are back, it comes up.
    let up = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(u) = updates.recv().await {
            if let Update::Server { event, .. } = u {
                match event.kind {
                    EventKind::Up { .. } => return,
                    EventKind::Down { .. } => panic!("a verdict on our own shortage"),
                    EventKind::Weight(_) => {}
                }
            }
        }
    })
    .await;
    assert!(up.is_ok(), "no verdict after the shortage: {}", log.text());
    // The server's thread counts the connection when its accept() returns, which may be after
    // the check, done in the kernel's handshake, gave its verdict.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while accepted.load(Ordering::SeqCst) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server saw no check"
        );
        tokio::task::yield_now().await;
    }
}
