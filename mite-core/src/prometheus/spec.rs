//! What a stat counts: mite's `Stat` (a name, a matcher on the message type, an extractor),
//! as data, and the built-in stats of the `mite` and `mite_http` entry points.

use std::sync::Arc;

use crate::messages::keys;

/// How a stat combines the numbers it extracts.
#[derive(Clone, Debug, PartialEq)]
pub enum StatKind {
    /// One per matching message (the extracted number is ignored).
    Counter,
    /// The extracted numbers added up; dumped as a counter.
    Accumulator,
    /// The last extracted number.
    Gauge,
    /// Cumulative buckets with these upper bounds (sorted), a sum and a count.
    Histogram { bounds: Vec<f64> },
}

/// Where a stat's label values and number come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Extract {
    /// mite's `extractor(labels, value_key)`: one sample per message, the label fields'
    /// values (`""` when absent) and the `value` field (1 without one).
    Fields {
        labels: Vec<Arc<str>>,
        value: Option<Arc<str>>,
        /// An envelope field added to the value; a message without it is not counted
        /// (mite-rs's latency from the intended start: `total_time` plus `start_delay`).
        plus: Option<Arc<str>>,
    },
    /// mite's `controller_report_extractor(field)`: labels `test, scenario_id`, one sample per
    /// entry of the message's `field` map. An `optional` field may be absent (mite-rs's
    /// report fields, only in reports of arrival-rate runs); a required one is logged once.
    PerScenario { field: Arc<str>, optional: bool },
}

