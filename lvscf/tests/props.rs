//! Property tests: generated models survive text, edits touch only their lines, and no input
//! makes the parser panic.

use std::net::Ipv4Addr;
use std::path::Path;

use lvscf::{
    AddressOnDevice, Config, Document, Globals, Host, Network, Protocol, RealServer, Scheduler,
    Seconds, ServiceType, VirtualServer,
};
use proptest::prelude::*;

fn host() -> impl Strategy<Value = Host> {
    prop_oneof![
        any::<u32>().prop_map(|v| Host::Ip(Ipv4Addr::from(v))),
        "[a-z]([a-z0-9-]{0,6}[a-z0-9])?(\\.[a-z][a-z0-9]{0,5}){0,2}".prop_map(Host::Name),
    ]
}

fn nonzero_host() -> impl Strategy<Value = Host> {
    host().prop_filter("non-zero", |h| h.ip() != Some(Ipv4Addr::UNSPECIFIED))
}

/// Free text as Piranha can hold it: no line ends, and not both quote kinds with blanks.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9/._%\\\\-]{1,12}",
        "[a-zA-Z0-9/ ._#\"\\\\-]{0,16}",
        "[a-zA-Z0-9 ']{0,10}",
    ]
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z0-9_.-]{1,10}", "[a-z]{1,4} [a-z]{1,4}"]
}

fn device() -> impl Strategy<Value = String> {
    "eth[0-9](:[0-9])?"
}

fn addr_dev() -> impl Strategy<Value = AddressOnDevice> {
    (host(), device()).prop_map(|(address, device)| AddressOnDevice { address, device })
}

fn ipv4() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

fn secs() -> impl Strategy<Value = Seconds> {
    (0u32..100_000).prop_map(Seconds)
}

fn globals() -> impl Strategy<Value = Globals> {
    (
        (
            any::<u32>(),
            proptest::option::of(nonzero_host()),
            proptest::option::of(nonzero_host()),
            proptest::option::of(host()),
            any::<bool>(),
            proptest::option::of(nonzero_host()),
        ),
        (
            ipv4(),
            proptest::option::of(addr_dev()),
            proptest::option::of(text()),
            any::<bool>(),
            any::<bool>(),
            "[a-z]{1,6}",
        ),
        (
            secs(),
            secs(),
            any::<bool>(),
            any::<u8>(),
            secs(),
            any::<u16>(),
        ),
        (
            prop_oneof![
                Just(Network::Nat),
                Just(Network::Direct),
                Just(Network::Tunnel)
            ],
            prop_oneof![Just(ServiceType::Lvs), Just(ServiceType::Fos)],
        ),
    )
        .prop_map(|(a, b, c, d)| Globals {
            serial_no: a.0,
            primary: a.1,
            primary_private: a.2,
            backup: a.3,
            backup_active: a.4,
            backup_private: a.5,
            nat_nmask: b.0,
            nat_router: b.1,
            active_cmd: b.2,
            monitor_links: b.3,
            hard_shutdown: b.4,
            rsh_command: b.5,
            keepalive: c.0,
            deadtime: c.1,
            syncdaemon: c.2,
            syncd_id: c.3,
            tcp_timeout: c.4,
            heartbeat_port: c.5,
            network: d.0,
            service: d.1,
            ..Globals::default()
        })
}

fn server() -> impl Strategy<Value = RealServer> {
    (name(), host(), any::<bool>(), 0u32..=65535, any::<u16>()).prop_map(
        |(name, address, active, weight, port)| RealServer {
            name,
            address,
            active,
            weight,
            port,
        },
    )
}

fn scheduler() -> impl Strategy<Value = Scheduler> {
    prop::sample::select(vec![
        Scheduler::Rr,
        Scheduler::Wrr,
        Scheduler::Lc,
        Scheduler::Wlc,
        Scheduler::Lblc,
        Scheduler::Lblcr,
        Scheduler::Dh,
        Scheduler::Sh,
    ])
}

