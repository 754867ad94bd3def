//! `director check`: the plan printed, errors and warnings with their place, exit codes.

use std::process::Command;

const SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../lvscf/tests/fixtures/seed/"
);

fn director(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_director"))
        .args(args)
        .output()
        .expect("the director runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_prints_the_plan_and_exits_by_validity() {
    let seed2 = format!("{SEED}02-nat-with-backup-as-published.cf");
    let (code, out, err) = director(&["check", &seed2]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("TCP 192.168.1.250:80 wlc"), "{out}");
    assert!(out.contains("-> 10.0.0.100:80 Masq weight 1"), "{out}");
    assert!(
        out.contains("10.0.0.254/16 dev eth1 label eth1:1  (nat_router)"),
        "{out}"
    );
    // The operator mistake of the published backup file is a warning with its place.
    assert!(
        err.contains("02-nat-with-backup-as-published.cf:6:1: warning[W006]"),
        "{err}"
    );

    let dir = std::env::temp_dir().join(format!("director-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.cf");
    std::fs::write(&bad, "virtual WEB {\n active = yes\n").unwrap();
    let (code, out, err) = director(&["check", bad.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(out.is_empty());
    assert!(err.contains("bad.cf:2:"), "{err}");
    let zero = dir.join("zero.cf");
    std::fs::write(
        &zero,
        "virtual WEB {\n active = 1\n address = 10.0.0.1 eth0\n timeout = 0\n}\n",
    )
    .unwrap();
    let (code, _, err) = director(&["check", zero.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(err.contains("zero.cf:4:12: error[E021]"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();

    let (code, _, err) = director(&["check", "/nonexistent/lvs.cf"]);
    assert_eq!(code, Some(2), "{err}");
    let (code, _, _) = director(&["frobnicate"]);
    assert_eq!(code, Some(2));
}

/// Runs `director check` on `text`; exit code and stderr.
fn check_text(name: &str, text: &str) -> (Option<i32>, String) {
    let file = std::env::temp_dir().join(format!("director-{name}-{}.cf", std::process::id()));
    std::fs::write(&file, text).expect("write the file");
    let shown = file.to_str().expect("a UTF-8 path");
    let (code, _, err) = director(&["check", shown]);
    std::fs::remove_file(&file).expect("remove the file");
    (code, err.replace(shown, "FILE"))
}

#[test]
fn plan_errors_name_their_line_and_column() {
    let (code, err) = check_text(
        "errors",
        "backup = 10.0.0.2\nkeepalive = 5\ndeadtime = 5\nvirtual A {\n     active = 1\n     address = 10.0.0.1 eth0\n     use_regex = 1\n     expect = \"(\"\n     server a {\n         address = nosuch.invalid\n         active = 1\n     }\n}\nvirtual B {\n     active = 1\n     address = 10.0.0.1 eth0:1\n     persistent = 10\n     pmask = 255.0.255.0\n}\nvirtual C {\n     active = 1\n     address = 10.0.0.1 eth0:2\n}\nvirtual D {\n     active = 1\n     address = 10.0.0.1 eth0:3\n}\n",
    );
    assert_eq!(code, Some(1), "{err}");
    for line in [
        "FILE: error: primary: not set",
        "FILE:3:12: error: deadtime: the heartbeat cannot run",
        "FILE:8:15: error: virtual A: expect: not a regular expression (use_regex = 1): unclosed group\n",
        "FILE:18:14: error: virtual B: pmask: 255.0.255.0 is not a contiguous netmask",
        "FILE:24:9: error: virtual D: the same IPVS service (TCP 10.0.0.1:80) as virtual C",
        "FILE:3:1: warning[W003]",
    ] {
        assert!(err.contains(line), "no {line:?} in:\n{err}");
    }
    // The regex error stops virtual A's plan before its servers: no name lookup for them.
    assert!(!err.contains("nosuch.invalid"), "{err}");
}

#[test]
fn operator_mistakes_are_lvscf_warnings_with_their_place_and_code() {
    let (code, err) = check_text(
        "warnings",
        "primary = 10.0.0.9\nbackup_active = 1\nbackup = 0.0.0.0\nnetwork = nat\nvirtual A {\n     active = 1\n     address = 10.0.0.1 eth0\n     pmask = 255.255.255.0\n     server a {\n         address = 10.0.1.1\n         active = 1\n     }\n     server b {\n         address = 10.0.1.1\n         active = 1\n     }\n}\nvirtual EMPTY {\n     active = 1\n     address = 10.0.0.2 eth0\n}\n",
    );
    assert_eq!(code, Some(0), "{err}");
    for line in [
        "FILE:2:17: warning[W008]: backup_active: a backup is marked active but `backup` names none",
        "FILE:4:11: warning[W009]: network: NAT without a `nat_router`",
        "FILE:8:14: warning[W011]: virtual A: pmask: has no effect without `persistent`",
        "FILE:14:20: warning[W012]: virtual A server b: address: the same address and port as another real server",
        "FILE:18:9: warning[W010]: virtual EMPTY: no active real server and no sorry server",
    ] {
        assert!(err.contains(line), "no {line:?} in:\n{err}");
    }
}

#[test]
fn version_names_the_commit() {
    let (code, out, _) = director(&["--version"]);
    assert_eq!(code, Some(0));
    let commit = env!("DIRECTOR_COMMIT");
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
        "{commit}"
    );
    assert_eq!(
        out,
        format!("director {} (commit {commit})\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn the_commands_find_the_socket_in_the_overlay() {
    let dir = std::env::temp_dir().join(format!("director-talk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let overlay = dir.join("director.toml");
    let socket = dir.join("elsewhere.sock");
    std::fs::write(
        &overlay,
        format!("[director]\nsocket = \"{}\"\n", socket.display()),
    )
    .unwrap();
    let settings = overlay.to_str().unwrap();
    for args in [
        &["status", "--settings", settings][..],
        &["reload", "--settings", settings],
        &["force", "auto", "--settings", settings],
        &["server", "drain", "HTTP", "rs1", "--settings", settings],
    ] {
        let (code, _, err) = director(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(
            err.contains(&format!(
                "cannot reach the director at {}",
                socket.display()
            )),
            "{args:?}: {err}"
        );
    }
    // --socket wins over the overlay.
    let (_, _, err) = director(&[
        "status",
        "--settings",
        settings,
        "--socket",
        "/nonexistent/s",
    ]);
    assert!(err.contains("at /nonexistent/s"), "{err}");
    // A broken overlay is reported with its place.
    std::fs::write(&overlay, "[director]\nsocket = 5\n").unwrap();
    let (code, _, err) = director(&["status", "--settings", settings]);
    assert_eq!(code, Some(2));
    assert!(err.contains("director.toml:2:"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn output_stays_bounded_for_huge_values_and_endless_errors() {
    let dir = std::env::temp_dir().join(format!("director-bounded-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let huge = dir.join("huge.cf");
    std::fs::write(
        &huge,
        format!(
            "primary = 10.0.0.1\nvirtual A {{\n active = 1\n address = {} eth0\n}}\n",
            "y".repeat(10_000_000)
        ),
    )
    .unwrap();
    let (code, _, err) = director(&["check", huge.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(err.len() < 1000, "{} bytes of errors", err.len());
    assert!(err.contains("…` (10000002 characters)"), "{err}");
    let nested = dir.join("nested.cf");
    std::fs::write(&nested, "virtual A {\n".repeat(5000)).unwrap();
    let (code, _, err) = director(&["check", nested.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 51, "{err}");
    assert_eq!(lines[50], "director: … and 9949 more errors and warnings");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn man_page_and_completions_for_the_package() {
    let (code, man, _) = director(&["--generate", "man"]);
    assert_eq!(code, Some(0));
    assert!(man.contains(".TH director"), "{man}");
    for subcommand in ["run", "check", "status", "server", "force", "reload"] {
        assert!(man.contains(subcommand), "{subcommand}");
    }
    let (code, bash, _) = director(&["--generate", "bash"]);
    assert_eq!(code, Some(0));
    assert!(bash.contains("--release-on-exit"), "{bash}");
}

#[test]
fn the_packaged_overlay_example_is_valid_once_uncommented() {
    let example = include_str!("../dist/director.toml.example");
    // Every `# key = value` and `# [section]` line, uncommented (but the key file, which must
    // exist, and the mode that needs it).
    let overlay: String = (example.lines())
        .map(|l| match l.strip_prefix("# ") {
            Some(rest)
                if (rest.starts_with('[') || rest.contains(" = "))
                    && !rest.starts_with("mode")
                    && !rest.starts_with("key_file") =>
            {
                rest.split("  #").next().unwrap_or(rest).to_string()
            }
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(overlay.contains("\n[virtual.HTTP]\nrise = 2"), "{overlay}");
    let file = std::env::temp_dir().join(format!("director-example-{}.toml", std::process::id()));
    std::fs::write(&file, overlay).unwrap();
    let seed = format!("{SEED}01-nat-single-router.cf");
    let (code, out, err) = director(&["check", "--settings", file.to_str().unwrap(), &seed]);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("control group lvsadmin"), "{out}");
}

#[test]
fn failover_services_are_planned_and_what_cannot_run_is_refused_at_its_line() {
    let file = std::env::temp_dir().join(format!("director-fos-{}.cf", std::process::id()));
    let fos = "serial_no = 1\nprimary = 10.0.0.1\nbackup = 10.0.0.2\nbackup_active = 1\nservice = fos\nfailover web {\n active = 1\n address = 10.0.0.50 eth0:1\n port = 80\n timeout = 3\n start_cmd = \"/etc/init.d/httpd start\"\n stop_cmd = \"/etc/init.d/httpd stop\"\n}\n";
    std::fs::write(&file, fos).unwrap();
    let (code, out, err) = director(&["check", file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out,
        "heartbeat: Piranha-compatible (failover services), UDP port 539, keepalive 2s, deadtime 5s\n  \
         primary 10.0.0.1 (private 10.0.0.1), backup 10.0.0.2 (private 10.0.0.2)\n\
         failover services: 1 active\n  \
         failover web: 10.0.0.50:80 (10.0.0.50/32 on eth0)\n    \
         check: tcp send \"GET / HTTP/1.0\\r\\n\\r\\n\" expect \"HTTP\" every 3s; after a failure, standby for 180s\n    \
         start: /etc/init.d/httpd start\n    \
         stop:  /etc/init.d/httpd stop\n"
    );
    // A relative command, and a virtual server next to the failover services.
    let bad = fos.replace("\"/etc/init.d/httpd start\"", "\"httpd start\"")
        + "virtual v {\n active = 1\n address = 10.0.0.60 eth0:2\n}\n";
    std::fs::write(&file, bad).unwrap();
    let (code, out, err) = director(&["check", file.to_str().unwrap()]);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(code, Some(1), "{out}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains(":11:14: error: failover web: start_cmd: `httpd` is not an absolute path"),
        "{err}"
    );
    assert!(
        err.contains(":14:9: error: virtual v: an active virtual server with `service = fos`"),
        "{err}"
    );
}
