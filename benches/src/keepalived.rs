//! keepalived (Debian's package) as a peer in the benchmarks: started in a network namespace
//! with its own configuration and pid files, its log read line by line, stopped as a whole
//! (its parent and the VRRP and checker children it forks).

use std::{
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::Command,
};

use testkit::{Logged, NetNs};

/// The program, as Debian installs it.
pub const PROGRAM: &str = "/usr/sbin/keepalived";

/// Which of keepalived's subsystems to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subsystems {
    /// Both VRRP and the health checkers (keepalived's default).
    All,
    /// Only the checkers and IPVS (`--check`).
    Checkers,
}

/// Where keepalived's log goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Log {
    /// To stderr (`--log-console --log-detail`), read line by line.
    Console,
    /// To syslog, as installed (the rig has no syslog daemon: nowhere). For measurements where
    /// a line per real server on a pipe would only add work.
    Syslog,
}

/// A running keepalived.
pub struct Keepalived {
    /// The parent process; its log, with [`Log::Console`], is read from stderr.
    pub process: Logged,
    files: Vec<PathBuf>,
}

impl Keepalived {
    /// Writes `config` to a file named after `name` and starts keepalived on it, in `ns` (or in
    /// the caller's namespace when `None`), in a process group of its own, logging to `log`.
    pub fn start(
        ns: Option<&NetNs>,
        name: &str,
        config: &str,
        subsystems: Subsystems,
        log: Log,
    ) -> std::io::Result<Keepalived> {
        let dir = std::env::temp_dir();
        let file = |ext: &str| dir.join(format!("keepalived-{}-{name}.{ext}", std::process::id()));
        let conf = file("conf");
        std::fs::write(&conf, config)?;
        let pids = [file("pid"), file("vrrp.pid"), file("check.pid")];
        let mut cmd = match ns {
            Some(ns) => ns.command(PROGRAM),
            None => Command::new(PROGRAM),
        };
        cmd.arg("--dont-fork");
        if log == Log::Console {
            cmd.args(["--log-console", "--log-detail"]);
        }
        cmd.arg("-f")
            .arg(&conf)
            .arg("-p")
            .arg(&pids[0])
            .arg("-r")
            .arg(&pids[1])
            .arg("-c")
            .arg(&pids[2]);
        if subsystems == Subsystems::Checkers {
            cmd.arg("--check");
        }
        cmd.process_group(0);
        let process = Logged::spawn(cmd, name).map_err(std::io::Error::other)?;
        let mut files = vec![conf];
        files.extend(pids);
        Ok(Keepalived { process, files })
    }

    /// The parent's process id.
    pub fn pid(&self) -> u32 {
        self.process.child.id()
    }

    /// Kills every process of the group at once, as when the machine dies.
    pub fn kill(&mut self) {
        self.signal_group(libc::SIGKILL);
        let _ = self.process.child.wait();
    }

    /// Freezes every process of the group (SIGSTOP): from now on it does nothing at all.
    pub fn freeze(&self) {
        self.signal_group(libc::SIGSTOP);
    }

    /// Asks keepalived to stop (it removes its addresses and IPVS entries) and waits.
    pub fn stop(&mut self) {
        self.signal_group(libc::SIGTERM);
        let _ = self.process.child.wait();
    }

    fn signal_group(&self, signal: libc::c_int) {
        if let Ok(pgid) = libc::pid_t::try_from(self.pid()) {
            // SAFETY: kill(2) on our own child's process group.
            unsafe { libc::kill(-pgid, signal) };
        }
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        // A group already gone makes this a no-op.
        self.kill();
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
    }
}

/// `keepalived --version`'s first line, or why there is none.
pub fn version() -> String {
    version_of(Path::new(PROGRAM), &["--version"])
}

/// The first line `program ARGS` prints (on stdout or stderr), or why there is none.
pub fn version_of(program: &Path, args: &[&str]) -> String {
    match Command::new(program).args(args).output() {
        Ok(out) => {
            let text = [out.stdout, out.stderr].concat();
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        }
        Err(e) => format!("{} not available: {e}", program.display()),
    }
}
