//! `director console`: the command line the `director` binary hands over to this crate.

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::{DEFAULT_PASSWD, Options, check_listen, hash_password, serve};

/// `director console [--config FILE] [--settings TOML] [--listen ADDR:PORT] [--tls-cert PEM
/// --tls-key PEM]` and `director console passwd`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// `passwd`: set the console's password (read from standard input).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The configuration it edits.
    #[arg(long, default_value = "/etc/sysconfig/ha/lvs.cf")]
    pub config: PathBuf,
    /// The settings overlay, read to validate changes (default: /etc/director/director.toml
    /// when present).
    #[arg(long)]
    pub settings: Option<PathBuf>,
    /// Where to listen; an address other than loopback needs --insecure-http.
    #[arg(long, default_value = "127.0.0.1:3636")]
    pub listen: SocketAddr,
    /// Serve a non-loopback address over plain HTTP anyway.
    #[arg(long)]
    pub insecure_http: bool,
    /// Serve HTTPS with this certificate chain (PEM; with --tls-key).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The password file (`passwd` writes it).
    #[arg(long, global = true, default_value = DEFAULT_PASSWD)]
    pub passwd_file: PathBuf,
    /// The running director's control socket.
    #[arg(long, default_value = director_core::control::DEFAULT_SOCKET)]
    pub socket: PathBuf,
}

/// What `director console` can do besides serving.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Set the console's password: its Argon2id hash goes to the password file (mode 0600).
    Passwd,
}

/// Runs `director console`: serves until killed, or sets the password. Logs through
/// `tracing` (the caller sets the subscriber up).
pub fn main(args: Args) -> ExitCode {
    if let Some(Command::Passwd) = args.command {
        return passwd(&args.passwd_file);
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => match crate::Tls::from_pem_files(cert, key) {
            Ok(tls) => Some(tls),
            Err(e) => {
                tracing::error!("console: {e}");
                return ExitCode::from(2);
            }
        },
        _ => None,
    };
    if let Err(e) = check_listen(args.listen, tls.is_some(), args.insecure_http) {
        tracing::error!("console: {e}");
        return ExitCode::from(2);
    }
    let settings = args.settings.clone().or_else(|| {
        let default = PathBuf::from(director_core::settings::DEFAULT_SETTINGS);
        default.exists().then_some(default)
    });
    let options = Options::new(&args.config)
        .with_settings(settings)
        .with_passwd(&args.passwd_file)
        .with_socket(&args.socket);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("console: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|source| crate::Error::Io {
                what: format!("listening on {}", args.listen),
                source,
            })?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(
            "console: {scheme}://{} (lvs.cf: {})",
            args.listen,
            args.config.display()
        );
        match tls {
            Some(tls) => crate::serve_tls(listener, options, tls).await,
            None => serve(listener, options).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("console: {e}");
            ExitCode::from(1)
        }
    }
}

/// Reads a password (one line) from standard input and writes its hash to `file`.
fn passwd(file: &std::path::Path) -> ExitCode {
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() || line.trim_end().is_empty() {
        tracing::error!("console passwd: no password on standard input");
        return ExitCode::from(2);
    }
    let password = line.trim_end_matches(['\r', '\n']);
    let written = hash_password(password).and_then(|hash| {
        use std::os::unix::fs::OpenOptionsExt;
        let io = |source| crate::Error::Io {
            what: format!("writing {}", file.display()),
            source,
        };
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(file)
            .map_err(io)?;
        writeln!(f, "{hash}").map_err(io)
    });
    match written {
        Ok(()) => {
            tracing::info!(
                "console passwd: the password's hash is in {}",
                file.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("console passwd: {e}");
            ExitCode::from(1)
        }
    }
}
