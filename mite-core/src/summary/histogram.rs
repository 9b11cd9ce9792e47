//! Latency distributions: [`RunHistogram`] for a whole run (an HDR histogram, 3 significant
//! digits) and [`SparseHistogram`] for one time bucket of the plots.
//!
//! A plot bucket keeps only the values it saw, quantized log-linearly to 128 steps per
//! power of two (±0.4 %), as sorted `(step, count)` pairs: a second of traffic usually lands
//! on a few hundred steps, where a dense HDR histogram would hold thousands of counters.
//! Two buckets merge exactly (at that resolution), which is what downsampling a long run
//! needs: the percentiles of a merged bucket are those of all its samples, not an average
//! of percentiles.

use hdrhistogram::Histogram;

/// Values are microseconds; this many low values are kept exactly.
const EXACT_BELOW: u64 = 256;
/// Steps per power of two above [`EXACT_BELOW`].
const STEPS: u64 = 128;

/// The quantization step of `us` microseconds.
fn step_of(us: u64) -> u16 {
    if us < EXACT_BELOW {
        return us as u16;
    }
    let shift = u64::from(64 - us.leading_zeros()) - 8;
    let mantissa = us >> shift;
    (EXACT_BELOW + (shift - 1) * STEPS + (mantissa - STEPS)) as u16
}

/// The middle of step `step`'s range, in microseconds.
fn value_of(step: u16) -> u64 {
    let step = u64::from(step);
    if step < EXACT_BELOW {
        return step;
    }
    let k = step - EXACT_BELOW;
    let shift = k / STEPS + 1;
    let mantissa = k % STEPS + STEPS;
    (mantissa << shift) + ((1 << shift) >> 1)
}

/// Seconds as whole microseconds (rounded), clamped to `[0, u64::MAX]`: a negative or NaN
/// duration from a skewed clock counts as 0 (what Rust's saturating `as` gives).
pub(crate) fn micros(seconds: f64) -> u64 {
    (seconds * 1e6 + 0.5) as u64
}

/// One bucket's latencies: sorted `(step, count)` pairs and the exact maximum.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct SparseHistogram {
    steps: Vec<(u16, u32)>,
    count: u64,
    max_us: u64,
}

impl SparseHistogram {
    pub(crate) fn record(&mut self, us: u64) {
        let step = step_of(us);
        match self.steps.binary_search_by_key(&step, |&(s, _)| s) {
            Ok(i) => self.steps[i].1 = self.steps[i].1.saturating_add(1),
            Err(i) => self.steps.insert(i, (step, 1)),
        }
        self.count += 1;
        self.max_us = self.max_us.max(us);
    }

    #[cfg(test)]
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    #[cfg(test)]
    pub(crate) fn max_us(&self) -> Option<u64> {
        (self.count > 0).then_some(self.max_us)
    }

