//! `director`: a highly available LVS director from an unchanged Piranha `lvs.cf`.
//!
//! ```text
//! director run [--config FILE] [--settings TOML] [--socket PATH] [--keep-table]
//!              [--table-when-active] [--drain-timeout DURATION]
//!     run (FILE default /etc/sysconfig/ha/lvs.cf; TOML, the settings overlay, none by
//!     default); SIGHUP re-reads both, SIGTERM stops
//! director check [FILE] [--settings TOML]    validate and print the plan
//! director status [--json]                   the live table with health and heartbeat state
//! director server drain|disable|enable VIRTUAL SERVER
//! director force active|standby|auto
//! director reload
//! director console [--config FILE] [--listen ADDR:PORT]   the web console; `console passwd`
//! ```
//! Exit status: 0 done (or valid), 1 refused (or errors in the files), 2 usage errors or no
//! director to talk to.

use std::{path::PathBuf, process::ExitCode, sync::Arc, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};
use director::{
    Plan,
    control::{self, Admin, Force, Request},
};
use tracing::Level;

/// `director --version`: the package's version and the commit it was built from.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("DIRECTOR_COMMIT"),
    ")"
);

#[derive(Parser)]
#[command(
    name = "director",
    version = VERSION,
    about = "A highly available LVS director from an unchanged Piranha lvs.cf"
)]
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
        /// The settings overlay (director.toml): what lvs.cf cannot say (default:
        /// /etc/director/director.toml when present).
        #[arg(long)]
        settings: Option<PathBuf>,
        /// The control socket (default: the overlay's, or /run/director.sock).
        #[arg(long)]
        socket: Option<PathBuf>,
        /// Keep the IPVS services on exit (a restart adopts them); a router alone keeps them
        /// and its addresses anyway.
        #[arg(long)]
        keep_table: bool,
        /// Remove the addresses and the IPVS services on exit even on a router alone (by
        /// default it keeps them, so that a restart drops no connection).
        #[arg(long, conflicts_with = "keep_table")]
        release_on_exit: bool,
        /// Program the IPVS table only while active, as Piranha (default: on both nodes, so
        /// that a takeover only moves addresses).
        #[arg(long)]
        table_when_active: bool,
        /// How long a real server removed by a reload drains (weight 0) before it is deleted
        /// even with active connections, e.g. 30s, 5m (default: the overlay's, or 5m).
        #[arg(long, value_parser = humantime::parse_duration)]
        drain_timeout: Option<Duration>,
        #[command(flatten)]
        log: LogChoice,
    },
    /// Validate an lvs.cf (and its settings overlay) and print what the director would do.
    Check {
        /// The configuration.
        #[arg(default_value = "/etc/sysconfig/ha/lvs.cf")]
        file: PathBuf,
        /// The settings overlay (default: /etc/director/director.toml when present).
        #[arg(long)]
        settings: Option<PathBuf>,
    },
    /// The running director's table (in ipvsadm -Ln's layout) with health and heartbeat state.
    Status {
        /// JSON instead.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        to: Talk,
    },
    /// Drain (weight 0), disable (out of the table) or enable a real server, whatever its
    /// checks say.
    Server {
        /// drain, disable or enable.
        action: AdminArg,
        /// The virtual server's name in lvs.cf.
        virtual_server: String,
        /// The real server's name in lvs.cf, its address, or address:port.
        server: String,
        #[command(flatten)]
        to: Talk,
    },
    /// Force the role (Piranha's --forceactive), or give it back to the heartbeat (auto).
    Force {
        /// active, standby or auto.
        role: ForceArg,
        #[command(flatten)]
        to: Talk,
    },
    /// Re-read lvs.cf and the overlay and apply them (as SIGHUP); prints what is wrong with
    /// them, if anything.
    Reload {
        #[command(flatten)]
        to: Talk,
    },
    /// The web console (piranha-gui's pages): edit lvs.cf, watch and drive the director.
    Console(console::cli::Args),
}

/// How `run` logs.
#[derive(Args)]
struct LogChoice {
    /// Log everything from this level (default: the director from info, the crates from
    /// warn; RUST_LOG chooses per target and wins).
    #[arg(long, value_enum)]
    log_level: Option<LevelArg>,
    /// journald under systemd, full (time and level) on a terminal, plain otherwise.
    #[arg(long, value_enum, default_value = "auto")]
    log_format: director::log::Format,
}

