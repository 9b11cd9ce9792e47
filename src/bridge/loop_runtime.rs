//! The event loop's side of a loop runtime (`mite_core::http::LoopRuntime`): the selector of a
//! loop that does its own HTTP work (`mite._http_loop.HttpSelector`) waits through an
//! `HttpWaiter` instead of blocking in `epoll_wait` itself.

use std::os::fd::BorrowedFd;
use std::time::Duration;

use pyo3::prelude::*;

use crate::errors::BindingError;
use mite_core::http::{loop_runtime, LoopRuntime, WatchedSelector};

/// Waits for an event loop's selector by running this thread's HTTP work meanwhile.
// Not `unsendable`: the garbage collector may free a closed loop's selector on any thread.
#[pyclass(module = "mite._mite")]
pub struct HttpWaiter {
    runtime: &'static LoopRuntime,
    /// `None` once closed.
    selector: Option<WatchedSelector>,
}

#[pymethods]
impl HttpWaiter {
    /// Watches the epoll descriptor `fd` (duplicated: the selector keeps its own).
    #[new]
    fn new(fd: i32) -> PyResult<Self> {
        let runtime = loop_runtime().map_err(BindingError::from)?;
        if fd < 0 {
            return Err(BindingError::BadDescriptor(fd).into());
        }
        // SAFETY: only borrowed for the duration of the call, which duplicates it; the
        // caller's selector is open while it constructs us.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let selector = runtime
            .watch(borrowed)
            .map_err(BindingError::io("watching the selector"))?;
        Ok(HttpWaiter {
            runtime,
            selector: Some(selector),
        })
    }

    /// Runs HTTP work until the selector is readable or `timeout` seconds have passed
    /// (`None`: no limit; `0`: one round without waiting). Releases the GIL meanwhile.
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let Some(selector) = &self.selector else {
            return Err(BindingError::SelectorClosed.into());
        };
        let timeout = timeout.map(|t| {
            if t.is_finite() && t > 0.0 {
                Duration::from_secs_f64(t)
            } else {
                Duration::ZERO
            }
        });
        let runtime = self.runtime;
        py.detach(|| runtime.drive(selector, timeout))
            .map_err(|e| BindingError::io("waiting for events")(e).into())
    }

    /// Stops watching (before the selector closes).
    fn close(&mut self) {
        self.selector = None;
    }
}

/// Whether `mite` makes its event loop do the HTTP work itself (see
/// `mite_core::http::http_on_loop_thread`).
#[pyfunction]
pub fn http_on_loop_thread() -> bool {
    mite_core::http::http_on_loop_thread()
}
