//! The HTTP side of an event loop: where its requests run (the shared HTTP runtime or the
//! loop thread's own), the requests in flight, and the way back: finished exchanges arrive on a
//! completion queue (`mite_core::completion`), whose reader callback builds the Python results
//! and resolves the waiting futures (stepping driven journeys directly).

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use rustc_hash::FxHashMap as HashMap;

use crate::errors::BindingError;
use mite_core::completion::CompletionQueue;
use mite_core::http::Exchange;
use mite_core::http::{loop_runtime, runtime, LoopRuntime};

/// A finished exchange for the request with this id.
pub struct Completion {
    pub id: u64,
    pub exchange: Exchange,
}

thread_local! {
    /// The drivers of the event loops this thread has run HTTP requests on.
    static DRIVERS: RefCell<Vec<Py<HttpDriver>>> = const { RefCell::new(Vec::new()) };
    /// The driver used last on this thread: while its loop runs, it is the current one.
    static LAST: RefCell<Option<Py<HttpDriver>>> = const { RefCell::new(None) };
}

pub use mite_core::http::Job;

/// A request waiting for its exchange on the loop thread. The driver only keeps it until the
/// exchange arrives (or the request is cancelled); what the exchange becomes is the
/// protocol's business, so the driver knows nothing of sessions or responses.
pub trait AwaitingExchange: Send {
    /// The exchange arrived: build the result and resolve whoever waits for it.
    fn complete(self: Box<Self>, py: Python<'_>, exchange: Exchange);
}

/// `asyncio.get_running_loop()`, or an error saying why a request cannot be made.
pub fn get_running_loop(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    GET_RUNNING_LOOP
        .get_or_try_init(py, || {
            Ok::<_, PyErr>(py.import("asyncio")?.getattr("get_running_loop")?.unbind())
        })?
        .bind(py)
        .call0()
        .map_err(|_| BindingError::NoRunningLoop.into())
}

/// Where an event loop's requests run.
enum Runtime {
    /// The shared runtime on its own thread(s).
    Shared(tokio::runtime::Handle),
    /// The loop thread's own runtime, driven by the loop's selector.
    Loop(&'static LoopRuntime),
}

/// The HTTP side of one event loop: its completion queue (registered as a reader on the
/// loop) and its requests in flight. Lives on the loop's thread.
// Not `unsendable`: a thread's drivers are dropped with its thread-local storage, and the
// last reference may then go away on another thread.
#[pyclass(frozen, module = "mite._mite")]
pub struct HttpDriver {
    queue: Arc<CompletionQueue<Completion>>,
    event_loop: Py<PyAny>,
    in_flight: Mutex<HashMap<u64, Box<dyn AwaitingExchange>>>,
    next_id: AtomicU64,
    /// Requests made since the last hand-over to the shared runtime: they go over in one
    /// batch, so a burst of requests wakes the HTTP thread once, not once per request.
    jobs: Mutex<Vec<Job>>,
    /// Where the jobs run: the shared HTTP runtime, or (for a loop whose selector drives
    /// HTTP, `mite._http_loop`) the loop thread's own runtime.
    runtime: Runtime,
    flush_scheduled: AtomicBool,
    draining: AtomicBool,
}

/// `mite._mite.http_loops()`: the open event loops of this thread that have an HTTP driver
/// (mite's per-loop session pools, `mite_http.SessionPool._session_pools`).
#[pyfunction]
pub fn http_loops(py: Python<'_>) -> Vec<Py<PyAny>> {
    DRIVERS.with_borrow(|drivers| {
        drivers
            .iter()
            .map(|d| d.get().event_loop.clone_ref(py))
            .filter(|l| {
                let closed = l.call_method0(py, "is_closed");
                !closed.and_then(|c| c.is_truthy(py)).unwrap_or(true)
            })
            .collect()
    })
}

impl HttpDriver {
    /// The driver of `event_loop`, created (and registered as a reader) on first use. Drivers
    /// of closed loops are dropped, closing their eventfds.
    pub fn for_loop<'py>(event_loop: &Bound<'py, PyAny>) -> PyResult<Bound<'py, HttpDriver>> {
        let py = event_loop.py();
        let found = DRIVERS.with_borrow(|drivers| {
            drivers
                .iter()
                .find(|d| d.get().event_loop.bind(py).is(event_loop))
                .map(|d| d.clone_ref(py))
        });
        if let Some(driver) = found {
            return Ok(driver.into_bound(py));
        }
        let queue = CompletionQueue::new()
            .map_err(BindingError::io("cannot create the HTTP completion queue"))?;
        let fd = queue.fd();
        let runtime = Self::runtime_for(event_loop)?;
        let driver = Bound::new(
            py,
            HttpDriver {
                queue: Arc::new(queue),
                event_loop: event_loop.clone().unbind(),
                in_flight: Mutex::new(HashMap::default()),
                next_id: AtomicU64::new(0),
                jobs: Mutex::new(Vec::new()),
                runtime,
                flush_scheduled: AtomicBool::new(false),
                draining: AtomicBool::new(false),
            },
        )?;
        event_loop.call_method1("add_reader", (fd, driver.getattr("_drain")?))?;
        DRIVERS.with_borrow_mut(|drivers| {
            drivers.retain(|d| {
                let closed = d.get().event_loop.bind(py).call_method0("is_closed");
                !closed.and_then(|c| c.is_truthy()).unwrap_or(true)
            });
            drivers.push(driver.clone().unbind());
        });
        Ok(driver)
    }

