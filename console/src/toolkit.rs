//! What the toolkit adds to Piranha, kept in the settings overlay (`director.toml`) and edited
//! there with `toml_edit` (its comments and layout stay): the authenticated heartbeat and its
//! millisecond timers, drains, the address probe, tracking's threshold, and per virtual server
//! its forwarding, scheduler, rise and fall, drain timeout and HTTP check.

use toml_edit::{DocumentMut, Item, Table, TableLike, Value};

use crate::fields::{Field, Kind, Refused, f};

/// The overlay's global settings, on the REDUNDANCY and GLOBAL SETTINGS pages' side.
pub(crate) const GLOBAL: &[Field] = &[
    f(
        "heartbeat.mode",
        "Heartbeat protocol",
        Kind::Choice(&["piranha", "authenticated"]),
    ),
    f(
        "heartbeat.key_file",
        "Authenticated heartbeat: key file",
        Kind::Text,
    ),
    f(
        "heartbeat.priority",
        "Authenticated heartbeat: priority (the higher wins; default 100)",
        Kind::Number,
    ),
    f(
        "heartbeat.failback",
        "Authenticated heartbeat: take the active role back from a lower priority",
        Kind::Flag,
    ),
    f(
        "heartbeat.keepalive",
        "Heartbeat interval, instead of lvs.cf's seconds (e.g. 200ms)",
        Kind::Text,
    ),
    f(
        "heartbeat.deadtime",
        "Assume dead after (e.g. 1s)",
        Kind::Text,
    ),
    f(
        "director.drain_timeout",
        "A removed real server drains at most (e.g. 5m)",
        Kind::Text,
    ),
    f(
        "director.address_probe",
        "Address conflict probe before claiming (e.g. 50ms; 0s: none)",
        Kind::Text,
    ),
    f(
        "track.threshold",
        "Tracking: the failing weight that makes this router step down",
        Kind::Number,
    ),
];

/// A virtual server's settings in the overlay (`[virtual.NAME]`); their form names start with
/// `toolkit.`, apart from lvs.cf's fields on the same page.
pub(crate) const VIRTUAL: &[Field] = &[
    f(
        "toolkit.forwarding",
        "Forwarding, instead of lvs.cf's network",
        Kind::Choice(&["nat", "direct", "tunnel"]),
    ),
    f(
        "toolkit.scheduler",
        "Scheduler, any of the kernel's (e.g. mh), instead of lvs.cf's",
        Kind::Text,
    ),
    f(
        "toolkit.rise",
        "Successes in a row to put a real server in",
        Kind::Number,
    ),
    f(
        "toolkit.fall",
        "Failures in a row to take it out",
        Kind::Number,
    ),
    f(
        "toolkit.drain_timeout",
        "A removed real server drains at most",
        Kind::Text,
    ),
    f(
        "toolkit.http.path",
        "HTTP check instead of send/expect: path",
        Kind::Text,
    ),
    f(
        "toolkit.http.status",
        "HTTP check: status (e.g. 200-299)",
        Kind::Text,
    ),
    f(
        "toolkit.http.expect",
        "HTTP check: the body contains",
        Kind::Text,
    ),
];

/// The overlay's keys of a field's form name, under `prefix`.
fn path<'a>(prefix: &[&'a str], key: &'a str) -> Vec<&'a str> {
    let key = key.strip_prefix("toolkit.").unwrap_or(key);
    prefix.iter().copied().chain(key.split('.')).collect()
}

/// The item at `path` (the field's dotted key under `prefix`).
fn get<'a>(doc: &'a DocumentMut, prefix: &[&str], key: &str) -> Option<&'a Item> {
    let mut item = doc.as_item();
    for k in path(prefix, key) {
        item = item.get(k)?;
    }
    Some(item)
}

/// A field's value in the overlay, as shown (flags as `1`/`0`).
pub(crate) fn current(doc: &DocumentMut, prefix: &[&str], field: &Field) -> String {
    match get(doc, prefix, field.key).and_then(Item::as_value) {
        Some(Value::String(s)) => s.value().clone(),
        Some(Value::Integer(i)) => i.value().to_string(),
        Some(Value::Boolean(b)) => if *b.value() { "1" } else { "0" }.into(),
        Some(other) => other.to_string().trim().to_string(),
        None => String::new(),
    }
}

