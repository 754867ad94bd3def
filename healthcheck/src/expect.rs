//! What a reply must contain: the matcher shared by the stream, HTTP-body and program probes.

use std::fmt;

use memchr::memmem;
use regex::bytes::Regex;

/// What a probe expects to read back.
///
/// Stream probes (TCP, UDP) read until the expectation is met, the peer closes, the byte limit
/// is reached or the read timeout fires, and then decide.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Expect {
    /// nanny's `expect = "*"`: at least one byte, whatever it is.
    Any,
    /// The bytes appear anywhere in what was read (the default).
    Substring(Vec<u8>),
    /// The unanchored regular expression matches what was read.
    Regex(Regex),
    /// Piranha's behaviour, kept as an explicit compatibility option: one single read of at most
    /// `len` bytes, which must start with the bytes.
    FirstReadPrefix(Vec<u8>),
    /// Everything read equals the bytes (a program's output, without its trailing newline).
    Exact(Vec<u8>),
}

/// Equal when they expect the same thing: regular expressions compare by their pattern.
impl PartialEq for Expect {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Expect::Any, Expect::Any) => true,
            (Expect::Substring(a), Expect::Substring(b))
            | (Expect::FirstReadPrefix(a), Expect::FirstReadPrefix(b))
            | (Expect::Exact(a), Expect::Exact(b)) => a == b,
            (Expect::Regex(a), Expect::Regex(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

impl Eq for Expect {}

impl Expect {
    /// nanny's reading of an expect string (already escape-decoded): `*` is [`Expect::Any`],
    /// anything else a substring.
    pub fn nanny(expect: Vec<u8>) -> Self {
        if expect == b"*" {
            Expect::Any
        } else {
            Expect::Substring(expect)
        }
    }

    /// Compiles `pattern` as an unanchored regular expression over bytes.
    pub fn regex(pattern: &str) -> Result<Self, regex::Error> {
        Regex::new(pattern).map(Expect::Regex)
    }

    /// Starts matching a new reply, keeping at most `limit` bytes of it.
    pub fn matcher(&self, limit: usize) -> Matcher<'_> {
        Matcher {
            expect: self,
            seen: Vec::new(),
            limit,
            reads: 0,
            searched: 0,
        }
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Any => f.write_str("any byte"),
            Expect::Substring(b) => write!(f, "{:?}", Snippet(b)),
            Expect::Regex(r) => write!(f, "/{}/", r.as_str()),
            Expect::FirstReadPrefix(b) => write!(f, "{:?} at the start", Snippet(b)),
            Expect::Exact(b) => write!(f, "exactly {:?}", Snippet(b)),
        }
    }
}

/// Where a [`Matcher`] stands after the bytes it was fed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The expectation is met; stop reading.
    Matched,
    /// Not yet decided; read more.
    NeedMore,
    /// It can no longer be met (byte limit reached, or the first read was wrong).
    Failed,
}

/// Incremental matching of one reply against an [`Expect`]; memory is bounded by its limit.
#[derive(Debug)]
pub struct Matcher<'a> {
    expect: &'a Expect,
    seen: Vec<u8>,
    limit: usize,
    reads: usize,
    /// How much of `seen` a substring search has already covered.
    searched: usize,
}

impl Matcher<'_> {
    /// Feeds the next bytes read.
    pub fn feed(&mut self, data: &[u8]) -> Progress {
        self.reads += 1;
        let room = self.limit.saturating_sub(self.seen.len());
        let full = data.len() >= room;
        self.seen.extend_from_slice(&data[..data.len().min(room)]);
        match self.expect {
            Expect::Any => {
                if self.seen.is_empty() {
                    Progress::NeedMore
                } else {
                    Progress::Matched
                }
            }
            Expect::Substring(needle) => {
                let start = self.searched.saturating_sub(needle.len().saturating_sub(1));
                if memmem::find(&self.seen[start..], needle).is_some() {
                    return Progress::Matched;
                }
                self.searched = self.seen.len();
                if full {
                    Progress::Failed
                } else {
                    Progress::NeedMore
                }
            }
            Expect::Regex(re) => {
                if re.is_match(&self.seen) {
                    Progress::Matched
                } else if full {
                    Progress::Failed
                } else {
                    Progress::NeedMore
                }
            }
            Expect::FirstReadPrefix(prefix) => {
                if self.seen.starts_with(prefix) {
                    Progress::Matched
                } else {
                    Progress::Failed
                }
            }
            Expect::Exact(want) => {
                if self.seen.len() > want.len() || !want.starts_with(&self.seen) {
                    Progress::Failed
                } else {
                    Progress::NeedMore
                }
            }
        }
    }

    /// The peer closed (or the output ended): the final verdict.
    pub fn finish(&self) -> bool {
        match self.expect {
            Expect::Exact(want) => self.seen == *want,
            Expect::Regex(re) => re.is_match(&self.seen),
            Expect::Substring(needle) => memmem::find(&self.seen, needle).is_some(),
            Expect::Any => !self.seen.is_empty(),
            Expect::FirstReadPrefix(prefix) => self.seen.starts_with(prefix),
        }
    }

    /// How many bytes a read may return for this expectation: Piranha's compatibility mode reads
    /// at most the prefix's length, once.
    pub fn read_size(&self, buffer: usize) -> usize {
        match self.expect {
            Expect::FirstReadPrefix(prefix) => prefix.len().clamp(1, buffer),
            _ => buffer,
        }
    }

    /// The bytes kept so far.
    pub fn seen(&self) -> &[u8] {
        &self.seen
    }

    /// Drops a trailing `\n` (and a `\r` before it) from what was kept; used for program output.
    pub fn trim_newline(&mut self) {
        if self.seen.last() == Some(&b'\n') {
            self.seen.pop();
            if self.seen.last() == Some(&b'\r') {
                self.seen.pop();
            }
        }
    }
}