fn virtual_server() -> impl Strategy<Value = VirtualServer> {
    (
        (
            name(),
            any::<bool>(),
            proptest::option::of(addr_dev()),
            proptest::option::of(ipv4()),
            ipv4(),
            any::<u32>(),
        ),
        (
            prop_oneof![Just(Protocol::Tcp), Just(Protocol::Udp)],
            any::<u16>(),
            scheduler(),
            secs(),
            proptest::option::of(ipv4().prop_filter("not all ones", |m| *m != Ipv4Addr::BROADCAST)),
        ),
        (
            proptest::option::of(text()),
            proptest::option::of(text()),
            proptest::option::of(text()),
            any::<bool>(),
            (1u32..100_000).prop_map(Seconds),
            secs(),
        ),
        (
            proptest::option::of(text()),
            any::<bool>(),
            proptest::option::of(text()),
            proptest::option::of(prop::collection::vec("[a-z/]{1,6}", 0..3)),
        ),
        prop::collection::vec(server(), 0..4),
    )
        .prop_map(|(a, b, c, d, servers)| VirtualServer {
            name: a.0,
            active: a.1,
            address: a.2,
            sorry_server: a.3,
            vip_nmask: a.4,
            fwmark: a.5,
            protocol: b.0,
            port: b.1,
            scheduler: b.2,
            persistent: b.3,
            pmask: b.4,
            send: c.0,
            expect: c.1,
            send_program: c.2,
            use_regex: c.3,
            timeout: c.4,
            reentry: c.5,
            load_monitor: d.0,
            quiesce_server: d.1,
            start_cmd: d.2,
            dirs: d.3,
            servers,
            ..VirtualServer::default()
        })
}

fn config() -> impl Strategy<Value = Config> {
    (
        globals(),
        prop::collection::vec(virtual_server(), 0..4),
        prop::collection::vec(virtual_server(), 0..2),
    )
        .prop_map(|(globals, virtual_servers, failover_services)| Config {
            globals,
            virtual_servers,
            failover_services,
        })
}

fn corpus() -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["public", "seed"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(dir);
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .expect("fixtures")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "cf"))
            .collect();
        files.sort();
        for f in files {
            out.push(String::from_utf8(std::fs::read(f).expect("read")).expect("utf-8"));
        }
    }
    out
}

/// Lines that differ once the common prefix and suffix are taken away: (old, new) counts.
fn changed_lines(old: &str, new: &str) -> (usize, usize) {
    let a: Vec<&str> = old.split_inclusive('\n').collect();
    let b: Vec<&str> = new.split_inclusive('\n').collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    (a.len() - prefix - suffix, b.len() - prefix - suffix)
}

