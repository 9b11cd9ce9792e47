//! What the commands share: the fatal-error type and its one line, logging set-up, the
//! working directory on `sys.path`, importing `module:attribute` specs, and the Python
//! collector filter.

use pyo3::exceptions::{PyKeyboardInterrupt, PyModuleNotFoundError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::one_line;
use mite_core::bus::processors::CollectorFilter;
use mite_core::cli::{Num, Options};
use mite_core::logging::{self, LogLevel, UnknownLogLevel};

/// Why a command stopped before its run could finish normally.
pub enum Fatal {
    /// Bad input or a failure outside journeys: one line for the user, exit 1.
    Message(String),
    /// Ctrl-C before the run started (during imports or the scenario function).
    Interrupted,
}

/// `--message-backend`, which the distributed components check as mite's do: `ZMQ` is the
/// only one (mite's `nanomsg` backend needs a library mite itself cannot load).
pub fn message_backend(options: &Options) -> Result<(), String> {
    match options.message_backend.as_str() {
        "ZMQ" => Ok(()),
        "nanomsg" => Err(
            "--message-backend: nanomsg is not supported by mite-rs; ZMQ (the default) is".into(),
        ),
        other => Err(format!(
            "--message-backend: unsupported backend {other:?} (the one backend is ZMQ)"
        )),
    }
}

/// `--grace-period`: seconds, zero or more.
pub fn grace_period(options: &Options) -> Result<f64, Fatal> {
    seconds("--grace-period", &options.grace_period)
}

/// An option's seconds, zero or more.
pub fn seconds(option: &str, value: &Num<f64>) -> Result<f64, Fatal> {
    if value.value.is_finite() && value.value >= 0.0 {
        Ok(value.value)
    } else {
        Err(Fatal::Message(format!(
            "{option} must be a number of seconds, 0 or more, not {}",
            value.text
        )))
    }
}

/// A Python error as a [`Fatal`]: an interrupt stays one.
pub fn py_fatal(py: Python<'_>, context: &str, e: &PyErr) -> Fatal {
    if e.is_instance_of::<PyKeyboardInterrupt>(py) {
        return Fatal::Interrupted;
    }
    Fatal::Message(format!("{context}: {}", one_line(py, e)))
}

/// Rust's and Python's logging at `level`, in mite's line format.
pub fn setup_logging(py: Python<'_>, level: LogLevel) -> PyResult<()> {
    logging::init(level);
    let kwargs = PyDict::new(py);
    kwargs.set_item("level", level.python_name())?;
    kwargs.set_item(
        "format",
        "[%(asctime)s] <%(levelname)s> [%(name)s] [%(pathname)s:%(lineno)d %(funcName)s] %(message)s",
    )?;
    py.import("logging")?
        .call_method("basicConfig", (), Some(&kwargs))?;
    Ok(())
}

/// Puts the working directory first on `sys.path` (mite's default), unless
/// `--exclude-working-directory`.
pub fn add_working_directory(py: Python<'_>, options: &Options) -> Result<(), String> {
    if options.exclude_working_directory {
        return Ok(());
    }
    let cwd = std::env::current_dir().map_err(|e| format!("no working directory: {e}"))?;
    let sys_path = py.import("sys").and_then(|s| s.getattr("path"));
    sys_path
        .and_then(|p| p.call_method1("insert", (0, cwd.to_string_lossy().to_string())))
        .map_err(|e| one_line(py, &e))?;
    Ok(())
}

/// Where the recorder writes: `--recorder-dir`; with its default, the directory that is also
/// reachable as mite's `recorder_data/` (`mite_core::recorder_alias`).
pub fn recorder_dir(options: &Options) -> std::path::PathBuf {
    use mite_core::recorder_alias::{default_dir, DEFAULT_DIR};
    if options.recorder_dir != DEFAULT_DIR {
        return options.recorder_dir.clone().into();
    }
    match default_dir(std::path::Path::new(".")) {
        Ok((dir, None)) => dir,
        Ok((dir, Some(other))) => {
            log::warn!(target: "mite.recorder", "recording into {}; {} is a separate directory", dir.display(), other.display());
            dir
        }
        Err(e) => {
            log::warn!(target: "mite.recorder", "cannot give {DEFAULT_DIR} a second name: {e}");
            DEFAULT_DIR.into()
        }
    }
}

/// Imports `module:attribute`, describing failures in one line.
pub fn import_spec<'py>(
    py: Python<'py>,
    spec: &str,
    what: &str,
) -> Result<Bound<'py, PyAny>, Fatal> {
    let Some((module_name, attribute)) = spec.split_once(':') else {
        return Err(Fatal::Message(format!(
            "{what} '{spec}' is not of the form module:attribute"
        )));
    };
    let module = py.import(module_name).map_err(|e| {
        if e.is_instance_of::<PyKeyboardInterrupt>(py) {
            return Fatal::Interrupted;
        }
        let missing_itself = e.is_instance_of::<PyModuleNotFoundError>(py)
            && e.value(py)
                .getattr("name")
                .ok()
                .and_then(|n| n.extract::<String>().ok())
                .is_some_and(|n| module_name == n || module_name.starts_with(&format!("{n}.")));
        if missing_itself {
            Fatal::Message(format!("{what} '{spec}': no module named '{module_name}'"))
        } else {
            Fatal::Message(format!(
                "{what} '{spec}': importing {module_name} failed: {}",
                one_line(py, &e)
            ))
        }
    })?;
    module.getattr(attribute).map_err(|_| {
        Fatal::Message(format!(
            "{what} '{spec}': module '{module_name}' has no attribute '{attribute}'"
        ))
    })
}

/// [`import_spec`] with the failure as its one line.
pub fn import_spec_line<'py>(
    py: Python<'py>,
    spec: &str,
    what: &str,
) -> Result<Bound<'py, PyAny>, String> {
    import_spec(py, spec, what).map_err(|e| match e {
        Fatal::Message(message) => message,
        Fatal::Interrupted => "interrupted".into(),
    })
}

/// `--collector-filter`: a Python function deciding, from the raw msgpack bytes, whether the
/// collector keeps a message. Runs on the bus thread, taking the GIL only for the call.
pub struct PythonFilter {
    function: Py<PyAny>,
    warned: bool,
}

impl PythonFilter {
    pub fn new(function: Py<PyAny>) -> Self {
        PythonFilter {
            function,
            warned: false,
        }
    }
}

impl CollectorFilter for PythonFilter {
    fn keep(&mut self, raw: &[u8]) -> bool {
        Python::attach(|py| {
            let bytes = pyo3::types::PyBytes::new(py, raw);
            match self
                .function
                .call1(py, (bytes,))
                .and_then(|r| r.is_truthy(py))
            {
                Ok(keep) => keep,
                Err(e) => {
                    if !self.warned {
                        self.warned = true;
                        log::error!(target: "mite.collector", "collector filter failed (keeping messages): {}", one_line(py, &e));
                    }
                    true
                }
            }
        })
    }
}

/// The start of a command that runs user code: logging at `--log-level` (Rust's and
/// Python's) and the working directory on `sys.path`.
pub fn prepare_command(py: Python<'_>, options: &Options) -> Result<(), Fatal> {
    let level: LogLevel = options
        .log_level
        .parse()
        .map_err(|e: UnknownLogLevel| Fatal::Message(format!("--log-level: {e}")))?;
    setup_logging(py, level).map_err(|e| py_fatal(py, "configuring logging", &e))?;
    add_working_directory(py, options).map_err(Fatal::Message)
}

/// An I/O error's text without Rust's `(os error N)` suffix.
pub fn io_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}
