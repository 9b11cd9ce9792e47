//! The runner: asks the controller for work, starts and steps the journeys it is given, and
//! reports each one's end (with its datapool item id) back to the controller.
//!
//! `schedule` keeps the period timer and starts the work items it is given; `pool_calls`
//! steps the awaitables of Python datapools the controller called; `launch` creates a
//! journey's context and coroutine; `fixtures` computes journey fixtures; `finish` reports a
//! journey's end.
//!
//! Everything here runs on the event-loop thread. Journeys start from loop callbacks (the
//! period timer, a journey finishing, a deferred pump), never from inside another task's
//! step, so each journey can be registered as asyncio's current task while it runs.

mod finish;
mod fixtures;
mod launch;
mod pool_calls;
mod schedule;
mod watch;

use fixtures::{fixture_of, FixtureSpec, FixtureTable};
pub use launch::{JourneyRun, Purpose};

use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use pyo3::exceptions::{PyKeyboardInterrupt, PySystemExit};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use rustc_hash::FxHashMap;

use super::context::Context;
use super::controller::{ControllerLink, Failure, ItemId, ScenarioSpec, WorkItem};
use super::convert::py_repr;
use super::sink::MessageSink;
use super::transaction::{enter, report_exception, send_txn};
use crate::bridge::contextvars;
use crate::bridge::gil_shared::GilShared;
use crate::bridge::journey_task::{JourneyTask, OnTaskDone, TaskName};
use crate::errors::one_line;
use mite_core::clock::unix_time;
use mite_core::engine::{FixtureNeed, Fixtures, RunnerId, ScenarioId};
use mite_core::messages::{keys, Envelope, Value};

/// Journeys started per loop callback at most, so journeys that finish without suspending
/// cannot keep the event loop from running timers and I/O.
const MAX_STARTS_PER_PUMP: usize = 256;
/// Seconds between controller reports (mite sends one per second).
const REPORT_INTERVAL: f64 = 1.0;
/// Seconds cancelled journeys get to finish after they were cancelled.
const INTERRUPT_GRACE: f64 = 5.0;

pub struct RunnerOptions {
    pub test_name: String,
    pub sink: Py<MessageSink>,
    pub debug: bool,
    /// Run journeys as plain asyncio Tasks instead of with the Rust driver.
    pub use_asyncio_tasks: bool,
    /// Seconds running journeys get to finish after an interrupt (`--grace-period`).
    pub grace_period: f64,
    /// The most journeys this runner runs at once (`--runner-max-journeys`).
    pub max_journeys: Option<u64>,
}

/// A journey being run: its task, and its scenario (to say what an interrupt waits for).
pub(super) struct RunningJourney {
    pub(super) task: Py<PyAny>,
    pub(super) scenario: ScenarioId,
}

/// How the run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    Completed,
    /// A signal stopped the run; the exit code to use (130, 143).
    Interrupted(i32),
    /// A journey called `sys.exit` (or `--debugging` ended the run).
    Exit(i32),
    /// Bad input or a crash in user code outside a journey: one line for the user.
    Failed(String),
}

struct ScenarioEntry {
    journey_spec: Arc<str>,
    journey: Py<PyAny>,
    /// mite's `_fixture` attributes of the journey, or why they are unusable.
    fixture: Result<Option<Arc<FixtureSpec>>, String>,
    /// Datapool item lengths already checked against the journey's signature.
    checked_arities: HashSet<usize>,
}

/// A datapool item given to one journey execution.
pub(super) struct Item {
    pub(super) id: ItemId,
    pub(super) data: Py<PyAny>,
}

struct RunnerState {
    /// The controller side of the seam (in this process or another): this runner asks it
    /// for work.
    controller: ControllerLink,
    /// This runner's id, from its hello to the controller.
    runner_id: RunnerId,
    scenarios: Vec<ScenarioEntry>,
    running: FxHashMap<u64, RunningJourney>,
    /// Whether the running journeys have been cancelled (after an error, a second interrupt,
    /// or the grace period).
    cancelled: bool,
    next_serial: u64,
    next_context_id: u64,
    /// Journeys finished so far: a pump asks for work again only if one finished meanwhile.
    journeys_finished: u64,
    pumping: bool,
    pump_deferred: bool,
    timer: Option<(f64, Py<PyAny>)>,
    next_report_at: f64,
    end: Option<RunEnd>,
    done: bool,
    fixtures: FixtureTable,
    tick_callback: Option<Py<PyAny>>,
    pump_callback: Option<Py<PyAny>>,
    force_callback: Option<Py<PyAny>>,
    grace_callback: Option<Py<PyAny>>,
    /// The runner's watch on itself: loop lag, CPU, late starts, blocking calls.
    watch: watch::SelfWatch,
}

