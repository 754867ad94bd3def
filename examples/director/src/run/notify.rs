//! What the director tells others: the programs it runs on events (`active_cmd`,
//! `inactive_cmd`, the overlay's hooks) and its service manager (systemd `Type=notify`:
//! READY, RELOADING, STOPPING, STATUS, WATCHDOG).

use std::time::Duration;

use sd_notify::NotifyState;

/// Tells the service manager, if there is one (`NOTIFY_SOCKET`); a failure is logged once
/// per kind and changes nothing else.
fn notify(states: &[NotifyState]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::error!("cannot notify the service manager: {e}");
    }
}

/// Startup is over: the table is programmed, the checks and the heartbeat run.
pub(super) fn ready(status: &str) {
    notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// A reload starts (systemd 253 and later want the monotonic time with it).
pub(super) fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => notify(&[NotifyState::Reloading, now]),
        Err(_) => notify(&[NotifyState::Reloading]),
    }
}

/// A new status line (the role).
pub(super) fn status(status: &str) {
    notify(&[NotifyState::Status(status)]);
}

/// Stopping.
pub(super) fn stopping() {
    notify(&[NotifyState::Stopping]);
}

/// The service manager's watchdog, if it set one: how often to say we are alive (half its
/// timeout).
pub(super) fn watchdog_period() -> Option<Duration> {
    let mut usec = 0;
    (std::env::var_os("NOTIFY_SOCKET").is_some() && sd_notify::watchdog_enabled(false, &mut usec))
        .then(|| Duration::from_micros(usec / 2).max(Duration::from_millis(10)))
}

/// Alive.
pub(super) fn watchdog() {
    notify(&[NotifyState::Watchdog]);
}
