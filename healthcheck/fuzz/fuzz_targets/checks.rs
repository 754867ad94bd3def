//! What the fuzz targets assert, shared with the replay of their kept corpora
//! (`fuzz/seeds/TARGET/`) by the test command (`tests/fuzz_corpus.rs`).

pub mod reply {
    //! Fuzz everything that reads a real server's bytes: the HTTP response reader (head, framing,
    //! chunked bodies, keep-alive), the send/expect matcher fed in arbitrary pieces, the load
    //! average parser, and the ICMP echo reply reader. Run with `RUSTC_BOOTSTRAP=1 cargo fuzz run reply`.

    use healthcheck::{Expect, Progress, fuzzing, parse_load};

    /// The target's checks on one input.
    pub fn check(data: &[u8]) {
        let _ = fuzzing::http_response(data);
        let _ = fuzzing::echo_reply(false, data);
        let _ = fuzzing::echo_reply(true, data);
        if let Ok(text) = std::str::from_utf8(data) {
            let _ = parse_load(text);
        }
        // The matcher: the first byte splits the rest into needle and reply, the reply is fed in
        // pieces of a size given by the second byte.
        if data.len() > 2 {
            let split = (data[0] as usize).min(data.len() - 2) + 2;
            let needle = data[2..split].to_vec();
            let reply = &data[split..];
            let piece = usize::from(data[1]).max(1);
            for expect in [
                Expect::nanny(needle.clone()),
                Expect::FirstReadPrefix(needle.clone()),
                Expect::Exact(needle.clone()),
            ] {
                let mut m = expect.matcher(64);
                for chunk in reply.chunks(piece) {
                    if m.feed(chunk) != Progress::NeedMore {
                        break;
                    }
                }
                let _ = m.finish();
            }
        }
    }
}