    /// The runtime for `event_loop`'s requests: its thread's loop runtime when its selector
    /// drives HTTP (it is then running on this thread), else the shared one.
    fn runtime_for(event_loop: &Bound<'_, PyAny>) -> PyResult<Runtime> {
        let drives_http = event_loop
            .getattr("_selector")
            .and_then(|selector| selector.getattr("mite_drives_http"))
            .and_then(|flag| flag.is_truthy())
            .unwrap_or(false);
        let found = if drives_http {
            loop_runtime().map(Runtime::Loop)
        } else {
            runtime().map(|handle| Runtime::Shared(handle.clone()))
        };
        Ok(found.map_err(BindingError::from)?)
    }

    /// The driver of the running event loop (looked up without a syscall when the loop is the
    /// one this thread used last, the common case).
    pub fn current(py: Python<'_>) -> PyResult<Bound<'_, HttpDriver>> {
        let last = LAST.with_borrow(|last| last.as_ref().map(|d| d.clone_ref(py)));
        if let Some(driver) = last {
            let running = driver
                .get()
                .event_loop
                .call_method0(py, "is_running")
                .and_then(|r| r.is_truthy(py))
                .unwrap_or(false);
            if running {
                return Ok(driver.into_bound(py));
            }
        }
        let event_loop = get_running_loop(py)?;
        let driver = Self::for_loop(&event_loop)?;
        LAST.with_borrow_mut(|last| *last = Some(driver.clone().unbind()));
        Ok(driver)
    }

    pub fn event_loop(&self, py: Python<'_>) -> Py<PyAny> {
        self.event_loop.clone_ref(py)
    }

    /// Queues a request's job. A loop runtime starts it in its next drive; for the shared
    /// runtime it is batched, and reaches it at the end of the current drain or on the next
    /// loop iteration.
    pub fn submit(slf: &Bound<'_, Self>, job: Job) -> PyResult<()> {
        let this = slf.get();
        if let Runtime::Loop(runtime) = &this.runtime {
            runtime.submit(job);
            return Ok(());
        }
        this.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(job);
        if !this.draining.load(Ordering::Relaxed)
            && !this.flush_scheduled.swap(true, Ordering::Relaxed)
        {
            this.event_loop
                .call_method1(slf.py(), "call_soon", (slf.getattr("_flush")?,))?;
        }
        Ok(())
    }

    fn flush(&self) {
        self.flush_scheduled.store(false, Ordering::Relaxed);
        let jobs = std::mem::take(&mut *self.jobs.lock().unwrap_or_else(|e| e.into_inner()));
        if jobs.is_empty() {
            return;
        }
        match &self.runtime {
            // One task per batch: from outside the runtime, each spawn would wake it.
            Runtime::Shared(handle) => {
                handle.spawn(async move {
                    for job in jobs {
                        tokio::spawn(job);
                    }
                });
            }
            // Not batched here: `submit` hands them over one by one.
            Runtime::Loop(runtime) => jobs.into_iter().for_each(|job| runtime.submit(job)),
        }
    }

    /// Where the HTTP runtime delivers this loop's finished requests.
    pub fn queue(&self) -> Arc<CompletionQueue<Completion>> {
        self.queue.clone()
    }

    /// Records a request in flight, returning its id.
    pub fn track(&self, in_flight: Box<dyn AwaitingExchange>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        self.in_flight().insert(id, in_flight);
        id
    }

    /// Forgets a cancelled request.
    pub fn forget(&self, id: u64) {
        self.in_flight().remove(&id);
    }

    fn in_flight(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Box<dyn AwaitingExchange>>> {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[pymethods]
impl HttpDriver {
    /// Loop callback: hands the queued requests to the runtime.
    fn _flush(&self) {
        self.flush();
    }

    /// Reader callback: resolves every finished request; the requests the resumed journeys
    /// make go to the runtime together at the end.
    fn _drain(slf: &Bound<'_, Self>) {
        let py = slf.py();
        let this = slf.get();
        this.draining.store(true, Ordering::Relaxed);
        let completions = this.queue.take();
        for completion in completions {
            let in_flight = slf.get().in_flight().remove(&completion.id);
            let Some(in_flight) = in_flight else {
                continue; // cancelled meanwhile
            };
            in_flight.complete(py, completion.exchange);
        }
        this.draining.store(false, Ordering::Relaxed);
        this.flush();
    }
}
