//! `director`: a highly available LVS director from an unchanged Piranha `lvs.cf`.
//!
//! ```text
//! director run [--config FILE] [--keep-table]    run (FILE default /etc/sysconfig/ha/lvs.cf)
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
    /// Run the director.
    Run {
        /// The configuration.
        #[arg(long, default_value = "/etc/sysconfig/ha/lvs.cf")]
        config: PathBuf,
        /// Keep the IPVS services on exit (a restart adopts them).
        #[arg(long)]
        keep_table: bool,
    },
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

/// Reads and plans `file`, printing diagnostics; `Err` is the exit code.
fn load(file: &std::path::Path) -> Result<Plan, ExitCode> {
    let shown = file.display().to_string();
    let bytes = std::fs::read(file).map_err(|e| {
        eprintln!("director: cannot read {shown}: {e}");
        ExitCode::from(2)
    })?;
    let doc = lvscf::Document::parse_bytes(&bytes).map_err(|e| {
        for d in &e.diagnostics {
            eprintln!("{}", d.clone().with_file(&shown));
        }
        ExitCode::from(1)
    })?;
    for d in doc.diagnostics() {
        eprintln!("{}", d.clone().with_file(&shown));
    }
    Plan::build(doc.config(), &resolve).map_err(|errors| {
        for e in errors {
            eprintln!("{shown}: error: {e}");
        }
        ExitCode::from(1)
    })
}

fn run(config: &std::path::Path, keep_table: bool) -> ExitCode {
    let plan = match load(config) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("director: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let options = director::RunOptions {
        keep_table_on_exit: keep_table,
    };
    let result = runtime.block_on(async {
        let shutdown = async {
            use tokio::signal::unix::{SignalKind, signal};
            match (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                _ => std::future::pending().await,
            }
        };
        director::run(plan, options, shutdown).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("director: {e}");
            ExitCode::from(1)
        }
    }
}

fn check(file: &std::path::Path) -> ExitCode {
    match load(file) {
        Ok(plan) => {
            print!("{plan}");
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Check { file } => check(&file),
        Command::Run { config, keep_table } => run(&config, keep_table),
    }
}