/// Up to 64 bytes of a reply, escaped for an error message.
#[derive(Clone, PartialEq, Eq)]
pub struct Snippet<'a>(pub &'a [u8]);

impl fmt::Debug for Snippet<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 64;
        let shown = &self.0[..self.0.len().min(MAX)];
        f.write_str("\"")?;
        for chunk in shown.utf8_chunks() {
            for c in chunk.valid().chars() {
                write!(f, "{}", c.escape_debug())?;
            }
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        f.write_str("\"")?;
        if self.0.len() > MAX {
            write!(f, "…(+{} bytes)", self.0.len() - MAX)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(expect: &Expect, chunks: &[&[u8]], limit: usize) -> bool {
        let mut m = expect.matcher(limit);
        for c in chunks {
            match m.feed(c) {
                Progress::Matched => return true,
                Progress::Failed => return false,
                Progress::NeedMore => {}
            }
        }
        m.finish()
    }

    #[test]
    fn substring_across_reads() {
        let e = Expect::Substring(b"200 OK".to_vec());
        assert!(run(&e, &[b"HTTP/1.1 20", b"0 O", b"K\r\n"], 1024));
        assert!(!run(&e, &[b"HTTP/1.1 500 Oops"], 1024));
    }

    #[test]
    fn substring_stops_at_the_limit() {
        let e = Expect::Substring(b"needle".to_vec());
        let mut m = e.matcher(8);
        assert_eq!(m.feed(b"0123456"), Progress::NeedMore);
        assert_eq!(m.feed(b"7needle"), Progress::Failed);
        assert_eq!(m.seen().len(), 8);
    }

    #[test]
    fn any_needs_a_byte() {
        assert!(run(&Expect::Any, &[b"x"], 16));
        assert!(!run(&Expect::Any, &[], 16));
    }

    #[test]
    fn first_read_prefix_is_piranha() {
        let e = Expect::FirstReadPrefix(b"HTTP".to_vec());
        assert!(run(&e, &[b"HTTP/1.0 200"], 16));
        assert!(!run(&e, &[b"HT", b"TP"], 16));
        assert!(!run(
            &Expect::FirstReadPrefix(b"200 OK".to_vec()),
            &[b"HTTP/1.1 200 OK"],
            64
        ));
    }

    #[test]
    fn exact_and_regex() {
        let e = Expect::Exact(b"up".to_vec());
        assert!(run(&e, &[b"u", b"p"], 16));
        assert!(!run(&e, &[b"upx"], 16));
        assert!(!run(&e, &[b"u"], 16));
        let r = Expect::regex("load: [0-9]+").unwrap();
        assert!(run(&r, &[b"x load: ", b"12"], 64));
    }

    proptest::proptest! {
        /// However the reply is split into reads, a substring is found iff it is in the kept bytes.
        #[test]
        fn substring_independent_of_splits(
            hay in proptest::collection::vec(0u8..4, 0..64),
            needle in proptest::collection::vec(0u8..4, 1..4),
            cuts in proptest::collection::vec(0usize..64, 0..8),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().filter(|c| *c <= hay.len()).collect();
            cuts.sort_unstable();
            let mut chunks = Vec::new();
            let mut last = 0;
            for c in cuts { chunks.push(&hay[last..c]); last = c; }
            chunks.push(&hay[last..]);
            let e = Expect::Substring(needle.clone());
            let want = memmem::find(&hay, &needle).is_some();
            proptest::prop_assert_eq!(run(&e, &chunks, 1024), want);
        }
    }
}
