//! `--prometheus-address`: the stats of a single-process run and the `/metrics` server.
//!
//! The `mite` and `mite_http` stats are counted natively on the bus thread
//! ([`mite_core::prometheus::LiveStats`]); stats of other installed `mite_stats` entry points
//! run in Python (`mite.stats._RunStats`, fed from `ctx.send`) and hand their dumps to the
//! same exporter through [`ExporterFeed`].

use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use super::convert::to_value;
use super::sink::dict_to_message;
use crate::errors::BindingError;
use mite_core::clock::unix_time;
use mite_core::prometheus::{
    http_buckets_from_env, mite_http_stats, mite_stats, LiveStats, MetricsServer, ServerError,
    SharedExporter, StatDump, StatSpec, StatTable,
};

/// Why the run's stats could not start.
pub enum StartError {
    Python(PyErr),
    Message(String),
}

impl From<PyErr> for StartError {
    fn from(e: PyErr) -> Self {
        StartError::Python(e)
    }
}

impl From<ServerError> for StartError {
    fn from(e: ServerError) -> Self {
        StartError::Message(format!("--prometheus-address: {e}"))
    }
}

/// What a run with `--prometheus-address` adds: a bus processor, perhaps a Python message
/// listener, and the server (stopped when this is dropped).
pub struct RunStats {
    pub processor: LiveStats,
    /// `mite.stats._RunStats`, when some selected stats are Python's; its `process_message`
    /// is a dict listener of the run's sink and `flush()` must be called at the end.
    pub python: Option<Py<PyAny>>,
    pub server: MetricsServer,
}

fn split(list: Option<&str>) -> Option<Vec<String>> {
    list.map(|l| l.split(',').map(str::to_owned).collect())
}

/// The native specs of the named built-in entry points.
fn native_specs(names: &[String]) -> Result<Vec<StatSpec>, BindingError> {
    let mut specs = Vec::new();
    if names.iter().any(|n| n == "mite") {
        specs.extend(mite_stats());
    }
    if names.iter().any(|n| n == "mite_http") {
        specs.extend(mite_http_stats(http_buckets_from_env()?));
    }
    Ok(specs)
}

/// Starts the server on `address` and selects the stats (`include`/`exclude` as mite's
/// `--stats-include-processors`/`--stats-exclude-processors`).
pub fn start(
    py: Python<'_>,
    address: &str,
    include: Option<&str>,
    exclude: Option<&str>,
) -> Result<RunStats, StartError> {
    let exporter = SharedExporter::new();
    let feed = Py::new(py, ExporterFeed(exporter.clone()))?;
    let run_stats = py.import("mite.stats")?.getattr("_RunStats")?.call1((
        feed,
        split(include),
        split(exclude),
    ))?;
    let native: Vec<String> = run_stats.getattr("native")?.extract()?;
    let specs = native_specs(&native).map_err(|e| StartError::Message(e.to_string()))?;
    let has_python: bool = run_stats.getattr("has_python_stats")?.extract()?;
    let server = MetricsServer::start(address, exporter.clone())?;
    log::info!(
        target: "mite.prometheus",
        "Serving Prometheus metrics on http://{}/metrics (stats: {})",
        server.local_addr(),
        if has_python || !native.is_empty() {
            let mut all = native.clone();
            if has_python {
                all.push("Python stats".into());
            }
            all.join(", ")
        } else {
            "none selected".into()
        }
    );
    Ok(RunStats {
        processor: LiveStats::new(StatTable::new(specs), exporter, unix_time()),
        python: has_python.then(|| run_stats.unbind()),
        server,
    })
}

/// Adds a list of stat dumps (Python stats' `dump()` dicts) to the run's exporter.
#[pyclass(frozen, module = "mite._mite")]
pub struct ExporterFeed(SharedExporter);

#[pymethods]
impl ExporterFeed {
    fn __call__(&self, dumps: &Bound<'_, PyAny>) -> PyResult<()> {
        let parsed = parse_dumps(dumps)?;
        self.0.apply(parsed);
        Ok(())
    }
}

fn parse_dumps(dumps: &Bound<'_, PyAny>) -> PyResult<Vec<StatDump>> {
    let mut parsed = Vec::new();
    for dump in dumps.try_iter()? {
        let value = to_value(&dump?)?;
        parsed.push(StatDump::from_value(&value).map_err(BindingError::from)?);
    }
    Ok(parsed)
}

/// `mite._mite.NativeStats()`: the built-in `mite` and `mite_http` stats as the Rust core
/// counts them, with an exporter of their own: feed it message dicts, read the Prometheus text
/// that `/metrics` would serve. (For checking the native stats against `mite.stats`, and for
/// code that builds its own pipeline.)
#[pyclass(frozen, module = "mite._mite")]
pub struct NativeStats {
    table: Mutex<StatTable>,
    exporter: SharedExporter,
}

#[pymethods]
impl NativeStats {
    #[new]
    fn new() -> PyResult<Self> {
        let names = ["mite".to_owned(), "mite_http".to_owned()];
        Ok(NativeStats {
            table: Mutex::new(StatTable::new(native_specs(&names)?)),
            exporter: SharedExporter::new(),
        })
    }

    fn process_message(&self, msg: &Bound<'_, PyDict>) -> PyResult<()> {
        let message = dict_to_message(msg)?;
        self.table
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .process(&message);
        Ok(())
    }

    /// Adds the deltas counted so far to the exporter and returns its text.
    fn prometheus_text(&self) -> String {
        let dumps = self.table.lock().unwrap_or_else(|e| e.into_inner()).dump();
        self.exporter.apply(dumps);
        self.exporter.render()
    }

    /// Adds dumps from elsewhere (a Python stat's `dump()` list) to the exporter.
    fn add_dumps(&self, dumps: &Bound<'_, PyList>) -> PyResult<()> {
        let parsed = parse_dumps(dumps.as_any())?;
        self.exporter.apply(parsed);
        Ok(())
    }
}
