//! What the fuzz targets assert, shared with the replay of their kept corpora
//! (`fuzz/seeds/TARGET/`) by the test command (`tests/fuzz_corpus.rs`).

pub mod decode {
    //! Fuzz the decoder: any datagram must decode to messages or an error, and decoded messages must
    //! convert to the typed model or an error, never a panic. Run with `cargo +nightly fuzz run decode`.

    use ipvs::codec;
    use ipvs::model::{Daemon, DestinationEntry, Family, Info, ServiceEntry, Timeouts};

    /// The target's checks on one input.
    pub fn check(data: &[u8]) {
        if let Ok(msgs) = codec::decode_datagram(data) {
            for m in &msgs {
                if let Some(inner) = codec::inner(m) {
                    if let Some(s) = inner.service() {
                        let _ = ServiceEntry::from_attrs(s);
                    }
                    if let Some(d) = inner.dest() {
                        let _ = DestinationEntry::from_attrs(d, Family::Inet);
                        let _ = DestinationEntry::from_attrs(d, Family::Inet6);
                    }
                    if let Some(d) = inner.daemon() {
                        let _ = Daemon::from_attrs(d);
                    }
                    let _ = Info::from_attrs(&inner.attrs);
                    let _ = Timeouts::from_attrs(&inner.attrs);
                    // Re-encoding what was decoded must not panic either.
                    let _ = codec::encode_request(inner, 0x1c, 0, 1);
                }
            }
        }
    }
}
