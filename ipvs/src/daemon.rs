//! The connection sync daemon's role in a failover pair, sans I/O: the active director runs a
//! master (it sends its connection table), the standby a backup (it receives it), as Piranha's
//! pulse did; switching stops the old one first, and a daemon in the wanted state that someone
//! else left (an earlier run) is replaced, since the kernel runs one per state.
//!
//! ```
//! use ipvs::daemon::{Step, for_role, steps};
//! use ipvs::DaemonState;
//! let master = for_role(true, "eth1", 7);
//! assert_eq!(master.state, DaemonState::Master);
//! // Standby → active: our backup stops, the master starts.
//! let backup = for_role(false, "eth1", 7);
//! assert_eq!(
//!     steps(Some(&backup), Some(&master), &[backup.clone()]),
//!     [Step::Stop(DaemonState::Backup), Step::Start(master.clone())]
//! );
//! ```

use crate::model::{Daemon, DaemonState};
use crate::{Error, Handle};

/// The daemon for a role: master while active, backup while standby.
pub fn for_role(active: bool, interface: &str, sync_id: u32) -> Daemon {
    let state = if active {
        DaemonState::Master
    } else {
        DaemonState::Backup
    };
    Daemon::new(state, interface, sync_id)
}

/// One step of a switch.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// Stop the daemon in this state.
    Stop(DaemonState),
    /// Start this daemon.
    Start(Daemon),
}

/// The steps from `ours` (the daemon we run, if any) to `want` (`None`: none), given the
/// daemons the kernel runs now (`running`, ours included). Nothing when they are the same.
pub fn steps(ours: Option<&Daemon>, want: Option<&Daemon>, running: &[Daemon]) -> Vec<Step> {
    if ours == want {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let Some(old) = ours {
        out.push(Step::Stop(old.state));
    }
    if let Some(want) = want {
        let stopped = ours.map(|o| o.state);
        if running
            .iter()
            .any(|d| d.state == want.state && Some(d.state) != stopped)
        {
            out.push(Step::Stop(want.state));
        }
        out.push(Step::Start(want.clone()));
    }
    out
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Stop(state) => write!(f, "stopping the {state} sync daemon"),
            Step::Start(d) => write!(
                f,
                "starting the {} sync daemon on {} (syncid {})",
                d.state, d.interface, d.sync_id
            ),
        }
    }
}

/// Switches the kernel from `ours` (the daemon we run, if any) to `want` through `handle`:
/// reads the daemons running when one must start, then takes every [`steps`] step, also after
/// one failed. Returns the daemon ours now, and each step with its result.
pub async fn switch(
    handle: &Handle,
    ours: Option<&Daemon>,
    want: Option<&Daemon>,
) -> (Option<Daemon>, Vec<(Step, Result<(), Error>)>) {
    let running = match want {
        Some(_) if want != ours => handle.daemons().await.unwrap_or_default(),
        _ => Vec::new(),
    };
    let mut now = ours.cloned();
    let mut done = Vec::new();
    for step in steps(ours, want, &running) {
        let result = match &step {
            Step::Stop(state) => {
                if now.as_ref().is_some_and(|d| d.state == *state) {
                    now = None;
                }
                handle.del_daemon(*state).await
            }
            Step::Start(want) => {
                let started = handle.add_daemon(want).await;
                if started.is_ok() {
                    now = Some(want.clone());
                }
                started
            }
        };
        done.push((step, result));
    }
    (now, done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_foreign_daemon_in_the_wanted_state_is_replaced_and_none_means_stop() {
        let master = for_role(true, "eth1", 7);
        let foreign = Daemon::new(DaemonState::Master, "eth2", 9);
        assert_eq!(
            steps(None, Some(&master), &[foreign]),
            [Step::Stop(DaemonState::Master), Step::Start(master.clone())]
        );
        assert_eq!(
            steps(Some(&master), None, std::slice::from_ref(&master)),
            [Step::Stop(DaemonState::Master)]
        );
        assert!(steps(Some(&master), Some(&master), &[]).is_empty());
    }
}
