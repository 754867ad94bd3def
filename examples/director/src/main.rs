//! `director`: a highly available LVS director from an unchanged Piranha `lvs.cf`.
//!
//! ```text
//! director run [--config FILE] [--keep-table] [--table-when-active] [--drain-timeout DURATION]
//!     run (FILE default /etc/sysconfig/ha/lvs.cf); SIGHUP re-reads FILE, SIGTERM stops
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
        /// Program the IPVS table only while active, as Piranha (default: on both nodes, so
        /// that a takeover only moves addresses).
        #[arg(long)]
        table_when_active: bool,
        /// How long a real server removed by a reload drains (weight 0) before it is deleted
        /// even with active connections, e.g. 30s, 5m.
        #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
        drain_timeout: std::time::Duration,
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

/// `file:line:column` of `place` in `doc` (or just the file, for a place it does not have).
fn position(shown: &str, doc: &lvscf::Document, place: &director::Place) -> String {
    match place.locate(doc) {
        Some(at) => format!("{shown}:{}:{}", at.line, at.column),
        None => shown.to_string(),
    }
}

/// Reads and plans `file`, printing diagnostics and warnings; `Err` is the exit code.
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
    for w in Plan::warnings(doc.config()) {
        eprintln!("{}: warning: {w}", position(&shown, &doc, &w.place));
    }
    Plan::build(doc.config(), &resolve).map_err(|errors| {
        for e in errors {
            eprintln!("{}: error: {e}", position(&shown, &doc, e.place()));
        }
        ExitCode::from(1)
    })
}

fn run(config: &std::path::Path, options: director::RunOptions) -> ExitCode {
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
    let result = runtime.block_on(async {
        let (control, commands) = tokio::sync::mpsc::channel(4);
        let config = config.to_path_buf();
        tokio::spawn(signals(config, control));
        director::run(plan, options, commands).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("director: {e}");
            ExitCode::from(1)
        }
    }
}

/// SIGTERM and SIGINT stop the director; SIGHUP re-reads `config` and, when it is valid, hands
/// the new plan over (an invalid file is reported and changes nothing).
async fn signals(config: PathBuf, control: tokio::sync::mpsc::Sender<director::Control>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        eprintln!("director: cannot handle signals");
        return;
    };
    loop {
        let command = tokio::select! {
            _ = term.recv() => director::Control::Stop,
            _ = int.recv() => director::Control::Stop,
            _ = hup.recv() => {
                let file = config.clone();
                match tokio::task::spawn_blocking(move || load(&file)).await {
                    Ok(Ok(plan)) => director::Control::Reload(Box::new(plan)),
                    _ => {
                        eprintln!(
                            "director: reload: {} is not valid; the running configuration is kept",
                            config.display()
                        );
                        continue;
                    }
                }
            }
        };
        if control.send(command).await.is_err() {
            return;
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
        Command::Run {
            config,
            keep_table,
            table_when_active,
            drain_timeout,
        } => {
            let table = if table_when_active {
                director::TableMode::WhenActive
            } else {
                director::TableMode::Always
            };
            let options = director::RunOptions {
                keep_table_on_exit: keep_table,
                table,
                drain_timeout,
            };
            run(&config, options)
        }
    }
}
