//! The journey task: Rust steps a journey's coroutine itself instead of wrapping it in an
//! asyncio Task.
//!
//! Each step runs inside the journey's own `contextvars.Context` with the driver registered as
//! asyncio's current task, exactly as `Task.__step` does, so `asyncio.current_task()`,
//! `asyncio.timeout`, `wait_for`, `gather`, `sleep` and cancellation keep working inside
//! journeys. What a step yields decides how it resumes: a bare `yield` (`sleep(0)`) resumes on
//! the next loop iteration; an asyncio future resumes through its done callback (the driver
//! object itself is the callback); anything else is an error thrown back into the coroutine.

use std::cell::{Cell, RefCell};

use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyTuple;
use pyo3::PyTraverseError;

use super::contextvars;
use super::coroutine::{send, throw, Step};
use super::done_callbacks::{remove, schedule_all, DoneCallback};
use super::gil_shared::GilShared;
use super::native_future::NativeFuture;
use crate::errors::{cancelled_error, invalid_state, new_cancelled, reraise, BindingError};

/// What a finished coroutine produced: its return value, or the exception object it raised.
type Outcome = Result<Py<PyAny>, Py<PyAny>>;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Pending,
    Finished,
    Cancelled,
}

/// asyncio's `_enter_task` / `_leave_task` (the C versions when available).
fn task_registry(py: Python<'_>) -> PyResult<&(Py<PyAny>, Py<PyAny>)> {
    static FUNCTIONS: PyOnceLock<(Py<PyAny>, Py<PyAny>)> = PyOnceLock::new();
    FUNCTIONS.get_or_try_init(py, || {
        let tasks = py.import("asyncio.tasks")?;
        Ok::<_, PyErr>((
            tasks.getattr("_enter_task")?.unbind(),
            tasks.getattr("_leave_task")?.unbind(),
        ))
    })
}

/// A task's name, made into text only when asked for (most never are).
pub enum TaskName {
    Given(String),
    /// mite's `"{scenario_id}_{scenario_data_id}_{journey_spec}"`.
    Journey {
        scenario: u32,
        data_id: Option<Py<PyAny>>,
        spec: std::sync::Arc<str>,
    },
}

impl TaskName {
    pub fn text(&self, py: Python<'_>) -> String {
        match self {
            TaskName::Given(name) => name.clone(),
            TaskName::Journey {
                scenario,
                data_id,
                spec,
            } => {
                let data_id = data_id
                    .as_ref()
                    .and_then(|id| id.bind(py).repr().ok().map(|r| r.to_string()))
                    .unwrap_or_else(|| "None".into());
                format!("{scenario}_{data_id}_{spec}")
            }
        }
    }
}

/// Told once when a task's coroutine finishes: what the task was for decides what follows
/// (a journey's end, a datapool item, a fixture's value).
pub trait OnTaskDone: Send {
    fn task_done(self: Box<Self>, py: Python<'_>, outcome: PyResult<Py<PyAny>>);
}

/// A coroutine driven by Rust; asyncio sees it as the current Task while it runs. It drives
/// journeys, and the cold-path coroutines around them (Python datapools' checkouts, fixtures).
#[pyclass(module = "mite._mite", name = "JourneyTask")]
pub struct JourneyTask {
    coro: Py<PyAny>,
    context: Py<PyAny>,
    event_loop: Py<PyAny>,
    name: GilShared<RefCell<TaskName>>,
    state: GilShared<Cell<State>>,
    on_done: GilShared<RefCell<Option<Box<dyn OnTaskDone>>>>,
    /// The asyncio future this task waits on, to cancel it on `cancel()`.
    waiter: GilShared<RefCell<Option<Py<PyAny>>>>,
    must_cancel: GilShared<Cell<bool>>,
    cancel_message: GilShared<RefCell<Option<Py<PyAny>>>>,
    cancel_requests: GilShared<Cell<u32>>,
    /// The coroutine's return value, or the exception object it raised.
    outcome: GilShared<RefCell<Option<Outcome>>>,
    callbacks: GilShared<RefCell<Vec<DoneCallback>>>,
}

impl JourneyTask {
    pub fn new(
        coro: Py<PyAny>,
        context: Py<PyAny>,
        event_loop: Py<PyAny>,
        name: TaskName,
        on_done: Box<dyn OnTaskDone>,
    ) -> Self {
        JourneyTask {
            coro,
            context,
            event_loop,
            name: GilShared::new(RefCell::new(name)),
            state: GilShared::new(Cell::new(State::Pending)),
            on_done: GilShared::new(RefCell::new(Some(on_done))),
            waiter: GilShared::new(RefCell::new(None)),
            must_cancel: GilShared::new(Cell::new(false)),
            cancel_message: GilShared::new(RefCell::new(None)),
            cancel_requests: GilShared::new(Cell::new(0)),
            outcome: GilShared::new(RefCell::new(None)),
            callbacks: GilShared::new(RefCell::new(Vec::new())),
        }
    }

