//! The director's metrics in Prometheus' text format: the role and its changes, the heartbeat's
//! datagrams, the IPVS counters of every service and real server of the configuration, and each
//! real server's health and last check.

use std::{fmt::Write, net::SocketAddr};

use healthcheck::Health;
use heartbeat::packet::Reject;
use ipvs::{ServiceKey, Stats};

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

/// A counter family: its name (unit last), the name it had before (kept, deprecated), its help.
type Family = (&'static str, Option<&'static str>, &'static str);

const SERVICE_STATS: [Family; 5] = [
    (
        "lvs_service_connections_total",
        None,
        "Connections scheduled (IPVS).",
    ),
    (
        "lvs_service_in_packets_total",
        Some("lvs_service_packets_in_total"),
        "Packets in (IPVS).",
    ),
    (
        "lvs_service_out_packets_total",
        Some("lvs_service_packets_out_total"),
        "Packets out (IPVS).",
    ),
    (
        "lvs_service_in_bytes_total",
        Some("lvs_service_bytes_in_total"),
        "Bytes in (IPVS).",
    ),
    (
        "lvs_service_out_bytes_total",
        Some("lvs_service_bytes_out_total"),
        "Bytes out (IPVS).",
    ),
];

const SERVER_STATS: [Family; 5] = [
    (
        "lvs_server_connections_total",
        None,
        "Connections scheduled (IPVS).",
    ),
    (
        "lvs_server_in_packets_total",
        Some("lvs_server_packets_in_total"),
        "Packets in (IPVS).",
    ),
    (
        "lvs_server_out_packets_total",
        Some("lvs_server_packets_out_total"),
        "Packets out (IPVS).",
    ),
    (
        "lvs_server_in_bytes_total",
        Some("lvs_server_bytes_in_total"),
        "Bytes in (IPVS).",
    ),
    (
        "lvs_server_out_bytes_total",
        Some("lvs_server_bytes_out_total"),
        "Bytes out (IPVS).",
    ),
];

/// node_exporter's node-wide totals, without labels.
const NODE_TOTALS: [(&str, &str); 5] = [
    (
        "node_ipvs_connections_total",
        "The total number of connections made.",
    ),
    (
        "node_ipvs_incoming_packets_total",
        "The total number of incoming packets.",
    ),
    (
        "node_ipvs_outgoing_packets_total",
        "The total number of outgoing packets.",
    ),
    (
        "node_ipvs_incoming_bytes_total",
        "The total amount of incoming data.",
    ),
    (
        "node_ipvs_outgoing_bytes_total",
        "The total amount of outgoing data.",
    ),
];

fn counters(s: &Stats) -> [f64; 5] {
    [s.conns, s.in_pkts, s.out_pkts, s.in_bytes, s.out_bytes].map(|n| n as f64)
}

fn stats(e: &mut Exposition, prefix: Prefix, labels: &[(&str, &str)], s: &Stats) {
    let families = match prefix {
        Prefix::Service => &SERVICE_STATS,
        Prefix::Server => &SERVER_STATS,
    };
    for ((name, old, help), value) in families.iter().zip(counters(s)) {
        e.sample(name, "counter", help, labels, value);
        if let Some(old) = old {
            e.sample(
                old,
                "counter",
                "Deprecated (the unit goes last now).",
                labels,
                value,
            );
        }
    }
}

/// node_exporter's IPVS series (its `ipvs` collector's names and labels), for the whole node's
/// table, so that its dashboards work: each real server's connections and weight, and the
/// node-wide totals.
fn node_exporter(e: &mut Exposition, live: &Live) {
    if let Some(totals) = &live.totals {
        for ((name, help), value) in NODE_TOTALS.iter().zip(counters(totals)) {
            e.sample(name, "counter", help, &[], value);
        }
    }
    let mut services: Vec<_> = live.kernel.values().collect();
    services.sort_by_key(|(s, _)| s.service.key);
    for (service, destinations) in services {
        let key = service.service.key;
        // As node_exporter reads /proc/net/ip_vs: a mark in 8 hexadecimal digits, no address.
        let (local_address, local_port, local_mark, proto) = match key {
            ServiceKey::Fwmark { mark, .. } => {
                (String::new(), "0".to_string(), format!("{mark:08X}"), "FWM")
            }
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => (
                addr.to_string(),
                port.to_string(),
                String::new(),
                protocol.name(),
            ),
        };
        for d in destinations {
            let remote_address = d.destination.addr.to_string();
            let remote_port = d.destination.port.to_string();
            let labels = [
                ("local_address", local_address.as_str()),
                ("local_port", local_port.as_str()),
                ("remote_address", remote_address.as_str()),
                ("remote_port", remote_port.as_str()),
                ("proto", proto),
                ("local_mark", local_mark.as_str()),
            ];
            for (name, help, value) in [
                (
                    "node_ipvs_backend_connections_active",
                    "The current active connections by local and remote address.",
                    d.active_conns,
                ),
                (
                    "node_ipvs_backend_connections_inactive",
                    "The current inactive connections by local and remote address.",
                    d.inactive_conns,
                ),
                (
                    "node_ipvs_backend_weight",
                    "The current backend weight by local and remote address.",
                    d.destination.weight,
                ),
            ] {
                e.sample(name, "gauge", help, &labels, f64::from(value));
            }
        }
    }
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
        if self.plan().cluster.is_some() {
            let announced = self.announced();
            let vips: std::collections::BTreeSet<_> =
                self.plan().services.iter().map(|s| s.vip).collect();
            for vip in vips {
                e.sample(
                    "lvs_director_vip_announced",
                    "gauge",
                    "Active-active: 1 while this director announces the VIP's route.",
                    &[("vip", vip.to_string().as_str())],
                    if announced.contains(&vip) { 1.0 } else { 0.0 },
                );
            }
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
        node_exporter(&mut e, live);
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

    #[test]
    fn node_exporter_series_name_a_fwmark_service_as_proc_net_ip_vs_does() {
        use ipvs::{Destination, DestinationEntry, Family, Service, ServiceEntry};
        let key = ServiceKey::fwmark(Family::Inet, 7);
        let mut destination = Destination::new("10.0.0.1".parse().unwrap(), 80);
        destination.weight = 3;
        let mut live = Live::new(true);
        live.kernel.insert(
            key,
            (
                ServiceEntry {
                    service: Service::new(key),
                    stats: Stats::default(),
                },
                vec![DestinationEntry {
                    destination,
                    active_conns: 2,
                    inactive_conns: 1,
                    persistent_conns: 0,
                    stats: Stats::default(),
                }],
            ),
        );
        live.totals = Some(Stats {
            conns: 5,
            ..Stats::default()
        });
        let mut e = Exposition::default();
        node_exporter(&mut e, &live);
        let text = e.render();
        let labels = "{local_address=\"\",local_port=\"0\",remote_address=\"10.0.0.1\",remote_port=\"80\",proto=\"FWM\",local_mark=\"00000007\"}";
        for line in [
            format!("node_ipvs_backend_connections_active{labels} 2"),
            format!("node_ipvs_backend_connections_inactive{labels} 1"),
            format!("node_ipvs_backend_weight{labels} 3"),
            "node_ipvs_connections_total 5".to_string(),
        ] {
            assert!(text.lines().any(|l| l == line), "no {line} in\n{text}");
        }
    }
}
