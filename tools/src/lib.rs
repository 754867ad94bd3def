//! The toolkit's command-line tools, as real binaries: `ipvsctl` (IPVS through the `ipvs`
//! crate), `lvscf` (check, round-trip, convert and re-lay out Piranha's `lvs.cf`), `send_arp`
//! (Piranha's drop-in, and a modern form) and `lvs-probe` (one health probe, once).
//!
//! This library holds what they share with the `director`: each answers `--version` and
//! `--help`, and `--generate man|bash|zsh|fish` prints its man page or a shell completion,
//! from its clap definition, for packages (`cargo xtask dist`).

use std::io::Write;
use std::process::ExitCode;

use clap_complete::Shell;

/// What `--generate` can print (`man` in section 1, `man:8` in section 8).
pub const GENERATED: [&str; 5] = ["man", "man:8", "bash", "zsh", "fish"];

/// `Some(WHAT)` when the program was run as `PROGRAM --generate WHAT`.
pub fn generate_requested() -> Option<String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match &args[..] {
        [flag, what] if flag == "--generate" => Some(what.clone()),
        _ => None,
    }
}

/// Prints the man page (roff) or a completion script of `command` on stdout.
///
/// ```
/// let cmd = clap::Command::new("ipvsctl").about("Program Linux IPVS");
/// let mut out = Vec::new();
/// lvs_tools::render(cmd, "man", &mut out)?;
/// assert!(String::from_utf8_lossy(&out).contains(".TH ipvsctl"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn render(mut command: clap::Command, what: &str, out: &mut dyn Write) -> std::io::Result<()> {
    let shell = match what {
        "man" => return clap_mangen::Man::new(command).render(out),
        "man:8" => return clap_mangen::Man::new(command).section("8").render(out),
        "bash" => Shell::Bash,
        "zsh" => Shell::Zsh,
        "fish" => Shell::Fish,
        other => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("cannot generate {other:?}: one of {}", GENERATED.join(", ")),
            ));
        }
    };
    let name = command.get_name().to_string();
    clap_complete::generate(shell, &mut command, name, out);
    Ok(())
}

/// [`render`] on stdout, as an exit code.
pub fn generate(command: clap::Command, what: &str) -> ExitCode {
    match render(command, what, &mut std::io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{e}");
            ExitCode::from(2)
        }
    }
}

/// For a tool that parses its own arguments (Piranha's forms): `--help`/`-h` prints `command`'s
/// help, `--version`/`-V` its version, `--generate WHAT` [`generate`]; `None` for anything else.
pub fn answer_common(mut command: clap::Command) -> Option<ExitCode> {
    if let Some(what) = generate_requested() {
        return Some(generate(command, &what));
    }
    let first = std::env::args().nth(1)?;
    match first.as_str() {
        "--help" | "-h" => {
            let _ = writeln!(std::io::stdout().lock(), "{}", command.render_long_help());
            Some(ExitCode::SUCCESS)
        }
        "--version" | "-V" => {
            let _ = write!(std::io::stdout().lock(), "{}", command.render_version());
            Some(ExitCode::SUCCESS)
        }
        _ => None,
    }
}

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
