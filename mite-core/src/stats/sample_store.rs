//! The observations a report needs for percentiles, in bounded memory: kept exactly up to
//! [`EXACT_LIMIT`] values (so a short run's report matches Python's `statistics` to the
//! digit), then folded into an HDR histogram with three significant digits (every value within
//! 0.1 %), whose size does not grow however long the run.

use hdrhistogram::Histogram;

/// Values kept exactly before the store becomes a histogram (800 KB of `f64`s).
pub(crate) const EXACT_LIMIT: usize = 100_000;

/// Histogram units per unit of the observations: seconds are stored as nanoseconds.
const SCALE: f64 = 1e9;

#[derive(Clone, Debug)]
pub(crate) enum SampleStore {
    Exact(Vec<f64>),
    Histogram(Box<Histogram<u64>>),
}

impl SampleStore {
    pub(crate) fn new() -> Self {
        SampleStore::Exact(Vec::new())
    }

    pub(crate) fn push(&mut self, x: f64) {
        match self {
            SampleStore::Exact(values) if values.len() < EXACT_LIMIT => values.push(x),
            SampleStore::Exact(values) => {
                let mut histogram = new_histogram();
                for &v in values.iter() {
                    record(&mut histogram, v);
                }
                record(&mut histogram, x);
                *self = SampleStore::Histogram(Box::new(histogram));
            }
            SampleStore::Histogram(histogram) => record(histogram, x),
        }
    }

    pub(crate) fn len(&self) -> u64 {
        match self {
            SampleStore::Exact(values) => values.len() as u64,
            SampleStore::Histogram(h) => h.len(),
        }
    }

    /// The values in ascending order, as `(value, how many)`; a histogram gives each bucket's
    /// middle value.
    fn ascending(&self) -> Vec<(f64, u64)> {
        match self {
            SampleStore::Exact(values) => {
                let mut sorted = values.clone();
                sorted.sort_by(f64::total_cmp);
                sorted.into_iter().map(|v| (v, 1)).collect()
            }
            SampleStore::Histogram(h) => h
                .iter_recorded()
                .map(|bucket| {
                    let middle = h.median_equivalent(bucket.value_iterated_to());
                    (middle as f64 / SCALE, bucket.count_since_last_iteration())
                })
                .collect(),
        }
    }

    /// The values at 1-based ranks `ranks` (ascending), one pass over the values.
    fn at_ranks(&self, ranks: &[u64]) -> Vec<f64> {
        let ascending = self.ascending();
        let mut out = Vec::with_capacity(ranks.len());
        let mut seen = 0u64;
        let mut buckets = ascending.iter();
        let mut current = None;
        for &rank in ranks {
            while seen < rank {
                match buckets.next() {
                    Some(&(value, count)) => {
                        seen += count;
                        current = Some(value);
                    }
                    None => break,
                }
            }
            out.push(current.unwrap_or(f64::NAN));
        }
        out
    }

    /// `statistics.quantiles(values, n=100)` (exclusive method): 99 cut points. Python 3.10-3.12
    /// raise for a single value; we follow 3.13, which repeats it.
    pub(crate) fn percentiles(&self) -> Option<Vec<f64>> {
        let len = self.len() as i64;
        if len == 0 {
            return None;
        }
        let n = 100i64;
        if len == 1 {
            return Some(vec![self.at_ranks(&[1])[0]; (n - 1) as usize]);
        }
        let m = len + 1;
        let cuts: Vec<(i64, i64)> = (1..n)
            .map(|i| {
                let j = (i * m / n).clamp(1, len - 1);
                (j, i * m - j * n)
            })
            .collect();
        let mut ranks: Vec<u64> = cuts
            .iter()
            .flat_map(|&(j, _)| [j as u64, j as u64 + 1])
            .collect();
        ranks.sort_unstable();
        ranks.dedup();
        let values = self.at_ranks(&ranks);
        let at = |rank: u64| values[ranks.binary_search(&rank).expect("asked for")];
        Some(
            cuts.iter()
                .map(|&(j, delta)| {
                    // May be negative or exceed n after clamping: the method extrapolates.
                    let (lo, hi) = (at(j as u64), at(j as u64 + 1));
                    (lo * (n - delta) as f64 + hi * delta as f64) / n as f64
                })
                .collect(),
        )
    }

