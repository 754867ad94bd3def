//! The control socket: a Unix stream socket that takes one JSON request per connection (one
//! line) and answers one JSON response (one line). Only root and the members of the overlay's
//! `control_group` may use it ([`Access`]): the socket is mode 0600 (0660 with the group) from
//! the moment it can be connected to, and each peer's credentials are checked. `director
//! status`, `director server drain|disable|enable`, `director force active|standby|auto` and
//! `director reload` are its clients; anything that speaks JSON over a Unix socket can be one.
//!
//! ```text
//! → {"protocol":2,"command":"server","action":"drain","virtual_server":"HTTP","server":"rs1"}
//! ← {"protocol":2,"ok":true,"message":"virtual HTTP server rs1 (10.0.0.100:80): drain"}
//! ```
//!
//! Both sides say which [`PROTOCOL`] they speak. A request without `protocol` is version 1 (the
//! exchange before versions) and is answered as before; a request of a newer version than the
//! director's is refused with a message that says so, in a response every version can read.

use std::{
    io::{self, BufRead, BufReader, Write},
    path::{Path, PathBuf},
    time::Duration,
};

use serde::{Deserialize, Serialize};

/// Where the control socket is unless the overlay or the command line says otherwise.
pub const DEFAULT_SOCKET: &str = "/run/director.sock";

/// Longest request line a server accepts.
pub const MAX_REQUEST: u64 = 64 * 1024;

/// The control protocol's version: 1 was the exchange without versions, 2 adds the `protocol`
/// field to requests and responses.
pub const PROTOCOL: u32 = 2;

/// A request with the version of the protocol it is written in.
#[derive(Serialize, Deserialize)]
struct Envelope<R> {
    /// 1 when absent.
    #[serde(default = "unversioned")]
    protocol: u32,
    #[serde(flatten)]
    request: R,
}

fn unversioned() -> u32 {
    1
}

/// Reads one request line, as a director does: the request, or why it is refused (not a
/// request; a newer protocol than this director's), to answer with [`Response::error`].
///
/// ```
/// use director_core::control::{Request, read_request};
/// assert_eq!(read_request(r#"{"command":"status"}"#), Ok(Request::Status));
/// assert_eq!(read_request(r#"{"protocol":2,"command":"reload"}"#), Ok(Request::Reload));
/// let refused = read_request(r#"{"protocol":9,"command":"status"}"#).unwrap_err();
/// assert!(refused.contains("control protocol 2"), "{refused}");
/// ```
pub fn read_request(line: &str) -> Result<Request, String> {
    // A value is quoted at most ~80 characters long (an unknown command is quoted whole).
    let refuse = |e: serde_json::Error| crate::settings::bounded(&format!("not a request: {e}"));
    let value: serde_json::Value = serde_json::from_str(line).map_err(refuse)?;
    let protocol = value.get("protocol").and_then(serde_json::Value::as_u64);
    if let Some(theirs) = protocol.filter(|p| *p > u64::from(PROTOCOL)) {
        return Err(format!(
            "this director speaks control protocol {PROTOCOL} and the client {theirs}: \
             use the `director` command of the running director's version"
        ));
    }
    serde_json::from_value::<Envelope<Request>>(value)
        .map(|e| e.request)
        .map_err(refuse)
}

/// Who may use the control socket besides root: the members of one group (the overlay's
/// `control_group`).
///
/// ```
/// use director_core::control::Access;
/// let root_only = Access::default();
/// assert!(root_only.allows(0, [0]));
/// assert!(!root_only.allows(1000, [1000, 27]));
/// let admins = Access { group: Some(27) };
/// assert!(admins.allows(1000, [1000, 27]));
/// assert!(!admins.allows(1001, [1001]));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Access {
    /// The group's id; `None`: root only.
    pub group: Option<u32>,
}

impl Access {
    /// Root, and the members of `group` (a name, looked up in the system's group database, or a
    /// number); root alone without one. `Err` says what is wrong with the group.
    pub fn for_group(group: Option<&str>) -> Result<Access, String> {
        let Some(name) = group else {
            return Ok(Access::default());
        };
        let gid = match name.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => match nix::unistd::Group::from_name(name) {
                Ok(Some(g)) => g.gid.as_raw(),
                Ok(None) => return Err(format!("control_group {name}: no such group")),
                Err(e) => return Err(format!("control_group {name}: {e}")),
            },
        };
        Ok(Access { group: Some(gid) })
    }

    /// Whether a peer with user id `uid` and groups `gids` (its primary and supplementary
    /// ones) may send requests.
    pub fn allows(&self, uid: u32, gids: impl IntoIterator<Item = u32>) -> bool {
        uid == 0
            || self
                .group
                .is_some_and(|g| gids.into_iter().any(|id| id == g))
    }
}

