//! The Python exception classes the core raises or recognises, looked up once, and the
//! conversion of core errors into Python exceptions. mite's own classes are kept (they are
//! defined in Python, `mite.exceptions` and `mite.scenario`), so users' `except` clauses keep
//! working.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

macro_rules! python_class {
    ($(#[$doc:meta])* $name:ident = $module:literal . $attr:literal) => {
        $(#[$doc])*
        pub fn $name(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
            static CLASS: PyOnceLock<Py<PyType>> = PyOnceLock::new();
            CLASS.import(py, $module, $attr)
        }
    };
}

python_class!(
    /// `mite.exceptions.MiteError`: reported as `error` messages with its `fields`.
    mite_error = "mite.exceptions"."MiteError"
);
python_class!(
    /// `mite.exceptions.DataPoolExhausted` (a BaseException): a datapool has no more items.
    datapool_exhausted = "mite.exceptions"."DataPoolExhausted"
);
python_class!(
    /// `mite.scenario.StopVolumeModel`: a volume model ends its scenario.
    stop_volume_model = "mite.scenario"."StopVolumeModel"
);
python_class!(
    /// `asyncio.CancelledError`.
    cancelled_error = "asyncio"."CancelledError"
);

/// A new `DataPoolExhausted()` to raise.
pub fn new_datapool_exhausted(py: Python<'_>) -> PyErr {
    match datapool_exhausted(py) {
        Ok(class) => PyErr::from_type(class.clone(), ()),
        Err(e) => e,
    }
}

/// One line describing a Python exception: `TypeError: message` (the last line of
/// `traceback.format_exception_only`), for error output that must not be a traceback.
pub fn one_line(py: Python<'_>, err: &PyErr) -> String {
    let value = err.value(py);
    let name = value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "Exception".into());
    let text = value.str().map(|s| s.to_string()).unwrap_or_default();
    let text = text.lines().last().unwrap_or("").trim();
    if text.is_empty() {
        name
    } else {
        format!("{name}: {text}")
    }
}

/// `asyncio.InvalidStateError(message)`, as futures raise it.
pub fn invalid_state(py: Python<'_>, message: &str) -> PyErr {
    match py
        .import("asyncio")
        .and_then(|m| m.getattr("InvalidStateError"))
    {
        Ok(class) => PyErr::from_value(class.call1((message,)).unwrap_or(class)),
        Err(e) => e,
    }
}
