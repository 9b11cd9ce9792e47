//! The run over time, for the report's plots: buckets of a shared width from the first
//! message's second, at most [`MAX_POINTS`] of them.
//!
//! A bucket is one second wide to begin with. When a message falls past the last bucket
//! allowed, the width doubles and neighbouring buckets merge (counts add, latency histograms
//! merge exactly), so a 24-hour run keeps a few hundred points and the memory stays flat.

use super::histogram::SparseHistogram;

/// The most buckets a series holds; past it the width doubles.
pub(crate) const MAX_POINTS: usize = 1200;

/// A `last` bucket no time falls in.
const NO_BUCKET: (f64, f64, usize) = (f64::INFINITY, f64::NEG_INFINITY, 0);

/// One bucket of a request or transaction series.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Point {
    /// Requests (or transactions) that ended in the bucket.
    pub(crate) count: u64,
    /// Errors in the bucket: `error` and `exception` messages overall, failed transactions
    /// for a transaction.
    pub(crate) errors: u64,
    pub(crate) latency: SparseHistogram,
}

impl Point {
    fn merge(&mut self, other: &Point) {
        self.count += other.count;
        self.errors += other.errors;
        self.latency.merge(&other.latency);
    }
}

/// The controller's reports in one bucket: active and required journeys, as sums over the
/// reports, so that merged buckets average them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Journeys {
    active: f64,
    target: f64,
    reports: u32,
}

impl Journeys {
    fn merge(&mut self, other: &Journeys) {
        self.active += other.active;
        self.target += other.target;
        self.reports += other.reports;
    }

    /// The mean `(active, target)` over the bucket's reports, if it had any.
    pub(crate) fn mean(&self) -> Option<(f64, f64)> {
        (self.reports > 0).then(|| {
            let n = f64::from(self.reports);
            (self.active / n, self.target / n)
        })
    }
}

/// Every series of a run on one time axis.
#[derive(Clone, Debug)]
pub(crate) struct Timeline {
    /// The epoch second the first bucket starts at.
    origin: Option<f64>,
    width: f64,
    max_points: usize,
    /// The bucket found last, as `(start, end, index)`: most messages fall in it.
    last: (f64, f64, usize),
    pub(crate) requests: Vec<Point>,
    pub(crate) transactions: Vec<Vec<Point>>,
    pub(crate) journeys: Vec<Journeys>,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline::with_max_points(MAX_POINTS)
    }
}

impl Timeline {
    pub(crate) fn with_max_points(max_points: usize) -> Self {
        Timeline {
            origin: None,
            width: 1.0,
            max_points: max_points.max(2),
            last: NO_BUCKET,
            requests: Vec::new(),
            transactions: Vec::new(),
            journeys: Vec::new(),
        }
    }

    pub(crate) fn origin(&self) -> Option<f64> {
        self.origin
    }

    /// Seconds per bucket.
    pub(crate) fn width(&self) -> f64 {
        self.width
    }

    pub(crate) fn record_request(&mut self, time: f64, us: u64) {
        let at = self.slot(time);
        let point = grown(&mut self.requests, at);
        point.count += 1;
        point.latency.record(us);
    }

    pub(crate) fn record_error(&mut self, time: f64) {
        let at = self.slot(time);
        grown(&mut self.requests, at).errors += 1;
    }

    pub(crate) fn record_transaction(&mut self, time: f64, index: usize, us: u64, failed: bool) {
        let at = self.slot(time);
        if self.transactions.len() <= index {
            self.transactions.resize_with(index + 1, Vec::new);
        }
        let point = grown(&mut self.transactions[index], at);
        point.count += 1;
        point.errors += u64::from(failed);
        point.latency.record(us);
    }

    pub(crate) fn record_journeys(&mut self, time: f64, active: f64, target: f64) {
        let at = self.slot(time);
        let bucket = grown(&mut self.journeys, at);
        bucket.active += active;
        bucket.target += target;
        bucket.reports += 1;
    }

    /// The number of buckets spanned by any series.
    pub(crate) fn len(&self) -> usize {
        self.transactions
            .iter()
            .map(Vec::len)
            .chain([self.requests.len(), self.journeys.len()])
            .max()
            .unwrap_or(0)
    }

    /// The bucket `time` falls in, widening the buckets until it fits. A time before the
    /// first message's second (a runner whose clock lags) counts in the first bucket.
    fn slot(&mut self, time: f64) -> usize {
        let (start, end, index) = self.last;
        if start <= time && time < end {
            return index;
        }
        let origin = *self.origin.get_or_insert(time.floor());
        loop {
            let at = ((time - origin) / self.width).floor();
            let at = if at.is_nan() || at < 0.0 { 0.0 } else { at };
            if at < self.max_points as f64 {
                let start = origin + at * self.width;
                self.last = (start, start + self.width, at as usize);
                return at as usize;
            }
            self.double_width();
        }
    }

    fn double_width(&mut self) {
        self.width *= 2.0;
        self.last = NO_BUCKET;
        halve(&mut self.requests, Point::merge);
        for series in &mut self.transactions {
            halve(series, Point::merge);
        }
        halve(&mut self.journeys, Journeys::merge);
    }
}

/// The bucket at `at`, adding empty buckets up to it.
fn grown<T: Default>(series: &mut Vec<T>, at: usize) -> &mut T {
    if series.len() <= at {
        series.resize_with(at + 1, T::default);
    }
    &mut series[at]
}

/// Merges buckets pairwise: `[a, b, c]` becomes `[a+b, c]`.
fn halve<T: Default>(series: &mut Vec<T>, merge: fn(&mut T, &T)) {
    let old = std::mem::take(series);
    let mut pairs = old.into_iter();
    while let Some(mut first) = pairs.next() {
        if let Some(second) = pairs.next() {
            merge(&mut first, &second);
        }
        series.push(first);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_start_at_the_first_second_and_late_times_go_first() {
        let mut t = Timeline::default();
        t.record_request(100.7, 1_000);
        t.record_request(102.2, 2_000);
        t.record_request(99.0, 3_000);
        t.record_error(102.9);
        assert_eq!(t.origin(), Some(100.0));
        assert_eq!(t.requests.len(), 3);
        assert_eq!(t.requests[0].count, 2);
        assert_eq!(t.requests[1].count, 0);
        assert_eq!((t.requests[2].count, t.requests[2].errors), (1, 1));
    }

    #[test]
    fn a_long_run_doubles_the_width_and_keeps_every_sample() {
        let mut t = Timeline::with_max_points(10);
        for second in 0..95 {
            t.record_request(1000.0 + f64::from(second), 1_000 + u64::from(second as u32));
            t.record_transaction(1000.0 + f64::from(second), 2, 5, second % 2 == 0);
            t.record_journeys(1000.0 + f64::from(second), 4.0, 8.0);
        }
        assert_eq!(t.width(), 16.0);
        assert!(t.len() <= 10);
        let total: u64 = t.requests.iter().map(|p| p.count).sum();
        assert_eq!(total, 95);
        let merged_latencies: u64 = t.requests.iter().map(|p| p.latency.count()).sum();
        assert_eq!(merged_latencies, 95);
        assert_eq!(t.requests[0].count, 16);
        assert_eq!(t.transactions[2].iter().map(|p| p.errors).sum::<u64>(), 48);
        assert!(t.transactions[0].is_empty());
        assert_eq!(t.journeys[1].mean(), Some((4.0, 8.0)));
    }
}
