//! What the director's kernel tests share: the seed's network ([`lab`]), the director as a
//! process, and a name-telling echo server for long connections.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::{
    io::{BufRead, BufReader, Write},
    net::{TcpListener, TcpStream},
    path::Path,
    time::Duration,
};

use testkit::{Logged, NetNs};

pub mod lab;

pub use lab::*;

/// Starts `director run --config FILE ARGS…` in `ns`, its log lines echoed with `tag`.
pub fn director(ns: &NetNs, config: &Path, tag: &str, args: &[&str]) -> Logged {
    start_director(
        Path::new(env!("CARGO_BIN_EXE_director")),
        ns,
        config,
        tag,
        args,
    )
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

/// `ipvsadm ARGS` in `ns`.
pub fn ipvsadm(ns: &NetNs, args: &[&str]) -> String {
    ns.exec("ipvsadm", args).expect("ipvsadm")
}
