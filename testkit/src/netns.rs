//! Network namespaces ([`NetNs`]) and the veth pairs between them ([`Veth`]).

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::Error;

/// Where `ip netns` keeps its namespace files.
const NETNS_DIR: &str = "/run/netns";

/// Makes names unique within this process; the process id makes them unique on the machine.
static NEXT_ID: AtomicU32 = AtomicU32::new(0);

/// A network namespace created for a test, deleted (with every interface in it) on drop.
///
/// Its name is `testkit-PID-N`; it is visible to `ip netns` and to `ip -n NAME`. `lo` is up.
#[derive(Debug)]
pub struct NetNs {
    name: String,
}

/// The two ends of a veth pair created by [`NetNs::veth`].
///
/// The pair has no guard of its own: it disappears with either namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Veth {
    name: String,
    peer_name: String,
}

impl Veth {
    /// The interface name of the end in the namespace [`NetNs::veth`] was called on.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The interface name of the end in the peer namespace.
    pub fn peer_name(&self) -> &str {
        &self.peer_name
    }
}

impl NetNs {
    /// Creates a new, uniquely named network namespace and brings its `lo` up.
    ///
    /// Needs root (`CAP_SYS_ADMIN`) and `ip` from iproute2.
    pub fn new() -> Result<Self, Error> {
        let name = loop {
            let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            let name = format!("testkit-{}-{id}", std::process::id());
            // A namespace left behind by a killed run of an earlier process with our pid: skip.
            if !Path::new(NETNS_DIR).join(&name).exists() {
                break name;
            }
        };
        run_checked(Command::new("ip").args(["netns", "add", &name]))?;
        // From here on, dropping `ns` deletes the namespace.
        let ns = Self { name };
        ns.ip(["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name, as `ip netns` knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace's file (`/run/netns/NAME`), for `setns(2)` or `nsenter --net=`.
    pub fn path(&self) -> PathBuf {
        Path::new(NETNS_DIR).join(&self.name)
    }

    /// Runs `ip -n NAME ARGS…` and returns its stdout; fails if it exits non-zero.
    pub fn ip<I, S>(&self, args: I) -> Result<String, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        run_checked(Command::new("ip").args(["-n", &self.name]).args(args))
    }

    /// A [`Command`] that runs `program` inside this namespace (through `ip netns exec`).
    ///
    /// Add arguments, environment and stdio as usual. The child sees this namespace's network and
    /// a `/sys` that matches it.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    /// Runs `program ARGS…` inside this namespace and returns its stdout; fails (with its stderr)
    /// if it exits non-zero.
    pub fn exec<I, S>(&self, program: impl AsRef<OsStr>, args: I) -> Result<String, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        run_checked(self.command(program).args(args))
    }

    /// Runs `f` inside this namespace and returns what it returns.
    ///
    /// `f` runs on a new thread that enters the namespace with `setns(2)`, so the calling thread
    /// never changes namespace. Sockets `f` creates belong to this namespace for their whole life
    /// and may be returned to the caller. A panic in `f` is resumed in the caller.
    pub fn run<F, T>(&self, f: F) -> Result<T, Error>
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        let path = self.path();
        let file = File::open(&path).map_err(|source| Error::Open {
            path: path.clone(),
            source,
        })?;
        std::thread::scope(|scope| {
            let thread = std::thread::Builder::new()
                .name(format!("netns {}", self.name))
                .spawn_scoped(scope, move || {
                    enter(&file).map_err(|source| Error::Setns { path, source })?;
                    Ok(f())
                })
                .map_err(|source| Error::Thread {
                    name: self.name.clone(),
                    source,
                })?;
            match thread.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    /// A [`LinkSwitch`] for this namespace's interfaces.
    pub fn link_switch(&self) -> Result<LinkSwitch, Error> {
        // SAFETY: socket(2) has no memory arguments; the descriptor is owned at once.
        let fd = self.run(|| unsafe {
            libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0)
        })?;
        if fd < 0 {
            return Err(Error::Link {
                dev: "(socket)".into(),
                state: "up or down",
                source: std::io::Error::last_os_error(),
            });
        }
        // SAFETY: a fresh descriptor that nothing else owns.
        Ok(LinkSwitch {
            fd: unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Starts `f` on a new thread inside this namespace and returns at once: a background
    /// worker (a client that keeps sending, a server) whose sockets all belong here. Join the
    /// handle for its result; the namespace must outlive the thread's use of the network.
    pub fn spawn<F, T>(&self, f: F) -> Result<std::thread::JoinHandle<T>, Error>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let path = self.path();
        let file = File::open(&path).map_err(|source| Error::Open {
            path: path.clone(),
            source,
        })?;
        // Entered here, before the thread is handed out: a failure is the caller's error,
        // not a panic inside the worker.
        let (entered, result) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(format!("netns {}", self.name))
            .spawn(move || {
                if let Err(e) = enter(&file) {
                    let _ = entered.send(Err(e));
                    // Never run `f` outside the namespace; the caller has the error.
                    panic!("cannot enter the network namespace");
                }
                let _ = entered.send(Ok(()));
                f()
            })
            .map_err(|source| Error::Thread {
                name: self.name.clone(),
                source,
            })?;
        match result.recv() {
            Ok(Ok(())) => Ok(thread),
            Ok(Err(source)) => Err(Error::Setns { path, source }),
            Err(_) => Err(Error::Thread {
                name: self.name.clone(),
                source: io::Error::other("the thread ended before entering the namespace"),
            }),
        }
    }

    /// Creates a bridge named `name` here and brings it up: a switch for several namespaces
    /// ([`NetNs::attach`]).
    pub fn bridge(&self, name: &str) -> Result<(), Error> {
        self.ip(["link", "add", name, "type", "bridge"])?;
        self.ip(["link", "set", name, "up"])?;
        Ok(())
    }

    /// Plugs this namespace into `bridge` of `switch` (made with [`NetNs::bridge`]): a veth pair
    /// with one end here (address `addr`, CIDR notation, up) and the other end a port of the
    /// bridge. [`Veth::name`] is the end here.
    pub fn attach(&self, switch: &NetNs, bridge: &str, addr: &str) -> Result<Veth, Error> {
        let veth = self.pair(switch)?;
        self.ip(["address", "add", addr, "dev", &veth.name])?;
        self.ip(["link", "set", &veth.name, "up"])?;
        switch.ip(["link", "set", &veth.peer_name, "master", bridge, "up"])?;
        Ok(veth)
    }

    /// A veth pair with one end here and the other in `peer`, both down and without addresses.
    fn pair(&self, peer: &NetNs) -> Result<Veth, Error> {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let veth = Veth {
            name: format!("veth{id}a"),
            peer_name: format!("veth{id}b"),
        };
        self.ip([
            "link",
            "add",
            &veth.name,
            "type",
            "veth",
            "peer",
            "name",
            &veth.peer_name,
            "netns",
            &peer.name,
        ])?;
        Ok(veth)
    }

    /// Creates a veth pair with one end here (address `addr`, CIDR notation such as `10.0.0.1/24`)
    /// and the other end in `peer` (address `peer_addr`), and brings both ends up.
    pub fn veth(&self, addr: &str, peer: &NetNs, peer_addr: &str) -> Result<Veth, Error> {
        let veth = self.pair(peer)?;
        for (ns, dev, addr) in [(self, &veth.name, addr), (peer, &veth.peer_name, peer_addr)] {
            ns.ip(["address", "add", addr, "dev", dev])?;
            ns.ip(["link", "set", dev, "up"])?;
        }
        Ok(veth)
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        // Deleting the namespace destroys its interfaces, and a veth pair goes with either end.
        if let Err(e) = run_checked(Command::new("ip").args(["netns", "delete", &self.name])) {
            eprintln!(
                "testkit: cannot delete network namespace {}: {e}",
                self.name
            );
        }
    }
}

/// Moves the calling thread into the network namespace `file` refers to.
fn enter(file: &File) -> io::Result<()> {
    // SAFETY: setns only reads the descriptor, which `file` keeps open for the call, and changes
    // nothing but the calling thread's network namespace.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Runs `cmd` to completion; its stdout on success, an error naming the command otherwise.
fn run_checked(cmd: &mut Command) -> Result<String, Error> {
    let output: Output = cmd.output().map_err(|source| Error::Spawn {
        command: command_line(cmd),
        source,
    })?;
    if !output.status.success() {
        return Err(Error::CommandFailed {
            command: command_line(cmd),
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr)
                .trim_end()
                .to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `cmd` as a readable command line, for error messages.
fn command_line(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|word| word.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_joins_program_and_arguments() {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "add", "x"]);
        assert_eq!(command_line(&cmd), "ip netns add x");
    }

    #[test]
    fn command_runs_inside_the_namespace_through_ip_netns_exec() {
        let ns = NetNs {
            name: "never-created".into(),
        };
        let cmd = ns.command("ipvsadm");
        assert_eq!(command_line(&cmd), "ip netns exec never-created ipvsadm");
        // Nothing to delete: forget it instead of running `ip netns delete` on drop.
        std::mem::forget(ns);
    }

    #[test]
    fn path_is_under_run_netns() {
        let ns = NetNs { name: "n1".into() };
        assert_eq!(ns.path(), Path::new("/run/netns/n1"));
        std::mem::forget(ns);
    }
}

/// Sets a namespace's links up or down from the calling thread, with two `ioctl`s each and no
/// process: for tests that time what follows a machine falling off its networks (`ip link set`
/// takes tens of milliseconds to start under emulation). Made by [`NetNs::link_switch`], which
/// opens its socket inside the namespace once.
///
/// ```no_run
/// # fn main() -> Result<(), testkit::Error> {
/// let ns = testkit::NetNs::new()?;
/// let switch = ns.link_switch()?;
/// switch.set("lo", true)?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct LinkSwitch {
    fd: std::os::fd::OwnedFd,
}

impl LinkSwitch {
    /// Sets `dev` up (`true`) or down.
    pub fn set(&self, dev: &str, up: bool) -> Result<(), Error> {
        let state = if up { "up" } else { "down" };
        let failed = |source| Error::Link {
            dev: dev.to_owned(),
            state,
            source,
        };
        if dev.len() >= libc::IFNAMSIZ {
            return Err(failed(std::io::Error::from_raw_os_error(
                libc::ENAMETOOLONG,
            )));
        }
        // SAFETY: an all-zero ifreq is valid; the name is copied with its terminating zero.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (d, s) in req.ifr_name.iter_mut().zip(dev.bytes()) {
            *d = s as libc::c_char;
        }
        let fd = self.fd.as_raw_fd();
        // SAFETY: SIOCGIFFLAGS and SIOCSIFFLAGS read and write the ifreq they are given.
        if unsafe { libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) } < 0 {
            return Err(failed(std::io::Error::last_os_error()));
        }
        // SAFETY: the flags member of the union, just filled in by SIOCGIFFLAGS.
        let flags = unsafe { &mut req.ifr_ifru.ifru_flags };
        let up_flag = libc::IFF_UP as libc::c_short;
        *flags = if up {
            *flags | up_flag
        } else {
            *flags & !up_flag
        };
        // SAFETY: as above.
        if unsafe { libc::ioctl(fd, libc::SIOCSIFFLAGS, &req) } < 0 {
            return Err(failed(std::io::Error::last_os_error()));
        }
        Ok(())
    }
}
