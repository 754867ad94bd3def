//! Cross-checks with ipvsadm, both ways, on a rich table.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;

use common::*;
use ipvs::*;

/// The rich table as ipvsadm rules (`-R` input). Thresholds are not part of `-S` output.
const RULES: &str = "\
-A -t 10.0.0.1:80 -s rr
-a -t 10.0.0.1:80 -r 10.0.1.1:8080 -m -w 3 -x 100 -y 10
-a -t 10.0.0.1:80 -r 10.0.1.2:80 -g -w 0
-a -t 10.0.0.1:80 -r [2001:db8::30]:80 -i -w 1 --tun-type ipip
-A -u 10.0.0.1:53 -s sh -p 600 -M 255.255.255.0 -b sh-fallback,sh-port
-a -u 10.0.0.1:53 -r 10.0.1.3:53 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum
-A -u 10.0.0.3:5060 -s rr -p 60 --pe sip -o
-A --sctp-service 10.0.0.2:3868 -s wlc
-a --sctp-service 10.0.0.2:3868 -r 10.0.1.5:3868 -m -w 2
-A -t [2001:db8::1]:443 -s mh -p 300 -M 64 -b mh-fallback
-a -t [2001:db8::1]:443 -r [2001:db8::10]:443 -m -w 5
-A -f 7 -s lc
-a -f 7 -r 10.0.1.4:0 -g -w 1
-A -f 8 -6 -s wrr
-a -f 8 -6 -r [2001:db8::20]:0 -i -w 1 --tun-type gre --tun-csum
";

/// The same table in our model.
fn table() -> Vec<(Service, Vec<Destination>)> {
    let web =
        Service::new(ServiceKey::tcp(ip("10.0.0.1"), 80)).with_scheduler(Scheduler::RoundRobin);
    let mut dns = Service::new(ServiceKey::udp(ip("10.0.0.1"), 53))
        .with_scheduler(Scheduler::SourceHashing)
        .persistent(600);
    dns.netmask = Some(24);
    dns.flags.sched_fallback = true;
    dns.flags.sched_port = true;
    let mut sip = Service::new(ServiceKey::udp(ip("10.0.0.3"), 5060))
        .with_scheduler(Scheduler::RoundRobin)
        .persistent(60);
    sip.persistence_engine = Some("sip".into());
    sip.flags.one_packet = true;
    let sctp = Service::new(ServiceKey::sctp(ip("10.0.0.2"), 3868));
    let mut v6 = Service::new(ServiceKey::tcp(ip("2001:db8::1"), 443))
        .with_scheduler(Scheduler::MaglevHashing)
        .persistent(300);
    v6.netmask = Some(64);
    v6.flags.sched_fallback = true;
    let fw7 = Service::new(ServiceKey::fwmark(Family::Inet, 7))
        .with_scheduler(Scheduler::LeastConnection);
    let fw8 = Service::new(ServiceKey::fwmark(Family::Inet6, 8))
        .with_scheduler(Scheduler::WeightedRoundRobin);
    vec![
        (
            web,
            vec![
                Destination {
                    addr: ip("10.0.1.1"),
                    port: 8080,
                    forwarding: Forwarding::Masquerade,
                    weight: 3,
                    upper_threshold: 100,
                    lower_threshold: 10,
                },
                Destination::new(ip("10.0.1.2"), 80).with_weight(0),
                Destination::new(ip("2001:db8::30"), 80).with_forwarding(Forwarding::ipip()),
            ],
        ),
        (
            dns,
            vec![
                Destination::new(ip("10.0.1.3"), 53).with_forwarding(Forwarding::Tunnel {
                    tun_type: TunnelType::Gue,
                    tun_port: 6080,
                    csum: true,
                    remcsum: false,
                }),
            ],
        ),
        (sip, vec![]),
        (
            sctp,
            vec![
                Destination::new(ip("10.0.1.5"), 3868)
                    .with_forwarding(Forwarding::Masquerade)
                    .with_weight(2),
            ],
        ),
        (
            v6,
            vec![
                Destination::new(ip("2001:db8::10"), 443)
                    .with_forwarding(Forwarding::Masquerade)
                    .with_weight(5),
            ],
        ),
        (fw7, vec![Destination::new(ip("10.0.1.4"), 0)]),
        (
            fw8,
            vec![
                Destination::new(ip("2001:db8::20"), 0).with_forwarding(Forwarding::Tunnel {
                    tun_type: TunnelType::Gre,
                    tun_port: 0,
                    csum: true,
                    remcsum: false,
                }),
            ],
        ),
    ]
}

fn sorted_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s
        .lines()
        .map(|l| l.trim_end().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    v.sort();
    v
}

fn normalize(mut t: Vec<(Service, Vec<Destination>)>) -> Vec<(Service, Vec<Destination>)> {
    for (_, d) in &mut t {
        d.sort_by_key(|d| (d.addr, d.port));
    }
    t.sort_by_key(|(s, _)| s.key);
    t
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn ipvsadm_shows_what_we_program() {
    in_netns(|h| async move {
        for (s, ds) in table() {
            h.add_service(&s).await.unwrap_or_else(|e| panic!("{e}"));
            for d in ds {
                h.add_destination(&s.key, &d)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
            }
        }
        let saved = sh("ipvsadm -S -n");
        assert_eq!(
            sorted_lines(&saved),
            sorted_lines(RULES.replace(" -x 100 -y 10", "").as_str())
        );
        let th = sh("ipvsadm -L -n --thresholds");
        assert!(
            th.lines().any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["->", "10.0.1.1:8080", "100", "10", "0", "0"]),
            "{th}"
        );
        // Timeouts too.
        h.set_timeouts(&Timeouts {
            tcp: 1000,
            tcp_fin: 100,
            udp: 200,
        })
        .await
        .unwrap();
        assert_eq!(
            sh("ipvsadm -L --timeout").trim(),
            "Timeout (tcp tcpfin udp): 1000 100 200"
        );
    });
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn we_read_what_ipvsadm_programs() {
    in_netns(|h| async move {
        let mut child = std::process::Command::new("ipvsadm")
            .arg("-R")
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(RULES.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success());
        sh("ipvsadm --set 901 121 301");
        let got: Vec<(Service, Vec<Destination>)> = h
            .table()
            .await
            .unwrap()
            .into_iter()
            .map(|(s, d)| (s.service, d.into_iter().map(|e| e.destination).collect()))
            .collect();
        assert_eq!(normalize(got), normalize(table()));
        assert_eq!(
            h.timeouts().await.unwrap(),
            Timeouts {
                tcp: 901,
                tcp_fin: 121,
                udp: 301
            }
        );
        // Daemons started by ipvsadm read back (the kernel refuses a sync daemon while
        // mixed-family destinations exist, so flush first).
        h.flush().await.unwrap();
        sh("ip link add xv0 type veth peer name xv1 && ip link set xv0 up");
        sh(
            "ipvsadm --start-daemon master --mcast-interface xv0 --syncid 5 --sync-maxlen 1200 --mcast-group 239.0.0.9 --mcast-port 8000 --mcast-ttl 2",
        );
        let d = h.daemons().await.unwrap();
        let mut want = Daemon::new(DaemonState::Master, "xv0", 5);
        want.sync_maxlen = Some(1200);
        want.mcast_group = Some(ip("239.0.0.9"));
        want.mcast_port = Some(8000);
        want.mcast_ttl = Some(2);
        assert_eq!(d, vec![want]);
        h.del_daemon(DaemonState::Master).await.unwrap();
        assert_eq!(sh("ipvsadm -L --daemon").trim(), "");
    });
}
