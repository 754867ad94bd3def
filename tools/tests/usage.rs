//! Every tool answers `--version` and `--help`, and prints its man page and completions for
//! packages (`--generate`).

use std::process::Command;

const TOOLS: [(&str, &str); 4] = [
    ("ipvsctl", env!("CARGO_BIN_EXE_ipvsctl")),
    ("lvscf", env!("CARGO_BIN_EXE_lvscf")),
    ("send_arp", env!("CARGO_BIN_EXE_send_arp")),
    ("lvs-probe", env!("CARGO_BIN_EXE_lvs-probe")),
];

fn run(exe: &str, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(exe).args(args).output().expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn version_help_man_pages_and_completions() {
    for (name, exe) in TOOLS {
        let (code, out) = run(exe, &["--version"]);
        assert_eq!(code, Some(0), "{name}");
        assert_eq!(out, format!("{name} {}\n", env!("CARGO_PKG_VERSION")));
        let (code, out) = run(exe, &["--help"]);
        assert_eq!(code, Some(0), "{name}");
        assert!(out.contains("Usage:"), "{name}: {out}");
        let (code, man) = run(exe, &["--generate", "man"]);
        assert_eq!(code, Some(0), "{name}");
        assert!(man.starts_with(".ie \\n(.g .ds Aq \\(aq"), "{name}: {man}");
        assert!(man.contains(&format!(".TH {name}")), "{name}");
        for shell in ["bash", "zsh", "fish"] {
            let (code, script) = run(exe, &["--generate", shell]);
            assert_eq!(code, Some(0), "{name} {shell}");
            assert!(script.contains(name), "{name} {shell}: {script}");
        }
        let (code, _) = run(exe, &["--generate", "powershell"]);
        assert_eq!(code, Some(2), "{name}");
    }
}
