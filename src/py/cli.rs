//! Running the `mite` commands: `scenario test`, `journey test`, `journey run`.
//!
//! Parsing is in the core (`mite_core::cli`); this module imports the user's files, builds the
//! message processors and the runner, runs the event loop and turns the outcome into an exit
//! code. Bad input ends here as one line on stderr and exit 1, never a traceback.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use super::command_support::{
    add_working_directory, import_spec, io_text, py_fatal, recorder_dir, setup_logging, Fatal,
    PythonFilter,
};
use super::controller::{ControllerLink, LocalController, ScenarioSpec};
use super::event_loop::run_loop;
use super::live_stats::{self, RunStats, StartError};
use super::local_cluster;
use super::run_summary;
use super::runner::{RunEnd, RunnerOptions};
use super::scenario_loading::{build_config, call_scenario, read_scenarios};
use super::sink::MessageSink;
use crate::errors::one_line;
use mite_core::bus::processors::{self, BuiltinSet, ProcessorConfig, Verdict};
use mite_core::bus::Bus;
use mite_core::cli::{
    self, Cli, Command, JourneyCommand, JourneyFeed, OptionValue, Options, Parsed, ScenarioCommand,
};
use mite_core::engine::SchedulerConfig;
use mite_core::logging::{self, LogLevel, UnknownLogLevel};
use mite_core::stats::ThresholdArgs;
use mite_core::summary::Outcome;
use std::sync::{Arc, OnceLock};

/// `mite._mite.cli_main(argv)`: runs the command line, returns the exit code.
#[pyfunction]
pub fn cli_main(py: Python<'_>, argv: Vec<String>) -> i32 {
    let cli = match cli::parse(&argv) {
        Parsed::Run(cli) => cli,
        Parsed::Exit {
            text,
            code,
            to_stderr,
        } => {
            if to_stderr {
                eprint!("{text}");
            } else {
                print!("{text}");
            }
            return code;
        }
    };
    match run(py, *cli, &argv) {
        Ok(code) => code,
        Err(Fatal::Message(message)) => {
            eprintln!("mite: error: {message}");
            1
        }
        Err(Fatal::Interrupted) => 130,
    }
}

fn run(py: Python<'_>, cli: Cli, argv: &[String]) -> Result<i32, Fatal> {
    // Options given to a command that does not use them were refused while parsing
    // (mite_core::cli::scope); these two depend on more than the command.
    if cli.options.sleep_time.is_some() {
        return Err(Fatal::Message(
            "--sleep-time applies to har only, which mite-rs does not have yet".into(),
        ));
    }
    let runs_runners = matches!(cli.command, Command::Runner)
        || (matches!(cli.command, Command::Scenario(_)) && cli.options.runners.count() != 1);
    if cli.options.min_loop_delay.is_some() && !runs_runners {
        return Err(Fatal::Message(
            "--min-loop-delay applies to runner (and scenario test --runners N) only".into(),
        ));
    }
    let test = match &cli.command {
        Command::Cat { file } => return cat_file(py, file, cli.options.prettify_timestamps),
        Command::Uncat => return uncat_stdin(py),
        Command::Report { files } => {
            return run_summary::report_command(py, argv, files, &cli.options)
        }
        Command::Runner => return super::runner_command::run(py, &cli.options),
        Command::Controller { spec } => {
            return super::controller_command::run(py, &cli.options, spec)
        }
        Command::Duplicator { .. }
        | Command::Receiver { .. }
        | Command::Collector
        | Command::Recorder
        | Command::Stats
        | Command::PrometheusExporter => {
            return super::components::run(py, &cli.command, &cli.options).map_err(Fatal::Message)
        }
        Command::DemoApp {
            host,
            port,
            threads,
        } => {
            return serve_demo_app(py, host, *port, *threads, &cli.options.log_level);
        }
        Command::Scenario(ScenarioCommand::Check { spec }) => {
            super::command_support::prepare_command(py, &cli.options)?;
            return super::scenario_check::run(py, spec, &cli.options);
        }
        Command::Scenario(ScenarioCommand::Test { spec }) => TestRun::Scenario(spec),
        Command::Journey(JourneyCommand::Test { journey, datapool }) => TestRun::Journey {
            journey,
            datapool: datapool.as_deref(),
            once: false,
        },
        Command::Journey(JourneyCommand::Run { journey, datapool }) => TestRun::Journey {
            journey,
            datapool: datapool.as_deref(),
            once: true,
        },
    };
    let level: LogLevel = cli
        .options
        .log_level
        .parse()
        .map_err(|e: UnknownLogLevel| Fatal::Message(format!("--log-level: {e}")))?;
    setup_logging(py, level)
        .map_err(|e| Fatal::Message(format!("cannot configure logging: {}", one_line(py, &e))))?;
    add_working_directory(py, &cli.options).map_err(Fatal::Message)?;
    prepare_and_run(py, &cli.options, test, argv)
}

