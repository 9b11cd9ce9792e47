//! Awaitables that are already complete: what `ctx.send`, transactions' `__aenter__` and
//! `__aexit__`, and the built-in datapools' `checkout`/`checkin` return. Awaiting one costs no
//! event-loop round trip, and ignoring one (`ctx.send(...)` without `await`) warns about
//! nothing, unlike a coroutine.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use super::send_slot::{AmSend, SendOutcome};
use crate::errors::{reraise, stop_iteration};

/// An awaitable (and its own iterator) that finishes at once with `value`.
#[pyclass(frozen, module = "mite._mite")]
pub struct Ready {
    value: Option<Py<PyAny>>,
    /// Raised by `await` instead of returning (as an `async def` raises only when awaited).
    error: Option<PyErr>,
}

impl Ready {
    /// The shared awaitable whose result is `None`.
    pub fn none(py: Python<'_>) -> Py<Ready> {
        static NONE: PyOnceLock<Py<Ready>> = PyOnceLock::new();
        NONE.get_or_init(py, || {
            Py::new(
                py,
                Ready {
                    value: None,
                    error: None,
                },
            )
            .expect("allocating the shared Ready")
        })
        .clone_ref(py)
    }

    pub fn with_value(py: Python<'_>, value: Py<PyAny>) -> PyResult<Py<Ready>> {
        Py::new(
            py,
            Ready {
                value: Some(value),
                error: None,
            },
        )
    }

    /// An awaitable that raises `error` when awaited.
    pub fn failing(py: Python<'_>, error: PyErr) -> PyResult<Py<Ready>> {
        Py::new(
            py,
            Ready {
                value: None,
                error: Some(error),
            },
        )
    }

    /// The awaitable of a result: its value, or its error raised at `await`.
    pub fn of(py: Python<'_>, result: PyResult<Py<PyAny>>) -> PyResult<Py<Ready>> {
        match result {
            Ok(value) => Self::with_value(py, value),
            Err(error) => Self::failing(py, error),
        }
    }

    fn finish(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        if let Some(error) = &self.error {
            return Err(error.clone_ref(py));
        }
        match &self.value {
            None => Ok(None),
            Some(v) => Err(stop_iteration(v.clone_ref(py))),
        }
    }
}

#[pymethods]
impl Ready {
    fn __await__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.finish(py)
    }

    fn send(&self, py: Python<'_>, _value: Py<PyAny>) -> PyResult<Option<Py<PyAny>>> {
        self.finish(py)
    }

    #[pyo3(signature = (error, *_rest))]
    fn throw(
        &self,
        error: Bound<'_, PyAny>,
        _rest: Bound<'_, pyo3::types::PyTuple>,
    ) -> PyResult<Py<PyAny>> {
        Err(reraise(error))
    }

    fn close(&self) {}
}

impl AmSend for Ready {
    fn am_send(slf: &Bound<'_, Self>) -> SendOutcome {
        let py = slf.py();
        let this = slf.get();
        match (&this.error, &this.value) {
            (Some(error), _) => SendOutcome::Raise(error.clone_ref(py)),
            (None, Some(value)) => SendOutcome::Return(value.clone_ref(py)),
            (None, None) => SendOutcome::Return(py.None()),
        }
    }
}
