//! The `failover` blocks as a plan: Piranha's own sample file, and every refusal at its line.

use fos::{Error, Plan};

fn plan(text: &str) -> (lvscf::Document, Result<Plan, Vec<Error>>) {
    let doc = lvscf::Document::parse(text).expect("parses");
    let plan = Plan::from_lvscf(doc.config(), &mut |name, _| {
        (name == "web.example").then(|| "10.0.0.77".parse().expect("ip"))
    });
    (doc, plan)
}

/// Each error as `line:column: message`.
fn located(doc: &lvscf::Document, errors: &[Error]) -> Vec<String> {
    errors
        .iter()
        .map(|e| {
            let at = e.place().and_then(|p| doc.locate_place(p));
            format!(
                "{}:{}: {e}",
                at.map_or(0, |l| l.line),
                at.map_or(0, |l| l.column)
            )
        })
        .collect()
}

#[test]
fn piranhas_sample_file_plans_its_active_failover_service() {
    let text = include_str!("../../lvscf/tests/fixtures/public/ssocopsacc__piranha__sample.cf.cf");
    let doc = lvscf::Document::parse(text).expect("parses");
    let mut config = doc.config().clone();
    // Its shared-SCSI settings are refused; without them the failover blocks plan.
    let errors = Plan::from_lvscf(&config, &mut |_, _| None).expect_err("shared SCSI");
    assert_eq!(
        located(&doc, &errors),
        [
            "46:18: primary_shared: shared-SCSI reservations (Piranha's `scsi_reserve`) are not supported",
            "50:17: backup_shared: shared-SCSI reservations (Piranha's `scsi_reserve`) are not supported",
            "56:31: reservation_conflict_action: shared-SCSI reservations (Piranha's `scsi_reserve`) are not supported",
        ]
    );
    config.globals.primary_shared = None;
    config.globals.backup_shared = None;
    config.globals.reservation_conflict_action = None;
    let plan = Plan::from_lvscf(&config, &mut |_, _| None).expect("valid");
    assert_eq!(plan.inactive, ["ftp"]);
    assert_eq!(
        plan.to_string(),
        "failover services: 1 active (1 inactive: ftp)\n  \
         failover web1: 207.175.44.242:1010 (207.175.44.242/32 on eth0)\n    \
         check: tcp send \"GET / HTTP/1.0\\r\\n\\r\\n\" expect \"HTTP\" every 10s; after a failure, standby for 180s\n    \
         start: /etc/rc.d/init.d/httpd start\n    \
         stop:  /etc/rc.d/init.d/httpd stop\n"
    );
    assert_eq!(plan.services[0].address.label.as_deref(), Some("eth0:1"));
}

#[test]
fn what_cannot_run_is_refused_at_its_line() {
    let (doc, plan) = plan(concat!(
        "primary = 10.0.0.1\n",
        "service = fos\n",
        "failover web {\n",
        "     active = 1\n",
        "     address = 10.0.0.50 eth0:1\n",
        "     fwmark = 3\n",
        "     start_cmd = \"httpd -k start\"\n",
        "     server a {\n",
        "         address = 10.0.1.1\n",
        "     }\n",
        "}\n",
        "failover db {\n",
        "     active = 1\n",
        "     address = db.nowhere eth0:2\n",
        "     use_regex = 1\n",
        "     expect = \"(\"\n",
        "     start_cmd = \"/bin/true\"\n",
        "     stop_cmd = \"/bin/true\"\n",
        "}\n",
    ));
    let errors = plan.expect_err("invalid");
    assert_eq!(
        located(&doc, &errors),
        [
            "3:10: failover web: real servers (`server` blocks) in a failover service: it runs on the routers themselves",
            "6:15: failover web: fwmark: a firewall mark in a failover service (it is one address and port on the routers)",
            "7:18: failover web: start_cmd: `httpd` is not an absolute path: the command runs without a shell or PATH, as Piranha's",
            "3:10: failover web: no `stop_cmd`: the command that stops the service",
            "14:16: failover db: address: host name `db.nowhere` does not resolve to an IPv4 address",
            "16:15: failover db: expect: not a regular expression (use_regex = 1): unclosed group",
        ]
    );
}

#[test]
fn names_resolve_and_no_active_service_is_an_error() {
    let (_, plan) = plan(concat!(
        "primary = 10.0.0.1\nservice = fos\nfailover web {\n active = 1\n",
        " address = web.example eth1\n vip_nmask = 255.255.255.0\n port = 8080\n",
        " start_cmd = \"/usr/sbin/service web start\"\n stop_cmd = \"/usr/sbin/service web stop\"\n}\n",
    ));
    let plan = plan.expect("valid");
    assert_eq!(plan.services[0].address.to_string(), "10.0.0.77/24 on eth1");
    assert_eq!(
        plan.services[0].probe.target().to_string(),
        "10.0.0.77:8080"
    );
    let (doc, plan) = plan_of_inactive();
    assert_eq!(
        located(&doc, &plan.expect_err("nothing to run")),
        [
            "2:11: service: fos with no active `failover` block (1 inactive): there is nothing to run"
        ]
    );
}

fn plan_of_inactive() -> (lvscf::Document, Result<Plan, Vec<Error>>) {
    plan("primary = 10.0.0.1\nservice = fos\nfailover web {\n active = 0\n}\n")
}
