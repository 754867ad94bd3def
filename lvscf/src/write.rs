//! The canonical layout (Piranha's GUI layout): `key = value` at column 0 for globals, 5 spaces
//! in `virtual`/`failover` blocks and before `server`, 9 spaces in `server` blocks, `\n` line
//! ends. Used by [`Document::to_canonical_string`] and [`Config::to_document`].

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::diagnostic::ParseError;
use crate::document::Document;
use crate::keywords::Scope;
use crate::lexer::{is_blank, lex_line};
use crate::model::{Config, Globals, RealServer, VirtualServer};
use crate::syntax::Kind;

/// Indentation of keys (and `server` lines) inside `virtual`/`failover` blocks.
pub(crate) const BLOCK_INDENT: &str = "     ";
/// Indentation of keys inside `server` blocks.
pub(crate) const SERVER_INDENT: &str = "         ";

/// Writes a value as one token: plain when it can be, else quoted with `"` (or `'` when the
/// value holds a `"`). `force` quotes even plain values.
pub(crate) fn quote(value: &str, force: bool) -> Result<Cow<'_, str>, &'static str> {
    if value.contains(['\n', '\r']) {
        return Err("a value cannot contain a line end");
    }
    let needs = force
        || value.is_empty()
        || value.bytes().any(is_blank)
        || value.starts_with(['"', '\'', '#'])
        || matches!(value, "=" | "{" | "}" | "[" | "]");
    if !needs {
        return Ok(Cow::Borrowed(value));
    }
    if !value.contains('"') {
        Ok(Cow::Owned(format!("\"{value}\"")))
    } else if !value.contains('\'') {
        Ok(Cow::Owned(format!("'{value}'")))
    } else {
        Err("a quoted value cannot contain both `\"` and `'`")
    }
}

/// Why a [`Config`] cannot be written as `lvs.cf`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// A value `lvs.cf` cannot hold.
    #[error("{context}: cannot write {value:?}: {reason}")]
    Unrepresentable {
        /// Which block and keyword.
        context: String,
        /// The value.
        value: String,
        /// Why.
        reason: &'static str,
    },
    /// The model holds values Piranha would reject (e.g. `timeout` 0, a weight over 65535).
    #[error("the configuration is not valid:\n{0}")]
    Invalid(#[from] ParseError),
}

impl Document {
    /// The document in the canonical layout: same statements, comments, blank lines and block
    /// order, re-indented, single blanks between tokens, `\n` line ends, a final newline.
    /// End-of-line comments move to a comment line of their own above the statement (Piranha
    /// rejects them). Values keep their text (`0x2a` stays `0x2a`).
    ///
    /// ```
    /// let doc = lvscf::Document::parse("virtual web {\r\n\tport   =  80  # web\r\n}")?;
    /// assert_eq!(doc.to_canonical_string(), "virtual web {\n     # web\n     port = 80\n}\n");
    /// # Ok::<(), lvscf::ParseError>(())
    /// ```
    pub fn to_canonical_string(&self) -> String {
        let mut out = String::with_capacity(self.src.len());
        // The scopes of the open blocks: their innermost one sets the indentation.
        let mut stack: Vec<Scope> = Vec::new();
        let indent = |stack: &[Scope]| match stack.last() {
            None => "",
            Some(Scope::Server) => SERVER_INDENT,
            Some(_) => BLOCK_INDENT,
        };
        for line in &self.lines {
            let text = line.get(&self.src);
            match line.kind {
                Kind::Trivia => {
                    let t = text.trim_start_matches([' ', '\t']).trim_end();
                    if !t.is_empty() {
                        out.push_str(indent(&stack));
                        out.push_str(t);
                    }
                    out.push('\n');
                }
                Kind::Stmt(_) => canonical_stmt(text, indent(&stack), &mut out),
                Kind::Open(scope) => {
                    canonical_stmt(text, indent(&stack), &mut out);
                    stack.push(scope);
                }
                Kind::Close => {
                    stack.pop();
                    canonical_stmt(text, indent(&stack), &mut out);
                }
            }
        }
        out
    }
}

/// A statement: its tokens joined by single blanks, an end-of-line comment moved above it.
fn canonical_stmt(text: &str, ind: &str, out: &mut String) {
    let lexed = lex_line(text);
    if let Some(c) = lexed.comment {
        out.push_str(ind);
        out.push_str(text.get(c as usize..).unwrap_or("").trim_end());
        out.push('\n');
    }
    out.push_str(ind);
    for (i, t) in lexed.toks.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(t.raw(text));
    }
    out.push('\n');
}

