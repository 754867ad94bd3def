//! How the log stays bounded when a real server flaps: each real server's first
//! [`LOGGED_CHANGES`] changes in a window of [`FLAP_WINDOW`] are logged one by one; the rest are
//! counted, and when the window ends one line says the server's state then and how many changes
//! were not logged. Hooks, metrics and the table still see every change.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::ServerKey;

/// Changes of one real server logged one by one in a window.
pub const LOGGED_CHANGES: u32 = 5;

/// The window.
pub const FLAP_WINDOW: Duration = Duration::from_secs(60);

/// One real server's window.
#[derive(Debug, Clone)]
struct Window {
    until: Instant,
    logged: u32,
    /// Changes not logged, and the line the last of them would have been.
    quiet: u32,
    last: String,
}

/// Every real server's window.
#[derive(Debug, Clone, Default)]
pub(crate) struct Flaps {
    windows: HashMap<ServerKey, Window>,
}

impl Flaps {
    /// The lines to log for a change of `server` at `now` that says `line`: the line itself, a
    /// notice that further changes will be counted (with the last line logged), or nothing.
    pub(crate) fn change(&mut self, now: Instant, server: ServerKey, line: String) -> Vec<String> {
        let window = self.windows.entry(server).or_insert_with(|| Window {
            until: now + FLAP_WINDOW,
            logged: 0,
            quiet: 0,
            last: String::new(),
        });
        if window.logged < LOGGED_CHANGES {
            window.logged += 1;
            if window.logged < LOGGED_CHANGES {
                return vec![line];
            }
            let left = window.until.saturating_duration_since(now);
            return vec![
                line,
                format!(
                    "director: {} flaps: its changes in the next {}s are counted, not logged one \
                     by one",
                    server_address(&server),
                    left.as_secs().max(1)
                ),
            ];
        }
        window.quiet += 1;
        window.last = line;
        Vec::new()
    }

    /// The windows that ended by `now` are closed: for each with changes not logged, the last
    /// of them with their count.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<String> {
        let mut said = Vec::new();
        self.windows.retain(|_, w| {
            if w.until > now {
                return true;
            }
            if w.quiet > 0 {
                said.push(format!(
                    "{} (now; {} changes in the last {}s were not logged one by one)",
                    w.last,
                    w.quiet,
                    FLAP_WINDOW.as_secs()
                ));
            }
            false
        });
        said.sort();
        said
    }

    /// When the next window with changes not logged ends.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.windows
            .values()
            .filter(|w| w.quiet > 0)
            .map(|w| w.until)
            .min()
    }
}

fn server_address(server: &ServerKey) -> std::net::SocketAddr {
    std::net::SocketAddr::new(server.addr, server.port)
}
