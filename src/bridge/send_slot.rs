//! The `am_send` slot for the core's awaitables, the one raw-FFI piece of the hot path.
//!
//! On Python 3.10 and 3.11, `await x` resumes `x` through `PyIter_Send`, which uses a type's
//! `am_send` slot when it has one: the result comes back as a return value instead of a
//! `StopIteration` exception created, raised and caught for every `await`. pyo3 does not
//! generate this slot, so it is filled in on the type objects after the module made them.
//! (Python 3.12 stopped consulting `am_send` in `await`; there the `__next__` path is used.)

use crate::errors::panic_in_send;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::PyTypeInfo;

/// What one `send` into an awaitable gives.
pub enum SendOutcome {
    /// Not done: yield this object (the awaitable itself) to whoever drives the coroutine.
    Yield(Py<PyAny>),
    Return(Py<PyAny>),
    Raise(PyErr),
}

/// Types whose `await` can be served by [`install`].
pub trait AmSend: PyTypeInfo {
    fn am_send(slf: &Bound<'_, Self>) -> SendOutcome;
}

unsafe extern "C" fn am_send<T: AmSend>(
    iter: *mut ffi::PyObject,
    _arg: *mut ffi::PyObject,
    result: *mut *mut ffi::PyObject,
) -> ffi::PySendResult {
    // SAFETY: CPython calls this slot with the GIL held, on an instance of `T` (the slot is
    // only installed on `T`'s type object, and subclasses inherit only compatible layouts).
    let py = unsafe { Python::assume_attached() };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let object = unsafe { Bound::from_borrowed_ptr(py, iter) };
        // SAFETY: see above: `iter` is a `T`.
        let this = unsafe { object.cast_into_unchecked::<T>() };
        T::am_send(&this)
    }));
    let outcome = outcome.unwrap_or_else(|_| SendOutcome::Raise(panic_in_send()));
    match outcome {
        SendOutcome::Yield(value) => {
            // SAFETY: `result` is a valid out-pointer; we hand over a new reference.
            unsafe { *result = value.into_ptr() };
            ffi::PySendResult::PYGEN_NEXT
        }
        SendOutcome::Return(value) => {
            // SAFETY: as above.
            unsafe { *result = value.into_ptr() };
            ffi::PySendResult::PYGEN_RETURN
        }
        SendOutcome::Raise(error) => {
            error.restore(py);
            // SAFETY: as above; NULL with an exception set signals the error.
            unsafe { *result = std::ptr::null_mut() };
            ffi::PySendResult::PYGEN_ERROR
        }
    }
}

/// Installs `T`'s `am_send` on its type object.
pub fn install<T: AmSend>(py: Python<'_>) {
    let ty = T::type_object(py);
    let raw = ty.as_type_ptr();
    // SAFETY: pyo3 creates classes as heap types (PyType_FromSpec), whose `tp_as_async`
    // points into the type object's own, writable `as_async` block. Called once at module
    // initialisation, before any instance exists; `PyType_Modified` clears caches.
    unsafe {
        let methods = (*raw).tp_as_async;
        if !methods.is_null() {
            (*methods).am_send = Some(am_send::<T>);
            ffi::PyType_Modified(raw);
        }
    }
}
