//! [`Program`]: how every external program of the toolkit runs (checks' programs, the load
//! monitor, the director's hooks, failover commands). Programs that hang, fork daemons or write
//! without end: the tests count the processes they started, by the PIDs they write down.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use healthcheck::{ProbeError, Program};

/// A file for the PIDs a program writes down, removed on drop.
struct Pids(PathBuf);

impl Pids {
    fn new(name: &str) -> Pids {
        let path =
            std::env::temp_dir().join(format!("healthcheck-program-{name}-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        Pids(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("UTF-8")
    }

    /// The PIDs written, at least `n` of them.
    fn read(&self, n: usize) -> Vec<i32> {
        let pids: Vec<i32> = std::fs::read_to_string(&self.0)
            .unwrap_or_default()
            .split_whitespace()
            .map(|p| p.parse().expect("a PID"))
            .collect();
        assert!(pids.len() >= n, "{pids:?}");
        pids
    }
}

impl Drop for Pids {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Whether `pid` runs: it exists and is not a zombie (a zombie left to init is init's to reap,
/// and runs nothing).
fn running(pid: i32) -> bool {
    let stat = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat"));
    stat.is_ok_and(|s| {
        let state = s
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim().chars().next());
        !matches!(state, Some('Z' | 'X'))
    })
}

/// Waits until none of `pids` runs: a SIGKILLed process may take a moment to become a zombie.
fn all_gone(pids: &[i32]) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|p| running(*p)) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::yield_now();
    }
    true
}

fn sh(script: &str) -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into(), script.into()]
}

#[tokio::test]
async fn a_program_that_hangs_is_killed_with_what_it_started_at_its_limit() {
    let pids = Pids::new("hangs");
    let argv = sh(&format!(
        "echo $$ > {0}; sleep 1000 & echo $! >> {0}; sleep 1000",
        pids.path()
    ));
    let t0 = Instant::now();
    let ended = Program::new(&argv, Duration::from_secs(2)).run().await;
    assert!(
        matches!(ended, Err(ProbeError::ProgramTimeout { .. })),
        "{ended:?}"
    );
    assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
    let started = pids.read(2);
    assert!(all_gone(&started), "still running: {started:?}");
}

#[tokio::test]
async fn what_a_program_leaves_running_is_killed_when_it_exits() {
    let pids = Pids::new("forks");
    // A hook that starts a daemon in its process group and exits at once.
    let argv = sh(&format!(
        "sleep 1000 & echo $! > {}; echo started",
        pids.path()
    ));
    let done = Program::new(&argv, Duration::from_secs(10))
        .run()
        .await
        .expect("ran");
    assert!(done.status.success());
    assert_eq!(done.output, b"started\n");
    let daemon = pids.read(1);
    assert!(all_gone(&daemon), "still running: {daemon:?}");
}

#[tokio::test]
async fn a_service_started_by_a_command_that_keeps_its_children_keeps_running() {
    let pids = Pids::new("keeps");
    let argv = sh(&format!("sleep 1000 & echo $! > {}", pids.path()));
    let t0 = Instant::now();
    let done = Program::new(&argv, Duration::from_secs(10))
        .keep_children()
        .run()
        .await
        .expect("ran");
    assert!(done.status.success());
    // Its end, not the pipe the service still holds, ended the run.
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    let service = pids.read(1);
    assert!(running(service[0]), "the service was killed");
    // SAFETY: kill(2) of the test's own grandchild; no memory involved.
    unsafe {
        libc::kill(service[0], libc::SIGKILL);
    }
    assert!(all_gone(&service));
}

#[tokio::test]
async fn output_is_bounded_and_a_program_that_writes_without_end_never_blocks() {
    let argv = sh("head -c 1000000 /dev/zero | tr '\\0' x; echo done >&2");
    let done = Program::new(&argv, Duration::from_secs(20))
        .with_stderr()
        .run()
        .await
        .expect("ran");
    assert!(done.status.success(), "{done}");
    assert_eq!(done.output.len(), Program::OUTPUT_LIMIT);
    assert!(done.truncated);
    assert!(done.to_string().ends_with("(output truncated)"));
    // Without `with_stderr`, standard error goes nowhere.
    let quiet = Program::new(&sh("echo out; echo err >&2"), Duration::from_secs(10))
        .run()
        .await
        .expect("ran");
    assert_eq!(quiet.output, b"out\n");
    assert!(!quiet.truncated);
}

#[tokio::test]
async fn a_program_that_cannot_start_is_an_error_naming_it() {
    let argv = vec!["/nonexistent/hook".to_string()];
    let e = Program::new(&argv, Duration::from_secs(1))
        .run()
        .await
        .expect_err("no such program");
    assert!(e.to_string().contains("/nonexistent/hook"), "{e}");
    assert!(
        Program::new(&[], Duration::from_secs(1))
            .run()
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_programs_end_at_their_limit_and_with_the_set() {
    use healthcheck::Background;
    let hung = Pids::new("background-hung");
    let mut hooks = Background::default();
    for _ in 0..50 {
        hooks.spawn("a quick hook", sh("exit 0"), Duration::from_secs(10));
    }
    hooks.spawn(
        "a hook that hangs",
        sh(&format!(
            "echo $$ > {0}; sleep 1000 & echo $! >> {0}; sleep 1000",
            hung.path()
        )),
        Duration::from_secs(1),
    );
    let t0 = Instant::now();
    hooks.finish().await;
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert!(hooks.is_empty());
    let started = hung.read(2);
    assert!(all_gone(&started), "still running: {started:?}");

    // Dropped with a hook running: the hook goes, with what it started.
    let dropped = Pids::new("background-dropped");
    let mut hooks = Background::default();
    hooks.spawn(
        "a hook",
        sh(&format!(
            "sleep 1000 & echo $! > {0}; echo $$ >> {0}; sleep 1000",
            dropped.path()
        )),
        Duration::from_secs(100),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&dropped.0).map_or(0, |t| t.lines().count()) < 2 {
        assert!(Instant::now() < deadline, "the hook never started");
        tokio::task::yield_now().await;
    }
    drop(hooks);
    let started = dropped.read(2);
    assert!(all_gone(&started), "still running: {started:?}");
}
