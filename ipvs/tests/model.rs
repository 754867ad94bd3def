//! Host-side tests of the typed model: validation messages, display, feature gating, JSON shape.
#![allow(clippy::unwrap_used)]

use ipvs::reconcile::Op;
use ipvs::*;

fn ip(s: &str) -> std::net::IpAddr {
    s.parse().unwrap()
}

#[test]
fn features_from_release() {
    let f = Features::from_release("6.1.0-18-amd64");
    assert_eq!(f.version, (6, 1));
    assert!(f.tunnel_type() && f.tunnel_flags() && f.mixed_family());
    let f = Features::from_release("5.2.21");
    assert!(f.tunnel_type() && !f.tunnel_flags());
    let f = Features::from_release("4.19.0");
    assert!(!f.tunnel_type() && f.mixed_family());
    assert!(!Features::from_release("3.10.0-1160.el7.x86_64").mixed_family());
    // Unparsable: assume everything.
    assert!(Features::from_release("weird").tunnel_flags());
}

#[test]
fn scheduler_names_round_trip() {
    for n in [
        "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh",
        "twos", "none",
    ] {
        let s = Scheduler::from_name(n);
        assert!(!matches!(s, Scheduler::Other(_)), "{n}");
        assert_eq!(s.name(), n);
    }
    assert_eq!(Scheduler::from_name("xyz"), Scheduler::Other("xyz".into()));
    assert_eq!(Scheduler::default(), Scheduler::WeightedLeastConnection);
}

#[test]
fn validation_messages() {
    let k4 = ServiceKey::tcp(ip("10.0.0.1"), 80);
    let k6 = ServiceKey::tcp(ip("2001:db8::1"), 80);
    let mut s = Service::new(k6);
    s.netmask = Some(0);
    assert_eq!(s.validate(), Err(ValidationError::Ipv6Netmask(0)));
    assert_eq!(
        s.validate().unwrap_err().to_string(),
        "IPv6 netmask /0 must be 1..=128"
    );
    let mut s = Service::new(k4);
    s.netmask = Some(33);
    assert_eq!(s.validate(), Err(ValidationError::Ipv4Netmask(33)));
    assert_eq!(
        ServiceKey::fwmark(Family::Inet, 0).validate(),
        Err(ValidationError::ZeroFwmark)
    );
    let d = Destination::new(ip("2001:db8::2"), 80);
    assert!(matches!(
        d.validate(&k4),
        Err(ValidationError::MixedFamilies { service, .. }) if service == k4
    ));
    assert!(
        d.validate(&k4)
            .unwrap_err()
            .to_string()
            .contains("only tunnelling can mix families")
    );
    assert!(
        d.clone()
            .with_forwarding(Forwarding::ipip())
            .validate(&k4)
            .is_ok()
    );
    let d = Destination {
        lower_threshold: 2,
        upper_threshold: 1,
        ..Destination::new(ip("10.0.1.1"), 80)
    };
    assert_eq!(
        d.validate(&k4).unwrap_err().to_string(),
        "lower threshold 2 is above upper threshold 1"
    );
    let s = Service::new(k4).persistent(u32::MAX);
    assert_eq!(
        s.validate().unwrap_err().to_string(),
        format!("persistence timeout {} s is too large", u32::MAX)
    );
    let t = Timeouts {
        udp: 3_000_000,
        ..Default::default()
    };
    assert_eq!(
        t.validate().unwrap_err().to_string(),
        "udp timeout 3000000 s is too large"
    );
    assert_eq!(
        Destination::new(ip("10.0.1.1"), 80)
            .with_weight(u32::MAX)
            .validate(&k4)
            .unwrap_err()
            .to_string(),
        format!("weight {} is larger than 2147483647", u32::MAX)
    );
}

#[test]
fn display_of_keys_ops_and_errors() {
    assert_eq!(
        ServiceKey::udp(ip("2001:db8::1"), 53).to_string(),
        "UDP [2001:db8::1]:53"
    );
    assert_eq!(
        ServiceKey::fwmark(Family::Inet6, 3).to_string(),
        "FWM 3 IPv6"
    );
    let k = ServiceKey::sctp(ip("10.0.0.1"), 3868);
    let op = Op::AddDest(k, Destination::new(ip("10.0.1.1"), 3868).with_weight(2));
    assert_eq!(
        op.to_string(),
        "add destination 10.0.1.1:3868 to SCTP 10.0.0.1:3868 (Route weight 2)"
    );
    let e = Error::InvalidArgument {
        op: Operation::AddDest,
        target: Target::Destination {
            service: k,
            addr: ip("10.0.1.1"),
            port: 1,
        },
        source: ValidationError::GueWithoutPort,
    };
    assert_eq!(
        e.to_string(),
        "cannot add destination 10.0.1.1:1 of SCTP 10.0.0.1:3868: invalid argument: GUE tunnel needs a non-zero tunnel port"
    );
    let source = std::error::Error::source(&e).unwrap();
    assert_eq!(
        source.downcast_ref::<ValidationError>(),
        Some(&ValidationError::GueWithoutPort)
    );
}

/// The JSON shape `ipvsctl list --json` prints and `apply` accepts; defaults may be omitted.
#[test]
fn json_shape() {
    let json = r#"{"services":[
        {"key":{"addr":{"protocol":"tcp","addr":"10.0.0.1","port":80}},"scheduler":"rr",
         "destinations":[{"addr":"10.0.1.1","port":80,"forwarding":"masquerade","weight":3},
                         {"addr":"10.0.1.2","port":80,"forwarding":{"tunnel":{"tun_type":"gue","tun_port":6080,"csum":true}}},
                         {"addr":"10.0.1.3","port":80}]},
        {"key":{"fwmark":{"family":"inet6","mark":7}},"flags":{"persistent":true},"timeout":300,"netmask":64,
         "persistence_engine":"sip"}]}"#;
    let t: Table = serde_json::from_str(json).unwrap();
    assert_eq!(t.services.len(), 2);
    let web = &t.services[0];
    assert_eq!(web.service.scheduler, Scheduler::RoundRobin);
    assert_eq!(web.destinations[0].forwarding, Forwarding::Masquerade);
    assert_eq!(
        web.destinations[1].forwarding,
        Forwarding::Tunnel {
            tun_type: TunnelType::Gue,
            tun_port: 6080,
            csum: true,
            remcsum: false
        }
    );
    assert_eq!(web.destinations[1].weight, 1, "default weight");
    assert_eq!(
        web.destinations[2].forwarding,
        Forwarding::DirectRoute,
        "default forwarding"
    );
    let fw = &t.services[1].service;
    assert_eq!(
        fw.scheduler,
        Scheduler::WeightedLeastConnection,
        "default scheduler"
    );
    assert!(fw.flags.persistent);
    assert_eq!(fw.netmask, Some(64));
    let back: Table = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
    assert_eq!(back, t);
}
