//! From syntax to the typed model: every value is checked here, with its line and column.

use std::net::Ipv4Addr;

use crate::diagnostic::{Code, Diagnostic, Sink};
use crate::keywords::{Key, Scope, Ty};
use crate::lexer::{Tok, column};
use crate::model::{
    AddressOnDevice, Config, ConflictAction, Globals, Host, HostError, Network, Protocol,
    RealServer, Scheduler, Seconds, ServiceType, VirtualServer,
};
use crate::syntax::{Kind, Line, Stmt, block_name};
use crate::value::{IntError, inet_aton, parse_int, service_port};

/// Builds the model of a document whose values were checked when it was parsed ([`Checker`]).
/// Should a value be bad after all, it leaves the default.
pub(crate) fn build(src: &str, lines: &[Line]) -> Config {
    let mut sink = Sink::default();
    let mut b = Builder {
        sink: &mut sink,
        line: 0,
        materialize: true,
    };
    let mut config = Config::default();
    let mut current: Option<(Scope, VirtualServer)> = None;
    let mut server: Option<RealServer> = None;
    // Depth inside blocks that are not where they belong (only in rejected documents).
    let mut skip = 0usize;
    for line in lines {
        b.line += 1;
        let text = line.get(src);
        match line.kind {
            Kind::Trivia | Kind::Stmt(None) => {}
            Kind::Open(scope) => {
                if skip > 0 {
                    skip += 1;
                    continue;
                }
                let name = block_name(text).to_owned();
                match (scope, &current, &server) {
                    (Scope::Virtual | Scope::Failover, None, _) => {
                        current = Some((
                            scope,
                            VirtualServer {
                                name,
                                ..VirtualServer::default()
                            },
                        ))
                    }
                    (Scope::Server, Some((_, vs)), None) => {
                        server = Some(RealServer {
                            name,
                            port: vs.port,
                            ..RealServer::default()
                        })
                    }
                    _ => skip = 1,
                }
            }
            Kind::Close => {
                if skip > 0 {
                    skip -= 1;
                } else if let Some(rs) = server.take() {
                    if let Some((_, vs)) = current.as_mut() {
                        vs.servers.push(rs);
                    }
                } else if let Some((scope, vs)) = current.take() {
                    push_block(&mut config, scope, vs);
                }
            }
            Kind::Stmt(Some(key)) => {
                if skip > 0 {
                    continue;
                }
                let stmt = Stmt::lex(text);
                if let Some(rs) = server.as_mut() {
                    b.server_key(rs, key, &stmt);
                } else if let Some((scope, vs)) = current.as_mut() {
                    b.virtual_key(vs, key, *scope, &stmt);
                } else {
                    b.global(&mut config.globals, key, &stmt);
                }
            }
        }
    }
    if let Some((scope, mut vs)) = current {
        vs.servers.extend(server);
        push_block(&mut config, scope, vs);
    }
    config
}

fn push_block(config: &mut Config, scope: Scope, vs: VirtualServer) {
    match scope {
        Scope::Failover => config.failover_services.push(vs),
        _ => config.virtual_servers.push(vs),
    }
}

/// Checks every value while the parser reads the file (one pass, no model): types, ranges,
/// repeated and ignored keywords, and, at the end, the checks that span several settings.
pub(crate) struct Checker {
    globals: Globals,
    scratch_virtual: VirtualServer,
    scratch_server: RealServer,
    deadtime_at: Option<u32>,
    backup_at: Option<u32>,
}

impl Checker {
    pub(crate) fn new() -> Checker {
        Checker {
            globals: Globals::default(),
            scratch_virtual: VirtualServer::default(),
            scratch_server: RealServer::default(),
            deadtime_at: None,
            backup_at: None,
        }
    }

