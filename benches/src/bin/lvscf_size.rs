//! lvs.cf throughput and the largest file round-tripped: generated Piranha GUI-style files of
//! growing size (10 real servers per virtual server) are parsed into the lossless document,
//! written back (checked byte for byte), and parsed into the typed model. Runs on the host:
//!
//! ```text
//! cargo build --release -p lvs-benches --bin lvscf_size
//! target/release/lvscf_size --virtuals 1000,10000,100000,400000
//! ```
//!
//! Prints a Markdown section on stdout. The criterion benchmark `cargo bench -p lvscf` measures
//! the small sizes with statistics.

#[path = "../../../lvscf/benches/common/generate.rs"]
mod generate;

use std::{
    process::ExitCode,
    time::{Duration, Instant},
};

use clap::Parser;
use lvs_benches::procs::tree_usage;

#[derive(Parser)]
#[command(about = "lvs.cf: parse and round-trip throughput, and the largest file")]
struct Cli {
    /// File sizes, in virtual servers (10 real servers each).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1000,10000,100000,400000"
    )]
    virtuals: Vec<usize>,
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn rate(bytes: usize, d: Duration) -> String {
    format!("{:.0} MiB/s", mib(bytes) / d.as_secs_f64())
}

/// Best of `n` runs of `f`, and its last result.
fn best<T>(n: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..n {
        let t0 = Instant::now();
        let r = f();
        best = best.min(t0.elapsed());
        last = Some(r);
    }
    (best, last.expect("n > 0"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    println!("## lvs.cf: throughput and the largest file round-tripped\n");
    println!(
        "Generated Piranha GUI-style files (every virtual server with `send`/`expect` and 10 real \
         servers), on the host, one thread. Parse: `Document::parse` (the lossless document); \
         write: `Document::to_string`, compared byte for byte with the input; model: \
         `parse_config` (the typed, validated model). Best of 3 below 100 MiB, one run above. \
         Peak RSS: the process's high-water mark after the size (it only grows).\n"
    );
    println!(
        "| virtual servers | real servers | file | parse | write | model | round trip identical | peak RSS |"
    );
    println!("|---:|---:|---:|---:|---:|---:|:---:|---:|");
    for &v in &cli.virtuals {
        let text = generate::generate(v, 10);
        let n = if mib(text.len()) < 100.0 { 3 } else { 1 };
        eprintln!(
            "lvscf_size: {v} virtual servers, {:.1} MiB",
            mib(text.len())
        );
        let (parse, doc) = best(n, || lvscf::Document::parse(&text));
        let doc = match doc {
            Ok(d) => d,
            Err(e) => {
                eprintln!("lvscf_size: the generated file does not parse: {e}");
                return ExitCode::FAILURE;
            }
        };
        let (write, out) = best(n, || doc.to_string());
        let identical = out == text;
        drop(out);
        drop(doc);
        let (model, config) = best(n, || lvscf::parse_config(&text));
        if let Err(e) = config {
            eprintln!("lvscf_size: the generated file has no model: {e}");
            return ExitCode::FAILURE;
        }
        let peak = tree_usage(std::process::id()).map_or(0, |u| u.peak_rss_kib);
        println!(
            "| {v} | {} | {:.1} MiB | {} | {} | {} | {} | {:.0} MiB |",
            v * 10,
            mib(text.len()),
            rate(text.len(), parse),
            rate(text.len(), write),
            rate(text.len(), model),
            if identical { "yes" } else { "**no**" },
            peak as f64 / 1024.0
        );
        if !identical {
            eprintln!("lvscf_size: the round trip of {v} virtual servers is not byte-identical");
            return ExitCode::FAILURE;
        }
    }
    println!();
    ExitCode::SUCCESS
}
