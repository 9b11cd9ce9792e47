//! mite's `prometheus_exporter` state: dumps added up per stat name (counters and histograms
//! add, gauges overwrite; nothing expires), rendered as Prometheus text.
//!
//! The layout is mite's (spec §4.7): a block per stat in first-seen order, blocks separated by
//! a blank line, no HELP lines, a space between a counter or gauge sample's name and its
//! labels, histogram samples sorted by label values, bounds and sums as `{:.6f}`. Unlike
//! mite's, the text ends with a newline, without which Prometheus's own parser (promtool)
//! refuses the last line.

use std::sync::Arc;

use indexmap::IndexMap;
use rustc_hash::{FxBuildHasher, FxHashMap};

use super::dump::{BucketCounts, DumpBody, StatDump};
use super::labels::{write_labels, LabelKey};
use super::number::{write_fixed, Number};

type Samples<V> = IndexMap<LabelKey, V, FxBuildHasher>;

enum Totals {
    Counter(Samples<Number>),
    Gauge(Samples<Number>),
    Histogram {
        bounds: Vec<f64>,
        series: Samples<BucketCounts>,
    },
}

struct Exported {
    name: Arc<str>,
    labels: Vec<Arc<str>>,
    totals: Totals,
}

/// Why a dump was not added: it disagrees with the first dump of the same name.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MismatchError {
    #[error("stat {0}: a dump of another type than the first was ignored")]
    Kind(Arc<str>),
    #[error("stat {0}: a dump with other histogram bins than the first was ignored")]
    Bounds(Arc<str>),
}

#[derive(Default)]
pub struct Exporter {
    stats: Vec<Exported>,
    by_name: FxHashMap<Arc<str>, usize>,
}

impl Exporter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one dump: a stat never seen starts from it, a known one is updated.
    pub fn apply(&mut self, dump: StatDump) -> Result<(), MismatchError> {
        let Some(&index) = self.by_name.get(&dump.name) else {
            self.by_name.insert(dump.name.clone(), self.stats.len());
            let totals = match dump.body {
                DumpBody::Counter(samples) => Totals::Counter(samples.into_iter().collect()),
                DumpBody::Gauge(samples) => Totals::Gauge(samples.into_iter().collect()),
                DumpBody::Histogram { bounds, series } => Totals::Histogram {
                    bounds,
                    series: series.into_iter().collect(),
                },
            };
            self.stats.push(Exported {
                name: dump.name,
                labels: dump.labels,
                totals,
            });
            return Ok(());
        };
        let stat = &mut self.stats[index];
        match (&mut stat.totals, dump.body) {
            (Totals::Counter(totals), DumpBody::Counter(samples)) => {
                for (key, delta) in samples {
                    let total = totals.entry(key).or_insert(Number::ZERO);
                    *total = *total + delta;
                }
            }
            (Totals::Gauge(totals), DumpBody::Gauge(samples)) => totals.extend(samples),
            (
                Totals::Histogram { bounds, series },
                DumpBody::Histogram {
                    bounds: b,
                    series: s,
                },
            ) => {
                if *bounds != b {
                    return Err(MismatchError::Bounds(stat.name.clone()));
                }
                for (key, delta) in s {
                    let total = series.entry(key).or_insert_with(|| BucketCounts {
                        cumulative: vec![0; b.len()],
                        sum: Number::ZERO,
                        count: 0,
                    });
                    for (mine, theirs) in total.cumulative.iter_mut().zip(&delta.cumulative) {
                        *mine += theirs;
                    }
                    total.sum = total.sum + delta.sum;
                    total.count += delta.count;
                }
            }
            _ => return Err(MismatchError::Kind(stat.name.clone())),
        }
        Ok(())
    }

    /// The text `/metrics` serves: empty before the first dump.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (i, stat) in self.stats.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            stat.render(&mut out);
        }
        out
    }
}

impl Exported {
    fn render(&self, out: &mut String) {
        let name = &*self.name;
        match &self.totals {
            Totals::Counter(samples) | Totals::Gauge(samples) => {
                let kind = if matches!(self.totals, Totals::Counter(_)) {
                    "counter"
                } else {
                    "gauge"
                };
                out.push_str(&format!("# TYPE {name} {kind}\n"));
                for (key, value) in samples {
                    out.push_str(name);
                    out.push_str(" {");
                    write_labels(out, &self.labels, key);
                    out.push_str("} ");
                    value.write_sample(out);
                    out.push('\n');
                }
            }
            Totals::Histogram { bounds, series } => {
                out.push_str(&format!("# TYPE {name} histogram\n"));
                let mut keys: Vec<&LabelKey> = series.keys().collect();
                keys.sort();
                for key in keys {
                    let counts = &series[key];
                    let mut labels = String::new();
                    write_labels(&mut labels, &self.labels, key);
                    let bucket_labels = if labels.is_empty() {
                        String::new()
                    } else {
                        format!("{labels},")
                    };
                    for (bound, count) in bounds.iter().zip(&counts.cumulative) {
                        out.push_str(&format!("{name}_bucket{{{bucket_labels}le=\""));
                        write_fixed(out, *bound);
                        out.push_str(&format!("\"}} {count}\n"));
                    }
                    out.push_str(&format!(
                        "{name}_bucket{{{bucket_labels}le=\"+Inf\"}} {}\n",
                        counts.count
                    ));
                    out.push_str(&format!("{name}_sum{{{labels}}} "));
                    counts.sum.write_fixed(out);
                    out.push('\n');
                    out.push_str(&format!("{name}_count{{{labels}}} {}\n", counts.count));
                }
            }
        }
    }
}
