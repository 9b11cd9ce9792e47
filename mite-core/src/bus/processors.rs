//! The Rust message processors of an in-process run, as bus [`Processor`]s: mite's
//! `DebugMessageOutput`, the recorder, `HttpStatsOutput`, `MsgOutput` and the collector, in
//! mite's order, and the end-of-run verdict from the console statistics.

use std::any::Any;
use std::path::PathBuf;

use super::Processor;
use crate::clock::unix_time;
use crate::collector::Collector;
use crate::messages::{Message, Value};
use crate::prometheus::LiveStats;
use crate::recorder::{Recorder, RecorderOutcome, PURGE_MISSING_LOG};
use crate::stats::{
    format_debug_log, format_exception_log, ConsoleOptions, ConsoleStats, Evaluation,
    ThresholdArgs, ThresholdError, Thresholds, HTTP_STATS_LOGGER, MSG_LOGGER,
};

/// Decides from a message's msgpack bytes whether the collector keeps it
/// (`--collector-filter`).
pub trait CollectorFilter: Send {
    fn keep(&mut self, raw: &[u8]) -> bool;
}

/// Which of mite's `mite.logoutput` processors `--message-processors` names.
#[derive(Debug, Default, Clone, Copy)]
pub struct BuiltinSet {
    pub http_stats: bool,
    pub msg_output: bool,
    pub debug_output: bool,
}

impl BuiltinSet {
    /// Enables the built-in processor `spec` names; false if it is not a built-in.
    pub fn enable(&mut self, spec: &str) -> bool {
        match spec {
            "mite.logoutput:HttpStatsOutput" => self.http_stats = true,
            "mite.logoutput:MsgOutput" => self.msg_output = true,
            "mite.logoutput:DebugMessageOutput" => self.debug_output = true,
            _ => return false,
        }
        true
    }
}

pub struct ProcessorConfig {
    pub builtins: BuiltinSet,
    pub recorder_dir: PathBuf,
    pub collector_dir: PathBuf,
    pub collector_roll: u64,
    pub collector_use_json: bool,
    pub collector_filter: Option<Box<dyn CollectorFilter>>,
    pub journey_logging: bool,
    pub hide_constant_logs: bool,
    pub report: bool,
    /// The stats behind `--prometheus-address`, when it is given.
    pub live_stats: Option<LiveStats>,
}

/// Why the processors could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("recorder directory {}: {source}", dir.display())]
    RecorderDir {
        dir: PathBuf,
        source: crate::recorder::RecorderError,
    },
    #[error("collector directory {}: {source}", dir.display())]
    CollectorDir {
        dir: PathBuf,
        source: crate::collector::CollectorError,
    },
}

/// The processors in mite's order, then the live stats. Fails if a directory cannot be
/// created.
pub fn build(config: ProcessorConfig) -> Result<Vec<Box<dyn Processor>>, BuildError> {
    let recorder =
        Recorder::new(&config.recorder_dir).map_err(|source| BuildError::RecorderDir {
            dir: config.recorder_dir.clone(),
            source,
        })?;
    log::info!(target: "mite.recorder", "Starting recorder");
    let collector = Collector::new(
        &config.collector_dir,
        config.collector_roll,
        None,
        config.collector_use_json,
    )
    .map_err(|source| BuildError::CollectorDir {
        dir: config.collector_dir.clone(),
        source,
    })?;
    log::info!(target: "mite.collector", "Initializing collector");
    let builtins = config.builtins;
    // The console statistics always run: the error threshold needs their counts even when
    // HttpStatsOutput is not listed (mite crashes then).
    let console_options = ConsoleOptions {
        journey_logging: config.journey_logging && builtins.http_stats,
        hide_constant_logs: config.hide_constant_logs || !builtins.http_stats,
        report: config.report,
    };
    let mut processors: Vec<Box<dyn Processor>> = vec![
        Box::new(DebugOutput),
        Box::new(RecorderProcessor {
            recorder,
            errors: 0,
        }),
        Box::new(ConsoleProcessor {
            stats: ConsoleStats::new(console_options, unix_time()),
        }),
    ];
    if builtins.msg_output {
        processors.push(Box::new(MsgOutput));
    }
    processors.push(Box::new(CollectorProcessor {
        collector,
        filter: config.collector_filter,
        errors: 0,
    }));
    if let Some(live) = config.live_stats {
        processors.push(Box::new(live));
    }
    Ok(processors)
}

