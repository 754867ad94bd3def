//! `director`: a highly available LVS director from an unchanged Piranha `lvs.cf`.
//!
//! ```text
//! director check [FILE]    validate FILE (default /etc/sysconfig/ha/lvs.cf) and print the plan
//! ```
//! Exit status: 0 valid, 1 errors in the file, 2 usage or I/O errors.

use std::{
    net::{Ipv4Addr, SocketAddr, ToSocketAddrs},
    path::PathBuf,
    process::ExitCode,
};

use clap::{Parser, Subcommand};
use director::Plan;

#[derive(Parser)]
#[command(about = "A highly available LVS director from an unchanged Piranha lvs.cf")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate an lvs.cf and print what the director would do with it.
    Check {
        /// The configuration.
        #[arg(default_value = "/etc/sysconfig/ha/lvs.cf")]
        file: PathBuf,
    },
}

fn resolve(name: &str) -> Option<Ipv4Addr> {
    (name, 0).to_socket_addrs().ok()?.find_map(|a| match a {
        SocketAddr::V4(a) => Some(*a.ip()),
        SocketAddr::V6(_) => None,
    })
}

fn check(file: &std::path::Path) -> ExitCode {
    let shown = file.display().to_string();
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("director: cannot read {shown}: {e}");
            return ExitCode::from(2);
        }
    };
    let doc = match lvscf::Document::parse_bytes(&bytes) {
        Ok(doc) => doc,
        Err(e) => {
            for d in &e.diagnostics {
                eprintln!("{}", d.clone().with_file(&shown));
            }
            return ExitCode::from(1);
        }
    };
    for d in doc.diagnostics() {
        eprintln!("{}", d.clone().with_file(&shown));
    }
    match Plan::build(doc.config(), &resolve) {
        Ok(plan) => {
            print!("{plan}");
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in errors {
                eprintln!("{shown}: error: {e}");
            }
            ExitCode::from(1)
        }
    }
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Check { file } => check(&file),
    }
}