#[derive(Clone, Copy, ValueEnum)]
enum LevelArg {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl From<LevelArg> for Level {
    fn from(l: LevelArg) -> Level {
        match l {
            LevelArg::Error => Level::ERROR,
            LevelArg::Warn => Level::WARN,
            LevelArg::Info => Level::INFO,
            LevelArg::Debug => Level::DEBUG,
            LevelArg::Trace => Level::TRACE,
        }
    }
}

/// Where the running director listens.
#[derive(Args)]
struct Talk {
    /// The control socket (default: the settings overlay's, or /run/director.sock).
    #[arg(long)]
    socket: Option<PathBuf>,
    /// The settings overlay that names the socket (default: /etc/director/director.toml when
    /// present).
    #[arg(long)]
    settings: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum AdminArg {
    Drain,
    Disable,
    Enable,
}

#[derive(Clone, Copy, ValueEnum)]
enum ForceArg {
    Active,
    Standby,
    Auto,
}

/// The files the director reads: lvs.cf and, optionally, the settings overlay.
#[derive(Clone)]
struct Files {
    config: PathBuf,
    settings: Option<PathBuf>,
}

/// A line about the files: an error, or a warning.
type Said = (Level, String);

/// Reads and plans the files ([`director_core::files::load`]): the plan, and the lines to say
/// about them; `Err` is the exit code (1: errors in the files, 2: unreadable).
fn load(files: &Files, lines: &mut Vec<Said>) -> Result<Plan, ExitCode> {
    let mut read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| {
            let line = format!("director: cannot read {}: {e}", path.display());
            lines.push((Level::ERROR, line));
            ExitCode::from(2)
        })
    };
    let config = read(&files.config)?;
    let overlay = match &files.settings {
        None => None,
        Some(path) => Some(read(path)?),
    };
    let config_name = files.config.display().to_string();
    let overlay_name = (files.settings.as_ref()).map_or(String::new(), |p| p.display().to_string());
    let (plan, said) = director_core::files::load(
        &director_core::files::Files {
            config: &config,
            config_name: &config_name,
            overlay: overlay.as_deref().map(|o| (o, overlay_name.as_str())),
        },
        &director_core::files::system_resolve,
    );
    lines.extend(said.into_iter().map(|(severity, line)| match severity {
        lvscf::Severity::Error => (Level::ERROR, line),
        _ => (Level::WARN, line),
    }));
    plan.ok_or(ExitCode::from(1))
}

/// [`load`], printing its lines (`director check`).
fn load_and_print(files: &Files) -> Result<Plan, ExitCode> {
    let mut lines = Vec::new();
    let result = load(files, &mut lines);
    for (_, line) in lines {
        eprintln!("{line}");
    }
    result
}

/// [`load`], logging its lines (`director run`, at start and on a reload) but those of `said`
/// (the last load's: a reload storm does not repeat the same warnings).
fn load_and_log(files: &Files, said: &mut Vec<String>) -> Result<Plan, (ExitCode, Vec<String>)> {
    let mut lines = Vec::new();
    let result = load(files, &mut lines);
    if result.is_ok() {
        for (level, line) in lines.iter().filter(|(_, l)| !said.contains(l)) {
            log_line(*level, line);
        }
        *said = lines.iter().map(|(_, l)| l.clone()).collect();
    }
    result.map_err(|code| (code, lines.into_iter().map(|(_, l)| l).collect()))
}

/// One line in the log, as it is.
fn log_line(level: Level, line: &str) {
    if level == Level::ERROR {
        tracing::error!(target: director::log::LINE, "{line}");
    } else {
        tracing::warn!(target: director::log::LINE, "{line}");
    }
}

fn run(files: Files, mut options: director::RunOptions, log: LogChoice) -> ExitCode {
    director::log::init(log.log_level.map(Level::from), log.log_format);
    let mut said = Vec::new();
    let plan = match load_and_log(&files, &mut said) {
        Ok(p) => p,
        Err((code, lines)) => {
            for line in lines {
                log_line(Level::ERROR, &line);
            }
            return code;
        }
    };
    for finding in plan.environment(&ipvs::environment::System) {
        tracing::warn!("{finding}");
    }
    // A reload reads the files again: warnings go to the log, errors back to whoever asked.
    let said = std::sync::Mutex::new(said);
    options.loader = Some(director::Loader(Arc::new(move || {
        let mut said = said
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        load_and_log(&files, &mut said).map_err(|(_, lines)| lines)
    })));
    // One worker thread unless TOKIO_WORKER_THREADS says otherwise: the director is glue
    // around the kernel, and checking 1,000 real servers a second costs a third less CPU
    // without a second worker to hand tasks to (benches/src/bin/checks.rs); one core runs the
    // checks of 10,000 (healthcheck/BENCH.md).
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        builder.worker_threads(1);
    }
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        let (control, commands) = tokio::sync::mpsc::channel(4);
        tokio::spawn(signals(control));
        director::run(plan, options, commands).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::from(1)
        }
    }
}

