//! lvs.cf and the settings overlay read together, as `director check`, `director run` and a
//! reload read them: a plan, or every problem as a line with its `file:line:column` (values
//! quoted at most [`lvscf::MAX_QUOTE`] characters long, at most [`lvscf::MAX_SHOWN`] lines and
//! one that counts the others). Reading the bytes is the caller's.

use std::net::Ipv4Addr;

use lvscf::{Document, Place, Severity};

use crate::{Plan, PlanError, Settings};

/// One line about the files, and how bad.
pub type Said = (Severity, String);

/// The files' contents and the names they are shown by.
#[derive(Debug, Clone, Copy)]
pub struct Files<'a> {
    /// lvs.cf's bytes.
    pub config: &'a [u8],
    /// How lvs.cf is named in the lines (its path).
    pub config_name: &'a str,
    /// The overlay's bytes and name, if there is one.
    pub overlay: Option<(&'a [u8], &'a str)>,
}

/// A host name's first IPv4 address, by the system's resolver (`/etc/hosts`, DNS), as the
/// director resolves lvs.cf's names.
pub fn system_resolve(name: &str) -> Option<Ipv4Addr> {
    use std::net::{SocketAddr, ToSocketAddrs};
    (name, 0).to_socket_addrs().ok()?.find_map(|a| match a {
        SocketAddr::V4(a) => Some(*a.ip()),
        SocketAddr::V6(_) => None,
    })
}

/// Plans the files; `resolve` turns host names into addresses. The plan (`None` when the files
/// have errors), and what is to be said about them.
///
/// ```
/// use director_core::files::{Files, load};
/// let files = Files { config: b"virtual WEB {\n active = yes\n", config_name: "lvs.cf", overlay: None };
/// let (plan, said) = load(&files, &|_| None);
/// assert!(plan.is_none());
/// assert!(said.iter().any(|(_, l)| l.starts_with("lvs.cf:2:11: error")), "{said:?}");
/// ```
pub fn load(
    files: &Files<'_>,
    resolve: &dyn Fn(&str) -> Option<Ipv4Addr>,
) -> (Option<Plan>, Vec<Said>) {
    let mut all = Vec::new();
    let plan = load_all(files, resolve, &mut all);
    let more = all.len().saturating_sub(lvscf::MAX_SHOWN);
    let worst = (all.iter().skip(lvscf::MAX_SHOWN))
        .map(|(s, _)| *s)
        .max_by_key(|s| *s == Severity::Error)
        .unwrap_or(Severity::Warning);
    all.truncate(lvscf::MAX_SHOWN);
    if more > 0 {
        all.push((
            worst,
            format!("director: … and {more} more errors and warnings"),
        ));
    }
    (plan, all)
}

/// `file:line:column` of `place` in `doc` (or just the file, for a place it does not have).
fn position(shown: &str, doc: &Document, place: &Place) -> String {
    match doc.locate_place(place) {
        Some(at) => format!("{shown}:{}:{}", at.line, at.column),
        None => shown.to_string(),
    }
}

/// [`load`], every line kept.
fn load_all(
    files: &Files<'_>,
    resolve: &dyn Fn(&str) -> Option<Ipv4Addr>,
    lines: &mut Vec<Said>,
) -> Option<Plan> {
    let shown = files.config_name;
    let settings_shown = files.overlay.map_or("", |(_, name)| name);
    let error = |line: String| (Severity::Error, line);
    let settings = match files.overlay {
        None => Settings::default(),
        Some((bytes, _)) => {
            let parsed = std::str::from_utf8(bytes)
                .map_err(|e| format!("{settings_shown}: error: not UTF-8 ({e})"))
                .and_then(|text| {
                    Settings::parse(text).map_err(|e| {
                        let message = lvscf::shorten(&e.message);
                        format!("{settings_shown}:{}:{}: error: {message}", e.line, e.column)
                    })
                });
            match parsed {
                Ok(s) => s,
                Err(line) => {
                    lines.push(error(line));
                    return None;
                }
            }
        }
    };
    let said = |d: &lvscf::Diagnostic| (d.severity, d.clone().with_file(shown).to_string());
    let doc = match Document::parse_bytes(files.config) {
        Ok(doc) => doc,
        Err(e) => {
            lines.extend(e.diagnostics.iter().map(said));
            return None;
        }
    };
    lines.extend(doc.diagnostics().iter().map(said));
    lines.extend(doc.lint().iter().map(said));
    match Plan::build_with(doc.config(), &settings, resolve) {
        Ok(plan) => Some(plan),
        Err(errors) => {
            for e in errors {
                let message = lvscf::shorten(&e.to_string()).into_owned();
                lines.push(error(match (&e, e.place()) {
                    (PlanError::Settings(s), _) => format!(
                        "{settings_shown}:{}:{}: error: {}",
                        s.line,
                        s.column,
                        lvscf::shorten(&s.message)
                    ),
                    (_, Some(place)) => {
                        format!("{}: error: {message}", position(shown, &doc, place))
                    }
                    (_, None) => format!("{shown}: error: {message}"),
                }));
            }
            None
        }
    }
}
