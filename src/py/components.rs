//! `mite duplicator`, `collector`, `recorder`, `stats`, `prometheus_exporter`: distributed
//! mode's message plane, run by `mite_core::wire` with the GIL released (it is taken only
//! for a Python collector filter or Python stats).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use super::command_support::{add_working_directory, import_spec_line, PythonFilter};
use super::convert::to_value;
use crate::errors::one_line;
use mite_core::cli::{Command, Options};
use mite_core::collector::Collector;
use mite_core::logging::{self, LogLevel, UnknownLogLevel};
use mite_core::messages::Value;
use mite_core::prometheus::{http_buckets_from_env, mite_http_stats, mite_stats, StatTable};
use mite_core::recorder::Recorder;
use mite_core::wire::{self, ComponentError, ExtraStats, StatsOptions, StopSignals, StoppedBy};

/// Runs a message-plane command until a stop signal: `Ok(exit code)`, or one line.
pub fn run(py: Python<'_>, command: &Command, options: &Options) -> Result<i32, String> {
    let level: LogLevel = options
        .log_level
        .parse()
        .map_err(|e: UnknownLogLevel| format!("--log-level: {e}"))?;
    logging::init(level);
    add_working_directory(py, options)?;
    super::command_support::message_backend(options)?;
    for (option, address) in addresses(command, options) {
        wire::check_endpoint(address).map_err(|e| format!("{option}: {e}"))?;
    }
    let signals = StopSignals::install().map_err(|e| format!("cannot handle signals: {e}"))?;
    let stopped = match command {
        Command::Duplicator { out_sockets } => {
            let input = &options.message_socket;
            py.detach(|| wire::run_duplicator(input, out_sockets, &signals))
        }
        Command::Collector => {
            let mut collector = Collector::new(
                &options.collector_dir,
                options.collector_roll.value,
                None,
                options.collector_use_json,
            )
            .map_err(|e| e.to_string())?;
            let filter = match &options.collector_filter {
                Some(spec) => Some(PythonFilter::new(
                    import_spec_line(py, spec, "collector filter")?.unbind(),
                )),
                None => None,
            };
            let address = &options.collector_socket;
            py.detach(|| {
                wire::run_collector(
                    address,
                    &mut collector,
                    filter.map(|f| Box::new(f) as _),
                    &signals,
                )
            })
        }
        Command::Recorder => {
            let mut recorder = Recorder::new(super::command_support::recorder_dir(options))
                .map_err(|e| e.to_string())?;
            let address = &options.recorder_socket;
            py.detach(|| wire::run_recorder(address, &mut recorder, &signals))
        }
        Command::Stats => {
            let (table, python) = select_stats(py, options)?;
            let extra = python.map(|p| Box::new(p) as Box<dyn ExtraStats>);
            let stats_options = StatsOptions {
                in_address: &options.stats_in_socket,
                out_address: &options.stats_out_socket,
                table,
                extra,
            };
            py.detach(|| wire::run_stats(stats_options, &signals))
        }
        Command::PrometheusExporter => {
            let (input, web) = (&options.stats_out_socket, &options.web_address);
            py.detach(|| wire::run_exporter(input, web, &signals))
        }
        Command::Receiver {
            receive_socket,
            processors,
        } => {
            let mut listeners = receiver_listeners(py, processors)?;
            py.detach(|| {
                wire::run_receiver(receive_socket, &signals, |frame| {
                    Python::attach(|py| listeners.deliver(py, frame))
                })
            })
        }
        _ => unreachable!("not a message-plane command"),
    };
    stopped
        .map(StoppedBy::exit_code)
        .map_err(|e: ComponentError| e.to_string())
}

/// The ZeroMQ addresses a command uses, with the options that give them.
fn addresses<'a>(command: &'a Command, options: &'a Options) -> Vec<(&'static str, &'a str)> {
    match command {
        Command::Duplicator { out_sockets } => {
            let mut all = vec![("--message-socket", options.message_socket.as_str())];
            all.extend(out_sockets.iter().map(|s| ("OUT_SOCKET", s.as_str())));
            all
        }
        Command::Collector => vec![("--collector-socket", &options.collector_socket)],
        Command::Recorder => vec![("--recorder-socket", &options.recorder_socket)],
        Command::Stats => vec![
            ("--stats-in-socket", &options.stats_in_socket),
            ("--stats-out-socket", &options.stats_out_socket),
        ],
        Command::PrometheusExporter => vec![("--stats-out-socket", &options.stats_out_socket)],
        Command::Receiver { receive_socket, .. } => vec![("RECEIVE_SOCKET", receive_socket)],
        _ => Vec::new(),
    }
}

/// `mite receiver`'s processors: raw listeners get each frame's bytes, then dict listeners
/// the decoded message (mite hands both kinds the dict: a bug, fixed here).
struct Listeners {
    raw: Vec<(String, Py<PyAny>)>,
    dict: Vec<(String, Py<PyAny>)>,
    unpack: Py<PyAny>,
    /// Processors whose failure was logged (each is logged once).
    failed: std::collections::HashSet<String>,
}

impl Listeners {
    fn deliver(&mut self, py: Python<'_>, frame: &[u8]) {
        let bytes = PyBytes::new(py, frame);
        for (spec, listener) in &self.raw {
            if let Err(e) = listener.call1(py, (&bytes,)) {
                note_failure(py, &mut self.failed, spec, &e);
            }
        }
        if self.dict.is_empty() {
            return;
        }
        let msg = match self.unpack.call1(py, (&bytes,)) {
            Ok(msg) => msg,
            Err(e) => return note_failure(py, &mut self.failed, "(decoding)", &e),
        };
        for (spec, listener) in &self.dict {
            if let Err(e) = listener.call1(py, (&msg,)) {
                note_failure(py, &mut self.failed, spec, &e);
            }
        }
    }
}

