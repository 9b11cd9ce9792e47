//! The whole native path: messages counted, dumped, added up and rendered.

use std::sync::Arc;

use super::*;
use crate::messages::{keys, Envelope, Message, Value};

fn envelope() -> Arc<Envelope> {
    Arc::new(Envelope::new(vec![
        (keys::test(), Value::str("S")),
        (keys::journey(), Value::str("m:j")),
    ]))
}

/// A field name as messages carry it: the shared copy where there is one.
fn key(name: &str) -> Arc<str> {
    keys::interned(name).unwrap_or_else(|| Arc::from(name))
}

fn in_transaction(kind: &str, fields: Vec<(&str, Value)>) -> Message {
    Message {
        kind: key(kind),
        time: 10.0,
        fields: fields.into_iter().map(|(k, v)| (key(k), v)).collect(),
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

/// The table's deltas added to a fresh exporter, rendered.
fn rendered(table: &mut StatTable) -> String {
    let mut exporter = Exporter::new();
    for dump in table.dump() {
        exporter.apply(dump).unwrap();
    }
    exporter.render()
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

#[test]
fn fields_are_found_wherever_they_are_in_a_message() {
    let mut table = StatTable::new(mite_http_stats(vec![1.0]));
    let mut reordered = http(0.5, 200);
    reordered.fields.reverse();
    let mut without_method = http(0.5, 404);
    without_method.fields.retain(|(k, _)| &**k != "method");
    for msg in [http(0.5, 200), reordered, without_method, http(0.5, 200)] {
        table.process(&msg);
    }
    let text = rendered(&mut table);
    assert!(
        text.contains("method=\"GET\",response_code=\"200\"} 3\n"),
        "{text}"
    );
    assert!(
        text.contains("method=\"\",response_code=\"404\"} 1\n"),
        "{text}"
    );
}

#[test]
fn equal_label_values_in_different_allocations_share_a_sample() {
    let mut table = StatTable::new(mite_stats());
    for _ in 0..3 {
        // A fresh envelope (and fresh strings) per message, as per journey.
        let mut msg = in_transaction("txn", vec![("had_error", Value::Bool(false))]);
        msg.transaction = Some((Arc::from(String::from("T").as_str()), 1));
        table.process(&msg);
    }
    let dumps = table.dump();
    let DumpBody::Counter(samples) = &dumps[1].body else {
        panic!("not a counter");
    };
    assert_eq!(samples.len(), 1);
    assert_eq!(samples[0].1, Number::Int(3));
}

#[test]
fn many_distinct_and_recurring_keys_are_counted_apart() {
    // More alternating label values than the recently-used list holds, with shared prefixes
    // and suffixes (which share a hash), each counted exactly.
    let mut table = StatTable::new(mite_stats());
    let names: Vec<String> = (0..9)
        .map(|i| format!("__root__ :: step {i} of the journey"))
        .collect();
    for round in 0..5 {
        for (i, name) in names.iter().enumerate() {
            let mut msg = in_transaction("txn", vec![("had_error", Value::Bool(round % 2 == 0))]);
            msg.transaction = Some((Arc::from(name.as_str()), i as u64));
            table.process(&msg);
        }
    }
    let dumps = table.dump();
    let DumpBody::Counter(samples) = &dumps[1].body else {
        panic!("not a counter");
    };
    assert_eq!(samples.len(), 18);
    let total: i64 = samples
        .iter()
        .map(|(_, n)| match n {
            Number::Int(i) => *i,
            Number::Float(_) => panic!("a count became a float"),
        })
        .sum();
    assert_eq!(total, 45);
    assert!(samples
        .iter()
        .all(|(_, n)| *n == Number::Int(3) || *n == Number::Int(2)));
}

/// Not a check: a workload for measuring the per-message cost under callgrind
/// (`cargo test --release -p mite-core --lib cost_probe -- --ignored`): the messages of
/// journeys as the runner sends them (its envelope, `http_metrics` with all their fields, two
/// `txn`s), two journeys interleaved.
#[test]
#[ignore]
fn cost_probe() {
    let mut table = builtin();
    // As the runner has them: one copy of the test's and the journey's names, a fresh
    // transaction name per transaction.
    let (test, spec) = (
        Value::str("bench:scenario"),
        Value::str("fixed_work:one_request"),
    );
    let journey = |context: u64| {
        Arc::new(Envelope::new(vec![
            (keys::test(), test.clone()),
            (keys::runner_id(), Value::UInt(1)),
            (keys::journey(), spec.clone()),
            (keys::context_id(), Value::UInt(context)),
            (keys::scenario_id(), Value::UInt(1)),
            (keys::scenario_data_id(), Value::UInt(context)),
        ]))
    };
    for i in 0..50_000u64 {
        for envelope in [journey(2 * i), journey(2 * i + 1)] {
            let names: [Arc<str>; 2] = [
                Arc::from(format!("{} :: Request", "__root__")),
                Arc::from(String::from("__root__")),
            ];
            let fields = [
                ("start_time", Value::Int(1)),
                ("effective_url", Value::str("http://127.0.0.1/")),
                ("response_code", Value::UInt(200)),
                ("dns_time", Value::Float(0.0)),
                ("connect_time", Value::Float(0.0)),
                ("tls_time", Value::Float(0.0)),
                ("transfer_start_time", Value::Float(0.0)),
                ("first_byte_time", Value::Float(0.001)),
                ("total_time", Value::Float(0.001 * (i % 50) as f64)),
                ("primary_ip", Value::str("127.0.0.1")),
                ("method", Value::Bin(b"GET".to_vec())),
                ("download_size", Value::Float(612.0)),
            ];
            let mut msg = in_transaction("http_metrics", fields.to_vec());
            msg.envelope = Some(envelope.clone());
            msg.transaction = Some((names[0].clone(), 2));
            table.process(&msg);
            for name in &names {
                let mut txn = in_transaction("txn", vec![("had_error", Value::Bool(false))]);
                txn.envelope = Some(envelope.clone());
                txn.transaction = Some((name.clone(), 1));
                table.process(&txn);
            }
        }
        if i % 5_000 == 0 {
            let _ = table.dump();
        }
    }
}

#[test]
fn envelopes_that_differ_give_each_message_its_own_labels() {
    let other = Arc::new(Envelope::new(vec![
        (keys::journey(), Value::str("m:other")),
        (keys::test(), Value::str("S")),
        (key("method"), Value::str("FROM-ENVELOPE")),
    ]));
    let mut table = StatTable::new(mite_http_stats(vec![1.0]));
    for i in 0..6 {
        let mut msg = http(0.5, 200);
        if i % 2 == 1 {
            msg.envelope = Some(other.clone());
        }
        table.process(&msg);
    }
    let text = rendered(&mut table);
    assert!(
        text.contains(
            "journey=\"m:j\",transaction=\"T\",method=\"GET\",response_code=\"200\"} 3\n"
        ),
        "{text}"
    );
    // The envelope's field wins over the message's own, as in Message::get.
    assert!(text.contains("journey=\"m:other\",transaction=\"T\",method=\"FROM-ENVELOPE\",response_code=\"200\"} 3\n"), "{text}");
}

#[test]
fn a_missing_field_and_an_empty_string_are_one_label_value() {
    // mite's extractor puts "" for a missing field: the same series as a field that is "".
    let mut table = StatTable::new(mite_stats());
    table.process(&in_transaction("txn", vec![]));
    table.process(&in_transaction("txn", vec![("had_error", Value::str(""))]));
    let text = rendered(&mut table);
    assert_eq!(text.matches("had_error=\"\"}").count(), 1, "{text}");
    assert!(text.contains("had_error=\"\"} 2"), "{text}");
}

#[test]
fn an_envelope_field_wins_over_the_messages_own() {
    // Skipping envelopes by key bit must not skip one that has the key.
    let mut table = StatTable::new(mite_stats());
    let mut msg = in_transaction("txn", vec![("journey", Value::str("own"))]);
    table.process(&msg);
    msg.envelope = Some(Arc::new(Envelope::new(vec![(
        keys::test(),
        Value::str("S"),
    )])));
    table.process(&msg);
    let text = rendered(&mut table);
    assert!(text.contains("journey=\"m:j\""), "{text}");
    assert!(text.contains("journey=\"own\""), "{text}");
}

#[test]
fn stats_sharing_a_type_keep_their_own_labels_and_samples() {
    // Both HTTP stats are counted from one lookup of the route's labels; each still groups
    // by its own labels, across dumps.
    let mut table = StatTable::new(mite_http_stats(vec![1.0]));
    for code in [200, 500, 200] {
        table.process(&http(0.5, code));
    }
    let first = rendered(&mut table);
    assert!(first.contains("response_code=\"200\"} 2"), "{first}");
    assert!(first.contains("response_code=\"500\"} 1"), "{first}");
    assert!(
        first.contains("mite_http_response_time_seconds_count{transaction=\"T\"} 3"),
        "{first}"
    );
    table.process(&http(0.5, 500));
    let second = rendered(&mut table);
    assert!(second.contains("response_code=\"500\"} 1"), "{second}");
    assert!(!second.contains("response_code=\"200\""), "{second}");
    assert!(
        second.contains("mite_http_response_time_seconds_count{transaction=\"T\"} 1"),
        "{second}"
    );
}

#[test]
fn labels_of_other_types_show_their_python_text() {
    let mut table = StatTable::new(mite_stats());
    for value in [Value::Float(1.5), Value::UInt(u64::MAX), Value::Float(1.5)] {
        table.process(&in_transaction("txn", vec![("had_error", value)]));
    }
    let text = rendered(&mut table);
    assert!(text.contains("had_error=\"1.5\"} 2"), "{text}");
    assert!(
        text.contains(&format!("had_error=\"{}\"}} 1", u64::MAX)),
        "{text}"
    );
}

#[test]
fn arrival_rate_stats_count_only_what_feeds_them_and_stay_out_of_dumps_until_then() {
    let mut table = builtin();
    table.process(&http(0.2, 200));
    table.process(&report(3));
    let names: Vec<String> = table.dump().iter().map(|d| d.name.to_string()).collect();
    assert!(!names
        .iter()
        .any(|n| n.contains("intended") || n.starts_with("mite_starts")));

    // A journey of an arrival-rate scenario: its envelope says how late it started.
    let mut late = http(0.2, 200);
    late.envelope = Some(Arc::new(Envelope::new(vec![
        (keys::test(), Value::str("S")),
        (keys::journey(), Value::str("m:j")),
        (keys::start_delay(), Value::Float(0.7)),
    ])));
    table.process(&late);
    table.process(&http(0.05, 200));
    table.process(
        &report(3)
            .with_field(
                keys::starts_scheduled(),
                Value::Map(vec![(Value::Int(1), Value::Int(40))]),
            )
            .with_field(
                keys::starts_dropped(),
                Value::Map(vec![(Value::Int(1), Value::Int(2))]),
            ),
    );
    let text = rendered(&mut table);
    // 0.2 s served, 0.9 s from the intended start: only the late request is counted.
    assert!(text.contains(
        "mite_http_response_time_from_intended_start_seconds_bucket{transaction=\"T\",le=\"1.000000\"} 1\n"
    ));
    assert!(text.contains(
        "mite_http_response_time_from_intended_start_seconds_bucket{transaction=\"T\",le=\"0.100000\"} 0\n"
    ));
    assert!(text.contains(
        "mite_http_response_time_from_intended_start_seconds_sum{transaction=\"T\"} 0.900000\n"
    ));
    assert!(text.contains("mite_starts_scheduled {test=\"S\",scenario_id=\"1\"} 40\n"));
    assert!(text.contains("mite_starts_dropped {test=\"S\",scenario_id=\"1\"} 2\n"));
    assert!(text.contains("mite_http_response_time_seconds_count{transaction=\"T\"} 2\n"));
}
