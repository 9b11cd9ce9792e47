//! `--report` over a long run: ten minutes of responses at 5,000 per second (3 million
//! response times) fed to the console statistics keep their memory flat after the first
//! 100,000, and the report's percentiles of a known distribution stay within 0.1 %.
//!
//! Alone in its test binary, so the process's resident size is this test's.

use std::sync::Arc;

use mite_core::messages::{keys, Message, Value};
use mite_core::stats::{ConsoleOptions, ConsoleStats, ThresholdArgs, Thresholds};

const RATE: f64 = 5_000.0;
const TEN_MINUTES: usize = 3_000_000;

fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line")
}

/// Response time of the i-th response: 1 ms to 1000 ms, each equally often.
fn response_time(i: usize) -> f64 {
    ((i * 7919) % 1000 + 1) as f64 / 1000.0
}

fn feed(stats: &mut ConsoleStats, msg: &mut Message, range: std::ops::Range<usize>) {
    for i in range {
        msg.fields[0].1 = Value::Float(response_time(i));
        let _ = stats.process(msg, i as f64 / RATE);
    }
}

/// `Response time at 50th percentile exceeded 1ms: 500.50ms` -> 0.5005
fn seconds_in(failure: &str) -> f64 {
    let value = failure.rsplit(": ").next().unwrap();
    match value.strip_suffix("ms") {
        Some(ms) => ms.parse::<f64>().unwrap() / 1000.0,
        None => value.trim_end_matches('s').parse().unwrap(),
    }
}

#[test]
fn ten_minutes_of_response_times_take_flat_memory_and_give_percentiles_within_a_tenth_of_a_percent()
{
    let options = ConsoleOptions {
        journey_logging: false,
        hide_constant_logs: true,
        report: true,
    };
    let mut stats = ConsoleStats::new(options, 0.0);
    let mut msg = Message::bare(keys::http_metrics(), 0.0);
    msg.fields.push((keys::total_time(), Value::Float(0.0)));
    msg.fields
        .push((Arc::from("download_size"), Value::Int(100)));

    // Past the exact store's limit, then a minute more: the histogram has its final shape.
    feed(&mut stats, &mut msg, 0..400_000);
    let settled = resident_kib();
    feed(&mut stats, &mut msg, 400_000..TEN_MINUTES);
    let grown = resident_kib().saturating_sub(settled);
    // Keeping every sample (as mite does) would take 2.6 million more f64s: 20 MiB.
    assert!(
        grown < 2 * 1024,
        "resident size grew {grown} KiB over 2.6 million more response times"
    );

    let args = ThresholdArgs {
        benchmark_percentiles: "50:1,90:1,99:1",
        ..ThresholdArgs::default()
    };
    let evaluation = Thresholds::parse(&args)
        .unwrap()
        .evaluate(&stats, TEN_MINUTES as f64 / RATE + 1.0);
    assert!(evaluation.report.is_some());
    let values: Vec<f64> = evaluation
        .percentile_failures
        .iter()
        .map(|f| seconds_in(f))
        .collect();
    // statistics.quantiles(n=100) of 1..=1000 ms, each equally often: 500.5, 900.9, 990.99.
    for (got, exact) in values.iter().zip([0.5005, 0.9009, 0.99099]) {
        assert!(
            (got - exact).abs() / exact < 0.001,
            "{got} s against {exact} s ({:?})",
            evaluation.percentile_failures
        );
    }
    assert_eq!(values.len(), 3);
}
