//! A future resolved from Rust on the event-loop thread: what `await ctx.http.get(...)` waits
//! on. It speaks asyncio's future protocol (so plain Tasks, `gather` and `wait_for` accept it)
//! and has a fast path for the Rust coroutine driver: the waiting journey is stepped directly
//! when the result arrives, with no `call_soon` round trip.

use std::cell::{Cell, RefCell};

use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::driver::CoroTask;
use super::errors::{cancelled_error, invalid_state};

enum State {
    Pending,
    Done(Result<Py<PyAny>, PyErr>),
    Cancelled(Option<Py<PyAny>>),
}

enum Waiter {
    None,
    /// A journey driven by the Rust driver.
    Task(Py<CoroTask>),
    /// asyncio-style done callbacks, called as `callback(future)` via `call_soon`.
    Callbacks(Vec<Py<PyAny>>),
}

/// Called when the future is cancelled while pending (e.g. abort the HTTP request).
pub type OnCancel = Box<dyn FnOnce()>;

#[pyclass(unsendable, module = "mite._mite")]
pub struct NativeFuture {
    state: RefCell<State>,
    waiter: RefCell<Waiter>,
    event_loop: Py<PyAny>,
    on_cancel: RefCell<Option<OnCancel>>,
    asyncio_blocking: Cell<bool>,
}

impl NativeFuture {
    pub fn new(event_loop: Py<PyAny>) -> Self {
        NativeFuture {
            state: RefCell::new(State::Pending),
            waiter: RefCell::new(Waiter::None),
            event_loop,
            on_cancel: RefCell::new(None),
            asyncio_blocking: Cell::new(false),
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
    pub fn wait_for_task(&self, task: Py<CoroTask>) {
        self.asyncio_blocking.set(false);
        *self.waiter.borrow_mut() = Waiter::Task(task);
    }

    /// Sets the result and wakes the waiter: a driven journey is stepped right here (call
    /// this only from a loop callback, never from inside a task's step).
    pub fn resolve(slf: &Bound<'_, Self>, result: Result<Py<PyAny>, PyErr>) {
        let this = slf.borrow();
        if !this.is_pending() {
            return;
        }
        *this.state.borrow_mut() = State::Done(result);
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
            Waiter::Task(task) if !deferred => CoroTask::step(task.bind(py), None),
            Waiter::Task(task) => {
                if let Err(e) = event_loop.call_method1(py, "call_soon", (task,)) {
                    e.print(py);
                }
            }
            Waiter::Callbacks(callbacks) => {
                for callback in callbacks {
                    if let Err(e) = event_loop.call_method1(py, "call_soon", (callback, slf)) {
                        e.print(py);
                    }
                }
            }
        }
    }

    /// The outcome for the awaiting coroutine: `Ok(None)` while pending.
    fn outcome(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match &*self.state.borrow() {
            State::Pending => Ok(None),
            State::Done(Ok(value)) => Ok(Some(value.clone_ref(py))),
            State::Done(Err(e)) => Err(e.clone_ref(py)),
            State::Cancelled(message) => Err(new_cancelled(py, message.as_ref())),
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
            Some(value) => Err(PyStopIteration::new_err((value,))),
        }
    }
}

fn new_cancelled(py: Python<'_>, message: Option<&Py<PyAny>>) -> PyErr {
    match cancelled_error(py) {
        Ok(class) => match message {
            Some(m) => PyErr::from_type(class.clone(), (m.clone_ref(py),)),
            None => PyErr::from_type(class.clone(), ()),
        },
        Err(e) => e,
    }
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
    fn throw(slf: &Bound<'_, Self>, error: Bound<'_, PyAny>, _rest: Bound<'_, PyTuple>) -> PyErr {
        let _ = Self::cancel(slf, None);
        PyErr::from_value(error)
    }

    fn close(slf: &Bound<'_, Self>) {
        let _ = Self::cancel(slf, None);
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
            State::Done(Err(e)) => Ok(Some(e.value(py).clone().into_any().unbind())),
            State::Cancelled(message) => Err(new_cancelled(py, message.as_ref())),
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
        let _ = context;
        let this = slf.borrow();
        if !this.is_pending() {
            this.event_loop
                .call_method1(slf.py(), "call_soon", (callback, slf))?;
            return Ok(());
        }
        let mut waiter = this.waiter.borrow_mut();
        match &mut *waiter {
            Waiter::Callbacks(callbacks) => callbacks.push(callback),
            // A driven task was already registered: keep it and add the callback after it.
            Waiter::Task(_) => {
                let Waiter::Task(task) = std::mem::replace(&mut *waiter, Waiter::None) else {
                    unreachable!()
                };
                *waiter = Waiter::Callbacks(vec![task.into_any(), callback]);
            }
            Waiter::None => *waiter = Waiter::Callbacks(vec![callback]),
        }
        Ok(())
    }

    fn remove_done_callback(&self, py: Python<'_>, callback: Py<PyAny>) -> PyResult<usize> {
        let mut waiter = self.waiter.borrow_mut();
        let Waiter::Callbacks(callbacks) = &mut *waiter else {
            return Ok(0);
        };
        let before = callbacks.len();
        let mut kept = Vec::with_capacity(before);
        for cb in callbacks.drain(..) {
            if !cb.bind(py).eq(callback.bind(py))? {
                kept.push(cb);
            }
        }
        *callbacks = kept;
        Ok(before - callbacks.len())
    }

    fn __repr__(&self) -> &'static str {
        match &*self.state.borrow() {
            State::Pending => "<NativeFuture pending>",
            State::Done(_) => "<NativeFuture finished>",
            State::Cancelled(_) => "<NativeFuture cancelled>",
        }
    }
}
