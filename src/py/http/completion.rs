//! The way back from tokio to the event loop: finished exchanges are queued and an eventfd
//! is written once per batch; the loop's reader callback drains the queue, builds the Python
//! results and resolves the waiting futures (stepping driven journeys directly).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Mutex, OnceLock};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use super::session::{finish_exchange, InFlight};
use crate::http::Exchange;
use crate::py::errors::one_line;
use crate::py::native_future::NativeFuture;

/// A finished exchange for the request with this id.
pub struct Completion {
    pub id: u64,
    pub exchange: Exchange,
}

pub struct CompletionQueue {
    items: Mutex<Vec<Completion>>,
    eventfd: OwnedFd,
}

impl CompletionQueue {
    /// The process's queue (created on first use).
    pub fn global() -> io::Result<&'static CompletionQueue> {
        static QUEUE: OnceLock<Result<CompletionQueue, String>> = OnceLock::new();
        QUEUE
            .get_or_init(|| {
                // SAFETY: plain syscall; a negative result is an error.
                let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
                if fd < 0 {
                    return Err(io::Error::last_os_error().to_string());
                }
                Ok(CompletionQueue {
                    items: Mutex::new(Vec::new()),
                    // SAFETY: a fresh descriptor we own.
                    eventfd: unsafe { OwnedFd::from_raw_fd(fd) },
                })
            })
            .as_ref()
            .map_err(|e| io::Error::other(e.clone()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Completion>> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a completion; wakes the loop only if the queue was empty (one wake per batch).
    pub fn push(&self, completion: Completion) {
        let was_empty = {
            let mut items = self.lock();
            let was_empty = items.is_empty();
            items.push(completion);
            was_empty
        };
        if was_empty {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a live u64 to our eventfd. A full counter (EAGAIN)
            // still leaves the fd readable, which is all that matters.
            unsafe { libc::write(self.eventfd.as_raw_fd(), (&one as *const u64).cast(), 8) };
        }
    }

    /// Everything queued so far. The eventfd is reset first, so a push racing with this
    /// either lands in this batch or wakes the loop again.
    fn take(&self) -> Vec<Completion> {
        let mut counter: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64; EAGAIN (nothing pending) is fine.
        unsafe {
            libc::read(
                self.eventfd.as_raw_fd(),
                (&mut counter as *mut u64).cast(),
                8,
            )
        };
        std::mem::take(&mut *self.lock())
    }

    fn fd(&self) -> i32 {
        self.eventfd.as_raw_fd()
    }
}

/// Loop-thread state: requests in flight and the loop the eventfd reader is registered on.
#[pyclass(unsendable, module = "mite._mite")]
pub struct HttpDriver {
    in_flight: RefCell<HashMap<u64, InFlight>>,
    next_id: Cell<u64>,
    registered_loop: RefCell<Option<Py<PyAny>>>,
}

impl HttpDriver {
    /// The process's driver (the loop thread is the only user).
    pub fn global(py: Python<'_>) -> PyResult<&Bound<'_, HttpDriver>> {
        static DRIVER: PyOnceLock<Py<HttpDriver>> = PyOnceLock::new();
        DRIVER
            .get_or_try_init(py, || {
                Py::new(
                    py,
                    HttpDriver {
                        in_flight: RefCell::new(HashMap::new()),
                        next_id: Cell::new(0),
                        registered_loop: RefCell::new(None),
                    },
                )
            })
            .map(|d| d.bind(py))
    }

    /// Makes sure `event_loop` drains the queue (once per loop).
    pub fn ensure_registered(slf: &Bound<'_, Self>, event_loop: &Bound<'_, PyAny>) -> PyResult<()> {
        let this = slf.borrow();
        if this
            .registered_loop
            .borrow()
            .as_ref()
            .is_some_and(|l| l.bind(slf.py()).is(event_loop))
        {
            return Ok(());
        }
        let queue = CompletionQueue::global().map_err(|e| {
            pyo3::exceptions::PyOSError::new_err(format!(
                "cannot create the HTTP completion queue: {e}"
            ))
        })?;
        event_loop.call_method1("add_reader", (queue.fd(), slf.getattr("_drain")?))?;
        *this.registered_loop.borrow_mut() = Some(event_loop.clone().unbind());
        Ok(())
    }

    /// Records a request in flight, returning its id.
    pub fn track(&self, in_flight: InFlight) -> u64 {
        let id = self.next_id.get() + 1;
        self.next_id.set(id);
        self.in_flight.borrow_mut().insert(id, in_flight);
        id
    }

    /// Forgets a cancelled request.
    pub fn forget(&self, id: u64) {
        self.in_flight.borrow_mut().remove(&id);
    }
}

#[pymethods]
impl HttpDriver {
    /// Reader callback: resolves every finished request.
    fn _drain(slf: &Bound<'_, Self>) {
        let py = slf.py();
        let Ok(queue) = CompletionQueue::global() else {
            return;
        };
        for completion in queue.take() {
            let in_flight = slf.borrow().in_flight.borrow_mut().remove(&completion.id);
            let Some(in_flight) = in_flight else {
                continue; // cancelled meanwhile
            };
            let future = in_flight.future.clone_ref(py);
            let result = finish_exchange(py, in_flight, completion.exchange);
            if let Err(e) = &result {
                if e.is_instance_of::<pyo3::exceptions::PySystemError>(py) {
                    log::error!(target: "mite_http", "finishing a request failed: {}", one_line(py, e));
                }
            }
            NativeFuture::resolve(future.bind(py), result);
        }
    }
}
