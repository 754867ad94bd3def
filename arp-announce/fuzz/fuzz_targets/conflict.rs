//! Fuzz the reading of received frames for RFC 5227 conflicts: any bytes give an answer, never
//! a panic; our own MAC is never a conflict. Run with `RUSTC_BOOTSTRAP=1 cargo fuzz run conflict`.
#![no_main]

use arp_announce::{MacAddr, conflict};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((head, frame)) = data.split_first_chunk::<10>() else {
        return;
    };
    let ours = MacAddr::new(head[0], head[1], head[2], head[3], head[4], head[5]);
    let address = [head[6], head[7], head[8], head[9]].into();
    if let Some(mac) = conflict(frame, address, ours) {
        assert_ne!(mac, ours);
    }
});
