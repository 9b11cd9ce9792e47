//! A series of observations (response times, request rates) with the statistics mite's report
//! takes from Python's `statistics` module, to the same digits: `fmean`, sample `stdev`
//! (Python 3.11+, correctly rounded) and `quantiles(data, n=100)` (exclusive method).
//!
//! Count, extremes and exact sums are kept as running state, so mean and standard deviation
//! need no stored samples; percentiles and the share of samples within one standard deviation
//! do, so a series keeps its samples only when asked to, in a [`SampleStore`]: exact for a
//! short run, an HDR histogram (0.1 %) in bounded memory for a long one.

use std::cmp::Ordering;

use super::exact_sum::{two_product, ExactSum};
use super::sample_store::SampleStore;

/// Observations with running exact sums, and optionally the observations themselves.
#[derive(Clone, Debug)]
pub(crate) struct Series {
    count: u64,
    min: f64,
    max: f64,
    sum: ExactSum,
    /// Σx², each square added exactly as `hi + lo`.
    sum_sq: ExactSum,
    samples: Option<SampleStore>,
}

impl Series {
    pub(crate) fn new(keep_samples: bool) -> Self {
        Series {
            count: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sum: ExactSum::new(),
            sum_sq: ExactSum::new(),
            samples: keep_samples.then(SampleStore::new),
        }
    }