fn note_failure(
    py: Python<'_>,
    failed: &mut std::collections::HashSet<String>,
    spec: &str,
    e: &PyErr,
) {
    if failed.insert(spec.to_owned()) {
        log::error!(target: "mite.receiver", "processor '{spec}' failed on a message, which it skips (further failures are not logged): {}", one_line(py, e));
    }
}

fn receiver_listeners(py: Python<'_>, specs: &[String]) -> Result<Listeners, String> {
    let mut listeners = Listeners {
        raw: Vec::new(),
        dict: Vec::new(),
        unpack: py
            .import("mite.utils")
            .and_then(|m| m.getattr("unpack_msg"))
            .map_err(|e| one_line(py, &e))?
            .unbind(),
        failed: Default::default(),
    };
    for spec in specs {
        let class = import_spec_line(py, spec, "processor")?;
        let handler = class
            .call0()
            .map_err(|e| format!("processor '{spec}': {}", one_line(py, &e)))?;
        let method = |name: &str| {
            handler
                .getattr(name)
                .ok()
                .filter(|m| !m.is_none())
                .map(|m| (m.is_callable(), m))
        };
        let (dict, raw) = (method("process_message"), method("process_raw_message"));
        if dict.is_none() && raw.is_none()
            || [&dict, &raw].iter().any(|m| matches!(m, Some((false, _))))
        {
            return Err(format!(
                "processor '{spec}': processors must have one or both of 'process_message' and 'process_raw_message' methods"
            ));
        }
        if let Some((_, m)) = dict {
            listeners.dict.push((spec.clone(), m.unbind()));
        }
        if let Some((_, m)) = raw {
            listeners.raw.push((spec.clone(), m.unbind()));
        }
    }
    Ok(listeners)
}

/// The stats `--stats-include-processors`/`--stats-exclude-processors` select: the built-in
/// ones as a native table, the others (if any) in Python (`mite.stats._RunStats`).
fn select_stats(
    py: Python<'_>,
    options: &Options,
) -> Result<(StatTable, Option<PythonStats>), String> {
    let split = |list: &Option<String>| {
        list.as_ref()
            .map(|l| l.split(',').map(str::to_owned).collect::<Vec<_>>())
    };
    let failed = |e: PyErr| format!("selecting the stats: {}", one_line(py, &e));
    let collected = PyList::empty(py);
    let run_stats = py
        .import("mite.stats")
        .and_then(|m| m.getattr("_RunStats"))
        .and_then(|c| {
            c.call1((
                collected.getattr("extend")?,
                split(&options.stats_include_processors),
                split(&options.stats_exclude_processors),
            ))
        })
        .map_err(failed)?;
    let native: Vec<String> = run_stats
        .getattr("native")
        .and_then(|n| n.extract())
        .map_err(failed)?;
    let has_python: bool = run_stats
        .getattr("has_python_stats")
        .and_then(|n| n.extract())
        .map_err(failed)?;
    let mut specs = Vec::new();
    if native.iter().any(|n| n == "mite") {
        specs.extend(mite_stats());
    }
    if native.iter().any(|n| n == "mite_http") {
        specs.extend(mite_http_stats(
            http_buckets_from_env().map_err(|e| e.to_string())?,
        ));
    }
    log::info!(
        target: "mite.stats",
        "Counting stats of {}",
        if native.is_empty() && !has_python {
            "no processors (none selected)".to_owned()
        } else {
            let mut all = native.clone();
            if has_python {
                all.push("Python stats".into());
            }
            all.join(", ")
        }
    );
    let python = has_python.then(|| PythonStats {
        stats: run_stats.unbind(),
        dumps: collected.unbind(),
    });
    Ok((StatTable::new(specs), python))
}

/// Python-defined stats beside the native table: each frame decoded into a dict for them.
struct PythonStats {
    /// `mite.stats._RunStats`; its sender extends `dumps`.
    stats: Py<PyAny>,
    /// Dumps the Python stats made since [`ExtraStats::dump`] last took them.
    dumps: Py<PyList>,
}

impl ExtraStats for PythonStats {
    fn process(&mut self, frame: &[u8]) {
        Python::attach(|py| {
            let decoded = py
                .import("mite.utils")
                .and_then(|m| m.getattr("unpack_msg"))
                .and_then(|unpack| unpack.call1((PyBytes::new(py, frame),)))
                .and_then(|msg| self.stats.call_method1(py, "process_message", (msg,)));
            if let Err(e) = decoded {
                log::error!(target: "mite.stats", "Python stats: {}", one_line(py, &e));
            }
        });
    }

    fn dump(&mut self) -> Vec<Value> {
        Python::attach(|py| {
            let dumps = self.dumps.bind(py);
            let taken = self.stats.call_method0(py, "flush").and_then(|_| {
                let values = dumps
                    .iter()
                    .map(|item| to_value(&item))
                    .collect::<PyResult<Vec<Value>>>();
                dumps.call_method0("clear")?;
                values
            });
            taken.unwrap_or_else(|e| {
                log::error!(target: "mite.stats", "Python stats: {}", one_line(py, &e));
                Vec::new()
            })
        })
    }
}
