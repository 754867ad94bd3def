//! Load monitoring: a real server's 1-minute load average, for Piranha's weight scaling.

use std::{fmt, net::SocketAddr, time::Duration};

use crate::{CommandTemplate, Error, ProbeError, probe::program};

/// How to read a real server's load average (Piranha's `load_monitor`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "String", into = "String"))]
pub enum LoadMonitor {
    /// `rup HOST`.
    Rup,
    /// `ruptime HOST`.
    Ruptime,
    /// `rsh HOST uptime`.
    Rsh,
    /// `ssh HOST uptime`.
    Ssh,
    /// Any command printing `uptime`-, `rup`- or `ruptime`-style output; `%h` is the real
    /// server's address (appended when the command has no `%h`).
    Command(CommandTemplate),
}

impl LoadMonitor {
    /// Piranha's setting: `none` is `None`; `rup`, `ruptime`, `rsh`, `ssh`, or a command.
    ///
    /// ```
    /// use healthcheck::LoadMonitor;
    /// assert_eq!(LoadMonitor::piranha("none").unwrap(), None);
    /// assert_eq!(LoadMonitor::piranha("ssh").unwrap(), Some(LoadMonitor::Ssh));
    /// ```
    pub fn piranha(setting: &str) -> Result<Option<Self>, Error> {
        Ok(Some(match setting {
            "" | "none" => return Ok(None),
            "rup" => LoadMonitor::Rup,
            "ruptime" => LoadMonitor::Ruptime,
            "rsh" => LoadMonitor::Rsh,
            "ssh" => LoadMonitor::Ssh,
            other => LoadMonitor::Command(CommandTemplate::parse(other)?),
        }))
    }

    /// The argument vector for a real server.
    pub fn argv(&self, target: SocketAddr) -> Vec<String> {
        let host = target.ip().to_string();
        match self {
            LoadMonitor::Rup => vec!["rup".into(), host],
            LoadMonitor::Ruptime => vec!["ruptime".into(), host],
            LoadMonitor::Rsh => vec!["rsh".into(), host, "uptime".into()],
            LoadMonitor::Ssh => vec!["ssh".into(), host, "uptime".into()],
            LoadMonitor::Command(t) => {
                let mut argv = t.render(target);
                if !t.to_string().contains("%h") {
                    argv.push(host);
                }
                argv
            }
        }
    }

    /// Runs the command for `target` and reads the 1-minute load average from its output.
    pub async fn query(&self, target: SocketAddr, limit: Duration) -> Result<f64, ProbeError> {
        let output = program::run(&self.argv(target), limit).await?;
        let text = String::from_utf8_lossy(&output);
        parse_load(&text).ok_or_else(|| ProbeError::mismatch("a load average", &output))
    }
}

impl fmt::Display for LoadMonitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadMonitor::Rup => f.write_str("rup"),
            LoadMonitor::Ruptime => f.write_str("ruptime"),
            LoadMonitor::Rsh => f.write_str("rsh"),
            LoadMonitor::Ssh => f.write_str("ssh"),
            LoadMonitor::Command(t) => t.fmt(f),
        }
    }
}

/// The 1-minute load average in `uptime` (`load average: 0.08, …`), `rup` (the same), BSD
/// (`load averages: 0.08 …`) or `ruptime` (`load 0.08, …`) output. Piranha's RHEL build looked
/// for a `:` after `load` and so could not read `ruptime`; this reads all of them.
///
/// ```
/// use healthcheck::parse_load;
/// assert_eq!(parse_load(" 10:14:03 up 3 days,  2:01,  1 user,  load average: 0.08, 0.03, 0.01"), Some(0.08));
/// assert_eq!(parse_load("web1      up  3+02:01,     1 user,   load 1.50, 0.03, 0.01"), Some(1.5));
/// assert_eq!(parse_load("no numbers here"), None);
/// ```
pub fn parse_load(text: &str) -> Option<f64> {
    let mut rest = text;
    while let Some(at) = rest.find("load") {
        let word_start = rest[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        if !word_start {
            rest = &rest[at + 4..];
            continue;
        }
        let mut after = &rest[at + 4..];
        for word in [" averages", " average"] {
            if let Some(s) = after.strip_prefix(word) {
                after = s;
                break;
            }
        }
        let after = after.strip_prefix(':').unwrap_or(after).trim_start();
        let end = after
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(after.len());
        if let Ok(load) = after[..end].parse::<f64>()
            && load.is_finite()
        {
            return Some(load);
        }
        rest = &rest[at + 4..];
    }
    None
}

impl TryFrom<String> for LoadMonitor {
    type Error = Error;

    /// Piranha's setting, without `none` (an absent monitor is `None` around it).
    fn try_from(setting: String) -> Result<Self, Error> {
        LoadMonitor::piranha(&setting)?
            .ok_or_else(|| Error::Command(format!("{setting:?} is no load monitor")))
    }
}

impl From<LoadMonitor> for String {
    fn from(monitor: LoadMonitor) -> String {
        monitor.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(
            parse_load("host1     up  12 days, 18:14,  load average: 2.25, 0.00, 0.00\n"),
            Some(2.25)
        );
        assert_eq!(
            parse_load("11:02  up 4 days, 2 users, load averages: 1.92 2.03 2.10"),
            Some(1.92)
        );
        assert_eq!(parse_load("load average: nan, 1.0"), None);
        assert_eq!(parse_load("download 3; load average: 0.5"), Some(0.5));
        assert_eq!(parse_load(""), None);
    }

    #[test]
    fn argv() {
        let t: SocketAddr = "10.0.0.2:80".parse().unwrap();
        assert_eq!(LoadMonitor::Ssh.argv(t), ["ssh", "10.0.0.2", "uptime"]);
        let c = LoadMonitor::piranha("/usr/local/bin/load --host")
            .unwrap()
            .unwrap();
        assert_eq!(c.argv(t), ["/usr/local/bin/load", "--host", "10.0.0.2"]);
        let c = LoadMonitor::piranha("getload %h:%p").unwrap().unwrap();
        assert_eq!(c.argv(t), ["getload", "10.0.0.2:80"]);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in ".*") {
            let _ = parse_load(&s);
        }
    }
}