    pub(crate) fn push(&mut self, x: f64) {
        self.count += 1;
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        self.sum.add(x);
        let (hi, lo) = two_product(x, x);
        self.sum_sq.add(hi);
        self.sum_sq.add(lo);
        if let Some(samples) = &mut self.samples {
            samples.push(x);
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.count
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub(crate) fn min(&self) -> Option<f64> {
        (!self.is_empty()).then_some(self.min)
    }

    pub(crate) fn max(&self) -> Option<f64> {
        (!self.is_empty()).then_some(self.max)
    }

    /// Whether this series keeps its observations (for percentiles).
    #[cfg(test)]
    pub(crate) fn keeps_samples(&self) -> bool {
        self.samples.is_some()
    }

    /// `statistics.fmean`: the exactly rounded sum divided by the count.
    pub(crate) fn mean(&self) -> Option<f64> {
        (!self.is_empty()).then(|| self.sum.value() / self.count as f64)
    }

    /// `statistics.stdev`: the sample standard deviation, correctly rounded as Python 3.11+
    /// computes it (exact sum of squared deviations, correctly rounded square root). `None`
    /// below two observations, where Python raises.
    pub(crate) fn stdev(&self) -> Option<f64> {
        if self.count < 2 {
            return None;
        }
        if !self.sum.is_finite() || !self.sum_sq.is_finite() {
            return Some(f64::NAN);
        }
        let n = self.count as f64;
        // The sample variance is A / B with A = n·Σx² − (Σx)² and B = n(n − 1), both exact.
        let mut a = ExactSum::new();
        for &p in self.sum_sq.partials() {
            let (hi, lo) = two_product(p, n);
            a.add(hi);
            a.add(lo);
        }
        for &p in self.sum.partials() {
            for &q in self.sum.partials() {
                let (hi, lo) = two_product(p, q);
                a.add(-hi);
                a.add(-lo);
            }
        }
        let b = two_product(n, n - 1.0);
        Some(correctly_rounded_sqrt_of_ratio(&a, b))
    }

    /// Percentage of samples strictly within one standard deviation of the mean, as mite's
    /// `resp_time_within_standard_deviation`. Needs stored samples and two observations.
    pub(crate) fn percent_within_one_stdev(&self) -> Option<f64> {
        let samples = self.samples.as_ref()?;
        let mean = self.mean()?;
        let stdev = self.stdev()?;
        let within = samples.count_between(mean - stdev, mean + stdev);
        Some(within as f64 / samples.len() as f64 * 100.0)
    }

    /// `statistics.quantiles(samples, n=100)`: 99 cut points, element `p - 1` being the p-th
    /// percentile. Needs stored samples and at least one.
    pub(crate) fn percentiles(&self) -> Option<Vec<f64>> {
        self.samples.as_ref()?.percentiles()
    }
}

/// The `f64` nearest to `sqrt(A / B)` (ties to even), for `A` an exact sum and `B = hi + lo`.
fn correctly_rounded_sqrt_of_ratio(a: &ExactSum, b: (f64, f64)) -> f64 {
    if a.signum() != Ordering::Greater {
        return 0.0;
    }
    let estimate = (a.value() / (b.0 + b.1)).sqrt();
    if !estimate.is_normal() {
        return estimate;
    }
    // Sign of m²·B − A for the midpoint m between `r` and the next float up: Greater means
    // the true root lies below m.
    let above_midpoint = |r: f64| -> Ordering {
        let half_ulp = (next_up(r) - r) / 2.0;
        let (r2_hi, r2_lo) = two_product(r, r);
        // m² = r² + 2·r·h + h², every term exact (h is a power of two).
        let square = [r2_hi, r2_lo, r * (2.0 * half_ulp), half_ulp * half_ulp];
        let mut diff = ExactSum::new();
        for &t in &square {
            for &bt in &[b.0, b.1] {
                let (hi, lo) = two_product(t, bt);
                diff.add(hi);
                diff.add(lo);
            }
        }
        for &p in a.partials() {
            diff.add(-p);
        }
        diff.signum()
    };
    let mut r = estimate;
    // The estimate is within a few units in the last place: step to the right neighbour.
    while r > 0.0 && above_midpoint(next_down(r)) == Ordering::Greater {
        r = next_down(r);
    }
    while above_midpoint(r) == Ordering::Less {
        r = next_up(r);
    }
    let odd = |x: f64| x.to_bits() & 1 == 1;
    if above_midpoint(r) == Ordering::Equal && odd(r) {
        r = next_up(r);
    } else if r > 0.0 && above_midpoint(next_down(r)) == Ordering::Equal && odd(r) {
        r = next_down(r);
    }
    r
}

/// The next float above a positive finite `x`.
fn next_up(x: f64) -> f64 {
    f64::from_bits(x.to_bits() + 1)
}

/// The next float below a positive finite `x`.
fn next_down(x: f64) -> f64 {
    f64::from_bits(x.to_bits() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(values: &[f64]) -> Series {
        let mut s = Series::new(true);
        for &v in values {
            s.push(v);
        }
        s
    }

    #[test]
    fn empty_and_single_series_have_no_spread() {
        let empty = series(&[]);
        assert_eq!((empty.min(), empty.max(), empty.mean()), (None, None, None));
        assert_eq!(empty.stdev(), None);
        assert_eq!(empty.percentiles(), None);
        let one = series(&[0.25]);
        assert_eq!(one.mean(), Some(0.25));
        assert_eq!(one.stdev(), None);
        assert_eq!(one.percent_within_one_stdev(), None);
        assert_eq!(one.percentiles(), Some(vec![0.25; 99]));
    }

    #[test]
    fn mean_is_fmean() {
        // statistics.fmean([0.1] * 10) == 0.1; fmean([0.1, 0.2, 0.4]) == 0.23333333333333336
        assert_eq!(series(&[0.1; 10]).mean(), Some(0.1));
        assert_eq!(series(&[0.1, 0.2, 0.4]).mean(), Some(0.23333333333333336));
    }

    #[test]
    fn stdev_matches_python_statistics() {
        // Values from CPython 3.11 `statistics.stdev`.
        let cases: &[(&[f64], f64)] = &[
            (&[1.5, 2.5, 2.5, 2.75, 3.25, 4.75], 1.0810874155219827),
            (&[0.1, 0.2, 0.4], 0.15275252316519466),
            (&[1.0, 1.0], 0.0),
            (&[1.0, 2.0], std::f64::consts::FRAC_1_SQRT_2),
            (
                &[0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1],
                0.030276503540974917,
            ),
            (&[1e9 + 0.1, 1e9 + 0.2, 1e9 + 0.3], 0.09999996423721906),
            (
                &[0.012, 0.0134, 0.0151, 0.3, 0.0112, 0.0109],
                0.11737350070039942,
            ),
        ];
        for &(data, expected) in cases {
            assert_eq!(series(data).stdev(), Some(expected), "stdev({data:?})");
        }
    }

    #[test]
    fn stdev_without_stored_samples_is_the_same() {
        let mut s = Series::new(false);
        for v in [1.5, 2.5, 2.5, 2.75, 3.25, 4.75] {
            s.push(v);
        }
        assert_eq!(s.stdev(), Some(1.0810874155219827));
        assert!(!s.keeps_samples());
        assert_eq!(s.percentiles(), None);
    }

    #[test]
    fn percentiles_use_the_exclusive_method() {
        // statistics.quantiles([i / 100 for i in range(1, 11)], n=100): elements 0, 49, 89, 98
        let data: Vec<f64> = (1..=10).map(|i| f64::from(i) / 100.0).collect();
        let q = series(&data).percentiles().unwrap();
        assert_eq!(q.len(), 99);
        assert_eq!(q[0], 0.001100000000000001);
        assert_eq!(q[49], 0.055);
        assert_eq!(q[89], 0.099);
        assert_eq!(q[98], 0.10890000000000002);
        // quantiles([3.0, 1.0], n=100)[0] == -0.94 (extrapolated below the minimum)
        assert_eq!(series(&[3.0, 1.0]).percentiles().unwrap()[0], -0.94);
    }

    #[test]
    fn percent_within_one_stdev_counts_strictly_inside() {
        // mite example: [0.01 .. 0.1] has 60% within mean ± stdev
        let data: Vec<f64> = (1..=10).map(|i| f64::from(i) / 100.0).collect();
        assert_eq!(series(&data).percent_within_one_stdev(), Some(60.0));
    }
}