    pub fn is_pending(&self) -> bool {
        self.state.get() == State::Pending
    }

    /// Runs the coroutine until it suspends or finishes. `error` is thrown in instead of
    /// sending `None`.
    pub fn step(slf: &Bound<'_, Self>, mut error: Option<PyErr>) {
        let this = slf.borrow();
        let py = slf.py();
        if this.state.get() != State::Pending {
            return;
        }
        this.waiter.borrow_mut().take();
        if this.must_cancel.replace(false) {
            error = Some(this.cancelled_error(py));
        }
        let context = this.context.bind(py);
        let step = contextvars::run_in(context, || {
            let (enter, leave) = task_registry(py)?;
            enter.call1(py, (&this.event_loop, slf))?;
            let step = match error {
                None => send(this.coro.bind(py), None),
                Some(e) => throw(this.coro.bind(py), e),
            };
            leave.call1(py, (&this.event_loop, slf))?;
            Ok::<_, PyErr>(step)
        })
        .and_then(|inner| inner)
        .and_then(|inner| inner);
        match step {
            Ok(Step::Yielded(awaited)) => Self::suspend(slf, awaited),
            Ok(Step::Returned(value)) => Self::finish(slf, Ok(value.unbind())),
            Ok(Step::Raised(e)) => Self::finish(slf, Err(e)),
            // The task machinery itself failed (e.g. another task is running): nothing
            // sensible can resume this coroutine, so it ends with that error.
            Err(e) => Self::finish(slf, Err(e)),
        }
    }

    fn suspend(slf: &Bound<'_, Self>, awaited: Bound<'_, PyAny>) {
        let this = slf.borrow();
        let py = slf.py();
        if let Ok(native) = awaited.cast::<NativeFuture>() {
            // Our own future (an HTTP request): it steps this task directly when resolved.
            native
                .borrow()
                .wait_for_task(slf.clone().into_any().unbind(), Self::resume);
            let must_cancel = this.must_cancel.replace(false);
            let message = this
                .cancel_message
                .borrow()
                .as_ref()
                .map(|m| m.clone_ref(py));
            *this.waiter.borrow_mut() = Some(awaited.clone().unbind());
            if must_cancel {
                let _ = awaited.call_method1("cancel", (message,));
            }
            return;
        }
        if awaited.is_none() {
            // A bare `yield` (asyncio.sleep(0)): run again on the next loop iteration.
            if let Err(e) = this.event_loop.call_method1(py, "call_soon", (slf,)) {
                Self::finish(slf, Err(e));
            }
            return;
        }
        let blocking = awaited
            .getattr("_asyncio_future_blocking")
            .and_then(|b| b.is_truthy())
            .unwrap_or(false);
        if !blocking {
            let shown = awaited.repr().map(|r| r.to_string()).unwrap_or_default();
            let error = BindingError::BadYield(shown).into();
            return Self::step(slf, Some(error));
        }
        let registered = awaited
            .setattr("_asyncio_future_blocking", false)
            .and_then(|()| awaited.call_method1("add_done_callback", (slf,)));
        if let Err(e) = registered {
            return Self::step(slf, Some(e));
        }
        if this.must_cancel.get() {
            let message = this
                .cancel_message
                .borrow()
                .as_ref()
                .map(|m| m.clone_ref(py));
            if awaited
                .call_method1("cancel", (message,))
                .and_then(|r| r.is_truthy())
                .unwrap_or(false)
            {
                this.must_cancel.set(false);
            }
        }
        *this.waiter.borrow_mut() = Some(awaited.unbind());
    }

    fn finish(slf: &Bound<'_, Self>, outcome: Result<Py<PyAny>, PyErr>) {
        let this = slf.borrow();
        let py = slf.py();
        let cancelled =
            matches!(&outcome, Err(e) if cancelled_error(py).is_ok_and(|c| e.is_instance(py, c)));
        this.state.set(if cancelled {
            State::Cancelled
        } else {
            State::Finished
        });
        *this.outcome.borrow_mut() = Some(match &outcome {
            Ok(v) => Ok(v.clone_ref(py)),
            Err(e) => Err(e.value(py).clone().into_any().unbind()),
        });
        schedule_all(
            this.callbacks.take(),
            this.event_loop.bind(py),
            slf.as_any(),
        );
        let on_done = this.on_done.borrow_mut().take();
        drop(this);
        if let Some(on_done) = on_done {
            on_done.task_done(py, outcome);
        }
    }

    /// A native future's result arrived: step the task that waits on it.
    fn resume(task: &Bound<'_, PyAny>) {
        if let Ok(task) = task.cast::<JourneyTask>() {
            Self::step(task, None);
        }
    }

