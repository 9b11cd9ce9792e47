use std::fmt;
use std::str::FromStr;

use clap::{Args, Subcommand};

/// A number given on the command line, keeping the text as typed (mite hands processors
/// the raw option strings).
#[derive(Debug, Clone, PartialEq)]
pub struct Num<T> {
    pub text: String,
    pub value: T,
}

impl<T: FromStr> FromStr for Num<T> {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .parse()
            .map(|value| Num {
                text: s.to_owned(),
                value,
            })
            .map_err(|_| format!("'{s}' is not a valid number"))
    }
}

impl<T: PartialEq> PartialEq<T> for Num<T> {
    fn eq(&self, other: &T) -> bool {
        self.value == *other
    }
}

impl<T: fmt::Display> fmt::Display for Num<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario in this process (controller and runner together).
    #[command(subcommand)]
    Scenario(ScenarioCommand),
    /// Run one journey in this process.
    #[command(subcommand)]
    Journey(JourneyCommand),
    /// Print a msgpack file (collector or recorder data) as one JSON document per line.
    Cat {
        #[arg(value_name = "MSGPACK_FILE_PATH")]
        file: String,
    },
    /// Read JSON lines on stdin and write them to stdout as msgpack.
    Uncat,
    /// Summarise a run afterwards from its collector files (msgpack or JSON lines), as a
    /// test run does at its end.
    Report {
        /// Collector files (`collector_data/current` and the rolled ones), in any order.
        #[arg(value_name = "FILE", required = true)]
        files: Vec<String>,
    },
    /// Share a scenario's work across runners on --controller-socket (distributed mode).
    Controller {
        /// `module:function` returning the scenario's (journey, datapool, volume model) list.
        #[arg(value_name = "SCENARIO_SPEC")]
        spec: String,
    },
    /// Run journeys for the controller at --controller-socket; messages to --message-socket.
    Runner,
    /// Forward every message from --message-socket (bound) to each OUT_SOCKET (bound).
    Duplicator {
        /// Addresses to bind, each getting every message.
        #[arg(value_name = "OUT_SOCKET", required = true)]
        out_sockets: Vec<String>,
    },
    /// Hand the messages from RECEIVE_SOCKET to the --processor classes.
    Receiver {
        /// Address to connect to.
        #[arg(value_name = "RECEIVE_SOCKET")]
        receive_socket: String,
        /// `module:Class` instantiated with no arguments, with `process_message(dict)` and/or
        /// `process_raw_message(bytes)` (repeatable).
        #[arg(long = "processor", value_name = "PROCESSOR")]
        processors: Vec<String>,
    },
    /// Write the messages from --collector-socket into rolling files in --collector-dir.
    Collector,
    /// Append data_created messages from --recorder-socket to --recorder-dir.
    Recorder,
    /// Count the messages from --stats-in-socket; send the stats to --stats-out-socket.
    Stats,
    /// Add up the stats from --stats-out-socket (bound); serve /metrics on --web-address.
    #[command(name = "prometheus_exporter")]
    PrometheusExporter,
    /// Serve the bundled demo target (the walkthrough's user API) until Ctrl-C.
    DemoApp {
        /// Address to bind.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Port to bind (0: any free port).
        #[arg(long, default_value = "8000")]
        port: u16,
        /// Worker threads (0: one per core).
        #[arg(long, default_value = "0")]
        threads: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScenarioCommand {
    /// `mite scenario test SCENARIO_SPEC`
    Test {
        /// `module:function` returning the scenario's (journey, datapool, volume model) list.
        #[arg(value_name = "SCENARIO_SPEC")]
        spec: String,
    },
    /// Check a scenario without running it: imports, shapes, async journeys that take their
    /// datapool's items, and each volume model's plan over time. Exit 1 on any problem.
    Check {
        /// `module:function` returning the scenario's (journey, datapool, volume model) list.
        #[arg(value_name = "SCENARIO_SPEC")]
        spec: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum JourneyCommand {
    /// Run a journey at `--volume` concurrency until stopped (or its datapool runs out).
    Test {
        #[arg(value_name = "JOURNEY_SPEC")]
        journey: String,
        #[arg(value_name = "DATAPOOL_SPEC")]
        datapool: Option<String>,
    },
    /// Run a journey once (with the first item of the datapool, if given).
    Run {
        #[arg(value_name = "JOURNEY_SPEC")]
        journey: String,
        #[arg(value_name = "DATAPOOL_SPEC")]
        datapool: Option<String>,
    },
}

/// Every option of mite's CLI; all are accepted by every command.
#[derive(Debug, Args)]
pub struct Options {
    /// Post-mortem debugging of journey errors, then exit.
    #[arg(long, global = true)]
    pub debugging: bool,
    /// Log the top allocations (tracemalloc) every 60 seconds.
    #[arg(long, global = true)]
    pub memory_tracing: bool,
    /// DEBUG, INFO, WARNING, ERROR or CRITICAL.
    #[arg(long, global = true, value_name = "LEVEL", default_value = "INFO")]
    pub log_level: String,
    /// Callable returning the initial config dict.
    #[arg(
        long,
        global = true,
        value_name = "CONFIG_SPEC",
        default_value = "mite.config:default_config_loader"
    )]
    pub config: String,
    /// `key:value` added to the config (repeatable).
    #[arg(long, global = true, value_name = "NEW_VALUE")]
    pub add_to_config: Vec<String>,
    /// Journeys per second by which total concurrency may grow.
    #[arg(
        long,
        global = true,
        value_name = "NUM_PER_SECOND",
        default_value = "1000"
    )]
    pub spawn_rate: Num<f64>,
    /// The most seconds between volume model evaluations, or between a runner's work requests.
    #[arg(long, global = true, value_name = "SECONDS", default_value = "1")]
    pub max_loop_delay: Num<f64>,
    /// The fewest seconds between a runner's work requests (mite takes it and uses it nowhere).
    #[arg(long, global = true, value_name = "SECONDS")]
    pub min_loop_delay: Option<Num<f64>>,
    /// The most journeys one runner (or this process) runs at once.
    #[arg(long, global = true, value_name = "NUMBER")]
    pub runner_max_journeys: Option<Num<u64>>,
    /// The controller's REP socket (bound by `controller`, connected by `runner`).
    #[arg(
        long,
        global = true,
        value_name = "SOCKET",
        default_value = "tcp://127.0.0.1:14301"
    )]
    pub controller_socket: String,
    /// Where runners and the controller push their messages (the duplicator binds it).
    #[arg(
        long,
        global = true,
        value_name = "SOCKET",
        default_value = "tcp://127.0.0.1:14302"
    )]
    pub message_socket: String,
    /// The duplicator output `collector` reads from.
    #[arg(
        long,
        global = true,
        value_name = "SOCKET",
        default_value = "tcp://127.0.0.1:14303"
    )]
    pub collector_socket: String,
    /// The duplicator output `stats` reads from.
    #[arg(
        long,
        global = true,
        value_name = "SOCKET",
        default_value = "tcp://127.0.0.1:14304"
    )]
    pub stats_in_socket: String,
    /// Where `stats` sends its dumps (the exporter binds it).
    #[arg(
        long,
        global = true,
        value_name = "SOCKET",
        default_value = "tcp://127.0.0.1:14305"
    )]
    pub stats_out_socket: String,
    /// Comma-separated stats processors to use (entry points of `mite_stats`).
    #[arg(long, global = true, value_name = "PROCESSORS")]
    pub stats_include_processors: Option<String>,
    /// Comma-separated stats processors to leave out.
    #[arg(long, global = true, value_name = "PROCESSORS")]
    pub stats_exclude_processors: Option<String>,
    /// The duplicator output `recorder` reads from.
    #[arg(
        long,
        global = true,
        value_name = "SOCKET",
        default_value = "tcp://127.0.0.1:14306"
    )]
    pub recorder_socket: String,
    /// Seconds to wait before time zero.
    #[arg(long, global = true, value_name = "DELAY", default_value = "0")]
    pub delay_start_seconds: Num<f64>,
    /// Concurrency for `journey test`.
    #[arg(long, global = true, value_name = "VOLUME", default_value = "1")]
    pub volume: Num<f64>,
    /// Where `prometheus_exporter` serves /metrics.
    #[arg(
        long,
        global = true,
        value_name = "HOST_PORT",
        default_value = "127.0.0.1:9301"
    )]
    pub web_address: String,
    /// Serve the run's stats as Prometheus metrics on http://[HOST:]PORT/metrics while
    /// `scenario test` or `journey test|run` runs (HOST defaults to 127.0.0.1). Off unless given.
    #[arg(long, global = true, value_name = "[HOST:]PORT")]
    pub prometheus_address: Option<String>,
    /// The message transport: ZMQ (the only one).
    #[arg(long, global = true, value_name = "BACKEND", default_value = "ZMQ")]
    pub message_backend: String,
    /// Do not put the working directory first on sys.path.
    #[arg(long, global = true)]
    pub exclude_working_directory: bool,
    /// Where the collector writes its rolling files.
    #[arg(
        long,
        global = true,
        value_name = "DIRECTORY",
        default_value = "collector_data"
    )]
    pub collector_dir: String,
    /// `module:function` taking a raw msgpack message, returning whether to keep it.
    #[arg(long, global = true, value_name = "SPEC")]
    pub collector_filter: Option<String>,
    /// Messages per collector file.
    #[arg(
        long,
        global = true,
        value_name = "NUM_LINES",
        default_value = "100000"
    )]
    pub collector_roll: Num<u64>,
    /// Write the collector's files as JSON lines.
    #[arg(long, global = true)]
    pub collector_use_json: bool,
    /// Where `data_created` messages are recorded.
    #[arg(
        long,
        global = true,
        value_name = "DIRECTORY",
        default_value = "recorder-data"
    )]
    pub recorder_dir: String,
    /// `har`: seconds between requests in the journey it writes (mite-rs has no `har` yet).
    #[arg(long, global = true, value_name = "SLEEP")]
    pub sleep_time: Option<String>,
    /// A URL the controller posts the test's start and end to.
    #[arg(long, global = true, value_name = "URL")]
    pub logging_webhook: Option<String>,
    /// Comma-separated `module:Class` message processors.
    #[arg(
        long,
        global = true,
        value_name = "PROCESSORS",
        default_value = "mite.logoutput:HttpStatsOutput,mite.logoutput:MsgOutput"
    )]
    pub message_processors: String,
    /// `cat`: show `time`, `start_time` and `end_time` as local date-times.
    #[arg(long, global = true)]
    pub prettify_timestamps: bool,
    /// Per-journey error totals in the stats lines.
    #[arg(long, global = true)]
    pub journey_logging: bool,
    /// Print the benchmark report at the end.
    #[arg(long, global = true)]
    pub report: bool,
    /// No end-of-run summary and no live status line on a terminal (without --summary-json
    /// or --html-report, the run also skips the summary's bookkeeping).
    #[arg(long, global = true)]
    pub quiet: bool,
    /// Write the run's summary as JSON to PATH (docs/summary.schema.json), also when the
    /// run is interrupted.
    #[arg(long, global = true, value_name = "PATH")]
    pub summary_json: Option<String>,
    /// Write a self-contained HTML report with plots over the run's time to PATH.
    #[arg(long, global = true, value_name = "PATH")]
    pub html_report: Option<String>,
    /// No periodic stats lines.
    #[arg(long, global = true)]
    pub hide_constant_logs: bool,
    /// Fail (exit 1) when journey errors exceed this count.
    #[arg(long, global = true, value_name = "THRESHOLD", default_value = "0")]
    pub max_errors_threshold: String,
    /// Fail (exit 1) when the slowest response took longer, in ms (0: no check).
    #[arg(long, global = true, value_name = "THRESHOLD", default_value = "0")]
    pub max_response_time_threshold: String,
    /// Fail (exit 1) when the mean response time is higher, in ms (0: no check).
    #[arg(long, global = true, value_name = "THRESHOLD", default_value = "0")]
    pub mean_response_time_threshold: String,
    /// Fail (exit 1) when response times' standard deviation is higher, in ms (0: no check).
    #[arg(long, global = true, value_name = "THRESHOLD", default_value = "0")]
    pub standard_deviation_response_time_threshold: String,
    /// Fail (exit 1) when the req/s standard deviation is higher (0: no check).
    #[arg(long, global = true, value_name = "THRESHOLD", default_value = "0")]
    pub standard_deviation_req_sec_threshold: String,
    /// `PERCENTILE:MS,...`: response-time percentiles to report, each failing the run above MS (0: no check).
    #[arg(
        long,
        global = true,
        value_name = "NEW_VALUE",
        default_value = "50:0,90:0,98:0,99:0"
    )]
    pub benchmark_percentiles: String,
    /// Run journeys as plain asyncio Tasks instead of with the Rust coroutine driver.
    #[arg(long, global = true)]
    pub asyncio_tasks: bool,
    /// Seconds running journeys get to finish after the first Ctrl-C or SIGTERM (no new ones
    /// start); a second one, or the end of this, cancels them.
    #[arg(long, global = true, value_name = "SECONDS", default_value = "30")]
    pub grace_period: Num<f64>,
    /// `scenario test`: runner processes to start (`auto`: one per usable CPU). 1 runs the
    /// journeys in this process.
    #[arg(long, global = true, value_name = "N|auto", default_value = "1")]
    pub runners: RunnerCount,
}

