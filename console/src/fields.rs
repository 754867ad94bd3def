//! The fields of each page, as piranha-gui had them: which `lvs.cf` keyword each edits, its
//! label, and how it is entered; and a submitted form turned into edits.

use lvscf::Section;

/// How a field is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Free text (one value).
    Text,
    /// Several values separated by blanks (`192.168.1.250 eth0:1`).
    Words,
    /// A number.
    Number,
    /// On or off (`1` / `0`).
    Flag,
    /// One of these.
    Choice(&'static [&'static str]),
}

/// One field.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    /// The `lvs.cf` keyword.
    pub(crate) key: &'static str,
    /// Its label.
    pub(crate) label: &'static str,
    /// How it is entered.
    pub(crate) kind: Kind,
}

pub(crate) const fn f(key: &'static str, label: &'static str, kind: Kind) -> Field {
    Field { key, label, kind }
}

/// GLOBAL SETTINGS.
pub(crate) const GLOBAL: &[Field] = &[
    f("primary", "Primary server public IP", Kind::Text),
    f("primary_private", "Primary server private IP", Kind::Text),
    f("service", "Service", Kind::Choice(&["lvs", "fos"])),
    f(
        "network",
        "Network type",
        Kind::Choice(&["nat", "direct", "tunnel"]),
    ),
    f(
        "nat_router",
        "NAT router IP and device (e.g. 10.0.0.254 eth1:1)",
        Kind::Words,
    ),
    f("nat_nmask", "NAT router netmask", Kind::Text),
    f(
        "tcp_timeout",
        "IPVS TCP timeout (s, 0: unchanged)",
        Kind::Number,
    ),
    f("tcpfin_timeout", "IPVS TCP FIN timeout (s)", Kind::Number),
    f("udp_timeout", "IPVS UDP timeout (s)", Kind::Number),
];

/// REDUNDANCY.
pub(crate) const REDUNDANCY: &[Field] = &[
    f(
        "backup_active",
        "Redundancy enabled (a backup router)",
        Kind::Flag,
    ),
    f("backup", "Redundant server public IP", Kind::Text),
    f("backup_private", "Redundant server private IP", Kind::Text),
    f("heartbeat_port", "Heartbeat runs on port", Kind::Number),
    f("keepalive", "Heartbeat interval (s)", Kind::Number),
    f("deadtime", "Assume dead after (s)", Kind::Number),
    f(
        "monitor_links",
        "Monitor NIC links for failures",
        Kind::Flag,
    ),
    f("syncdaemon", "Connection sync daemon", Kind::Flag),
    f("syncd_iface", "Sync daemon interface", Kind::Text),
    f("syncd_id", "Sync daemon id", Kind::Number),
];

/// VIRTUAL SERVER.
pub(crate) const VIRTUAL: &[Field] = &[
    f("active", "Active", Kind::Flag),
    f(
        "address",
        "Virtual IP address and device (e.g. 192.168.1.250 eth0:1)",
        Kind::Words,
    ),
    f("vip_nmask", "Virtual IP network mask", Kind::Text),
    f("port", "Application port", Kind::Number),
    f("protocol", "Protocol", Kind::Choice(&["tcp", "udp"])),
    f("fwmark", "Firewall mark", Kind::Number),
    f(
        "scheduler",
        "Scheduling",
        Kind::Choice(&["wlc", "lc", "rr", "wrr", "lblc", "lblcr", "dh", "sh"]),
    ),
    f("persistent", "Persistence (s)", Kind::Number),
    f("pmask", "Persistence network mask", Kind::Text),
    f("timeout", "Check timeout (s)", Kind::Number),
    f("reentry", "Re-entry time (s)", Kind::Number),
    f("quiesce_server", "Quiesce server", Kind::Flag),
    f(
        "load_monitor",
        "Load monitoring tool",
        Kind::Choice(&["none", "uptime", "ruptime", "rup"]),
    ),
    f("sorry_server", "Sorry server", Kind::Text),
];

/// MONITORING SCRIPTS (of a virtual server).
pub(crate) const MONITORING: &[Field] = &[
    f("send", "Send", Kind::Text),
    f("expect", "Expect", Kind::Text),
    f(
        "use_regex",
        "Treat expect string as a regular expression",
        Kind::Flag,
    ),
    f(
        "send_program",
        "Sending program (%h: host, %p: port)",
        Kind::Text,
    ),
];

/// REAL SERVER.
pub(crate) const SERVER: &[Field] = &[
    f("address", "Address", Kind::Text),
    f("port", "Port (default: the virtual server's)", Kind::Number),
    f("weight", "Weight", Kind::Number),
    f("active", "Active", Kind::Flag),
];

/// Whether a submitted flag is on: a checkbox sends `1` when checked; `0`, `off`, `false` or
/// nothing is off.
pub(crate) fn on(value: &str) -> bool {
    !matches!(value.trim(), "" | "0" | "off" | "false")
}

/// A field's current value in `section`, as shown.
pub(crate) fn current(section: &Section<'_>, field: &Field) -> String {
    section
        .get(field.key)
        .map(|v| v.join(" "))
        .unwrap_or_default()
}

/// Why a field's value cannot be written: its keyword, what is wrong, and the column of the
/// problem in the line as it would be written (when the parser said).
#[derive(Debug)]
pub(crate) struct Refused {
    pub(crate) key: &'static str,
    pub(crate) why: String,
    pub(crate) column: Option<u32>,
}

impl Refused {
    fn new(key: &'static str, e: &lvscf::EditError) -> Refused {
        match e {
            lvscf::EditError::Invalid { diagnostic, .. } => Refused {
                key,
                why: diagnostic.message.clone(),
                column: Some(diagnostic.column),
            },
            other => Refused {
                key,
                why: other.to_string(),
                column: None,
            },
        }
    }
}

/// What `form` asks of `field`, whose value is `now`: `None` when it says nothing of it. A
/// flag is `1` or `0`; an absent flag counts as unchecked when `form` is the page's whole form
/// (its `_fields` marker) and the keyword is written.
pub(crate) fn wanted(field: &Field, form: &[(String, String)], now: &str) -> Option<String> {
    let submitted = |key: &str| form.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim());
    let whole_form = submitted("_fields").is_some();
    match (field.kind, submitted(field.key)) {
        (Kind::Flag, Some(v)) => Some(if on(v) { "1" } else { "0" }.to_string()),
        (Kind::Flag, None) if whole_form && !now.is_empty() => Some("0".to_string()),
        (_, Some(v)) => Some(v.to_string()),
        (_, None) => None,
    }
}

/// Sets `section`'s `fields` from the submitted `form` (key, value): a changed value is set, an
/// emptied one removed, an unchecked flag set to 0. Fields not in the form are left alone (a
/// flag's absence counts when `form` has the page's marker, `_fields`). The first refusal.
pub(crate) fn apply(
    section: &mut Section<'_>,
    fields: &[Field],
    form: &[(String, String)],
) -> Result<(), Refused> {
    for field in fields {
        let now = current(section, field);
        let Some(wanted) = wanted(field, form, &now) else {
            continue;
        };
        if wanted == now {
            continue;
        }
        if wanted.is_empty() {
            section.remove(field.key);
            continue;
        }
        let done = match field.kind {
            Kind::Words => {
                let words: Vec<&str> = wanted.split_whitespace().collect();
                section.set_values(field.key, &words)
            }
            _ => section.set(field.key, &wanted),
        };
        done.map_err(|e| Refused::new(field.key, &e))?;
    }
    Ok(())
}
