//! IPVS programming and dumping for growing tables: our client against `ipvsadm -R` /
//! `ipvsadm -Ln --stats`, and keepalived's start-up on the same table. Run as root in a kernel
//! with IPVS (`cargo xtask bench-report` runs it in the rig):
//!
//! ```text
//! cargo build --release -p lvs-benches --bin ipvs_curve
//! cargo xtask vm --backend qemu --cpus 2 --timeout 60m -- target/release/ipvs_curve --sizes 1000,5000,10000
//! ```
//!
//! Every size runs in fresh network namespaces (one per tool: after a flush the kernel keeps
//! deleted destinations in a trash list that every add scans, so the second tool to program a
//! namespace would pay for the first). Prints a Markdown section on stdout.

use std::{
    io::Write,
    net::Ipv4Addr,
    process::{Command, ExitCode, Stdio},
    time::{Duration, Instant},
};

use clap::Parser;
use ipvs::{
    Destination, Forwarding, Handle, Scheduler, Service, ServiceKey, Table, VirtualServer,
    reconcile::{self, Ownership},
};
use lvs_benches::{
    keepalived::{self, Keepalived, Log, Subsystems},
    stats::secs,
};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

#[derive(Parser)]
#[command(about = "IPVS programming and dumping: ours vs ipvsadm and keepalived")]
struct Cli {
    /// Table sizes, in services.
    #[arg(long, value_delimiter = ',', default_value = "1000,5000,10000")]
    sizes: Vec<u32>,
    /// Destinations per service.
    #[arg(long, default_value_t = 10)]
    dests: u32,
    /// Skip keepalived's start-up.
    #[arg(long)]
    no_keepalived: bool,
    /// Larger tables measured for the 1% change only: ours programs the table (in two
    /// namespaces), then ours changes one from memory and `ipvsadm -R` the other.
    #[arg(long, value_delimiter = ',')]
    change_sizes: Vec<u32>,
}

fn vip(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(0x0a00_0000 + 1 + i)
}

fn rip(j: u32) -> Ipv4Addr {
    Ipv4Addr::from(0x0a80_0000 + 1 + j)
}

/// `services` × `dests`: service `i` is 10.0.0.0+1+i:80 (wlc), destination `j` of each is
/// 10.128.0.0+1+j:8080, masqueraded, weight 1.
fn table(services: u32, dests: u32) -> Table {
    let mut t = Table::default();
    for i in 0..services {
        t.services.push(VirtualServer {
            service: Service::new(ServiceKey::tcp(vip(i).into(), 80)),
            destinations: (0..dests)
                .map(|j| {
                    Destination::new(rip(j).into(), 8080).with_forwarding(Forwarding::Masquerade)
                })
                .collect(),
        });
    }
    t
}

/// The same table as `ipvsadm -R` input.
fn restore_rules(services: u32, dests: u32) -> String {
    let mut rules = String::new();
    for i in 0..services {
        rules += &format!("-A -t {}:80 -s wlc\n", vip(i));
        for j in 0..dests {
            rules += &format!("-a -t {}:80 -r {}:8080 -m -w 1\n", vip(i), rip(j));
        }
    }
    rules
}

/// The 1% change: every 100th service switches to round robin and replaces its last
/// destination by a new one. Returns the changed table and the same change as ipvsadm rules.
fn one_percent(desired: &Table, dests: u32) -> (Table, String) {
    let mut t = desired.clone();
    let mut rules = String::new();
    let new = rip(dests + 100);
    for (i, vs) in t.services.iter_mut().enumerate().step_by(100) {
        let v = vip(i as u32);
        vs.service.scheduler = Scheduler::RoundRobin;
        rules += &format!("-E -t {v}:80 -s rr\n");
        if let Some(last) = vs.destinations.pop() {
            rules += &format!("-d -t {v}:80 -r {}:8080\n", last.addr);
        }
        vs.destinations
            .push(Destination::new(new.into(), 8080).with_forwarding(Forwarding::Masquerade));
        rules += &format!("-a -t {v}:80 -r {new}:8080 -m -w 1\n");
    }
    (t, rules)
}

/// The same table as keepalived's configuration (no checkers: every real server is up).
fn keepalived_conf(services: u32, dests: u32) -> String {
    let mut c = String::from("global_defs {\n    router_id bench\n}\n");
    for i in 0..services {
        c += &format!(
            "virtual_server {} 80 {{\n    lb_algo wlc\n    lb_kind NAT\n    protocol TCP\n",
            vip(i)
        );
        for j in 0..dests {
            c += &format!(
                "    real_server {} 8080 {{\n        weight 1\n    }}\n",
                rip(j)
            );
        }
        c += "}\n";
    }
    c
}

