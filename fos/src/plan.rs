//! What `lvs.cf`'s `failover` blocks ask for, checked: each active service's address, port,
//! check (nanny's semantics: `send`/`expect`, `send_program`, `timeout`) and commands.
//!
//! | `failover NAME { … }` | becomes |
//! |---|---|
//! | `active = 1` | the service is run (inactive ones are listed, not run, as Piranha's) |
//! | `address = IP DEV[:LABEL]`, `vip_nmask` | the address taken over with the service |
//! | `port`, `protocol` | where the check goes: the service's own address and port |
//! | `send`, `expect`, `use_regex`, `send_program`, `timeout` | the check, as nanny ran it; `timeout` is its interval and its time limit |
//! | `reentry` | how long a node whose service failed waits before it offers to serve again |
//! | `start_cmd`, `stop_cmd` | run without a shell, split at white space (as pulse's `fos`); an absolute path |
//!
//! What this crate does not run is refused at its line, never dropped: real servers, `fwmark`,
//! `sorry_server`, `persistent` and `load_monitor` in a failover block, and the shared-SCSI keys
//! (`primary_shared`, `backup_shared`, `reservation_conflict_action`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use arp_announce::takeover::Address;
use healthcheck::Probe;
use healthcheck::nanny::Nanny;
use lvscf::{Config, FailoverService, Host, Place};

use crate::error::Error;

/// A command as pulse's `fos` ran it: a program and its arguments, no shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    argv: Vec<String>,
}

impl Command {
    /// `line` split at white space (pulse split at spaces, with no quoting and no shell). The
    /// program must be an absolute path: pulse used no `PATH` either.
    ///
    /// ```
    /// let c = fos::Command::parse("/etc/init.d/httpd  start").unwrap();
    /// assert_eq!(c.argv(), ["/etc/init.d/httpd", "start"]);
    /// assert!(fos::Command::parse("httpd start").is_err());
    /// ```
    pub fn parse(line: &str) -> Result<Command, String> {
        let argv: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        match argv.first() {
            None => Err("empty: there is no program to run".into()),
            Some(p) if !p.starts_with('/') => Err(format!(
                "`{}` is not an absolute path: the command runs without a shell or PATH, as \
                 Piranha's",
                lvscf::shorten(p)
            )),
            Some(_) => Ok(Command { argv }),
        }
    }

    /// The program and its arguments.
    pub fn argv(&self) -> &[String] {
        &self.argv
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.argv.join(" "))
    }
}

/// One active failover service.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Service {
    /// The `failover` block's name.
    pub name: String,
    /// The address that moves with the service.
    pub address: Address,
    /// The service's port (where it is checked).
    pub port: u16,
    /// How it is checked, as nanny did.
    pub nanny: Nanny,
    /// The check, aimed at the service's address and port.
    pub probe: Probe,
    /// How long a node whose service failed waits before it offers to serve again (`reentry`).
    pub reentry: Duration,
    /// `start_cmd`.
    pub start: Command,
    /// `stop_cmd`.
    pub stop: Command,
}

/// The failover services of one `lvs.cf`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Plan {
    /// The active services, in file order.
    pub services: Vec<Service>,
    /// The names of the inactive ones (`active = 0`), which are not run.
    pub inactive: Vec<String>,
}

impl Plan {
    /// The failover services of `config`; `resolve` turns a host name into an address (told
    /// where it is written, to report one that does not resolve). Every problem is returned,
    /// each with its place (see [`Error::place`]).
    ///
    /// ```
    /// let doc = lvscf::Document::parse(
    ///     "primary = 10.0.0.1\nservice = fos\nfailover web {\n active = 1\n address = 10.0.0.50 eth0:1\n port = 80\n timeout = 3\n start_cmd = \"/etc/init.d/httpd start\"\n stop_cmd = \"/etc/init.d/httpd stop\"\n}\n",
    /// )?;
    /// let plan = fos::Plan::from_lvscf(doc.config(), &mut |_, _| None).expect("valid");
    /// assert_eq!(plan.services[0].address.to_string(), "10.0.0.50/32 on eth0");
    /// assert_eq!(plan.services[0].start.to_string(), "/etc/init.d/httpd start");
    /// # Ok::<(), lvscf::ParseError>(())
    /// ```
    pub fn from_lvscf(
        config: &Config,
        resolve: &mut dyn FnMut(&str, &Place) -> Option<Ipv4Addr>,
    ) -> Result<Plan, Vec<Error>> {
        let mut errors = Vec::new();
        let g = &config.globals;
        for (key, set) in [
            ("primary_shared", g.primary_shared.is_some()),
            ("backup_shared", g.backup_shared.is_some()),
            (
                "reservation_conflict_action",
                g.reservation_conflict_action.is_some(),
            ),
        ] {
            if set {
                errors.push(Error::Unsupported {
                    place: Place::global(key),
                    what: "shared-SCSI reservations (Piranha's `scsi_reserve`) are not supported"
                        .into(),
                });
            }
        }
        let mut plan = Plan {
            services: Vec::new(),
            inactive: Vec::new(),
        };
        for fs in &config.failover_services {
            if !fs.active {
                plan.inactive.push(fs.name.clone());
                continue;
            }
            match service(fs, g, resolve) {
                Ok(s) => plan.services.push(s),
                Err(e) => errors.extend(e),
            }
        }
        if plan.services.is_empty() && errors.is_empty() {
            errors.push(Error::Invalid {
                place: Place::global("service"),
                message: format!(
                    "fos with no active `failover` block ({} inactive): there is nothing to run",
                    plan.inactive.len()
                ),
            });
        }
        if errors.is_empty() {
            Ok(plan)
        } else {
            Err(errors)
        }
    }

