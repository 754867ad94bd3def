//! Every IPVS command against the real kernel: what we write, we read back equal.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use futures::TryStreamExt;
use ipvs::*;

fn rich_services() -> Vec<Service> {
    let mut v = vec![
        Service::new(ServiceKey::tcp(ip("10.0.0.1"), 80)).with_scheduler(Scheduler::RoundRobin),
        Service::new(ServiceKey::sctp(ip("10.0.0.2"), 3868)),
        Service::new(ServiceKey::fwmark(Family::Inet, 7))
            .with_scheduler(Scheduler::LeastConnection),
        Service::new(ServiceKey::fwmark(Family::Inet6, 8))
            .with_scheduler(Scheduler::WeightedRoundRobin),
    ];
    let mut sh = Service::new(ServiceKey::udp(ip("10.0.0.1"), 53))
        .with_scheduler(Scheduler::SourceHashing)
        .persistent(600);
    sh.netmask = Some(24);
    sh.flags.sched_fallback = true;
    sh.flags.sched_port = true;
    v.push(sh);
    let mut sip = Service::new(ServiceKey::udp(ip("10.0.0.3"), 5060))
        .with_scheduler(Scheduler::RoundRobin)
        .persistent(60);
    sip.persistence_engine = Some("sip".into());
    sip.flags.one_packet = true;
    v.push(sip);
    let mut mh = Service::new(ServiceKey::tcp(ip("2001:db8::1"), 443))
        .with_scheduler(Scheduler::MaglevHashing)
        .persistent(300);
    mh.netmask = Some(64);
    mh.flags.sched_fallback = true;
    v.push(mh);
    v.push(Service::new(ServiceKey::udp(ip("2001:db8::1"), 0)).persistent(30));
    v
}

async fn read_services(h: &Handle) -> Vec<Service> {
    let mut v: Vec<Service> = h
        .services()
        .map_ok(|e| e.service)
        .try_collect()
        .await
        .unwrap();
    v.sort_by_key(|s| s.key);
    v
}