impl RunnerState {
    /// Makes sure scenario `id` has its journey: a remote controller names journeys by spec
    /// in its work items, imported here the first time (mite's runner does the same).
    fn ensure_scenario(&mut self, py: Python<'_>, id: ScenarioId) {
        if !self.controller.is_remote() {
            return;
        }
        let Some(index) = (id as usize).checked_sub(1) else {
            return;
        };
        while self.scenarios.len() <= index {
            self.scenarios.push(ScenarioEntry {
                journey_spec: Arc::from("?"),
                journey: py.None(),
                fixture: Ok(None),
                checked_arities: HashSet::new(),
            });
        }
        if &*self.scenarios[index].journey_spec != "?" {
            return;
        }
        let spec = self.controller.journey_spec(id);
        let imported = py
            .import("mite.utils")
            .and_then(|m| m.call_method1("spec_import", (&*spec,)));
        let entry = &mut self.scenarios[index];
        entry.journey_spec = spec.clone();
        match imported {
            Ok(journey) => {
                entry.fixture = fixture_of(&journey).map(|f| f.map(Arc::new)).map_err(|e| {
                    format!("fixture of journey {spec} is broken: {}", one_line(py, &e))
                });
                entry.journey = journey.unbind();
            }
            Err(e) => {
                entry.fixture = Err(format!(
                    "cannot import journey {spec}: {}",
                    one_line(py, &e)
                ))
            }
        }
    }

    /// A work item the controller granted could not start: it goes back.
    fn give_back(&mut self, py: Python<'_>, id: ScenarioId, item: Option<Item>) {
        let runner = self.runner_id;
        self.controller
            .give_back(py, runner, id, item.map(|item| item.id));
    }
}

/// The in-process runner of one test, with its controller beside it.
#[pyclass(module = "mite._mite")]
pub struct Runner {
    state: GilShared<RefCell<RunnerState>>,
    event_loop: Py<PyAny>,
    sink: Py<MessageSink>,
    /// `ctx.config`: the config the controller gave at hello, updated with its changes.
    config: Py<PyDict>,
    test_name: Arc<str>,
    stop_flag: Arc<AtomicBool>,
    debug: bool,
    use_asyncio_tasks: bool,
    grace_period: f64,
    max_journeys: Option<u64>,
    base_context: GilShared<RefCell<Option<Py<PyAny>>>>,
    done_future: Py<PyAny>,
    started: Instant,
}

impl Runner {
    /// A runner of `specs`' journeys that says hello to `controller` and asks it for work.
    pub fn create(
        py: Python<'_>,
        event_loop: Py<PyAny>,
        options: RunnerOptions,
        mut controller: ControllerLink,
        specs: Vec<ScenarioSpec>,
    ) -> PyResult<Py<Runner>> {
        let (runner_id, config) = controller.hello(py)?;
        let mut scenarios = Vec::with_capacity(specs.len());
        for spec in specs {
            let fixture = fixture_of(spec.journey.bind(py))
                .map(|f| f.map(Arc::new))
                .map_err(|e| {
                    format!(
                        "fixture of journey {} is broken: {}",
                        spec.journey_spec,
                        one_line(py, &e)
                    )
                });
            scenarios.push(ScenarioEntry {
                fixture,
                journey_spec: Arc::from(spec.journey_spec.as_str()),
                journey: spec.journey,
                checked_arities: HashSet::new(),
            });
        }
        let done_future = event_loop.call_method0(py, "create_future")?;
        let runner = Py::new(
            py,
            Runner {
                state: GilShared::new(RefCell::new(RunnerState {
                    runner_id,
                    controller,
                    scenarios,
                    running: FxHashMap::default(),
                    cancelled: false,
                    next_serial: 0,
                    next_context_id: 0,
                    journeys_finished: 0,
                    pumping: false,
                    pump_deferred: false,
                    timer: None,
                    next_report_at: 0.0,
                    end: None,
                    done: false,
                    fixtures: FixtureTable::default(),
                    tick_callback: None,
                    pump_callback: None,
                    force_callback: None,
                    grace_callback: None,
                    watch: watch::SelfWatch::new(Instant::now()),
                })),
                event_loop,
                sink: options.sink,
                config: config.unbind(),
                test_name: Arc::from(options.test_name.as_str()),
                stop_flag: Arc::new(AtomicBool::new(false)),
                debug: options.debug,
                use_asyncio_tasks: options.use_asyncio_tasks,
                grace_period: options.grace_period,
                max_journeys: options.max_journeys,
                base_context: GilShared::new(RefCell::new(None)),
                done_future,
                started: Instant::now(),
            },
        )?;
        {
            let bound = runner.bind(py);
            let tick = bound.getattr("_tick")?.unbind();
            let pump = bound.getattr("_pump")?.unbind();
            let force = bound.getattr("_force_end")?.unbind();
            let grace = bound.getattr("_grace_over")?.unbind();
            let this = bound.borrow();
            let mut state = this.state.borrow_mut();
            state.tick_callback = Some(tick);
            state.pump_callback = Some(pump);
            state.force_callback = Some(force);
            state.grace_callback = Some(grace);
        }
        Ok(runner)
    }