/// SIGTERM and SIGINT stop the director; SIGHUP reloads (an invalid file is reported and
/// changes nothing).
async fn signals(control: tokio::sync::mpsc::Sender<director::Control>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::error!("cannot handle signals");
        return;
    };
    loop {
        let command = tokio::select! {
            _ = term.recv() => director::Control::Stop,
            _ = int.recv() => director::Control::Stop,
            // The director logs the outcome; nobody waits for the answer.
            _ = hup.recv() => director::Control::Request(Request::Reload, tokio::sync::oneshot::channel().0),
        };
        if control.send(command).await.is_err() {
            return;
        }
    }
}

fn check(files: &Files) -> ExitCode {
    match load_and_print(files) {
        Ok(plan) => {
            for finding in plan.environment(&ipvs::environment::System) {
                eprintln!("director: {finding}");
            }
            print!("{plan}");
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// The settings overlay: the one given, or the default one when it exists.
fn settings_file(given: Option<PathBuf>) -> Option<PathBuf> {
    given.or_else(|| {
        let default = PathBuf::from(director::settings::DEFAULT_SETTINGS);
        default.exists().then_some(default)
    })
}

/// The control socket: `--socket`, the overlay's `socket`, or the default.
fn socket_of(to: &Talk) -> Result<PathBuf, String> {
    if let Some(socket) = &to.socket {
        return Ok(socket.clone());
    }
    let Some(file) = settings_file(to.settings.clone()) else {
        return Ok(control::DEFAULT_SOCKET.into());
    };
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let settings = director::Settings::parse(&text).map_err(|e| {
        format!(
            "{}:{}:{}: error: {}",
            file.display(),
            e.line,
            e.column,
            e.message
        )
    })?;
    Ok(settings
        .director
        .socket
        .unwrap_or_else(|| control::DEFAULT_SOCKET.into()))
}

/// Sends `request` to the running director and prints its answer.
fn ask(to: &Talk, request: Request, json: bool) -> ExitCode {
    let socket = match socket_of(to) {
        Ok(socket) => socket,
        Err(e) => {
            eprintln!("director: {e}");
            return ExitCode::from(2);
        }
    };
    match control::ask(&socket, &request, Duration::from_secs(120)) {
        Err(e) => {
            eprintln!("director: {e}");
            ExitCode::from(2)
        }
        Ok(response) => {
            match (&response.status, json) {
                (Some(_), true) => match serde_json::to_string_pretty(&response.status) {
                    Ok(text) => println!("{text}"),
                    Err(e) => eprintln!("director: {e}"),
                },
                (Some(status), false) => print!("{}", status.render()),
                (None, _) if response.ok => println!("{}", response.message),
                (None, _) => eprintln!("director: {}", response.message),
            }
            if response.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn main() -> ExitCode {
    if let Some(what) = lvs_tools::generate_requested() {
        return lvs_tools::generate(<Cli as clap::CommandFactory>::command(), &what);
    }
    match Cli::parse().command {
        Command::Check { file, settings } => check(&Files {
            config: file,
            settings: settings_file(settings),
        }),
        Command::Run {
            config,
            settings,
            socket,
            keep_table,
            release_on_exit,
            table_when_active,
            drain_timeout,
            log,
        } => {
            let options = director::RunOptions {
                keep_table_on_exit: keep_table,
                release_on_exit,
                table: table_when_active.then_some(director::TableMode::WhenActive),
                drain_timeout,
                socket,
                loader: None,
            };
            let settings = settings_file(settings);
            run(Files { config, settings }, options, log)
        }
        Command::Status { json, to } => ask(&to, Request::Status, json),
        Command::Server {
            action,
            virtual_server,
            server,
            to,
        } => {
            let action = match action {
                AdminArg::Drain => Admin::Drain,
                AdminArg::Disable => Admin::Disable,
                AdminArg::Enable => Admin::Enable,
            };
            let request = Request::Server {
                action,
                virtual_server,
                server,
            };
            ask(&to, request, false)
        }
        Command::Force { role, to } => {
            let role = match role {
                ForceArg::Active => Force::Active,
                ForceArg::Standby => Force::Standby,
                ForceArg::Auto => Force::Auto,
            };
            ask(&to, Request::Force { role }, false)
        }
        Command::Reload { to } => ask(&to, Request::Reload, false),
        Command::Console(args) => {
            director::log::init(None, director::log::Format::Auto);
            console::cli::main(args)
        }
    }
}
