//! What the fuzz targets assert, shared with the replay of their kept corpora
//! (`fuzz/seeds/TARGET/`) by the test command (`tests/fuzz_corpus.rs`).

pub mod parse {
    //! Any bytes: parsing never panics; a document that parses prints back the same bytes, its
    //! canonical layout parses to the same model, and its model written out parses back equal.

    /// The target's checks on one input.
    pub fn check(data: &[u8]) {
        let Ok(doc) = lvscf::Document::parse_bytes(data) else {
            return;
        };
        assert_eq!(doc.to_string().as_bytes(), data);
        let canonical = doc.to_canonical_string();
        let again = lvscf::Document::parse(&canonical).expect("canonical layout parses");
        assert_eq!(again.config(), doc.config());
        if let Ok(text) = doc.config().to_lvs_cf() {
            assert_eq!(
                &lvscf::parse_config(&text).expect("written model parses"),
                doc.config()
            );
        }
    }
}
