//! `director`: a highly available LVS director from an unchanged Piranha `lvs.cf`.
//!
//! ```text
//! director run [--config FILE] [--settings TOML] [--keep-table] [--table-when-active]
//!              [--drain-timeout DURATION]
//!     run (FILE default /etc/sysconfig/ha/lvs.cf; TOML, the settings overlay, none by
//!     default); SIGHUP re-reads both, SIGTERM stops
//! director check [FILE] [--settings TOML]    validate and print the plan
//! ```
//! Exit status: 0 valid, 1 errors in the files, 2 usage or I/O errors.

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
        /// The settings overlay (director.toml): what lvs.cf cannot say.
        #[arg(long)]
        settings: Option<PathBuf>,
        /// Keep the IPVS services on exit (a restart adopts them).
        #[arg(long)]
        keep_table: bool,
        /// Program the IPVS table only while active, as Piranha (default: on both nodes, so
        /// that a takeover only moves addresses).
        #[arg(long)]
        table_when_active: bool,
        /// How long a real server removed by a reload drains (weight 0) before it is deleted
        /// even with active connections, e.g. 30s, 5m (default: the overlay's, or 5m).
        #[arg(long, value_parser = humantime::parse_duration)]
        drain_timeout: Option<std::time::Duration>,
    },
    /// Validate an lvs.cf (and its settings overlay) and print what the director would do.
    Check {
        /// The configuration.
        #[arg(default_value = "/etc/sysconfig/ha/lvs.cf")]
        file: PathBuf,
        /// The settings overlay.
        #[arg(long)]
        settings: Option<PathBuf>,
    },
}

/// The files the director reads: lvs.cf and, optionally, the settings overlay.
#[derive(Clone)]
struct Files {
    config: PathBuf,
    settings: Option<PathBuf>,
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

/// Reads and plans the files, printing diagnostics, errors and warnings; `Err` is the exit
/// code.
fn load(files: &Files) -> Result<Plan, ExitCode> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| {
            eprintln!("director: cannot read {}: {e}", path.display());
            ExitCode::from(2)
        })
    };
    let shown = files.config.display().to_string();
    let bytes = read(&files.config)?;
    let settings_shown = files
        .settings
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let settings = match &files.settings {
        None => director::Settings::default(),
        Some(path) => {
            let text = String::from_utf8(read(path)?).map_err(|_| {
                eprintln!("{settings_shown}: error: not UTF-8");
                ExitCode::from(1)
            })?;
            director::Settings::parse(&text).map_err(|e| {
                eprintln!(
                    "{settings_shown}:{}:{}: error: {}",
                    e.line, e.column, e.message
                );
                ExitCode::from(1)
            })?
        }
    };
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
    Plan::build_with(doc.config(), &settings, &resolve).map_err(|errors| {
        for e in errors {
            match (&e, e.place()) {
                (director::PlanError::Settings(s), _) => eprintln!(
                    "{settings_shown}:{}:{}: error: {}",
                    s.line, s.column, s.message
                ),
                (_, Some(place)) => {
                    eprintln!("{}: error: {e}", position(&shown, &doc, place))
                }
                (_, None) => eprintln!("{shown}: error: {e}"),
            }
        }
        ExitCode::from(1)
    })
}

fn run(files: Files, options: director::RunOptions) -> ExitCode {
    let plan = match load(&files) {
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
        tokio::spawn(signals(files, control));
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
async fn signals(files: Files, control: tokio::sync::mpsc::Sender<director::Control>) {
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
                let read = files.clone();
                match tokio::task::spawn_blocking(move || load(&read)).await {
                    Ok(Ok(plan)) => director::Control::Reload(Box::new(plan)),
                    _ => {
                        eprintln!(
                            "director: reload: {} is not valid; the running configuration is kept",
                            files.config.display()
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

fn check(files: &Files) -> ExitCode {
    match load(files) {
        Ok(plan) => {
            print!("{plan}");
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Check { file, settings } => check(&Files {
            config: file,
            settings,
        }),
        Command::Run {
            config,
            settings,
            keep_table,
            table_when_active,
            drain_timeout,
        } => {
            let options = director::RunOptions {
                keep_table_on_exit: keep_table,
                table: table_when_active.then_some(director::TableMode::WhenActive),
                drain_timeout,
            };
            run(Files { config, settings }, options)
        }
    }
}
