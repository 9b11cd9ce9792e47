//! The end of a test run for people and CI: the console summary, `--summary-json` and
//! `--html-report` (built by `mite_core::summary`), and `mite report FILE...`, which builds
//! the same from collector files afterwards.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use pyo3::prelude::*;

use super::command_support::{io_text, Fatal};
use super::controller::ScenarioSpec;
use mite_core::bus::Processor;
use mite_core::cat::CatError;
use mite_core::cli::Options;
use mite_core::messages::DecodeError;
use mite_core::stats::Evaluation;
use mite_core::summary::{
    add_file, html_report, summary_json_text, summary_text, LiveSummary, Outcome, ReportFileError,
    RunInfo, RunSummary,
};

/// Where the summary goes, from the options.
pub struct SummaryOutputs {
    quiet: bool,
    json: Option<PathBuf>,
    html: Option<PathBuf>,
}

impl SummaryOutputs {
    pub fn new(options: &Options) -> Self {
        SummaryOutputs {
            quiet: options.quiet,
            json: options.summary_json.as_ref().map(PathBuf::from),
            html: options.html_report.as_ref().map(PathBuf::from),
        }
    }

    /// Prints the summary (unless `--quiet`) and writes the files asked for.
    pub fn deliver(&self, summary: &RunSummary, info: &RunInfo) -> Result<(), Fatal> {
        if !self.quiet {
            print!("{}", summary_text(summary, info));
        }
        if let Some(path) = &self.json {
            write_whole(path, &summary_json_text(summary, info))
                .map_err(|e| Fatal::Message(format!("--summary-json {e}")))?;
        }
        if let Some(path) = &self.html {
            write_whole(path, &html_report(summary, info))
                .map_err(|e| Fatal::Message(format!("--html-report {e}")))?;
        }
        Ok(())
    }
}

/// Writes `text` to a temporary file beside `path`, then renames it: a reader never sees
/// half a file, and an interruption leaves the previous one.
fn write_whole(path: &Path, text: &str) -> Result<(), String> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".partial");
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, text)
        .and_then(|()| std::fs::rename(&temporary, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&temporary);
            format!("{}: {}", path.display(), io_text(&e))
        })
}

/// The live summary processor for the bus, unless nothing would show it (`--quiet` without
/// `--summary-json` or `--html-report`: then the run skips its bookkeeping). The status line
/// shows when stdout is a terminal and `--quiet` is not given. The expected length is set
/// once the scenarios are read.
pub fn live_processor(options: &Options, expected: Arc<OnceLock<f64>>) -> Option<LiveSummary> {
    if options.quiet && options.summary_json.is_none() && options.html_report.is_none() {
        return None;
    }
    // SAFETY: isatty only reads the descriptor's state.
    let terminal = unsafe { libc::isatty(libc::STDOUT_FILENO) } == 1;
    Some(LiveSummary::new(
        terminal && !options.quiet,
        mite_core::clock::unix_time(),
        expected,
    ))
}

/// The run's summary, taken back from the stopped bus's processors.
pub fn taken_from(processors: &[Box<dyn Processor>]) -> Option<&RunSummary> {
    processors
        .iter()
        .find_map(|p| p.as_any().downcast_ref::<LiveSummary>())
        .map(|live| &live.summary)
}

/// How long the run is planned to last: the start delay and the longest volume model, when
/// every model is one of `mite.volume_model`'s (which know their `duration`).
pub fn expected_length(
    py: Python<'_>,
    scenarios: &[ScenarioSpec],
    start_delay: f64,
) -> Option<f64> {
    let model_class = py
        .import("mite.volume_model")
        .and_then(|m| m.getattr("_VolumeModel"))
        .ok()?;
    let mut longest: f64 = 0.0;
    for scenario in scenarios {
        let model = scenario.volume_model.bind(py);
        if !model.is_instance(&model_class).unwrap_or(false) {
            return None;
        }
        let duration: f64 = model.getattr("duration").and_then(|d| d.extract()).ok()?;
        longest = longest.max(duration);
    }
    (!scenarios.is_empty()).then_some(start_delay + longest)
}

