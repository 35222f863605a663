//! Latency percentiles from raw samples (every sample is kept: the largest run has a few
//! hundred thousand, which sorts in milliseconds).

use serde::Serialize;

use crate::procfs::round;

/// Percentiles of one set of latency samples, in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    /// Number of samples.
    pub count: usize,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest sample.
    pub max_ms: f64,
    /// Arithmetic mean.
    pub mean_ms: f64,
}

impl Latency {
    /// Summarises samples given in nanoseconds (nearest-rank percentiles).
    pub fn from_nanos(mut samples: Vec<u64>) -> Latency {
        if samples.is_empty() {
            return Latency::default();
        }
        samples.sort_unstable();
        let n = samples.len();
        let rank = |p: f64| {
            let index = ((p / 100.0) * n as f64).ceil() as usize;
            samples[index.clamp(1, n) - 1]
        };
        let ms = |nanos: u64| round(nanos as f64 / 1e6, 3);
        let sum: u128 = samples.iter().map(|&s| u128::from(s)).sum();
        Latency {
            count: n,
            p50_ms: ms(rank(50.0)),
            p95_ms: ms(rank(95.0)),
            p99_ms: ms(rank(99.0)),
            max_ms: ms(samples[n - 1]),
            mean_ms: round(sum as f64 / n as f64 / 1e6, 3),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let l = Latency::from_nanos((1..=100).map(|i| i * 1_000_000).collect());
        assert_eq!(l.count, 100);
        assert_eq!(l.p50_ms, 50.0);
        assert_eq!(l.p95_ms, 95.0);
        assert_eq!(l.p99_ms, 99.0);
        assert_eq!(l.max_ms, 100.0);
        assert_eq!(Latency::from_nanos(vec![]).count, 0);
    }
}