/// `--prometheus-address`: selects the stats and starts the `/metrics` server.
fn start_run_stats(py: Python<'_>, address: &str, options: &Options) -> Result<RunStats, Fatal> {
    live_stats::start(
        py,
        address,
        options.stats_include_processors.as_deref(),
        options.stats_exclude_processors.as_deref(),
    )
    .map_err(|e| match e {
        StartError::Python(e) => py_fatal(py, "starting the stats", &e),
        StartError::Message(message) => Fatal::Message(message),
    })
}

/// The in-process test commands.
enum TestRun<'a> {
    /// `scenario test SPEC`
    Scenario(&'a str),
    /// `journey test` (at `--volume`, until stopped) or `journey run` (`once`).
    Journey {
        journey: &'a str,
        datapool: Option<&'a str>,
        once: bool,
    },
}

impl TestRun<'_> {
    /// mite's test name: the scenario spec, or the journey spec.
    fn name(&self) -> String {
        match self {
            TestRun::Scenario(spec) => (*spec).to_owned(),
            TestRun::Journey { journey, .. } => (*journey).to_owned(),
        }
    }
}

/// `mite demo-app`: serves until Ctrl-C or SIGTERM, without the GIL.
fn serve_demo_app(
    py: Python<'_>,
    host: &str,
    port: u16,
    threads: usize,
    level: &str,
) -> Result<i32, Fatal> {
    let level: LogLevel = level
        .parse()
        .map_err(|e: UnknownLogLevel| Fatal::Message(format!("--log-level: {e}")))?;
    logging::init(level);
    let config = mite_core::demo::DemoConfig {
        host: host.to_owned(),
        port,
        threads,
    };
    py.detach(|| {
        mite_core::demo::serve(&config, |addr| {
            log::info!(target: "mite.demo_app", "mite demo-app listening on http://{addr}");
        })
    })
    .map_err(|e| Fatal::Message(format!("demo-app on {host}:{port}: {e}")))?;
    Ok(0)
}

/// `mite cat FILE`: the file's records as JSON lines on stdout. Ctrl-C is honoured between
/// records (Python's handler sets a flag that `check_signals` reads).
fn cat_file(py: Python<'_>, path: &str, prettify: bool) -> Result<i32, Fatal> {
    let file = std::fs::File::open(path)
        .map_err(|e| Fatal::Message(format!("cannot open {path}: {}", io_text(&e))))?;
    let out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut interrupted = false;
    let result = mite_core::cat::cat(file, out, prettify, || {
        interrupted = py.check_signals().is_err();
        !interrupted
    });
    // The records before a failure are printed too: the process exits through Python, which
    // does not flush Rust's stdout.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    match result {
        Ok(_) => Ok(0),
        Err(mite_core::cat::CatError::Stopped) => Err(Fatal::Interrupted),
        Err(e @ mite_core::cat::CatError::Damaged { .. }) => {
            Err(Fatal::Message(format!("{path} is {e}")))
        }
        Err(e) => Err(Fatal::Message(format!("{path}: {e}"))),
    }
}

/// `mite uncat`: JSON lines on stdin as msgpack on stdout.
fn uncat_stdin(py: Python<'_>) -> Result<i32, Fatal> {
    let out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let result = mite_core::cat::uncat(std::io::stdin().lock(), out, || py.check_signals().is_ok());
    let _ = std::io::Write::flush(&mut std::io::stdout());
    match result {
        Ok(_) => Ok(0),
        Err(mite_core::cat::UncatError::Stopped) => Err(Fatal::Interrupted),
        Err(e) => Err(Fatal::Message(format!("stdin: {e}"))),
    }
}

/// The processors of `--message-processors`: built-in names map to the Rust processors,
/// other classes are instantiated with mite's options dict.
fn message_processors(py: Python<'_>, options: &Options) -> Result<Processors, Fatal> {
    let mut builtins = BuiltinSet::default();
    let mut dict_listeners = Vec::new();
    let mut raw_listeners = Vec::new();
    let opts = options_dict(py, options).map_err(|e| py_fatal(py, "building the options", &e))?;
    for spec in options
        .message_processors
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if builtins.enable(spec) {
            continue;
        }
        let class = import_spec(py, spec, "message processor")?;
        let instance = class.call1((&opts,)).map_err(|e| {
            py_fatal(
                py,
                &format!("message processor '{spec}' failed to start"),
                &e,
            )
        })?;
        if let Ok(method) = instance.getattr("process_message") {
            dict_listeners.push(method.unbind());
        } else if let Ok(method) = instance.getattr("process_raw_message") {
            raw_listeners.push(method.unbind());
        } else {
            return Err(Fatal::Message(format!(
                "message processor '{spec}' has neither process_message nor process_raw_message"
            )));
        }
    }
    Ok(Processors {
        builtins,
        dict_listeners,
        raw_listeners,
    })
}