/// What a client asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "lowercase")]
pub enum Request {
    /// The live table with health and heartbeat state.
    Status,
    /// Take a real server out of rotation or put it back, whatever its checks say.
    Server {
        /// What to do.
        action: Admin,
        /// lvs.cf's virtual server name.
        virtual_server: String,
        /// The real server: its lvs.cf name, its address, or `address:port`.
        server: String,
    },
    /// Force the role (Piranha's `--forceactive`, nanny's signals as commands), or give the
    /// decision back to the heartbeat.
    Force {
        /// Active, standby or auto.
        role: Force,
    },
    /// Re-read lvs.cf and the overlay, and apply them as a diff (as SIGHUP).
    Reload,
    /// The metrics in Prometheus' text format (in the answer's message).
    Metrics,
}

pub use healthcheck::table::Admin;

/// A forced role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Force {
    /// Active, whatever the peer says (a local fault still wins).
    Active,
    /// Standby, and stay so.
    Standby,
    /// As the heartbeat decides.
    Auto,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// The protocol version the director speaks (1 when absent: a director before versions).
    #[serde(default = "unversioned")]
    pub protocol: u32,
    /// Whether the request was carried out.
    pub ok: bool,
    /// What happened, or what is wrong (for people).
    pub message: String,
    /// The status, for [`Request::Status`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
}

impl Response {
    /// Done.
    pub fn ok(message: impl Into<String>) -> Response {
        Response {
            protocol: PROTOCOL,
            ok: true,
            message: message.into(),
            status: None,
        }
    }

    /// The status.
    pub fn status(status: Status) -> Response {
        Response {
            status: Some(status),
            ..Response::ok("")
        }
    }

    /// Not done.
    pub fn error(message: impl Into<String>) -> Response {
        Response {
            protocol: PROTOCOL,
            ok: false,
            message: message.into(),
            status: None,
        }
    }
}

/// The director's state, as `director status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// `primary` or `backup` (`active-active` in that mode).
    pub node: String,
    /// `active` or `standby`.
    pub role: String,
    /// Why (the heartbeat's reason: `peer-dead`, `operator`, …).
    pub reason: String,
    /// A role forced by the operator.
    pub forced: Option<Force>,
    /// The heartbeat, `None` for a router alone.
    pub heartbeat: Option<HeartbeatStatus>,
    /// The addresses held.
    pub addresses: Vec<String>,
    /// Active-active mode: the VIPs announced now (`None`: a pair, or a router alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announced: Option<Vec<String>>,
    /// The router's own health (the overlay's `[track]`).
    #[serde(default)]
    pub tracking: Vec<TrackStatus>,
    /// Whether the trackers let this router be active.
    #[serde(default = "fit")]
    pub fit: bool,
    /// The services of the configuration.
    pub services: Vec<ServiceStatus>,
}

fn fit() -> bool {
    true
}

/// One tracker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackStatus {
    /// `interface eth2`, `gateway 192.168.1.1`, `script …`.
    pub name: String,
    /// Its weight.
    pub weight: u32,
    /// Whether it fails now.
    pub failing: bool,
}

/// The heartbeat's counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeartbeatStatus {
    /// `piranha` or `authenticated`.
    pub protocol: String,
    /// Datagrams sent.
    pub sent: u64,
    /// Datagrams accepted from the peer.
    pub accepted: u64,
    /// Datagrams rejected.
    pub rejected: u64,
    /// Stalls detected.
    pub stalls: u64,
}

/// One service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceStatus {
    /// lvs.cf's name (empty for a service that left the configuration and still drains).
    pub virtual_server: String,
    /// ipvsadm's line for it (`TCP  192.168.1.250:80 wlc`), or `None` when it is not in the
    /// kernel.
    pub line: Option<String>,
    /// The service key (`TCP 192.168.1.250:80`).
    pub key: String,
    /// Its real servers (and its sorry server, when in).
    pub servers: Vec<ServerStatus>,
}

/// One real server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerStatus {
    /// lvs.cf's name (`sorry` for the sorry server, empty for one that drains after a reload).
    pub name: String,
    /// `address:port`.
    pub address: String,
    /// ipvsadm's line for it, or `None` when it is not in the kernel.
    pub line: Option<String>,
    /// Weight in the kernel.
    pub weight: Option<u32>,
    /// Active connections in the kernel.
    pub active_conns: Option<u32>,
    /// Inactive connections in the kernel.
    pub inactive_conns: Option<u32>,
    /// `up`, `down`, `unknown` (not checked yet), or `draining` (removed by a reload).
    pub health: String,
    /// The operator's decision.
    pub admin: Admin,
    /// The last check, for people.
    pub last_check: Option<String>,
    /// The last check's latency in milliseconds.
    pub latency_ms: Option<f64>,
    /// Checks run and failed.
    pub checks: u64,
    /// Checks failed.
    pub failures: u64,
}

