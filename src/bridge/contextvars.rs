//! `contextvars` through the C API: the active-transaction variable that mite keeps in
//! `mite.context.active_transaction`, and the per-journey `contextvars.Context` the coroutine
//! driver runs each step in (as an asyncio Task does).

use std::ptr;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

/// `mite.context.active_transaction`.
pub fn active_transaction_var(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static VAR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    VAR.get_or_try_init(py, || {
        Ok::<_, PyErr>(
            py.import("mite.context")?
                .getattr("active_transaction")?
                .unbind(),
        )
    })
    .map(|v| v.bind(py))
}

/// The variable's value in the current context, or `None` when it is unset.
pub fn get<'py>(var: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = var.py();
    let mut value: *mut ffi::PyObject = ptr::null_mut();
    // SAFETY: `var` is a live ContextVar (checked by the C function); `value` receives a new
    // reference or NULL.
    let status = unsafe { ffi::PyContextVar_Get(var.as_ptr(), ptr::null_mut(), &mut value) };
    if status < 0 {
        return Err(PyErr::fetch(py));
    }
    if value.is_null() {
        return Ok(None);
    }
    // SAFETY: a new, non-null reference returned by PyContextVar_Get.
    Ok(Some(unsafe { Bound::from_owned_ptr(py, value) }))
}

/// Sets the variable in the current context, returning the reset token.
pub fn set<'py>(var: &Bound<'py, PyAny>, value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let py = var.py();
    // SAFETY: both pointers are live objects; the result is a new reference or NULL.
    unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyContextVar_Set(var.as_ptr(), value.as_ptr())) }
}

/// Restores the value the variable had before the `set` that returned `token`.
pub fn reset(var: &Bound<'_, PyAny>, token: &Bound<'_, PyAny>) -> PyResult<()> {
    // SAFETY: live objects; the C function validates the token.
    if unsafe { ffi::PyContextVar_Reset(var.as_ptr(), token.as_ptr()) } < 0 {
        return Err(PyErr::fetch(var.py()));
    }
    Ok(())
}

/// A copy of the current thread's context (`contextvars.copy_context()`).
pub fn copy_current(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    // SAFETY: returns a new reference or NULL with an exception set.
    unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyContext_CopyCurrent()) }
}

/// A copy of `context` (O(1): contexts are immutable mappings underneath).
pub fn copy<'py>(context: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: `context` must be a contextvars.Context; the C function checks and sets an
    // exception otherwise.
    unsafe { Bound::from_owned_ptr_or_err(context.py(), ffi::PyContext_Copy(context.as_ptr())) }
}

/// Runs `f` with `context` entered as the current context, like `context.run(f)`.
pub fn run_in<'py, T>(context: &Bound<'py, PyAny>, f: impl FnOnce() -> T) -> PyResult<T> {
    // SAFETY: `context` is a contextvars.Context; entering fails (with an exception) if it is
    // already entered, e.g. by re-entrant use.
    if unsafe { ffi::PyContext_Enter(context.as_ptr()) } < 0 {
        return Err(PyErr::fetch(context.py()));
    }
    let result = f();
    // SAFETY: we entered this context just above on this thread.
    if unsafe { ffi::PyContext_Exit(context.as_ptr()) } < 0 {
        return Err(PyErr::fetch(context.py()));
    }
    Ok(result)
}
