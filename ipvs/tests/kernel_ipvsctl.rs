//! The `ipvsctl` tool (lvs-tools) against ipvsadm on a rich table: same listing, JSON round trip, apply.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

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