impl Config {
    /// Writes the model as `lvs.cf` text in the canonical layout: globals in the order
    /// Piranha's GUI writes them, then `failover` blocks, then `virtual` blocks. Settings
    /// equal to Piranha's defaults are left out, except a few that readers expect to see.
    /// Parsing the text back gives an equal model.
    ///
    /// ```
    /// use lvscf::{Config, VirtualServer};
    /// let mut config = Config::default();
    /// config.virtual_servers.push(VirtualServer { name: "web".into(), active: true, ..Default::default() });
    /// let text = config.to_lvs_cf()?;
    /// assert_eq!(lvscf::parse_config(&text)?, config);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_lvs_cf(&self) -> Result<String, WriteError> {
        let mut w = Writer::default();
        w.globals(&self.globals)?;
        for f in &self.failover_services {
            w.block(Scope::Failover, f)?;
        }
        for v in &self.virtual_servers {
            w.block(Scope::Virtual, v)?;
        }
        let text = w.out;
        // The model may hold values that lvs.cf cannot (timeout 0, weight > 65535 …).
        crate::parse_config(&text)?;
        Ok(text)
    }

    /// [`Config::to_lvs_cf`], parsed into a [`Document`] ready for layout-keeping edits.
    pub fn to_document(&self) -> Result<Document, WriteError> {
        Ok(Document::parse_owned(self.to_lvs_cf()?)?)
    }
}

#[derive(Default)]
struct Writer {
    out: String,
    ind: &'static str,
    ctx: String,
}

impl Writer {
    fn kv(&mut self, key: &str, values: &[&str], force: bool) -> Result<(), WriteError> {
        self.out.push_str(self.ind);
        self.out.push_str(key);
        self.out.push_str(" =");
        for v in values {
            let q = quote(v, force).map_err(|reason| WriteError::Unrepresentable {
                context: format!("{}{key}", self.ctx),
                value: (*v).to_owned(),
                reason,
            })?;
            self.out.push(' ');
            self.out.push_str(&q);
        }
        self.out.push('\n');
        Ok(())
    }

    fn one(&mut self, key: &str, v: impl std::fmt::Display) -> Result<(), WriteError> {
        let s = v.to_string();
        self.kv(key, &[&s], false)
    }

    fn opt_str(&mut self, key: &str, v: &Option<String>, force: bool) -> Result<(), WriteError> {
        match v {
            Some(s) => self.kv(key, &[s], force),
            None => Ok(()),
        }
    }

    fn bool(&mut self, key: &str, v: bool) -> Result<(), WriteError> {
        self.one(key, u8::from(v))
    }

    fn open(&mut self, scope: Scope, name: &str) -> Result<(), WriteError> {
        let q = quote(name, false).map_err(|reason| WriteError::Unrepresentable {
            context: format!("{} name", scope.keyword()),
            value: name.to_owned(),
            reason,
        })?;
        let _ = writeln!(self.out, "{}{} {q} {{", self.ind, scope.keyword());
        Ok(())
    }

    fn globals(&mut self, g: &Globals) -> Result<(), WriteError> {
        let d = Globals::default();
        self.ind = "";
        self.one("serial_no", g.serial_no)?;
        if let Some(p) = &g.primary {
            self.one("primary", p)?;
        }
        if let Some(p) = &g.primary_private {
            self.one("primary_private", p)?;
        }
        self.opt_str("primary_shared", &g.primary_shared, false)?;
        self.one("service", g.service)?;
        if g.rsh_command != d.rsh_command {
            self.kv("rsh_command", &[&g.rsh_command], false)?;
        }
        self.bool("backup_active", g.backup_active)?;
        if let Some(b) = &g.backup {
            self.one("backup", b)?;
        }
        if let Some(b) = &g.backup_private {
            self.one("backup_private", b)?;
        }
        self.opt_str("backup_shared", &g.backup_shared, false)?;
        if g.heartbeat != d.heartbeat {
            self.bool("heartbeat", g.heartbeat)?;
        }
        if g.heartbeat_port != d.heartbeat_port {
            self.one("heartbeat_port", g.heartbeat_port)?;
        }
        self.one("keepalive", g.keepalive.0)?;
        self.one("deadtime", g.deadtime.0)?;
        self.one("network", g.network)?;
        if let Some(r) = &g.nat_router {
            let a = r.address.to_string();
            self.kv("nat_router", &[&a, &r.device], false)?;
        }
        if g.nat_nmask != d.nat_nmask {
            self.one("nat_nmask", g.nat_nmask)?;
        }
        if let Some(a) = g.reservation_conflict_action {
            self.one("reservation_conflict_action", a)?;
        }
        if g.debug_level != d.debug_level {
            self.kv("debug_level", &[&g.debug_level], false)?;
        }
        self.opt_str("active_cmd", &g.active_cmd, false)?;
        self.opt_str("inactive_cmd", &g.inactive_cmd, false)?;
        if g.monitor_links != d.monitor_links {
            self.bool("monitor_links", g.monitor_links)?;
        }
        if g.syncdaemon != d.syncdaemon {
            self.bool("syncdaemon", g.syncdaemon)?;
        }
        if g.syncd_iface != d.syncd_iface {
            self.kv("syncd_iface", &[&g.syncd_iface], false)?;
        }
        if g.syncd_id != d.syncd_id {
            self.one("syncd_id", g.syncd_id)?;
        }
        for (k, v) in [
            ("tcp_timeout", g.tcp_timeout),
            ("tcpfin_timeout", g.tcpfin_timeout),
            ("udp_timeout", g.udp_timeout),
        ] {
            if v.0 != 0 {
                self.one(k, v.0)?;
            }
        }
        if g.hard_shutdown != d.hard_shutdown {
            self.bool("hard_shutdown", g.hard_shutdown)?;
        }
        if g.ipvsadm != d.ipvsadm {
            self.kv("ipvsadm", &[&g.ipvsadm], false)?;
        }
        if g.sync != d.sync {
            self.bool("sync", g.sync)?;
        }
        Ok(())
    }

