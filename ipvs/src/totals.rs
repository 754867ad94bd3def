//! The node-wide IPVS counters, which no netlink command gives: every connection, packet and
//! byte the node's IPVS handled (in the reader's network namespace), those of services removed
//! since included. The kernel prints them in `/proc/net/ip_vs_stats`, in hexadecimal:
//!
//! ```text
//!    Total Incoming Outgoing         Incoming         Outgoing
//!    Conns  Packets  Packets            Bytes            Bytes
//!       1A      1F4       C8             9C40             4E20
//!
//!  Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s
//!        1        2        3                4                5
//! ```

use crate::model::Stats;

/// Where the kernel prints them.
pub const PATH: &str = "/proc/net/ip_vs_stats";

/// The counters and rates of the file's text; `None` when it is not that file.
///
/// ```
/// let text = "   Total Incoming Outgoing         Incoming         Outgoing\n   Conns  Packets  Packets            Bytes            Bytes\n      1A      1F4       C8             9C40             4E20\n\n Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s\n       1        2        3                4                5\n";
/// let s = ipvs::totals::parse(text).unwrap();
/// assert_eq!((s.conns, s.in_pkts, s.out_pkts, s.in_bytes, s.out_bytes), (26, 500, 200, 40000, 20000));
/// assert_eq!((s.cps, s.out_bps), (1, 5));
/// assert!(ipvs::totals::parse("no such thing").is_none());
/// ```
pub fn parse(text: &str) -> Option<Stats> {
    let mut rows = text.lines().filter_map(|line| {
        let fields: Vec<u64> = (line.split_whitespace())
            .map(|f| u64::from_str_radix(f, 16))
            .collect::<Result<_, _>>()
            .ok()?;
        <[u64; 5]>::try_from(fields).ok()
    });
    let [conns, in_pkts, out_pkts, in_bytes, out_bytes] = rows.next()?;
    let [cps, in_pps, out_pps, in_bps, out_bps] = rows.next()?;
    Some(Stats {
        conns,
        in_pkts,
        out_pkts,
        in_bytes,
        out_bytes,
        cps,
        in_pps,
        out_pps,
        in_bps,
        out_bps,
    })
}

/// Reads [`PATH`]: `None` when IPVS is not loaded or the file is not as expected.
pub fn read() -> Option<Stats> {
    parse(&std::fs::read_to_string(PATH).ok()?)
}