/// `--runners`: a number of runner processes, or one per usable CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunnerCount {
    Auto,
    Exactly(std::num::NonZeroUsize),
}

impl FromStr for RunnerCount {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("auto") {
            return Ok(RunnerCount::Auto);
        }
        s.parse()
            .map(RunnerCount::Exactly)
            .map_err(|_| format!("'{s}' is not a number of runners (1, 2, ... or auto)"))
    }
}

impl RunnerCount {
    /// How many runners: `auto` is the CPUs this process may use (its affinity and cgroup
    /// quota, as `std::thread::available_parallelism` sees them).
    pub fn count(self) -> usize {
        match self {
            RunnerCount::Exactly(n) => n.get(),
            RunnerCount::Auto => std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// A value in mite's docopt options dict.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    None,
    Flag(bool),
    Text(String),
    List(Vec<String>),
}

impl Options {
    /// The options as mite's docopt dict (`{"--log-level": "INFO", ...}`), which mite passes
    /// to message processor classes.
    pub fn docopt_dict(&self) -> Vec<(String, OptionValue)> {
        use OptionValue::{Flag, List, Text};
        let text = |s: &str| Text(s.to_owned());
        let optional =
            |s: &Option<String>| s.as_ref().map_or(OptionValue::None, |s| Text(s.clone()));
        vec![
            ("--debugging".into(), Flag(self.debugging)),
            ("--memory-tracing".into(), Flag(self.memory_tracing)),
            ("--log-level".into(), text(&self.log_level)),
            ("--config".into(), text(&self.config)),
            ("--add-to-config".into(), List(self.add_to_config.clone())),
            ("--spawn-rate".into(), text(&self.spawn_rate.text)),
            ("--max-loop-delay".into(), text(&self.max_loop_delay.text)),
            (
                "--min-loop-delay".into(),
                text(
                    self.min_loop_delay
                        .as_ref()
                        .map_or("0", |n| n.text.as_str()),
                ),
            ),
            (
                "--runner-max-journeys".into(),
                optional(&self.runner_max_journeys.as_ref().map(|n| n.text.clone())),
            ),
            ("--controller-socket".into(), text(&self.controller_socket)),
            ("--message-socket".into(), text(&self.message_socket)),
            ("--collector-socket".into(), text(&self.collector_socket)),
            (
                "--prometheus-address".into(),
                optional(&self.prometheus_address),
            ),
            ("--stats-in-socket".into(), text(&self.stats_in_socket)),
            ("--stats-out-socket".into(), text(&self.stats_out_socket)),
            (
                "--stats-include-processors".into(),
                optional(&self.stats_include_processors),
            ),
            (
                "--stats-exclude-processors".into(),
                optional(&self.stats_exclude_processors),
            ),
            ("--recorder-socket".into(), text(&self.recorder_socket)),
            (
                "--delay-start-seconds".into(),
                text(&self.delay_start_seconds.text),
            ),
            ("--volume".into(), text(&self.volume.text)),
            ("--web-address".into(), text(&self.web_address)),
            ("--message-backend".into(), text(&self.message_backend)),
            (
                "--exclude-working-directory".into(),
                Flag(self.exclude_working_directory),
            ),
            ("--collector-dir".into(), text(&self.collector_dir)),
            (
                "--collector-filter".into(),
                optional(&self.collector_filter),
            ),
            ("--collector-roll".into(), text(&self.collector_roll.text)),
            ("--collector-use-json".into(), Flag(self.collector_use_json)),
            ("--recorder-dir".into(), text(&self.recorder_dir)),
            (
                "--sleep-time".into(),
                text(self.sleep_time.as_deref().unwrap_or("1")),
            ),
            ("--logging-webhook".into(), optional(&self.logging_webhook)),
            (
                "--message-processors".into(),
                text(&self.message_processors),
            ),
            (
                "--prettify-timestamps".into(),
                Flag(self.prettify_timestamps),
            ),
            ("--journey-logging".into(), Flag(self.journey_logging)),
            ("--report".into(), Flag(self.report)),
            ("--hide-constant-logs".into(), Flag(self.hide_constant_logs)),
            (
                "--max-errors-threshold".into(),
                text(&self.max_errors_threshold),
            ),
            (
                "--max-response-time-threshold".into(),
                text(&self.max_response_time_threshold),
            ),
            (
                "--mean-response-time-threshold".into(),
                text(&self.mean_response_time_threshold),
            ),
            (
                "--standard-deviation-response-time-threshold".into(),
                text(&self.standard_deviation_response_time_threshold),
            ),
            (
                "--standard-deviation-req-sec-threshold".into(),
                text(&self.standard_deviation_req_sec_threshold),
            ),
            (
                "--benchmark-percentiles".into(),
                text(&self.benchmark_percentiles),
            ),
        ]
    }
}