/// The table that holds `path`'s last key, made (implicit: no header of its own) when missing.
fn parent<'a>(doc: &'a mut DocumentMut, path: &[&str]) -> Result<&'a mut dyn TableLike, String> {
    let mut table: &mut dyn TableLike = doc.as_table_mut();
    for k in &path[..path.len().saturating_sub(1)] {
        if table.get(k).is_none() {
            let mut t = Table::new();
            t.set_implicit(true);
            table.insert(k, Item::Table(t));
        }
        table = table
            .get_mut(k)
            .and_then(Item::as_table_like_mut)
            .ok_or_else(|| format!("`{k}` is not a table"))?;
    }
    Ok(table)
}

/// Sets the overlay's `fields` under `prefix` from the submitted `form`, as
/// [`crate::fields::apply`] does for lvs.cf: a changed value set with its type, an emptied one
/// removed.
pub(crate) fn apply(
    doc: &mut DocumentMut,
    prefix: &[&str],
    fields: &[Field],
    form: &[(String, String)],
) -> Result<(), Refused> {
    for field in fields {
        let now = current(doc, prefix, field);
        let Some(wanted) = crate::fields::wanted(field, form, &now) else {
            continue;
        };
        if wanted == now {
            continue;
        }
        let path = path(prefix, field.key);
        let last = path.last().copied().unwrap_or_default();
        let refuse = |why: String| Refused {
            key: field.key,
            why,
            column: None,
        };
        let table = parent(doc, &path).map_err(refuse)?;
        if wanted.is_empty() {
            table.remove(last);
            continue;
        }
        let value = match field.kind {
            Kind::Number => Value::from(
                wanted
                    .parse::<i64>()
                    .map_err(|_| refuse(format!("`{wanted}` is not a whole number")))?,
            ),
            Kind::Flag => Value::from(wanted == "1"),
            _ => Value::from(wanted.as_str()),
        };
        let mut value = value;
        // A value changed in place keeps its spacing and end-of-line comment.
        if let Some(old) = table.get(last).and_then(Item::as_value) {
            *value.decor_mut() = old.decor().clone();
        }
        table.insert(last, Item::Value(value));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_set_with_their_types_and_the_rest_of_the_file_stays() {
        let text = "# our overlay\n[heartbeat]\nmode = \"piranha\"   # for now\n\n[virtual.HTTP]\nrise = 2\n";
        let mut doc: DocumentMut = text.parse().unwrap();
        let form: Vec<(String, String)> = [
            ("_fields", "1"),
            ("heartbeat.mode", "authenticated"),
            ("heartbeat.priority", "150"),
            ("heartbeat.failback", "1"),
            ("director.drain_timeout", "1m"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        apply(&mut doc, &[], GLOBAL, &form).unwrap();
        let out = doc.to_string();
        assert!(
            out.starts_with("# our overlay\n[heartbeat]\nmode = \"authenticated\"   # for now\n"),
            "{out}"
        );
        assert!(out.contains("priority = 150\n"), "{out}");
        assert!(out.contains("failback = true\n"), "{out}");
        assert!(
            out.contains("[director]\ndrain_timeout = \"1m\"\n"),
            "{out}"
        );
        assert!(out.contains("[virtual.HTTP]\nrise = 2\n"), "{out}");
        // A virtual server's HTTP check: a table of its own; an emptied value goes.
        let form: Vec<(String, String)> = [("toolkit.http.path", "/health"), ("toolkit.rise", "")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        apply(&mut doc, &["virtual", "HTTP"], VIRTUAL, &form).unwrap();
        let out = doc.to_string();
        assert!(!out.contains("rise"), "{out}");
        assert!(out.contains("path = \"/health\""), "{out}");
        assert_eq!(current(&doc, &["virtual", "HTTP"], &VIRTUAL[5]), "/health");
        let bad: Vec<(String, String)> = vec![("heartbeat.priority".into(), "high".into())];
        let e = apply(&mut doc, &[], GLOBAL, &bad).unwrap_err();
        assert_eq!(e.key, "heartbeat.priority");
    }
}