impl Extract {
    /// The label names, in order.
    pub fn label_names(&self) -> Vec<Arc<str>> {
        match self {
            Extract::Fields { labels, .. } => labels.clone(),
            Extract::PerScenario { .. } => vec![keys::test(), keys::scenario_id()],
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct StatSpec {
    pub name: Arc<str>,
    pub kind: StatKind,
    /// The message types it counts (mite's `matcher_by_type`).
    pub types: Vec<Arc<str>>,
    pub extract: Extract,
    /// Left out of dumps until it first counts something: mite-rs's own stats, which only
    /// arrival-rate runs feed, so that other runs export exactly mite's set.
    pub silent_until_counted: bool,
}

/// mite's default bucket bounds for the HTTP response-time histogram, in seconds.
pub const DEFAULT_HTTP_BUCKETS: &str = "0.0001,0.001,0.01,0.05,0.1,0.2,0.4,0.8,1,2,4,8,16,32,64";
/// The environment variable that replaces them.
pub const HTTP_BUCKETS_VARIABLE: &str = "MITE_HTTP_HISTOGRAM_BUCKETS";

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{variable}: {text:?} is not a comma-separated list of numbers")]
pub struct BucketsError {
    pub variable: String,
    pub text: String,
}

/// Bucket bounds from a comma-separated list (`float()` of each item, as mite reads them).
pub fn parse_buckets(variable: &str, text: &str) -> Result<Vec<f64>, BucketsError> {
    let error = || BucketsError {
        variable: variable.to_owned(),
        text: text.to_owned(),
    };
    let mut bounds = text
        .split(',')
        .map(|item| item.trim().parse::<f64>().map_err(|_| error()))
        .collect::<Result<Vec<f64>, _>>()?;
    if bounds.iter().any(|b| b.is_nan()) {
        return Err(error());
    }
    bounds.sort_by(f64::total_cmp);
    Ok(bounds)
}

/// The HTTP histogram's bounds: `MITE_HTTP_HISTOGRAM_BUCKETS`, or mite's default.
pub fn http_buckets_from_env() -> Result<Vec<f64>, BucketsError> {
    match std::env::var(HTTP_BUCKETS_VARIABLE) {
        Ok(text) => parse_buckets(HTTP_BUCKETS_VARIABLE, &text),
        Err(_) => parse_buckets(HTTP_BUCKETS_VARIABLE, DEFAULT_HTTP_BUCKETS),
    }
}

/// Field names, as the shared copies messages use where there are such.
fn names(list: &str) -> Vec<Arc<str>> {
    list.split_whitespace()
        .map(|name| keys::interned(name).unwrap_or_else(|| Arc::from(name)))
        .collect()
}

fn fields(labels: &str, value: Option<&str>) -> Extract {
    Extract::Fields {
        labels: names(labels),
        value: value.map(|name| keys::interned(name).unwrap_or_else(|| Arc::from(name))),
        plus: None,
    }
}

fn stat(name: &str, kind: StatKind, types: &str, extract: Extract) -> StatSpec {
    StatSpec {
        name: Arc::from(name),
        kind,
        types: names(types),
        extract,
        silent_until_counted: false,
    }
}

/// A mite-rs stat: see [`StatSpec::silent_until_counted`].
fn extension(spec: StatSpec) -> StatSpec {
    StatSpec {
        silent_until_counted: true,
        ..spec
    }
}

/// The `mite` entry point's stats (`mite.stats._MITE_STATS`), in mite's order.
pub fn mite_stats() -> Vec<StatSpec> {
    let per_scenario = |field: &str| Extract::PerScenario {
        field: Arc::from(field),
        optional: false,
    };
    let optional_per_scenario = |field: &str| Extract::PerScenario {
        field: Arc::from(field),
        optional: true,
    };
    vec![
        stat(
            "mite_journey_error_total",
            StatKind::Counter,
            "error exception",
            fields("test journey transaction location ex_type message", None),
        ),
        stat(
            "mite_transaction_total",
            StatKind::Counter,
            "txn",
            fields("test journey transaction had_error", None),
        ),
        stat(
            "mite_actual_count",
            StatKind::Gauge,
            "controller_report",
            per_scenario("actual"),
        ),
        stat(
            "mite_required_count",
            StatKind::Gauge,
            "controller_report",
            per_scenario("required"),
        ),
        stat(
            "mite_runner_count",
            StatKind::Gauge,
            "controller_report",
            fields("test", Some("num_runners")),
        ),
        // mite-rs: the starts of arrival-rate scenarios so far (running totals).
        extension(stat(
            "mite_starts_scheduled",
            StatKind::Gauge,
            "controller_report",
            optional_per_scenario("starts_scheduled"),
        )),
        extension(stat(
            "mite_starts_dropped",
            StatKind::Gauge,
            "controller_report",
            optional_per_scenario("starts_dropped"),
        )),
    ]
}

/// The `mite_http` entry point's stats (`mite_http.stats.STATS`), with these histogram bounds.
pub fn mite_http_stats(bounds: Vec<f64>) -> Vec<StatSpec> {
    vec![
        stat(
            "mite_http_response_total",
            StatKind::Counter,
            "http_metrics",
            fields("test journey transaction method response_code", None),
        ),
        stat(
            "mite_http_response_time_seconds",
            StatKind::Histogram {
                bounds: bounds.clone(),
            },
            "http_metrics",
            fields("transaction", Some("total_time")),
        ),
        // mite-rs: requests of arrival-rate journeys, timed from when the journey was due.
        extension(stat(
            "mite_http_response_time_from_intended_start_seconds",
            StatKind::Histogram { bounds },
            "http_metrics",
            Extract::Fields {
                labels: names("transaction"),
                value: Some(keys::total_time()),
                plus: Some(keys::start_delay()),
            },
        )),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_buckets_are_mites() {
        let bounds = parse_buckets(HTTP_BUCKETS_VARIABLE, DEFAULT_HTTP_BUCKETS).unwrap();
        assert_eq!(bounds.len(), 15);
        assert_eq!(bounds[0], 0.0001);
        assert_eq!(bounds[14], 64.0);
    }

    #[test]
    fn buckets_are_sorted_and_bad_ones_refused() {
        assert_eq!(parse_buckets("V", "3, 1,2").unwrap(), [1.0, 2.0, 3.0]);
        let err = parse_buckets("V", "1,x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "V: \"1,x\" is not a comma-separated list of numbers"
        );
        assert!(parse_buckets("V", "").is_err());
        assert!(parse_buckets("V", "nan").is_err());
    }

    #[test]
    fn builtin_labels_are_in_mites_order() {
        let mite = mite_stats();
        assert_eq!(
            mite[0].extract.label_names(),
            names("test journey transaction location ex_type message")
        );
        assert_eq!(mite[2].extract.label_names(), names("test scenario_id"));
        let http = mite_http_stats(vec![1.0]);
        assert_eq!(
            http[0].extract.label_names(),
            names("test journey transaction method response_code")
        );
        assert_eq!(http[1].name.as_ref(), "mite_http_response_time_seconds");
    }
}
