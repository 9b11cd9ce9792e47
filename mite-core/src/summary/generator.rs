//! The load generator's own figures over a run, from its runners' `runner_health` and
//! `blocking_call` messages (`crate::health`): whether it, not the target, was the limit.

use std::collections::BTreeMap;
use std::sync::Arc;

use indexmap::IndexMap;
use rustc_hash::FxBuildHasher;

use super::view::MessageView;
use crate::health::LIMITED_SECONDS;
use crate::messages::Value;

/// Places of blocking calls told apart; later ones are counted in `blocking_other`.
const MAX_BLOCKING_PLACES: usize = 20;

/// One place where a blocking call held the event loop.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct BlockingPlace {
    pub(crate) function: Arc<str>,
    pub(crate) code: Arc<str>,
    pub(crate) count: u64,
    pub(crate) max_seconds: f64,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct GeneratorTotals {
    /// Runner-seconds sampled, and those over a limit.
    pub(crate) seconds: u64,
    pub(crate) limited_seconds: u64,
    /// The longest run of consecutive limited seconds of one runner.
    pub(crate) longest_limited: u64,
    /// Each runner's current run of limited seconds.
    current: BTreeMap<u64, u64>,
    pub(crate) lag_p90_max: f64,
    pub(crate) lag_max: f64,
    pub(crate) cpu_max: f64,
    cpu_sum: f64,
    pub(crate) cores: u64,
    pub(crate) late_starts: u64,
    pub(crate) start_delay_max: f64,
    pub(crate) blocking: IndexMap<(Arc<str>, u64), BlockingPlace, FxBuildHasher>,
    pub(crate) blocking_other: u64,
}

fn number(msg: &impl MessageView, key: &str) -> f64 {
    msg.field(key)
        .and_then(Value::as_f64)
        .filter(|v| v.is_finite() && *v >= 0.0)
        .unwrap_or(0.0)
}

fn text(msg: &impl MessageView, key: &str) -> Arc<str> {
    match msg.field(key) {
        Some(Value::Str(s)) => s.clone(),
        _ => Arc::from(""),
    }
}

impl GeneratorTotals {
    /// Whether any runner said anything about itself.
    pub(crate) fn seen(&self) -> bool {
        self.seconds > 0 || !self.blocking.is_empty() || self.blocking_other > 0
    }

    /// The generator was the limit: some runner was over a limit for [`LIMITED_SECONDS`]
    /// seconds in a row.
    pub(crate) fn limited(&self) -> bool {
        self.longest_limited >= u64::from(LIMITED_SECONDS)
    }

    /// The mean CPU use over the sampled runner-seconds, percent of the usable cores.
    pub(crate) fn cpu_mean(&self) -> f64 {
        if self.seconds == 0 {
            0.0
        } else {
            self.cpu_sum / self.seconds as f64
        }
    }

    pub(crate) fn add_health(&mut self, msg: &impl MessageView) {
        self.seconds += 1;
        self.lag_p90_max = self.lag_p90_max.max(number(msg, "loop_lag_p90"));
        self.lag_max = self.lag_max.max(number(msg, "loop_lag_max"));
        let cpu = number(msg, "cpu_percent");
        self.cpu_max = self.cpu_max.max(cpu);
        self.cpu_sum += cpu;
        self.cores = self.cores.max(number(msg, "cores") as u64);
        self.late_starts += number(msg, "late_starts") as u64;
        self.start_delay_max = self.start_delay_max.max(number(msg, "start_delay_max"));
        let runner = number(msg, "runner_id") as u64;
        let run = self.current.entry(runner).or_insert(0);
        if matches!(msg.field("limited"), Some(Value::Bool(true))) {
            self.limited_seconds += 1;
            *run += 1;
            self.longest_limited = self.longest_limited.max(*run);
        } else {
            *run = 0;
        }
    }

    pub(crate) fn add_blocking(&mut self, msg: &impl MessageView) {
        let key = (text(msg, "file"), number(msg, "line") as u64);
        let seconds = number(msg, "seconds");
        if !self.blocking.contains_key(&key) && self.blocking.len() >= MAX_BLOCKING_PLACES {
            self.blocking_other += 1;
            return;
        }
        let place = self.blocking.entry(key).or_insert_with(|| BlockingPlace {
            function: text(msg, "function"),
            code: text(msg, "code"),
            ..BlockingPlace::default()
        });
        place.count += 1;
        place.max_seconds = place.max_seconds.max(seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(runner: u64, limited: bool, lag: f64) -> Value {
        Value::Map(vec![
            (Value::str("type"), Value::str("runner_health")),
            (Value::str("runner_id"), Value::UInt(runner)),
            (Value::str("loop_lag_p90"), Value::Float(lag)),
            (Value::str("loop_lag_max"), Value::Float(lag * 2.0)),
            (Value::str("cpu_percent"), Value::Float(50.0)),
            (Value::str("cores"), Value::UInt(2)),
            (Value::str("limited"), Value::Bool(limited)),
        ])
    }

    #[test]
    fn a_run_of_limited_seconds_of_one_runner_makes_the_generator_the_limit() {
        let mut g = GeneratorTotals::default();
        // Two runners each over a limit now and then: never three seconds in a row.
        for (runner, limited) in [(1, true), (2, true), (1, true), (2, false), (1, false)] {
            g.add_health(&health(runner, limited, 0.02));
        }
        assert!(!g.limited());
        assert_eq!((g.limited_seconds, g.longest_limited), (3, 2));
        for _ in 0..3 {
            g.add_health(&health(2, true, 0.03));
        }
        assert!(g.limited());
        assert_eq!(g.lag_max, 0.06);
        assert_eq!(g.cpu_mean(), 50.0);
    }

    #[test]
    fn blocking_calls_are_grouped_by_place() {
        let mut g = GeneratorTotals::default();
        let call = |line: u64, seconds: f64| {
            Value::Map(vec![
                (Value::str("file"), Value::str("/p/j.py")),
                (Value::str("line"), Value::UInt(line)),
                (Value::str("function"), Value::str("journey")),
                (Value::str("code"), Value::str("time.sleep(1)")),
                (Value::str("seconds"), Value::Float(seconds)),
            ])
        };
        g.add_blocking(&call(7, 1.0));
        g.add_blocking(&call(7, 1.5));
        g.add_blocking(&call(9, 0.2));
        assert_eq!(g.blocking.len(), 2);
        let place = &g.blocking[&(Arc::from("/p/j.py"), 7)];
        assert_eq!((place.count, place.max_seconds), (2, 1.5));
        assert!(g.seen() && !g.limited());
    }
}