    /// Every service's address (what an active node holds).
    pub fn addresses(&self) -> Vec<Address> {
        let mut all: Vec<Address> = Vec::new();
        for s in &self.services {
            if !all.iter().any(|a| a.same_place(&s.address)) {
                all.push(s.address.clone());
            }
        }
        all
    }
}

fn service(
    fs: &FailoverService,
    g: &lvscf::Globals,
    resolve: &mut dyn FnMut(&str, &Place) -> Option<Ipv4Addr>,
) -> Result<Service, Vec<Error>> {
    let at = |key| Place::failover(&fs.name, key);
    let mut errors = Vec::new();
    let unsupported = |key, what: &str| Error::Unsupported {
        place: at(Some(key)),
        what: format!("{what} in a failover service (it is one address and port on the routers)"),
    };
    if !fs.servers.is_empty() {
        errors.push(Error::Unsupported {
            place: Place::failover(&fs.name, None),
            what: "real servers (`server` blocks) in a failover service: it runs on the routers \
                   themselves"
                .into(),
        });
    }
    if fs.fwmark != 0 {
        errors.push(unsupported("fwmark", "a firewall mark"));
    }
    if fs.sorry_server.is_some() {
        errors.push(unsupported("sorry_server", "a sorry server"));
    }
    if fs.persistent.0 != 0 {
        errors.push(unsupported("persistent", "persistence"));
    }
    if fs.load_monitor.is_some() {
        errors.push(unsupported("load_monitor", "a load monitor"));
    }
    let address = match &fs.address {
        None => {
            errors.push(Error::Invalid {
                place: at(None),
                message: "no `address`: a failover service moves with its address".into(),
            });
            None
        }
        Some(on) => {
            let place = at(Some("address"));
            let ip = match &on.address {
                Host::Ip(ip) => Some(*ip),
                Host::Name(name) => {
                    let found = resolve(name, &place);
                    if found.is_none() {
                        errors.push(Error::Invalid {
                            place: place.clone(),
                            message: format!(
                                "host name `{}` does not resolve to an IPv4 address",
                                lvscf::shorten(name)
                            ),
                        });
                    }
                    found
                }
            };
            ip.map(|ip| {
                let a = Address::new(
                    IpAddr::V4(ip),
                    lvscf::takeover_prefix(fs.vip_nmask),
                    on.interface(),
                );
                match on.label() {
                    Some(label) => a.with_label(label),
                    None => a,
                }
            })
        }
    };
    let mut command = |key, text: &Option<String>, what| match text.as_deref() {
        None => {
            errors.push(Error::Invalid {
                place: at(None),
                message: format!("no `{key}`: the command that {what} the service"),
            });
            None
        }
        Some(line) => match Command::parse(line) {
            Ok(c) => Some(c),
            Err(message) => {
                errors.push(Error::Invalid {
                    place: at(Some(key)),
                    message,
                });
                None
            }
        },
    };
    let start = command("start_cmd", &fs.start_cmd, "starts");
    let stop = command("stop_cmd", &fs.stop_cmd, "stops");
    let nanny = Nanny::from_failover(fs, g).map_err(|e| errors.push(Error::Check(e)));
    let (Some(address), Some(start), Some(stop), Ok(nanny)) = (address, start, stop, nanny) else {
        return Err(errors);
    };
    let probe = match nanny.probe(SocketAddr::new(address.address, fs.port)) {
        Ok(p) => p,
        Err(e) => {
            errors.push(Error::Check(e));
            return Err(errors);
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Service {
        name: fs.name.clone(),
        address,
        port: fs.port,
        nanny,
        probe,
        reentry: fs.reentry.as_duration(),
        start,
        stop,
    })
}

impl fmt::Display for Plan {
    /// What `director check` prints: each active service's address, port, check and commands.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "failover services: {} active{}",
            self.services.len(),
            if self.inactive.is_empty() {
                String::new()
            } else {
                format!(
                    " ({} inactive: {})",
                    self.inactive.len(),
                    self.inactive.join(", ")
                )
            }
        )?;
        for s in &self.services {
            writeln!(
                f,
                "  failover {}: {}:{} ({})",
                s.name, s.address.address, s.port, s.address
            )?;
            writeln!(
                f,
                "    check: {} every {:?}; after a failure, standby for {:?}",
                s.nanny,
                s.nanny.interval(),
                s.reentry
            )?;
            writeln!(f, "    start: {}", s.start)?;
            writeln!(f, "    stop:  {}", s.stop)?;
        }
        Ok(())
    }
}
