//! The console over HTTP on loopback, with a real `lvs.cf` in a temporary directory and no
//! director running: logging in (wrong passwords throttled), the session cookie, CSRF, edits
//! that keep the file byte for byte, validation errors at their field, the diff, the atomic
//! apply with its backup and `serial_no`, and hostile values escaped.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::net::SocketAddr;
use std::path::PathBuf;

const SEED: &str = include_str!("../../lvscf/tests/fixtures/seed/01-nat-single-router.cf");

/// A console serving a copy of `cf`, its files in a directory of their own.
struct Console {
    addr: SocketAddr,
    dir: PathBuf,
    _runtime: tokio::runtime::Runtime,
}

impl Console {
    fn start(name: &str, cf: &str) -> Console {
        Console::start_with(name, cf, None)
    }

    /// A console of `cf` and, when given, of the overlay `toml` (`--settings`).
    fn start_with(name: &str, cf: &str, toml: Option<&str>) -> Console {
        let dir = std::env::temp_dir().join(format!("console-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("lvs.cf"), cf).unwrap();
        let hash = console::hash_password("s3cret").unwrap();
        std::fs::write(dir.join("passwd"), format!("{hash}\n")).unwrap();
        if let Some(toml) = toml {
            std::fs::write(dir.join("director.toml"), toml).unwrap();
        }
        let options = console::Options::new(dir.join("lvs.cf"))
            .with_settings(toml.map(|_| dir.join("director.toml")))
            .with_passwd(dir.join("passwd"))
            .with_socket(dir.join("no-director.sock"));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(console::serve(listener, options));
        Console {
            addr,
            dir,
            _runtime: runtime,
        }
    }

    fn file(&self) -> String {
        std::fs::read_to_string(self.dir.join("lvs.cf")).unwrap()
    }

    /// One request: status, headers (lower-cased names), body.
    fn request(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        form: &[(&str, &str)],
    ) -> (u16, Vec<(String, String)>, String) {
        let cookie = cookie.map(|c| format!("director_console={c}"));
        let a = testkit::http::request(self.addr, method, path, cookie.as_deref(), form);
        (a.status, a.headers, a.body)
    }

    /// Logs in: the session token and the CSRF token.
    fn login(&self) -> (String, String) {
        let (status, headers, _) = self.request("POST", "/login", None, &[("password", "s3cret")]);
        assert_eq!(status, 303);
        let cookie = header(&headers, "set-cookie");
        let token = cookie
            .strip_prefix("director_console=")
            .and_then(|c| c.split(';').next())
            .unwrap()
            .to_string();
        let (_, _, page) = self.request("GET", "/global", Some(&token), &[]);
        let csrf = page
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap()
            .to_string();
        (token, csrf)
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn header(headers: &[(String, String)], name: &str) -> String {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

#[test]
fn nothing_without_the_password_and_wrong_passwords_are_throttled() {
    let c = Console::start("login", SEED);
    let (status, headers, _) = c.request("GET", "/monitor", None, &[]);
    assert_eq!(
        (status, header(&headers, "location")),
        (303, "/login".into())
    );
    let (status, _, _) = c.request("GET", "/virtual", Some("forged"), &[]);
    assert_eq!(status, 303, "an unknown session is no session");
    for _ in 0..3 {
        let (status, _, page) = c.request("POST", "/login", None, &[("password", "guess")]);
        assert_eq!(status, 401);
        assert!(page.contains("Wrong password."), "{page}");
    }
    // The fourth attempt in a row waits, even with the right password.
    let (status, _, page) = c.request("POST", "/login", None, &[("password", "s3cret")]);
    assert_eq!(status, 429, "{page}");
    assert!(page.contains("Too many failed attempts"), "{page}");
}

#[test]
fn the_session_cookie_is_strict_and_every_form_needs_its_csrf_token() {
    let c = Console::start("cookie", SEED);
    let (status, headers, _) = c.request("POST", "/login", None, &[("password", "s3cret")]);
    assert_eq!(status, 303);
    let cookie = header(&headers, "set-cookie");
    for part in ["HttpOnly", "SameSite=Strict", "Max-Age=1800", "Path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(header(&headers, "content-security-policy").contains("frame-ancestors 'none'"));
    assert!(header(&headers, "server-timing").starts_with("app;dur="));
    let (token, csrf) = c.login();
    let before = c.file();
    let (status, _, _) = c.request(
        "POST",
        "/global",
        Some(&token),
        &[("_fields", "1"), ("network", "direct")],
    );
    assert_eq!(status, 403, "no token");
    let (status, _, _) = c.request(
        "POST",
        "/global",
        Some(&token),
        &[("csrf", "0123"), ("_fields", "1"), ("network", "direct")],
    );
    assert_eq!(status, 403, "a wrong token");
    let (status, _, _) = c.request("GET", "/changes", Some(&token), &[]);
    assert_eq!(status, 200);
    assert_eq!(c.file(), before);
    // Logging out ends the session.
    let (status, headers, _) = c.request("POST", "/logout", Some(&token), &[("csrf", &csrf)]);
    assert_eq!(status, 303);
    assert!(header(&headers, "set-cookie").contains("Max-Age=0"));
    let (status, _, _) = c.request("GET", "/global", Some(&token), &[]);
    assert_eq!(status, 303);
}

#[test]
fn an_edit_changes_one_line_shows_a_diff_and_applies_atomically() {
    let c = Console::start("edit", SEED);
    let (token, csrf) = c.login();
    let (_, _, page) = c.request("GET", "/virtual/HTTP", Some(&token), &[]);
    assert!(page.contains("<option value=\"wlc\" selected>"), "{page}");
    let (status, headers, _) = c.request(
        "POST",
        "/virtual/HTTP",
        Some(&token),
        &[("csrf", &csrf), ("scheduler", "rr")],
    );
    assert_eq!(
        (status, header(&headers, "location")),
        (303, "/virtual/HTTP".into())
    );
    assert_eq!(c.file(), SEED, "nothing written before apply");
    let (_, _, diff) = c.request("GET", "/changes", Some(&token), &[]);
    assert!(diff.contains("-     scheduler = wlc"), "{diff}");
    assert!(diff.contains("+     scheduler = rr"), "{diff}");
    assert!(diff.contains("(pending)"), "the menu says so");

    let (status, _, page) = c.request("POST", "/changes/apply", Some(&token), &[("csrf", &csrf)]);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Applied to the file (director not running"),
        "{page}"
    );
    let written = c.file();
    let serial: u32 = lvscf::Document::parse(SEED)
        .unwrap()
        .config()
        .globals
        .serial_no;
    let expected = SEED
        .replace("     scheduler = wlc", "     scheduler = rr")
        .replace(
            &format!("serial_no = {serial}"),
            &format!("serial_no = {}", serial + 1),
        );
    assert_eq!(written, expected, "every other byte as it was");
    assert_eq!(
        std::fs::read_to_string(c.dir.join("lvs.cf.bak")).unwrap(),
        SEED
    );
    let (_, _, after) = c.request("GET", "/changes", Some(&token), &[]);
    assert!(after.contains("No changes"), "{after}");
}

#[test]
fn an_invalid_value_is_refused_at_its_field_with_its_place() {
    let c = Console::start("invalid", SEED);
    let (token, csrf) = c.login();
    let (status, _, page) = c.request(
        "POST",
        "/virtual/HTTP",
        Some(&token),
        &[("csrf", &csrf), ("address", "192.168.1.300 eth0:1")],
    );
    assert_eq!(status, 422, "{page}");
    let at_field = page
        .split("data-field=\"address\">")
        .nth(1)
        .and_then(|r| r.split("</p>").next())
        .unwrap_or_else(|| panic!("no error at the address field: {page}"));
    assert!(at_field.contains("192.168.1.300"), "{at_field}");
    assert!(
        page.contains("value=\"192.168.1.300 eth0:1\""),
        "shown as typed: {page}"
    );
    let line = 1 + SEED
        .lines()
        .position(|l| l.trim_start().starts_with("address = 192.168.1.250"))
        .unwrap();
    assert!(at_field.contains(&format!("lvs.cf:{line}:")), "{at_field}");
    let (_, _, diff) = c.request("GET", "/changes", Some(&token), &[]);
    assert!(
        diff.contains("No changes"),
        "the draft is unchanged: {diff}"
    );

    // A port the director cannot use: refused by the plan, with the file's line and column.
    let (status, _, page) = c.request(
        "POST",
        "/virtual/HTTP",
        Some(&token),
        &[("csrf", &csrf), ("port", "70000")],
    );
    assert_eq!(status, 422, "{page}");
    let line = 1 + SEED.lines().position(|l| l.trim() == "port = 80").unwrap();
    let at_field = page
        .split("data-field=\"port\">")
        .nth(1)
        .and_then(|r| r.split("</p>").next())
        .unwrap_or_else(|| panic!("no error at the port field: {page}"));
    assert!(at_field.contains(&format!("lvs.cf:{line}:")), "{at_field}");
}

#[test]
fn a_virtual_server_and_two_real_servers_added_through_the_forms() {
    let c = Console::start("add", SEED);
    let (token, csrf) = c.login();
    let (status, headers, _) = c.request(
        "POST",
        "/virtual",
        Some(&token),
        &[("csrf", &csrf), ("name", "HTTPS")],
    );
    assert_eq!(
        (status, header(&headers, "location")),
        (303, "/virtual/HTTPS".into())
    );
    let fields = [
        ("csrf", csrf.as_str()),
        ("_fields", "1"),
        ("active", "1"),
        ("address", "192.168.1.251 eth0:2"),
        ("port", "443"),
        ("scheduler", "rr"),
    ];
    let (status, _, page) = c.request("POST", "/virtual/HTTPS", Some(&token), &fields);
    assert_eq!(status, 303, "{page}");
    for (name, address) in [("web1", "10.0.0.101"), ("web2", "10.0.0.102")] {
        let (status, _, page) = c.request(
            "POST",
            "/virtual/HTTPS/server",
            Some(&token),
            &[
                ("csrf", &csrf),
                ("name", name),
                ("address", address),
                ("weight", "2"),
            ],
        );
        assert_eq!(status, 303, "{page}");
    }
    let (status, _, _) = c.request("POST", "/changes/apply", Some(&token), &[("csrf", &csrf)]);
    assert_eq!(status, 200);
    let doc = lvscf::Document::parse(&c.file()).unwrap();
    let https = (doc.config().virtual_servers.iter())
        .find(|v| v.name == "HTTPS")
        .unwrap();
    assert_eq!(https.port, 443);
    assert!(https.active);
    let servers: Vec<(String, u32)> = (https.servers.iter())
        .map(|r| (r.address.to_string(), r.weight))
        .collect();
    assert_eq!(
        servers,
        [("10.0.0.101".to_string(), 2), ("10.0.0.102".to_string(), 2)]
    );
    // Without the new block and with the old serial number, the file is the seed, byte for byte.
    let mut back = lvscf::Document::parse(&c.file()).unwrap();
    assert!(back.remove_virtual("HTTPS"));
    let serial = lvscf::Document::parse(SEED)
        .unwrap()
        .config()
        .globals
        .serial_no;
    back.globals_mut()
        .set("serial_no", &serial.to_string())
        .unwrap();
    assert_eq!(back.to_string(), SEED);
    let (_, _, list) = c.request("GET", "/virtual", Some(&token), &[]);
    assert!(list.contains(">HTTPS</a>"), "{list}");
}

#[test]
fn hostile_values_are_escaped_and_the_monitor_says_no_director_runs() {
    let hostile = SEED.replace(
        "send = \"GET / HTTP/1.0\\r\\n\\r\\n\"",
        "send = \"<script>alert(1)</script>\"",
    );
    assert_ne!(hostile, SEED);
    let c = Console::start("hostile", &hostile);
    let (token, _) = c.login();
    let (_, _, page) = c.request("GET", "/virtual/HTTP", Some(&token), &[]);
    assert!(!page.contains("<script>alert(1)"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    let (status, _, page) = c.request("GET", "/monitor", Some(&token), &[]);
    assert_eq!(status, 200);
    assert!(page.contains("director not running"), "{page}");
}

#[test]
fn the_toolkit_settings_go_to_the_overlay_which_keeps_its_comments() {
    let overlay =
        "# the site's overlay\n[heartbeat]\nmode = \"piranha\"  # pulse on the other router\n";
    let c = Console::start_with("toolkit", SEED, Some(overlay));
    let (token, csrf) = c.login();
    let (_, _, page) = c.request("GET", "/toolkit", Some(&token), &[]);
    assert!(
        page.contains("<option value=\"piranha\" selected>"),
        "{page}"
    );
    // Timers the heartbeat cannot run with: refused, nothing changes.
    let (status, _, page) = c.request(
        "POST",
        "/toolkit",
        Some(&token),
        &[
            ("csrf", &csrf),
            ("_fields", "/toolkit"),
            ("heartbeat.mode", "piranha"),
            ("heartbeat.keepalive", "500ms"),
            ("heartbeat.deadtime", "200ms"),
        ],
    );
    assert_eq!(status, 422, "{page}");
    assert!(
        page.contains("director.toml:"),
        "the overlay's place: {page}"
    );
    assert!(page.contains("value=\"200ms\""), "shown as typed: {page}");
    let (status, _, page) = c.request(
        "POST",
        "/toolkit",
        Some(&token),
        &[
            ("csrf", &csrf),
            ("_fields", "/toolkit"),
            ("heartbeat.mode", "piranha"),
            ("heartbeat.keepalive", "200ms"),
            ("heartbeat.deadtime", "1s"),
        ],
    );
    assert_eq!(status, 303, "{page}");
    // A virtual server's HTTP check, from its page.
    let (status, _, page) = c.request(
        "POST",
        "/virtual/HTTP/toolkit",
        Some(&token),
        &[("csrf", &csrf), ("toolkit.http.path", "/health")],
    );
    assert_eq!(status, 303, "{page}");
    let (_, _, diff) = c.request("GET", "/changes", Some(&token), &[]);
    assert!(diff.contains("+keepalive = &quot;200ms&quot;"), "{diff}");
    let (status, _, page) = c.request("POST", "/changes/apply", Some(&token), &[("csrf", &csrf)]);
    assert_eq!(status, 200, "{page}");
    let written = std::fs::read_to_string(c.dir.join("director.toml")).unwrap();
    assert!(
        written.starts_with(
            "# the site's overlay\n[heartbeat]\nmode = \"piranha\"  # pulse on the other router\n"
        ),
        "{written}"
    );
    assert!(
        written.contains("keepalive = \"200ms\"\ndeadtime = \"1s\"\n"),
        "{written}"
    );
    assert!(written.contains("path = \"/health\""), "{written}");
    assert_eq!(
        std::fs::read_to_string(c.dir.join("director.toml.bak")).unwrap(),
        overlay
    );
    assert_eq!(c.file(), SEED, "lvs.cf untouched, its serial_no too");
    let settings = director_core::Settings::parse(&written).unwrap();
    assert!(
        settings
            .virtual_server("HTTP")
            .and_then(|v| v.http.as_ref())
            .is_some()
    );
}

#[test]
fn parallel_wrong_passwords_are_throttled_like_sequential_ones() {
    let c = Console::start("parallel", SEED);
    let c = std::sync::Arc::new(c);
    let statuses: Vec<u16> = (0..6)
        .map(|_| {
            let c = std::sync::Arc::clone(&c);
            std::thread::spawn(move || {
                c.request("POST", "/login", None, &[("password", "guess")])
                    .0
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let verified = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((verified, refused), (3, 3), "{statuses:?}");
}

#[test]
fn scripts_flags_stale_pages_and_files_changed_on_disk() {
    let c = Console::start("script", SEED);
    let (token, csrf) = c.login();
    // A script's POST of `active=0` turns the virtual server off, not on.
    let (status, _, _) = c.request(
        "POST",
        "/virtual/HTTP",
        Some(&token),
        &[("csrf", &csrf), ("active", "0")],
    );
    assert_eq!(status, 303);
    let (_, _, diff) = c.request("GET", "/changes", Some(&token), &[]);
    assert!(diff.contains("+     active = 0"), "{diff}");
    let (status, _, _) = c.request("POST", "/changes/discard", Some(&token), &[("csrf", &csrf)]);
    assert_eq!(status, 303);

    // A delete from a page that shows another server at that place does nothing.
    let (status, _, page) = c.request(
        "POST",
        "/virtual/HTTP/server/0/delete",
        Some(&token),
        &[("csrf", &csrf), ("address", "10.0.0.200")],
    );
    assert!(page.contains("nothing deleted"), "{status}: {page}");
    let (_, _, diff) = c.request("GET", "/changes", Some(&token), &[]);
    assert!(diff.contains("No changes"), "{diff}");

    // Without edits, the pages follow the file on disk.
    std::fs::write(
        c.dir.join("lvs.cf"),
        SEED.replace("scheduler = wlc", "scheduler = lc"),
    )
    .unwrap();
    let (_, _, page) = c.request("GET", "/virtual/HTTP", Some(&token), &[]);
    assert!(page.contains("<option value=\"lc\" selected>"), "{page}");
}
