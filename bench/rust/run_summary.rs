//! The run summary's cost per message: `RunSummary::add` fed a live run's messages (an
//! `http_metrics` and a `txn` per journey, with mite-rs's interned keys and envelope), as the
//! bus thread does. Prints nanoseconds per message; under `valgrind --tool=callgrind` the
//! instruction count is repeatable.
//!
//!     cargo bench --bench run_summary [-- MESSAGES]

use std::sync::Arc;
use std::time::Instant;

use mite_core::messages::{keys, Envelope, Message, Value};
use mite_core::summary::RunSummary;

fn messages(journeys: u32) -> Vec<Message> {
    let envelope = Arc::new(Envelope::new(vec![
        (keys::test(), Value::str("m:s")),
        (keys::runner_id(), Value::UInt(1)),
        (keys::journey(), Value::str("m:journey")),
        (keys::context_id(), Value::UInt(3)),
        (keys::scenario_id(), Value::UInt(1)),
        (keys::scenario_data_id(), Value::UInt(5)),
    ]));
    let mut out = Vec::with_capacity(journeys as usize * 2);
    for i in 0..journeys {
        let t = 1000.0 + f64::from(i) / 5000.0;
        out.push(Message {
            kind: keys::http_metrics(),
            time: t,
            fields: vec![
                (keys::start_time(), Value::Int(1000)),
                (keys::effective_url(), Value::str("http://127.0.0.1/")),
                (keys::response_code(), Value::UInt(200)),
                (keys::dns_time(), Value::Float(0.0)),
                (keys::connect_time(), Value::Float(0.0)),
                (keys::tls_time(), Value::Float(0.0)),
                (keys::transfer_start_time(), Value::Float(0.0)),
                (keys::first_byte_time(), Value::Float(0.0)),
                (
                    keys::total_time(),
                    Value::Float(0.0002 + f64::from(i % 700) / 1e6),
                ),
                (keys::primary_ip(), Value::str("127.0.0.1")),
                (keys::method(), Value::Bin(b"GET".to_vec())),
                (keys::download_size(), Value::Float(100.0)),
            ],
            envelope: Some(envelope.clone()),
            transaction: Some((Arc::from("__root__"), 1)),
            has_transaction_keys: true,
        });
        out.push(Message {
            kind: keys::txn(),
            time: t,
            fields: vec![
                (keys::start_time(), Value::Float(t - 0.001)),
                (keys::end_time(), Value::Float(t)),
                (keys::had_error(), Value::Bool(i % 50 == 0)),
            ],
            envelope: Some(envelope.clone()),
            transaction: Some((Arc::from("__root__"), 1)),
            has_transaction_keys: true,
        });
    }
    out
}

fn main() {
    let count: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let batch = messages(count / 2);
    let mut summary = RunSummary::default();
    let started = Instant::now();
    for msg in &batch {
        summary.add(msg);
    }
    let elapsed = started.elapsed();
    assert_eq!(summary.requests(), u64::from(count / 2));
    println!(
        "run_summary: {} messages in {:.3} s, {:.1} ns per message",
        batch.len(),
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e9 / batch.len() as f64
    );
}
