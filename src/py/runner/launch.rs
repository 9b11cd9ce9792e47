//! Starting one journey execution: its context, its contextvars, the `__root__` transaction,
//! and the coroutine handed to the driver (or to a plain asyncio Task).

use super::*;
use crate::py::http::HttpCall;

/// One journey execution in flight.
pub struct JourneyRun {
    pub(super) serial: u64,
    pub(super) scenario: ScenarioId,
    pub(super) item: Option<Item>,
    pub(super) ctx: Py<Context>,
    pub(super) root: (Arc<str>, u64),
    pub(super) start_time: f64,
}

/// A journey execution ready to be driven.
pub(super) struct Prepared<'py> {
    pub(super) ctx: Py<Context>,
    pub(super) journey_context: Bound<'py, PyAny>,
    pub(super) root: (Arc<str>, u64),
    /// What calling the journey gave: normally a coroutine, or the exception it raised.
    pub(super) call: PyResult<Bound<'py, PyAny>>,
}

/// A datapool item the journey cannot take: a scenario mistake that ends the run.
#[derive(Debug, thiserror::Error)]
pub(super) enum ItemMismatch {
    #[error("datapool item {item} for journey {spec} is not a sequence: items must be tuples")]
    NotASequence { item: String, spec: String },
    #[error("journey {spec} cannot be called with {shown}: {error}")]
    Signature {
        spec: String,
        shown: String,
        error: String,
    },
    #[error("{0}")]
    Unreadable(String),
}

/// What a driven coroutine was for; the runner continues accordingly when it finishes.
pub enum Purpose {
    Journey(JourneyRun),
    /// A Python datapool's `checkout` for a journey of this scenario.
    Checkout(ScenarioId),
    /// A Python datapool's `checkin`.
    Checkin,
    /// A journey fixture's value, for every journey waiting on it.
    Fixture(String),
}

/// The iterator to drive for an awaitable: a coroutine itself, or `__await__()`.
pub(super) fn as_iterator<'py>(awaitable: &Bound<'py, PyAny>) -> Result<Bound<'py, PyAny>, ()> {
    let py = awaitable.py();
    // SAFETY: type checks on a live object.
    if unsafe { pyo3::ffi::PyCoro_CheckExact(awaitable.as_ptr()) } != 0
        || awaitable.is_instance_of::<HttpCall>()
    {
        return Ok(awaitable.clone());
    }
    let inspect_awaitable = py
        .import("inspect")
        .and_then(|m| m.call_method1("isawaitable", (awaitable,)))
        .and_then(|r| r.is_truthy())
        .unwrap_or(false);
    if !inspect_awaitable {
        return Err(());
    }
    if awaitable.hasattr("send").unwrap_or(false) && awaitable.hasattr("throw").unwrap_or(false) {
        // Generator-based coroutines and coroutine-like objects.
        if awaitable.hasattr("__await__").unwrap_or(false) {
            return awaitable.call_method0("__await__").map_err(|_| ());
        }
        return Ok(awaitable.clone());
    }
    awaitable.call_method0("__await__").map_err(|_| ())
}

impl Runner {
    /// Starts one journey execution with its datapool item; `due` is when an arrival-rate
    /// model wanted it started (the runner's clock).
    pub(super) fn launch(
        slf: &Bound<'_, Self>,
        id: ScenarioId,
        item: Option<Item>,
        due: Option<f64>,
    ) {
        let this = slf.borrow();
        let py = slf.py();
        let (journey, spec) = {
            let state = this.state.borrow();
            let entry = &state.scenarios[id as usize - 1];
            (entry.journey.clone_ref(py), entry.journey_spec.clone())
        };
        if let Err(mismatch) = this.check_arity(py, id, &journey, &spec, item.as_ref()) {
            this.abandon(py, id, item, mismatch.to_string());
            Self::step_pool_calls(slf);
            return;
        }
        let fixture = match this.fixture(id) {
            Ok(f) => f,
            Err(message) => {
                this.abandon(py, id, item, message);
                Self::step_pool_calls(slf);
                return;
            }
        };
        let item = match fixture {
            None => item,
            Some(fixture) => {
                let need = this
                    .state
                    .borrow_mut()
                    .fixtures
                    .need(&fixture.label, (id, item, due));
                match need {
                    FixtureNeed::Ready((_, item, _)) => item,
                    FixtureNeed::Wait => return,
                    FixtureNeed::Compute => return Self::start_fixture(slf, fixture, id),
                }
            }
        };
        Self::launch_now(slf, id, item, due, journey, spec);
    }

