//! The whole native path: messages counted, dumped, added up and rendered.

use std::sync::Arc;

use super::*;
use crate::messages::{keys, Envelope, Message, Value};

fn envelope() -> Arc<Envelope> {
    Arc::new(Envelope {
        entries: vec![
            (keys::test(), Value::str("S")),
            (keys::journey(), Value::str("m:j")),
        ],
    })
}

fn in_transaction(kind: &str, fields: Vec<(&str, Value)>) -> Message {
    Message {
        kind: Arc::from(kind),
        time: 10.0,
        fields: fields.into_iter().map(|(k, v)| (Arc::from(k), v)).collect(),
        envelope: Some(envelope()),
        transaction: Some((Arc::from("T"), 1)),
        has_transaction_keys: true,
    }
}

fn http(total_time: f64, code: i64) -> Message {
    in_transaction(
        "http_metrics",
        vec![
            ("method", Value::Bin(b"GET".to_vec())),
            ("response_code", Value::Int(code)),
            ("total_time", Value::Float(total_time)),
        ],
    )
}

fn report(actual: i64) -> Message {
    Message::bare(keys::controller_report(), 10.0)
        .with_field(keys::test(), "S")
        .with_field(
            keys::required(),
            Value::Map(vec![(Value::Int(1), Value::Int(5))]),
        )
        .with_field(
            keys::actual(),
            Value::Map(vec![(Value::Int(1), Value::Int(actual))]),
        )
        .with_field(keys::num_runners(), Value::Int(1))
}

fn builtin() -> StatTable {
    let mut specs = mite_stats();
    specs.extend(mite_http_stats(vec![0.01, 0.1, 1.0]));
    StatTable::new(specs)
}