fn sorted(mut v: Vec<Service>) -> Vec<Service> {
    v.sort_by_key(|s| s.key);
    v
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn get_info() {
    in_netns(|h| async move {
        let info = h.info().await.unwrap();
        assert_eq!(info.version, 0x010201);
        assert!(info.conn_tab_size >= 4096, "{info:?}");
    });
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn services_write_read_edit_delete() {
    in_netns(|h| async move {
        let services = rich_services();
        for s in &services {
            h.add_service(s).await.unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(read_services(&h).await, sorted(services.clone()));
        // GET_SERVICE (do) for each.
        for s in &services {
            assert_eq!(h.get_service(&s.key).await.unwrap().service, *s);
        }
        // Edit every service in place: scheduler, flags, timeout, netmask, PE removal.
        let mut edited = services.clone();
        for s in &mut edited {
            s.scheduler = Scheduler::WeightedLeastConnection;
            s.flags = ServiceFlags::default();
            s.flags.persistent = true;
            s.timeout = 120;
            s.netmask = Some(if s.key.family() == Family::Inet {
                16
            } else {
                48
            });
            s.persistence_engine = None;
            h.edit_service(s).await.unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(read_services(&h).await, sorted(edited.clone()));
        // Delete half, then flush the rest.
        for s in edited.iter().step_by(2) {
            h.del_service(&s.key).await.unwrap();
        }
        let rest: Vec<Service> = edited.iter().skip(1).step_by(2).cloned().collect();
        assert_eq!(read_services(&h).await, sorted(rest));
        h.flush().await.unwrap();
        assert!(read_services(&h).await.is_empty());
    });
}

fn rich_dests() -> Vec<(ServiceKey, Vec<Destination>)> {
    let web = ServiceKey::tcp(ip("10.0.0.1"), 80);
    let dns = ServiceKey::udp(ip("10.0.0.1"), 53);
    let v6 = ServiceKey::tcp(ip("2001:db8::1"), 443);
    let fw = ServiceKey::fwmark(Family::Inet6, 8);
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
                // Mixed family: IPv6 real server behind an IPv4 service, tunnelled.
                Destination::new(ip("2001:db8::30"), 80).with_forwarding(Forwarding::ipip()),
                Destination::new(ip("10.0.1.6"), 80).with_forwarding(Forwarding::Local),
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
                Destination::new(ip("10.0.1.7"), 53).with_forwarding(Forwarding::Tunnel {
                    tun_type: TunnelType::Gue,
                    tun_port: 6081,
                    csum: false,
                    remcsum: true,
                }),
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
        (
            fw,
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

async fn read_dests(h: &Handle, k: &ServiceKey) -> Vec<Destination> {
    let mut v: Vec<Destination> = h
        .destinations(k)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.destination)
        .collect();
    v.sort_by_key(|d| (d.addr, d.port));
    v
}

fn sorted_d(mut v: Vec<Destination>) -> Vec<Destination> {
    v.sort_by_key(|d| (d.addr, d.port));
    v
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn destinations_write_read_edit_delete() {
    in_netns(|h| async move {
        for s in rich_services() {
            h.add_service(&s).await.unwrap();
        }
        let table = rich_dests();
        for (k, ds) in &table {
            for d in ds {
                h.add_destination(k, d)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
            }
        }
        for (k, ds) in &table {
            assert_eq!(read_dests(&h, k).await, sorted_d(ds.clone()), "{k}");
        }
        // Counters are reported (no traffic: zero) and decode.
        let e = h.destinations(&table[0].0).await.unwrap();
        assert!(
            e.iter()
                .all(|e| e.active_conns == 0 && e.inactive_conns == 0 && e.persistent_conns == 0)
        );
        // Edit every destination: weight, thresholds, forwarding.
        for (k, ds) in &table {
            let mut want = Vec::new();
            for d in ds {
                let mut d2 = d.clone();
                d2.weight += 10;
                d2.upper_threshold = 50;
                d2.lower_threshold = 5;
                if d2.forwarding == Forwarding::DirectRoute {
                    d2.forwarding = Forwarding::Masquerade;
                }
                h.edit_destination(k, &d2)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                want.push(d2);
            }
            assert_eq!(read_dests(&h, k).await, sorted_d(want), "{k}");
        }
        // Delete them.
        for (k, ds) in &table {
            for d in ds {
                h.del_destination(k, d.addr, d.port).await.unwrap();
            }
            assert!(read_dests(&h, k).await.is_empty());
        }
    });
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn timeouts_get_set() {
    in_netns(|h| async move {
        let t0 = h.timeouts().await.unwrap();
        assert_eq!(
            t0,
            Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300
            }
        );
        let t1 = Timeouts {
            tcp: 3600,
            tcp_fin: 60,
            udp: 45,
        };
        h.set_timeouts(&t1).await.unwrap();
        assert_eq!(h.timeouts().await.unwrap(), t1);
        // 0 keeps a value.
        h.set_timeouts(&Timeouts {
            tcp: 0,
            tcp_fin: 0,
            udp: 77,
        })
        .await
        .unwrap();
        assert_eq!(h.timeouts().await.unwrap(), Timeouts { udp: 77, ..t1 });
        assert_eq!(
            sh("ipvsadm -L --timeout").trim(),
            "Timeout (tcp tcpfin udp): 3600 60 77"
        );
    });
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn zero_all_and_one() {
    in_netns(|h| async move {
        let k = ServiceKey::tcp(ip("10.0.0.1"), 80);
        h.add_service(&Service::new(k)).await.unwrap();
        h.zero(None).await.unwrap();
        h.zero(Some(&k)).await.unwrap();
        let e = h.get_service(&k).await.unwrap();
        assert_eq!(e.stats, Stats::default());
        let missing = ServiceKey::tcp(ip("10.0.0.9"), 80);
        let err = h.zero(Some(&missing)).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::NotFound {
                    op: Operation::Zero,
                    ..
                }
            ),
            "{err}"
        );
    });
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn sync_daemons() {
    in_netns(|h| async move {
        sh("ip link add sv0 type veth peer name sv1 && ip link set sv0 up && ip link set sv1 up");
        assert!(h.daemons().await.unwrap().is_empty());
        let mut master = Daemon::new(DaemonState::Master, "sv0", 7);
        master.sync_maxlen = Some(1400);
        master.mcast_group = Some(ip("239.1.2.3"));
        master.mcast_port = Some(8850);
        master.mcast_ttl = Some(3);
        h.add_daemon(&master)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut backup = Daemon::new(DaemonState::Backup, "sv1", 9);
        backup.mcast_group = Some(ip("ff02::1:3"));
        backup.mcast_port = Some(8851);
        h.add_daemon(&backup)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut got = h.daemons().await.unwrap();
        got.sort_by_key(|d| d.state);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], master);
        assert_eq!(got[1].interface, "sv1");
        assert_eq!(got[1].sync_id, 9);
        assert_eq!(got[1].mcast_group, backup.mcast_group);
        assert_eq!(got[1].mcast_port, Some(8851));
        let err = h.add_daemon(&master).await.unwrap_err();
        assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
        h.del_daemon(DaemonState::Backup).await.unwrap();
        h.del_daemon(DaemonState::Master).await.unwrap();
        assert!(h.daemons().await.unwrap().is_empty());
        let err = h.del_daemon(DaemonState::Master).await.unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
    });
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn netns_handle_sees_only_its_namespace() {
    in_netns(|h| async move {
        let k = ServiceKey::tcp(ip("10.9.9.9"), 80);
        h.add_service(&Service::new(k)).await.unwrap();
        // A handle created for another namespace (made with testkit) does not see it...
        let other_ns = new_netns();
        let (conn, other) = ipvs::new_connection_in_netns(other_ns.path()).unwrap();
        tokio::spawn(conn);
        let there: Vec<ServiceEntry> = other.services().try_collect().await.unwrap();
        assert!(there.is_empty());
        // ...and what it programs lands there: ipvsadm run in that namespace shows it.
        let k2 = ServiceKey::udp(ip("10.8.8.8"), 53);
        other.add_service(&Service::new(k2)).await.unwrap();
        let shown = other_ns.exec("ipvsadm", ["-Sn"]).unwrap();
        assert_eq!(shown.trim(), "-A -u 10.8.8.8:53 -s wlc");
        // And a handle for this thread's namespace through its path sees ours only.
        let tid = unsafe { libc::gettid() };
        let (conn, same) =
            ipvs::new_connection_in_netns(format!("/proc/self/task/{tid}/ns/net")).unwrap();
        tokio::spawn(conn);
        let here: Vec<ServiceEntry> = same.services().try_collect().await.unwrap();
        assert_eq!(here.len(), 1);
        assert_eq!(here[0].service.key, k);
    });
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn batch_programs_many_objects() {
    in_netns(|h| async move {
        use ipvs::reconcile::Op;
        let mut ops = Vec::new();
        for i in 0..300u16 {
            let k = ServiceKey::tcp(ip("10.1.0.1"), 1000 + i);
            ops.push(Op::AddService(Service::new(k)));
            for j in 0..3u8 {
                ops.push(Op::AddDest(
                    k,
                    Destination::new(std::net::IpAddr::from([10, 2, 0, j + 1]), 80),
                ));
            }
        }
        // One op that fails in the middle, and one refused by validation.
        ops.insert(
            10,
            Op::AddService(Service::new(ServiceKey::tcp(ip("10.1.0.1"), 1000))),
        );
        let mut bad = Service::new(ServiceKey::tcp(ip("2001:db8::5"), 1));
        bad.netmask = Some(0);
        ops.insert(20, Op::AddService(bad));
        // Errors in a later datagram, and on the last op (the one that carries the ACK).
        let k0 = ServiceKey::tcp(ip("10.1.0.1"), 1000);
        ops.insert(700, Op::DelDest(k0, ip("10.9.9.9"), 80));
        ops.push(Op::AddDest(k0, Destination::new(ip("10.2.0.1"), 80)));
        let last = ops.len() - 1;
        let res = h.execute_batch(&ops).await;
        assert_eq!(res.len(), ops.len());
        for (i, r) in res.iter().enumerate() {
            match i {
                10 => assert!(matches!(r, Err(Error::AlreadyExists { .. })), "{r:?}"),
                20 => assert!(matches!(r, Err(Error::InvalidArgument { .. })), "{r:?}"),
                700 => assert!(
                    matches!(
                        r,
                        Err(Error::NotFound {
                            op: Operation::DelDest,
                            ..
                        })
                    ),
                    "{r:?}"
                ),
                i if i == last => {
                    assert!(
                        matches!(
                            r,
                            Err(Error::AlreadyExists {
                                op: Operation::AddDest,
                                ..
                            })
                        ),
                        "{r:?}"
                    )
                }
                _ => assert!(r.is_ok(), "op {i}: {r:?}"),
            }
        }
        let t = h.table().await.unwrap();
        assert_eq!(t.len(), 300);
        assert!(t.iter().all(|(_, d)| d.len() == 3));
    });
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn request_builders_and_message_escape_hatch() {
    in_netns(|h| async move {
        use ipvs::codec::{CmdAttr, SvcAttr};
        let k = ServiceKey::tcp(ip("10.0.0.1"), 80);
        h.service().add(Service::new(k)).execute().await.unwrap();
        // The escape hatch: rewrite the scheduler attribute of an edit before sending.
        let mut req = h.service().edit(Service::new(k));
        let msg = req.message_mut().unwrap();
        for a in &mut msg.attrs {
            if let CmdAttr::Service(s) = a {
                for sa in s.iter_mut() {
                    if let SvcAttr::SchedName(n) = sa {
                        *n = "rr".into();
                    }
                }
            }
        }
        req.execute().await.unwrap();
        assert_eq!(
            h.service().get(&k).await.unwrap().service.scheduler,
            Scheduler::RoundRobin
        );
        let d = Destination::new(ip("10.0.1.1"), 80).with_forwarding(Forwarding::Masquerade);
        h.destination(k).add(d.clone()).execute().await.unwrap();
        h.destination(k)
            .edit(d.clone().with_weight(7))
            .execute()
            .await
            .unwrap();
        let got: Vec<DestinationEntry> = h.destination(k).list().try_collect().await.unwrap();
        assert_eq!(got[0].destination, d.clone().with_weight(7));
        // Validation errors surface at execute().
        let mut bad = h.destination(k).add(d.clone().with_weight(u32::MAX));
        assert!(bad.message_mut().is_none());
        assert!(matches!(
            bad.execute().await.unwrap_err(),
            Error::InvalidArgument { .. }
        ));
        h.destination(k)
            .del(d.addr, d.port)
            .execute()
            .await
            .unwrap();
        h.service().del(k).execute().await.unwrap();
        let left: Vec<ServiceEntry> = h.service().list().try_collect().await.unwrap();
        assert!(left.is_empty());
    });
}