    /// Adds `other`'s samples (a merge walk of the two sorted lists).
    pub(crate) fn merge(&mut self, other: &SparseHistogram) {
        if other.count == 0 {
            return;
        }
        let (a, b) = (&self.steps, &other.steps);
        let mut merged = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            let (x, y) = (a[i], b[j]);
            if x.0 == y.0 {
                merged.push((x.0, x.1.saturating_add(y.1)));
                i += 1;
                j += 1;
            } else if x.0 < y.0 {
                merged.push(x);
                i += 1;
            } else {
                merged.push(y);
                j += 1;
            }
        }
        merged.extend_from_slice(&a[i..]);
        merged.extend_from_slice(&b[j..]);
        self.steps = merged;
        self.count += other.count;
        self.max_us = self.max_us.max(other.max_us);
    }

    /// The nearest-rank quantile `q` (0 < q ≤ 1) in microseconds; the exact maximum for 1.
    pub(crate) fn quantile_us(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        if q >= 1.0 {
            return Some(self.max_us);
        }
        let rank = ((q * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for &(step, n) in &self.steps {
            seen += u64::from(n);
            if seen >= rank {
                return Some(value_of(step).min(self.max_us));
            }
        }
        Some(self.max_us)
    }
}

/// A whole run's latencies for one row of the summary: HDR counts, exact sum and maximum.
#[derive(Clone, Debug)]
pub(crate) struct RunHistogram {
    counts: Histogram<u64>,
    sum_us: u128,
    max_us: u64,
}

impl Default for RunHistogram {
    fn default() -> Self {
        RunHistogram {
            // 1 µs to one hour to start with; it grows for longer values.
            counts: Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .map(|mut h| {
                    h.auto(true);
                    h
                })
                .expect("valid HDR histogram bounds"),
            sum_us: 0,
            max_us: 0,
        }
    }
}

impl RunHistogram {
    pub(crate) fn record(&mut self, us: u64) {
        // The histogram's floor is 1 µs; a 0 µs sample counts as 1 µs in the percentiles.
        let _ = self.counts.record(us.max(1));
        self.sum_us += u128::from(us);
        self.max_us = self.max_us.max(us);
    }

    pub(crate) fn count(&self) -> u64 {
        self.counts.len()
    }

    /// The `q` quantile in microseconds (HDR's value at quantile, capped at the exact max).
    pub(crate) fn quantile_us(&self, q: f64) -> Option<u64> {
        (self.count() > 0).then(|| self.counts.value_at_quantile(q).min(self.max_us))
    }

    pub(crate) fn max_us(&self) -> Option<u64> {
        (self.count() > 0).then_some(self.max_us)
    }

    pub(crate) fn mean_us(&self) -> Option<f64> {
        (self.count() > 0).then(|| self.sum_us as f64 / self.count() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_continuous_and_within_half_a_percent() {
        let mut previous = 0;
        for us in (0..2_000_000u64).step_by(7).chain([u64::MAX / 3, u64::MAX]) {
            let step = step_of(us);
            assert!(step >= previous, "{us}");
            previous = step;
            let back = value_of(step) as f64;
            assert!(
                (back - us as f64).abs() <= (us as f64 * 0.004).max(0.5),
                "{us} -> {back}"
            );
        }
        assert_eq!(step_of(255), 255);
        assert_eq!(step_of(256), 256);
        assert_eq!(step_of(512), 384);
    }

    #[test]
    fn merging_equals_recording_everything_in_one() {
        let (mut a, mut b, mut both) = Default::default();
        for i in 0..5_000u64 {
            let us = (i * i) % 900_001 + 30;
            let target: &mut SparseHistogram = if i % 3 == 0 { &mut a } else { &mut b };
            target.record(us);
            SparseHistogram::record(&mut both, us);
        }
        let mut merged: SparseHistogram = a.clone();
        merged.merge(&b);
        assert_eq!(merged, both);
        for q in [0.5, 0.9, 0.99, 1.0] {
            assert_eq!(merged.quantile_us(q), both.quantile_us(q));
        }
    }

    #[test]
    fn quantiles_are_nearest_rank_and_the_max_is_exact() {
        let mut h = SparseHistogram::default();
        for us in 1..=100 {
            h.record(us * 1000);
        }
        let p50 = h.quantile_us(0.5).unwrap() as f64;
        assert!((p50 - 50_000.0).abs() < 50_000.0 * 0.005, "{p50}");
        assert_eq!(h.quantile_us(1.0), Some(100_000));
        assert_eq!(h.max_us(), Some(100_000));
        assert_eq!(SparseHistogram::default().quantile_us(0.5), None);
    }

    #[test]
    fn the_run_histogram_has_three_digits_and_an_exact_mean() {
        let mut h = RunHistogram::default();
        for us in [1_000, 2_000, 3_000, 10_000_000_000] {
            h.record(us);
        }
        assert_eq!(h.count(), 4);
        assert_eq!(h.max_us(), Some(10_000_000_000));
        assert_eq!(h.quantile_us(1.0), Some(10_000_000_000));
        let p50 = h.quantile_us(0.5).unwrap();
        assert!((1_999..=2_002).contains(&p50), "{p50}");
        assert_eq!(h.mean_us(), Some(2_500_001_500.0));
    }

    #[test]
    fn durations_become_microseconds_without_wrapping() {
        assert_eq!(micros(0.0012345), 1235);
        assert_eq!(micros(-1.0), 0);
        assert_eq!(micros(f64::NAN), 0);
        assert_eq!(micros(1e300), u64::MAX);
    }
}
