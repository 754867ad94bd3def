//! Edits keep the layout: given a file, running an edit, produces exactly the expected text.

use lvscf::{Code, Document, EditError};

fn given(src: &str, edit: impl FnOnce(&mut Document) -> Result<(), EditError>) -> String {
    let mut doc = Document::parse(src).expect("fixture parses");
    edit(&mut doc).expect("edit applies");
    let out = doc.to_string();
    // What an edit writes always parses back, to the same model.
    let again = Document::parse(&out).unwrap_or_else(|e| panic!("{out}\n{e}"));
    assert_eq!(again.config(), doc.config());
    out
}

const GUI: &str = "serial_no = 3\nprimary = 192.168.1.10\nservice = lvs\nvirtual web {\n     active = 1\n     port = 80   # web\n     server one {\n         address = 10.0.0.2\n         active = 1\n     }\n}\n";

#[test]
fn set_existing_value_changes_only_the_value() {
    let out = given(GUI, |d| {
        d.virtual_mut("web").expect("web").set("port", "8080")
    });
    assert_eq!(out, GUI.replace("port = 80   # web", "port = 8080   # web"));
    let tabs = "keepalive\t=  6\t\n";
    assert_eq!(
        given(tabs, |d| d.globals_mut().set("keepalive", "0x10")),
        "keepalive\t=  0x10\t\n"
    );
}

#[test]
fn set_new_global_goes_after_the_last_global() {
    let out = given(GUI, |d| d.globals_mut().set("keepalive", "6"));
    assert_eq!(
        out,
        GUI.replace("service = lvs\n", "service = lvs\nkeepalive = 6\n")
    );
}

#[test]
fn set_new_block_key_goes_before_the_servers_with_the_blocks_indent() {
    let out = given(GUI, |d| {
        d.virtual_mut("web").expect("web").set("scheduler", "rr")
    });
    assert_eq!(out, GUI.replace("# web\n", "# web\n     scheduler = rr\n"));
    let tabs = "virtual v {\n\tactive = 1\n}\n";
    assert_eq!(
        given(tabs, |d| d.virtual_mut("v").expect("v").set("port", "443")),
        "virtual v {\n\tactive = 1\n\tport = 443\n}\n"
    );
}

#[test]
fn set_quotes_values_that_need_it() {
    let out = given(GUI, |d| {
        let mut web = d.virtual_mut("web").expect("web");
        web.set("send", "GET / HTTP/1.0\\r\\n\\r\\n")?;
        web.set("expect", "say \"hi\"")?;
        web.set("load_monitor", "my monitor")
    });
    assert!(out.contains("     send = \"GET / HTTP/1.0\\r\\n\\r\\n\"\n"));
    assert!(out.contains("     expect = 'say \"hi\"'\n"));
    assert!(out.contains("     load_monitor = \"my monitor\"\n"));
}

#[test]
fn set_two_values() {
    let out = given(GUI, |d| {
        d.virtual_mut("web")
            .expect("web")
            .set_values("address", &["192.168.1.250", "eth0:1"])
    });
    assert!(out.contains("     port = 80   # web\n     address = 192.168.1.250 eth0:1\n"));
}

#[test]
fn invalid_edits_are_refused_and_change_nothing() {
    let mut doc = Document::parse(GUI).expect("parses");
    let mut web = doc.virtual_mut("web").expect("web");
    let e = web.set("port", "http2").expect_err("bad port");
    assert!(
        matches!(&e, EditError::Invalid { diagnostic, .. } if diagnostic.code == Code::BadArgument),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "virtual web: port: 1:13: error[E009]: unknown service name `http2` for `port`: write the port number"
    );
    assert!(
        matches!(web.set("timeout", "0"), Err(EditError::Invalid { diagnostic, .. }) if diagnostic.code == Code::ZeroTimeout)
    );
    assert!(
        matches!(web.set("bogus", "1"), Err(EditError::Invalid { diagnostic, .. }) if diagnostic.code == Code::UnknownKeyword)
    );
    assert!(
        matches!(web.set("address", "1.2.3.4"), Err(EditError::Invalid { diagnostic, .. }) if diagnostic.code == Code::MissingArguments)
    );
    assert!(matches!(
        web.set("send", "a\nb"),
        Err(EditError::Unrepresentable { .. })
    ));
    assert!(matches!(
        web.set("send", "'\" x"),
        Err(EditError::Unrepresentable { .. })
    ));
    assert!(matches!(
        doc.globals_mut().set("primary", "0.0.0.0"),
        Err(EditError::Invalid { .. })
    ));
    assert!(matches!(
        doc.add_virtual("web"),
        Err(EditError::Duplicate { .. })
    ));
    assert_eq!(doc.to_string(), GUI);
}