    fn block(&mut self, scope: Scope, v: &VirtualServer) -> Result<(), WriteError> {
        let d = VirtualServer::default();
        self.ind = "";
        self.open(scope, &v.name)?;
        self.ind = BLOCK_INDENT;
        self.ctx = format!("{} {}: ", scope.keyword(), v.name);
        let address = |w: &mut Self| -> Result<(), WriteError> {
            if let Some(a) = &v.address {
                let h = a.address.to_string();
                w.kv("address", &[&h, &a.device], false)?;
            }
            Ok(())
        };
        if scope == Scope::Failover {
            address(self)?;
            if v.vip_nmask != d.vip_nmask {
                self.one("vip_nmask", v.vip_nmask)?;
            }
            self.bool("active", v.active)?;
        } else {
            self.bool("active", v.active)?;
            address(self)?;
            if let Some(s) = v.sorry_server {
                self.one("sorry_server", s)?;
            }
            if v.vip_nmask != d.vip_nmask {
                self.one("vip_nmask", v.vip_nmask)?;
            }
            if v.fwmark != 0 {
                self.one("fwmark", v.fwmark)?;
            }
        }
        self.one("port", v.port)?;
        if v.persistent.0 != 0 {
            self.one("persistent", v.persistent.0)?;
        }
        if let Some(m) = v.pmask {
            self.one("pmask", m)?;
        }
        self.opt_str("send", &v.send, true)?;
        self.opt_str("expect", &v.expect, true)?;
        if v.use_regex {
            self.bool("use_regex", v.use_regex)?;
        }
        self.opt_str("send_program", &v.send_program, true)?;
        self.opt_str("load_monitor", &v.load_monitor, false)?;
        if scope == Scope::Failover {
            if v.scheduler != d.scheduler {
                self.one("scheduler", v.scheduler)?;
            }
            if v.protocol != d.protocol {
                self.one("protocol", v.protocol)?;
            }
            if let Some(s) = v.sorry_server {
                self.one("sorry_server", s)?;
            }
            if v.fwmark != 0 {
                self.one("fwmark", v.fwmark)?;
            }
        } else {
            self.one("scheduler", v.scheduler)?;
            self.one("protocol", v.protocol)?;
        }
        self.one("timeout", v.timeout.0)?;
        self.one("reentry", v.reentry.0)?;
        if v.quiesce_server {
            self.bool("quiesce_server", v.quiesce_server)?;
        }
        if v.client_monitor != d.client_monitor {
            self.kv("client_monitor", &[&v.client_monitor], false)?;
        }
        self.opt_str("start_cmd", &v.start_cmd, true)?;
        self.opt_str("stop_cmd", &v.stop_cmd, true)?;
        if let Some(m) = &v.master {
            self.one("master", m)?;
        }
        if let Some(dirs) = &v.dirs {
            let mut items: Vec<String> = Vec::with_capacity(dirs.len() + 2);
            items.push("[".into());
            for item in dirs {
                let q = quote(item, false).map_err(|reason| WriteError::Unrepresentable {
                    context: format!("{}dirs", self.ctx),
                    value: item.clone(),
                    reason,
                })?;
                items.push(q.into_owned());
            }
            items.push("]".into());
            let _ = writeln!(self.out, "{}dirs = {}", self.ind, items.join(" "));
        }
        for s in &v.servers {
            self.server(s, v.port)?;
        }
        self.ind = "";
        self.out.push_str("}\n");
        Ok(())
    }

    fn server(&mut self, s: &RealServer, vport: u16) -> Result<(), WriteError> {
        self.ind = BLOCK_INDENT;
        self.open(Scope::Server, &s.name)?;
        self.ind = SERVER_INDENT;
        self.one("address", &s.address)?;
        self.bool("active", s.active)?;
        if s.port != vport {
            self.one("port", s.port)?;
        }
        self.one("weight", s.weight)?;
        self.ind = BLOCK_INDENT;
        self.out.push_str(BLOCK_INDENT);
        self.out.push_str("}\n");
        Ok(())
    }
}
