//! Random IPVS tables for reconciler property tests (small key pools so tables overlap).
#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use std::collections::BTreeMap;

use ipvs::*;
use proptest::prelude::*;

pub fn arb_key() -> impl Strategy<Value = ServiceKey> {
    prop_oneof![
        (0u8..4, 0u16..3)
            .prop_map(|(a, p)| ServiceKey::tcp(std::net::IpAddr::from([10, 0, 0, a + 1]), 80 + p)),
        (0u8..2).prop_map(|a| ServiceKey::udp(std::net::IpAddr::from([10, 0, 0, a + 1]), 53)),
        (1u32..3).prop_map(|m| ServiceKey::fwmark(Family::Inet, m)),
        (0u16..2)
            .prop_map(|a| ServiceKey::tcp(format!("2001:db8::{}", a + 1).parse().unwrap(), 443)),
    ]
}

pub fn arb_service() -> impl Strategy<Value = Service> {
    (
        arb_key(),
        prop_oneof![
            Just(Scheduler::RoundRobin),
            Just(Scheduler::WeightedLeastConnection),
            Just(Scheduler::SourceHashing)
        ],
        any::<bool>(),
        prop_oneof![Just(0u32), Just(300u32)],
    )
        .prop_map(|(k, sched, persistent, timeout)| {
            let mut s = Service::new(k).with_scheduler(sched);
            s.flags.persistent = persistent;
            s.timeout = timeout;
            s
        })
}

pub fn arb_dest(fam: Family) -> BoxedStrategy<Destination> {
    let addr = match fam {
        Family::Inet => (0u8..4)
            .prop_map(|a| std::net::IpAddr::from([10, 1, 0, a + 1]))
            .boxed(),
        Family::Inet6 => (0u16..4)
            .prop_map(|a| format!("2001:db8:1::{}", a + 1).parse().unwrap())
            .boxed(),
    };
    (
        addr,
        prop_oneof![Just(80u16), Just(8080)],
        prop_oneof![
            Just(Forwarding::Masquerade),
            Just(Forwarding::DirectRoute),
            Just(Forwarding::ipip())
        ],
        0u32..4,
        prop_oneof![Just((0u32, 0u32)), Just((100, 10))],
    )
        .prop_map(|(addr, port, forwarding, weight, (u, l))| Destination {
            addr,
            port,
            forwarding,
            weight,
            upper_threshold: u,
            lower_threshold: l,
        })
        .boxed()
}

/// A table with unique service keys and unique destination keys per service.
pub fn arb_table() -> impl Strategy<Value = Table> {
    prop::collection::vec(arb_service(), 0..6)
        .prop_flat_map(|services| {
            let dests: Vec<_> = services
                .iter()
                .map(|s| prop::collection::vec(arb_dest(s.key.family()), 0..4))
                .collect();
            (Just(services), dests)
        })
        .prop_map(|(services, dests)| {
            let mut m = BTreeMap::new();
            for (s, ds) in services.into_iter().zip(dests) {
                let mut dm = BTreeMap::new();
                for d in ds {
                    dm.insert((d.addr, d.port), d);
                }
                m.insert(
                    s.key,
                    VirtualServer {
                        service: s,
                        destinations: dm.into_values().collect(),
                    },
                );
            }
            Table {
                services: m.into_values().collect(),
            }
        })
}

/// Canonical form for comparing tables.
pub fn canon(t: &Table) -> Table {
    let mut services: Vec<VirtualServer> = t
        .services
        .iter()
        .map(|vs| {
            let mut d = vs.destinations.clone();
            d.sort_by_key(|d| (d.addr, d.port));
            VirtualServer {
                service: vs.service.normalized(),
                destinations: d,
            }
        })
        .collect();
    services.sort_by_key(|vs| vs.service.key);
    Table { services }
}