    pub fn event_loop(&self, py: Python<'_>) -> Py<PyAny> {
        self.event_loop.clone_ref(py)
    }

    /// The future that completes when the run is over.
    pub fn done_future(&self, py: Python<'_>) -> Py<PyAny> {
        self.done_future.clone_ref(py)
    }

    pub fn end(&self) -> RunEnd {
        self.state.borrow().end.clone().unwrap_or(RunEnd::Completed)
    }

    fn now(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Called by the driver (or the asyncio-task adapter) when a coroutine finished.
    pub fn task_done(slf: &Bound<'_, Self>, purpose: Purpose, outcome: Result<Py<PyAny>, PyErr>) {
        match purpose {
            Purpose::Journey(run) => Self::journey_finished(slf, run, outcome),
            Purpose::Checkout(scenario) => Self::checkout_finished(slf, scenario, outcome),
            Purpose::Checkin => {
                if let Err(e) = outcome {
                    log::error!(target: "mite.runner", "datapool checkin failed: {}", one_line(slf.py(), &e));
                }
            }
            Purpose::Fixture(label) => Self::fixture_finished(slf, label, outcome),
        }
    }
}

#[pymethods]
impl Runner {
    /// Loop callback: the first tick, once the loop runs.
    fn _start(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        *slf.borrow().base_context.borrow_mut() = Some(contextvars::copy_current(py)?.unbind());
        Self::_tick(slf);
        Self::start_watch(slf)
    }

    /// Loop callback: the loop-lag probe.
    fn _probe(slf: &Bound<'_, Self>) {
        slf.borrow().probe(slf.py());
    }

    /// Loop callback: period boundaries, spawn-rate slots and controller reports.
    fn _tick(slf: &Bound<'_, Self>) {
        let this = slf.borrow();
        let py = slf.py();
        this.state.borrow_mut().timer = None;
        let now = this.now();
        let report_due = {
            let mut state = this.state.borrow_mut();
            let due = now >= state.next_report_at;
            if due {
                state.next_report_at = now + REPORT_INTERVAL;
            }
            due
        };
        this.refresh(py, now);
        if report_due {
            this.update_config(py);
            this.send_report(py);
        }
        Self::pump(slf);
    }

    /// Loop callback: continue starting journeys after a full pump.
    fn _pump(slf: &Bound<'_, Self>) {
        Self::pump(slf);
    }

    /// Signal handler: stop the test, cancelling running journeys.
    fn _interrupt(slf: &Bound<'_, Self>, code: i32) {
        Self::interrupt_with(slf, code);
    }

    /// Loop callback: the grace period after an interrupt is over.
    fn _grace_over(slf: &Bound<'_, Self>) {
        let this = slf.borrow();
        let remaining = this.state.borrow().running.len();
        if remaining == 0 || this.state.borrow().cancelled {
            return;
        }
        let grace = this.grace_period;
        log::warn!(target: "mite", "The grace period of {grace} s is over: cancelling {remaining} journeys still running");
        this.cancel_now(slf.py());
        drop(this);
        Self::after_change(slf);
    }

    /// Loop callback: cancelled journeys had their time to finish.
    fn _force_end(slf: &Bound<'_, Self>) {
        let remaining = slf.borrow().state.borrow().running.len();
        if remaining > 0 {
            log::warn!(target: "mite", "{remaining} journeys did not stop after cancellation; abandoning them");
        }
        Self::finish_run(slf);
    }
}

/// What the runner does when a task it started finishes.
pub(super) struct Then {
    runner: Py<Runner>,
    purpose: Purpose,
}

impl Then {
    pub(super) fn new(runner: &Bound<'_, Runner>, purpose: Purpose) -> Self {
        Then {
            runner: runner.clone().unbind(),
            purpose,
        }
    }
}

impl OnTaskDone for Then {
    fn task_done(self: Box<Self>, py: Python<'_>, outcome: PyResult<Py<PyAny>>) {
        Runner::task_done(self.runner.bind(py), self.purpose, outcome);
    }
}

/// Done callback of a plain asyncio Task running a journey (`--asyncio-tasks`).
#[pyclass(module = "mite._mite")]
pub struct TaskDone {
    then: GilShared<RefCell<Option<Then>>>,
}

#[pymethods]
impl TaskDone {
    fn __call__(&self, py: Python<'_>, task: Bound<'_, PyAny>) -> PyResult<()> {
        let Some(then) = self.then.borrow_mut().take() else {
            return Ok(());
        };
        let outcome = task.call_method0("result").map(Bound::unbind);
        Runner::task_done(then.runner.bind(py), then.purpose, outcome);
        Ok(())
    }
}
