//! The director's metrics in Prometheus' text format: the role and its changes, the heartbeat's
//! datagrams, the IPVS counters of every service and real server of the configuration, and each
//! real server's health and last check.

use std::{fmt::Write, net::SocketAddr};

use healthcheck::Health;
use heartbeat::packet::Reject;
use ipvs::Stats;

use crate::{Engine, Live};

/// Metric families, each written whole (Prometheus wants a family's samples together).
#[derive(Default)]
struct Exposition {
    families: Vec<(&'static str, &'static str, &'static str, String)>,
}

impl Exposition {
    fn sample(
        &mut self,
        name: &'static str,
        kind: &'static str,
        help: &'static str,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        let i = match self.families.iter().position(|f| f.0 == name) {
            Some(i) => i,
            None => {
                self.families.push((name, kind, help, String::new()));
                self.families.len() - 1
            }
        };
        let out = &mut self.families[i].3;
        out.push_str(name);
        if !labels.is_empty() {
            out.push('{');
            for (j, (k, v)) in labels.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{k}=\"{}\"", escape(v));
            }
            out.push('}');
        }
        let _ = writeln!(out, " {value}");
    }

    fn render(self) -> String {
        let mut out = String::new();
        for (name, kind, help, samples) in self.families {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            out.push_str(&samples);
        }
        out
    }
}

/// A label value as the text format wants it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn stats(e: &mut Exposition, prefix: Prefix, labels: &[(&str, &str)], s: &Stats) {
    let (conns, pin, pout, bin, bout) = match prefix {
        Prefix::Service => (
            "lvs_service_connections_total",
            "lvs_service_packets_in_total",
            "lvs_service_packets_out_total",
            "lvs_service_bytes_in_total",
            "lvs_service_bytes_out_total",
        ),
        Prefix::Server => (
            "lvs_server_connections_total",
            "lvs_server_packets_in_total",
            "lvs_server_packets_out_total",
            "lvs_server_bytes_in_total",
            "lvs_server_bytes_out_total",
        ),
    };
    let f = |n: u64| n as f64;
    e.sample(
        conns,
        "counter",
        "Connections scheduled (IPVS).",
        labels,
        f(s.conns),
    );
    e.sample(pin, "counter", "Packets in (IPVS).", labels, f(s.in_pkts));
    e.sample(
        pout,
        "counter",
        "Packets out (IPVS).",
        labels,
        f(s.out_pkts),
    );
    e.sample(bin, "counter", "Bytes in (IPVS).", labels, f(s.in_bytes));
    e.sample(bout, "counter", "Bytes out (IPVS).", labels, f(s.out_bytes));
}

#[derive(Clone, Copy)]
enum Prefix {
    Service,
    Server,
}

