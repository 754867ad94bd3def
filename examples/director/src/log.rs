//! The daemon's log: `tracing` events on stderr, one line each, as the director has always
//! written them (`director: MESSAGE key=value…`; the engine's lines as they are). The director's
//! own events from INFO, the crates' from WARN; `RUST_LOG` (e.g. `director=debug,heartbeat=info`)
//! chooses otherwise.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// The target of lines logged as they are (the engine's, which carry their own prefix).
pub(crate) const LINE: &str = "director::line";

/// One line per event: `director: ` (unless the event is a [`LINE`]), its message and fields.
struct Lines;

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
        if event.metadata().target() != LINE {
            w.write_str("director: ")?;
        }
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// The log as a subscriber writing to `writer`, with `filter`.
fn subscriber<W>(writer: W, filter: Targets) -> impl Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let layer = tracing_subscriber::fmt::layer()
        .event_format(Lines)
        .with_writer(writer);
    tracing_subscriber::registry().with(layer).with(filter)
}

/// Installs the log on stderr (once; later calls change nothing).
pub fn init() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|s| s.parse::<Targets>().ok())
        .unwrap_or_else(|| {
            Targets::new()
                .with_target("director", Level::INFO)
                .with_default(Level::WARN)
        });
    let _ = subscriber(std::io::stderr, filter).try_init();
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

    #[test]
    fn lines_read_as_they_always_did_and_the_crates_speak_from_warn() {
        let buffer = Buffer::default();
        let sink = buffer.clone();
        let filter = Targets::new()
            .with_target("director", Level::INFO)
            .with_default(Level::WARN);
        tracing::subscriber::with_default(subscriber(move || sink.clone(), filter), || {
            tracing::info!("took over {} addresses", 2);
            tracing::info!(target: LINE, "director: [ active ] 10.0.0.1:80 up weight 1: HTTP");
            tracing::info!(target: LINE, "lvs.cf:3:1: error: unknown key");
            tracing::info!(target: "heartbeat::driver", "not shown");
            tracing::warn!(target: "heartbeat::driver", path = 0, "link monitoring stopped");
        });
        let text = String::from_utf8(buffer.0.lock().expect("buffer").clone()).expect("utf-8");
        assert_eq!(
            text,
            "director: took over 2 addresses\n\
             director: [ active ] 10.0.0.1:80 up weight 1: HTTP\n\
             lvs.cf:3:1: error: unknown key\n\
             director: link monitoring stopped path=0\n"
        );
    }
}
