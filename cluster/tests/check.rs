//! What active-active mode refuses and warns about.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use cluster::check::{check, consistent, refusals};
use ipvs::{
    Destination, Forwarding, Scheduler, Service, ServiceKey, VirtualServer,
    environment::{Level, Machine, Planned},
};

struct Sysctls(Option<&'static str>);

impl Machine for Sysctls {
    fn sysctl(&self, name: &str) -> Option<String> {
        (name == "net/ipv4/vs/sloppy_tcp")
            .then_some(self.0)
            .flatten()
            .map(str::to_string)
    }
    fn firewall(&self) -> Option<String> {
        None
    }
}

fn server(scheduler: Scheduler, forwarding: Forwarding) -> VirtualServer {
    VirtualServer {
        service: Service::new(ServiceKey::tcp("192.0.2.10".parse().unwrap(), 80))
            .with_scheduler(scheduler),
        destinations: vec![
            Destination::new("10.0.0.2".parse().unwrap(), 80).with_forwarding(forwarding),
        ],
    }
}

#[test]
fn nat_is_refused_with_the_service_and_the_reason() {
    let nat = server(Scheduler::MaglevHashing, Forwarding::Masquerade);
    let dr = server(Scheduler::MaglevHashing, Forwarding::DirectRoute);
    let tun = server(Scheduler::MaglevHashing, Forwarding::ipip());
    let found = refusals(&[
        Planned::new("WEB", &nat),
        Planned::new("FTP", &dr),
        Planned::new("DNS", &tun),
    ]);
    assert_eq!(found.len(), 1);
    let text = found[0].to_string();
    assert!(text.starts_with("virtual WEB: NAT"), "{text}");
    assert!(text.contains("direct routing"), "{text}");
}

#[test]
fn schedulers_that_choose_differently_and_sloppy_tcp_are_warned_about() {
    assert!(consistent(&Scheduler::MaglevHashing) && consistent(&Scheduler::SourceHashing));
    assert!(consistent(&Scheduler::DestinationHashing));
    assert!(!consistent(&Scheduler::WeightedLeastConnection));
    let wlc = server(Scheduler::WeightedLeastConnection, Forwarding::DirectRoute);
    let mh = server(Scheduler::MaglevHashing, Forwarding::DirectRoute);
    let services = [Planned::new("WEB", &wlc), Planned::new("API", &mh)];
    let found = check(&services, &Sysctls(Some("0")));
    let text: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert_eq!(found.len(), 2, "{text:?}");
    assert!(found.iter().all(|f| f.level == Level::Warning));
    assert!(text[0].contains("virtual WEB: scheduler wlc"), "{text:?}");
    assert!(text[1].contains("sloppy_tcp = 0"), "{text:?}");
    // Set as it should be, or not readable (IPVS not loaded: its own note says so).
    assert_eq!(check(&services[1..], &Sysctls(Some("1"))), []);
    assert_eq!(check(&services[1..], &Sysctls(None)), []);
}
