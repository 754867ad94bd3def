//! Side-by-side benchmarks of the toolkit against the tools operators run today (`ipvsadm`,
//! keepalived), and what they share. Each program in `src/bin` prints one Markdown section of
//! `BENCHMARKS.md` on stdout (its progress on stderr); `cargo xtask bench-report` runs them all
//! and writes the file. Nothing here is part of any test command.

pub mod keepalived;
pub mod lab;
pub mod procs;
pub mod stats;
