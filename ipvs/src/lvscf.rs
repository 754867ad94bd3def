//! Piranha lvsd's reading of `lvs.cf` as IPVS entries (behind the default `lvscf` feature):
//! `network` is every real server's forwarding, a virtual server is a service (protocol, VIP
//! and port, or its firewall mark; scheduler; persistence and its netmask), a real server a
//! destination (port defaulting to the virtual port, its weight), the sorry server a
//! destination of weight 1.
//!
//! ```
//! use ipvs::lvscf::{forwarding, service};
//! use ipvs::{Forwarding, Scheduler};
//! let doc = lvscf::Document::parse(
//!     "primary = 10.0.0.9\nnetwork = direct\nvirtual WEB {\n active = 1\n address = 192.0.2.1 eth0:1\n scheduler = wlc\n persistent = 60\n pmask = 255.255.255.0\n}\n",
//! ).unwrap();
//! let config = doc.config();
//! assert_eq!(forwarding(config.globals.network), Forwarding::DirectRoute);
//! let web = service(&config.virtual_servers[0], "192.0.2.1".parse().unwrap()).unwrap();
//! assert_eq!(web.key.to_string(), "TCP 192.0.2.1:80");
//! assert_eq!(web.scheduler, Scheduler::WeightedLeastConnection);
//! assert_eq!((web.flags.persistent, web.netmask), (true, Some(24)));
//! ```

use std::net::{IpAddr, Ipv4Addr};

use lvscf::{Globals, Network, Protocol, RealServer, VirtualServer};

use crate::model::{
    Destination, Family, Forwarding, Scheduler, Service, ServiceKey, Timeouts, ValidationError,
};

/// lvsd's connection timeouts (`tcp_timeout`, `tcpfin_timeout`, `udp_timeout`; 0 keeps the
/// kernel's value, as `ipvsadm --set` does).
pub fn timeouts(globals: &Globals) -> Timeouts {
    Timeouts {
        tcp: globals.tcp_timeout.0,
        tcp_fin: globals.tcpfin_timeout.0,
        udp: globals.udp_timeout.0,
    }
}

/// The forwarding method of every real server for lvs.cf's `network`.
pub fn forwarding(network: Network) -> Forwarding {
    match network {
        Network::Nat => Forwarding::Masquerade,
        Network::Direct => Forwarding::DirectRoute,
        Network::Tunnel => Forwarding::ipip(),
    }
}

/// The IPVS service of virtual server `vs` on `vip` (its address, resolved): `fwmark` or
/// protocol, VIP and port; the scheduler; persistence with `pmask`. A `pmask` that is not a
/// contiguous netmask is an error.
pub fn service(vs: &VirtualServer, vip: Ipv4Addr) -> Result<Service, ValidationError> {
    let key = if vs.fwmark != 0 {
        ServiceKey::fwmark(Family::Inet, vs.fwmark)
    } else {
        match vs.protocol {
            Protocol::Tcp => ServiceKey::tcp(IpAddr::V4(vip), vs.port),
            Protocol::Udp => ServiceKey::udp(IpAddr::V4(vip), vs.port),
        }
    };
    let mut service = Service::new(key).with_scheduler(Scheduler::from_name(vs.scheduler.as_str()));
    if vs.persistent.0 > 0 {
        service = service.persistent(vs.persistent.0);
        if let Some(mask) = vs.pmask {
            service.netmask = Some(lvscf::prefix_len(mask).ok_or(ValidationError::Netmask(mask))?);
        }
    }
    Ok(service)
}

/// Real server `rs` on `rip` (its address, resolved) as a destination.
pub fn destination(rs: &RealServer, rip: Ipv4Addr, forwarding: Forwarding) -> Destination {
    Destination::new(IpAddr::V4(rip), rs.port)
        .with_forwarding(forwarding)
        .with_weight(rs.weight)
}

/// The sorry server of `vs`, as a destination of weight 1 on the virtual port.
pub fn sorry_server(vs: &VirtualServer, forwarding: Forwarding) -> Option<Destination> {
    vs.sorry_server.map(|addr| {
        Destination::new(IpAddr::V4(addr), vs.port)
            .with_forwarding(forwarding)
            .with_weight(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_services_and_servers() {
        assert_eq!(forwarding(Network::Tunnel), Forwarding::ipip());
        let doc = lvscf::Document::parse(
            "primary = 10.0.0.9\nvirtual M {\n active = 1\n address = 192.0.2.1 eth0\n fwmark = 7\n persistent = 60\n pmask = 255.0.255.0\n sorry_server = 10.9.9.9\n server a {\n  address = 10.0.1.1\n  active = 1\n  weight = 3\n  port = 8080\n }\n}\n",
        )
        .unwrap();
        let config = doc.config();
        let vs = &config.virtual_servers[0];
        assert_eq!(
            service(vs, Ipv4Addr::new(192, 0, 2, 1)).unwrap_err(),
            ValidationError::Netmask(Ipv4Addr::new(255, 0, 255, 0))
        );
        let rs = destination(
            &vs.servers[0],
            Ipv4Addr::new(10, 0, 1, 1),
            Forwarding::Masquerade,
        );
        assert_eq!((rs.port, rs.weight), (8080, 3));
        assert_eq!(
            sorry_server(vs, Forwarding::Masquerade).map(|d| d.weight),
            Some(1)
        );
    }
}
