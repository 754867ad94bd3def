//! What a configuration means that is probably not what its operator meant: the warnings a
//! director gives about a file that parses (codes `W008` and later), found on the typed model and
//! placed back in the file with [`Document::lint`].

use std::fmt;
use std::net::Ipv4Addr;

use crate::diagnostic::{Code, Diagnostic};
use crate::document::Document;
use crate::model::{Config, Host, Network};

/// Where in a `lvs.cf` something is: a virtual server, a real server in it, and a keyword.
/// [`Document::locate_place`] turns it into a line and column.
///
/// ```
/// let place = lvscf::Place::server("web", "a", Some("address"));
/// assert_eq!(place.to_string(), "virtual web server a: address");
/// assert_eq!(lvscf::Place::global("primary").to_string(), "primary");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Place {
    /// The `virtual` block's name (the `failover` block's, when [`Place::failover`] is set).
    pub virtual_server: Option<String>,
    /// The `server` block's name (inside the virtual server).
    pub server: Option<String>,
    /// The keyword.
    pub key: Option<&'static str>,
    /// The block named is a `failover` block (Piranha's failover services), not a `virtual`
    /// one.
    #[cfg_attr(feature = "serde", serde(default))]
    pub failover: bool,
}

impl Place {
    /// A global keyword.
    pub fn global(key: &'static str) -> Place {
        Place {
            key: Some(key),
            ..Place::default()
        }
    }

    /// A keyword of a virtual server (`None`: the block itself).
    pub fn virtual_server(name: &str, key: Option<&'static str>) -> Place {
        Place {
            virtual_server: Some(name.to_owned()),
            server: None,
            key,
            failover: false,
        }
    }

    /// A keyword of a `failover` block (`None`: the block itself).
    ///
    /// ```
    /// let place = lvscf::Place::failover("web", Some("start_cmd"));
    /// assert_eq!(place.to_string(), "failover web: start_cmd");
    /// ```
    pub fn failover(name: &str, key: Option<&'static str>) -> Place {
        Place {
            virtual_server: Some(name.to_owned()),
            server: None,
            key,
            failover: true,
        }
    }

    /// A keyword of a real server (`None`: the block itself).
    pub fn server(virtual_server: &str, server: &str, key: Option<&'static str>) -> Place {
        Place {
            virtual_server: Some(virtual_server.to_owned()),
            server: Some(server.to_owned()),
            key,
            failover: false,
        }
    }
}

impl fmt::Display for Place {
    /// `virtual WEB server web1: address`, `primary`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(v) = &self.virtual_server {
            let block = if self.failover { "failover" } else { "virtual" };
            write!(f, "{block} {v}")?;
            sep = " ";
        }
        if let Some(s) = &self.server {
            write!(f, "{sep}server {s}")?;
            sep = ": ";
        } else if !sep.is_empty() {
            sep = ": ";
        }
        if let Some(k) = self.key {
            write!(f, "{sep}{k}")?;
        }
        Ok(())
    }
}

/// One finding of [`Config::lint`]: what, and where in the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The warning's code.
    pub code: Code,
    /// Where.
    pub place: Place,
    /// What is probably wrong, in words.
    pub message: String,
}

impl fmt::Display for Finding {
    /// `virtual WEB: pmask: has no effect without `persistent``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.place, self.message)
    }
}

impl Config {
    /// What works but is probably not what the operator meant, as a director running this
    /// configuration would see it: a backup marked active without an address, NAT without a
    /// router address, a virtual server that accepts nothing, `pmask` without persistence, two
    /// real servers with the same address and port.
    ///
    /// ```
    /// let doc = lvscf::Document::parse("primary = 10.0.0.1\nnetwork = nat\n")?;
    /// let found = doc.config().lint();
    /// assert_eq!(found[0].code, lvscf::Code::NatWithoutRouter);
    /// # Ok::<(), lvscf::ParseError>(())
    /// ```
    pub fn lint(&self) -> Vec<Finding> {
        let g = &self.globals;
        let mut out = Vec::new();
        let mut warn = |code, place, message: &str| {
            out.push(Finding {
                code,
                place,
                message: message.to_owned(),
            })
        };
        let unset = |h: &Option<Host>| {
            h.as_ref()
                .is_none_or(|h| h == &Host::Ip(Ipv4Addr::UNSPECIFIED))
        };
        if g.backup_active && unset(&g.backup) {
            warn(
                Code::BackupWithoutAddress,
                Place::global("backup_active"),
                "a backup is marked active but `backup` names none: this node runs alone",
            );
        }
        if g.network == Network::Nat && g.nat_router.is_none() {
            warn(
                Code::NatWithoutRouter,
                Place::global("network"),
                "NAT without a `nat_router`: the real servers' replies must reach the active \
                 director some other way (their default gateway)",
            );
        }
        for vs in self.virtual_servers.iter().filter(|v| v.active) {
            if !vs.servers.iter().any(|r| r.active) && vs.sorry_server.is_none() {
                warn(
                    Code::NoRealServer,
                    Place::virtual_server(&vs.name, None),
                    "no active real server and no sorry server: the service accepts nothing",
                );
            }
            if vs.pmask.is_some() && vs.persistent.0 == 0 {
                warn(
                    Code::PmaskWithoutPersistence,
                    Place::virtual_server(&vs.name, Some("pmask")),
                    "has no effect without `persistent`",
                );
            }
            let mut seen: Vec<(&Host, u16)> = Vec::new();
            for rs in vs.servers.iter().filter(|r| r.active) {
                if seen.contains(&(&rs.address, rs.port)) {
                    warn(
                        Code::DuplicateRealServer,
                        Place::server(&vs.name, &rs.name, Some("address")),
                        &format!(
                            "the same address and port as another real server of virtual {}: \
                             only the first is used",
                            vs.name
                        ),
                    );
                }
                seen.push((&rs.address, rs.port));
            }
        }
        out
    }
}

impl Document {
    /// Where `place` is written: the keyword's value, or the block when the keyword is not
    /// written (a default), or `None` for a place the file does not have.
    pub fn locate_place(&self, place: &Place) -> Option<crate::Location> {
        let (v, s) = (place.virtual_server.as_deref(), place.server.as_deref());
        if place.failover {
            let name = v?;
            return place
                .key
                .and_then(|k| self.locate_failover(name, Some(k)))
                .or_else(|| self.locate_failover(name, None));
        }
        place
            .key
            .and_then(|k| self.locate(v, s, Some(k)))
            .or_else(|| self.locate(v, s, None))
            .filter(|_| v.is_some() || place.key.is_some())
    }

    /// [`Config::lint`]'s findings as diagnostics at their places in this document (line 1,
    /// column 1 for a place the file does not have), each message led by its place.
    ///
    /// ```
    /// let doc = lvscf::Document::parse("primary = 10.0.0.1\nnetwork = nat\n")?;
    /// assert_eq!(
    ///     doc.lint()[0].to_string(),
    ///     "2:11: warning[W009]: network: NAT without a `nat_router`: the real servers' replies \
    ///      must reach the active director some other way (their default gateway)"
    /// );
    /// # Ok::<(), lvscf::ParseError>(())
    /// ```
    pub fn lint(&self) -> Vec<Diagnostic> {
        self.config()
            .lint()
            .into_iter()
            .map(|f| {
                let at = self.locate_place(&f.place);
                Diagnostic::new(
                    f.code,
                    at.map_or(1, |l| l.line),
                    at.map_or(1, |l| l.column),
                    f.to_string(),
                )
            })
            .collect()
    }
}
