//! What the machine should be like for a plan: [`Plan::environment`].

use ipvs::environment::{Finding, Level, Machine, Planned};

use crate::Plan;

impl Plan {
    /// What `machine` lacks or does badly for this plan, as the `ipvs` environment checks
    /// report it (forwarding, IPVS modules, firewall, timeouts), and in active-active mode what
    /// [`cluster::check`] warns about (schedulers that choose differently on each director,
    /// `sloppy_tcp`) and a missing sync daemon.
    ///
    /// ```
    /// # let doc = lvscf::Document::parse("primary = 10.0.0.9\nvirtual WEB {\n active = 1\n address = 10.0.0.1 eth0\n server a {\n  address = 10.0.1.1\n  active = 1\n }\n}\n").unwrap();
    /// # let plan = director_core::Plan::build(doc.config(), &|_| None).unwrap();
    /// for finding in plan.environment(&ipvs::environment::System) {
    ///     println!("{finding}");
    /// }
    /// ```
    pub fn environment(&self, machine: &dyn Machine) -> Vec<Finding> {
        let servers: Vec<ipvs::VirtualServer> =
            self.services.iter().map(|s| s.table_entry()).collect();
        let planned: Vec<Planned<'_>> = (self.services.iter().zip(&servers))
            .map(|(s, vs)| {
                Planned::new(&s.name, vs).quiescing(s.servers.iter().any(|r| r.health.quiesce))
            })
            .collect();
        let mut out = ipvs::environment::check(&planned, machine);
        if self.cluster.is_some() {
            out.extend(cluster::check::check(&planned, machine));
            if self.sync_daemon.is_none() && !planned.is_empty() {
                out.push(Finding {
                    level: Level::Warning,
                    message: "active-active without `syncdaemon = 1`: a flow that ECMP moves to \
                              another director keeps its real server only where the scheduler \
                              hashes (mh, sh) and nothing is persistent; the IPVS sync daemon \
                              (master and backup on every director) shares the connections"
                        .into(),
                });
            }
        }
        out
    }
}
