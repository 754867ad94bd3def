//! Parse, serialize and parse→model over generated files of 1,000 to 10,000 virtual servers
//! with 10 real servers each (GUI layout), to check throughput and linear growth.
//!
//! `cargo bench -p lvscf --bench parse`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

#[path = "common/generate.rs"]
mod generate;
use generate::generate;

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
