//! Piranha's failover services (`service = fos`): the `fos` crate runs them; the director
//! starts it, answers the service manager and the control socket's users, and stops it.

use tokio::sync::mpsc;

use super::{Control, RunError, notify};
use crate::control::Response;

/// Runs `plan`'s failover services until told to stop.
pub(super) async fn run(
    plan: fos::Plan,
    pulse: &heartbeat::pulse::Pulse,
    mut control: mpsc::Receiver<Control>,
) -> Result<(), RunError> {
    tracing::info!("{} failover service(s)", plan.services.len());
    let runner = fos::Runner::start(plan, pulse).await?;
    notify::ready("failover services");
    let every = notify::watchdog_period();
    let mut watchdog = tokio::time::interval(every.unwrap_or(std::time::Duration::from_secs(3600)));
    loop {
        tokio::select! {
            command = control.recv() => match command {
                Some(Control::Request(request, reply)) => {
                    let s = runner.status();
                    let message = format!(
                        "{request:?} refused: failover services ({} node, {}{}) take no control \
                         requests; restart the director to apply a changed lvs.cf",
                        s.node,
                        s.role,
                        if s.failed { ", a service failed" } else { "" }
                    );
                    tracing::warn!("{message}");
                    let _ = reply.send(Response::error(message));
                }
                Some(Control::Stop) | None => break,
            },
            _ = watchdog.tick(), if every.is_some() => notify::watchdog(),
        }
    }
    notify::stopping();
    runner.stop().await;
    Ok(())
}
