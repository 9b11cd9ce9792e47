//! The `error` / `exception` message a transaction sends for a journey's exception, with
//! mite's field formats (`message`, `ex_type`, `location`, `stacktrace` or MiteError fields).

use std::sync::Arc;

use pyo3::exceptions::PySyntaxError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyType};

use super::convert::{to_arc_str, to_value};
use crate::errors;
use mite_core::messages::{keys, Value};

pub struct ExceptionReport {
    is_mite_error: bool,
    message: String,
    ex_type: String,
    location: String,
    /// MiteError fields, or the formatted traceback for other exceptions.
    extra: Vec<(Arc<str>, Value)>,
}

fn traceback_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    MODULE
        .get_or_try_init(py, || Ok::<_, PyErr>(py.import("traceback")?.unbind()))
        .map(|m| m.bind(py))
}

/// `traceback.format_exception_only(type(e), e)[-1].strip()`, computed directly for the common
/// case (no notes, not a SyntaxError, whose formatting is special).
fn message_of(py: Python<'_>, error: &Bound<'_, PyAny>) -> PyResult<String> {
    if error.is_instance_of::<PySyntaxError>() || error.hasattr("__notes__")? {
        let lines = traceback_module(py)?
            .call_method1("format_exception_only", (error.get_type(), error))?;
        let last = lines.get_item(-1)?;
        return Ok(last.str()?.to_str()?.trim().to_owned());
    }
    let class: Bound<'_, PyType> = error.get_type();
    let qualname = class.qualname()?.to_string();
    let module = class.module()?.to_string();
    let name = if module == "builtins" || module == "__main__" {
        qualname
    } else {
        format!("{module}.{qualname}")
    };
    let text = match error.str() {
        Ok(s) => s.to_str()?.to_owned(),
        Err(_) => "<exception str() failed>".to_owned(),
    };
    let line = if text.is_empty() {
        name
    } else {
        format!("{name}: {text}")
    };
    Ok(line.trim().to_owned())
}

/// `"{filename}:{lineno}:{function}"` of the innermost frame of `traceback`.
fn location_of(traceback: Option<&Bound<'_, PyAny>>) -> String {
    let innermost = || -> PyResult<String> {
        let mut tb = traceback
            .ok_or_else(|| PyErr::new::<pyo3::exceptions::PyValueError, _>("no traceback"))?
            .clone();
        loop {
            let next = tb.getattr("tb_next")?;
            if next.is_none() {
                break;
            }
            tb = next;
        }
        let code = tb.getattr("tb_frame")?.getattr("f_code")?;
        Ok(format!(
            "{}:{}:{}",
            code.getattr("co_filename")?,
            tb.getattr("tb_lineno")?,
            code.getattr("co_name")?
        ))
    };
    innermost().unwrap_or_else(|_| "unable_to_format_source:0:none".to_owned())
}

impl ExceptionReport {
    pub fn build(
        py: Python<'_>,
        error: &Bound<'_, PyAny>,
        traceback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let is_mite_error = error.is_instance(errors::mite_error(py)?)?;
        let mut extra = Vec::new();
        if is_mite_error {
            if let Ok(fields) = error.getattr("fields") {
                if let Ok(fields) = fields.cast::<PyDict>() {
                    for (k, v) in fields.iter() {
                        let key = match k.cast::<PyString>() {
                            Ok(s) => to_arc_str(s)?,
                            Err(_) => Arc::from(k.str()?.to_str()?),
                        };
                        extra.push((key, to_value(&v)?));
                    }
                }
            }
        } else {
            let stacktrace = match traceback {
                Some(tb) => {
                    let lines = traceback_module(py)?.call_method1("format_tb", (tb,))?;
                    PyString::new(py, "")
                        .call_method1("join", (lines,))?
                        .str()?
                        .to_str()?
                        .to_owned()
                }
                None => String::new(),
            };
            extra.push((keys::stacktrace(), Value::str(&stacktrace)));
        }
        Ok(ExceptionReport {
            is_mite_error,
            message: message_of(py, error)?,
            ex_type: error.get_type().name()?.to_string(),
            location: location_of(traceback),
            extra,
        })
    }

    /// The message type and its fields in mite's order.
    pub fn into_message(self) -> (Arc<str>, Vec<(Arc<str>, Value)>) {
        let kind = if self.is_mite_error {
            "error"
        } else {
            "exception"
        };
        let mut fields = vec![
            (keys::message(), Value::str(&self.message)),
            (keys::ex_type(), Value::str(&self.ex_type)),
            (keys::location(), Value::str(&self.location)),
        ];
        fields.extend(self.extra);
        (Arc::from(kind), fields)
    }
}

/// `--debugging`: runs the post-mortem hook named by `PYTHONPOSTMORTEM` (default
/// `pdb.post_mortem`; a name without a dot is a builtin), falling back to pdb.
pub fn post_mortem(py: Python<'_>) {
    let spec = std::env::var("PYTHONPOSTMORTEM").unwrap_or_else(|_| "pdb.post_mortem".into());
    let (module, function) = match spec.rsplit_once('.') {
        Some((m, f)) => (m.to_owned(), f.to_owned()),
        None => ("builtins".to_owned(), spec),
    };
    let hook = py
        .import(module.as_str())
        .and_then(|m| m.getattr(function.as_str()))
        .or_else(|_| py.import("pdb").and_then(|m| m.getattr("post_mortem")));
    if let Ok(hook) = hook {
        if let Err(e) = hook.call0() {
            e.print(py);
        }
    }
}
