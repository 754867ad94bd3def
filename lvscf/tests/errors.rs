//! Every diagnostic code, provoked, with its line and column.

use lvscf::{Code, Document, Severity};

/// Parses `src` and returns the first error as (code, line, column).
fn first_error(src: &str) -> (Code, u32, u32) {
    let err = Document::parse(src).expect_err(src);
    let d = err.first_error().expect("an error");
    (d.code, d.line, d.column)
}

fn warnings(src: &str) -> Vec<(Code, u32, u32)> {
    let doc = Document::parse(src).unwrap_or_else(|e| panic!("{src:?}: {e}"));
    doc.diagnostics()
        .iter()
        .inspect(|d| assert_eq!(d.severity, Severity::Warning))
        .map(|d| (d.code, d.line, d.column))
        .collect()
}

#[test]
fn every_error_code() {
    use Code::*;
    let cases: &[(&str, Code, u32, u32)] = &[
        ("", Empty, 1, 1),
        ("serial_no = 1\nsend = \"abc\n", BadQuoting, 2, 8),
        ("virtual a {\n     send = \"abc\n}\n", BadQuoting, 2, 13),
        (
            "virtual a {\n     expect = \"abc\"def\n}\n",
            BadQuoting,
            2,
            20,
        ),
        ("virtual a {\n     expect = \"\n}\n", BadQuoting, 2, 15),
        (
            "serial_no = 1\nvirtual a {\n     port = 80\n",
            UnclosedBlock,
            2,
            1,
        ),
        (
            "virtual a {\n  server b {\n    port = 80\n}\n",
            UnclosedBlock,
            1,
            1,
        ),
        ("port = 80 81\n", UnknownKeyword, 1, 1),
        ("serial_no = 1 2\n", ExtraArguments, 1, 15),
        (
            "virtual a {\n     send = GET / HTTP/1.0\n}\n",
            ExtraArguments,
            2,
            17,
        ),
        ("virtual a {\n} junk\n", ExtraArguments, 2, 3),
        (
            "virtual a {\n  server b {\n  } junk\n}\n",
            ExtraArguments,
            3,
            5,
        ),
        ("virtual a { x\n}\n", ExtraArguments, 1, 13),
        ("serial_no =1\n", EqualExpected, 1, 11),
        ("serial_no 1\n", EqualExpected, 1, 11),
        ("serial_no\n", EqualExpected, 1, 10),
        (
            "virtual a {\n     address = 10.0.0.1\n}\n",
            MissingArguments,
            2,
            24,
        ),
        ("virtual a{\n}\n", MissingArguments, 1, 11),
        ("virtual {\n}\n", MissingArguments, 1, 10),
        ("virtual a\n", MissingArguments, 1, 10),
        ("virtual a b\n", MissingArguments, 1, 11),
        ("serial_no =\n", MissingArguments, 1, 12),
        ("primary = 0.0.0.0\n", BadHost, 1, 11),
        ("primary_private = 0\n", BadHost, 1, 19),
        ("primary = bad_host!\n", BadHost, 1, 11),
        (
            "virtual a {\n     sorry_server = web.example.com\n}\n",
            BadHost,
            2,
            21,
        ),
        (
            "virtual a {\n  server b {\n    address = 300.1.1.1\n  }\n}\n",
            BadHost,
            3,
            15,
        ),
        ("network = NAT\n", BadArgument, 1, 11),
        ("service = pulse\n", BadArgument, 1, 11),
        ("reservation_conflict_action = kill\n", BadArgument, 1, 31),
        ("virtual a {\n     protocol = TCP\n}\n", BadArgument, 2, 17),
        ("virtual a {\n     scheduler = sed\n}\n", BadArgument, 2, 18),
        ("virtual a {\n     port = www2\n}\n", BadArgument, 2, 13),
        ("primary = ::1\n", BadArgument, 1, 11),
        ("heartbeat_port = nosuch\n", BadArgument, 1, 18),
        ("keepalive = 5s\n", IntExpected, 1, 13),
        ("serial_no = 08\n", IntExpected, 1, 13),
        (
            "virtual a {\n  server b {\n    port = http\n  }\n}\n",
            IntExpected,
            3,
            12,
        ),
        ("backup_active = 2\n", BoolExpected, 1, 17),
        ("virtual a {\n     active = yes\n}\n", BoolExpected, 2, 15),
        ("Primary = 10.0.0.1\n", UnknownKeyword, 1, 1),
        ("serial_no=1\n", UnknownKeyword, 1, 1),
        ("server a {\n}\n", UnknownKeyword, 1, 1),
        ("virtual a {\n  virtual b {\n  }\n}\n", UnknownKeyword, 2, 3),
        ("}\n", UnknownKeyword, 1, 1),
        ("virtual a {\n     deadtime = 5\n}\n", UnknownKeyword, 2, 6),
        (
            "virtual a {\n  server b {\n    nmask = 255.0.0.0\n  }\n}\n",
            UnknownKeyword,
            3,
            5,
        ),
        ("global_defs  {\n}\n", UnknownKeyword, 1, 1),
        ("\"primary\" = 10.0.0.1\n", UnknownKeyword, 1, 1),
        ("virtual a {\n     dirs = a b\n}\n", ListExpected, 2, 13),
        ("virtual a {\n     dirs = [ a b\n}\n", ListExpected, 2, 13),
        ("nat_nmask = 255.255.255.0/24\n", BadNetmask, 1, 13),
        ("virtual a {\n     vip_nmask = 24x\n}\n", BadNetmask, 2, 18),
        ("virtual a {\n     pmask = nope\n}\n", BadNetmask, 2, 14),
        ("serial_no = 99999999999\n", OutOfRange, 1, 13),
        ("serial_no = -1\n", OutOfRange, 1, 13),
        ("virtual a {\n     port = 65536\n}\n", OutOfRange, 2, 13),
        (
            "virtual a {\n  server b {\n    weight = -3\n  }\n}\n",
            OutOfRange,
            3,
            14,
        ),
        ("syncd_id = 300\n", OutOfRange, 1, 12),
        ("virtual a {\n     timeout = 0\n}\n", ZeroTimeout, 2, 16),
    ];
    let mut wrong = Vec::new();
    for &(src, code, line, col) in cases {
        let got = first_error(src);
        if got != (code, line, col) {
            wrong.push(format!(
                "{src:?}: expected {:?}, got {got:?}",
                (code, line, col)
            ));
        }
        assert_eq!(code.severity(), Severity::Error);
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Every error code is covered (E002 by `invalid_utf8` below, E022 — a 4 GiB file — by a
    // unit test of the size check).
    for code in Code::ALL.iter().filter(|c| c.severity() == Severity::Error) {
        assert!(
            matches!(code, Code::InvalidUtf8 | Code::TooLarge)
                || cases.iter().any(|c| c.1 == *code),
            "{code:?} is not provoked"
        );
    }
}

#[test]
fn invalid_utf8() {
    let err = Document::parse_bytes(b"serial_no = 1\n# caf\xe9\n").expect_err("latin-1");
    let d = err.first_error().expect("error");
    assert_eq!((d.code, d.line, d.column), (Code::InvalidUtf8, 2, 6));
}

#[test]
fn every_warning_code() {
    use Code::*;
    assert_eq!(
        warnings(
            "port_ = 1 # x\n"
                .replace("port_ = 1", "serial_no = 1")
                .as_str()
        ),
        [(EndOfLineComment, 1, 15)]
    );
    assert_eq!(warnings("heartbeat = 1\n"), [(IgnoredKeyword, 1, 1)]);
    assert_eq!(
        warnings("debug_level = NONE\nsync = 0\n"),
        [(IgnoredKeyword, 1, 1), (IgnoredKeyword, 2, 1)]
    );
    assert_eq!(
        warnings("keepalive = 6\ndeadtime = 6\n"),
        [(DeadtimeNotAboveKeepalive, 2, 1)]
    );
    assert_eq!(
        warnings("keepalive = 6\n"),
        [(DeadtimeNotAboveKeepalive, 1, 1)]
    );
    assert_eq!(
        warnings("virtual a {\n     send = 'GET /'\n     expect = 'x y'\n}\n"),
        [(SingleQuotedCheck, 2, 13), (SingleQuotedCheck, 3, 15)]
    );
    assert_eq!(warnings("serial_no = 1\r\n"), [(Unportable, 1, 14)]);
    assert_eq!(
        warnings("virtual a {\n     expect = \"HTTP\" \n}\n"),
        [(Unportable, 2, 15)]
    );
    assert_eq!(
        warnings("virtual a {\n     dirs = [ a ] b\n}\n"),
        [(IgnoredKeyword, 2, 6), (Unportable, 2, 19)]
    );
    assert_eq!(
        warnings("primary = 10.0.0.1\nbackup = 10.0.0.1\n"),
        [(PrimaryIsBackup, 2, 1)]
    );
    assert_eq!(
        warnings("service = lvs\nservice = lvs\n"),
        [(RepeatedKeyword, 2, 1)]
    );
    for code in Code::ALL
        .iter()
        .filter(|c| c.severity() == Severity::Warning)
    {
        assert!(code.as_str().starts_with('W'));
    }
}

#[test]
fn codes_are_stable_and_mapped_to_piranha() {
    assert_eq!(Code::UnknownKeyword.as_str(), "E012");
    assert_eq!(Code::UnknownKeyword.piranha_error(), Some(12));
    assert_eq!(Code::BadQuoting.piranha_error(), Some(3));
    assert_eq!(Code::BadNetmask.piranha_error(), Some(16));
    assert_eq!(Code::ZeroTimeout.piranha_error(), None);
    for c in Code::ALL {
        if let Some(n) = c.piranha_error() {
            assert_eq!(c.as_str(), format!("E{n:03}"));
        }
    }
}

#[test]
fn all_errors_are_reported_not_only_the_first() {
    let err = Document::parse("keepalive = x\nvirtual a {\n     port = y\n     bogus = 1\n}\n")
        .expect_err("bad");
    let found: Vec<_> = err.errors().map(|d| (d.code, d.line)).collect();
    assert_eq!(
        found,
        [
            (Code::IntExpected, 1),
            (Code::BadArgument, 3),
            (Code::UnknownKeyword, 4)
        ]
    );
}

#[test]
fn an_error_after_a_server_block_is_reported() {
    // Piranha loses errors on the line right after a server block.
    let src = "virtual a {\n  server b {\n    address = 10.0.0.1\n  }\n  expect = \"x\"y\n}\n";
    assert_eq!(first_error(src), (Code::BadQuoting, 5, 15));
}

#[test]
fn diagnostics_display_with_file_line_and_column() {
    let err = Document::parse("serial_no = x\n")
        .expect_err("bad")
        .with_file("lvs.cf");
    assert_eq!(
        err.to_string(),
        "lvs.cf:1:13: error[E010]: integer expected for `serial_no`, found `x` (decimal, 0x hex or 0 octal)"
    );
}