impl Status {
    /// The status for people: a line about the role and the heartbeat, the addresses, then the
    /// table in `ipvsadm -Ln`'s layout with each real server's health at the end of its line.
    pub fn render(&self) -> String {
        let mut out = format!(
            "director: {}, {} ({}){}\n",
            self.node,
            self.role.to_uppercase(),
            self.reason,
            match self.forced {
                Some(Force::Active) => ", forced active",
                Some(Force::Standby) => ", forced standby",
                _ => "",
            }
        );
        match &self.heartbeat {
            Some(h) => {
                out += &format!(
                    "heartbeat: {}, {} sent, {} accepted, {} rejected, {} stalls\n",
                    h.protocol, h.sent, h.accepted, h.rejected, h.stalls
                )
            }
            None if self.announced.is_some() => out += "heartbeat: none (active-active)\n",
            None => out += "heartbeat: none (no backup)\n",
        }
        if let Some(vips) = &self.announced {
            let list = if vips.is_empty() {
                "none".into()
            } else {
                vips.join(", ")
            };
            out += &format!("announced: {list}\n");
        }
        if !self.addresses.is_empty() {
            out += &format!("addresses: {}\n", self.addresses.join(", "));
        }
        if !self.tracking.is_empty() {
            let each: Vec<String> = (self.tracking.iter())
                .map(|t| {
                    format!(
                        "{} {} (weight {})",
                        t.name,
                        if t.failing { "failing" } else { "ok" },
                        t.weight
                    )
                })
                .collect();
            out += &format!(
                "tracking: {}; {}\n",
                each.join(", "),
                if self.fit { "fit" } else { "UNFIT" }
            );
        }
        out += ipvs::listing::HEADER;
        out += "  Health\n";
        for s in &self.services {
            match &s.line {
                Some(line) => out += line,
                None => out += &format!("{} (not in the kernel)", s.key),
            }
            if !s.virtual_server.is_empty() {
                out += &format!("  (virtual {})", s.virtual_server);
            }
            out += "\n";
            for r in &s.servers {
                match &r.line {
                    Some(line) => out += line,
                    None => out += &format!("  -> {:<28} (not in the table)", r.address),
                }
                out += &format!(" {}", r.health);
                if r.admin != Admin::Enable {
                    out += &format!(", {}", r.admin.word());
                }
                if let Some(last) = &r.last_check {
                    out += &format!(" ({last}");
                    if let Some(ms) = r.latency_ms {
                        out += &format!(", {ms:.1} ms");
                    }
                    out += ")";
                }
                if !r.name.is_empty() {
                    out += &format!("  [{}]", r.name);
                }
                out += "\n";
            }
        }
        out
    }
}

/// Why a client got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The socket could not be reached (no director, or not root).
    #[error("cannot reach the director at {path}: {source}")]
    Connect {
        /// The socket.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The exchange failed.
    #[error("talking to the director at {path}: {source}")]
    Io {
        /// The socket.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The answer was not a response.
    #[error("the director at {path} answered something else: {message}")]
    Protocol {
        /// The socket.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
}

/// Sends `request` to the director at `path` and waits (at most `limit`) for its answer.
pub fn ask(path: &Path, request: &Request, limit: Duration) -> Result<Response, ControlError> {
    let io = |source| ControlError::Io {
        path: path.to_owned(),
        source,
    };
    let mut stream =
        std::os::unix::net::UnixStream::connect(path).map_err(|source| ControlError::Connect {
            path: path.to_owned(),
            source,
        })?;
    stream.set_read_timeout(Some(limit)).map_err(io)?;
    stream.set_write_timeout(Some(limit)).map_err(io)?;
    let envelope = Envelope {
        protocol: PROTOCOL,
        request,
    };
    let mut line = serde_json::to_vec(&envelope).map_err(|e| io(io::Error::other(e)))?;
    line.push(b'\n');
    stream.write_all(&line).map_err(io)?;
    let mut answer = String::new();
    BufReader::new(std::io::Read::take(&stream, 16 * 1024 * 1024))
        .read_line(&mut answer)
        .map_err(io)?;
    serde_json::from_str(&answer).map_err(|e| {
        let theirs = serde_json::from_str::<serde_json::Value>(&answer)
            .ok()
            .and_then(|v| v.get("protocol")?.as_u64());
        ControlError::Protocol {
            path: path.to_owned(),
            message: match theirs {
                Some(n) if n > u64::from(PROTOCOL) => format!(
                    "it speaks control protocol {n} and this client {PROTOCOL}: use the \
                     `director` command of the running director's version ({e})"
                ),
                _ => e.to_string(),
            },
        }
    })
}
