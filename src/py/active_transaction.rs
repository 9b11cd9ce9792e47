//! The active transaction of the current task: mite's `mite.context.active_transaction`
//! ContextVar holding `(full name, id)`, read with a one-entry cache of its Rust form.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};

use super::convert::to_arc_str;
use crate::bridge::contextvars;

/// A `(full name, id)` tuple of the transaction variable and its Rust form.
type SeenTransaction = (Py<PyAny>, Arc<str>, u64);

thread_local! {
    /// The transaction tuple seen last: messages mostly come from the transaction just entered,
    /// so this saves re-reading the name. Holding the tuple keeps its identity from being
    /// reused by another object.
    static LAST_TRANSACTION: std::cell::RefCell<Option<SeenTransaction>> =
        const { std::cell::RefCell::new(None) };
}

/// Remembers the tuple a transaction just stored in the variable.
pub fn remember_transaction(value: &Bound<'_, PyAny>, name: Arc<str>, id: u64) {
    LAST_TRANSACTION.with_borrow_mut(|last| *last = Some((value.clone().unbind(), name, id)));
}

/// mite's `ctx._active_transaction`: the variable's `(full name, id)` as the transaction set
/// it, or `(None, None)` outside any transaction.
pub fn active_transaction_pair(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    let var = contextvars::active_transaction_var(py)?;
    match contextvars::get(var)? {
        Some(value) => Ok(value),
        None => Ok(PyTuple::new(py, [py.None(), py.None()])?.into_any()),
    }
}

/// The innermost active transaction of the current task: `(full name, id)`.
pub fn current_transaction(py: Python<'_>) -> PyResult<Option<(Arc<str>, u64)>> {
    let var = contextvars::active_transaction_var(py)?;
    let Some(value) = contextvars::get(var)? else {
        return Ok(None);
    };
    let cached = LAST_TRANSACTION.with_borrow(|last| match last {
        Some((tuple, name, id)) if tuple.bind(py).is(&value) => Some((name.clone(), *id)),
        _ => None,
    });
    if cached.is_some() {
        return Ok(cached);
    }
    let Ok(pair) = value.cast::<PyTuple>() else {
        return Ok(None);
    };
    if pair.len() != 2 {
        return Ok(None);
    }
    let name = pair.get_item(0)?;
    let Ok(name) = name.cast::<PyString>() else {
        return Ok(None);
    };
    let (name, id) = (to_arc_str(name)?, pair.get_item(1)?.extract()?);
    remember_transaction(&value, name.clone(), id);
    Ok(Some((name, id)))
}
