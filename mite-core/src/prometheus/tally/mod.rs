//! mite's stats processors, natively: each message is matched and counted into per-stat
//! tables; [`StatTable::dump`] hands over the deltas and starts again from zero.
//!
//! This runs per message at the full message rate. The stats of one message type form a
//! route: the route's distinct labels are looked up once per message, as [`views::LabelView`]s
//! borrowed from it, and compared with the last few tuples the route saw, which remember the
//! sample each stat counted them into. Only a tuple not seen lately is hashed, per stat, and
//! only values not seen since the last dump are copied.

mod samples;
mod source;
mod views;

use std::sync::Arc;

use super::dump::{BucketCounts, DumpBody, StatDump};
use super::number::Number;
use super::spec::{Extract, StatKind, StatSpec};
use crate::messages::{Message, Value};
use samples::{RecentTuples, Samples, Tally, NOT_YET};
use source::{field, FieldHint, Source};
use views::{LabelView, Views};

struct Tallied {
    name: Arc<str>,
    extract: Extract,
    labels: Vec<Arc<str>>,
    /// For a per-scenario stat, where its `test` label comes from (the scenario is the
    /// other label); unused by the others, whose labels their routes look up.
    test_source: Option<Source>,
    /// The value field's.
    value: Option<Source>,
    /// The envelope field added to the value, for a stat only some messages count.
    plus: Option<Source>,
    /// Whether dumps leave it out until `counted` ([`StatSpec::silent_until_counted`]).
    silent_until_counted: bool,
    counted: bool,
    tally: Tally,
    /// Messages of a matching type without a usable number (mite's stats process dies on
    /// the KeyError; here they are counted and the first one logged).
    unusable: u64,
}

/// The stats that count one message type.
struct Route {
    kind: Arc<str>,
    /// The distinct labels of the route's field-extracting stats, in first-use order.
    sources: Vec<Source>,
    /// Those stats: the stat's index and its labels' positions in `sources`.
    by_fields: Vec<(usize, Box<[usize]>)>,
    /// Per-scenario stats (controller reports, a few a second), counted one by one.
    per_scenario: Vec<usize>,
    recent: RecentTuples,
}

impl Route {
    fn new(kind: Arc<str>) -> Self {
        Route {
            kind,
            sources: Vec::new(),
            by_fields: Vec::new(),
            per_scenario: Vec::new(),
            recent: RecentTuples::default(),
        }
    }

    fn add_stat(&mut self, index: usize, extract: &Extract) {
        let labels = match extract {
            Extract::PerScenario { .. } => return self.per_scenario.push(index),
            Extract::Fields { labels, .. } => labels,
        };
        let pick = labels
            .iter()
            .map(
                |label| match self.sources.iter().position(|s| s.key == *label) {
                    Some(at) => at,
                    None => {
                        self.sources.push(Source::new(label));
                        self.sources.len() - 1
                    }
                },
            )
            .collect();
        self.by_fields.push((index, pick));
    }
}

/// The deltas of a set of stats since their last dump.
pub struct StatTable {
    stats: Vec<Tallied>,
    routes: Vec<Route>,
}

impl StatTable {
    pub fn new(specs: Vec<StatSpec>) -> Self {
        let mut routes: Vec<Route> = Vec::new();
        let mut stats = Vec::with_capacity(specs.len());
        for (i, spec) in specs.into_iter().enumerate() {
            for kind in &spec.types {
                let at = match routes.iter().position(|r| r.kind == *kind) {
                    Some(at) => at,
                    None => {
                        routes.push(Route::new(kind.clone()));
                        routes.len() - 1
                    }
                };
                routes[at].add_stat(i, &spec.extract);
            }
            let tally = match spec.kind {
                StatKind::Counter => Tally::Counter(Samples::default()),
                StatKind::Accumulator => Tally::Accumulator(Samples::default()),
                StatKind::Gauge => Tally::Gauge(Samples::default()),
                StatKind::Histogram { bounds } => Tally::Histogram {
                    bounds,
                    series: Samples::default(),
                },
            };
            let labels = spec.extract.label_names();
            let (value, plus, test_source) = match &spec.extract {
                Extract::Fields { value, plus, .. } => (
                    value.as_ref().map(Source::new),
                    plus.as_ref().map(Source::new),
                    None,
                ),
                Extract::PerScenario { .. } => (None, None, Some(Source::new(&labels[0]))),
            };
            stats.push(Tallied {
                test_source,
                value,
                plus,
                silent_until_counted: spec.silent_until_counted,
                counted: false,
                labels,
                name: spec.name,
                extract: spec.extract,
                tally,
                unusable: 0,
            });
        }
        StatTable { stats, routes }
    }