#[derive(Debug, Clone)]
enum Edit {
    SetGlobal(&'static str, String),
    SetInVirtual(usize, &'static str, String),
    RemoveInVirtual(usize, &'static str),
    AddServer(usize, String),
    RemoveFirstServer(usize),
    AddVirtual(String),
}

fn edit() -> impl Strategy<Value = Edit> {
    let gkey = prop::sample::select(vec![
        ("keepalive", "[1-9][0-9]{0,2}"),
        ("serial_no", "0x[0-9a-f]{1,4}"),
        ("primary", "10\\.[0-9]{1,2}\\.0\\.1"),
        ("debug_level", "[A-Z]{1,5}"),
    ]);
    let vkey = prop::sample::select(vec![
        ("port", "[1-9][0-9]{0,3}"),
        ("scheduler", "(rr|wlc|sh)"),
        ("send", "GET [a-z/ ]{0,8}"),
        ("timeout", "[1-9]"),
        ("active", "[01]"),
    ]);
    prop_oneof![
        gkey.prop_flat_map(|(k, re)| re.prop_map(move |v| Edit::SetGlobal(k, v))),
        (any::<usize>(), vkey)
            .prop_flat_map(|(i, (k, re))| re.prop_map(move |v| Edit::SetInVirtual(i, k, v))),
        (
            any::<usize>(),
            prop::sample::select(vec!["port", "scheduler", "send", "expect", "persistent"])
        )
            .prop_map(|(i, k)| Edit::RemoveInVirtual(i, k)),
        (any::<usize>(), "[a-z]{3,8}").prop_map(|(i, n)| Edit::AddServer(i, n)),
        any::<usize>().prop_map(Edit::RemoveFirstServer),
        "[a-z]{3,8}".prop_map(Edit::AddVirtual),
    ]
}

/// Applies an edit; returns the (old, new) changed-line counts it may produce at most, or
/// `None` when it did not apply.
fn apply(doc: &mut Document, e: &Edit) -> Option<(usize, usize)> {
    let names = doc
        .block_names(lvscf::Scope::Virtual)
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    let pick = |i: usize| names.get(i % names.len().max(1)).cloned();
    match e {
        Edit::SetGlobal(k, v) => doc.globals_mut().set(k, v).ok().map(|_| (1, 1)),
        Edit::SetInVirtual(i, k, v) => {
            let n = pick(*i)?;
            doc.virtual_mut(&n)?.set(k, v).ok().map(|_| (1, 1))
        }
        Edit::RemoveInVirtual(i, k) => {
            let n = pick(*i)?;
            doc.virtual_mut(&n)?.remove(k).then_some((usize::MAX, 0))
        }
        Edit::AddServer(i, s) => {
            let n = pick(*i)?;
            doc.virtual_mut(&n)?.add_server(s).ok().map(|_| (0, 2))
        }
        Edit::RemoveFirstServer(i) => {
            let n = pick(*i)?;
            let first = doc
                .config()
                .virtual_servers
                .iter()
                .find(|v| v.name == n)?
                .servers
                .first()?
                .name
                .clone();
            doc.virtual_mut(&n)?
                .remove_server(&first)
                .then_some((usize::MAX, 0))
        }
        Edit::AddVirtual(n) => doc.add_virtual(n).ok().map(|_| (0, 2)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn generated_configs_survive_text(config in config()) {
        match config.to_lvs_cf() {
            Ok(text) => {
                let doc = Document::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}\n{e}")))?;
                prop_assert_eq!(doc.config(), &config, "{}", text);
                prop_assert_eq!(doc.to_string(), text);
            }
            // Only values lvs.cf cannot hold are refused.
            Err(lvscf::WriteError::Unrepresentable { value, .. }) => {
                prop_assert!(value.contains('"') && value.contains('\''), "{value:?}");
            }
            Err(e) => prop_assert!(false, "{e}"),
        }
    }

    #[test]
    fn edits_touch_only_their_lines(file in 0usize..23, edits in prop::collection::vec(edit(), 1..6)) {
        let files = corpus();
        let src = &files[file % files.len()];
        let Ok(mut doc) = Document::parse(src) else { return Ok(()) };
        for e in &edits {
            let before = doc.to_string();
            let before_model = doc.config().clone();
            let Some((max_old, max_new)) = apply(&mut doc, e) else {
                prop_assert_eq!(doc.to_string(), before, "a refused edit changed the text");
                continue;
            };
            let after = doc.to_string();
            let (old, new) = changed_lines(&before, &after);
            prop_assert!(old <= max_old && new <= max_new, "{:?} changed {} old / {} new lines:\n{}\n---\n{}", e, old, new, before, after);
            // The text still parses, to the model the document holds.
            let again = Document::parse(&after).map_err(|err| TestCaseError::fail(format!("{after}\n{err}")))?;
            prop_assert_eq!(again.config(), doc.config());
            if old == 0 && new == 0 {
                prop_assert_eq!(doc.config(), &before_model);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(doc) = Document::parse_bytes(&bytes) {
            prop_assert_eq!(doc.to_string().into_bytes(), bytes);
            let _ = doc.to_canonical_string();
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "[ \\t\\r\\n=#{}\\[\\]\"'a-z0-9._:-]{0,300}") {
        if let Ok(doc) = Document::parse(&text) {
            prop_assert_eq!(doc.to_string(), text);
            let canonical = doc.to_canonical_string();
            let again = Document::parse(&canonical).map_err(|e| TestCaseError::fail(format!("{canonical}\n{e}")))?;
            prop_assert_eq!(again.config(), doc.config());
        }
    }

    #[test]
    fn mutated_corpus_files_never_panic(file in 0usize..23, muts in prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..8)) {
        let files = corpus();
        let mut bytes = files[file % files.len()].clone().into_bytes();
        for (pos, byte, kind) in muts {
            if bytes.is_empty() { break; }
            let at = pos % bytes.len();
            match kind {
                0 => bytes[at] = byte,
                1 => { bytes.remove(at); }
                _ => bytes.insert(at, byte),
            }
        }
        if let Ok(doc) = Document::parse_bytes(&bytes) {
            prop_assert_eq!(doc.to_string().into_bytes(), bytes);
        }
    }
}
