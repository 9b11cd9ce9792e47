//! `ctx.transaction(name)`: mite's async context manager, in Rust.
//!
//! Entering sets `mite.context.active_transaction` to `(full name, id)`; leaving reports an
//! `Exception` once (`error` for MiteError, `exception` otherwise, unless it is already
//! `handled`), sends `txn` while still active, then restores the variable.

use std::sync::Arc;

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};

use super::active_transaction::{current_transaction, remember_transaction};
use super::context::Context;
use super::exception_report::{post_mortem, ExceptionReport};
use crate::bridge::awaitable::Ready;
use crate::bridge::contextvars;
use crate::errors::{system_exit, BindingError};
use mite_core::clock::unix_time;
use mite_core::messages::{keys, Value};

struct Active {
    token: Py<PyAny>,
    full_name: Arc<str>,
    id: u64,
    start_time: f64,
}

#[pyclass(module = "mite._mite")]
pub struct Transaction {
    ctx: Py<Context>,
    name: Py<PyString>,
    active: Option<Active>,
}

// `ctx.transaction` is defined here rather than with the rest of `Context`'s methods, so that
// the context does not depend on its transactions (pyo3's `multiple-pymethods`).
#[pymethods]
impl Context {
    /// `async with ctx.transaction(name):` — names nest as `outer :: inner`.
    fn transaction(slf: Py<Self>, name: Bound<'_, PyString>) -> Transaction {
        Transaction {
            ctx: slf,
            name: name.unbind(),
            active: None,
        }
    }
}

/// Enters a transaction named `name` under whatever is active in the current context.
pub fn enter(py: Python<'_>, ctx: &Context, name: &str) -> PyResult<(Py<PyAny>, Arc<str>, u64)> {
    let full_name: Arc<str> = match current_transaction(py)? {
        Some((outer, _)) => Arc::from(format!("{outer} :: {name}")),
        None => Arc::from(name),
    };
    let id = ctx.next_transaction_id();
    let var = contextvars::active_transaction_var(py)?;
    let value = PyTuple::new(
        py,
        [
            PyString::new(py, &full_name).into_any(),
            id.into_pyobject(py)?.into_any(),
        ],
    )?;
    let token = contextvars::set(var, value.as_any())?;
    remember_transaction(value.as_any(), full_name.clone(), id);
    Ok((token.unbind(), full_name, id))
}

/// Reports `error` if it is an `Exception` not yet handled; returns `had_error`.
///
/// `Err` only for `--debugging`, where the run must stop after the post-mortem.
pub fn report_exception(
    py: Python<'_>,
    ctx: &Context,
    error: &Bound<'_, PyAny>,
    traceback: Option<&Bound<'_, PyAny>>,
    transaction: &(Arc<str>, u64),
) -> PyResult<bool> {
    if !error.is_instance_of::<PyException>() {
        return Ok(false);
    }
    if error.hasattr("handled")? {
        return Ok(true);
    }
    let report = ExceptionReport::build(py, error, traceback)?;
    let (kind, fields) = report.into_message();
    ctx.send_fields(py, kind, fields, Some(transaction.clone()))?;
    if ctx.debug() {
        post_mortem(py);
        return Err(system_exit(1));
    }
    // An exception that refuses new attributes is re-raised unmarked; enclosing transactions
    // will then report it again, which is the lesser evil.
    let _ = error.setattr("handled", true);
    Ok(true)
}

/// Sends the `txn` message of a finished transaction.
pub fn send_txn(
    py: Python<'_>,
    ctx: &Context,
    transaction: (Arc<str>, u64),
    start_time: f64,
    had_error: bool,
) -> PyResult<()> {
    let end_time = unix_time();
    ctx.send_fields_at(
        py,
        end_time,
        keys::txn(),
        vec![
            (keys::start_time(), Value::Float(start_time)),
            (keys::end_time(), Value::Float(end_time)),
            (keys::had_error(), Value::Bool(had_error)),
        ],
        Some(transaction),
    )
}

#[pymethods]
impl Transaction {
    fn __aenter__(&mut self, py: Python<'_>) -> PyResult<Py<Ready>> {
        if self.active.is_some() {
            return Err(BindingError::TransactionEnteredTwice.into());
        }
        let ctx = self.ctx.bind(py).borrow();
        let name = self.name.bind(py).to_str()?.to_owned();
        let (token, full_name, id) = enter(py, &ctx, &name)?;
        self.active = Some(Active {
            token,
            full_name,
            id,
            start_time: unix_time(),
        });
        Ok(Ready::none(py))
    }

    #[pyo3(signature = (_exc_type, exc, tb))]
    fn __aexit__(
        &mut self,
        py: Python<'_>,
        _exc_type: Bound<'_, PyAny>,
        exc: Bound<'_, PyAny>,
        tb: Bound<'_, PyAny>,
    ) -> PyResult<Py<Ready>> {
        let Some(active) = self.active.take() else {
            return Err(BindingError::TransactionNotEntered.into());
        };
        let ctx = self.ctx.bind(py).borrow();
        let transaction = (active.full_name, active.id);
        let traceback = (!tb.is_none()).then_some(&tb);
        let reported = if exc.is_none() {
            Ok(false)
        } else {
            report_exception(py, &ctx, &exc, traceback, &transaction)
        };
        let had_error = *reported.as_ref().unwrap_or(&true);
        let sent = send_txn(py, &ctx, transaction, active.start_time, had_error);
        let var = contextvars::active_transaction_var(py)?;
        contextvars::reset(var, active.token.bind(py))?;
        reported?;
        sent?;
        // Falsy: the exception (if any) propagates, as from mite's context manager.
        Ok(Ready::none(py))
    }
}
