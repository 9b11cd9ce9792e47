//! asyncio-style done callbacks for the futures and tasks the core implements: each runs via
//! `loop.call_soon(callback, future, context=context)`, in the contextvars context it was
//! registered with (asyncio Tasks rely on that to resume in their own context).

use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3::PyTraverseError;

pub struct DoneCallback {
    pub callback: Py<PyAny>,
    pub context: Option<Py<PyAny>>,
}

impl DoneCallback {
    pub fn new(callback: Py<PyAny>, context: Option<Py<PyAny>>) -> Self {
        DoneCallback {
            callback,
            context: context.filter(|c| !Python::attach(|py| c.is_none(py))),
        }
    }

    /// Schedules `callback(future)` on `event_loop`.
    pub fn schedule(
        &self,
        event_loop: &Bound<'_, PyAny>,
        future: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let py = event_loop.py();
        match &self.context {
            Some(context) => {
                let kwargs = PyDict::new(py);
                kwargs.set_item("context", context)?;
                event_loop.call_method("call_soon", (&self.callback, future), Some(&kwargs))?;
            }
            None => {
                event_loop.call_method1("call_soon", (&self.callback, future))?;
            }
        }
        Ok(())
    }

    pub fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.callback)?;
        visit.call(&self.context)
    }

    pub fn is(&self, py: Python<'_>, callback: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.callback.bind(py).eq(callback)
    }
}

/// Schedules every callback, printing (not raising) failures: a finished future must not fail
/// because one observer could not be scheduled.
pub fn schedule_all(
    callbacks: Vec<DoneCallback>,
    event_loop: &Bound<'_, PyAny>,
    future: &Bound<'_, PyAny>,
) {
    for callback in callbacks {
        if let Err(e) = callback.schedule(event_loop, future) {
            e.print(event_loop.py());
        }
    }
}

/// Removes every registration of `callback`; returns how many were removed.
pub fn remove(
    callbacks: &mut Vec<DoneCallback>,
    py: Python<'_>,
    callback: &Bound<'_, PyAny>,
) -> PyResult<usize> {
    let before = callbacks.len();
    let mut kept = Vec::with_capacity(before);
    for cb in callbacks.drain(..) {
        if !cb.is(py, callback)? {
            kept.push(cb);
        }
    }
    *callbacks = kept;
    Ok(before - callbacks.len())
}
