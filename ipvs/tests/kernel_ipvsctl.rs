//! The `ipvsctl` tool (lvs-tools) against ipvsadm on a rich table: same listing, JSON round trip, apply.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/tables.rs"]
mod tables;

use common::*;
use tables::canon;

const RULES: &str = "\
-A -t 10.0.0.1:80 -s rr
-a -t 10.0.0.1:80 -r 10.0.1.1:8080 -m -w 3 -x 100 -y 10
-a -t 10.0.0.1:80 -r 10.0.1.2:80 -g -w 0
-a -t 10.0.0.1:80 -r 10.0.1.10:80 -g -w 0
-a -t 10.0.0.1:80 -r 10.0.1.9:80 -g -w 0
-a -t 10.0.0.1:80 -r [2001:db8::30]:80 -i -w 1 --tun-type ipip
-A -u 10.0.0.1:53 -s sh -p 600 -M 255.255.255.0 -b sh-fallback,sh-port
-a -u 10.0.0.1:53 -r 10.0.1.3:53 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum
-A -u 10.0.0.3:5060 -s rr -p 60 --pe sip -o
-A -t 10.0.0.20:80 -s wlc
-A -t 10.0.0.3:80 -s wlc
-A --sctp-service 10.0.0.2:3868 -s wlc
-a --sctp-service 10.0.0.2:3868 -r 10.0.1.5:3868 -m -w 2
-A -t [2001:db8::1]:443 -s mh -p 300 -M 64 -b mh-fallback
-a -t [2001:db8::1]:443 -r [2001:db8::10]:443 -m -w 5
-A -f 7 -s lc
-a -f 7 -r 10.0.1.4:0 -g -w 1
-A -f 8 -6 -s wrr
-a -f 8 -6 -r [2001:db8::20]:0 -i -w 1 --tun-type gre --tun-csum
";

fn ipvsctl() -> String {
    testkit::binary("lvs-tools", "ipvsctl")
        .display()
        .to_string()
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn list_matches_ipvsadm_and_json_apply_restores() {
    in_netns(|_h| async move {
        let ctl = ipvsctl();
        std::fs::write("/tmp/ipvsctl-rules", RULES).unwrap();
        sh("ipvsadm -R < /tmp/ipvsctl-rules");
        assert_eq!(sh(&format!("{ctl} list")), sh("ipvsadm -Ln"));
        assert_eq!(
            sh(&format!("{ctl} list --stats")),
            sh("ipvsadm -Ln --stats")
        );
        assert_eq!(sh(&format!("{ctl} list --rate")), sh("ipvsadm -Ln --rate"));
        let saved = sh("ipvsadm -Sn");
        let json = sh(&format!("{ctl} list --json"));
        let path = format!("/tmp/ipvsctl-{}.json", std::process::id());
        std::fs::write(&path, &json).unwrap();
        sh(&format!("{ctl} flush"));
        assert_eq!(sh("ipvsadm -Sn"), "");
        let out = sh(&format!("{ctl} apply {path}"));
        assert_eq!(out.lines().count(), 19, "{out}");
        // Same table, thresholds included.
        let mut a: Vec<_> = sh("ipvsadm -Sn").lines().map(String::from).collect();
        let mut b: Vec<_> = saved.lines().map(String::from).collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);
        assert!(
            sh("ipvsadm -Ln --thresholds").contains("10.0.1.1:8080                100        10")
        );
        // Nothing to change: nothing printed.
        assert_eq!(sh(&format!("{ctl} apply {path}")), "");
        // Edits through the CLI.
        sh(&format!("{ctl} edit-service -t 10.0.0.1:80 -s wrr"));
        sh(&format!(
            "{ctl} add-dest -t 10.0.0.1:80 -r 10.0.1.7:8080 --masquerading --weight 4 --u-threshold 9"
        ));
        sh(&format!(
            "{ctl} edit-dest -t 10.0.0.1:80 -r 10.0.1.7:8080 -m -w 6"
        ));
        sh(&format!("{ctl} del-dest -t 10.0.0.1:80 -r 10.0.1.2"));
        sh(&format!("{ctl} add-service -f 9 -6 -s sh -b sh-port -p"));
        sh(&format!("{ctl} del-service -u 10.0.0.3:5060"));
        sh(&format!("{ctl} timeouts 100 20 30"));
        assert_eq!(
            sh(&format!("{ctl} timeouts")),
            "Timeout (tcp tcpfin udp): 100 20 30\n"
        );
        let s = sh("ipvsadm -Sn");
        assert!(s.contains("-A -t 10.0.0.1:80 -s wrr\n"), "{s}");
        assert!(
            s.contains("-a -t 10.0.0.1:80 -r 10.0.1.7:8080 -m -w 6\n"),
            "{s}"
        );
        assert!(!s.contains("10.0.1.2:80"), "{s}");
        assert!(s.contains("-A -f 9 -6 -s sh -p 300 -b sh-port\n"), "{s}");
        assert!(!s.contains("5060"), "{s}");
        // And the reconciler puts it all back, one line per change.
        let out = sh(&format!("{ctl} apply {path}"));
        assert_eq!(out.lines().count(), 5, "{out}");
        let mut a: Vec<_> = sh("ipvsadm -Sn").lines().map(String::from).collect();
        a.sort();
        assert_eq!(a, b);
        let _ = std::fs::remove_file(&path);
    });
}

