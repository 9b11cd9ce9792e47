//! A stat's dump: what it counted since the previous dump (mite's `Stat.dump()` dicts), as
//! sent from a stats processor to the exporter, and their msgpack form on mite's wire.

use std::sync::Arc;

use super::labels::{LabelKey, LabelValue};
use super::number::Number;
use crate::messages::Value;

#[derive(Clone, Debug, PartialEq)]
pub struct StatDump {
    pub name: Arc<str>,
    pub labels: Vec<Arc<str>>,
    pub body: DumpBody,
}

#[derive(Clone, Debug, PartialEq)]
pub enum DumpBody {
    /// Counters and accumulators: the amount added per label values.
    Counter(Vec<(LabelKey, Number)>),
    /// The latest value per label values.
    Gauge(Vec<(LabelKey, Number)>),
    Histogram {
        bounds: Vec<f64>,
        series: Vec<(LabelKey, BucketCounts)>,
    },
}

/// One label-value tuple's share of a histogram.
#[derive(Clone, Debug, PartialEq)]
pub struct BucketCounts {
    /// Per bound, the observations at or below it (cumulative, as Prometheus's buckets).
    pub cumulative: Vec<u64>,
    pub sum: Number,
    pub count: u64,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("malformed stats dump: {0}")]
pub struct DumpError(pub String);

fn bad(what: impl Into<String>) -> DumpError {
    DumpError(what.into())
}

fn key_value(key: &[LabelValue]) -> Value {
    Value::Array(key.iter().map(LabelValue::to_value).collect())
}

fn number_map(samples: &[(LabelKey, Number)]) -> Value {
    Value::Map(
        samples
            .iter()
            .map(|(key, n)| (key_value(key), n.to_value()))
            .collect(),
    )
}

fn text(s: &str) -> Value {
    Value::str(s)
}

impl StatDump {
    /// mite's dump dict: `type`, `name`, the samples, `labels` (keys are label-value arrays).
    pub fn to_value(&self) -> Value {
        let labels = Value::Array(self.labels.iter().cloned().map(Value::Str).collect());
        let name = Value::Str(self.name.clone());
        let entries = match &self.body {
            DumpBody::Counter(samples) | DumpBody::Gauge(samples) => {
                let kind = if matches!(self.body, DumpBody::Counter(_)) {
                    "Counter"
                } else {
                    "Gauge"
                };
                vec![
                    (text("type"), text(kind)),
                    (text("name"), name),
                    (text("metrics"), number_map(samples)),
                    (text("labels"), labels),
                ]
            }
            DumpBody::Histogram { bounds, series } => {
                let per_key = |f: &dyn Fn(&BucketCounts) -> Value| {
                    Value::Map(
                        series
                            .iter()
                            .map(|(key, counts)| (key_value(key), f(counts)))
                            .collect(),
                    )
                };
                vec![
                    (text("type"), text("Histogram")),
                    (text("name"), name),
                    (
                        text("bin_counts"),
                        per_key(&|c| {
                            Value::Array(c.cumulative.iter().map(|&n| Value::UInt(n)).collect())
                        }),
                    ),
                    (text("sums"), per_key(&|c| c.sum.to_value())),
                    (text("total_counts"), per_key(&|c| Value::UInt(c.count))),
                    (
                        text("bins"),
                        Value::Array(bounds.iter().map(|&b| Value::Float(b)).collect()),
                    ),
                    (text("labels"), labels),
                ]
            }
        };
        Value::Map(entries)
    }

    /// Reads a dump dict as mite's stats processes send it (or a Python stat's `dump()`).
    pub fn from_value(value: &Value) -> Result<StatDump, DumpError> {
        let field = |key: &str| field(value, key);
        let name = match field("name")? {
            Value::Str(s) => s.clone(),
            _ => return Err(bad("\"name\" is not a string")),
        };
        let labels = match field("labels")? {
            Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    Value::Str(s) => Ok(s.clone()),
                    _ => Err(bad(format!("{name}: a label name is not a string"))),
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => return Err(bad(format!("{name}: \"labels\" is not a list"))),
        };
        let kind = field("type")?.as_str().unwrap_or_default();
        let body = match kind {
            "Counter" => DumpBody::Counter(numbers(&name, field("metrics")?)?),
            "Gauge" => DumpBody::Gauge(numbers(&name, field("metrics")?)?),
            "Histogram" => histogram(&name, value)?,
            other => return Err(bad(format!("{name}: unknown stat type {other:?}"))),
        };
        Ok(StatDump { name, labels, body })
    }
}

/// A sample key: an array of label values, or a single value (a Python stat may key by one).
fn key_of(value: &Value) -> LabelKey {
    match value {
        Value::Array(items) => items.iter().map(LabelValue::of).collect(),
        other => Box::new([LabelValue::of(other)]),
    }
}

fn entries<'v>(name: &str, map: &'v Value) -> Result<&'v [(Value, Value)], DumpError> {
    match map {
        Value::Map(entries) => Ok(entries),
        _ => Err(bad(format!("{name}: samples are not a map"))),
    }
}

fn number(name: &str, value: &Value) -> Result<Number, DumpError> {
    Number::of(value).ok_or_else(|| bad(format!("{name}: a sample is not a number")))
}

fn count(name: &str, value: &Value) -> Result<u64, DumpError> {
    match Number::of(value) {
        Some(Number::Int(n)) if n >= 0 => Ok(n as u64),
        _ => Err(bad(format!("{name}: a count is not a whole number"))),
    }
}

fn numbers(name: &str, map: &Value) -> Result<Vec<(LabelKey, Number)>, DumpError> {
    entries(name, map)?
        .iter()
        .map(|(k, v)| Ok((key_of(k), number(name, v)?)))
        .collect()
}

fn field<'v>(dump: &'v Value, key: &str) -> Result<&'v Value, DumpError> {
    dump.get(key).ok_or_else(|| bad(format!("no {key:?}")))
}

fn histogram(name: &str, dump: &Value) -> Result<DumpBody, DumpError> {
    let field = |key: &str| field(dump, key);
    let bounds = match field("bins")? {
        Value::Array(items) => items
            .iter()
            .map(|b| number(name, b).map(Number::as_f64))
            .collect::<Result<Vec<f64>, _>>()?,
        _ => return Err(bad(format!("{name}: \"bins\" is not a list"))),
    };
    let bin_counts = entries(name, field("bin_counts")?)?;
    let sums = entries(name, field("sums")?)?;
    let totals = entries(name, field("total_counts")?)?;
    // A key may have a sum without bucket counts (mite's exporter tolerates that).
    let mut series = Vec::with_capacity(sums.len());
    for (k, sum) in sums {
        let total = totals
            .iter()
            .find(|(tk, _)| tk == k)
            .ok_or_else(|| bad(format!("{name}: a sum without a total count")))?;
        let cumulative = match bin_counts.iter().find(|(bk, _)| bk == k) {
            Some((_, Value::Array(items))) if items.len() == bounds.len() => items
                .iter()
                .map(|c| count(name, c))
                .collect::<Result<Vec<u64>, _>>()?,
            Some(_) => return Err(bad(format!("{name}: bucket counts do not match the bins"))),
            None => vec![0; bounds.len()],
        };
        series.push((
            key_of(k),
            BucketCounts {
                cumulative,
                sum: number(name, sum)?,
                count: count(name, &total.1)?,
            },
        ));
    }
    Ok(DumpBody::Histogram { bounds, series })
}
