//! CPU time and memory of a process and everything it started, from `/proc`.

use std::{collections::HashMap, io, time::Duration};

/// What a process tree has used so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// User + system time of the live processes and of the children they waited for.
    pub cpu: Duration,
    /// Resident memory of the live processes, KiB.
    pub rss_kib: u64,
    /// The largest resident memory each live process ever had, summed, KiB.
    pub peak_rss_kib: u64,
    /// How many processes are in the tree.
    pub processes: usize,
}

/// The usage of `root` and its descendants, now.
pub fn tree_usage(root: u32) -> io::Result<Usage> {
    // SAFETY: sysconf has no preconditions.
    let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).unwrap_or(100);
    let mut parent = HashMap::new();
    let mut ticks = HashMap::new();
    for entry in std::fs::read_dir("/proc")? {
        let Some(pid) = entry?
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // A process may exit while we look: skip it.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((ppid, t)) = parse_stat(&stat) else {
            continue;
        };
        parent.insert(pid, ppid);
        ticks.insert(pid, t);
    }
    let in_tree = |mut pid: u32| loop {
        if pid == root {
            return true;
        }
        match parent.get(&pid) {
            Some(&p) if p != 0 && p != pid => pid = p,
            _ => return false,
        }
    };
    let mut usage = Usage::default();
    for (&pid, &t) in &ticks {
        if !in_tree(pid) {
            continue;
        }
        usage.processes += 1;
        usage.cpu += Duration::from_secs_f64(t as f64 / hz as f64);
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            usage.rss_kib += status_kib(&status, "VmRSS:");
            usage.peak_rss_kib += status_kib(&status, "VmHWM:");
        }
    }
    if usage.processes == 0 {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no process {root}"),
        ));
    }
    Ok(usage)
}

/// The parent and the clock ticks (utime + stime + cutime + cstime) of a `/proc/PID/stat` line.
fn parse_stat(stat: &str) -> Option<(u32, u64)> {
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ppid = fields.get(1)?.parse().ok()?;
    let mut t = 0;
    for i in 11..=14 {
        t += fields.get(i)?.parse::<i64>().ok()?.max(0) as u64;
    }
    Some((ppid, t))
}

fn status_kib(status: &str, key: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_names() {
        let line = "42 (a b) c)) S 7 42 42 0 -1 4194560 100 0 0 0 11 22 33 44 20 0 1 0";
        assert_eq!(parse_stat(line), Some((7, 11 + 22 + 33 + 44)));
        assert_eq!(parse_stat("42 (x) S"), None);
    }

    #[test]
    fn this_process_uses_some_cpu_and_memory() {
        let u = tree_usage(std::process::id()).expect("our own process");
        assert!(u.processes >= 1 && u.rss_kib > 0 && u.peak_rss_kib >= u.rss_kib);
        assert!(tree_usage(u32::MAX).is_err());
    }
}
