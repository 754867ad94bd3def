//! The `node` example refuses bad usage and bad configuration before it binds anything: exit 1
//! and a message that names the problem. Host test, no privileges needed.

use std::process::Command;

fn node(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(testkit::example("lvs-heartbeat", "node"))
        .args(args)
        .output()
        .expect("node runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const BASE: [(&str, &str); 4] = [
    ("--local", "192.0.2.1"),
    ("--peer", "192.0.2.2"),
    ("--keepalive", "100ms"),
    ("--deadtime", "300ms"),
];

/// The base arguments, with `flags` replacing or adding flag/value pairs.
fn with(flags: &[&str]) -> Vec<String> {
    let mut pairs: Vec<(String, String)> = BASE
        .iter()
        .map(|(f, v)| (f.to_string(), v.to_string()))
        .collect();
    for fv in flags.chunks(2) {
        let (f, v) = (
            fv[0].to_string(),
            fv.get(1).copied().unwrap_or("").to_string(),
        );
        match pairs.iter_mut().find(|(g, _)| *g == f) {
            Some(p) => p.1 = v,
            None => pairs.push((f, v)),
        }
    }
    pairs.into_iter().flat_map(|(f, v)| [f, v]).collect()
}

#[test]
fn bad_usage_and_bad_configuration_exit_1_with_the_reason() {
    let dir = std::env::temp_dir();
    let short = dir.join(format!("node-usage-short-key-{}", std::process::id()));
    std::fs::write(&short, b"0123456789abcde").expect("key file"); // 15 bytes
    std::fs::set_permissions(&short, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("the owner's alone");
    let open = dir.join(format!("node-usage-open-key-{}", std::process::id()));
    std::fs::write(&open, b"0123456789abcdef0123").expect("key file");
    std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .expect("readable by all");
    let open = open.to_str().expect("path").to_owned();
    let short = short.to_str().expect("path").to_owned();
    let missing = dir
        .join("node-usage-no-such-key")
        .to_str()
        .expect("path")
        .to_owned();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![], "--mode"),
        (with(&["--mode", "sideways"]), "sideways"),
        (with(&["--mode", "auth"]), "--key-file"),
        (
            with(&["--mode", "auth", "--key-file", &short]),
            "the key has 15 bytes: at least 16",
        ),
        (
            with(&["--mode", "auth", "--key-file", &missing]),
            "cannot read the key file",
        ),
        (
            with(&["--mode", "auth", "--key-file", &open]),
            "has mode 0644: the authenticated heartbeat's key must be its owner's alone (chmod 600)",
        ),
        (
            with(&["--mode", "piranha", "--key-file", &short]),
            "--key-file is for --mode auth",
        ),
        (
            with(&["--mode", "piranha", "--keepalive", "300ms"]),
            "deadtime 300ms must be greater than keepalive 300ms",
        ),
        (
            with(&["--mode", "piranha", "--deadtime", "300"]),
            "bad duration \"300\"",
        ),
        (
            with(&["--mode", "piranha", "--keepalive", "0ms"]),
            "too short",
        ),
        (
            with(&["--mode", "piranha", "--local", "not-an-address"]),
            "bad address",
        ),
        (
            with(&["--mode", "piranha", "--private-local", "10.0.0.1"]),
            "--private-peer",
        ),
    ];
    for (args, says) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stderr) = node(&args);
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains(says),
            "{args:?}: expected {says:?} in {stderr}"
        );
    }
    let _ = std::fs::remove_file(&short);
    let _ = std::fs::remove_file(&open);
}

#[test]
fn help_exits_0() {
    let (code, _) = node(&["--help"]);
    assert_eq!(code, Some(0));
}
