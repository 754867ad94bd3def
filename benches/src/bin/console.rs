//! The web console with a large `lvs.cf`: how long the server takes to answer each page (its
//! `Server-Timing` header: reading the draft, asking the director, rendering) and the process's
//! resident memory, `director console` running as operators run it. Runs on the host:
//!
//! ```text
//! cargo build --release -p director --bin director -p lvs-benches --bin console
//! target/release/console --director target/release/director --virtuals 1000
//! ```
//!
//! Prints a Markdown section on stdout. Targets (issue 18): under 50 ms per page at 1,000
//! virtual servers, under 30 MiB resident.

#[path = "../../../lvscf/benches/common/generate.rs"]
mod generate;

use std::{
    net::SocketAddr,
    path::PathBuf,
    process::{Command, ExitCode, Stdio},
    time::{Duration, Instant},
};

use clap::Parser;
use lvs_benches::procs::tree_usage;
use lvs_benches::stats::percentile;

#[derive(Parser)]
#[command(about = "The web console: server time per page and memory with a large lvs.cf")]
struct Cli {
    /// The director binary (`director console`).
    #[arg(long)]
    director: PathBuf,
    /// Virtual servers in the generated lvs.cf (2 real servers each).
    #[arg(long, default_value_t = 1000)]
    virtuals: usize,
    /// Requests per page.
    #[arg(long, default_value_t = 30)]
    requests: usize,
}

/// The server's time in a `Server-Timing: app;dur=MS` header.
fn server_time(answer: &testkit::http::Answer) -> Option<Duration> {
    let ms: f64 = answer
        .header("server-timing")
        .strip_prefix("app;dur=")?
        .parse()
        .ok()?;
    Some(Duration::from_secs_f64(ms / 1000.0))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let dir = std::env::temp_dir().join(format!("console-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a directory");
    let cf = dir.join("lvs.cf");
    std::fs::write(&cf, generate::generate(cli.virtuals, 2)).expect("lvs.cf");
    let passwd = dir.join("passwd");
    let mut set = Command::new(&cli.director)
        .args(["console", "passwd", "--passwd-file"])
        .arg(&passwd)
        .stdin(Stdio::piped())
        .spawn()
        .expect("director console passwd");
    {
        use std::io::Write;
        let mut stdin = set.stdin.take().expect("stdin");
        stdin.write_all(b"bench\n").expect("the password");
    }
    assert!(set.wait().expect("exits").success());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut console = Command::new(&cli.director)
        .args(["console", "--listen", &addr.to_string(), "--passwd-file"])
        .arg(&passwd)
        .arg("--config")
        .arg(&cf)
        .arg("--socket")
        .arg(dir.join("no-director.sock"))
        .stderr(Stdio::null())
        .spawn()
        .expect("director console");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "the console does not listen");
        // Waiting for another process to listen.
        std::thread::sleep(Duration::from_millis(20));
    }
    let login = testkit::http::request(addr, "POST", "/login", None, &[("password", "bench")]);
    let cookie = login
        .header("set-cookie")
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string();
    let middle = format!("/virtual/vs{}", cli.virtuals / 2);
    let pages = [
        "/virtual",
        middle.as_str(),
        "/global",
        "/changes",
        "/monitor",
    ];
    println!("## Web console: server time per page and memory\n");
    println!(
        "`director console` (release build) serving a generated lvs.cf of {} virtual servers with 2 \
         real servers each ({} KiB), no director running; each page requested {} times over \
         loopback, the server's own time read from its `Server-Timing` header (reading the \
         draft, rendering; the monitoring page includes asking the control socket). The \
         `/changes` page is measured with one edit pending (a diff of the whole file). \
         `benches/src/bin/console.rs`. Targets: under 50 ms per page, under 30 MiB resident. \
         piranha-gui (PHP under Apache) has no maintained package to run beside it, so this row \
         has no peer.\n",
        cli.virtuals,
        std::fs::metadata(&cf).map_or(0, |m| m.len() / 1024),
        cli.requests
    );
    // One edit pending, for the diff.
    let page = testkit::http::request(addr, "GET", "/global", Some(&cookie), &[]).body;
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_default()
        .to_string();
    let edited = testkit::http::request(
        addr,
        "POST",
        &middle,
        Some(&cookie),
        &[("csrf", &csrf), ("scheduler", "rr")],
    );
    assert_eq!(edited.status, 303, "{}", edited.body);
    println!("| page | median | p95 | worst | page size | verdict |");
    println!("|---|---|---|---|---|---|");
    for page in pages {
        let mut times = Vec::new();
        let mut size = 0;
        for _ in 0..cli.requests {
            let a = testkit::http::request(addr, "GET", page, Some(&cookie), &[]);
            assert_eq!(a.status, 200, "{page}: {}", a.body);
            size = a.body.len();
            times.push(server_time(&a).expect("a Server-Timing header"));
        }
        let median = percentile(&times, 50.0).unwrap_or_default();
        let p95 = percentile(&times, 95.0).unwrap_or_default();
        let worst = times.iter().max().copied().unwrap_or_default();
        let met = p95 < Duration::from_millis(50);
        println!(
            "| `{page}` | {:.1} ms | {:.1} ms | {:.1} ms | {} KiB | {} |",
            median.as_secs_f64() * 1000.0,
            p95.as_secs_f64() * 1000.0,
            worst.as_secs_f64() * 1000.0,
            size / 1024,
            if met {
                "met (< 50 ms)"
            } else {
                "**not met** (< 50 ms)"
            }
        );
    }
    let usage = tree_usage(console.id()).expect("/proc");
    let mib = |kib: u64| kib as f64 / 1024.0;
    let rss_met = usage.peak_rss_kib < 30 * 1024;
    println!(
        "\nResident memory after the requests: {:.1} MiB (peak {:.1} MiB): {}.\n",
        mib(usage.rss_kib),
        mib(usage.peak_rss_kib),
        if rss_met {
            "met (< 30 MiB)"
        } else {
            "**not met** (< 30 MiB)"
        }
    );
    let _ = console.kill();
    let _ = console.wait();
    let _ = std::fs::remove_dir_all(&dir);
    ExitCode::SUCCESS
}