    /// Checks one assignment to `key` in `scope`, on line `line`; `seen` holds the keywords
    /// already given in the same block.
    pub(crate) fn stmt(
        &mut self,
        sink: &mut Sink,
        scope: Scope,
        key: Key,
        stmt: &Stmt,
        line: u32,
        seen: &mut u64,
    ) {
        let mut b = Builder {
            sink,
            line,
            materialize: false,
        };
        b.repeated(seen, key, stmt);
        match scope {
            Scope::Global => {
                match key {
                    Key::Deadtime => self.deadtime_at = Some(line),
                    Key::Backup => self.backup_at = Some(line),
                    _ => {}
                }
                b.global(&mut self.globals, key, stmt);
            }
            Scope::Virtual | Scope::Failover => {
                b.virtual_key(&mut self.scratch_virtual, key, scope, stmt)
            }
            Scope::Server => b.server_key(&mut self.scratch_server, key, stmt),
        }
    }

    /// The checks that need the whole file.
    pub(crate) fn finish(self, sink: &mut Sink) {
        let g = &self.globals;
        if g.deadtime <= g.keepalive {
            sink.push(Diagnostic::new(
                Code::DeadtimeNotAboveKeepalive,
                self.deadtime_at.unwrap_or(1),
                1,
                format!(
                    "deadtime ({} s) is not larger than keepalive ({} s): the backup takes over between two heartbeats",
                    g.deadtime.0, g.keepalive.0
                ),
            ));
        }
        if let (Some(p), Some(bk)) = (&g.primary, &g.backup)
            && p == bk
        {
            sink.push(Diagnostic::new(
                Code::PrimaryIsBackup,
                self.backup_at.unwrap_or(1),
                1,
                format!("`primary` and `backup` are the same address ({p})"),
            ));
        }
    }
}

struct Builder<'a> {
    sink: &'a mut Sink,
    /// Number of the current line.
    line: u32,
    /// Build owned strings for the model; a checker only needs to look at them.
    materialize: bool,
}

