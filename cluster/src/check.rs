//! What active-active mode needs from a director's services and its machine: [`refusals`] of
//! what cannot work behind ECMP, and [`check`] for what works badly.

use std::fmt;

use ipvs::{
    Forwarding, Scheduler,
    environment::{Machine, Planned},
};

/// A service that cannot run in active-active mode, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The service's name (lvs.cf's virtual server).
    pub service: String,
    /// Why.
    pub why: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "virtual {}: {}", self.service, self.why)
    }
}

/// Services whose forwarding cannot work when several directors share the traffic ([`refused`]).
pub fn refusals(services: &[Planned<'_>]) -> Vec<Refusal> {
    services
        .iter()
        .filter_map(|s| (s.server.destinations.iter()).find_map(|d| refused(s.name, &d.forwarding)))
        .collect()
}

/// Why `service` cannot forward by `forwarding` in active-active mode, if it cannot: NAT, since
/// the real servers' replies must come back through the director that took the request, and
/// ECMP promises nothing about the way back. Direct routing and tunnels are the methods.
///
/// ```
/// use ipvs::Forwarding;
/// assert!(cluster::check::refused("WEB", &Forwarding::Masquerade).is_some());
/// assert!(cluster::check::refused("WEB", &Forwarding::DirectRoute).is_none());
/// ```
pub fn refused(service: &str, forwarding: &Forwarding) -> Option<Refusal> {
    matches!(forwarding, Forwarding::Masquerade).then(|| Refusal {
        service: service.to_string(),
        why: "NAT (masquerading) cannot run active-active: the real servers' replies must \
              return through the director that took the request, which ECMP does not \
              promise; use direct routing (lvs.cf's `network = direct`, or the overlay's \
              `forwarding = \"direct\"`) or tunnels"
            .into(),
    })
}

/// Whether every director makes the same choice of real server for a flow with `scheduler`
/// (a hash of the flow: Maglev, source or destination hashing), so that a flow ECMP moves to another director keeps its real server
/// without connection sync.
pub fn consistent(scheduler: &Scheduler) -> bool {
    matches!(
        scheduler,
        Scheduler::MaglevHashing | Scheduler::SourceHashing | Scheduler::DestinationHashing
    )
}

/// What active-active mode would like changed, as the `ipvs` environment checks report it:
/// schedulers that choose differently on each director, and `sloppy_tcp`.
pub fn check(services: &[Planned<'_>], machine: &dyn Machine) -> Vec<ipvs::environment::Finding> {
    let warning = |message: String| ipvs::environment::Finding {
        level: ipvs::environment::Level::Warning,
        message,
    };
    let mut out = Vec::new();
    for s in services {
        let scheduler = &s.server.service.scheduler;
        if !consistent(scheduler) {
            out.push(warning(format!(
                "virtual {}: scheduler {} chooses by this director's own state, so directors \
                 choose differently and a flow that ECMP moves keeps its real server only through \
                 connection sync; use mh (Maglev hashing) or sh",
                s.name,
                scheduler.name()
            )));
        }
    }
    if !services.is_empty()
        && let Some(sloppy) = machine.sysctl("net/ipv4/vs/sloppy_tcp")
        && sloppy != "1"
    {
        out.push(warning(
            "net.ipv4.vs.sloppy_tcp = 0: a director that receives a flow in its middle (after an \
             ECMP change) creates no connection for it and the client is reset; set it to 1"
                .into(),
        ));
    }
    out
}
