//! What the engine's tests share: health verdicts for the seed's virtual server
//! (192.168.1.250:80, in its NAT and DR files alike).

#![allow(dead_code, unreachable_pub)]

use std::net::{IpAddr, SocketAddr};

use director_core::ServerKey;
use director_core::engine::{Input, Verdicted};
use healthcheck::{Event, EventKind, Reason};
use ipvs::ServiceKey;

/// The seed's virtual service.
pub fn vip_service() -> ServiceKey {
    ServiceKey::tcp([192, 168, 1, 250].into(), 80)
}

/// Real server `addr` of it, on port 80.
pub fn server(addr: [u8; 4]) -> ServerKey {
    ServerKey {
        service: vip_service(),
        addr: IpAddr::from(addr),
        port: 80,
    }
}

/// A health verdict about real server `addr`.
pub fn verdict(addr: [u8; 4], kind: EventKind) -> Input {
    let reason = match kind {
        EventKind::Down { .. } => Reason::Failed("connection refused".into()),
        _ => Reason::Passed("HTTP".into()),
    };
    Input::Health(vec![Verdicted {
        server: server(addr),
        address: SocketAddr::new(IpAddr::from(addr), 80),
        event: Event { kind, reason },
    }])
}

/// `addr` is up, at weight 1.
pub fn up(addr: [u8; 4]) -> Input {
    verdict(addr, EventKind::Up { weight: 1 })
}

/// `addr` is down.
pub fn down(addr: [u8; 4]) -> Input {
    verdict(addr, EventKind::Down { quiesce: false })
}
