//! The public corpus and the seed deployment: every file round-trips byte for byte, and the
//! files Piranha rejects are judged as the fixtures' SOURCES.md says.

use std::path::{Path, PathBuf};

use lvscf::{Code, Document, Severity};

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixture dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "cf"))
        .collect();
    files.sort();
    files
}

fn name(p: &Path) -> String {
    p.file_name()
        .expect("file name")
        .to_string_lossy()
        .into_owned()
}

const TRAILING_COMMENTS: &str =
    "github-unknown__fs70284062048__LVS-Keepalived-blog.md--lvs.cf-block-with-trailing-comments.cf";
const DAMAGED: &str =
    "github-unknown__fs34723672808__CSDN-LVS-part3.md--annotated-lvs.cf-DAMAGED.cf";

#[test]
fn corpus_has_all_files() {
    assert_eq!(fixtures("public").len(), 19);
    assert_eq!(fixtures("seed").len(), 4);
}

#[test]
fn every_accepted_file_round_trips_byte_for_byte() {
    for path in fixtures("public").into_iter().chain(fixtures("seed")) {
        let bytes = std::fs::read(&path).expect("read fixture");
        if name(&path) == DAMAGED {
            continue;
        }
        let doc = Document::parse_bytes(&bytes)
            .unwrap_or_else(|e| panic!("{} does not parse:\n{e}", path.display()));
        assert_eq!(doc.to_string().as_bytes(), &bytes[..], "{}", path.display());
        // The canonical layout parses to the same model.
        let canonical = Document::parse(&doc.to_canonical_string()).expect("canonical parses");
        assert_eq!(canonical.config(), doc.config(), "{}", path.display());
        // And so does the model written out.
        let written = doc.config().to_lvs_cf().expect("model writes");
        assert_eq!(
            &lvscf::parse_config(&written).expect("written parses"),
            doc.config()
        );
    }
}

#[test]
fn end_of_line_comments_parse_with_warnings() {
    let path = fixtures("public")
        .into_iter()
        .find(|p| name(p) == TRAILING_COMMENTS)
        .expect("fixture #17");
    let doc = Document::parse_bytes(&std::fs::read(&path).expect("read")).expect("parses");
    let eol: Vec<_> = doc
        .diagnostics()
        .iter()
        .filter(|d| d.code == Code::EndOfLineComment)
        .collect();
    assert!(!eol.is_empty());
    // Piranha rejects the file at line 3, its first end-of-line comment.
    assert_eq!((eol[0].line, eol[0].column), (3, 41));
    assert!(eol.iter().all(|d| d.severity == Severity::Warning));
}

#[test]
fn damaged_file_is_rejected_at_line_10() {
    let path = fixtures("public")
        .into_iter()
        .find(|p| name(p) == DAMAGED)
        .expect("fixture #18");
    let err = Document::parse_bytes(&std::fs::read(&path).expect("read")).expect_err("rejected");
    let first = err.first_error().expect("an error");
    assert_eq!(
        (first.line, first.column, first.code),
        (10, 1, Code::UnknownKeyword)
    );
}

#[test]
fn seed_files_mean_what_the_readme_says() {
    let seed = fixtures("seed");
    let nat = Document::parse_bytes(&std::fs::read(&seed[0]).expect("read")).expect("01 parses");
    let c = nat.config();
    let web = &c.virtual_servers[0];
    assert_eq!(
        web.address
            .as_ref()
            .map(|a| (a.address.to_string(), a.device.as_str())),
        Some(("192.168.1.250".into(), "eth0:1"))
    );
    assert_eq!(
        (web.port, web.scheduler, web.timeout.0, web.reentry.0),
        (80, lvscf::Scheduler::Wlc, 6, 15)
    );
    assert_eq!(web.servers.len(), 2);
    // 02: primary and backup are the same address, which a checker must report.
    let two = Document::parse_bytes(&std::fs::read(&seed[1]).expect("read")).expect("02 parses");
    assert!(
        two.diagnostics()
            .iter()
            .any(|d| d.code == Code::PrimaryIsBackup)
    );
    let dr = Document::parse_bytes(&std::fs::read(&seed[2]).expect("read")).expect("03 parses");
    assert_eq!(dr.config().globals.network, lvscf::Network::Direct);
    assert!(dr.config().globals.monitor_links);
}