/// The message processors `--message-processors` asks for.
struct Processors {
    builtins: BuiltinSet,
    /// Python processors' `process_message` methods.
    dict_listeners: Vec<Py<PyAny>>,
    /// Python processors' `process_raw_message` methods.
    raw_listeners: Vec<Py<PyAny>>,
}

/// mite's docopt options dict, handed to Python message processors.
fn options_dict<'py>(py: Python<'py>, options: &Options) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (key, value) in options.docopt_dict() {
        match value {
            OptionValue::None => dict.set_item(key, py.None())?,
            OptionValue::Flag(flag) => dict.set_item(key, flag)?,
            OptionValue::Text(text) => dict.set_item(key, text)?,
            OptionValue::List(items) => dict.set_item(key, items)?,
        }
    }
    Ok(dict)
}

fn prepare_and_run(
    py: Python<'_>,
    options: &Options,
    test: TestRun<'_>,
    argv: &[String],
) -> Result<i32, Fatal> {
    let verdict = Verdict::new(
        &ThresholdArgs {
            max_errors: &options.max_errors_threshold,
            max_response_time: &options.max_response_time_threshold,
            mean_response_time: &options.mean_response_time_threshold,
            stdev_response_time: &options.standard_deviation_response_time_threshold,
            stdev_req_sec: &options.standard_deviation_req_sec_threshold,
            benchmark_percentiles: &options.benchmark_percentiles,
        },
        options.report,
    )
    .map_err(|e| Fatal::Message(e.to_string()))?;
    let config_manager = build_config(py, options)?;
    let Processors {
        builtins,
        mut dict_listeners,
        raw_listeners,
    } = message_processors(py, options)?;
    let run_stats = match &options.prometheus_address {
        Some(address) => Some(start_run_stats(py, address, options)?),
        None => None,
    };
    let (live_stats, python_stats, server) = match run_stats {
        Some(RunStats {
            processor,
            python,
            server,
        }) => (Some(processor), python, Some(server)),
        None => (None, None, None),
    };
    if let Some(stats) = &python_stats {
        let process = stats
            .getattr(py, "process_message")
            .map_err(|e| py_fatal(py, "starting the Python stats", &e))?;
        dict_listeners.push(process);
    }
    let filter = match &options.collector_filter {
        Some(spec) => Some(PythonFilter::new(
            import_spec(py, spec, "collector filter")?.unbind(),
        )),
        None => None,
    };
    let expected_length = Arc::new(OnceLock::new());
    let live_summary = run_summary::live_processor(options, expected_length.clone());
    if live_summary
        .as_ref()
        .is_some_and(|summary| summary.shows_status())
    {
        run_summary::route_python_logging(py)
            .map_err(|e| py_fatal(py, "routing Python's logging around the status line", &e))?;
    }
    let mut processors = processors::build(ProcessorConfig {
        builtins,
        recorder_dir: recorder_dir(options),
        collector_dir: options.collector_dir.clone().into(),
        collector_roll: options.collector_roll.value,
        collector_use_json: options.collector_use_json,
        collector_filter: filter.map(|f| Box::new(f) as _),
        journey_logging: options.journey_logging,
        hide_constant_logs: options.hide_constant_logs,
        report: options.report,
        live_stats,
    })
    .map_err(|e| Fatal::Message(e.to_string()))?;
    if let Some(summary) = live_summary {
        processors.push(Box::new(summary));
    }
    let bus = Bus::start(processors)
        .map_err(|e| Fatal::Message(format!("cannot start the message bus: {e}")))?;
    let sink = MessageSink::new(bus.sender(), dict_listeners, raw_listeners);
    let end = run_scenarios(py, options, &test, &config_manager, sink, &expected_length);
    if let Some(stats) = &python_stats {
        if let Err(e) = stats.call_method0(py, "flush") {
            log::error!(target: "mite.stats", "Python stats: {}", one_line(py, &e));
        }
    }
    // The bus thread may need the GIL to finish (a Python collector filter): release it.
    let processors = py.detach(|| bus.stop());
    // Served until every message has been counted.
    drop(server);
    let (outcome, code, evaluation, failure) = match end? {
        RunEnd::Completed => {
            let evaluation = verdict.judge(&processors);
            let code = if evaluation.failed() {
                log::error!(target: "mite", "Mite test failed");
                1
            } else {
                0
            };
            (Outcome::Completed, code, Some(evaluation), None)
        }
        RunEnd::Interrupted(code) => (Outcome::Interrupted, code, None, None),
        RunEnd::Exit(code) => (Outcome::Failed, code, None, None),
        RunEnd::Failed(message) => (Outcome::Failed, 1, None, Some(message)),
    };
    if let Some(summary) = run_summary::taken_from(&processors) {
        let info = run_summary::run_info(
            py,
            argv,
            outcome,
            Some(code),
            evaluation.as_ref(),
            Some(&config_manager),
        );
        run_summary::SummaryOutputs::new(options).deliver(summary, &info)?;
    }
    match failure {
        Some(message) => Err(Fatal::Message(message)),
        None => Ok(code),
    }
}

