//! Kernel tests of the control socket and its commands, on the seed's NAT network: `director
//! status`, `director server drain|disable|enable`, `director force`, `director reload`, each
//! checked against what the kernel holds (`ipvsadm`, `ip`).
//!
//! Run with `cargo xtask test` (root, in the rig).

mod common;

use std::{
    io::{BufRead, BufReader, Write},
    os::unix::fs::{MetadataExt, PermissionsExt},
    process::Command,
};

use common::{
    ConfigFile, NatLab, Overlay, VIP, cli, director, footprint, sample, scrape, seed_config,
    seed_pair_config, socket_of, wait_both_up, weight,
};
use testkit::NetNs;

/// The seed with a one-second check interval.
fn seed() -> String {
    seed_config(&[], &[("timeout", "1"), ("reentry", "1")])
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn status_shows_the_live_table_with_health_and_json() {
    let lab = NatLab::new(1);
    let file = ConfigFile::new("status", &seed());
    let mut d = director(&lab.routers[0], &file.0, "director", &[]);
    wait_both_up(&mut d);
    d.wait_for("took over 2 addresses");
    let mode = std::fs::metadata(socket_of(&lab.routers[0]))
        .expect("the socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "root-only");

    let (code, out, err) = cli(&lab.routers[0], &["status"]);
    assert_eq!(code, Some(0), "{err}");
    for line in [
        "director: primary, ACTIVE (startup)",
        "heartbeat: none (no backup)",
        "addresses: 10.0.0.254/16 on eth1:1, 192.168.1.250/24 on eth0:1",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn  Health",
        "TCP  192.168.1.250:80 wlc  (virtual HTTP)",
    ] {
        assert!(out.contains(line), "no {line:?} in\n{out}");
    }
    let rs1 = out
        .lines()
        .find(|l| l.contains("-> 10.0.0.100:80"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        rs1.contains("Masq    1")
            && rs1.contains(" up (reply matched, ")
            && rs1.ends_with("[localhost.localdomain]"),
        "{rs1}"
    );

    let (code, out, err) = cli(&lab.routers[0], &["status", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let status: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(status["role"], "active");
    let server = &status["services"][0]["servers"][0];
    assert_eq!(server["address"], "10.0.0.100:80");
    assert_eq!(server["health"], "up");
    assert_eq!(server["weight"], 1);
    assert!(server["checks"].as_u64().unwrap_or_default() >= 1);

    // Another director on the same socket is refused; the first one keeps it.
    let mut second = director(&lab.routers[0], &file.0, "second", &[]);
    second.wait_for("another director answers on this control socket");
    assert!(!second.child.wait().expect("exits").success());
    assert_eq!(cli(&lab.routers[0], &["status"]).0, Some(0));
}

/// `setpriv PRIVILEGES… director status --socket SOCKET(ns)`: exit code and stderr.
fn status_as(ns: &NetNs, privileges: &[&str]) -> (Option<i32>, String) {
    let out = Command::new("setpriv")
        .args(privileges)
        .arg(env!("CARGO_BIN_EXE_director"))
        .args(["status", "--socket"])
        .arg(socket_of(ns))
        .output()
        .expect("setpriv runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// One raw request line over the socket, as any client (or an older `director`) may send it.
fn exchange(ns: &NetNs, line: &str) -> serde_json::Value {
    let mut stream = std::os::unix::net::UnixStream::connect(socket_of(ns)).expect("connect");
    stream.write_all(line.as_bytes()).expect("send");
    let mut answer = String::new();
    BufReader::new(stream)
        .read_line(&mut answer)
        .expect("answer");
    serde_json::from_str(&answer).expect("a JSON answer")
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn the_control_socket_admits_root_and_its_group_only() {
    let lab = NatLab::new(1);
    let file = ConfigFile::new("access", &seed());
    let overlay = Overlay::new("access", "[director]\ncontrol_group = \"65534\"\n");
    let mut d = director(&lab.routers[0], &file.0, "director", &overlay.args());
    d.wait_for("took over 2 addresses");
    let ns = &lab.routers[0];
    let meta = std::fs::metadata(socket_of(ns)).expect("the socket");
    assert_eq!((meta.mode() & 0o777, meta.gid()), (0o660, 65534));
    // Only the socket is left beside it: the private directory it was bound in is gone.
    let dir = socket_of(ns).parent().expect("a directory").to_owned();
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .expect("list")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".director-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // The group, as primary or supplementary group: admitted.
    let member = ["--reuid", "65534", "--regid", "65534", "--clear-groups"];
    assert_eq!(status_as(ns, &member).0, Some(0));
    let supplementary = ["--reuid", "65533", "--regid", "65533", "--groups", "65534"];
    assert_eq!(status_as(ns, &supplementary).0, Some(0));
    // Anyone else cannot even connect.
    let stranger = ["--reuid", "65533", "--regid", "65533", "--clear-groups"];
    let (code, err) = status_as(ns, &stranger);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("Permission denied"), "{err}");
    // Were the socket's mode loosened, its peer's credentials still keep strangers out.
    std::fs::set_permissions(socket_of(ns), std::fs::Permissions::from_mode(0o666)).unwrap();
    let (code, err) = status_as(ns, &stranger);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("permission denied: the control socket is root's"),
        "{err}"
    );
    d.wait_for("control socket: refused uid 65533");

    // A client of before the protocol's version is answered; one of a newer protocol is told.
    let old = exchange(ns, "{\"command\":\"status\"}\n");
    assert_eq!(
        (old["ok"].as_bool(), old["protocol"].as_u64()),
        (Some(true), Some(2))
    );
    let newer = exchange(ns, "{\"protocol\":3,\"command\":\"status\"}\n");
    assert_eq!(newer["ok"], false);
    assert!(
        newer["message"]
            .as_str()
            .unwrap_or_default()
            .contains("control protocol 2 and the client 3"),
        "{newer}"
    );
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn server_commands_change_the_kernel_table() {
    let lab = NatLab::new(1);
    let file = ConfigFile::new("admin", &seed());
    let mut d = director(&lab.routers[0], &file.0, "director", &[]);
    wait_both_up(&mut d);
    let r = &lab.routers[0];

    let (code, out, _) = cli(r, &["server", "drain", "HTTP", "10.0.0.100"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        out.trim(),
        "virtual HTTP server localhost.localdomain (10.0.0.100:80): drained by the operator"
    );
    assert_eq!(
        weight(&lab, 0, "10.0.0.100"),
        Some(0),
        "drained: weight 0, still in"
    );
    let (_, status, _) = cli(r, &["status"]);
    assert!(status.contains("up, drained by the operator"), "{status}");

    assert_eq!(
        cli(r, &["server", "disable", "HTTP", "10.0.0.200:80"]).0,
        Some(0)
    );
    assert_eq!(
        weight(&lab, 0, "10.0.0.200"),
        None,
        "disabled: out of the table"
    );
    // Its checks go on (the status counts them); a passing check does not bring it back.
    let checks = || {
        let (_, out, _) = cli(r, &["status", "--json"]);
        let status: serde_json::Value = serde_json::from_str(&out).expect("JSON");
        status["services"][0]["servers"][1]["checks"]
            .as_u64()
            .unwrap_or_default()
    };
    let before = checks();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while checks() < before + 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "no check while disabled"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(weight(&lab, 0, "10.0.0.200"), None);

    assert_eq!(
        cli(r, &["server", "enable", "HTTP", "10.0.0.100"]).0,
        Some(0)
    );
    assert_eq!(
        cli(r, &["server", "enable", "HTTP", "10.0.0.200"]).0,
        Some(0)
    );
    assert_eq!(weight(&lab, 0, "10.0.0.100"), Some(1));
    assert_eq!(weight(&lab, 0, "10.0.0.200"), Some(1));

    // Refused, with the reason: the seed names both servers alike; unknown names.
    let (code, _, err) = cli(r, &["server", "drain", "HTTP", "localhost.localdomain"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("has 2 real servers named `localhost.localdomain`: give its address"),
        "{err}"
    );
    let (code, _, err) = cli(r, &["server", "drain", "WEB", "10.0.0.100"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no virtual server `WEB` is running"), "{err}");
    let (code, _, err) = cli(r, &["server", "frobnicate", "HTTP", "10.0.0.100"]);
    assert_eq!(code, Some(2), "a usage error: {err}");
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn reload_through_the_socket_reports_what_is_wrong() {
    let lab = NatLab::new(1);
    let file = ConfigFile::new("reload-cli", &seed());
    let mut d = director(&lab.routers[0], &file.0, "director", &[]);
    wait_both_up(&mut d);
    let table = lab.ipvsadm(0, &["-Ln"]);
    file.write(&seed().replace("scheduler = wlc", "scheduler = fastest"));
    let (code, _, err) = cli(&lab.routers[0], &["reload"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("the configuration is not valid; the running one is kept")
            && err.contains(":25:18: error[E009]: invalid `scheduler` `fastest`"),
        "{err}"
    );
    assert_eq!(lab.ipvsadm(0, &["-Ln"]), table);
    file.write(&seed().replace("scheduler = wlc", "scheduler = rr"));
    let (code, out, err) = cli(&lab.routers[0], &["reload"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.starts_with("reloaded: 1 services (0 added, 0 removed)"),
        "{out}"
    );
    assert!(
        lab.ipvsadm(0, &["-Ln"])
            .contains("TCP  192.168.1.250:80 rr")
    );
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn force_moves_the_role_and_auto_gives_it_back() {
    let lab = NatLab::new(2);
    let file = ConfigFile::new(
        "force",
        &seed_pair_config(
            &[("keepalive", "1"), ("deadtime", "3")],
            &[("timeout", "1"), ("reentry", "1")],
        ),
    );
    let mut primary = director(&lab.routers[0], &file.0, "primary", &[]);
    let mut backup = director(&lab.routers[1], &file.0, "backup", &[]);
    primary.wait_for("took over 2 addresses");
    backup.wait_for("this node is the backup");

    // The primary forced standby: it steps down and says STOPPED; the backup takes over at once.
    // (In Piranha mode, forcing the backup active is pulse's one-shot: the master wins again.)
    backup.forget();
    let (code, out, _) = cli(&lab.routers[0], &["force", "standby"]);
    assert_eq!((code, out.trim()), (Some(0), "forced standby"));
    primary.wait_for("STANDBY (operator)");
    primary.wait_for("released the addresses");
    backup.wait_for("ACTIVE");
    backup.wait_for("took over 2 addresses");
    assert!(lab.addresses(1, "eth0").contains("192.168.1.250"));
    assert!(!lab.addresses(0, "eth0").contains("192.168.1.250"));
    let (_, status, _) = cli(&lab.routers[0], &["status"]);
    assert!(
        status.contains("director: primary, STANDBY (operator), forced standby"),
        "{status}"
    );

    // Auto: the primary is able again, and stays standby while the backup serves (Piranha).
    primary.forget();
    assert_eq!(cli(&lab.routers[0], &["force", "auto"]).0, Some(0));
    let (_, status, _) = cli(&lab.routers[0], &["status"]);
    assert!(!status.contains("forced"), "{status}");
    assert!(
        primary
            .try_wait_for("ACTIVE", std::time::Duration::from_secs(3))
            .is_none(),
        "no failback in Piranha mode"
    );
    // A router alone: forced standby releases its addresses; auto takes them again.
    drop((primary, backup));
    let alone = NatLab::new(1);
    let single = ConfigFile::new("force-alone", &seed());
    let mut d = director(&alone.routers[0], &single.0, "alone", &[]);
    d.wait_for("took over 2 addresses");
    assert_eq!(cli(&alone.routers[0], &["force", "standby"]).0, Some(0));
    d.wait_for("released the addresses");
    assert!(!alone.addresses(0, "eth0").contains("192.168.1.250"));
    d.forget();
    assert_eq!(cli(&alone.routers[0], &["force", "auto"]).0, Some(0));
    d.wait_for("took over 2 addresses");
    assert!(alone.addresses(0, "eth0").contains("192.168.1.250"));
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn drift_is_repaired_within_one_interval() {
    let lab = NatLab::new(1);
    let file = ConfigFile::new("drift", &seed());
    let overlay = Overlay::new("drift", "[director]\nreconcile_interval = \"1s\"\n");
    let mut d = director(&lab.routers[0], &file.0, "director", &overlay.args());
    wait_both_up(&mut d);
    d.wait_for("took over 2 addresses");
    let table = lab.ipvsadm(0, &["-Ln"]);

    // Someone flushes the table.
    d.forget();
    let flushed = std::time::Instant::now();
    lab.ipvsadm(0, &["-C"]);
    let line = d.wait_for("changed behind the director's back");
    // A service and two real servers; a check's verdict applied between the flush and the
    // repair may have put one of them back first (seen once in CI: 2 changes).
    assert!(
        line.text.contains("3 changes") || line.text.contains("2 changes"),
        "a service and two real servers: {}",
        line.text
    );
    assert!(
        line.at - flushed <= std::time::Duration::from_millis(2500),
        "repaired after {:?}",
        line.at - flushed
    );
    assert_eq!(lab.ipvsadm(0, &["-Ln"]), table);

    // Someone deletes the VIP by hand.
    lab.routers[0]
        .ip(["address", "del", "192.168.1.250/24", "dev", "eth0"])
        .expect("ip address del");
    d.wait_for("192.168.1.250/24 on eth0 was gone: added again");
    let eth0 = lab.addresses(0, "eth0");
    assert!(
        eth0.contains("192.168.1.250/24") && eth0.contains("eth0:1"),
        "{eth0}"
    );
    assert!(common::get(&lab.client, VIP).is_ok());
    // Nothing to repair: nothing said.
    d.forget();
    assert!(
        d.try_wait_for("behind", std::time::Duration::from_millis(2500))
            .is_none()
    );
}

/// Waits until `file` has a line containing `text` (the hooks run in the background).
fn wait_for_line(file: &std::path::Path, text: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let all = std::fs::read_to_string(file).unwrap_or_default();
        if let Some(line) = all.lines().find(|l| l.contains(text)) {
            return line.to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {text:?} in {}:\n{all}",
            file.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn hooks_run_with_their_arguments() {
    let mut lab = NatLab::new(1);
    let file = ConfigFile::new("hooks", &seed());
    let out = std::env::temp_dir().join(format!("director-hooks-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&out);
    // Each hook appends its arguments, one line per call, then hangs with a daemon it
    // started: the director goes on meanwhile, and kills both at the hooks' timeout.
    let hook = |name: &str| {
        format!(
            "/bin/sh -c 'echo \"{name} $*\" >> {}; sleep 1000 & exec sleep 1000' {name}",
            out.display()
        )
    };
    let overlay = Overlay::new(
        "hooks",
        &format!(
            "[hooks]\nrole = {:?}\nserver = {:?}\ntimeout = \"2s\"\n",
            hook("role"),
            hook("server")
        ),
    );
    let mut d = director(&lab.routers[0], &file.0, "director", &overlay.args());
    d.wait_for("took over 2 addresses");
    assert_eq!(wait_for_line(&out, "role active"), "role active startup");
    let up = wait_for_line(&out, "server HTTP localhost.localdomain 10.0.0.100:80 up");
    assert_eq!(
        up,
        "server HTTP localhost.localdomain 10.0.0.100:80 up 1 reply matched"
    );
    lab.stop_server(0);
    let down = wait_for_line(&out, "10.0.0.100:80 down");
    assert!(
        down.starts_with("server HTTP localhost.localdomain 10.0.0.100:80 down 0 "),
        "{down}"
    );
    assert_eq!(
        cli(&lab.routers[0], &["server", "drain", "HTTP", "10.0.0.200"]).0,
        Some(0)
    );
    assert_eq!(
        wait_for_line(&out, "10.0.0.200:80 drain"),
        "server HTTP localhost.localdomain 10.0.0.200:80 drain - operator"
    );
    assert_eq!(cli(&lab.routers[0], &["force", "standby"]).0, Some(0));
    assert_eq!(wait_for_line(&out, "role standby"), "role standby operator");
    // What the hooks started is gone within their timeout, and nothing else is left.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while sleepers() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the last hook's processes"
        );
        std::thread::yield_now();
    }
    while sleepers() > 0 {
        assert!(std::time::Instant::now() < deadline, "{} left", sleepers());
        std::thread::yield_now();
    }
    let _ = std::fs::remove_file(&out);
}

/// The running (not zombie) processes `sleep 1000`.
fn sleepers() -> usize {
    let running = |pid: &std::path::Path| {
        let stat = std::fs::read_to_string(pid.join("stat")).unwrap_or_default();
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.trim().chars().next());
        std::fs::read(pid.join("cmdline")).is_ok_and(|c| c == b"sleep\x001000\x00")
            && !matches!(state, Some('Z' | 'X') | None)
    };
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok())
        .filter(|e| running(&e.path()))
        .count()
}

/// The unit's `CapabilityBoundingSet=` in setpriv's words: `-all,+net_admin,…`.
fn unit_bounding_set() -> String {
    let unit = include_str!("../dist/director.service");
    let caps = (unit.lines())
        .find_map(|l| l.strip_prefix("CapabilityBoundingSet="))
        .expect("the unit bounds the capabilities");
    let mut set = String::from("-all");
    for cap in caps.split_whitespace() {
        set.push_str(",+");
        set.push_str(&cap.trim_start_matches("CAP_").to_lowercase());
    }
    set
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn the_package_installs_and_its_programs_run() {
    // `cargo xtask test` builds it (debug binaries) before the kernel tests.
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/dist");
    let deb = std::fs::read_dir(&dist)
        .ok()
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .unwrap_or_else(|| {
            panic!(
                "no package in {}: run `cargo xtask dist --debug`",
                dist.display()
            )
        });
    let run = |program: &str, args: &[&str]| {
        let out = Command::new(program).args(args).output().expect("runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Into the guest's throw-away root; man-db's trigger is not run.
    let (code, _, err) = run("dpkg", &["--no-triggers", "-i", deb.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    let (code, version, _) = run("/usr/sbin/director", &["--version"]);
    assert_eq!(code, Some(0));
    assert!(version.starts_with("director 0.1.0 (commit "), "{version}");
    let seed = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../lvscf/tests/fixtures/seed/01-nat-single-router.cf"
    );
    let (code, plan, err) = run("/usr/sbin/director", &["check", seed]);
    assert_eq!(code, Some(0), "{err}");
    assert!(plan.contains("TCP 192.168.1.250:80 wlc"), "{plan}");
    for (tool, arg) in [
        ("/usr/sbin/ipvsctl", "--version"),
        ("/usr/bin/lvscf", "--version"),
        ("/usr/sbin/send_arp", "--version"),
        ("/usr/sbin/lvs-probe", "--version"),
    ] {
        assert_eq!(run(tool, &[arg]).0, Some(0), "{tool}");
    }
    assert_eq!(run("/usr/bin/lvscf", &["check", seed]).0, Some(0));
    for file in [
        "/lib/systemd/system/director.service",
        "/lib/systemd/system/director-console.service",
        "/etc/director/director.toml.example",
        "/usr/share/man/man8/director.8.gz",
        "/usr/share/bash-completion/completions/director",
    ] {
        assert!(std::path::Path::new(file).exists(), "{file}");
    }
    let (code, _, err) = run("dpkg", &["--no-triggers", "-r", "lvs-director"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!std::path::Path::new("/usr/sbin/director").exists());
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn the_service_manager_hears_ready_reloading_watchdog_and_stopping() {
    let lab = NatLab::new(1);
    let file = ConfigFile::new("notify", &seed());
    let path = std::env::temp_dir().join(format!("director-notify-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let socket = std::os::unix::net::UnixDatagram::bind(&path).expect("notify socket");
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .expect("timeout");
    // As systemd: WATCHDOG_PID is the director's own pid (`ip netns exec` and the shell exec
    // it, so the shell's pid is the director's).
    // As the unit runs it: no new privileges, and only the capabilities of its bounding set.
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!(
            "WATCHDOG_PID=$$ exec ip netns exec {} setpriv --no-new-privs --bounding-set {} {} run --config {} --socket {}",
            lab.routers[0].name(),
            unit_bounding_set(),
            env!("CARGO_BIN_EXE_director"),
            file.0.display(),
            socket_of(&lab.routers[0]).display()
        ))
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "400000");
    let mut d = testkit::Logged::spawn(cmd, "director").expect("starts");
    let next = || {
        let mut buf = [0u8; 4096];
        let n = socket.recv(&mut buf).expect("a notification");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let until = |want: &str| -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let m = next();
            let done = m.contains(want);
            seen.push(m);
            if done {
                return seen;
            }
        }
    };
    let ready = until("READY=1");
    assert!(
        ready.last().is_some_and(|m| m.contains("STATUS=active")),
        "{ready:?}"
    );
    // The watchdog: every 200 ms (half of WATCHDOG_USEC).
    let started = std::time::Instant::now();
    until("WATCHDOG=1");
    until("WATCHDOG=1");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    d.signal(libc::SIGHUP).expect("SIGHUP");
    let reload = until("RELOADING=1");
    assert!(
        reload.last().is_some_and(|m| m.contains("MONOTONIC_USEC=")),
        "{reload:?}"
    );
    let ready = until("READY=1");
    assert!(
        ready.last().is_some_and(|m| m.contains("STATUS=reloaded")),
        "{ready:?}"
    );
    d.signal(libc::SIGTERM).expect("SIGTERM");
    until("STOPPING=1");
    assert!(d.child.wait().expect("exits").success());
    let _ = std::fs::remove_file(&path);
}

/// The fields of one journald datagram (the native protocol: `NAME=value` lines, or `NAME`, a
/// little-endian length and the value for values with newlines).
fn journal_fields(mut d: &[u8]) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    while !d.is_empty() {
        let end = d.iter().position(|&b| b == b'\n').unwrap_or(d.len());
        let line = &d[..end];
        match line.iter().position(|&b| b == b'=') {
            Some(eq) => {
                let name = String::from_utf8_lossy(&line[..eq]).into_owned();
                fields.push((name, String::from_utf8_lossy(&line[eq + 1..]).into_owned()));
                d = &d[(end + 1).min(d.len())..];
            }
            None => {
                let name = String::from_utf8_lossy(line).into_owned();
                let len = u64::from_le_bytes(d[end + 1..end + 9].try_into().expect("a length"));
                let value = &d[end + 9..end + 9 + len as usize];
                fields.push((name, String::from_utf8_lossy(value).into_owned()));
                d = &d[(end + 10 + len as usize).min(d.len())..];
            }
        }
    }
    fields
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn under_systemd_the_log_goes_to_journald_with_its_fields() {
    use std::os::unix::fs::MetadataExt;
    let lab = NatLab::new(1);
    let file = ConfigFile::new("journald", &seed());
    // As journald: its socket, and the stream it gives a service as stderr.
    let dir = std::path::Path::new("/run/systemd/journal");
    std::fs::create_dir_all(dir).expect("the journal's directory");
    let _ = std::fs::remove_file(dir.join("socket"));
    let journal = std::os::unix::net::UnixDatagram::bind(dir.join("socket")).expect("bind");
    journal
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .expect("timeout");
    let (stream, mut ours) = std::os::unix::net::UnixStream::pair().expect("a stream");
    let meta = std::fs::File::from(std::os::fd::OwnedFd::from(stream.try_clone().unwrap()))
        .metadata()
        .expect("fstat");
    let mut d = lab.routers[0]
        .command(env!("CARGO_BIN_EXE_director"))
        .args(["run", "--config"])
        .arg(&file.0)
        .arg("--socket")
        .arg(socket_of(&lab.routers[0]))
        .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
        .stderr(std::process::Stdio::from(std::os::fd::OwnedFd::from(
            stream,
        )))
        .spawn()
        .expect("the director starts");
    let until = |want: &str| loop {
        let mut buf = vec![0u8; 65536];
        let n = journal.recv(&mut buf).expect("a journal entry");
        let fields = journal_fields(&buf[..n]);
        if fields
            .iter()
            .any(|(k, v)| k == "MESSAGE" && v.contains(want))
        {
            return fields;
        }
    };
    let took = until("took over 2 addresses");
    let field = |fields: &[(String, String)], name: &str| {
        (fields.iter())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {name} in {fields:?}"))
    };
    assert_eq!(field(&took, "SYSLOG_IDENTIFIER"), "director");
    assert_eq!(field(&took, "PRIORITY"), "5", "INFO is journald's notice");
    assert!(field(&took, "TARGET").starts_with("director"));
    // nanny's lines, as they are.
    let up = until("[ active ] 10.0.0.100:80 up");
    assert!(field(&up, "MESSAGE").starts_with("director: [ active ] 10.0.0.100:80 up"));
    let killed = Command::new("kill")
        .args(["-TERM", &d.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    assert!(d.wait().expect("exits").success());
    // Nothing went to the stream: the journal had it all.
    ours.set_nonblocking(true).expect("non-blocking");
    let mut rest = Vec::new();
    let _ = std::io::Read::read_to_end(&mut ours, &mut rest);
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    let _ = std::fs::remove_file(dir.join("socket"));
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn a_silent_metrics_client_is_cut_off_and_blocks_no_one() {
    use std::io::Read;
    let lab = NatLab::new(1);
    let file = ConfigFile::new("silent", &seed());
    // A port alone: the endpoint listens on loopback only.
    let overlay = Overlay::new("silent", "[director]\nmetrics = 9136\n");
    let mut d = director(&lab.routers[0], &file.0, "director", &overlay.args());
    d.wait_for("metrics on http://127.0.0.1:9136/metrics");
    // Slowloris: connected, and never a request.
    let addr: std::net::SocketAddr = "127.0.0.1:9136".parse().expect("address");
    let silent = lab.routers[0]
        .run(move || std::net::TcpStream::connect(addr).expect("connects"))
        .expect("netns");
    let opened = std::time::Instant::now();
    // Others are answered meanwhile.
    let text = scrape(&lab.routers[0], "127.0.0.1:9136");
    assert!(text.contains("lvs_director_active"), "{text}");
    // The silent one is closed once the time for a request's head is over.
    let mut silent = silent;
    silent
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    let mut buf = [0u8; 64];
    let n = silent.read(&mut buf).expect("closed, not timed out");
    let after = opened.elapsed();
    assert_eq!(n, 0, "{:?}", String::from_utf8_lossy(&buf[..n]));
    assert!(
        after >= std::time::Duration::from_secs(9) && after < std::time::Duration::from_secs(25),
        "closed after {after:?}"
    );
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn metrics_reflect_traffic_through_the_vip() {
    let lab = NatLab::new(1);
    let file = ConfigFile::new("metrics", &seed());
    let overlay = Overlay::new("metrics", "[director]\nmetrics = \"127.0.0.1:9135\"\n");
    let mut d = director(&lab.routers[0], &file.0, "director", &overlay.args());
    d.wait_for("metrics on http://127.0.0.1:9135/metrics");
    wait_both_up(&mut d);
    let rs1 = "{virtual=\"HTTP\",server=\"localhost.localdomain\",address=\"10.0.0.100:80\"}";
    let service = "{virtual=\"HTTP\",service=\"TCP 192.168.1.250:80\"}";
    let text = scrape(&lab.routers[0], "127.0.0.1:9135");
    assert_eq!(sample(&text, "lvs_director_active"), Some(1.0), "{text}");
    let build = format!(
        "director_build_info{{version=\"{}\",commit=\"{}\"}}",
        env!("CARGO_PKG_VERSION"),
        env!("DIRECTOR_COMMIT")
    );
    assert_eq!(sample(&text, &build), Some(1.0), "{text}");
    assert_eq!(
        sample(&text, &format!("lvs_server_up{rs1}")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(sample(&text, &format!("lvs_server_weight{rs1}")), Some(1.0));
    assert!(sample(&text, &format!("lvs_server_check_latency_seconds{rs1}")).is_some());
    let before =
        sample(&text, &format!("lvs_service_connections_total{service}")).unwrap_or_default();

    for _ in 0..10 {
        common::get(&lab.client, VIP).expect("a reply through the VIP");
    }
    // IPVS folds its per-CPU counters into what it reports every two seconds or so: poll.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let text = loop {
        let text = scrape(&lab.routers[0], "127.0.0.1:9135");
        let after =
            sample(&text, &format!("lvs_service_connections_total{service}")).unwrap_or_default();
        if after - before >= 10.0 {
            assert_eq!(after - before, 10.0, "{text}");
            break text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{after} - {before}:\n{text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    };
    assert!(
        sample(&text, &format!("lvs_service_bytes_in_total{service}")).unwrap_or_default() > 0.0
    );
    // Units last; the old names stay, deprecated.
    assert_eq!(
        sample(&text, &format!("lvs_service_in_bytes_total{service}")),
        sample(&text, &format!("lvs_service_bytes_in_total{service}"))
    );

    // node_exporter's IPVS series, as node_exporter itself (Debian's) reports them.
    let mut cmd = lab.routers[0].command("prometheus-node-exporter");
    cmd.args([
        "--collector.disable-defaults",
        "--collector.ipvs",
        "--web.listen-address=127.0.0.1:9100",
    ]);
    let mut exporter = testkit::Logged::spawn(cmd, "node_exporter").expect("node_exporter starts");
    exporter.wait_for("Listening on");
    let ipvs_lines = |text: &str| -> std::collections::BTreeSet<String> {
        (text.lines())
            .filter(|l| l.starts_with("node_ipvs_"))
            .map(|l| {
                // Labels in name order: node_exporter sorts them, we write them in its order.
                let (series, value) = l.rsplit_once(' ').expect("a sample");
                let value: f64 = value.parse().expect("a number");
                let sorted = match series.split_once('{') {
                    None => series.to_string(),
                    Some((name, labels)) => {
                        let mut l: Vec<&str> = labels.trim_end_matches('}').split(',').collect();
                        l.sort_unstable();
                        format!("{name}{{{}}}", l.join(","))
                    }
                };
                format!("{sorted} {value}")
            })
            .collect()
    };
    let theirs = ipvs_lines(
        &lab.routers[0]
            .run(|| {
                use std::io::{Read, Write};
                let mut s = std::net::TcpStream::connect("127.0.0.1:9100").expect("node_exporter");
                s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").expect("send");
                let mut out = String::new();
                s.read_to_string(&mut out).expect("read");
                out.split_once("\r\n\r\n")
                    .map(|(_, b)| b.to_string())
                    .unwrap_or_default()
            })
            .expect("netns"),
    );
    let ours = ipvs_lines(&scrape(&lab.routers[0], "127.0.0.1:9135"));
    assert!(
        theirs
            .iter()
            .any(|l| l.starts_with("node_ipvs_backend_weight{")),
        "{theirs:?}"
    );
    assert_eq!(ours, theirs, "ours vs node_exporter's");
    drop(exporter);

    let mut lab = lab;
    lab.stop_server(0);
    d.wait_for("[inactive] 10.0.0.100:80 down");
    let text = scrape(&lab.routers[0], "127.0.0.1:9135");
    assert_eq!(
        sample(&text, &format!("lvs_server_up{rs1}")),
        Some(0.0),
        "{text}"
    );
    assert!(
        sample(&text, &format!("lvs_server_check_failures_total{rs1}")).unwrap_or_default() >= 1.0
    );
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn check_reports_what_the_machine_lacks() {
    let ns = NetNs::new().expect("router");
    let text = "primary = 10.0.0.9\nnetwork = nat\nvirtual A {\n active = 1\n address = 10.0.0.1 eth0\n server a {\n  address = 10.0.1.1\n  active = 1\n }\n}\nvirtual M {\n active = 1\n address = 10.0.0.2 eth0\n fwmark = 42\n server a {\n  address = 10.0.1.1\n  active = 1\n }\n}\n";
    let file = ConfigFile::new("environment", text);
    let check = || {
        let out = ns
            .command(env!("CARGO_BIN_EXE_director"))
            .arg("check")
            .arg(&file.0)
            .output()
            .expect("runs");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // A fresh namespace: no forwarding, IPVS's defaults, no firewall rules.
    let err = check();
    for line in [
        "director: environment: warning: NAT needs net.ipv4.ip_forward = 1",
        "director: environment: warning: net.ipv4.vs.expire_nodest_conn = 0",
        "director: environment: warning: virtual M is fwmark 42, but no nftables or iptables rule sets that mark",
    ] {
        assert!(err.contains(line), "no {line:?} in\n{err}");
    }
    ns.exec(
        "sysctl",
        [
            "-qw",
            "net.ipv4.ip_forward=1",
            "net.ipv4.vs.expire_nodest_conn=1",
        ],
    )
    .expect("sysctl");
    // The legacy backend: UML's kernel has no nf_tables for IPv4.
    ns.exec(
        "iptables-legacy",
        "-t mangle -A PREROUTING -d 10.0.0.2 -j MARK --set-mark 42".split(' '),
    )
    .expect("iptables");
    let err = check();
    assert!(!err.contains("environment: warning"), "{err}");
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn an_address_conflict_is_reported_before_the_vip_is_claimed() {
    let lab = NatLab::new(1);
    // A host on the LAN already holds the VIP (a mistake somewhere).
    let shown = lab.client.ip(["-o", "-4", "address", "show"]).expect("ip");
    let dev = shown
        .lines()
        .find(|l| l.contains("192.168.1.1/24"))
        .and_then(|l| l.split_whitespace().nth(1))
        .expect("the client's LAN interface")
        .to_string();
    lab.client
        .ip(["address", "add", "192.168.1.250/24", "dev", &dev])
        .expect("the client takes the VIP");
    let mac = lab
        .client
        .ip(["-brief", "link", "show", "dev", &dev])
        .expect("link")
        .split_whitespace()
        .nth(2)
        .expect("MAC")
        .to_string();
    let file = ConfigFile::new("conflict", &seed());
    let mut d = director(&lab.routers[0], &file.0, "director", &[]);
    let line = d.wait_for("ADDRESS CONFLICT");
    assert_eq!(
        line.text,
        format!(
            "director: ADDRESS CONFLICT: 192.168.1.250 is in use by {mac} (RFC 5227 probe): taking it over anyway"
        )
    );
    d.wait_for("took over 2 addresses");
    let (_, metrics, _) = cli(&lab.routers[0], &["status", "--json"]);
    assert!(metrics.contains("\"role\": \"active\""), "{metrics}");
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn trackers_make_the_active_router_step_down_by_their_weights() {
    let lab = NatLab::new(2);
    let file = ConfigFile::new(
        "track",
        &seed_pair_config(
            &[("keepalive", "1"), ("deadtime", "3")],
            &[("timeout", "1"), ("reentry", "1")],
        ),
    );
    let r = &lab.routers[0];
    r.ip(["link", "add", "dummy9", "type", "dummy"])
        .expect("dummy");
    r.ip(["link", "set", "dummy9", "up"]).expect("up");
    let flag = std::env::temp_dir().join(format!("director-track-flag-{}", std::process::id()));
    std::fs::write(&flag, "").expect("flag");
    // The interface and the script together, or the script alone, make the router unfit. The
    // script's timeout is generous: under qemu's emulation a program can take longer than its
    // 200 ms interval to start, and this test is about weights, not about timeouts.
    let overlay = Overlay::new(
        "track",
        &format!(
            "[track]\nthreshold = 2\n[[track.interface]]\nname = \"dummy9\"\n\
             [[track.script]]\ncommand = \"test -e {}\"\ninterval = \"200ms\"\ntimeout = \"5s\"\n\
             weight = 2\n",
            flag.display()
        ),
    );
    let settings = overlay.args();
    let mut primary = director(r, &file.0, "primary", &settings);
    let mut backup = director(&lab.routers[1], &file.0, "backup", &[]);
    primary.wait_for("took over 2 addresses");
    backup.wait_for("this node is the backup");
    let (_, status, _) = cli(r, &["status"]);
    assert!(
        status.contains("tracking: interface dummy9 ok (weight 1), script test -e ")
            && status.contains("; fit"),
        "{status}"
    );

    // The interface alone: weight 1 of 2, still fit.
    r.ip(["link", "set", "dummy9", "down"]).expect("down");
    primary.wait_for("track: interface dummy9 fails: interface dummy9 is down");
    let (_, status, _) = cli(r, &["status", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&status).expect("JSON");
    assert_eq!(
        (json["fit"].as_bool(), json["role"].as_str()),
        (Some(true), Some("active")),
        "{status}"
    );

    // The script fails too (weight 2): unfit; the backup takes over at once.
    backup.forget();
    std::fs::remove_file(&flag).expect("remove the flag");
    primary.wait_for("unfit: failing weight 3 of threshold 2: stepping down");
    primary.wait_for("STANDBY (service-failed)");
    primary.wait_for("released the addresses");
    backup.wait_for("ACTIVE");
    backup.wait_for("took over 2 addresses");
    let (_, status, _) = cli(r, &["status"]);
    assert!(
        status.contains("; UNFIT") && status.contains("script test -e"),
        "{status}"
    );

    // Back: fit again, and standby while the backup serves (no failback in Piranha mode).
    std::fs::write(&flag, "").expect("flag");
    r.ip(["link", "set", "dummy9", "up"]).expect("up");
    primary.wait_for("fit again");
    let (_, status, _) = cli(r, &["status", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&status).expect("JSON");
    assert_eq!(json["fit"].as_bool(), Some(true));
    let _ = std::fs::remove_file(&flag);
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn a_lone_router_follows_its_gateway() {
    let lab = NatLab::new(1);
    let file = ConfigFile::new("gateway", &seed());
    let overlay = Overlay::new(
        "gateway",
        "[[track.gateway]]\naddress = \"192.168.1.1\"\ninterval = \"200ms\"\nfall = 2\n",
    );
    let settings = overlay.args();
    let mut d = director(&lab.routers[0], &file.0, "director", &settings);
    d.wait_for("took over 2 addresses");
    // The "gateway" (the client) goes away: two pings lost, and the router stands down.
    let shown = lab
        .client
        .ip(["-o", "link", "show", "type", "veth"])
        .expect("link");
    let dev = shown
        .split(':')
        .nth(1)
        .and_then(|d| d.trim().split('@').next())
        .expect("veth")
        .to_string();
    d.forget();
    lab.client.ip(["link", "set", &dev, "down"]).expect("down");
    d.wait_for("track: gateway 192.168.1.1 fails");
    d.wait_for("STANDBY (service-failed)");
    d.wait_for("released the addresses");
    assert!(!lab.addresses(0, "eth0").contains("192.168.1.250"));
    lab.client.ip(["link", "set", &dev, "up"]).expect("up");
    d.wait_for("fit again");
    d.wait_for("ACTIVE (service-recovered)");
    d.wait_for("took over 2 addresses");
    assert!(lab.addresses(0, "eth0").contains("192.168.1.250"));
}

/// The resources test's scale: `LVS_TEST_FAILURES` check failures (default 800) and
/// `LVS_TEST_RELOADS` reloads (default 30); `cargo xtask reliability --only resources`: 10,000
/// and 1,000.
fn resources_scale() -> (u64, u64) {
    (
        testkit::scale("LVS_TEST_FAILURES", 800),
        testkit::scale("LVS_TEST_RELOADS", 30),
    )
}

/// One virtual server of the resources test: `name` on 192.168.1.`vip`:80 checking `servers`
/// every second with `check` (lvs.cf lines).
fn failing_virtual(name: &str, vip: u8, check: &str, servers: &[String]) -> String {
    let mut text = format!(
        "virtual {name} {{\n     active = 1\n     address = 192.168.1.{vip} eth0:1\n     \
         vip_nmask = 255.255.255.0\n     port = 80\n{check}     scheduler = wlc\n     \
         protocol = tcp\n     timeout = 1\n     reentry = 1\n"
    );
    for (i, s) in servers.iter().enumerate() {
        text += &format!(
            "     server s{i} {{\n         address = {s}\n         active = 1\n         weight = 1\n     }}\n"
        );
    }
    text + "}\n"
}

/// The kinds of `pid`'s open descriptors (`socket`, `pipe`, `anon_inode:[eventfd]`, a file's
/// path), with their counts.
fn descriptor_kinds(pid: u32) -> std::collections::BTreeMap<String, usize> {
    let mut kinds = std::collections::BTreeMap::new();
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("fds")
        .flatten()
    {
        let target = std::fs::read_link(fd.path()).unwrap_or_default();
        let target = target.to_string_lossy();
        let kind = target.split(":[").next().unwrap_or_default().to_string();
        *kinds.entry(kind).or_default() += 1;
    }
    kinds
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn failed_checks_and_reloads_leave_no_descriptor_thread_or_memory_behind() {
    let (wanted, reload_count) = resources_scale();
    let lab = NatLab::new(1);
    // Real servers that refuse (addresses without a listener), that never answer (dropped),
    // whose program fails, that answer the wrong thing, and that answer HTTP 404.
    let server = &lab.servers[0];
    let dev = common::veth(server);
    // Spawning a program costs much more than a connection under TCG: few of those.
    let many =
        |net: u8, n: u8| -> Vec<String> { (1..=n).map(|i| format!("10.0.{net}.{i}")).collect() };
    for addr in many(1, 60).iter().chain(&many(2, 60)) {
        server
            .ip(["address", "add", &format!("{addr}/16"), "dev", &dev])
            .expect("address");
    }
    server
        .exec(
            "iptables-legacy",
            ["-A", "INPUT", "-d", "10.0.2.0/24", "-j", "DROP"],
        )
        .expect("iptables");
    let send = "     send = \"GET / HTTP/1.0\\r\\n\\r\\n\"\n";
    let listening = ["10.0.0.100".to_string(), "10.0.0.200".to_string()];
    let head = "serial_no = 1\nprimary = 192.168.1.10\nservice = lvs\nbackup_active = 0\n\
                heartbeat = 0\nnetwork = nat\nnat_router = 10.0.0.254 eth1:1\n\
                nat_nmask = 255.255.0.0\n";
    let text = |weight: u32| {
        [
            head.to_string(),
            failing_virtual(
                "REFUSED",
                241,
                &format!("{send}     expect = \"HTTP\"\n"),
                &many(1, 60),
            ),
            failing_virtual(
                "SILENT",
                242,
                &format!("{send}     expect = \"HTTP\"\n"),
                &many(2, 60),
            ),
            failing_virtual(
                "PROGRAM",
                243,
                "     send_program = \"/bin/false %h\"\n",
                &many(3, 4),
            ),
            failing_virtual(
                "WRONG",
                244,
                &format!("{send}     expect = \"NOPE\"\n"),
                &listening,
            ),
            failing_virtual("MISSING", 245, "", &listening)
                .replace("weight = 1", &format!("weight = {weight}")),
        ]
        .concat()
    };
    let file = ConfigFile::new("resources", &text(1));
    let overlay = Overlay::new(
        "resources",
        "[director]\nmetrics = 9141\n\n[virtual.MISSING]\n\
         http = { path = \"/missing\", status = \"200\" }\n",
    );
    let mut d = director(&lab.routers[0], &file.0, "director", &overlay.args());
    d.wait_for("metrics on http://127.0.0.1:9141/metrics");
    let pid = d.child.id();
    let ns = &lab.routers[0];
    let failures = || -> u64 {
        let text = scrape(ns, "127.0.0.1:9141");
        (text.lines())
            .filter(|l| l.starts_with("lvs_server_check_failures_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    };
    let reloads =
        || sample(&scrape(ns, "127.0.0.1:9141"), "lvs_director_reloads_total").unwrap_or(0.0);
    let wait_failures = |n: u64| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(n / 20 + 60);
        while failures() < n {
            assert!(
                std::time::Instant::now() < deadline,
                "{} failures of {n}",
                failures()
            );
            std::thread::yield_now();
        }
    };
    // The baseline: every check has failed a few times.
    wait_failures(250);
    let base = footprint(pid);
    wait_failures(wanted / 2);
    let half = footprint(pid);
    wait_failures(wanted);
    let failed = footprint(pid);
    // Reloads, each a real change (the weight of MISSING's servers), one after the other.
    for i in 0..reload_count {
        file.write(&text(2 + (i % 2) as u32));
        let before = reloads();
        d.signal(libc::SIGHUP).expect("SIGHUP");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while reloads() <= before {
            assert!(
                std::time::Instant::now() < deadline,
                "reload {i} not applied"
            );
            std::thread::yield_now();
        }
    }
    let reloaded = footprint(pid);
    let kinds = descriptor_kinds(pid);
    let targets = 60 + 60 + 4 + 2 + 2;
    println!(
        "resources: {wanted} check failures of 5 kinds (refused, timeout, program, mismatch, \
         HTTP 404) on {targets} targets at 1 s, then {} reloads\n\
         resources: | when | descriptors | threads | RSS |\n\
         resources: |---|---:|---:|---:|\n\
         resources: | after 250 failures (baseline) | {} | {} | {} KiB |\n\
         resources: | after {} failures | {} | {} | {} KiB |\n\
         resources: | after {wanted} failures | {} | {} | {} KiB |\n\
         resources: | after {} reloads | {} | {} | {} KiB |",
        reload_count,
        base.0,
        base.1,
        base.2,
        wanted / 2,
        half.0,
        half.1,
        half.2,
        failed.0,
        failed.1,
        failed.2,
        reload_count,
        reloaded.0,
        reloaded.1,
        reloaded.2,
    );
    // Descriptors: the floor (checks in flight come and go) stays within 24 of the baseline's
    // (seen: up to 15); a leak of one per failure or per reload would be hundreds.
    for (when, f) in [("failures", failed), ("reloads", reloaded)] {
        assert!(
            f.0 <= base.0 + 24,
            "descriptors after the {when}: {f:?} vs {base:?}; now {kinds:?}"
        );
        assert!(
            f.1 <= base.1 + 4,
            "threads after the {when}: {f:?} vs {base:?}"
        );
    }
    // Memory: a plateau, the second half of the failures adds less than 4 MiB.
    assert!(
        failed.2 < half.2 + 4096,
        "RSS grew from {} to {} KiB",
        half.2,
        failed.2
    );
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn the_console_shows_the_live_table_and_drives_the_running_director() {
    let lab = NatLab::new(1);
    let file = ConfigFile::new("console", &seed());
    let mut d = director(&lab.routers[0], &file.0, "director", &[]);
    wait_both_up(&mut d);
    d.wait_for("took over 2 addresses");
    let bin = env!("CARGO_BIN_EXE_director");
    let passwd = std::env::temp_dir().join(format!("console-{}.passwd", std::process::id()));
    let mut set = Command::new(bin)
        .args(["console", "passwd", "--passwd-file"])
        .arg(&passwd)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("console passwd");
    set.stdin
        .take()
        .expect("stdin")
        .write_all(b"s3cret\n")
        .expect("the password");
    assert!(set.wait().expect("exits").success());
    assert_eq!(
        std::fs::metadata(&passwd)
            .expect("written")
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let listen = format!("127.0.0.1:{port}");
    let socket = socket_of(&lab.routers[0]);
    let mut console = Command::new(bin);
    console
        .args(["console", "--listen", &listen, "--passwd-file"])
        .arg(&passwd)
        .arg("--config")
        .arg(&file.0)
        .arg("--socket")
        .arg(&socket);
    let mut console = testkit::Logged::spawn(console, "console").expect("the console starts");
    console.wait_for("console: http://");
    let addr: std::net::SocketAddr = listen.parse().expect("address");
    let login = testkit::http::request(addr, "POST", "/login", None, &[("password", "s3cret")]);
    assert_eq!(login.status, 303, "{}", login.body);
    let cookie = login
        .header("set-cookie")
        .split(';')
        .next()
        .expect("a cookie")
        .to_string();
    let page = testkit::http::request(addr, "GET", "/monitor", Some(&cookie), &[]).body;
    for text in [
        "primary, ACTIVE",
        "10.0.0.100:80",
        "10.0.0.200:80",
        "<td>up</td>",
    ] {
        assert!(page.contains(text), "{text} in {page}");
    }
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a CSRF token")
        .to_string();

    // The operator drains a real server from the page: the kernel has it at weight 0.
    let drained = testkit::http::request(
        addr,
        "POST",
        "/monitor/action",
        Some(&cookie),
        &[
            ("csrf", &csrf),
            ("action", "drain"),
            ("virtual", "HTTP"),
            ("server", "10.0.0.100"),
        ],
    );
    assert!(drained.body.contains("class=\"ok\""), "{}", drained.body);
    assert_eq!(weight(&lab, 0, "10.0.0.100"), Some(0));

    // An edit applied from the console reaches the kernel through a reload.
    let edited = testkit::http::request(
        addr,
        "POST",
        "/virtual/HTTP",
        Some(&cookie),
        &[("csrf", &csrf), ("scheduler", "rr")],
    );
    assert_eq!(edited.status, 303, "{}", edited.body);
    let applied = testkit::http::request(
        addr,
        "POST",
        "/changes/apply",
        Some(&cookie),
        &[("csrf", &csrf)],
    );
    assert!(
        applied.body.contains("the director reloaded"),
        "{}",
        applied.body
    );
    assert!(
        lab.ipvsadm(0, &["-Ln"]).contains("192.168.1.250:80 rr"),
        "{}",
        lab.ipvsadm(0, &["-Ln"])
    );
    assert!(
        std::fs::read_to_string(&file.0)
            .expect("lvs.cf")
            .contains("scheduler = rr")
    );

    // No director: the page says so.
    let _ = d.signal(libc::SIGTERM);
    let _ = d.child.wait();
    let page = testkit::http::request(addr, "GET", "/monitor/live", Some(&cookie), &[]).body;
    assert!(page.contains("director not running"), "{page}");
    let _ = console.signal(libc::SIGTERM);
    let _ = console.child.wait();
    let _ = std::fs::remove_file(&passwd);
}
