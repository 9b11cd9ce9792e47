//! mite's stats processors, natively: each message is matched and counted into per-stat
//! tables; [`StatTable::dump`] hands over the deltas and starts again from zero.
//!
//! This runs per message at the full message rate, so a lookup reuses one scratch key and
//! allocates only for label values not seen before.

use std::sync::Arc;

use indexmap::IndexMap;
use rustc_hash::FxBuildHasher;

use super::dump::{BucketCounts, DumpBody, StatDump};
use super::labels::{LabelKey, LabelValue};
use super::number::Number;
use super::spec::{Extract, StatKind, StatSpec};
use crate::messages::{Message, Value};

type Samples<V> = IndexMap<LabelKey, V, FxBuildHasher>;

/// Counts per bucket (not yet cumulative), sum and count of one label-value tuple.
#[derive(Clone, Debug)]
struct Buckets {
    per_bucket: Vec<u64>,
    sum: Number,
    count: u64,
}

enum Tally {
    Counter(Samples<Number>),
    Accumulator(Samples<Number>),
    Gauge(Samples<Number>),
    Histogram {
        bounds: Vec<f64>,
        series: Samples<Buckets>,
    },
}

struct Tallied {
    name: Arc<str>,
    types: Vec<Arc<str>>,
    extract: Extract,
    labels: Vec<Arc<str>>,
    tally: Tally,
    /// Messages of a matching type without a usable number (mite's stats process dies on
    /// the KeyError; here they are counted and the first one logged).
    unusable: u64,
}

/// The deltas of a set of stats since their last dump.
pub struct StatTable {
    stats: Vec<Tallied>,
    scratch: Vec<LabelValue>,
}

impl StatTable {
    pub fn new(specs: Vec<StatSpec>) -> Self {
        let stats = specs
            .into_iter()
            .map(|spec| {
                let tally = match spec.kind {
                    StatKind::Counter => Tally::Counter(Samples::default()),
                    StatKind::Accumulator => Tally::Accumulator(Samples::default()),
                    StatKind::Gauge => Tally::Gauge(Samples::default()),
                    StatKind::Histogram { bounds } => Tally::Histogram {
                        bounds,
                        series: Samples::default(),
                    },
                };
                Tallied {
                    labels: spec.extract.label_names(),
                    name: spec.name,
                    types: spec.types,
                    extract: spec.extract,
                    tally,
                    unusable: 0,
                }
            })
            .collect();
        StatTable {
            stats,
            scratch: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.stats.is_empty()
    }

    /// Counts one message into every stat whose types include its type.
    pub fn process(&mut self, msg: &Message) {
        for stat in &mut self.stats {
            if stat.types.iter().any(|t| **t == *msg.kind) {
                stat.count(msg, &mut self.scratch);
            }
        }
    }

    /// Every stat's delta, in registration order (empty ones included), and a fresh start.
    pub fn dump(&mut self) -> Vec<StatDump> {
        self.stats.iter_mut().map(Tallied::dump).collect()
    }
}

/// A message field by its encoded name: `type`, `time` and the transaction keys included.
fn field_label(msg: &Message, key: &str) -> LabelValue {
    match key {
        "type" => LabelValue::Str(msg.kind.clone()),
        "transaction" | "transaction_id" if msg.has_transaction_keys => {
            match (&msg.transaction, key) {
                (Some((name, _)), "transaction") => LabelValue::Str(name.clone()),
                (Some((_, id)), _) => LabelValue::of(&Value::UInt(*id)),
                (None, _) => LabelValue::Nil,
            }
        }
        _ => match msg.get(key) {
            Some(value) => LabelValue::of(value),
            None if key == "time" => LabelValue::of(&Value::Float(msg.time)),
            None => LabelValue::missing(),
        },
    }
}

fn field_number(msg: &Message, key: &str) -> Option<Number> {
    match (key, msg.get(key)) {
        ("time", None) => Some(Number::Float(msg.time)),
        (_, value) => value.and_then(Number::of),
    }
}

impl Tallied {
    fn count(&mut self, msg: &Message, scratch: &mut Vec<LabelValue>) {
        match &self.extract {
            Extract::Fields { labels, value } => {
                let number = match value {
                    None => Some(Number::Int(1)),
                    Some(key) => field_number(msg, key),
                };
                let Some(number) = number else {
                    return note_unusable(
                        &self.name,
                        &mut self.unusable,
                        msg,
                        value.as_deref().unwrap_or_default(),
                    );
                };
                scratch.clear();
                scratch.extend(labels.iter().map(|label| field_label(msg, label)));
                add(&mut self.tally, scratch, number);
            }
            Extract::PerScenario { field } => {
                let Some(Value::Map(entries)) = msg.get(field) else {
                    return note_unusable(&self.name, &mut self.unusable, msg, field);
                };
                let test = field_label(msg, "test");
                for (scenario, value) in entries {
                    let Some(number) = Number::of(value) else {
                        continue;
                    };
                    scratch.clear();
                    scratch.push(test.clone());
                    scratch.push(LabelValue::of(scenario));
                    add(&mut self.tally, scratch, number);
                }
            }
        }
    }

    fn dump(&mut self) -> StatDump {
        let drain = |samples: &mut Samples<Number>| samples.drain(..).collect();
        let body = match &mut self.tally {
            Tally::Counter(s) | Tally::Accumulator(s) => DumpBody::Counter(drain(s)),
            Tally::Gauge(s) => DumpBody::Gauge(drain(s)),
            Tally::Histogram { bounds, series } => DumpBody::Histogram {
                bounds: bounds.clone(),
                series: series
                    .drain(..)
                    .map(|(key, b)| {
                        let mut running = 0;
                        let cumulative = b
                            .per_bucket
                            .iter()
                            .map(|n| {
                                running += n;
                                running
                            })
                            .collect();
                        let counts = BucketCounts {
                            cumulative,
                            sum: b.sum,
                            count: b.count,
                        };
                        (key, counts)
                    })
                    .collect(),
            },
        };
        StatDump {
            name: self.name.clone(),
            labels: self.labels.clone(),
            body,
        }
    }
}

fn note_unusable(name: &str, unusable: &mut u64, msg: &Message, key: &str) {
    *unusable += 1;
    if *unusable == 1 {
        log::warn!(
            target: "mite.stats",
            "{name}: a {} message without a number in {key:?} was not counted (no more such will be logged)",
            msg.kind
        );
    }
}

/// The sample for `key`, created at `initial` the first time it is seen.
fn entry<'s, V>(
    samples: &'s mut Samples<V>,
    key: &[LabelValue],
    initial: impl FnOnce() -> V,
) -> &'s mut V {
    let index = match samples.get_index_of(key) {
        Some(index) => index,
        None => samples.insert_full(key.into(), initial()).0,
    };
    &mut samples[index]
}

fn add(tally: &mut Tally, key: &[LabelValue], number: Number) {
    match tally {
        Tally::Counter(samples) => {
            let n = entry(samples, key, || Number::ZERO);
            *n = *n + Number::Int(1);
        }
        Tally::Accumulator(samples) => {
            let n = entry(samples, key, || Number::ZERO);
            *n = *n + number;
        }
        Tally::Gauge(samples) => *entry(samples, key, || Number::ZERO) = number,
        Tally::Histogram { bounds, series } => {
            let width = bounds.len();
            let b = entry(series, key, || Buckets {
                per_bucket: vec![0; width],
                sum: Number::ZERO,
                count: 0,
            });
            b.sum = b.sum + number;
            b.count += 1;
            let value = number.as_f64();
            // The first bound the value is at or below; NaN is below none.
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
