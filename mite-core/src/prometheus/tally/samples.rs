//! One stat's samples since the last dump, and the route-level memory of which samples the
//! last few messages went to.

use hashbrown::HashTable;

use super::super::labels::{LabelKey, LabelValue};
use super::super::number::Number;
use super::views::{hash_picked, owned_picked, picked_is, LabelView};

/// Samples per label-value tuple, in the order first seen.
pub(super) struct Samples<V> {
    pub(super) entries: Vec<(LabelKey, u64, V)>,
    index: HashTable<usize>,
}

impl<V> Default for Samples<V> {
    fn default() -> Self {
        Samples {
            entries: Vec::new(),
            index: HashTable::new(),
        }
    }
}

impl<V> Samples<V> {
    /// Where the sample of the views at `pick` is, created at `initial` the first time.
    pub(super) fn find_or_insert(
        &mut self,
        views: &[LabelView<'_>],
        pick: &[usize],
        initial: impl FnOnce() -> V,
    ) -> usize {
        let hash = hash_picked(views, pick);
        let entries = &self.entries;
        if let Some(&i) = self
            .index
            .find(hash, |&i| picked_is(views, pick, &entries[i].0))
        {
            return i;
        }
        let i = self.entries.len();
        self.entries
            .push((owned_picked(views, pick), hash, initial()));
        let entries = &self.entries;
        self.index.insert_unique(hash, i, |&j| entries[j].1);
        i
    }

    pub(super) fn drain(&mut self) -> impl Iterator<Item = (LabelKey, V)> + '_ {
        self.index.clear();
        self.entries.drain(..).map(|(key, _, v)| (key, v))
    }
}

/// Counts per bucket (not yet cumulative), sum and count of one label-value tuple.
#[derive(Clone, Debug)]
pub(super) struct Buckets {
    pub(super) per_bucket: Vec<u64>,
    pub(super) sum: Number,
    pub(super) count: u64,
}

pub(super) enum Tally {
    Counter(Samples<Number>),
    Accumulator(Samples<Number>),
    Gauge(Samples<Number>),
    Histogram {
        bounds: Vec<f64>,
        series: Samples<Buckets>,
    },
}

impl Tally {
    /// Where the sample of the views at `pick` is (see [`Samples::find_or_insert`]).
    pub(super) fn find_or_insert(&mut self, views: &[LabelView<'_>], pick: &[usize]) -> usize {
        match self {
            Tally::Counter(s) | Tally::Accumulator(s) | Tally::Gauge(s) => {
                s.find_or_insert(views, pick, || Number::ZERO)
            }
            Tally::Histogram { bounds, series } => {
                let width = bounds.len();
                series.find_or_insert(views, pick, || Buckets {
                    per_bucket: vec![0; width],
                    sum: Number::ZERO,
                    count: 0,
                })
            }
        }
    }

    /// Counts `number` into the sample at `at`.
    #[inline(always)]
    pub(super) fn add_at(&mut self, at: usize, number: Number) {
        match self {
            Tally::Counter(s) => {
                let n = &mut s.entries[at].2;
                *n = *n + Number::Int(1);
            }
            Tally::Accumulator(s) => {
                let n = &mut s.entries[at].2;
                *n = *n + number;
            }
            Tally::Gauge(s) => s.entries[at].2 = number,
            Tally::Histogram { bounds, series } => {
                let b = &mut series.entries[at].2;
                b.sum = b.sum + number;
                b.count += 1;
                let value = number.as_f64();
                // The first bound the value is at or below; NaN is below none.
                let width = bounds.len();
                let first = if value.is_nan() {
                    width
                } else {
                    bounds.partition_point(|&bound| bound < value)
                };
                if first < width {
                    b.per_bucket[first] += 1;
                }
            }
        }
    }
}

/// How many recent label-value tuples a route remembers: messages in a row mostly share
/// them (one transaction, one status), so most messages find their samples here without
/// hashing.
const RECENT: usize = 4;

/// A sample not created yet (its stat had no usable number when the tuple was seen).
pub(super) const NOT_YET: usize = usize::MAX;

/// One remembered tuple: a route's label values and, per stat of the route, its sample.
pub(super) struct Recent {
    values: Box<[LabelValue]>,
    pub(super) samples: Box<[usize]>,
}

/// A route's recently seen tuples, most recent first.
#[derive(Default)]
pub(super) struct RecentTuples {
    tuples: Vec<Recent>,
}

impl RecentTuples {
    /// The remembered tuple these views are, moved to the front; a new one (no samples yet)
    /// when they are none of them.
    #[inline(always)]
    pub(super) fn get(&mut self, views: &[LabelView<'_>], stats: usize) -> &mut Recent {
        let mut hit = None;
        for (at, tuple) in self.tuples.iter().enumerate() {
            if super::views::all_are(views, &tuple.values) {
                hit = Some(at);
                break;
            }
        }
        match hit {
            Some(0) => {}
            Some(at) => self.tuples[..=at].rotate_right(1),
            None => {
                if self.tuples.len() == RECENT {
                    self.tuples.pop();
                }
                self.tuples.insert(
                    0,
                    Recent {
                        values: views.iter().map(|v| v.to_stored()).collect(),
                        samples: vec![NOT_YET; stats].into_boxed_slice(),
                    },
                );
            }
        }
        &mut self.tuples[0]
    }

    /// Forgets every tuple (their samples were dumped).
    pub(super) fn clear(&mut self) {
        self.tuples.clear();
    }
}