    /// How many values lie strictly between `low` and `high`.
    pub(crate) fn count_between(&self, low: f64, high: f64) -> u64 {
        match self {
            SampleStore::Exact(values) => {
                values.iter().filter(|&&x| low < x && x < high).count() as u64
            }
            SampleStore::Histogram(_) => self
                .ascending()
                .into_iter()
                .filter(|&(x, _)| low < x && x < high)
                .map(|(_, count)| count)
                .sum(),
        }
    }
}

fn new_histogram() -> Histogram<u64> {
    // One nanosecond to an hour to start with; it grows if a value is larger.
    let mut h = Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid bounds");
    h.auto(true);
    h
}

fn record(h: &mut Histogram<u64>, x: f64) {
    // Negative and NaN times do not happen; stored as 0 rather than lost from the count.
    let units = if x.is_finite() && x > 0.0 {
        (x * SCALE).round().min(u64::MAX as f64 / 4.0) as u64
    } else {
        0
    };
    // With auto-resize on, recording cannot fail for values below u64::MAX / 2.
    let _ = h.record(units);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(values: impl IntoIterator<Item = f64>) -> SampleStore {
        let mut s = SampleStore::new();
        for v in values {
            s.push(v);
        }
        s
    }

    #[test]
    fn below_the_limit_percentiles_are_exact() {
        let s = filled((1..=1000).map(|i| f64::from(i) / 1000.0));
        assert!(matches!(s, SampleStore::Exact(_)));
        let p = s.percentiles().unwrap();
        // statistics.quantiles([i/1000 for i in range(1, 1001)], n=100)[49] == 0.5005
        assert!((p[49] - 0.5005).abs() < 1e-12);
        assert!((p[98] - 0.99099).abs() < 1e-12);
    }

    #[test]
    fn millions_of_values_take_the_same_memory_as_the_limit_and_stay_within_a_tenth_of_a_percent() {
        // 3 million response times spread uniformly over 1 ms .. 1 s.
        let n = 3_000_000u64;
        let value = |i: u64| 0.001 + 0.999 * (i as f64 / n as f64);
        let s = filled((0..n).map(value));
        let SampleStore::Histogram(h) = &s else {
            panic!("still exact")
        };
        let size = h.distinct_values();
        let more = filled((0..2 * n).map(|i| value(i / 2)));
        let SampleStore::Histogram(h2) = &more else {
            panic!()
        };
        assert_eq!(
            h2.distinct_values(),
            size,
            "the histogram does not grow with the count"
        );
        assert_eq!(s.len(), n);
        let p = s.percentiles().unwrap();
        for (k, got) in p.iter().enumerate() {
            let q = (k + 1) as f64 / 100.0;
            let exact = 0.001 + 0.999 * q;
            assert!(
                ((got - exact) / exact).abs() < 0.001,
                "p{}: {got} vs {exact}",
                k + 1
            );
        }
    }

    #[test]
    fn counting_between_bounds_works_on_both_forms() {
        let exact = filled([0.1, 0.2, 0.3]);
        assert_eq!(exact.count_between(0.1, 0.3), 1);
        let big = filled((0..EXACT_LIMIT as u64 + 10).map(|i| if i % 2 == 0 { 0.1 } else { 0.5 }));
        assert!(matches!(big, SampleStore::Histogram(_)));
        assert_eq!(big.count_between(0.05, 0.2), (EXACT_LIMIT as u64 + 10) / 2);
    }
}
