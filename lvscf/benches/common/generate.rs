//! The generated lvs.cf files the benchmarks parse (shared by `benches/parse.rs` and the
//! workspace's `benches/src/bin/lvscf_size.rs`).

use std::fmt::Write as _;

/// A Piranha GUI-style file with `virtuals` virtual servers of `servers` real servers each
/// (unique addresses up to 1,000,000 virtual servers).
pub(crate) fn generate(virtuals: usize, servers: usize) -> String {
    let mut s = String::new();
    s.push_str("serial_no = 14\nprimary = 192.168.1.10\nservice = lvs\nbackup_active = 1\nbackup = 192.168.1.11\nheartbeat = 1\nheartbeat_port = 539\nkeepalive = 6\ndeadtime = 18\nnetwork = nat\nnat_router = 10.0.0.254 eth1:1\nnat_nmask = 255.255.255.0\ndebug_level = NONE\nmonitor_links = 0\nsyncdaemon = 0\n");
    for v in 0..virtuals {
        let (a, b) = ((v / 250) % 250, v % 250);
        let _ = write!(
            s,
            "virtual vs{v} {{\n     active = 1\n     address = 172.{}.{a}.{b} eth0:1\n     vip_nmask = 255.255.255.0\n     port = 80\n     send = \"GET / HTTP/1.0\\r\\n\\r\\n\"\n     expect = \"HTTP\"\n     use_regex = 0\n     load_monitor = none\n     scheduler = wlc\n     protocol = tcp\n     timeout = 6\n     reentry = 15\n     quiesce_server = 0\n",
            16 + (v / 62500)
        );
        for r in 0..servers {
            let _ = write!(
                s,
                "     server rs{r} {{\n         address = 10.{a}.{b}.{}\n         active = 1\n         weight = 1\n     }}\n",
                r + 1
            );
        }
        s.push_str("}\n");
    }
    s
}