/// `services` services on 10.6.0.1 from port `1000 + first`, ten masqueraded real servers each.
fn generated(services: u16, first: u16) -> ipvs::Table {
    ipvs::Table {
        services: (0..services)
            .map(|i| ipvs::VirtualServer {
                service: ipvs::Service::new(ipvs::ServiceKey::tcp(
                    "10.6.0.1".parse().unwrap(),
                    1000 + first + i,
                )),
                destinations: (1..=10u8)
                    .map(|j| {
                        ipvs::Destination::new(std::net::IpAddr::from([10, 6, 1, j]), 80)
                            .with_forwarding(ipvs::Forwarding::Masquerade)
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// `ipvsctl apply FILE`, quietly; whether it succeeded.
fn apply(ctl: &str, file: &str) -> std::process::Child {
    std::process::Command::new(ctl)
        .args(["apply", file])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn an_apply_killed_at_random_moments_converges_on_the_next_one() {
    // `LVS_TEST_APPLY_KILLS` (3) kills of `ipvsctl apply` in a change of a tenth of
    // `LVS_TEST_APPLY_SERVICES` (1,000) x 10, no checks: `cargo xtask reliability --only
    // crashes` kills 20 of 10,000 x 10.
    let kills: u32 = testkit::scale("LVS_TEST_APPLY_KILLS", 3);
    let services: u16 = testkit::scale("LVS_TEST_APPLY_SERVICES", 1_000);
    in_netns(|h| async move {
        let ctl = ipvsctl();
        let file = format!("/tmp/ipvsctl-crash-{}.json", std::process::id());
        let write =
            |t: &ipvs::Table| std::fs::write(&file, serde_json::to_vec(t).unwrap()).unwrap();
        let t0 = std::time::Instant::now();
        write(&generated(services, 0));
        assert!(apply(&ctl, &file).wait().unwrap().success());
        let programmed = t0.elapsed();
        // One change of a tenth, uninterrupted: the window the kills fall in.
        let step = services / 10;
        let mut first = step;
        write(&generated(services, first));
        let t0 = std::time::Instant::now();
        assert!(apply(&ctl, &file).wait().unwrap().success());
        let window = t0.elapsed();
        let mut rng = testkit::random("crashes");
        let mut times = Vec::new();
        for k in 0..kills {
            first = (first + step) % (services * 2);
            let want = generated(services, first);
            write(&want);
            let mut child = apply(&ctl, &file);
            let at = window.mul_f64(rng.f64());
            std::thread::sleep(at);
            child.kill().unwrap();
            let status = child.wait().unwrap();
            // The next apply converges, in one run.
            let t0 = std::time::Instant::now();
            assert!(apply(&ctl, &file).wait().unwrap().success());
            let took = t0.elapsed();
            assert_eq!(
                canon(&ipvs::reconcile::observe(&h).await.unwrap()),
                canon(&want),
                "kill {k}"
            );
            println!(
                "crashes: apply kill {k} at {at:?} ({}): converged by the next apply in {took:?}",
                if status.success() {
                    "it had finished"
                } else {
                    "killed"
                }
            );
            times.push(took);
        }
        let _ = std::fs::remove_file(&file);
        times.sort();
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
        println!(
            "crashes: \n\
             crashes: Without checks, `ipvsctl apply` (the ipvs crate's reconciler) of {services} \
             x 10 (programmed in {:.0} ms; a change of a tenth in {:.0} ms) SIGKILLed {kills} \
             times at a random moment of a change of a tenth: each time the next apply \
             converged to the table exactly, in one run: p50 {:.0} ms, worst {:.0} ms.",
            ms(programmed),
            ms(window),
            ms(times[times.len() / 2]),
            ms(times[times.len() - 1]),
        );
    });
}
