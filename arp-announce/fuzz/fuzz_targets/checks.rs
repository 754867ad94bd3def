//! What the fuzz targets assert, shared with the replay of their kept corpora
//! (`fuzz/seeds/TARGET/`) by the test command (`tests/fuzz_corpus.rs`).

pub mod conflict {
    //! Fuzz the reading of received frames for RFC 5227 conflicts: any bytes give an answer, never
    //! a panic; our own MAC is never a conflict. Run with `RUSTC_BOOTSTRAP=1 cargo fuzz run conflict`.

    use arp_announce::{MacAddr, conflict};

    /// The target's checks on one input.
    pub fn check(data: &[u8]) {
        let Some((head, frame)) = data.split_first_chunk::<10>() else {
            return;
        };
        let ours = MacAddr::new(head[0], head[1], head[2], head[3], head[4], head[5]);
        let address = [head[6], head[7], head[8], head[9]].into();
        if let Some(mac) = conflict(frame, address, ours) {
            assert_ne!(mac, ours);
        }
    }
}
