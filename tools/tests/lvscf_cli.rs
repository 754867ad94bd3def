//! The `lvscf` example program, run as a user would.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lvscf() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lvscf"))
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../lvscf/tests/fixtures")
        .join(name)
}

fn run(args: &[&str]) -> Output {
    lvscf().args(args).output().expect("runs")
}

fn tmp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lvscf-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

#[test]
fn roundtrip_prints_the_exact_bytes() {
    let f = fixture("public/ssocopsacc__piranha__sample.cf.cf");
    let out = run(&["roundtrip", f.to_str().expect("utf-8 path")]);
    assert!(out.status.success());
    assert_eq!(out.stdout, std::fs::read(&f).expect("read"));
}

#[test]
fn check_reports_file_line_column_and_exit_status() {
    let ok = fixture("seed/01-nat-single-router.cf");
    let out = run(&["check", ok.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8(out.stderr).expect("utf-8");
    assert!(
        stderr.lines().all(|l| l.contains(": warning[W002]: ")),
        "{stderr}"
    );

    let bad = tmp_file(
        "bad.cf",
        "keepalive = 6\nvirtual web {\n     scheduler = WLC\n}\n",
    );
    let warn = fixture("seed/02-nat-with-backup-as-published.cf");
    let out = run(&[
        "check",
        bad.to_str().expect("path"),
        warn.to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).expect("utf-8");
    assert!(
        stderr.contains(&format!(
            "{}:3:18: error[E009]: invalid `scheduler` `WLC`",
            bad.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{}:1:1: warning[W003]", bad.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains(": warning[W006]: `primary` and `backup` are the same address"),
        "{stderr}"
    );
}

#[test]
fn json_prints_the_model() {
    let f = fixture("seed/03-dr-primary.cf");
    let out = run(&["json", f.to_str().expect("path")]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["globals"]["network"], "direct");
    let model: lvscf::Config = serde_json::from_slice(&out.stdout).expect("model");
    assert_eq!(model.virtual_servers[0].servers.len(), 2);
}

#[test]
fn fmt_prints_the_canonical_layout() {
    let f = tmp_file("fmt.cf", "virtual  web   {\r\n\tport = http # web\r\n}");
    let out = run(&["fmt", f.to_str().expect("path")]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).expect("utf-8"),
        "virtual web {\n     # web\n     port = http\n}\n"
    );
}

#[test]
fn errors_and_usage() {
    let bad = tmp_file("bad2.cf", "virtual web {\n");
    for cmd in ["roundtrip", "json", "fmt"] {
        let out = run(&[cmd, bad.to_str().expect("path")]);
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        assert!(out.stdout.is_empty());
        assert!(String::from_utf8_lossy(&out.stderr).contains(":1:1: error[E004]"));
    }
    assert_eq!(run(&[]).status.code(), Some(2));
    assert_eq!(run(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(run(&["check"]).status.code(), Some(2));
    assert_eq!(run(&["json", "a", "b"]).status.code(), Some(2));
    let missing = run(&["check", "/nonexistent/lvs.cf"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read /nonexistent/lvs.cf"));
}

#[test]
fn check_prints_at_most_fifty_diagnostics_and_counts_the_rest() {
    let f = tmp_file("nested.cf", &"virtual A {\n".repeat(5000));
    let out = run(&["check", f.to_str().expect("path")]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 51, "{stderr}");
    assert_eq!(lines[50], "… and 9949 more");
}
