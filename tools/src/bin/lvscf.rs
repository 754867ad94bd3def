//! `lvscf`: check, round-trip, convert and re-lay out Piranha `lvs.cf` files.
//!
//! ```text
//! lvscf check FILE...   diagnostics on stderr; exit 1 on any error
//! lvscf roundtrip FILE  the re-serialized bytes on stdout
//! lvscf json FILE       the typed model as JSON on stdout
//! lvscf fmt FILE        the canonical layout on stdout
//! ```
//!
//! Exit status: 0 success, 1 a file has errors, 2 usage or I/O error.

use std::io::Write;
use std::process::ExitCode;

use lvscf::{Diagnostic, Document, ParseError};

const USAGE: &str = "usage: lvscf check FILE...\n       lvscf roundtrip FILE\n       lvscf json FILE\n       lvscf fmt FILE";

/// The usage as clap describes it, for `--help`, `--version` and the man page.
fn command() -> clap::Command {
    use clap::{Arg, Command};
    let file = || Arg::new("FILE").required(true);
    Command::new("lvscf")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Check, round-trip, convert and re-lay out Piranha lvs.cf files")
        .after_help("Exit status: 0 success, 1 a file has errors, 2 usage or I/O error.")
        .subcommand(
            Command::new("check")
                .about("Diagnostics on stderr (at most 50 per file); exit 1 on any error")
                .arg(file().num_args(1..)),
        )
        .subcommand(
            Command::new("roundtrip")
                .about("The re-serialized bytes on stdout")
                .arg(file()),
        )
        .subcommand(
            Command::new("json")
                .about("The typed model as JSON on stdout")
                .arg(file()),
        )
        .subcommand(
            Command::new("fmt")
                .about("The canonical layout on stdout")
                .arg(file()),
        )
}

fn main() -> ExitCode {
    if let Some(code) = lvs_tools::answer_common(command()) {
        return code;
    }
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
