//! Whole-system benchmark, run as root in a kernel with IPVS (e.g. through the rig):
//!
//! ```text
//! cargo build --release -p ipvs --example bench_program
//! cargo xtask vm --timeout 30m -- target/release/examples/bench_program [SERVICES] [DESTS]
//! ```
//!
//! In a fresh network namespace it programs SERVICES × DESTS (default 10,000 × 10) from empty with
//! `ipvsadm -R` and with our client (reconcile from empty, batched), dumps the table with
//! `ipvsadm -Ln --stats` and with our client, and times a no-op reconcile against `ipvsadm -Ln`.
//! Not part of any test command.

use std::io::Write;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use ipvs::reconcile::{self, Ownership};
use ipvs::*;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn table(services: u32, dests: u32) -> (Table, String) {
    let mut t = Table::default();
    let mut rules = String::new();
    for i in 0..services {
        let vip = std::net::Ipv4Addr::from(0x0a00_0000 + 1 + i);
        let key = ServiceKey::tcp(vip.into(), 80);
        rules += &format!("-A -t {vip}:80 -s wlc\n");
        let mut ds = Vec::new();
        for j in 0..dests {
            let rip = std::net::Ipv4Addr::from(0x0a80_0000 + 1 + j);
            rules += &format!("-a -t {vip}:80 -r {rip}:8080 -m -w 1\n");
            ds.push(Destination::new(rip.into(), 8080).with_forwarding(Forwarding::Masquerade));
        }
        t.services.push(VirtualServer {
            service: Service::new(key),
            destinations: ds,
        });
    }
    (t, rules)
}

fn timed<T>(what: &str, f: impl FnOnce() -> Res<T>) -> Res<(T, Duration)> {
    let t0 = Instant::now();
    let r = f()?;
    let d = t0.elapsed();
    println!("{what:<48} {:>9.3} s", d.as_secs_f64());
    Ok((r, d))
}

fn best_of<T>(n: usize, what: &str, mut f: impl FnMut() -> Res<T>) -> Res<Duration> {
    let mut best = Duration::MAX;
    for _ in 0..n {
        best = best.min(timed(what, &mut f)?.1);
    }
    Ok(best)
}

fn ipvsadm(args: &[&str], stdin: Option<&str>) -> Res<usize> {
    let mut c = Command::new("ipvsadm")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .spawn()?;
    if let Some(s) = stdin {
        c.stdin.take().ok_or("stdin")?.write_all(s.as_bytes())?;
    }
    let out = c.wait_with_output()?;
    if !out.status.success() {
        return Err(format!("ipvsadm {args:?} failed: {}", out.status).into());
    }
    Ok(out.stdout.len())
}

/// Moves the calling (main) thread into a new network namespace with `lo` up; child processes
/// (ipvsadm) inherit it.
fn new_netns() -> Res<()> {
    // SAFETY: unshare(CLONE_NEWNET) only changes the calling thread's namespace.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(format!("unshare: {}", std::io::Error::last_os_error()).into());
    }
    let st = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()?;
    if !st.success() {
        return Err("ip link set lo up failed".into());
    }
    Ok(())
}

fn run(services: u32, dests: u32) -> Res<()> {
    // SAFETY: called first thing in main, while the process is single-threaded.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(format!("unshare: {}", std::io::Error::last_os_error()).into());
    }
    let st = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()?;
    if !st.success() {
        return Err("ip link set lo up failed".into());
    }
    let (desired, rules) = table(services, dests);
    println!("table: {services} services x {dests} destinations");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let h = rt.block_on(async {
        let (conn, h) = ipvs::new_connection()?;
        tokio::spawn(conn);
        Ok::<_, Error>(h)
    })?;
    let mut h = h;
    if let (Some(c), Some(f)) = (
        std::env::var("BENCH_CHUNK").ok(),
        std::env::var("BENCH_IN_FLIGHT").ok(),
    ) {
        h.set_batch_options(BatchOptions {
            chunk: c.parse()?,
            in_flight: f.parse()?,
        });
    }
    println!("batch options: {:?}", h.batch_options());
    if let Ok(slices) = std::env::var("BENCH_SLICES") {
        // Diagnostic: program the table in slices and time each.
        let p = reconcile::plan(&desired, &Table::default(), &Ownership::All);
        let n: usize = slices.parse()?;
        let per = p.ops.len().div_ceil(n);
        for (i, part) in p.ops.chunks(per).enumerate() {
            let t0 = Instant::now();
            let r = rt.block_on(h.execute_batch(part));
            println!(
                "slice {i}: {} ops in {:.3} s, errors {}",
                part.len(),
                t0.elapsed().as_secs_f64(),
                r.iter().filter(|r| r.is_err()).count()
            );
        }
        return Ok(());
    }

    let (n, ours_apply) = timed("ipvs: reconcile from empty (dump+plan+batch)", || {
        rt.block_on(async {
            let r = reconcile::apply(&h, &desired, &Ownership::All).await?;
            if let Some(e) = r.first_error() {
                return Err(format!("{e}").into());
            }
            Ok::<_, Box<dyn std::error::Error>>(r.results.len())
        })
    })?;
    println!("  ops applied: {n}");
    let ours_dump = best_of(3, "ipvs: dump services+dests+stats", || {
        let rows = rt.block_on(h.table())?;
        let nd: usize = rows.iter().map(|(_, d)| d.len()).sum();
        if rows.len() != services as usize || nd != (services * dests) as usize {
            return Err(format!(
                "dump does not match the table: {} services, {nd} dests",
                rows.len()
            )
            .into());
        }
        Ok(())
    })?;
    let ours_noop = best_of(3, "ipvs: no-op reconcile (dump+diff)", || {
        let observed = rt.block_on(reconcile::observe(&h))?;
        let p = reconcile::plan(&desired, &observed, &Ownership::All);
        if !p.ops.is_empty() {
            return Err(format!("no-op reconcile planned {} ops", p.ops.len()).into());
        }
        Ok(())
    })?;
    // ipvsadm runs in a fresh namespace (fresh IPVS instance): after a flush, the kernel keeps
    // deleted destinations in a trash list for a minute and every add scans it, so whoever
    // programs second in the same namespace would pay for it.
    new_netns()?;
    let (_, adm_restore) = timed("ipvsadm -R (program from empty)", || {
        ipvsadm(&["-R"], Some(&rules))
    })?;
    let adm_list_stats = best_of(3, "ipvsadm -Ln --stats (dump)", || {
        ipvsadm(&["-Ln", "--stats"], None)
    })?;
    let adm_list = best_of(3, "ipvsadm -Ln", || ipvsadm(&["-Ln"], None))?;

    println!();
    let r = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!(
        "program: ours {:.3} s vs ipvsadm -R {:.3} s: ratio {:.3} (target <= 0.5)",
        ours_apply.as_secs_f64(),
        adm_restore.as_secs_f64(),
        r(ours_apply, adm_restore)
    );
    println!(
        "dump:    ours {:.3} s vs ipvsadm -Ln --stats {:.3} s: {:.2}x faster (target >= 2)",
        ours_dump.as_secs_f64(),
        adm_list_stats.as_secs_f64(),
        r(adm_list_stats, ours_dump)
    );
    println!(
        "no-op:   ours {:.3} s vs ipvsadm -Ln {:.3} s: ratio {:.3} (target <= 0.5)",
        ours_noop.as_secs_f64(),
        adm_list.as_secs_f64(),
        r(ours_noop, adm_list)
    );
    Ok(())
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let services = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let dests = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    match run(services, dests) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_program: {e}");
            ExitCode::FAILURE
        }
    }
}