/// What the summary says of the run beyond its messages.
pub fn run_info(
    py: Python<'_>,
    argv: &[String],
    outcome: Outcome,
    exit_code: Option<i32>,
    evaluation: Option<&Evaluation>,
    config_manager: Option<&Bound<'_, PyAny>>,
) -> RunInfo {
    let mut command: Vec<String> = argv.to_vec();
    if let Some(program) = command.first_mut() {
        if let Some(name) = Path::new(program.as_str()).file_name() {
            *program = name.to_string_lossy().into_owned();
        }
    }
    let python = py
        .import("sys")
        .and_then(|sys| sys.getattr("version"))
        .and_then(|v| v.extract::<String>())
        .map(|v| v.split_whitespace().next().unwrap_or("").to_owned())
        .unwrap_or_default();
    let versions = vec![
        ("mite-rs".to_owned(), env!("CARGO_PKG_VERSION").to_owned()),
        ("python".to_owned(), python),
        ("os".to_owned(), std::env::consts::OS.to_owned()),
    ];
    RunInfo {
        command,
        outcome,
        exit_code,
        versions,
        settings: config_manager
            .map(|c| config_settings(c))
            .unwrap_or_default(),
        thresholds: evaluation.map(|e| e.checks.clone()),
    }
}

/// The configuration's `name = value` pairs (`MITE_CONF_*`, `--config`, `--add-to-config`).
fn config_settings(config_manager: &Bound<'_, PyAny>) -> Vec<(String, String)> {
    let Ok(entries) = config_manager.getattr("_config") else {
        return Vec::new();
    };
    let Ok(items) = entries.call_method0("items").and_then(|i| i.try_iter()) else {
        return Vec::new();
    };
    items
        .flatten()
        .filter_map(|item| {
            let (name, (value, _version)): (String, (Bound<'_, PyAny>, Bound<'_, PyAny>)) =
                item.extract().ok()?;
            let value = value.str().ok()?.to_string();
            Some((format!("config {name}"), value))
        })
        .collect()
}

/// `mite report FILE...`: the summary and files of a run, from its collector files.
pub fn report_command(
    py: Python<'_>,
    argv: &[String],
    files: &[String],
    options: &Options,
) -> Result<i32, Fatal> {
    let mut ordered = Vec::with_capacity(files.len());
    for file in files {
        let path = PathBuf::from(file);
        let first = first_time(&path).map_err(|e| Fatal::Message(e.to_string()))?;
        ordered.push((first, path));
    }
    // Oldest first: the plots' time axis starts at the first message it sees.
    ordered.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut summary = RunSummary::default();
    for (_, path) in &ordered {
        match add_file(&mut summary, path, || py.check_signals().is_ok()) {
            Ok(_) => {}
            Err(ReportFileError::Stopped) => return Err(Fatal::Interrupted),
            Err(ReportFileError::Msgpack {
                path,
                source:
                    CatError::Damaged {
                        records,
                        reason: DecodeError::Truncated,
                        ..
                    },
            }) => {
                // A collector killed mid-write leaves its last record cut short.
                eprintln!(
                    "mite report: {}: ends inside a record; using the {records} whole records before it",
                    path.display()
                );
            }
            Err(e) => return Err(Fatal::Message(e.to_string())),
        }
    }
    let info = run_info(py, argv, Outcome::FromFiles, None, None, None);
    SummaryOutputs::new(options).deliver(&summary, &info)?;
    Ok(0)
}

/// The time of a file's first message (infinity for an empty file), read to order the files.
fn first_time(path: &Path) -> Result<f64, ReportFileError> {
    let mut probe = RunSummary::default();
    let mut seen = 0u64;
    // Reading stops after the first record: `keep_going` is asked before every read.
    let result = add_file(&mut probe, path, || {
        seen += 1;
        seen < 2
    });
    match result {
        Ok(_) | Err(ReportFileError::Stopped) | Err(ReportFileError::Msgpack { .. }) => {}
        Err(e) => return Err(e),
    }
    Ok(probe.first_seen().unwrap_or(f64::INFINITY))
}

/// A stream for Python's logging while the status line is shown: each write goes through
/// `mite_core::logging::write_stderr`, which clears the status line and draws it again.
#[pyclass(module = "mite._mite")]
struct StderrAroundStatus;

#[pymethods]
impl StderrAroundStatus {
    fn write(&self, text: &str) -> usize {
        mite_core::logging::write_stderr(text);
        text.len()
    }

    fn flush(&self) {}
}

/// Points the root logger's stream handlers (mite's `basicConfig` one) at
/// [`StderrAroundStatus`].
pub fn route_python_logging(py: Python<'_>) -> PyResult<()> {
    let logging = py.import("logging")?;
    let stream_handler = logging.getattr("StreamHandler")?;
    let stream = Bound::new(py, StderrAroundStatus)?;
    let handlers = logging.call_method0("getLogger")?.getattr("handlers")?;
    for handler in handlers.try_iter()? {
        let handler = handler?;
        if handler.is_instance(&stream_handler)? {
            handler.call_method1("setStream", (&stream,))?;
        }
    }
    Ok(())
}
