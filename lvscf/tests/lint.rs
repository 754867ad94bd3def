//! The director-level warnings of a configuration that parses (`Config::lint`, `Document::lint`).

use lvscf::{Code, Document, Place};

#[test]
fn each_mistake_has_its_code_and_its_place() {
    let text = "primary = 10.0.0.9\nbackup_active = 1\nbackup = 0.0.0.0\nnetwork = nat\nvirtual A {\n     active = 1\n     address = 10.0.0.1 eth0\n     pmask = 255.255.255.0\n     server a {\n         address = 10.0.1.1\n         active = 1\n     }\n     server b {\n         address = 10.0.1.1\n         active = 1\n     }\n}\nvirtual EMPTY {\n     active = 1\n     address = 10.0.0.2 eth0\n}\n";
    let doc = Document::parse(text).expect("parses");
    let found: Vec<(Code, u32, u32)> = doc
        .lint()
        .iter()
        .map(|d| (d.code, d.line, d.column))
        .collect();
    assert_eq!(
        found,
        [
            (Code::BackupWithoutAddress, 2, 17),
            (Code::NatWithoutRouter, 4, 11),
            (Code::PmaskWithoutPersistence, 8, 14),
            (Code::DuplicateRealServer, 14, 20),
            (Code::NoRealServer, 18, 9),
        ]
    );
    assert_eq!(
        doc.config().lint()[3].place,
        Place::server("A", "b", Some("address"))
    );
}

#[test]
fn a_sound_configuration_has_none() {
    let text = "primary = 10.0.0.9\nnetwork = direct\nvirtual A {\n     active = 1\n     address = 10.0.0.1 eth0\n     server a {\n         address = 10.0.1.1\n         active = 1\n     }\n}\n";
    assert_eq!(Document::parse(text).expect("parses").lint(), []);
}