/// Reads the scenarios (calling the scenario function) and runs them to the end.
fn run_scenarios(
    py: Python<'_>,
    options: &Options,
    test: &TestRun<'_>,
    config_manager: &Bound<'_, PyAny>,
    sink: MessageSink,
    expected_length: &OnceLock<f64>,
) -> Result<RunEnd, Fatal> {
    let sink = Bound::new(py, sink).map_err(|e| py_fatal(py, "creating the message sink", &e))?;
    let scenarios = match *test {
        TestRun::Scenario(spec) => {
            let function = import_spec(py, spec, "scenario spec")?;
            let result = call_scenario(py, spec, &function, config_manager, &sink)?;
            read_scenarios(py, spec, &result)?
        }
        TestRun::Journey {
            journey,
            datapool,
            once,
        } => {
            vec![journey_scenario(
                py,
                journey,
                datapool,
                once,
                options.volume.value,
            )?]
        }
    };
    if let Some(length) =
        run_summary::expected_length(py, &scenarios, options.delay_start_seconds.value)
    {
        let _ = expected_length.set(length);
    }
    let scheduler = SchedulerConfig {
        start_delay: options.delay_start_seconds.value,
        period: options.max_loop_delay.value.max(0.001),
        spawn_rate: Some(options.spawn_rate.value),
    };
    let test_name = test.name();
    let runners = options.runners.count();
    if runners > 1 {
        let run = local_cluster::ClusterRun {
            options,
            test_name,
            scenarios,
            scheduler,
            runners,
        };
        return local_cluster::run(py, run, config_manager, &sink);
    }
    let controller = LocalController::new(
        py,
        scheduler,
        &scenarios,
        config_manager.clone().unbind(),
        std::sync::Arc::from(test_name.as_str()),
        None,
    )
    .map_err(|e| py_fatal(py, "creating the controller", &e))?;
    run_loop(
        py,
        RunnerOptions {
            test_name,
            sink: sink.unbind(),
            debug: options.debugging,
            use_asyncio_tasks: options.asyncio_tasks,
            grace_period: super::command_support::grace_period(options)?,
            max_journeys: options.runner_max_journeys.as_ref().map(|n| n.value),
        },
        ControllerLink::Local(controller),
        scenarios,
        options.memory_tracing,
    )
}

/// The one scenario of `journey test` (constant `--volume`, forever) and `journey run`
/// (once: the datapool's first item, or no arguments).
fn journey_scenario<'py>(
    py: Python<'py>,
    journey_spec: &str,
    datapool_spec: Option<&str>,
    once: bool,
    volume: f64,
) -> Result<ScenarioSpec, Fatal> {
    let journey = import_spec(py, journey_spec, "journey spec")?;
    let datapool = match datapool_spec {
        Some(spec) => Some(import_spec(py, spec, "datapool spec")?),
        None => None,
    };
    let make = |module: &str,
                class: &str,
                args: Bound<'py, PyTuple>|
     -> Result<Bound<'py, PyAny>, Fatal> {
        py.import(module)
            .and_then(|m| m.getattr(class))
            .and_then(|c| c.call1(args))
            .map_err(|e| py_fatal(py, "creating the journey's datapool", &e))
    };
    let plan = cli::journey_scenario(datapool.is_some(), once, volume);
    let datapool = match (plan.feed, datapool) {
        (JourneyFeed::Datapool, pool) => pool,
        (JourneyFeed::FirstItemOnce, Some(pool)) => Some(make(
            "mite.datapools",
            "SingleRunDataPoolWrapper",
            PyTuple::new(py, [pool]).unwrap(),
        )?),
        (JourneyFeed::OneEmptyItem, _) => {
            let one_empty_item = PyList::new(py, [PyTuple::empty(py)]).unwrap();
            Some(make(
                "mite.datapools",
                "IterableDataPool",
                PyTuple::new(py, [one_empty_item]).unwrap(),
            )?)
        }
        (JourneyFeed::FirstItemOnce | JourneyFeed::Nothing, _) => None,
    };
    let volume_model = Bound::new(py, super::volume::FixedVolume::new(plan.volume))
        .map_err(|e| py_fatal(py, "creating the volume model", &e))?;
    Ok(ScenarioSpec {
        journey_spec: journey_spec.to_owned(),
        journey: journey.unbind(),
        datapool: datapool.map(Bound::unbind),
        volume_model: volume_model.into_any().unbind(),
    })
}
