//! Stepping a coroutine (or any awaitable's iterator) from Rust: send a value in or throw an
//! error in, and see whether it yielded, returned or raised.

use std::ptr;

use pyo3::exceptions::PyStopIteration;
use pyo3::ffi;
use pyo3::prelude::*;

/// How one step of a coroutine ended.
pub enum Step<'py> {
    Yielded(Bound<'py, PyAny>),
    Returned(Bound<'py, PyAny>),
    Raised(PyErr),
}

/// `coro.send(value)` (`None` when not given), without an exception object for the return
/// value.
pub fn send<'py>(
    coro: &Bound<'py, PyAny>,
    value: Option<&Bound<'py, PyAny>>,
) -> PyResult<Step<'py>> {
    let py = coro.py();
    let none = py.None();
    let arg = value.map_or(none.as_ptr(), |v| v.as_ptr());
    let mut result: *mut ffi::PyObject = ptr::null_mut();
    // SAFETY: `coro` is a live object; PyIter_Send returns a new reference in `result` for
    // RETURN and NEXT, and sets an exception for ERROR.
    let status = unsafe { ffi::PyIter_Send(coro.as_ptr(), arg, &mut result) };
    Ok(match status {
        ffi::PySendResult::PYGEN_NEXT => {
            // SAFETY: new reference per the contract above.
            Step::Yielded(unsafe { Bound::from_owned_ptr(py, result) })
        }
        ffi::PySendResult::PYGEN_RETURN => {
            // SAFETY: as above.
            Step::Returned(unsafe { Bound::from_owned_ptr(py, result) })
        }
        ffi::PySendResult::PYGEN_ERROR => Step::Raised(PyErr::fetch(py)),
    })
}

/// `coro.throw(error)`, mapping StopIteration to a return.
pub fn throw<'py>(coro: &Bound<'py, PyAny>, error: PyErr) -> PyResult<Step<'py>> {
    let py = coro.py();
    let value = error.into_value(py);
    match coro.call_method1("throw", (value.bind(py),)) {
        Ok(yielded) => Ok(Step::Yielded(yielded)),
        Err(e) if e.is_instance_of::<PyStopIteration>(py) => {
            let value = e.value(py).getattr("value")?;
            Ok(Step::Returned(value))
        }
        Err(e) => Ok(Step::Raised(e)),
    }
}