    /// Checks once per item length that the journey accepts `(ctx, *item)`: a mismatch is a
    /// scenario mistake, not a journey error.
    pub(super) fn check_arity(
        &self,
        py: Python<'_>,
        id: ScenarioId,
        journey: &Py<PyAny>,
        spec: &str,
        item: Option<&Item>,
    ) -> Result<(), ItemMismatch> {
        let args: Vec<Py<PyAny>> = match item {
            None => Vec::new(),
            Some(item) => match item.data.bind(py).try_iter() {
                Ok(it) => it
                    .map(|v| v.map(Bound::unbind))
                    .collect::<PyResult<_>>()
                    .map_err(|e| ItemMismatch::Unreadable(one_line(py, &e)))?,
                Err(_) => {
                    return Err(ItemMismatch::NotASequence {
                        item: py_repr(item.data.bind(py)),
                        spec: spec.to_owned(),
                    })
                }
            },
        };
        if !self.state.borrow_mut().scenarios[id as usize - 1]
            .checked_arities
            .insert(args.len())
        {
            return Ok(());
        }
        let check = || -> PyResult<Option<PyErr>> {
            let signature = match py.import("inspect")?.call_method1("signature", (journey,)) {
                Ok(s) => s,
                Err(_) => return Ok(None), // builtins and C callables: nothing to check
            };
            let mut call_args = vec![py.None()];
            call_args.extend(args.iter().map(|a| a.clone_ref(py)));
            Ok(signature
                .call_method1("bind", PyTuple::new(py, call_args)?)
                .err())
        };
        match check() {
            Ok(Some(e)) => {
                self.state.borrow_mut().scenarios[id as usize - 1]
                    .checked_arities
                    .remove(&args.len());
                let shown = item.map_or("no datapool item".into(), |i| {
                    format!("datapool item {}", py_repr(i.data.bind(py)))
                });
                Err(ItemMismatch::Signature {
                    spec: spec.to_owned(),
                    shown,
                    error: one_line(py, &e),
                })
            }
            _ => Ok(()),
        }
    }

    pub(super) fn launch_now(
        slf: &Bound<'_, Self>,
        id: ScenarioId,
        item: Option<Item>,
        due: Option<f64>,
        journey: Py<PyAny>,
        spec: Arc<str>,
    ) {
        let this = slf.borrow();
        let py = slf.py();
        let (serial, context_id) = {
            let mut state = this.state.borrow_mut();
            state.next_serial += 1;
            state.next_context_id += 1;
            (state.next_serial, state.next_context_id)
        };
        let mut identity = vec![
            (keys::test(), Value::Str(this.test_name.clone())),
            (
                keys::runner_id(),
                Value::UInt(this.state.borrow().runner_id),
            ),
            (keys::journey(), Value::Str(spec.clone())),
            (keys::context_id(), Value::UInt(context_id)),
            (keys::scenario_id(), Value::UInt(u64::from(id))),
            (
                keys::scenario_data_id(),
                item.as_ref().map_or(Value::Nil, |i| i.id.value.clone()),
            ),
        ];
        // An arrival-rate journey's every message says how late it started, so that
        // latency can be counted from when it was meant to start.
        if let Some(due) = due {
            let late = (this.now() - due).max(0.0);
            identity.push((keys::start_delay(), Value::Float(late)));
            this.state.borrow_mut().watch.started(late);
        }
        let envelope = Arc::new(Envelope::new(identity));
        let context = Context::for_journey(
            this.sink.clone_ref(py),
            this.config.clone_ref(py).into_any(),
            envelope,
            this.stop_flag.clone(),
            this.debug,
        );
        let prepared = match this.prepare(py, id, context, &journey, item.as_ref()) {
            Ok(prepared) => prepared,
            Err(e) => {
                let message = format!("cannot start journey {spec}: {}", one_line(py, &e));
                this.abandon(py, id, item, message);
                Self::step_pool_calls(slf);
                return;
            }
        };
        let Prepared {
            ctx,
            journey_context,
            root,
            call,
        } = prepared;
        let run = JourneyRun {
            serial,
            scenario: id,
            item,
            ctx,
            root,
            start_time: unix_time(),
        };
        let awaitable = match call {
            Ok(awaitable) => awaitable,
            // The call itself raised (a plain function, or a decorator's wrapper): a journey
            // error like any other.
            Err(e) => return Self::journey_finished(slf, run, Err(e)),
        };
        let name = TaskName::Journey {
            scenario: id,
            data_id: run.item.as_ref().map(|i| i.id.object.clone_ref(py)),
            spec: spec.clone(),
        };
        if this.use_asyncio_tasks {
            Self::launch_task(slf, awaitable, journey_context, name.text(py), run);
            return;
        }
        let iterator = match as_iterator(&awaitable) {
            Ok(it) => it,
            Err(()) => {
                let shown = py_repr(&awaitable);
                let message = format!("journey {spec} returned {shown}, not an awaitable: journeys must be async functions");
                this.abandon(py, id, run.item, message);
                Self::step_pool_calls(slf);
                return;
            }
        };
        let task = JourneyTask::new(
            iterator.unbind(),
            journey_context.unbind(),
            this.event_loop(py),
            name,
            Box::new(Then::new(slf, Purpose::Journey(run))),
        );
        match Bound::new(py, task) {
            Ok(task) => {
                this.state.borrow_mut().running.insert(
                    serial,
                    RunningJourney {
                        task: task.clone().into_any().unbind(),
                        scenario: id,
                    },
                );
                JourneyTask::step(&task, None);
            }
            Err(e) => this.fail(
                py,
                format!("cannot start journey {spec}: {}", one_line(py, &e)),
            ),
        }
    }

