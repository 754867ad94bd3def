//! Kernel test of Piranha's failover services (`service = fos`) in a pair: the seed's two
//! routers run a web service on 192.168.1.250:80 themselves (busybox httpd, started and stopped
//! by `start_cmd`/`stop_cmd` scripts), checked as nanny did. When the active router's service
//! dies, it steps down (runs `stop_cmd`, releases the address) and the backup starts it; when
//! the backup is stopped, the primary takes it back.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{ConfigFile, NatLab, director, get};
use testkit::Logged;

const SERVICE: &str = "192.168.1.250:80";

/// The scripts and what they record, in a temporary directory removed on drop.
struct Scripts(PathBuf);

impl Scripts {
    fn new() -> Scripts {
        let dir = std::env::temp_dir().join(format!("director-fos-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        for node in ["primary", "backup"] {
            std::fs::create_dir_all(dir.join(node)).expect("docroot");
            std::fs::write(dir.join(node).join("index.html"), node).expect("index");
        }
        // $1: the node, $2: this directory. busybox httpd is a web server we did not write.
        std::fs::write(
            dir.join("start.sh"),
            "echo \"start $1\" >> \"$2/events\"\n\
             busybox httpd -f -p 192.168.1.250:80 -h \"$2/$1\" >/dev/null 2>&1 &\n\
             echo $! > \"$2/$1.pid\"\n",
        )
        .expect("start.sh");
        std::fs::write(
            dir.join("stop.sh"),
            "echo \"stop $1\" >> \"$2/events\"\n\
             [ -f \"$2/$1.pid\" ] && kill \"$(cat \"$2/$1.pid\")\"\n\
             rm -f \"$2/$1.pid\"\n",
        )
        .expect("stop.sh");
        Scripts(dir)
    }

    fn dir(&self) -> &Path {
        &self.0
    }

    /// What the scripts did, in order.
    fn events(&self) -> Vec<String> {
        std::fs::read_to_string(self.0.join("events"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Kills `node`'s web server behind the director's back, as a crash would.
    fn crash(&self, node: &str) {
        let pid = std::fs::read_to_string(self.0.join(format!("{node}.pid"))).expect("running");
        let status = std::process::Command::new("kill")
            .arg(pid.trim())
            .status()
            .expect("kill");
        assert!(status.success());
    }
}

impl Drop for Scripts {
    fn drop(&mut self) {
        for node in ["primary", "backup"] {
            if let Ok(pid) = std::fs::read_to_string(self.0.join(format!("{node}.pid"))) {
                let _ = std::process::Command::new("kill").arg(pid.trim()).status();
            }
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The pair's lvs.cf for `node`: the same file but for the node name the scripts get.
fn config(scripts: &Scripts, node: &str) -> ConfigFile {
    let dir = scripts.dir().display();
    ConfigFile::new(
        &format!("fos-{node}"),
        &format!(
            "serial_no = 1\n\
             primary = 192.168.1.10\n\
             backup = 192.168.1.20\n\
             backup_active = 1\n\
             service = fos\n\
             keepalive = 1\n\
             deadtime = 3\n\
             failover web {{\n\
             \x20    active = 1\n\
             \x20    address = 192.168.1.250 eth0:1\n\
             \x20    vip_nmask = 255.255.255.0\n\
             \x20    port = 80\n\
             \x20    send = \"GET / HTTP/1.0\\r\\n\\r\\n\"\n\
             \x20    expect = \"HTTP\"\n\
             \x20    timeout = 1\n\
             \x20    reentry = 2\n\
             \x20    start_cmd = \"/bin/sh {dir}/start.sh {node} {dir}\"\n\
             \x20    stop_cmd = \"/bin/sh {dir}/stop.sh {node} {dir}\"\n\
             }}\n"
        ),
    )
}

/// Waits (at most 10 s) until the client's GET of the service answers `node`'s page.
fn served_by(lab: &NatLab, node: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = get(&lab.client, SERVICE);
        if got.as_deref().ok() == Some(node) {
            return;
        }
        assert!(Instant::now() < deadline, "not served by {node}: {got:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
#[ignore = "kernel test: run with `cargo xtask test`"]
fn a_failed_service_moves_to_the_peer_with_its_address_and_comes_back() {
    let lab = NatLab::new(2);
    let scripts = Scripts::new();
    let (primary_cf, backup_cf) = (config(&scripts, "primary"), config(&scripts, "backup"));
    let mut primary: Logged = director(&lab.routers[0], &primary_cf.0, "primary", &[]);
    let mut backup: Logged = director(&lab.routers[1], &backup_cf.0, "backup", &[]);
    primary.wait_for("this node is the primary");
    backup.wait_for("this node is the backup");
    primary.wait_for("took over 1 addresses");
    primary.wait_for("failover web: started");
    served_by(&lab, "primary");
    assert!(lab.addresses(0, "eth0").contains("192.168.1.250/24"));
    assert!(!lab.addresses(1, "eth0").contains("192.168.1.250"));

    // The service dies on the primary: its check fails, it steps down, the backup takes over.
    scripts.crash("primary");
    primary.wait_for("failover web: check failed");
    primary.wait_for("STANDBY (service-failed)");
    primary.wait_for("failover web: stopped");
    backup.wait_for("ACTIVE (peer-inactive)");
    backup.wait_for("failover web: started");
    served_by(&lab, "backup");
    assert!(!lab.addresses(0, "eth0").contains("192.168.1.250"));
    assert!(lab.addresses(1, "eth0").contains("192.168.1.250/24"));
    assert_eq!(
        scripts.events(),
        ["start primary", "stop primary", "start backup"]
    );

    // The backup is stopped (systemctl stop): it stops the service and lets the address go
    // first, then tells the primary, which has recovered and takes the service back.
    backup.signal(libc::SIGTERM).expect("SIGTERM");
    assert!(backup.child.wait().expect("exits").success());
    primary.wait_for("ACTIVE (peer-inactive)");
    primary.wait_for("failover web: started");
    served_by(&lab, "primary");
    assert_eq!(
        scripts.events(),
        [
            "start primary",
            "stop primary",
            "start backup",
            "stop backup",
            "start primary"
        ]
    );
    assert!(!lab.addresses(1, "eth0").contains("192.168.1.250"));
}
