//! The daemon's log: `tracing` events, one line each, as the director has always written them
//! (`director: MESSAGE key=value…`; the engine's lines, nanny's `[ active ]`/`[inactive]`
//! included, as they are), in one of three forms ([`Format`]):
//!
//! - **journald** under systemd (stderr is the journal's stream): each event sent natively with
//!   its priority, its target and its fields (`SYSLOG_IDENTIFIER=director`);
//! - **full** on a terminal: `2026-12-03T10:41:02.123456Z  INFO director: …`;
//! - **plain** otherwise (a pipe, a file, a test): the lines alone, as before.
//!
//! The director's events from INFO and the crates' from WARN, unless `--log-level` sets one
//! level for all or `RUST_LOG` (e.g. `director=debug,heartbeat=info`) chooses per target.

use std::{fmt, io::IsTerminal, os::fd::AsFd, os::unix::fs::MetadataExt};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// The target of lines logged as they are (the engine's and the files' diagnostics, which carry
/// their own prefix).
pub const LINE: &str = "director::line";

/// How the log is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// journald under systemd, full on a terminal, plain otherwise.
    Auto,
    /// The lines alone.
    Plain,
    /// Each line after its time (UTC) and level.
    Full,
    /// Natively to journald, with fields.
    Journald,
}

/// One line per event: `director: ` (unless the event is a [`LINE`]), its message and fields;
/// with `full`, after the time and the level.
struct Lines {
    full: bool,
}

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        if self.full {
            SystemTime.format_time(&mut w)?;
            write!(w, " {:>5} ", event.metadata().level())?;
        }
        if event.metadata().target() != LINE {
            w.write_str("director: ")?;
        }
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// The log as lines written to `writer`, with `filter`.
fn lines<W>(writer: W, full: bool, filter: Targets) -> impl Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let layer = tracing_subscriber::fmt::layer()
        .event_format(Lines { full })
        .with_writer(writer);
    tracing_subscriber::registry().with(layer).with(filter)
}

/// Which events are logged: everything from `level`, or by default the director's from INFO
/// and the crates' from WARN; `RUST_LOG` wins over both.
fn filter(level: Option<Level>) -> Targets {
    if let Some(t) = std::env::var("RUST_LOG")
        .ok()
        .and_then(|s| s.parse::<Targets>().ok())
    {
        return t;
    }
    match level {
        Some(level) => Targets::new().with_default(level),
        None => Targets::new()
            .with_target("director", Level::INFO)
            .with_target("fos", Level::INFO)
            .with_target("console", Level::INFO)
            .with_default(Level::WARN),
    }
}

/// Whether stderr is the journal's stream (systemd sets `JOURNAL_STREAM` to its `DEVICE:INODE`).
fn stderr_is_journal() -> bool {
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() else {
        return false;
    };
    let Ok(meta) = std::fs::File::from(fd).metadata() else {
        return false;
    };
    stream.to_string_lossy() == format!("{}:{}", meta.dev(), meta.ino())
}

/// Installs the log (once; later calls change nothing) and says which form it took.
pub fn init(level: Option<Level>, format: Format) -> Format {
    let format = match format {
        Format::Auto if stderr_is_journal() => Format::Journald,
        Format::Auto if std::io::stderr().is_terminal() => Format::Full,
        Format::Auto => Format::Plain,
        chosen => chosen,
    };
    let filter = filter(level);
    if format == Format::Journald {
        match tracing_journald::layer() {
            Ok(journald) => {
                let journald = journald.with_syslog_identifier("director".into());
                let _ = tracing_subscriber::registry()
                    .with(journald)
                    .with(filter)
                    .try_init();
                return Format::Journald;
            }
            Err(e) => {
                let _ = lines(std::io::stderr, false, filter).try_init();
                tracing::warn!("journald: {e}; logging to stderr");
                return Format::Plain;
            }
        }
    }
    let _ = lines(std::io::stderr, format == Format::Full, filter).try_init();
    format
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(full: bool, filter: Targets) -> String {
        let buffer = Buffer::default();
        let sink = buffer.clone();
        tracing::subscriber::with_default(lines(move || sink.clone(), full, filter), || {
            tracing::info!("took over {} addresses", 2);
            tracing::info!(target: LINE, "director: [ active ] 10.0.0.1:80 up weight 1: HTTP");
            tracing::error!(target: LINE, "lvs.cf:3:1: error: unknown key");
            tracing::info!(target: "heartbeat::driver", "role");
            tracing::warn!(target: "heartbeat::driver", path = 0, "link monitoring stopped");
        });
        String::from_utf8(buffer.0.lock().expect("buffer").clone()).expect("utf-8")
    }

    #[test]
    fn lines_read_as_they_always_did_and_the_crates_speak_from_warn() {
        assert_eq!(
            logged(false, filter(None)),
            "director: took over 2 addresses\n\
             director: [ active ] 10.0.0.1:80 up weight 1: HTTP\n\
             lvs.cf:3:1: error: unknown key\n\
             director: link monitoring stopped path=0\n"
        );
    }

    #[test]
    fn on_a_terminal_each_line_has_its_time_and_level_and_one_level_rules_all() {
        let text = logged(true, filter(Some(Level::INFO)));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        for (line, (level, rest)) in lines.iter().zip([
            (" INFO", "director: took over 2 addresses"),
            (
                " INFO",
                "director: [ active ] 10.0.0.1:80 up weight 1: HTTP",
            ),
            ("ERROR", "lvs.cf:3:1: error: unknown key"),
            (" INFO", "director: role"),
            (" WARN", "director: link monitoring stopped path=0"),
        ]) {
            // 2026-12-03T10:41:02.123456Z
            let (time, after) = line.split_once(' ').expect("a time");
            assert!(
                time.len() == 27 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
                "{line}"
            );
            assert_eq!(after, format!("{level} {rest}"), "{line}");
        }
    }
}