    fn cancelled_error(&self, py: Python<'_>) -> PyErr {
        let message = self
            .cancel_message
            .borrow()
            .as_ref()
            .map(|m| m.clone_ref(py));
        new_cancelled(py, message)
    }
}

#[pymethods]
impl JourneyTask {
    /// Wake-up: called by the loop (after a bare yield) or by a future's done callback.
    #[pyo3(signature = (*_args))]
    fn __call__(slf: &Bound<'_, Self>, _args: &Bound<'_, PyTuple>) {
        Self::step(slf, None);
    }

    // Python's garbage collector must see what a task holds: a journey's frame or exception
    // can refer back to its task (asyncio.timeout keeps `current_task()`), forming cycles.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.coro)?;
        visit.call(&self.context)?;
        if let Ok(waiter) = self.waiter.try_borrow() {
            visit.call(&*waiter)?;
        }
        if let Ok(outcome) = self.outcome.try_borrow() {
            match &*outcome {
                Some(Ok(v)) | Some(Err(v)) => visit.call(v)?,
                None => {}
            }
        }
        if let Ok(callbacks) = self.callbacks.try_borrow() {
            for callback in callbacks.iter() {
                callback.traverse(&visit)?;
            }
        }
        if let Ok(message) = self.cancel_message.try_borrow() {
            visit.call(&*message)?;
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.waiter.get_mut().take();
        self.outcome.get_mut().take();
        self.callbacks.get_mut().clear();
        self.cancel_message.get_mut().take();
    }

    #[pyo3(signature = (msg=None))]
    fn cancel(slf: &Bound<'_, Self>, msg: Option<Py<PyAny>>) -> PyResult<bool> {
        let this = slf.borrow();
        let py = slf.py();
        if this.state.get() != State::Pending {
            return Ok(false);
        }
        this.cancel_requests.set(this.cancel_requests.get() + 1);
        let waiter = this.waiter.borrow().as_ref().map(|w| w.clone_ref(py));
        if let Some(waiter) = waiter {
            if waiter
                .call_method1(py, "cancel", (msg.as_ref().map(|m| m.clone_ref(py)),))?
                .is_truthy(py)?
            {
                // The waiter's done callback resumes us; the coroutine sees CancelledError.
                return Ok(true);
            }
        }
        this.must_cancel.set(true);
        *this.cancel_message.borrow_mut() = msg;
        Ok(true)
    }

    fn cancelling(&self) -> u32 {
        self.cancel_requests.get()
    }

    fn uncancel(&self) -> u32 {
        let n = self.cancel_requests.get().saturating_sub(1);
        self.cancel_requests.set(n);
        n
    }

    fn done(&self) -> bool {
        self.state.get() != State::Pending
    }

    fn cancelled(&self) -> bool {
        self.state.get() == State::Cancelled
    }

    fn result(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match &*self.outcome.borrow() {
            Some(Ok(v)) => Ok(v.clone_ref(py)),
            Some(Err(e)) => Err(reraise(e.bind(py).clone())),
            None => Err(invalid_state(py, "Result is not set.")),
        }
    }

    fn exception(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match &*self.outcome.borrow() {
            Some(Ok(_)) => Ok(None),
            Some(Err(e)) if self.state.get() == State::Cancelled => {
                Err(reraise(e.bind(py).clone()))
            }
            Some(Err(e)) => Ok(Some(e.clone_ref(py))),
            None => Err(invalid_state(py, "Exception is not set.")),
        }
    }

    #[pyo3(signature = (callback, *, context=None))]
    fn add_done_callback(
        slf: &Bound<'_, Self>,
        callback: Py<PyAny>,
        context: Option<Py<PyAny>>,
    ) -> PyResult<()> {
        let this = slf.borrow();
        let callback = DoneCallback::new(callback, context);
        if this.state.get() == State::Pending {
            this.callbacks.borrow_mut().push(callback);
            Ok(())
        } else {
            callback.schedule(this.event_loop.bind(slf.py()), slf.as_any())
        }
    }

    fn remove_done_callback(&self, py: Python<'_>, callback: Bound<'_, PyAny>) -> PyResult<usize> {
        remove(&mut self.callbacks.borrow_mut(), py, &callback)
    }

    fn get_name(&self, py: Python<'_>) -> String {
        self.name.borrow().text(py)
    }

    fn set_name(&self, value: Bound<'_, PyAny>) -> PyResult<()> {
        *self.name.borrow_mut() = TaskName::Given(value.str()?.to_string());
        Ok(())
    }

    fn get_coro(&self, py: Python<'_>) -> Py<PyAny> {
        self.coro.clone_ref(py)
    }

    fn get_loop(&self, py: Python<'_>) -> Py<PyAny> {
        self.event_loop.clone_ref(py)
    }

    fn get_context(&self, py: Python<'_>) -> Py<PyAny> {
        self.context.clone_ref(py)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let state = match self.state.get() {
            State::Pending => "pending",
            State::Finished => "finished",
            State::Cancelled => "cancelled",
        };
        format!(
            "<JourneyTask {} name={:?}>",
            state,
            self.name.borrow().text(py)
        )
    }
}