impl Engine {
    /// The metrics, now.
    pub fn metrics(&self, live: &Live) -> String {
        let mut e = Exposition::default();
        if let Some(b) = &live.build {
            e.sample(
                "director_build_info",
                "gauge",
                "The director's version and the commit it was built from (always 1).",
                &[("version", b.version), ("commit", b.commit)],
                1.0,
            );
        }
        e.sample(
            "lvs_director_active",
            "gauge",
            "1 while this director holds the addresses.",
            &[],
            if self.is_active() { 1.0 } else { 0.0 },
        );
        e.sample(
            "lvs_director_primary",
            "gauge",
            "1 on the primary router, 0 on the backup.",
            &[],
            if live.primary { 1.0 } else { 0.0 },
        );
        e.sample(
            "lvs_director_fit",
            "gauge",
            "1 while the trackers let this router be active.",
            &[],
            if self.is_fit() { 1.0 } else { 0.0 },
        );
        for (name, _, failing) in self.trackers_status() {
            e.sample(
                "lvs_director_track_failing",
                "gauge",
                "1 while a tracker fails.",
                &[("track", name.as_str())],
                if failing { 1.0 } else { 0.0 },
            );
        }
        let c = self.counts();
        for (name, help, v) in [
            (
                "lvs_director_role_changes_total",
                "Times this director became active or standby.",
                c.role_changes,
            ),
            ("lvs_director_reloads_total", "Reloads applied.", c.reloads),
            (
                "lvs_director_reload_failures_total",
                "Reloads refused (invalid configuration).",
                c.reload_failures,
            ),
            (
                "lvs_director_repairs_total",
                "IPVS table or address repairs (changed behind the director's back).",
                c.repairs,
            ),
        ] {
            e.sample(name, "counter", help, &[], v as f64);
        }
        if let Some(c) = &live.heartbeat {
            e.sample(
                "lvs_heartbeat_sent_total",
                "counter",
                "Heartbeat datagrams sent.",
                &[],
                c.sent as f64,
            );
            e.sample(
                "lvs_heartbeat_accepted_total",
                "counter",
                "Heartbeat datagrams accepted from the peer.",
                &[],
                c.accepted as f64,
            );
            for reason in Reject::ALL {
                e.sample(
                    "lvs_heartbeat_rejected_total",
                    "counter",
                    "Heartbeat datagrams rejected, by reason.",
                    &[("reason", reason.name())],
                    c.rejected(reason) as f64,
                );
            }
            e.sample(
                "lvs_heartbeat_stalls_total",
                "counter",
                "Late wake-ups of the heartbeat (the process or machine stalled).",
                &[],
                c.stalls as f64,
            );
        }
        let Live { kernel, checks, .. } = live;
        for s in &self.plan().services {
            let service = s.service.key.to_string();
            let labels = [("virtual", s.name.as_str()), ("service", service.as_str())];
            let in_kernel = kernel.get(&s.service.key);
            if let Some((entry, _)) = in_kernel {
                stats(&mut e, Prefix::Service, &labels, &entry.stats);
            }
            for r in &s.servers {
                let key = crate::ServerKey::of(&s.service.key, &r.destination);
                let addr = SocketAddr::new(r.destination.addr, r.destination.port);
                let address = addr.to_string();
                let labels = [
                    ("virtual", s.name.as_str()),
                    ("server", r.name.as_str()),
                    ("address", address.as_str()),
                ];
                let up = self.desired().health(&key).flatten() == Some(Health::Up);
                e.sample(
                    "lvs_server_up",
                    "gauge",
                    "1 when the real server's checks say it is up.",
                    &labels,
                    if up { 1.0 } else { 0.0 },
                );
                if let Some(c) = checks.get(&addr) {
                    if let Some(last) = &c.state.last {
                        e.sample(
                            "lvs_server_check_latency_seconds",
                            "gauge",
                            "How long the last check took.",
                            &labels,
                            last.latency.as_secs_f64(),
                        );
                    }
                    e.sample(
                        "lvs_server_checks_total",
                        "counter",
                        "Checks run.",
                        &labels,
                        c.state.checks as f64,
                    );
                    e.sample(
                        "lvs_server_check_failures_total",
                        "counter",
                        "Checks failed.",
                        &labels,
                        c.state.failures as f64,
                    );
                }
                let dest = in_kernel.and_then(|(_, ds)| {
                    ds.iter()
                        .find(|d| SocketAddr::new(d.destination.addr, d.destination.port) == addr)
                });
                if let Some(d) = dest {
                    e.sample(
                        "lvs_server_weight",
                        "gauge",
                        "The real server's weight in the kernel.",
                        &labels,
                        f64::from(d.destination.weight),
                    );
                    e.sample(
                        "lvs_server_active_connections",
                        "gauge",
                        "Active connections (IPVS).",
                        &labels,
                        f64::from(d.active_conns),
                    );
                    e.sample(
                        "lvs_server_inactive_connections",
                        "gauge",
                        "Inactive connections (IPVS).",
                        &labels,
                        f64::from(d.inactive_conns),
                    );
                    stats(&mut e, Prefix::Server, &labels, &d.stats);
                }
            }
        }
        e.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_written_whole_with_escaped_labels() {
        let mut e = Exposition::default();
        e.sample("a_total", "counter", "A.", &[("x", "1")], 1.0);
        e.sample("b", "gauge", "B.", &[], 2.5);
        e.sample("a_total", "counter", "A.", &[("x", "say \"hi\"\\\n")], 3.0);
        assert_eq!(
            e.render(),
            "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 1\na_total{x=\"say \\\"hi\\\"\\\\\\n\"} 3\n# HELP b B.\n# TYPE b gauge\nb 2.5\n"
        );
    }
}