    /// Creates the journey's `ctx` and contextvars context, enters `__root__` in it and calls
    /// the journey (which, for an `async def`, only creates the coroutine).
    pub(super) fn prepare<'py>(
        &self,
        py: Python<'py>,
        id: ScenarioId,
        context: Context,
        journey: &Py<PyAny>,
        item: Option<&Item>,
    ) -> PyResult<Prepared<'py>> {
        let ctx = Bound::new(py, context)?;
        self.apply_fixture(py, id, &ctx)?;
        let base = self.base_context.borrow().as_ref().map(|c| c.clone_ref(py));
        let journey_context = match base {
            Some(base) => contextvars::copy(base.bind(py))?,
            None => contextvars::copy_current(py)?,
        };
        let mut args = vec![ctx.clone().into_any()];
        if let Some(item) = item {
            args.extend(
                item.data
                    .bind(py)
                    .try_iter()?
                    .collect::<PyResult<Vec<_>>>()?,
            );
        }
        let args = PyTuple::new(py, args)?;
        let (root, call) = contextvars::run_in(&journey_context, || -> PyResult<_> {
            let (_token, name, txn_id) = enter(py, &ctx.borrow(), "__root__")?;
            Ok(((name, txn_id), journey.bind(py).call1(&args)))
        })??;
        Ok(Prepared {
            ctx: ctx.unbind(),
            journey_context,
            root,
            call,
        })
    }

    /// The `--asyncio-tasks` path: the journey runs as a plain asyncio Task.
    pub(super) fn launch_task(
        slf: &Bound<'_, Self>,
        awaitable: Bound<'_, PyAny>,
        context: Bound<'_, PyAny>,
        name: String,
        run: JourneyRun,
    ) {
        let this = slf.borrow();
        let py = slf.py();
        let serial = run.serial;
        let scenario = run.scenario;
        let created = (|| -> PyResult<Bound<'_, PyAny>> {
            let create_task = this.event_loop.bind(py).getattr("create_task")?;
            let task = context.call_method1("run", (create_task, awaitable))?;
            task.call_method1("set_name", (name,))?;
            let adapter = Bound::new(
                py,
                TaskDone {
                    then: GilShared::new(RefCell::new(Some(Then::new(slf, Purpose::Journey(run))))),
                },
            )?;
            task.call_method1("add_done_callback", (adapter,))?;
            Ok(task)
        })();
        match created {
            Ok(task) => {
                this.state.borrow_mut().running.insert(
                    serial,
                    RunningJourney {
                        task: task.unbind(),
                        scenario,
                    },
                );
            }
            Err(e) => {
                this.state.borrow_mut().give_back(py, scenario, None);
                this.fail(
                    py,
                    format!("cannot start a journey task: {}", one_line(py, &e)),
                );
            }
        }
    }

    /// Drives a cold-path coroutine (Python datapool, fixture) with the same driver.
    pub(super) fn drive(
        slf: &Bound<'_, Self>,
        awaitable: Bound<'_, PyAny>,
        name: String,
        purpose: Purpose,
    ) {
        let py = slf.py();
        let iterator = match as_iterator(&awaitable) {
            Ok(it) => it,
            Err(()) => {
                // Not awaitable: treat the value itself as the result (a synchronous method).
                return Self::task_done(slf, purpose, Ok(awaitable.unbind()));
            }
        };
        let context = match contextvars::copy_current(py) {
            Ok(c) => c,
            Err(e) => return Self::task_done(slf, purpose, Err(e)),
        };
        match Bound::new(
            py,
            JourneyTask::new(
                iterator.unbind(),
                context.unbind(),
                slf.borrow().event_loop(py),
                TaskName::Given(name),
                Box::new(Then::new(slf, purpose)),
            ),
        ) {
            Ok(task) => JourneyTask::step(&task, None),
            Err(e) => slf.borrow().fail(
                py,
                format!("cannot drive a coroutine: {}", one_line(py, &e)),
            ),
        }
    }
}
