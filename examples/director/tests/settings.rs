//! The settings overlay (`director.toml`) with `director check`: what it changes in the plan,
//! and its errors with their line and column in the overlay.

use std::process::Command;

const SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../lvscf/tests/fixtures/seed/01-nat-single-router.cf"
);

/// A temporary file, removed on drop.
struct Temp(std::path::PathBuf);

impl Temp {
    fn new(name: &str, contents: &[u8]) -> Temp {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("director-{}-{n}-{name}", std::process::id()));
        std::fs::write(&path, contents).expect("write");
        Temp(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("UTF-8")
    }

    fn chmod(&self, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `director check SEED --settings OVERLAY`: exit code, stdout, stderr (the overlay's path
/// replaced by `OVERLAY`).
fn check(overlay: &str) -> (Option<i32>, String, String) {
    let key = Temp::new("hb.key", b"0123456789abcdef0123456789abcdef");
    key.chmod(0o600);
    let file = Temp::new(
        "overlay.toml",
        overlay.replace("KEY", key.path()).as_bytes(),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_director"))
        .args(["check", SEED, "--settings", file.path()])
        .output()
        .expect("the director runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).replace(file.path(), "OVERLAY"),
    )
}

#[test]
fn the_overlay_changes_what_lvs_cf_cannot_say() {
    let (code, out, err) = check(
        r#"
[heartbeat]
mode = "authenticated"
key_file = "KEY"
priority = 150
failback = true
preempt_delay = "2s"
keepalive = "200ms"
deadtime = "1s"

[director]
drain_timeout = "1m"
table = "when-active"
metrics = "127.0.0.1:9135"

[hooks]
role = "/usr/local/bin/notify role"
timeout = "5s"

[virtual.HTTP]
forwarding = "direct"
rise = 2
fall = 3
http = { path = "/health", status = "200", expect = "OK" }

ipv6 = "fd00:1::250/64 eth0:1"

[virtual.HTTP.server."10.0.0.100"]
ipv6 = "fd00:10::100"

[ipv6]
nat_router = "fd00:10::254/64 eth1"

[[track.gateway]]
address = "192.168.1.1"
"#,
    );
    assert_eq!(code, Some(0), "{err}");
    for line in [
        "heartbeat: authenticated (HMAC-SHA256), priority 150, failback after 2s, UDP port 539, keepalive 200ms, deadtime 1s",
        "director: drain timeout 60s, table only while active, metrics on http://127.0.0.1:9135/metrics, unfit at failing weight 1 of gateway 192.168.1.1 (weight 1), role hook `/usr/local/bin/notify role`, hooks killed after 5s",
        "-> 10.0.0.100:80 Route weight 1  (server localhost.localdomain; http GET /health status 200 expect \"OK\" every 6s, reentry 15s, rise 2, fall 3)",
        "  fd00:1::250/64 dev eth0  (virtual HTTP (IPv6))",
        "  fd00:10::254/64 dev eth1  (nat_router (IPv6))",
        "  TCP [fd00:1::250]:80 wlc  (virtual HTTP)\n    -> [fd00:10::100]:80 Route weight 1",
    ] {
        assert!(out.contains(line), "no {line:?} in\n{out}");
    }
    assert!(
        !out.contains("0123456789abcdef"),
        "the key is never printed"
    );
    // Without the overlay: Piranha's.
    let out = Command::new(env!("CARGO_BIN_EXE_director"))
        .args(["check", SEED])
        .output()
        .expect("runs");
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.contains("heartbeat: Piranha-compatible, UDP port 539, keepalive 6s, deadtime 18s")
    );
    assert!(out.contains("-> 10.0.0.100:80 Masq weight 1"), "{out}");
}

#[test]
fn overlay_errors_name_their_line_and_column() {
    for (overlay, want) in [
        (
            "[heartbeat]\nmode = \"authenticated\"\n",
            "OVERLAY:2:8: error: the authenticated heartbeat needs `key_file`",
        ),
        (
            "[heartbeat]\nmode = \"authenticated\"\nkey_file = \"/nonexistent/key\"\n",
            "OVERLAY:3:12: error: ",
        ),
        (
            "[heartbeat]\nkeepalive = \"2s\"\ndeadtime = \"1s\"\n",
            "OVERLAY:3:12: error: the heartbeat cannot run",
        ),
        (
            "[virtual.WEB]\nrise = 2\n",
            "OVERLAY:1:10: error: lvs.cf has no virtual server `WEB`",
        ),
        (
            "[virtual.HTTP]\nfall = 0\n",
            "OVERLAY:2:8: error: fall must be at least 1",
        ),
        (
            "[virtual.HTTP.server.\"10.9.9.9\"]\n",
            "OVERLAY:1:22: error: virtual HTTP has no real server named or addressed `10.9.9.9`",
        ),
        (
            "[virtual.HTTP]\nhttp = { status = \"2xx\" }\n",
            "OVERLAY:2:8: error: http: status \"2xx\"",
        ),
        (
            "[virtual.HTTP]\nhttp = { insecure = true }\n",
            "OVERLAY:2:8: error: http: insecure, sni and ca_file go with https = true",
        ),
        (
            "[hooks]\nrole = \"/bin/notify 'unclosed\"\n",
            "OVERLAY:2:8: error: hooks.role: cannot split",
        ),
        (
            "[hooks]\ntimeout = \"0s\"\n",
            "OVERLAY:2:11: error: hooks.timeout must be longer than 0s",
        ),
        (
            "[director]\ntable = \"sometimes\"\n",
            "OVERLAY:2:9: error: unknown variant `sometimes`",
        ),
        (
            "[director]\nmetric = 1\n",
            "OVERLAY:2:1: error: unknown field `metric`",
        ),
    ] {
        let (code, out, err) = check(overlay);
        assert_eq!(code, Some(1), "{overlay:?}: {err}");
        assert!(out.is_empty(), "{overlay:?}: {out}");
        assert!(err.contains(want), "{overlay:?}: no {want:?} in\n{err}");
    }
}

#[test]
fn a_key_file_its_group_or_others_may_read_is_refused() {
    let key = Temp::new("open.key", b"0123456789abcdef0123456789abcdef");
    for mode in [0o644, 0o640, 0o604] {
        key.chmod(mode);
        let overlay = Temp::new(
            "overlay.toml",
            format!(
                "[heartbeat]\nmode = \"authenticated\"\nkey_file = \"{}\"\n",
                key.path()
            )
            .as_bytes(),
        );
        let out = Command::new(env!("CARGO_BIN_EXE_director"))
            .args(["check", SEED, "--settings", overlay.path()])
            .output()
            .expect("the director runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!(
                "the key file {} has mode {mode:04o}: the authenticated heartbeat's key must be \
                 its owner's alone (chmod 600)",
                key.path()
            )),
            "{err}"
        );
    }
}
