//! The connection sync daemon's role in a failover pair, sans I/O: the active director runs a
//! master (it sends its connection table), the standby a backup (it receives it), as Piranha's
//! pulse did; switching stops the old one first, and a daemon in the wanted state that someone
//! else left (an earlier run) is replaced, since the kernel runs one per state. Directors that
//! all serve at once (behind ECMP) run [`both`]: each sends its connections and hears the
//! others'.
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

/// Master and backup at once on `interface` with `sync_id`, for directors that all serve (the
/// kernel runs one daemon per state, and both together).
///
/// ```
/// use ipvs::daemon::{Step, both, steps_to};
/// let [master, backup] = both("eth1", 7);
/// assert_eq!(
///     steps_to(&[], &[master.clone(), backup.clone()], &[]),
///     [Step::Start(master), Step::Start(backup)]
/// );
/// ```
pub fn both(interface: &str, sync_id: u32) -> [Daemon; 2] {
    [
        for_role(true, interface, sync_id),
        for_role(false, interface, sync_id),
    ]
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
    let (ours, want): (Vec<Daemon>, Vec<Daemon>) = (
        ours.into_iter().cloned().collect(),
        want.into_iter().cloned().collect(),
    );
    steps_to(&ours, &want, running)
}

/// The steps from the daemons we run (`ours`) to those wanted (`want`, at most one per
/// state), given those the kernel runs now (`running`, ours included): ours that are not
/// wanted stop first, then each wanted one starts, after stopping a daemon in its state that
/// someone else left. Nothing when they are the same.
pub fn steps_to(ours: &[Daemon], want: &[Daemon], running: &[Daemon]) -> Vec<Step> {
    let mut out = Vec::new();
    let mut stopped = Vec::new();
    for old in ours.iter().filter(|o| !want.contains(o)) {
        out.push(Step::Stop(old.state));
        stopped.push(old.state);
    }
    for new in want.iter().filter(|w| !ours.contains(w)) {
        if running
            .iter()
            .any(|d| d.state == new.state && !stopped.contains(&d.state))
        {
            out.push(Step::Stop(new.state));
            stopped.push(new.state);
        }
        out.push(Step::Start(new.clone()));
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
    let ours: Vec<Daemon> = ours.into_iter().cloned().collect();
    let want: Vec<Daemon> = want.into_iter().cloned().collect();
    let (now, done) = switch_to(handle, &ours, &want).await;
    (now.into_iter().next(), done)
}

/// [`switch`] for any number of daemons (at most one per state): the kernel goes from `ours`
/// to `want` by the [`steps_to`] steps. Returns the daemons ours now, and each step with its
/// result.
pub async fn switch_to(
    handle: &Handle,
    ours: &[Daemon],
    want: &[Daemon],
) -> (Vec<Daemon>, Vec<(Step, Result<(), Error>)>) {
    let starting = want.iter().any(|w| !ours.contains(w));
    let running = if starting {
        handle.daemons().await.unwrap_or_default()
    } else {
        Vec::new()
    };
    let mut now = ours.to_vec();
    let mut done = Vec::new();
    for step in steps_to(ours, want, &running) {
        let result = match &step {
            Step::Stop(state) => {
                now.retain(|d| d.state != *state);
                handle.del_daemon(*state).await
            }
            Step::Start(want) => {
                let started = handle.add_daemon(want).await;
                if started.is_ok() {
                    now.push(want.clone());
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

    #[test]
    fn both_daemons_start_together_and_leave_together() {
        let [master, backup] = both("eth1", 7);
        let pair = [master.clone(), backup.clone()];
        // From a standby's backup to both: the backup stays, the master starts.
        assert_eq!(
            steps_to(
                std::slice::from_ref(&backup),
                &pair,
                std::slice::from_ref(&backup)
            ),
            [Step::Start(master.clone())]
        );
        // A foreign master is replaced; ours are not touched when nothing changes.
        let foreign = Daemon::new(DaemonState::Master, "eth2", 9);
        assert_eq!(
            steps_to(&[], &pair, &[foreign]),
            [
                Step::Stop(DaemonState::Master),
                Step::Start(master.clone()),
                Step::Start(backup.clone())
            ]
        );
        assert!(steps_to(&pair, &pair, &pair).is_empty());
        // Another interface: both restart there, each stopped once.
        let moved = both("eth3", 7);
        assert_eq!(
            steps_to(&pair, &moved, &pair),
            [
                Step::Stop(DaemonState::Master),
                Step::Stop(DaemonState::Backup),
                Step::Start(moved[0].clone()),
                Step::Start(moved[1].clone())
            ]
        );
        assert_eq!(
            steps_to(&pair, &[], &pair),
            [
                Step::Stop(DaemonState::Master),
                Step::Stop(DaemonState::Backup)
            ]
        );
    }
}
