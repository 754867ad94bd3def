//! Every error variant provoked for real in the kernel (or refused by our validation first).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use ipvs::*;

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn duplicate_and_missing_objects() {
    in_netns(|h| async move {
        let k = ServiceKey::tcp(ip("10.0.0.1"), 80);
        let s = Service::new(k);
        h.add_service(&s).await.unwrap();
        let e = h.add_service(&s).await.unwrap_err();
        assert!(
            matches!(&e, Error::AlreadyExists { op: Operation::AddService, target: Target::Service(t), .. } if *t == k),
            "{e}"
        );
        assert_eq!(e.errno(), Some(libc::EEXIST));
        assert_eq!(
            e.to_string(),
            "cannot add service TCP 10.0.0.1:80: it already exists"
        );

        let d = Destination::new(ip("10.0.1.1"), 80);
        h.add_destination(&k, &d).await.unwrap();
        let e = h.add_destination(&k, &d).await.unwrap_err();
        assert!(
            matches!(
                e,
                Error::AlreadyExists {
                    op: Operation::AddDest,
                    ..
                }
            ),
            "{e}"
        );

        let missing = ServiceKey::tcp(ip("10.0.0.2"), 80);
        for e in [
            h.del_service(&missing).await.unwrap_err(),
            h.edit_service(&Service::new(missing)).await.unwrap_err(),
            h.get_service(&missing).await.unwrap_err(),
            h.destinations(&missing).await.unwrap_err(),
        ] {
            assert!(
                matches!(&e, Error::NotFound { target: Target::Service(t), .. } if *t == missing),
                "{e}"
            );
        }
        let e = h.add_destination(&missing, &d).await.unwrap_err();
        assert!(
            matches!(&e, Error::NotFound { op: Operation::AddDest, target: Target::Destination { service, .. }, .. } if *service == missing),
            "{e}"
        );
        let gone = Destination::new(ip("10.0.1.9"), 80);
        for e in [
            h.del_destination(&k, gone.addr, gone.port)
                .await
                .unwrap_err(),
            h.edit_destination(&k, &gone).await.unwrap_err(),
        ] {
            assert!(
                matches!(
                    e,
                    Error::NotFound {
                        target: Target::Destination { .. },
                        ..
                    }
                ),
                "{e}"
            );
        }
    });
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn unknown_scheduler_and_persistence_engine() {
    in_netns(|h| async move {
        let k = ServiceKey::tcp(ip("10.0.0.1"), 80);
        let s = Service::new(k).with_scheduler(Scheduler::Other("nosuch".into()));
        let e = h.add_service(&s).await.unwrap_err();
        assert!(
            matches!(&e, Error::NoSuchScheduler { scheduler, .. } if scheduler == "nosuch"),
            "{e}"
        );
        let mut s = Service::new(k).persistent(10);
        s.persistence_engine = Some("nope".into());
        let e = h.add_service(&s).await.unwrap_err();
        assert!(
            matches!(&e, Error::NoSuchScheduler { pe: Some(p), .. } if p == "nope"),
            "{e}"
        );
        // On edit too.
        h.add_service(&Service::new(k)).await.unwrap();
        let e = h
            .edit_service(&Service::new(k).with_scheduler(Scheduler::Other("nosuch".into())))
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::NoSuchScheduler {
                    op: Operation::EditService,
                    ..
                }
            ),
            "{e}"
        );
    });
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn validation_refuses_before_the_kernel_says_einval() {
    in_netns(|h| async move {
        let k6 = ServiceKey::tcp(ip("2001:db8::1"), 80);
        let mut s = Service::new(k6);
        s.netmask = Some(0);
        let e = h.add_service(&s).await.unwrap_err();
        assert!(matches!(e, Error::InvalidArgument { .. }), "{e}");
        // The kernel would indeed refuse it: send the same attributes raw.
        let k = ServiceKey::tcp(ip("10.0.0.1"), 80);
        h.add_service(&Service::new(k)).await.unwrap();
        let cases = [
            Destination {
                lower_threshold: 10,
                upper_threshold: 5,
                ..Destination::new(ip("10.0.1.1"), 80)
            },
            Destination::new(ip("10.0.1.1"), 80).with_weight(u32::MAX),
            Destination::new(ip("2001:db8::2"), 80),
            Destination::new(ip("10.0.1.1"), 80).with_forwarding(Forwarding::Tunnel {
                tun_type: TunnelType::Gue,
                tun_port: 0,
                csum: false,
                remcsum: false,
            }),
            Destination::new(ip("224.0.0.1"), 80),
        ];
        for d in cases {
            let e = h.add_destination(&k, &d).await.unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::InvalidArgument {
                        op: Operation::AddDest,
                        ..
                    }
                ),
                "{d:?}: {e}"
            );
        }
        let long = Service::new(k).with_scheduler(Scheduler::Other("x".repeat(16)));
        assert!(matches!(
            h.edit_service(&long).await.unwrap_err(),
            Error::InvalidArgument { .. }
        ));
        let mut d = Daemon::new(DaemonState::Master, "lo", 1);
        d.mcast_group = Some(ip("10.0.0.1"));
        assert!(matches!(
            h.add_daemon(&d).await.unwrap_err(),
            Error::InvalidArgument { .. }
        ));
        assert!(matches!(
            h.set_timeouts(&Timeouts {
                tcp: u32::MAX,
                ..Default::default()
            })
            .await
            .unwrap_err(),
            Error::InvalidArgument { .. }
        ));
    });
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn kernel_einval_is_reported_with_context() {
    in_netns(|h| async move {
        // A real server address that is neither local nor unicast-routable in this netns is
        // refused by the kernel itself (EINVAL): we surface it as a Kernel error with context.
        let k = ServiceKey::tcp(ip("10.0.0.1"), 80);
        h.add_service(&Service::new(k)).await.unwrap();
        let e = h
            .add_destination(&k, &Destination::new(ip("255.255.255.255"), 80))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::InvalidArgument { .. }), "{e}");
        // Daemon on a missing interface: the kernel answers ENODEV.
        let e = h
            .add_daemon(&Daemon::new(DaemonState::Master, "nosuchif0", 1))
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::Kernel {
                    op: Operation::AddDaemon,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(e.errno(), Some(libc::ENODEV), "{e}");
    });
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn unsupported_features_on_older_kernels() {
    in_netns(|mut h| async move {
        let k = ServiceKey::tcp(ip("10.0.0.1"), 80);
        h.add_service(&Service::new(k)).await.unwrap();
        h.set_features(Features::from_release("5.1.0"));
        let gue = Destination::new(ip("10.0.1.1"), 80).with_forwarding(Forwarding::Tunnel {
            tun_type: TunnelType::Gue,
            tun_port: 6080,
            csum: false,
            remcsum: false,
        });
        let e = h.add_destination(&k, &gue).await.unwrap_err();
        assert!(matches!(e, Error::Unsupported { needs: "5.2", .. }), "{e}");
        h.set_features(Features::from_release("5.2.0"));
        let gre = Destination::new(ip("10.0.1.1"), 80).with_forwarding(Forwarding::Tunnel {
            tun_type: TunnelType::Gre,
            tun_port: 0,
            csum: true,
            remcsum: false,
        });
        let e = h.add_destination(&k, &gre).await.unwrap_err();
        assert!(matches!(e, Error::Unsupported { needs: "5.3", .. }), "{e}");
        // Plain IPIP is fine everywhere.
        h.add_destination(
            &k,
            &Destination::new(ip("10.0.1.1"), 80).with_forwarding(Forwarding::ipip()),
        )
        .await
        .unwrap();
    });
}

/// Rootless user namespace: root there is not CAP_NET_ADMIN in the initial user namespace.
/// The test re-executes itself under `unshare --user --map-root-user --net`.
#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn permission_denied_in_user_namespace() {
    if std::env::var_os("IPVS_TEST_USERNS_CHILD").is_some() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (conn, h) = ipvs::new_connection().unwrap();
            tokio::spawn(conn);
            let e = h
                .add_service(&Service::new(ServiceKey::tcp(ip("10.0.0.1"), 80)))
                .await
                .unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::PermissionDenied {
                        op: Operation::AddService,
                        ..
                    }
                ),
                "{e}"
            );
            assert_eq!(e.errno(), Some(libc::EPERM));
            let e = h.info().await.unwrap_err();
            assert!(matches!(e, Error::PermissionDenied { .. }), "{e}");
        });
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "--net", "--"])
        .arg(exe)
        .args([
            "--exact",
            "permission_denied_in_user_namespace",
            "--ignored",
            "--test-threads=1",
        ])
        .env("IPVS_TEST_USERNS_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 passed"), "{stdout}");
}