#[test]
fn builtin_stats_render_in_mites_layout() {
    let mut table = builtin();
    table.process(&in_transaction(
        "txn",
        vec![("had_error", Value::Bool(false))],
    ));
    table.process(&in_transaction(
        "exception",
        vec![
            ("ex_type", Value::str("ValueError")),
            ("message", Value::str("ValueError: x")),
            ("location", Value::str("/p.py:3:j")),
        ],
    ));
    table.process(&http(0.005, 200));
    table.process(&http(0.5, 200));
    table.process(&report(3));
    let mut exporter = Exporter::new();
    for dump in table.dump() {
        exporter.apply(dump).unwrap();
    }
    let expected = "\
# TYPE mite_journey_error_total counter
mite_journey_error_total {test=\"S\",journey=\"m:j\",transaction=\"T\",location=\"/p.py:3:j\",ex_type=\"ValueError\",message=\"ValueError: x\"} 1

# TYPE mite_transaction_total counter
mite_transaction_total {test=\"S\",journey=\"m:j\",transaction=\"T\",had_error=\"False\"} 1

# TYPE mite_actual_count gauge
mite_actual_count {test=\"S\",scenario_id=\"1\"} 3

# TYPE mite_required_count gauge
mite_required_count {test=\"S\",scenario_id=\"1\"} 5

# TYPE mite_runner_count gauge
mite_runner_count {test=\"S\"} 1

# TYPE mite_http_response_total counter
mite_http_response_total {test=\"S\",journey=\"m:j\",transaction=\"T\",method=\"GET\",response_code=\"200\"} 2

# TYPE mite_http_response_time_seconds histogram
mite_http_response_time_seconds_bucket{transaction=\"T\",le=\"0.010000\"} 1
mite_http_response_time_seconds_bucket{transaction=\"T\",le=\"0.100000\"} 1
mite_http_response_time_seconds_bucket{transaction=\"T\",le=\"1.000000\"} 2
mite_http_response_time_seconds_bucket{transaction=\"T\",le=\"+Inf\"} 2
mite_http_response_time_seconds_sum{transaction=\"T\"} 0.505000
mite_http_response_time_seconds_count{transaction=\"T\"} 2
";
    assert_eq!(exporter.render(), expected);
}

#[test]
fn dumps_are_deltas_and_the_exporter_adds_counters_and_overwrites_gauges() {
    let mut table = builtin();
    let mut exporter = Exporter::new();
    for round in 0..3 {
        table.process(&http(2.0, 500));
        table.process(&report(round));
        for dump in table.dump() {
            exporter.apply(dump).unwrap();
        }
    }
    // Every stat appears in every dump, empty when nothing happened.
    let quiet = table.dump();
    assert_eq!(quiet.len(), 7);
    assert!(quiet.iter().all(|d| match &d.body {
        DumpBody::Counter(s) | DumpBody::Gauge(s) => s.is_empty(),
        DumpBody::Histogram { series, .. } => series.is_empty(),
    }));
    let text = exporter.render();
    assert!(text.contains("response_code=\"500\"} 3\n"), "{text}");
    assert!(text.contains("mite_actual_count {test=\"S\",scenario_id=\"1\"} 2\n"));
    assert!(text.contains("le=\"1.000000\"} 0\n"));
    assert!(text.contains("le=\"+Inf\"} 3\n"));
    assert!(text.contains("_sum{transaction=\"T\"} 6.000000\n"));
}

#[test]
fn histogram_buckets_are_cumulative_and_nan_lands_in_none() {
    let mut table = StatTable::new(mite_http_stats(vec![1.0, 2.0, 3.0]));
    for t in [0.5, 1.0, 2.5, 9.0, f64::NAN] {
        table.process(&http(t, 200));
    }
    let dumps = table.dump();
    let DumpBody::Histogram { series, .. } = &dumps[1].body else {
        panic!("not a histogram");
    };
    assert_eq!(series[0].1.cumulative, [2, 2, 3]);
    assert_eq!(series[0].1.count, 5);
}

#[test]
fn a_missing_value_field_is_skipped_not_fatal() {
    let mut table = StatTable::new(mite_stats());
    table.process(&Message::bare(keys::controller_report(), 1.0).with_field(keys::test(), "S"));
    let dumps = table.dump();
    assert!(dumps.iter().all(|d| match &d.body {
        DumpBody::Gauge(s) => s.is_empty(),
        _ => true,
    }));
}

#[test]
fn labels_outside_a_transaction_are_none_and_absent_fields_empty() {
    let mut table = StatTable::new(mite_stats());
    let mut msg = in_transaction("txn", vec![]);
    msg.transaction = None;
    table.process(&msg);
    let mut exporter = Exporter::new();
    for dump in table.dump() {
        exporter.apply(dump).unwrap();
    }
    assert!(exporter
        .render()
        .contains("{test=\"S\",journey=\"m:j\",transaction=\"None\",had_error=\"\"} 1\n"));
}

#[test]
fn dumps_round_trip_through_mites_wire_dicts() {
    let mut table = builtin();
    table.process(&http(0.05, 200));
    table.process(&report(2));
    table.process(&in_transaction(
        "txn",
        vec![("had_error", Value::Bool(true))],
    ));
    for dump in table.dump() {
        let value = dump.to_value();
        assert_eq!(StatDump::from_value(&value).unwrap(), dump);
    }
}

#[test]
fn a_wire_dict_has_mites_keys_and_tuple_keys() {
    let mut table = StatTable::new(mite_http_stats(vec![1.0]));
    table.process(&http(0.5, 200));
    let dumps = table.dump();
    let hist = dumps[1].to_value();
    let keys: Vec<&str> = match &hist {
        Value::Map(entries) => entries.iter().filter_map(|(k, _)| k.as_str()).collect(),
        _ => panic!(),
    };
    assert_eq!(
        keys,
        [
            "type",
            "name",
            "bin_counts",
            "sums",
            "total_counts",
            "bins",
            "labels"
        ]
    );
    assert_eq!(
        hist.get("bin_counts"),
        Some(&Value::Map(vec![(
            Value::Array(vec![Value::str("T")]),
            Value::Array(vec![Value::UInt(1)])
        )]))
    );
}

#[test]
fn malformed_dumps_are_one_line_errors() {
    let err = StatDump::from_value(&Value::Map(vec![])).unwrap_err();
    assert_eq!(err.to_string(), "malformed stats dump: no \"name\"");
    let odd = Value::Map(vec![
        (Value::str("type"), Value::str("Summary")),
        (Value::str("name"), Value::str("x")),
        (Value::str("labels"), Value::Array(vec![])),
    ]);
    assert_eq!(
        StatDump::from_value(&odd).unwrap_err().to_string(),
        "malformed stats dump: x: unknown stat type \"Summary\""
    );
}

#[test]
fn a_dump_of_another_kind_for_a_known_name_is_refused() {
    let mut exporter = Exporter::new();
    let dump = |body| StatDump {
        name: Arc::from("x"),
        labels: vec![],
        body,
    };
    exporter.apply(dump(DumpBody::Counter(vec![]))).unwrap();
    assert_eq!(
        exporter.apply(dump(DumpBody::Gauge(vec![]))),
        Err(MismatchError::Kind(Arc::from("x")))
    );
}

#[test]
fn the_live_processor_dumps_on_idle_and_at_finish() {
    use crate::bus::Processor;
    let shared = SharedExporter::new();
    let mut live = LiveStats::new(builtin(), shared.clone(), 100.0);
    live.process(&http(0.05, 200), &[], 100.1);
    assert_eq!(shared.render(), "", "not due yet");
    live.idle(100.3);
    assert!(shared.render().contains("le=\"+Inf\"} 1\n"));
    live.process(&http(0.05, 200), &[], 100.31);
    live.finish();
    assert!(shared.render().contains("le=\"+Inf\"} 2\n"));
}
