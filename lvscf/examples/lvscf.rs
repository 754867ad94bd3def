//! `lvscf`: check, round-trip, convert and re-lay out Piranha `lvs.cf` files.
//!
//! ```text
//! cargo run -p lvscf --example lvscf -- check FILE...   diagnostics on stderr; exit 1 on any error
//! cargo run -p lvscf --example lvscf -- roundtrip FILE  the re-serialized bytes on stdout
//! cargo run -p lvscf --example lvscf -- json FILE       the typed model as JSON on stdout
//! cargo run -p lvscf --example lvscf -- fmt FILE        the canonical layout on stdout
//! ```
//!
//! Exit status: 0 success, 1 a file has errors, 2 usage or I/O error.

use std::io::Write;
use std::process::ExitCode;

use lvscf::{Diagnostic, Document, ParseError};

const USAGE: &str = "usage: lvscf check FILE...\n       lvscf roundtrip FILE\n       lvscf json FILE\n       lvscf fmt FILE";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(Failure::Usage(msg)) => {
            eprintln!("lvscf: {msg}\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Io(msg)) => {
            eprintln!("lvscf: {msg}");
            ExitCode::from(2)
        }
    }
}

enum Failure {
    Usage(String),
    Io(String),
}

fn run(args: &[String]) -> Result<ExitCode, Failure> {
    let (cmd, files) = args
        .split_first()
        .ok_or_else(|| Failure::Usage("no command given".into()))?;
    match cmd.as_str() {
        "check" => {
            if files.is_empty() {
                return Err(Failure::Usage("check needs at least one FILE".into()));
            }
            let mut failed = false;
            for file in files {
                match load(file)? {
                    Ok(doc) => print_diagnostics(file, doc.diagnostics()),
                    Err(e) => {
                        print_diagnostics(file, &e.diagnostics);
                        failed = true;
                    }
                }
            }
            Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        "roundtrip" | "json" | "fmt" => {
            let [file] = files else {
                return Err(Failure::Usage(format!("{cmd} takes exactly one FILE")));
            };
            let doc = match load(file)? {
                Ok(doc) => doc,
                Err(e) => {
                    print_diagnostics(file, &e.diagnostics);
                    return Ok(ExitCode::FAILURE);
                }
            };
            let out = match cmd.as_str() {
                "roundtrip" => doc.to_string(),
                "fmt" => doc.to_canonical_string(),
                _ => {
                    let mut s = serde_json::to_string_pretty(doc.config())
                        .map_err(|e| Failure::Io(format!("cannot encode JSON: {e}")))?;
                    s.push('\n');
                    s
                }
            };
            std::io::stdout()
                .lock()
                .write_all(out.as_bytes())
                .map_err(|e| Failure::Io(format!("cannot write to stdout: {e}")))?;
            Ok(ExitCode::SUCCESS)
        }
        other => Err(Failure::Usage(format!("unknown command `{other}`"))),
    }
}

/// Reads and parses a file: `Err` for I/O problems, `Ok(Err)` for a file with errors.
fn load(file: &str) -> Result<Result<Document, ParseError>, Failure> {
    let bytes = std::fs::read(file).map_err(|e| Failure::Io(format!("cannot read {file}: {e}")))?;
    Ok(Document::parse_bytes(&bytes))
}

/// At most [`lvscf::MAX_SHOWN`] diagnostics, then how many more there are.
fn print_diagnostics(file: &str, diagnostics: &[Diagnostic]) {
    let mut err = std::io::stderr().lock();
    let lines = (diagnostics.iter())
        .map(|d| d.clone().with_file(file).to_string())
        .collect();
    for line in lvscf::limited(lines) {
        let _ = writeln!(err, "{line}");
    }
}
