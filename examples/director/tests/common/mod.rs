//! What the director's kernel tests share: the director as a process, real HTTP servers
//! (busybox httpd), a name-telling echo server for long connections, and a client.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    time::Duration,
};

use testkit::{Logged, NetNs};

/// Starts `director run --config FILE ARGS…` in `ns`, its log lines echoed with `tag`.
pub fn director(ns: &NetNs, config: &Path, tag: &str, args: &[&str]) -> Logged {
    let mut cmd = ns.command(env!("CARGO_BIN_EXE_director"));
    cmd.args(["run", "--config"]).arg(config).args(args);
    Logged::spawn(cmd, tag).expect("the director starts")
}

/// Writes an lvs.cf for this test process; removed on drop.
pub struct ConfigFile(pub PathBuf);

impl ConfigFile {
    pub fn new(name: &str, text: &str) -> ConfigFile {
        let path = std::env::temp_dir().join(format!("director-{name}-{}.cf", std::process::id()));
        std::fs::write(&path, text).expect("config");
        ConfigFile(path)
    }

    pub fn write(&self, text: &str) {
        std::fs::write(&self.0, text).expect("config");
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A real HTTP server we did not write: busybox httpd, serving `name` as its index page.
pub struct Httpd {
    pub process: Logged,
    root: PathBuf,
}

impl Httpd {
    /// Starts busybox httpd in `ns` bound to `bind` (e.g. `10.0.0.100:80`).
    pub fn start(ns: &NetNs, bind: &str, name: &str) -> Httpd {
        let root = std::env::temp_dir().join(format!(
            "director-httpd-{}-{}",
            std::process::id(),
            bind.replace([':', '.'], "_")
        ));
        std::fs::create_dir_all(&root).expect("docroot");
        std::fs::write(root.join("index.html"), name).expect("index");
        let mut cmd = ns.command("busybox");
        cmd.args(["httpd", "-f", "-v", "-p", bind, "-h"]).arg(&root);
        let process = Logged::spawn(cmd, name).expect("busybox httpd");
        Httpd { process, root }
    }
}

impl Drop for Httpd {
    fn drop(&mut self) {
        let _ = self.process.child.kill();
        let _ = self.process.child.wait();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// One HTTP/1.0 GET from `client` to `addr`; the body.
pub fn get(client: &NetNs, addr: &str) -> std::io::Result<String> {
    client
        .run(|| {
            let mut s = TcpStream::connect_timeout(
                &addr.parse().expect("address"),
                Duration::from_secs(3),
            )?;
            s.set_read_timeout(Some(Duration::from_secs(3)))?;
            s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
            let mut out = String::new();
            s.read_to_string(&mut out)?;
            Ok(out.split("\r\n\r\n").nth(1).unwrap_or_default().to_string())
        })
        .expect("netns")
}

/// A TCP server that greets each connection with `name\n`, then echoes lines back.
pub fn echo_server(ns: &NetNs, bind: &str, name: &'static str) {
    let bind = bind.to_string();
    let listener = ns
        .run(move || TcpListener::bind(bind))
        .expect("netns")
        .expect("bind");
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut out = s.try_clone().expect("clone");
                let _ = writeln!(out, "{name}");
                for line in BufReader::new(s).lines().map_while(Result::ok) {
                    if writeln!(out, "{line}").is_err() {
                        return;
                    }
                }
            });
        }
    });
}

/// A long connection through the VIP to an [`echo_server`].
pub struct Conversation {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    /// The server that greeted it.
    pub server: String,
}

impl Conversation {
    pub fn open(client: &NetNs, addr: &str) -> Conversation {
        let addr: std::net::SocketAddr = addr.parse().expect("address");
        let stream = client
            .run(move || TcpStream::connect_timeout(&addr, Duration::from_secs(3)))
            .expect("netns")
            .expect("connect through the VIP");
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .expect("timeout");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut server = String::new();
        reader.read_line(&mut server).expect("greeting");
        Conversation {
            stream,
            reader,
            server: server.trim().to_string(),
        }
    }

    /// Sends `text` and reads its echo.
    pub fn echo(&mut self, text: &str) -> std::io::Result<String> {
        writeln!(self.stream, "{text}")?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        Ok(line.trim().to_string())
    }
}

/// Renames an interface (the same lvs.cf serves both directors, so their devices must be named
/// alike, as on real machines).
pub fn rename(ns: &NetNs, from: &str, to: &str) {
    ns.ip(["link", "set", from, "down"]).expect("down");
    ns.ip(["link", "set", from, "name", to]).expect("rename");
    ns.ip(["link", "set", to, "up"]).expect("up");
}

/// `ipvsadm ARGS` in `ns`.
pub fn ipvsadm(ns: &NetNs, args: &[&str]) -> String {
    ns.exec("ipvsadm", args).expect("ipvsadm")
}
