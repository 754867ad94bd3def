//! Medians and worst cases of measured durations, and how they are printed.

use std::time::Duration;

/// The spread of a set of samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// How many samples.
    pub n: usize,
    /// The median (the mean of the two middle ones for an even count).
    pub median: Duration,
    /// The smallest.
    pub best: Duration,
    /// The largest.
    pub worst: Duration,
}

/// The summary of `samples`, `None` when there are none.
///
/// ```
/// use std::time::Duration;
/// let s = lvs_benches::stats::summarize(&[3, 1, 2, 10].map(Duration::from_secs)).unwrap();
/// assert_eq!(s.median, Duration::from_millis(2500));
/// assert_eq!((s.best, s.worst), (Duration::from_secs(1), Duration::from_secs(10)));
/// ```
pub fn summarize(samples: &[Duration]) -> Option<Summary> {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let n = sorted.len();
    let (best, worst) = (*sorted.first()?, *sorted.last()?);
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    };
    Some(Summary {
        n,
        median,
        best,
        worst,
    })
}

/// `d` in seconds with three decimals: `1.234 s`.
pub fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// `d` in milliseconds, no decimals: `1234 ms`.
pub fn millis(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

/// The samples in order, in milliseconds, for the raw data under a table.
pub fn all_millis(samples: &[Duration]) -> String {
    samples
        .iter()
        .map(|d| d.as_millis().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `p`-th percentile of `samples` (nearest rank: the smallest sample with at least `p`%
/// of them at or below it), `None` when there are none.
///
/// ```
/// use std::time::Duration;
/// let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
/// assert_eq!(lvs_benches::stats::percentile(&samples, 99.0), Some(Duration::from_millis(99)));
/// assert_eq!(lvs_benches::stats::percentile(&samples, 50.0), Some(Duration::from_millis(50)));
/// assert_eq!(lvs_benches::stats::percentile(&[], 50.0), None);
/// ```
pub fn percentile(samples: &[Duration], p: f64) -> Option<Duration> {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied()
}
