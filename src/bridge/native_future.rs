//! A future resolved from Rust on the event-loop thread: what `await ctx.http.get(...)` waits
//! on. It speaks asyncio's future protocol (so plain Tasks, `gather` and `wait_for` accept it)
//! and has a fast path for the Rust coroutine driver: the waiting journey is stepped directly
//! when the result arrives, with no `call_soon` round trip.

use std::cell::{Cell, RefCell};

use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3::PyTraverseError;

use super::done_callbacks::{remove, schedule_all, DoneCallback};
use super::gil_shared::GilShared;
use super::send_slot::{AmSend, SendOutcome};
use crate::errors::{invalid_state, new_cancelled, reraise, stop_iteration};

/// Steps a driven task waiting on a future (the task type stays the driver's business).
pub type Resume = fn(&Bound<'_, PyAny>);

enum State {
    Pending,
    /// The result, or the exception object to raise.
    Done(Result<Py<PyAny>, Py<PyAny>>),
    Cancelled(Option<Py<PyAny>>),
}

enum Waiter {
    None,
    /// A task driven by Rust, and how to step it.
    Task(Py<PyAny>, Resume),
    /// asyncio-style done callbacks (and a driven task registered before them).
    Callbacks(Vec<DoneCallback>),
}

/// Called when the future is cancelled while pending (e.g. abort the HTTP request).
pub type OnCancel = Box<dyn FnOnce() + Send>;

#[pyclass(module = "mite._mite")]
pub struct NativeFuture {
    state: GilShared<RefCell<State>>,
    waiter: GilShared<RefCell<Waiter>>,
    event_loop: Py<PyAny>,
    on_cancel: GilShared<RefCell<Option<OnCancel>>>,
    asyncio_blocking: GilShared<Cell<bool>>,
}

impl NativeFuture {
    pub fn new(event_loop: Py<PyAny>) -> Self {
        NativeFuture {
            state: GilShared::new(RefCell::new(State::Pending)),
            waiter: GilShared::new(RefCell::new(Waiter::None)),
            event_loop,
            on_cancel: GilShared::new(RefCell::new(None)),
            asyncio_blocking: GilShared::new(Cell::new(false)),
        }
    }

    pub fn set_on_cancel(&self, on_cancel: OnCancel) {
        *self.on_cancel.borrow_mut() = Some(on_cancel);
    }

    pub fn is_pending(&self) -> bool {
        matches!(*self.state.borrow(), State::Pending)
    }

    /// Registers the driver's task to be stepped when the result arrives (the driver takes
    /// the place of asyncio's blocking handshake).
    pub fn wait_for_task(&self, task: Py<PyAny>, resume: Resume) {
        self.asyncio_blocking.set(false);
        *self.waiter.borrow_mut() = Waiter::Task(task, resume);
    }

    /// Sets the result and wakes the waiter: a driven journey is stepped right here (call
    /// this only from a loop callback, never from inside a task's step).
    pub fn resolve(slf: &Bound<'_, Self>, result: Result<Py<PyAny>, PyErr>) {
        let this = slf.borrow();
        if !this.is_pending() {
            return;
        }
        let py = slf.py();
        *this.state.borrow_mut() =
            State::Done(result.map_err(|e| e.value(py).clone().into_any().unbind()));
        this.on_cancel.borrow_mut().take();
        let waiter = std::mem::replace(&mut *this.waiter.borrow_mut(), Waiter::None);
        drop(this);
        Self::wake(slf, waiter, false);
    }

    fn wake(slf: &Bound<'_, Self>, waiter: Waiter, deferred: bool) {
        let py = slf.py();
        let event_loop = slf.borrow().event_loop.clone_ref(py);
        match waiter {
            Waiter::None => {}
            Waiter::Task(task, resume) if !deferred => resume(task.bind(py)),
            Waiter::Task(task, _) => {
                if let Err(e) = event_loop.call_method1(py, "call_soon", (task,)) {
                    e.print(py);
                }
            }
            Waiter::Callbacks(callbacks) => {
                schedule_all(callbacks, event_loop.bind(py), slf.as_any());
            }
        }
    }

    /// The outcome for the awaiting coroutine: `Ok(None)` while pending.
    fn outcome(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match &*self.state.borrow() {
            State::Pending => Ok(None),
            State::Done(Ok(value)) => Ok(Some(value.clone_ref(py))),
            State::Done(Err(e)) => Err(reraise(e.bind(py).clone())),
            State::Cancelled(message) => Err(cancelled(py, message.as_ref())),
        }
    }

    /// One step of `await future`: yield the future while pending, else finish.
    fn step(slf: &Bound<'_, Self>) -> PyResult<Option<Py<PyAny>>> {
        let py = slf.py();
        let this = slf.borrow();
        match this.outcome(py)? {
            None => {
                this.asyncio_blocking.set(true);
                Ok(Some(slf.clone().into_any().unbind()))
            }
            Some(value) => Err(stop_iteration(value)),
        }
    }
}

fn cancelled(py: Python<'_>, message: Option<&Py<PyAny>>) -> PyErr {
    new_cancelled(py, message.map(|m| m.clone_ref(py)))
}

#[pymethods]
impl NativeFuture {
    fn __await__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(slf: &Bound<'_, Self>) -> PyResult<Option<Py<PyAny>>> {
        Self::step(slf)
    }

    fn send(slf: &Bound<'_, Self>, _value: Py<PyAny>) -> PyResult<Option<Py<PyAny>>> {
        Self::step(slf)
    }

    /// An exception thrown into the awaiting coroutine (cancellation) stops the request.
    #[pyo3(signature = (error, *_rest))]
    fn throw(
        slf: &Bound<'_, Self>,
        error: Bound<'_, PyAny>,
        _rest: Bound<'_, PyTuple>,
    ) -> PyResult<Py<PyAny>> {
        let _ = Self::cancel(slf, None);
        Err(reraise(error))
    }

    fn close(slf: &Bound<'_, Self>) {
        let _ = Self::cancel(slf, None);
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Ok(state) = self.state.try_borrow() {
            match &*state {
                State::Done(Ok(v)) | State::Done(Err(v)) => visit.call(v)?,
                State::Cancelled(message) => visit.call(message)?,
                State::Pending => {}
            }
        }
        if let Ok(waiter) = self.waiter.try_borrow() {
            match &*waiter {
                Waiter::Task(task, _) => visit.call(task)?,
                Waiter::Callbacks(callbacks) => {
                    for callback in callbacks {
                        callback.traverse(&visit)?;
                    }
                }
                Waiter::None => {}
            }
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        *self.waiter.get_mut() = Waiter::None;
        if !matches!(self.state.get_mut(), State::Pending) {
            *self.state.get_mut() = State::Cancelled(None);
        }
    }

    #[getter]
    fn _asyncio_future_blocking(&self) -> bool {
        self.asyncio_blocking.get()
    }

    #[setter(_asyncio_future_blocking)]
    fn set_asyncio_future_blocking(&self, value: bool) {
        self.asyncio_blocking.set(value);
    }

    fn get_loop(&self, py: Python<'_>) -> Py<PyAny> {
        self.event_loop.clone_ref(py)
    }

    fn done(&self) -> bool {
        !self.is_pending()
    }

    fn cancelled(&self) -> bool {
        matches!(*self.state.borrow(), State::Cancelled(_))
    }

    fn result(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.outcome(py)? {
            Some(value) => Ok(value),
            None => Err(invalid_state(py, "Result is not ready.")),
        }
    }

    fn exception(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match &*self.state.borrow() {
            State::Pending => Err(invalid_state(py, "Exception is not set.")),
            State::Done(Ok(_)) => Ok(None),
            State::Done(Err(e)) => Ok(Some(e.clone_ref(py))),
            State::Cancelled(message) => Err(cancelled(py, message.as_ref())),
        }
    }

    #[pyo3(signature = (msg=None))]
    fn cancel(slf: &Bound<'_, Self>, msg: Option<Py<PyAny>>) -> bool {
        let this = slf.borrow();
        if !this.is_pending() {
            return false;
        }
        *this.state.borrow_mut() = State::Cancelled(msg);
        let on_cancel = this.on_cancel.borrow_mut().take();
        let waiter = std::mem::replace(&mut *this.waiter.borrow_mut(), Waiter::None);
        drop(this);
        if let Some(on_cancel) = on_cancel {
            on_cancel();
        }
        // Cancellation may come from inside the waiting task itself: never step it inline.
        Self::wake(slf, waiter, true);
        true
    }

    #[pyo3(signature = (callback, *, context=None))]
    fn add_done_callback(
        slf: &Bound<'_, Self>,
        callback: Py<PyAny>,
        context: Option<Py<PyAny>>,
    ) -> PyResult<()> {
        let this = slf.borrow();
        let callback = DoneCallback::new(callback, context);
        if !this.is_pending() {
            return callback.schedule(this.event_loop.bind(slf.py()), slf.as_any());
        }
        let mut waiter = this.waiter.borrow_mut();
        match std::mem::replace(&mut *waiter, Waiter::None) {
            Waiter::Callbacks(mut callbacks) => {
                callbacks.push(callback);
                *waiter = Waiter::Callbacks(callbacks);
            }
            // A driven task was registered first: it becomes a callback too (it is callable).
            Waiter::Task(task, _) => {
                *waiter = Waiter::Callbacks(vec![DoneCallback::new(task, None), callback]);
            }
            Waiter::None => *waiter = Waiter::Callbacks(vec![callback]),
        }
        Ok(())
    }

    fn remove_done_callback(&self, py: Python<'_>, callback: Bound<'_, PyAny>) -> PyResult<usize> {
        match &mut *self.waiter.borrow_mut() {
            Waiter::Callbacks(callbacks) => remove(callbacks, py, &callback),
            _ => Ok(0),
        }
    }

    fn __repr__(&self) -> &'static str {
        match &*self.state.borrow() {
            State::Pending => "<NativeFuture pending>",
            State::Done(_) => "<NativeFuture finished>",
            State::Cancelled(_) => "<NativeFuture cancelled>",
        }
    }
}

impl AmSend for NativeFuture {
    fn am_send(slf: &Bound<'_, Self>) -> SendOutcome {
        let py = slf.py();
        let this = slf.borrow();
        match this.outcome(py) {
            Ok(None) => {
                this.asyncio_blocking.set(true);
                SendOutcome::Yield(slf.clone().into_any().unbind())
            }
            Ok(Some(value)) => SendOutcome::Return(value),
            Err(error) => SendOutcome::Raise(error),
        }
    }
}
