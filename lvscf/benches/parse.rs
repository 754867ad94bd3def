//! Parse, serialize and parse→model over generated files of 1,000 to 10,000 virtual servers
//! with 10 real servers each (GUI layout), to check throughput and linear growth.
//!
//! `cargo bench -p lvscf --bench parse`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::fmt::Write as _;
use std::hint::black_box;

/// A Piranha GUI-style file with `virtuals` virtual servers of `servers` real servers each.
fn generate(virtuals: usize, servers: usize) -> String {
    let mut s = String::new();
    s.push_str("serial_no = 14\nprimary = 192.168.1.10\nservice = lvs\nbackup_active = 1\nbackup = 192.168.1.11\nheartbeat = 1\nheartbeat_port = 539\nkeepalive = 6\ndeadtime = 18\nnetwork = nat\nnat_router = 10.0.0.254 eth1:1\nnat_nmask = 255.255.255.0\ndebug_level = NONE\nmonitor_links = 0\nsyncdaemon = 0\n");
    for v in 0..virtuals {
        let (a, b) = (v / 250, v % 250);
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

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("lvscf");
    group.sample_size(10);
    for virtuals in [1_000usize, 5_000, 10_000] {
        let text = generate(virtuals, 10);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::new("parse", virtuals), &text, |b, t| {
            b.iter(|| lvscf::Document::parse(black_box(t)).expect("parses"))
        });
        let doc = lvscf::Document::parse(&text).expect("parses");
        group.bench_with_input(BenchmarkId::new("serialize", virtuals), &doc, |b, d| {
            b.iter(|| black_box(d).to_string())
        });
        group.bench_with_input(BenchmarkId::new("roundtrip", virtuals), &text, |b, t| {
            b.iter(|| {
                let doc = lvscf::Document::parse(black_box(t)).expect("parses");
                doc.to_string()
            })
        });
        group.bench_with_input(
            BenchmarkId::new("parse_to_model", virtuals),
            &text,
            |b, t| b.iter(|| lvscf::parse_config(black_box(t)).expect("parses")),
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