#[test]
fn remove_keys() {
    let out = given(GUI, |d| {
        assert!(d.globals_mut().remove("serial_no"));
        assert!(!d.globals_mut().remove("keepalive"));
        Ok(())
    });
    assert_eq!(out, GUI.replace("serial_no = 3\n", ""));
}

#[test]
fn add_remove_rename_blocks() {
    let out = given(GUI, |d| {
        let mut v = d.add_virtual("ftp")?;
        v.set("port", "21")?;
        v.add_server("a")?.set("address", "10.0.0.9")?;
        d.add_failover("f")?.set("active", "0")
    });
    assert_eq!(
        out,
        format!(
            "{GUI}virtual ftp {{\n     port = 21\n     server a {{\n         address = 10.0.0.9\n     }}\n}}\nfailover f {{\n     active = 0\n}}\n"
        )
    );
    let out = given(GUI, |d| {
        assert!(d.remove_virtual("web"));
        assert!(!d.remove_virtual("web"));
        Ok(())
    });
    assert_eq!(
        out,
        "serial_no = 3\nprimary = 192.168.1.10\nservice = lvs\n"
    );
    let out = given(GUI, |d| d.virtual_mut("web").expect("web").rename("my web"));
    assert_eq!(out, GUI.replace("virtual web {", "virtual \"my web\" {"));
}

#[test]
fn add_and_remove_servers() {
    let out = given(GUI, |d| {
        let mut web = d.virtual_mut("web").expect("web");
        web.add_server("two")?.set("weight", "2")?;
        assert!(web.remove_server("one"));
        Ok(())
    });
    assert_eq!(
        out,
        "serial_no = 3\nprimary = 192.168.1.10\nservice = lvs\nvirtual web {\n     active = 1\n     port = 80   # web\n     server two {\n         weight = 2\n     }\n}\n"
    );
    // New servers copy the indentation of the existing ones.
    let tabs = "virtual v {\n\tserver a {\n\t\tweight = 1\n\t}\n}\n";
    let out = given(tabs, |d| {
        d.virtual_mut("v")
            .expect("v")
            .add_server("b")?
            .set("weight", "2")
    });
    assert_eq!(
        out,
        "virtual v {\n\tserver a {\n\t\tweight = 1\n\t}\n\tserver b {\n\t\tweight = 2\n\t}\n}\n"
    );
}

#[test]
fn line_ends_are_kept() {
    let crlf = "keepalive = 6\r\nvirtual v {\r\n}";
    let out = given(crlf, |d| d.globals_mut().set("deadtime", "18"));
    assert_eq!(out, "keepalive = 6\r\ndeadtime = 18\r\nvirtual v {\r\n}");
    let out = given(crlf, |d| d.add_virtual("w").map(|_| ()));
    assert_eq!(out, "keepalive = 6\r\nvirtual v {\r\n}\r\nvirtual w {\r\n}");
}

#[test]
fn empty_document_grows_in_gui_layout() {
    let out = given("# new\n", |d| {
        d.globals_mut().set("primary", "10.0.0.1")?;
        let mut v = d.add_virtual("web")?;
        v.set("active", "1")?;
        v.add_server("s")?.set("active", "1")
    });
    assert_eq!(
        out,
        "primary = 10.0.0.1\n# new\nvirtual web {\n     active = 1\n     server s {\n         active = 1\n     }\n}\n"
    );
}

#[test]
fn reads_values_as_written() {
    let mut doc = Document::parse(GUI).expect("parses");
    assert_eq!(doc.global("serial_no"), Some(vec!["3"]));
    let web = doc.virtual_mut("web").expect("web");
    assert_eq!(web.get("port"), Some(vec!["80"]));
    assert_eq!(web.name(), Some("web"));
    assert_eq!(doc.block_names(lvscf::Scope::Virtual), ["web"]);
}