fn timed<T>(what: &str, f: impl FnOnce() -> Res<T>) -> Res<(T, Duration)> {
    let t0 = Instant::now();
    let r = f()?;
    let d = t0.elapsed();
    eprintln!("  {what:<44} {:>9.3} s", d.as_secs_f64());
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

/// Moves the calling (main) thread into a new network namespace with `lo` up; processes it
/// starts afterwards (ipvsadm, keepalived) and netlink sockets it opens belong there.
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

/// A client in the calling thread's current namespace.
fn connect(rt: &tokio::runtime::Runtime) -> Res<Handle> {
    Ok(rt.block_on(async {
        let (conn, h) = ipvs::new_connection()?;
        tokio::spawn(conn);
        Ok::<_, ipvs::Error>(h)
    })?)
}

/// One size's measurements.
struct Point {
    services: u32,
    ours_program: Duration,
    ours_dump: Duration,
    ours_idle: Duration,
    ours_change: Duration,
    ours_change_dump: Duration,
    adm_program: Duration,
    adm_dump: Duration,
    adm_list: Duration,
    adm_change: Duration,
    keepalived_start: Option<Duration>,
    split: Split,
}

/// Where the time of a 1% change from memory goes: the diff against the reconciler's memory
/// and the memory's update (user space), and the batch, executed here in two parts (the
/// scheduler changes, then the destinations) for their wall times, the process's own CPU in
/// them (encoding requests, reading acknowledgements) and the kernel's CPU for the process
/// (system time); the rest of the wall time is waiting in the kernel (`synchronize_rcu` when a
/// service's scheduler changes).
#[derive(Clone, Copy)]
struct Split {
    ops: usize,
    diff: Duration,
    remember: Duration,
    edits: Duration,
    dests: Duration,
    user: Duration,
    system: Duration,
}

impl Split {
    fn user_space(&self) -> Duration {
        self.diff + self.remember + self.user
    }
    fn kernel(&self) -> Duration {
        (self.edits + self.dests).saturating_sub(self.user)
    }
}

fn cpu_times() -> (Duration, Duration) {
    // SAFETY: getrusage fills the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let d = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (d(ru.ru_utime), d(ru.ru_stime))
}

/// The 1% change (back) once more, through the reconciler's sans-I/O half, its steps timed
/// apart. The kernel holds `from` and holds `to` afterwards.
fn split_change(rt: &tokio::runtime::Runtime, h: &Handle, from: &Table, to: &Table) -> Res<Split> {
    let mut memory = reconcile::Memory::from_table(from.clone());
    let t0 = Instant::now();
    let change = memory.plan(to, &Ownership::All);
    let diff = t0.elapsed();
    let (edits, rest): (Vec<reconcile::Op>, Vec<reconcile::Op>) = change
        .plan()
        .ops
        .iter()
        .cloned()
        .partition(|op| matches!(op, reconcile::Op::EditService(_)));
    let (u0, s0) = cpu_times();
    let batch = |ops: &[reconcile::Op]| -> Res<Duration> {
        let t0 = Instant::now();
        let results = rt.block_on(h.execute_batch(ops));
        let took = t0.elapsed();
        match results.into_iter().find_map(Result::err) {
            Some(e) => Err(format!("the split change failed: {e}").into()),
            None => Ok(took),
        }
    };
    let edits_took = batch(&edits)?;
    let dests_took = batch(&rest)?;
    let (u1, s1) = cpu_times();
    let t0 = Instant::now();
    let plan = change.applied(&mut memory);
    let remember = t0.elapsed();
    let split = Split {
        ops: plan.ops.len(),
        diff,
        remember,
        edits: edits_took,
        dests: dests_took,
        user: u1 - u0,
        system: s1 - s0,
    };
    eprintln!(
        "  1% change split: {} ops, diff {:.1} ms, memory update {:.1} ms, {} scheduler edits \
         {:.1} ms, {} destination changes {:.1} ms (user {:.1} ms, system {:.1} ms)",
        split.ops,
        ms(split.diff),
        ms(split.remember),
        edits.len(),
        ms(split.edits),
        rest.len(),
        ms(split.dests),
        ms(split.user),
        ms(split.system)
    );
    Ok(split)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn measure(
    rt: &tokio::runtime::Runtime,
    keep: &mut Vec<Handle>,
    services: u32,
    dests: u32,
    with_keepalived: bool,
) -> Res<Point> {
    eprintln!("ipvs_curve: {services} services x {dests} destinations");
    let desired = table(services, dests);
    let (changed, change_rules) = one_percent(&desired, dests);
    let objects = (services * (dests + 1)) as usize;

    new_netns()?;
    let h = connect(rt)?;
    let check = |r: reconcile::Report| -> Res<usize> {
        match r.first_error() {
            Some(e) => Err(format!("{e}").into()),
            None => Ok(r.results.len()),
        }
    };
    // The reconciler the director uses: it remembers what it applied.
    let mut reconciler = reconcile::Reconciler::new(h.clone());
    let (n, ours_program) = timed("ours: reconcile from empty", || {
        check(rt.block_on(reconciler.apply(&desired, &Ownership::All))?)
    })?;
    if n != objects {
        return Err(format!("programmed {n} objects, expected {objects}").into());
    }
    let ours_dump = best_of(3, "ours: dump services+dests+stats", || {
        let rows = rt.block_on(h.table())?;
        let nd: usize = rows.iter().map(|(_, d)| d.len()).sum();
        if rows.len() + nd != objects {
            return Err(format!("dumped {} services and {nd} dests", rows.len()).into());
        }
        Ok(())
    })?;
    let ours_idle = best_of(3, "ours: idle reconcile (dump+diff)", || {
        let observed = rt.block_on(reconcile::observe(&h))?;
        let p = reconcile::plan(&desired, &observed, &Ownership::All);
        if !p.ops.is_empty() {
            return Err(format!("an idle reconcile planned {} ops", p.ops.len()).into());
        }
        Ok(())
    })?;
    let (_, ours_change) = timed("ours: 1% change, from memory (diff+apply)", || {
        check(rt.block_on(reconciler.apply(&changed, &Ownership::All))?)
    })?;
    // The same change back, its steps timed apart.
    let split = split_change(rt, &h, &changed, &desired)?;
    // And once more, planned against a fresh dump.
    reconciler.forget();
    let (_, ours_change_dump) = timed("ours: 1% change (dump+diff+apply)", || {
        check(rt.block_on(reconciler.apply(&changed, &Ownership::All))?)
    })?;
    keep.push(h);

    new_netns()?;
    let rules = restore_rules(services, dests);
    let (_, adm_program) = timed("ipvsadm -R from empty", || ipvsadm(&["-R"], Some(&rules)))?;
    let adm_dump = best_of(3, "ipvsadm -Ln --stats", || {
        ipvsadm(&["-Ln", "--stats"], None)
    })?;
    let adm_list = best_of(3, "ipvsadm -Ln", || ipvsadm(&["-Ln"], None))?;
    let (_, adm_change) = timed("ipvsadm -R of the 1% change", || {
        ipvsadm(&["-R"], Some(&change_rules))
    })?;

    let keepalived_start = if with_keepalived {
        new_netns()?;
        let h = connect(rt)?;
        let last = ServiceKey::tcp(vip(services - 1).into(), 80);
        let conf = keepalived_conf(services, dests);
        let t0 = Instant::now();
        let mut k = Keepalived::start(None, "curve", &conf, Subsystems::Checkers, Log::Syslog)?;
        // keepalived programs its virtual servers in the file's order: the table is complete
        // when the last one has all its real servers.
        let deadline = t0 + Duration::from_secs(3600);
        loop {
            if let Ok(d) = rt.block_on(h.destinations(&last))
                && d.len() == dests as usize
            {
                break;
            }
            if let Ok(Some(status)) = k.process.child.try_wait() {
                return Err(format!("keepalived exited: {status}").into());
            }
            if Instant::now() > deadline {
                return Err("keepalived did not program the table within an hour".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let took = t0.elapsed();
        eprintln!(
            "  {:<44} {:>9.3} s",
            "keepalived: start to full table",
            took.as_secs_f64()
        );
        let rows = rt.block_on(h.table())?;
        let nd: usize = rows.iter().map(|(_, d)| d.len()).sum();
        if rows.len() + nd != objects {
            return Err(
                format!("keepalived programmed {} services, {nd} dests", rows.len()).into(),
            );
        }
        k.kill();
        keep.push(h);
        Some(took)
    } else {
        None
    };
    Ok(Point {
        services,
        ours_program,
        ours_dump,
        ours_idle,
        ours_change,
        ours_change_dump,
        adm_program,
        adm_dump,
        adm_list,
        adm_change,
        keepalived_start,
        split,
    })
}

/// A larger table, measured for the 1% change only.
struct ChangePoint {
    services: u32,
    ours_program: Duration,
    ours_change: Duration,
    adm_change: Duration,
    split: Split,
}

fn measure_change(
    rt: &tokio::runtime::Runtime,
    keep: &mut Vec<Handle>,
    services: u32,
    dests: u32,
) -> Res<ChangePoint> {
    eprintln!("ipvs_curve: the 1% change of {services} services x {dests} destinations");
    let desired = table(services, dests);
    let (changed, change_rules) = one_percent(&desired, dests);
    let ok = |r: reconcile::Report| -> Res<()> {
        r.first_error()
            .map_or(Ok(()), |e| Err(format!("{e}").into()))
    };
    new_netns()?;
    let h = connect(rt)?;
    let mut reconciler = reconcile::Reconciler::new(h.clone());
    let (_, ours_program) = timed("ours: reconcile from empty", || {
        ok(rt.block_on(reconciler.apply(&desired, &Ownership::All))?)
    })?;
    let (_, ours_change) = timed("ours: 1% change, from memory (diff+apply)", || {
        ok(rt.block_on(reconciler.apply(&changed, &Ownership::All))?)
    })?;
    let split = split_change(rt, &h, &changed, &desired)?;
    keep.push(h);
    // ipvsadm is handed the change; the table it changes is programmed by ours (programming
    // 100,000 services with `ipvsadm -R` takes the best part of an hour under emulation).
    new_netns()?;
    let h = connect(rt)?;
    let mut programmer = reconcile::Reconciler::new(h.clone());
    timed("ours: reconcile from empty (for ipvsadm)", || {
        ok(rt.block_on(programmer.apply(&desired, &Ownership::All))?)
    })?;
    let (_, adm_change) = timed("ipvsadm -R of the 1% change", || {
        ipvsadm(&["-R"], Some(&change_rules))
    })?;
    keep.push(h);
    Ok(ChangePoint {
        services,
        ours_program,
        ours_change,
        adm_change,
        split,
    })
}

fn ratio(a: Duration, b: Duration) -> String {
    format!("{:.2}", a.as_secs_f64() / b.as_secs_f64())
}

fn report(points: &[Point], changes: &[ChangePoint], dests: u32) {
    println!("## IPVS: programming and dumping, ours vs ipvsadm and keepalived\n");
    println!(
        "Tables of N TCP services × {dests} masqueraded destinations, each tool in a fresh network \
         namespace of the same kernel. Ours is the `ipvs` crate's `Reconciler` (dump, plan, \
         batched apply; it remembers what it applied); ipvsadm is {}; keepalived is {} with only its checker \
         process (`--check`) and real servers without checkers (all up at start), timed from \
         its start until the last service has all its destinations. Dumps: best of 3.\n",
        keepalived::version_of(std::path::Path::new("ipvsadm"), &["--version"]),
        keepalived::version()
    );
    println!(
        "| services | objects | ours: program | `ipvsadm -R` | keepalived start | ours / ipvsadm |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for p in points {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            p.services,
            p.services * (dests + 1),
            secs(p.ours_program),
            secs(p.adm_program),
            p.keepalived_start.map_or("—".into(), secs),
            ratio(p.ours_program, p.adm_program)
        );
    }
    println!(
        "\n| services | ours: dump with stats | `ipvsadm -Ln --stats` | ours: idle reconcile | \
         `ipvsadm -Ln` | ours: 1% change | ours: 1% change with a dump | `ipvsadm -R` of the 1% |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for p in points {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            p.services,
            secs(p.ours_dump),
            secs(p.adm_dump),
            secs(p.ours_idle),
            secs(p.adm_list),
            secs(p.ours_change),
            secs(p.ours_change_dump),
            secs(p.adm_change)
        );
    }
    println!(
        "\nWhere a 1% change from memory spends its time (the same change back through the \
         reconciler's sans-I/O half, `reconcile::Memory`, each step timed apart; CPU from \
         `getrusage` around the batches; kernel: the batches' wall time less our CPU in them):\n\n\
         | services | requests | diff | memory update | scheduler edits: wall | destination \
         changes: wall | our CPU in the batches | kernel CPU | user space / `ipvsadm -R` | \
         kernel / `ipvsadm -R` |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let rows = points
        .iter()
        .map(|p| (p.services, p.split, p.adm_change))
        .chain(changes.iter().map(|c| (c.services, c.split, c.adm_change)));
    for (services, s, adm_change) in rows {
        println!(
            "| {} | {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {} | {} |",
            services,
            s.ops,
            ms(s.diff),
            ms(s.remember),
            ms(s.edits),
            ms(s.dests),
            ms(s.user),
            ms(s.system),
            ratio(s.user_space(), adm_change),
            ratio(s.kernel(), adm_change),
        );
    }
    println!(
        "\n- The idle reconcile is a dump plus a diff that finds nothing to do; `ipvsadm -Ln` is the \
         dump a script would start from.\n\
         - The 1% change: every 100th service switches scheduler and replaces one destination. \
         Ours finds the change itself: from the reconciler's memory of what it applied (diff + \
         apply, what the director does on a reload), or against a fresh dump (dump + diff + \
         apply, the same change reverted); `ipvsadm -R` is handed the three ready-made commands \
         per changed service and dumps nothing.\n"
    );
    if let Some(p) = points.last() {
        let x = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
        println!(
            "At {} services: ours programs the table {:.1}× faster than `ipvsadm -R`{}, dumps it \
             with statistics {:.1}× faster than `ipvsadm -Ln --stats`, and its idle reconcile \
             takes {:.2} of the time of `ipvsadm -Ln`. Targets (from the `ipvs` issue): program ≤ 0.5 of \
             `ipvsadm -R`, dump ≥ 2× faster, idle reconcile ≤ 0.5 of `ipvsadm -Ln`.",
            p.services,
            x(p.adm_program, p.ours_program),
            p.keepalived_start.map_or(String::new(), |k| format!(
                " and {:.1}× faster than keepalived starts on it",
                x(k, p.ours_program)
            )),
            x(p.adm_dump, p.ours_dump),
            x(p.ours_idle, p.adm_list),
        );
        if p.ours_change_dump > p.adm_change {
            println!(
                "\nWhere `ipvsadm` is ahead: a 1% change planned against a fresh dump costs ours \
                 the dump ({}), which `ipvsadm -R` skips because it is handed the change.",
                secs(p.ours_dump),
            );
        }
        println!();
    }
    if !changes.is_empty() {
        println!(
            "Larger tables, the 1% change only (ours programs both namespaces; `ipvsadm -R` is \
             handed the change):\n\n\
             | services | objects | ours: program | ours: 1% change from memory | `ipvsadm -R` of \
             the 1% | ours / ipvsadm |\n|---:|---:|---:|---:|---:|---:|"
        );
        for c in changes {
            println!(
                "| {} | {} | {} | {} | {} | {} |",
                c.services,
                c.services * (dests + 1),
                secs(c.ours_program),
                secs(c.ours_change),
                secs(c.adm_change),
                ratio(c.ours_change, c.adm_change)
            );
        }
        println!();
    }
    let verdicts = points
        .iter()
        .map(|p| (p.services, p.ours_change, p.adm_change, p.split))
        .chain(
            changes
                .iter()
                .map(|c| (c.services, c.ours_change, c.adm_change, c.split)),
        );
    for (services, ours, adm, split) in verdicts.filter(|v| v.0 >= 10_000) {
        let kernel = split.kernel();
        let target = adm.mul_f64(0.3).max(kernel.mul_f64(1.1));
        println!(
            "- {services} services, the 1% change from the reconciler's memory (the director's \
             reload): ours {} against `ipvsadm -R`'s {} ({}×). The kernel's own time for the \
             same requests is {} ({}× `ipvsadm -R`): every scheduler change waits for an RCU \
             grace period (`synchronize_rcu` in `ip_vs_edit_service`, under the IPVS mutex, so no \
             client can overlap them). Ours spends {:.1} ms in user space ({:.1}% of the kernel's \
             time). Target (failover issue): ≤ 0.3× `ipvsadm -R`, or where the kernel alone is \
             above that, within 10% of the kernel's time: ≤ {}: **{}**.",
            secs(ours),
            secs(adm),
            ratio(ours, adm),
            secs(kernel),
            ratio(kernel, adm),
            ms(split.user_space()),
            100.0 * split.user_space().as_secs_f64() / kernel.as_secs_f64(),
            secs(target),
            if ours <= target { "met" } else { "not met" }
        );
    }
    println!();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ipvs_curve: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Every namespace stays alive (through its client) until the end, so the kernel does not
    // tear a large table down while the next tool is being timed.
    let mut keep = Vec::new();
    let mut points = Vec::new();
    for &n in &cli.sizes {
        match measure(&rt, &mut keep, n, cli.dests, !cli.no_keepalived) {
            Ok(p) => points.push(p),
            Err(e) => {
                eprintln!("ipvs_curve: {n} services: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let mut changes = Vec::new();
    for &n in &cli.change_sizes {
        match measure_change(&rt, &mut keep, n, cli.dests) {
            Ok(c) => changes.push(c),
            Err(e) => {
                eprintln!("ipvs_curve: {n} services: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    report(&points, &changes, cli.dests);
    ExitCode::SUCCESS
}