impl Builder<'_> {
    fn report(&mut self, code: Code, stmt: &Stmt, tok: &Tok, msg: String) {
        let col = column(stmt.text, tok.start);
        self.sink.push(Diagnostic::new(code, self.line, col, msg));
    }

    fn repeated(&mut self, seen: &mut u64, key: Key, stmt: &Stmt) {
        let bit = 1u64 << (key as u32);
        if *seen & bit != 0 {
            let tok = stmt.toks[0];
            self.report(
                Code::RepeatedKeyword,
                stmt,
                &tok,
                format!("`{}` is given again: this one wins", key.name()),
            );
        }
        *seen |= bit;
        if key.ignored_by_piranha() {
            let tok = stmt.toks[0];
            self.report(
                Code::IgnoredKeyword,
                stmt,
                &tok,
                format!("`{}` is parsed but ignored by Piranha", key.name()),
            );
        }
    }

    fn server_key(&mut self, rs: &mut RealServer, key: Key, stmt: &Stmt) {
        match key {
            Key::Address => {
                if let Some(h) = self.host(stmt, 0, Ty::Host, key) {
                    rs.address = h;
                }
            }
            Key::Active => set(&mut rs.active, self.boolean(stmt, key)),
            Key::Weight => set(
                &mut rs.weight,
                self.int(stmt, key, 0, 65535).map(|v| v as u32),
            ),
            Key::Port => set(
                &mut rs.port,
                self.int(stmt, key, 0, 65535).map(|v| v as u16),
            ),
            _ => {}
        }
    }

    fn global(&mut self, g: &mut Globals, key: Key, stmt: &Stmt) {
        let ty = key.ty(Scope::Global);
        match key {
            Key::SerialNo => set(
                &mut g.serial_no,
                self.int(stmt, key, 0, u32::MAX.into()).map(|v| v as u32),
            ),
            Key::Primary => g.primary = self.host(stmt, 0, ty, key).or(g.primary.take()),
            Key::PrimaryPrivate => {
                g.primary_private = self.host(stmt, 0, ty, key).or(g.primary_private.take())
            }
            Key::PrimaryShared => g.primary_shared = Some(self.string(stmt, key)),
            Key::Backup => g.backup = self.host(stmt, 0, ty, key).or(g.backup.take()),
            Key::BackupActive => set(&mut g.backup_active, self.boolean(stmt, key)),
            Key::BackupPrivate => {
                g.backup_private = self.host(stmt, 0, ty, key).or(g.backup_private.take())
            }
            Key::BackupShared => g.backup_shared = Some(self.string(stmt, key)),
            Key::ReservationConflictAction => {
                if let Some(w) = self.word(stmt, key, ConflictAction::from_word) {
                    g.reservation_conflict_action = Some(w);
                }
            }
            Key::NatNmask => set(&mut g.nat_nmask, self.netmask(stmt, key)),
            Key::NatRouter => {
                if let Some(a) = self.address_on_device(stmt, key) {
                    g.nat_router = Some(a);
                }
            }
            Key::ActiveCmd => g.active_cmd = Some(self.string(stmt, key)),
            Key::InactiveCmd => g.inactive_cmd = Some(self.string(stmt, key)),
            Key::MonitorLinks => set(
                &mut g.monitor_links,
                self.int(stmt, key, i32::MIN.into(), i32::MAX.into())
                    .map(|v| v != 0),
            ),
            Key::DebugLevel => g.debug_level = self.string(stmt, key),
            Key::HardShutdown => set(&mut g.hard_shutdown, self.boolean(stmt, key)),
            Key::Ipvsadm => g.ipvsadm = self.string(stmt, key),
            Key::Keepalive => set(&mut g.keepalive, self.seconds(stmt, key)),
            Key::Deadtime => set(&mut g.deadtime, self.seconds(stmt, key)),
            Key::RshCommand => g.rsh_command = self.string(stmt, key),
            Key::Syncdaemon => set(&mut g.syncdaemon, self.boolean(stmt, key)),
            Key::SyncdIface => g.syncd_iface = self.string(stmt, key),
            Key::SyncdId => set(
                &mut g.syncd_id,
                self.int(stmt, key, 0, 255).map(|v| v as u8),
            ),
            Key::TcpTimeout => set(&mut g.tcp_timeout, self.seconds(stmt, key)),
            Key::TcpfinTimeout => set(&mut g.tcpfin_timeout, self.seconds(stmt, key)),
            Key::UdpTimeout => set(&mut g.udp_timeout, self.seconds(stmt, key)),
            Key::Heartbeat => set(&mut g.heartbeat, self.boolean(stmt, key)),
            Key::HeartbeatPort => set(&mut g.heartbeat_port, self.port(stmt, key)),
            Key::Sync => set(&mut g.sync, self.boolean(stmt, key)),
            Key::Network => set(&mut g.network, self.word(stmt, key, Network::from_word)),
            Key::Service => set(&mut g.service, self.word(stmt, key, ServiceType::from_word)),
            _ => {}
        }
    }

    fn virtual_key(&mut self, vs: &mut VirtualServer, key: Key, scope: Scope, stmt: &Stmt) {
        match key {
            Key::Active => set(&mut vs.active, self.boolean(stmt, key)),
            Key::Address => {
                if let Some(a) = self.address_on_device(stmt, key) {
                    vs.address = Some(a);
                }
            }
            Key::SorryServer => {
                if let Some(h) = self.host(stmt, 0, Ty::Ipv4, key) {
                    vs.sorry_server = h.ip();
                }
            }
            Key::VipNmask => set(&mut vs.vip_nmask, self.netmask(stmt, key)),
            Key::Fwmark => set(
                &mut vs.fwmark,
                self.int(stmt, key, 0, u32::MAX.into()).map(|v| v as u32),
            ),
            Key::Protocol => set(&mut vs.protocol, self.word(stmt, key, Protocol::from_word)),
            Key::Port => set(&mut vs.port, self.port(stmt, key)),
            Key::Scheduler => set(
                &mut vs.scheduler,
                self.word(stmt, key, Scheduler::from_word),
            ),
            Key::Persistent => set(&mut vs.persistent, self.seconds(stmt, key)),
            Key::Pmask => {
                if let Some(m) = self.netmask(stmt, key) {
                    vs.pmask = (m != Ipv4Addr::BROADCAST).then_some(m);
                }
            }
            Key::ClientMonitor => vs.client_monitor = self.string(stmt, key),
            Key::SendProgram => vs.send_program = Some(self.string(stmt, key)),
            Key::Send => vs.send = Some(self.string(stmt, key)),
            Key::Expect => vs.expect = Some(self.string(stmt, key)),
            Key::UseRegex => set(&mut vs.use_regex, self.boolean(stmt, key)),
            Key::Timeout => {
                if let Some(t) = self.seconds(stmt, key) {
                    if t.0 == 0 {
                        let tok = stmt.values()[0];
                        self.report(
                            Code::ZeroTimeout,
                            stmt,
                            &tok,
                            "`timeout = 0` is not allowed (Piranha's nanny divides by it)".into(),
                        );
                    } else {
                        vs.timeout = t;
                    }
                }
            }
            Key::Reentry => set(&mut vs.reentry, self.seconds(stmt, key)),
            Key::LoadMonitor => vs.load_monitor = Some(self.string(stmt, key)),
            Key::QuiesceServer => set(&mut vs.quiesce_server, self.boolean(stmt, key)),
            Key::StartCmd => vs.start_cmd = Some(self.string(stmt, key)),
            Key::StopCmd => vs.stop_cmd = Some(self.string(stmt, key)),
            Key::Master => {
                if let Some(h) = self.host(stmt, 0, key.ty(scope), key) {
                    vs.master = Some(h);
                }
            }
            Key::Dirs => {
                let text = stmt.text;
                let items = stmt
                    .values()
                    .iter()
                    .skip(1)
                    .take_while(|t| !t.is_plain(text, "]"))
                    .map(|t| t.value(text).to_owned())
                    .collect();
                vs.dirs = Some(items);
            }
            _ => {}
        }
    }

    // ---- value decoders: each reports its own error and returns None on failure

    fn int(&mut self, stmt: &Stmt, key: Key, lo: i64, hi: i64) -> Option<i64> {
        let tok = *stmt.values().first()?;
        let v = tok.value(stmt.text);
        match parse_int(v) {
            Ok(n) if (lo..=hi).contains(&n) => Some(n),
            Ok(_) | Err(IntError::Overflow) => {
                self.report(
                    Code::OutOfRange,
                    stmt,
                    &tok,
                    format!("`{v}` is out of range for `{}` ({lo}–{hi})", key.name()),
                );
                None
            }
            Err(IntError::Syntax) => {
                self.report(
                    Code::IntExpected,
                    stmt,
                    &tok,
                    format!(
                        "integer expected for `{}`, found `{v}` (decimal, 0x hex or 0 octal)",
                        key.name()
                    ),
                );
                None
            }
        }
    }

    fn seconds(&mut self, stmt: &Stmt, key: Key) -> Option<Seconds> {
        self.int(stmt, key, 0, u32::MAX.into())
            .map(|v| Seconds(v as u32))
    }

    fn boolean(&mut self, stmt: &Stmt, key: Key) -> Option<bool> {
        let tok = *stmt.values().first()?;
        let v = tok.value(stmt.text);
        match parse_int(v) {
            Ok(0) => Some(false),
            Ok(1) => Some(true),
            _ => {
                self.report(
                    Code::BoolExpected,
                    stmt,
                    &tok,
                    format!("`{}` is 0 or 1, found `{v}`", key.name()),
                );
                None
            }
        }
    }

    fn port(&mut self, stmt: &Stmt, key: Key) -> Option<u16> {
        let tok = *stmt.values().first()?;
        let v = tok.value(stmt.text);
        match parse_int(v) {
            Ok(_) | Err(IntError::Overflow) => self.int(stmt, key, 0, 65535).map(|n| n as u16),
            Err(IntError::Syntax) => match service_port(v) {
                Some(p) => Some(p),
                None => {
                    self.report(
                        Code::BadArgument,
                        stmt,
                        &tok,
                        format!(
                            "unknown service name `{v}` for `{}`: write the port number",
                            key.name()
                        ),
                    );
                    None
                }
            },
        }
    }

    fn host(&mut self, stmt: &Stmt, idx: usize, ty: Ty, key: Key) -> Option<Host> {
        let tok = *stmt.values().get(idx)?;
        let v = tok.value(stmt.text);
        if ty == Ty::Ipv4 {
            return match inet_aton(v) {
                Some(ip) => Some(Host::Ip(ip)),
                None => {
                    self.report(
                        Code::BadHost,
                        stmt,
                        &tok,
                        format!("`{}` needs an IPv4 address, found `{v}`", key.name()),
                    );
                    None
                }
            };
        }
        match v.parse::<Host>() {
            Ok(Host::Ip(ip)) if ip.is_unspecified() && ty == Ty::HostNonZero => {
                self.report(
                    Code::BadHost,
                    stmt,
                    &tok,
                    format!("`{}` cannot be 0.0.0.0", key.name()),
                );
                None
            }
            Ok(h) => Some(h),
            Err(e @ HostError::Ipv6(_)) => {
                self.report(Code::BadArgument, stmt, &tok, e.to_string());
                None
            }
            Err(e) => {
                self.report(
                    Code::BadHost,
                    stmt,
                    &tok,
                    format!("invalid host name or address for `{}`: {e}", key.name()),
                );
                None
            }
        }
    }

    fn address_on_device(&mut self, stmt: &Stmt, key: Key) -> Option<AddressOnDevice> {
        let address = self.host(stmt, 0, Ty::Host, key)?;
        let tok = *stmt.values().get(1)?;
        let device = self.owned(tok.value(stmt.text));
        Some(AddressOnDevice { address, device })
    }

    fn netmask(&mut self, stmt: &Stmt, key: Key) -> Option<Ipv4Addr> {
        let tok = *stmt.values().first()?;
        let v = tok.value(stmt.text);
        match inet_aton(v) {
            Some(m) => Some(m),
            None => {
                self.report(
                    Code::BadNetmask,
                    stmt,
                    &tok,
                    format!(
                        "`{}` needs a dotted netmask such as 255.255.255.0, found `{v}`",
                        key.name()
                    ),
                );
                None
            }
        }
    }

    fn word<T>(&mut self, stmt: &Stmt, key: Key, f: fn(&str) -> Option<T>) -> Option<T> {
        let tok = *stmt.values().first()?;
        let v = tok.value(stmt.text);
        match f(v) {
            Some(w) => Some(w),
            None => {
                let choices = match key.ty(Scope::Virtual) {
                    Ty::Enum(c) => c,
                    _ => match key.ty(Scope::Global) {
                        Ty::Enum(c) => c,
                        _ => &[],
                    },
                };
                self.report(
                    Code::BadArgument,
                    stmt,
                    &tok,
                    format!(
                        "invalid `{}` `{v}`: expected one of {} (lower case)",
                        key.name(),
                        choices.join(", ")
                    ),
                );
                None
            }
        }
    }

    fn string(&mut self, stmt: &Stmt, key: Key) -> String {
        let Some(tok) = stmt.values().first().copied() else {
            return String::new();
        };
        if tok.quote(stmt.text) == b'\''
            && matches!(key, Key::Send | Key::Expect | Key::SendProgram)
        {
            self.report(
                Code::SingleQuotedCheck,
                stmt,
                &tok,
                format!(
                    "single-quoted `{}`: Piranha passes the ' characters on to the check",
                    key.name()
                ),
            );
        }
        self.owned(tok.value(stmt.text))
    }

    /// An owned copy for the model; an empty string (no allocation) when only checking.
    fn owned(&self, s: &str) -> String {
        if self.materialize {
            s.to_owned()
        } else {
            String::new()
        }
    }
}

/// Checks the value(s) of one statement written by an edit; returns the first error.
pub(crate) fn check_value(scope: Scope, key: Key, stmt: &Stmt) -> Option<Diagnostic> {
    let mut sink = Sink::default();
    let mut b = Builder {
        sink: &mut sink,
        line: 1,
        materialize: false,
    };
    match scope {
        Scope::Global => b.global(&mut Globals::default(), key, stmt),
        Scope::Virtual | Scope::Failover => {
            b.virtual_key(&mut VirtualServer::default(), key, scope, stmt)
        }
        Scope::Server => b.server_key(&mut RealServer::default(), key, stmt),
    }
    sink.diagnostics.into_iter().find(Diagnostic::is_error)
}

fn set<T>(slot: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *slot = v;
    }
}