/// Logs every 1st, 10th, 100th, … failure of a processor, so a persistent fault (a full disk)
/// is visible without drowning the console.
fn should_log(errors: &mut u64) -> bool {
    *errors += 1;
    let n = *errors;
    n < 10 || n.is_power_of_two() && n >= 1024 || (n % 10_000 == 0)
}

/// mite's `DebugMessageOutput`: `debug_console_message` texts at INFO.
struct DebugOutput;

impl Processor for DebugOutput {
    fn process(&mut self, msg: &Message, _raw: &[u8], _now: f64) {
        if &*msg.kind != "debug_console_message" {
            return;
        }
        match msg.get("text") {
            Some(Value::Str(text)) if !text.is_empty() => {
                log::info!(target: "Debug Logger", "{text}");
            }
            _ => {}
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

struct RecorderProcessor {
    recorder: Recorder,
    errors: u64,
}

impl Processor for RecorderProcessor {
    fn process(&mut self, msg: &Message, _raw: &[u8], _now: f64) {
        match self.recorder.process(msg) {
            Ok(RecorderOutcome::PurgeMissing) => {
                log::info!(target: "mite.recorder", "{PURGE_MISSING_LOG}");
            }
            Ok(_) => {}
            Err(e) => {
                if should_log(&mut self.errors) {
                    log::error!(target: "mite.recorder", "recording a {} message failed: {e}", msg.kind);
                }
            }
        }
    }

    fn finish(&mut self) {
        if let Err(e) = self.recorder.flush() {
            log::error!(target: "mite.recorder", "closing recorder files failed: {e}");
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// mite's `HttpStatsOutput`: the two-second stats lines, and the figures for the verdict.
pub struct ConsoleProcessor {
    pub stats: ConsoleStats,
}

impl Processor for ConsoleProcessor {
    fn process(&mut self, msg: &Message, _raw: &[u8], now: f64) {
        for line in self.stats.process(msg, now) {
            log::info!(target: HTTP_STATS_LOGGER, "{line}");
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// mite's `MsgOutput`: journey exceptions with their stack traces at WARNING, every message
/// at DEBUG.
struct MsgOutput;

impl Processor for MsgOutput {
    fn process(&mut self, msg: &Message, _raw: &[u8], _now: f64) {
        if let Some(text) = format_exception_log(msg) {
            log::warn!(target: MSG_LOGGER, "{text}");
        } else if log::log_enabled!(target: MSG_LOGGER, log::Level::Debug) {
            log::debug!(target: MSG_LOGGER, "{}", format_debug_log(msg));
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

struct CollectorProcessor {
    collector: Collector,
    filter: Option<Box<dyn CollectorFilter>>,
    errors: u64,
}

impl Processor for CollectorProcessor {
    fn process(&mut self, _msg: &Message, raw: &[u8], _now: f64) {
        let keep = self.filter.as_mut().is_none_or(|f| f.keep(raw));
        if let Err(e) = self.collector.process_raw(raw, keep) {
            if should_log(&mut self.errors) {
                log::error!(target: "mite.collector", "collecting a message failed: {e}");
            }
        }
    }

    fn wants_raw(&self) -> bool {
        true
    }

    fn finish(&mut self) {
        if let Err(e) = self.collector.flush() {
            log::error!(target: "mite.collector", "flushing the collector failed: {e}");
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The end-of-run checks: thresholds and the optional report.
pub struct Verdict {
    thresholds: Thresholds,
}

impl Verdict {
    /// Parses the threshold options. `--benchmark-percentiles` only matters with `--report`
    /// (as in mite, which parses it only then).
    pub fn new(args: &ThresholdArgs<'_>, report: bool) -> Result<Self, ThresholdError> {
        let mut args = *args;
        if !report {
            args.benchmark_percentiles = ThresholdArgs::default().benchmark_percentiles;
        }
        Thresholds::parse(&args).map(|thresholds| Verdict { thresholds })
    }

    /// Evaluates the run: logs failures, prints the report; `failed()` tells if it failed.
    pub fn judge(&self, processors: &[Box<dyn Processor>]) -> Evaluation {
        let Some(console) = processors
            .iter()
            .find_map(|p| p.as_any().downcast_ref::<ConsoleProcessor>())
        else {
            return Evaluation::default();
        };
        let evaluation = self.thresholds.evaluate(&console.stats, unix_time());
        for failure in &evaluation.failures {
            log::error!(target: "mite", "{failure}");
        }
        if let Some(report) = &evaluation.report {
            print!("{report}");
        }
        for failure in &evaluation.percentile_failures {
            log::error!(target: "mite", "{failure}");
        }
        evaluation
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::bus::Bus;
    use crate::messages::{decode_stream, keys, Envelope};

    fn config(dir: &std::path::Path) -> ProcessorConfig {
        ProcessorConfig {
            builtins: BuiltinSet {
                http_stats: true,
                msg_output: true,
                debug_output: true,
            },
            recorder_dir: dir.join("recorder"),
            collector_dir: dir.join("collector"),
            collector_roll: 100_000,
            collector_use_json: false,
            collector_filter: None,
            journey_logging: false,
            hide_constant_logs: true,
            report: false,
            live_stats: None,
        }
    }

    fn journey_message(kind: &str, fields: Vec<(Arc<str>, Value)>) -> Message {
        Message {
            kind: Arc::from(kind),
            time: 1.0,
            fields,
            envelope: Some(Arc::new(Envelope::new(vec![(
                keys::journey(),
                Value::str("m:j"),
            )]))),
            transaction: Some((Arc::from("__root__"), 1)),
            has_transaction_keys: true,
        }
    }

    #[test]
    fn a_run_records_collects_and_counts_errors() {
        let dir = tempfile::tempdir().unwrap();
        let bus = Bus::start(build(config(dir.path())).unwrap()).unwrap();
        let sender = bus.sender();
        sender.send(journey_message(
            "data_created",
            vec![
                (keys::name(), Value::str("users")),
                (
                    keys::data(),
                    Value::Map(vec![(Value::str("username"), Value::str("u1"))]),
                ),
            ],
        ));
        sender.send(journey_message(
            "exception",
            vec![
                (keys::message(), Value::str("ValueError: x")),
                (keys::ex_type(), Value::str("ValueError")),
                (keys::location(), Value::str("f.py:1:j")),
                (keys::stacktrace(), Value::str("  File ...\n")),
            ],
        ));
        let processors = bus.stop();

        let recorded = std::fs::read(dir.path().join("recorder/users.msgpack")).unwrap();
        assert_eq!(
            decode_stream(&recorded).unwrap(),
            [Value::Map(vec![(Value::str("username"), Value::str("u1"))])]
        );
        let collected = std::fs::read(dir.path().join("collector/current")).unwrap();
        let messages = decode_stream(&collected).unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!(
            messages[1].get("stacktrace"),
            Some(&Value::str("  File ...\n"))
        );

        let strict = Verdict::new(&ThresholdArgs::default(), false).unwrap();
        assert!(
            strict.judge(&processors).failed(),
            "one error exceeds the default threshold 0"
        );
        let lenient = Verdict::new(
            &ThresholdArgs {
                max_errors: "1",
                ..ThresholdArgs::default()
            },
            false,
        )
        .unwrap();
        assert!(!lenient.judge(&processors).failed());
    }

    #[test]
    fn the_collector_filter_sees_raw_bytes_and_drops_what_it_rejects() {
        struct OnlyTxn;
        impl CollectorFilter for OnlyTxn {
            fn keep(&mut self, raw: &[u8]) -> bool {
                decode_stream(raw).unwrap()[0].get("type") == Some(&Value::str("txn"))
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path());
        config.collector_filter = Some(Box::new(OnlyTxn));
        let bus = Bus::start(build(config).unwrap()).unwrap();
        bus.sender().send(journey_message("txn", vec![]));
        bus.sender().send(journey_message("other", vec![]));
        bus.stop();
        let collected = std::fs::read(dir.path().join("collector/current")).unwrap();
        assert_eq!(decode_stream(&collected).unwrap().len(), 1);
    }

    #[test]
    fn bad_thresholds_are_refused_up_front() {
        let args = ThresholdArgs {
            max_errors: "lots",
            ..ThresholdArgs::default()
        };
        assert!(Verdict::new(&args, false).is_err());
    }
}