    pub fn is_empty(&self) -> bool {
        self.stats.is_empty()
    }

    /// Counts one message into every stat whose types include its type.
    pub fn process(&mut self, msg: &Message) {
        let kind = &msg.kind;
        let Some(route) = self
            .routes
            .iter_mut()
            .find(|r| Arc::ptr_eq(&r.kind, kind) || r.kind == *kind)
        else {
            return;
        };
        if !route.by_fields.is_empty() {
            count_by_fields(route, &mut self.stats, msg);
        }
        for &i in &route.per_scenario {
            self.stats[i].count_per_scenario(msg);
        }
    }

    /// Every stat's delta, in registration order (empty ones included, but for mite-rs's
    /// own until they first count), and a fresh start.
    pub fn dump(&mut self) -> Vec<StatDump> {
        for route in &mut self.routes {
            route.recent.clear();
        }
        self.stats
            .iter_mut()
            .filter(|s| s.counted || !s.silent_until_counted)
            .map(Tallied::dump)
            .collect()
    }
}

/// Counts a message into its route's field-extracting stats: the labels looked up once, the
/// samples found through the route's recent tuples.
#[inline(always)]
fn count_by_fields(route: &mut Route, stats: &mut [Tallied], msg: &Message) {
    let mut views = Views::new();
    for source in &mut route.sources {
        views.push(source.view(msg));
    }
    let tuple = route.recent.get(&views, route.by_fields.len());
    for (k, (i, pick)) in route.by_fields.iter().enumerate() {
        let stat = &mut stats[*i];
        // A stat of what only some journeys' envelopes have (a start delay) skips the other
        // messages quietly.
        let plus = match &mut stat.plus {
            None => None,
            Some(source) => match source.envelope_number(msg) {
                Some(n) => Some(n),
                None => continue,
            },
        };
        let number = match &mut stat.value {
            None => Number::Int(1),
            Some(source) => match source.number(msg) {
                Some(number) => number,
                None => {
                    let key = source.key.clone();
                    note_unusable(&stat.name, &mut stat.unusable, msg, &key);
                    continue;
                }
            },
        };
        let number = match plus {
            None => number,
            Some(plus) => Number::Float(number.as_f64() + plus.as_f64()),
        };
        let mut at = tuple.samples[k];
        if at == NOT_YET {
            at = stat.tally.find_or_insert(&views, pick);
            tuple.samples[k] = at;
        }
        stat.tally.add_at(at, number);
        stat.counted = true;
    }
}

impl Tallied {
    /// mite's `controller_report_extractor`: one sample per scenario in the report's map.
    fn count_per_scenario(&mut self, msg: &Message) {
        let Extract::PerScenario {
            field: key,
            optional,
        } = &self.extract
        else {
            return;
        };
        let entries = match field(msg, key, &mut FieldHint::new(key)) {
            Some(Value::Map(entries)) => entries,
            None if *optional => return,
            _ => return note_unusable(&self.name, &mut self.unusable, msg, key),
        };
        let Some(test_source) = &mut self.test_source else {
            return;
        };
        let pick = [0, 1];
        for (scenario, value) in entries {
            let Some(number) = Number::of(value) else {
                continue;
            };
            let mut views = Views::new();
            views.push(test_source.view(msg));
            views.push(LabelView::of(scenario));
            let at = self.tally.find_or_insert(&views, &pick);
            self.tally.add_at(at, number);
            self.counted = true;
        }
    }

    fn dump(&mut self) -> StatDump {
        let drain = |samples: &mut Samples<Number>| samples.drain().collect();
        let body = match &mut self.tally {
            Tally::Counter(s) | Tally::Accumulator(s) => DumpBody::Counter(drain(s)),
            Tally::Gauge(s) => DumpBody::Gauge(drain(s)),
            Tally::Histogram { bounds, series } => DumpBody::Histogram {
                bounds: bounds.clone(),
                series: series
                    .drain()
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
