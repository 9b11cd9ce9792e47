//! `@mite_http` in Rust: calling the decorated journey gives an awaitable that sets
//! `ctx.http` to a fresh session when it starts, runs the journey's coroutine (passing every
//! step through, with no Python frame of its own) and removes `ctx.http` when the journey
//! returns; as in mite, `ctx.http` is left in place when the journey raises.

use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use super::loop_driver::{get_running_loop, HttpDriver};
use super::session::HttpSession;
use crate::bridge::coroutine::{send, throw, Step};
use crate::bridge::send_slot::{AmSend, SendOutcome};
use crate::errors::{reraise, stop_iteration};
use crate::py::context::Context;

/// The decorated journey (`functools.update_wrapper` gives it the journey's name and
/// `__wrapped__`, for `inspect.signature`).
#[pyclass(dict, module = "mite_http", name = "HttpJourney")]
pub struct HttpJourney {
    func: Py<PyAny>,
}

#[pymethods]
impl HttpJourney {
    #[new]
    fn new(func: Py<PyAny>) -> Self {
        HttpJourney { func }
    }

    #[pyo3(signature = (ctx, *args, **kwargs))]
    fn __call__(
        &self,
        py: Python<'_>,
        ctx: Bound<'_, PyAny>,
        args: Bound<'_, PyTuple>,
        kwargs: Option<Bound<'_, PyDict>>,
    ) -> PyResult<HttpCall> {
        let mut call_args = Vec::with_capacity(args.len() + 1);
        call_args.push(ctx.clone());
        call_args.extend(args.iter());
        let awaitable = self
            .func
            .bind(py)
            .call(PyTuple::new(py, call_args)?, kwargs.as_ref())?;
        // SAFETY: a type check on a live object.
        let is_coroutine = unsafe { pyo3::ffi::PyCoro_CheckExact(awaitable.as_ptr()) } != 0;
        let inner = if is_coroutine {
            awaitable
        } else {
            awaitable.call_method0("__await__")?
        };
        Ok(HttpCall {
            ctx: ctx.unbind(),
            inner: inner.unbind(),
            started: AtomicBool::new(false),
        })
    }
}

/// Sets (`Some`) or deletes (`None`) `ctx.http`: straight into a runner's `Context`, through
/// Python's attribute protocol for any other object used as `ctx`.
fn set_http(ctx: &Bound<'_, PyAny>, session: Option<Bound<'_, PyAny>>) -> PyResult<()> {
    let py = ctx.py();
    if let Ok(native) = ctx.cast_exact::<Context>() {
        native.borrow().replace_http(session.map(Bound::unbind));
        return Ok(());
    }
    match session {
        Some(session) => ctx.setattr(pyo3::intern!(py, "http"), session),
        None => ctx.delattr(pyo3::intern!(py, "http")),
    }
}

/// One call of an `@mite_http` journey, awaited (or driven) like its coroutine.
// Not `unsendable`: when a journey raises, the call can end up in a reference cycle (through
// the exception's traceback), and the garbage collector may free it on any thread.
#[pyclass(frozen, module = "mite_http")]
pub struct HttpCall {
    ctx: Py<PyAny>,
    inner: Py<PyAny>,
    started: AtomicBool,
}

impl HttpCall {
    fn resume(
        slf: &Bound<'_, Self>,
        value: Option<&Bound<'_, PyAny>>,
        error: Option<PyErr>,
    ) -> SendOutcome {
        let py = slf.py();
        let this = slf.borrow();
        let ctx = this.ctx.bind(py).clone();
        if !this.started.swap(true, Ordering::Relaxed) {
            if ctx.cast_exact::<Context>().is_err() {
                // A journey driven outside a runner (a test's mock context): give the running
                // loop its HTTP driver now, as mite gives a loop its session pool on the
                // first call, so `SessionPool._session_pools` lists it. A runner's loop gets
                // its driver with its first request, at no cost per journey.
                if let Ok(event_loop) = get_running_loop(py) {
                    if let Err(e) = HttpDriver::for_loop(&event_loop) {
                        return SendOutcome::Raise(e);
                    }
                }
            }
            let session = Bound::new(py, HttpSession::create(py, ctx.clone().unbind()));
            if let Err(e) = session.and_then(|s| set_http(&ctx, Some(s.into_any()))) {
                return SendOutcome::Raise(e);
            }
        }
        let inner = this.inner.bind(py).clone();
        drop(this);
        let step = match error {
            Some(e) => throw(&inner, e),
            None => send(&inner, value),
        };
        match step {
            Ok(Step::Yielded(yielded)) => SendOutcome::Yield(yielded.unbind()),
            Ok(Step::Returned(result)) => match set_http(&ctx, None) {
                Ok(()) => SendOutcome::Return(result.unbind()),
                Err(e) => SendOutcome::Raise(e),
            },
            Ok(Step::Raised(e)) | Err(e) => SendOutcome::Raise(e),
        }
    }

    fn step(
        slf: &Bound<'_, Self>,
        value: Option<&Bound<'_, PyAny>>,
        error: Option<PyErr>,
    ) -> PyResult<Option<Py<PyAny>>> {
        match Self::resume(slf, value, error) {
            SendOutcome::Yield(yielded) => Ok(Some(yielded)),
            SendOutcome::Return(result) => Err(stop_iteration(result)),
            SendOutcome::Raise(e) => Err(e),
        }
    }
}

#[pymethods]
impl HttpCall {
    fn __await__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(slf: &Bound<'_, Self>) -> PyResult<Option<Py<PyAny>>> {
        Self::step(slf, None, None)
    }

    fn send(slf: &Bound<'_, Self>, value: Bound<'_, PyAny>) -> PyResult<Option<Py<PyAny>>> {
        Self::step(slf, Some(&value), None)
    }

    #[pyo3(signature = (error, *_rest))]
    fn throw(
        slf: &Bound<'_, Self>,
        error: Bound<'_, PyAny>,
        _rest: Bound<'_, PyTuple>,
    ) -> PyResult<Option<Py<PyAny>>> {
        Self::step(slf, None, Some(reraise(error)))
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let inner = self.inner.bind(py);
        if inner.hasattr("close")? {
            inner.call_method0("close")?;
        }
        Ok(())
    }
}

impl AmSend for HttpCall {
    fn am_send(slf: &Bound<'_, Self>) -> SendOutcome {
        Self::resume(slf, None, None)
    }
}
