//! The runner: starts journeys as the scheduler asks, drives them, and reports them.
//!
//! Everything here runs on the event-loop thread. Journeys start from loop callbacks (the
//! period timer, a journey finishing, a deferred pump), never from inside another task's
//! step, so each journey can be registered as asyncio's current task while it runs.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use pyo3::exceptions::{PyKeyboardInterrupt, PySystemExit};
use pyo3::prelude::*;
use pyo3::types::{IntoPyDict, PyTuple};

use super::context::Context;
use super::contextvars;
use super::datapools::{IterableDataPool, RecyclableIterableDataPool, SingleRunDataPool};
use super::driver::{CoroTask, TaskName};
use super::errors::{datapool_exhausted, one_line};
use super::sink::MessageSink;
use super::transaction::{enter, report_exception, send_txn};
use super::volume::PyVolumeModel;
use crate::clock::unix_time;
use crate::engine::{Removal, ScenarioId, Scheduler, SchedulerConfig};
use crate::messages::{keys, Envelope, Message, Value};

/// Journeys started per loop callback at most, so journeys that finish without suspending
/// cannot keep the event loop from running timers and I/O.
const MAX_STARTS_PER_PUMP: usize = 256;
/// Seconds between controller reports (mite sends one per second).
const REPORT_INTERVAL: f64 = 1.0;
/// Seconds cancelled journeys get to finish after an interrupt.
const INTERRUPT_GRACE: f64 = 5.0;

/// One scenario as the CLI resolved it.
pub struct ScenarioSpec {
    pub journey_spec: String,
    pub journey: Py<PyAny>,
    pub datapool: Option<Py<PyAny>>,
    pub volume_model: Py<PyAny>,
}

pub struct RunnerOptions {
    pub test_name: String,
    pub config: Py<PyAny>,
    pub sink: Py<MessageSink>,
    pub scheduler: SchedulerConfig,
    pub debug: bool,
    /// Run journeys as plain asyncio Tasks instead of with the Rust driver.
    pub use_asyncio_tasks: bool,
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

enum Pool {
    None,
    Recyclable(Py<RecyclableIterableDataPool>),
    Iterable(Py<IterableDataPool>),
    SingleRun(Py<SingleRunDataPool>),
    Python(Py<PyAny>),
}

impl Pool {
    fn classify(py: Python<'_>, pool: Option<Py<PyAny>>) -> Pool {
        let Some(pool) = pool else { return Pool::None };
        let bound = pool.bind(py);
        if bound.is_none() {
            return Pool::None;
        }
        let ty = bound.get_type();
        // Only the exact built-in classes take the direct path: a subclass may override
        // checkout/checkin in Python.
        if ty.is(py.get_type::<RecyclableIterableDataPool>()) {
            Pool::Recyclable(
                bound
                    .cast::<RecyclableIterableDataPool>()
                    .unwrap()
                    .clone()
                    .unbind(),
            )
        } else if ty.is(py.get_type::<IterableDataPool>()) {
            Pool::Iterable(bound.cast::<IterableDataPool>().unwrap().clone().unbind())
        } else if ty.is(py.get_type::<SingleRunDataPool>()) {
            Pool::SingleRun(bound.cast::<SingleRunDataPool>().unwrap().clone().unbind())
        } else {
            Pool::Python(pool)
        }
    }
}

struct ScenarioEntry {
    journey_spec: Arc<str>,
    journey: Py<PyAny>,
    /// mite's `_fixture` attributes of the journey, or why they are unusable.
    fixture: Result<Option<Arc<FixtureSpec>>, String>,
    pool: Pool,
    /// Datapool item lengths already checked against the journey's signature.
    checked_arities: HashSet<usize>,
    starvation_warned: bool,
}

/// A datapool item handed to one journey execution.
struct Item {
    /// The id to check back in (Python object for Python pools).
    id: Py<PyAny>,
    /// The same id as a message field (`scenario_data_id`).
    id_value: Value,
    /// Recyclable pools check in by index.
    index: Option<usize>,
    data: Py<PyAny>,
}

/// One journey execution in flight.
pub struct JourneyRun {
    serial: u64,
    scenario: ScenarioId,
    item: Option<Item>,
    ctx: Py<Context>,
    root: (Arc<str>, u64),
    start_time: f64,
}

/// A journey execution ready to be driven.
struct Prepared<'py> {
    ctx: Py<Context>,
    journey_context: Bound<'py, PyAny>,
    root: (Arc<str>, u64),
    /// What calling the journey gave: normally a coroutine, or the exception it raised.
    call: PyResult<Bound<'py, PyAny>>,
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

enum Fixture {
    Pending(Vec<(ScenarioId, Option<Item>)>),
    Ready(Py<PyAny>),
}

struct RunnerState {
    scheduler: Scheduler<PyVolumeModel>,
    scenarios: Vec<ScenarioEntry>,
    running: HashMap<u64, Py<PyAny>>,
    next_serial: u64,
    next_context_id: u64,
    pumping: bool,
    pump_deferred: bool,
    timer: Option<(f64, Py<PyAny>)>,
    next_report_at: f64,
    end: Option<RunEnd>,
    done: bool,
    fixtures: HashMap<String, Fixture>,
    tick_callback: Option<Py<PyAny>>,
    pump_callback: Option<Py<PyAny>>,
    force_callback: Option<Py<PyAny>>,
}

/// The in-process runner and controller of one test.
#[pyclass(unsendable, module = "mite._mite")]
pub struct Runner {
    state: RefCell<RunnerState>,
    event_loop: Py<PyAny>,
    sink: Py<MessageSink>,
    config: Py<PyAny>,
    test_name: Arc<str>,
    stop_flag: Arc<AtomicBool>,
    debug: bool,
    use_asyncio_tasks: bool,
    base_context: RefCell<Option<Py<PyAny>>>,
    done_future: Py<PyAny>,
    started: Instant,
}

impl Runner {
    pub fn create(
        py: Python<'_>,
        event_loop: Py<PyAny>,
        options: RunnerOptions,
        specs: Vec<ScenarioSpec>,
    ) -> PyResult<Py<Runner>> {
        let mut scheduler = Scheduler::new(options.scheduler);
        let mut scenarios = Vec::with_capacity(specs.len());
        for spec in specs {
            let id = scheduler.add_scenario(PyVolumeModel::new(spec.volume_model.clone_ref(py)));
            log::info!(
                target: "mite.scenario",
                "Added scenario id={id} journey_spec={} datapool={} volumemodel={}",
                py_repr(spec.journey_spec.clone().into_pyobject(py)?.as_any()),
                spec.datapool.as_ref().map_or("None".into(), |d| py_repr(d.bind(py))),
                py_repr(spec.volume_model.bind(py)),
            );
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
                pool: Pool::classify(py, spec.datapool),
                checked_arities: HashSet::new(),
                starvation_warned: false,
            });
        }
        let done_future = event_loop.call_method0(py, "create_future")?;
        let runner = Py::new(
            py,
            Runner {
                state: RefCell::new(RunnerState {
                    scheduler,
                    scenarios,
                    running: HashMap::new(),
                    next_serial: 0,
                    next_context_id: 0,
                    pumping: false,
                    pump_deferred: false,
                    timer: None,
                    next_report_at: 0.0,
                    end: None,
                    done: false,
                    fixtures: HashMap::new(),
                    tick_callback: None,
                    pump_callback: None,
                    force_callback: None,
                }),
                event_loop,
                sink: options.sink,
                config: options.config,
                test_name: Arc::from(options.test_name.as_str()),
                stop_flag: Arc::new(AtomicBool::new(false)),
                debug: options.debug,
                use_asyncio_tasks: options.use_asyncio_tasks,
                base_context: RefCell::new(None),
                done_future,
                started: Instant::now(),
            },
        )?;
        {
            let bound = runner.bind(py);
            let tick = bound.getattr("_tick")?.unbind();
            let pump = bound.getattr("_pump")?.unbind();
            let force = bound.getattr("_force_end")?.unbind();
            let this = bound.borrow();
            let mut state = this.state.borrow_mut();
            state.tick_callback = Some(tick);
            state.pump_callback = Some(pump);
            state.force_callback = Some(force);
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

    // ---- the schedule -------------------------------------------------------------------

    /// Evaluates volume models at period boundaries and logs removals.
    fn refresh(&self, py: Python<'_>, now: f64) {
        let result = self.state.borrow_mut().scheduler.refresh(now);
        match result {
            Ok(removals) => self.log_removals(&removals),
            Err((id, e)) => {
                let spec = self.journey_spec(id);
                self.fail(
                    py,
                    format!(
                        "volume model of scenario {id} ({spec}) failed: {}",
                        one_line(py, &e)
                    ),
                );
            }
        }
        if !self.state.borrow().scheduler.is_active() {
            self.stop_flag.store(true, Ordering::Relaxed);
        }
    }

    fn log_removals(&self, removals: &[Removal]) {
        for removal in removals {
            match removal {
                Removal::VolumeModelStopped(id) => log::info!(
                    target: "mite.scenario",
                    "Removed scenario {id} because volume model raised StopVolumeModel"
                ),
                Removal::DataPoolExhausted(id) => log::info!(
                    target: "mite.scenario",
                    "Removed scenario {id} because data pool exhausted"
                ),
            }
        }
        if !removals.is_empty() && !self.state.borrow().scheduler.is_active() {
            let text = match removals.last() {
                Some(Removal::DataPoolExhausted(_)) => {
                    "All scenarios removed from scenario tracker"
                }
                _ => "All scenarios have been removed from scenario tracker",
            };
            log::info!(target: "mite.scenario", "{text}");
            self.stop_flag.store(true, Ordering::Relaxed);
        }
    }

    fn journey_spec(&self, id: ScenarioId) -> Arc<str> {
        let state = self.state.borrow();
        state
            .scenarios
            .get(id as usize - 1)
            .map_or_else(|| Arc::from("?"), |s| s.journey_spec.clone())
    }

    /// Starts what the scheduler asks for, a bounded number per call.
    fn pump(slf: &Bound<'_, Self>) {
        let this = slf.borrow();
        let py = slf.py();
        {
            let mut state = this.state.borrow_mut();
            if state.pumping || state.done {
                return;
            }
            state.pumping = true;
            state.pump_deferred = false;
        }
        let mut budget = MAX_STARTS_PER_PUMP;
        'outer: loop {
            if this.state.borrow().end.is_some() {
                break;
            }
            let now = this.now();
            this.refresh(py, now);
            let starts = this.state.borrow_mut().scheduler.plan(now);
            if starts.is_empty() {
                break;
            }
            for (i, &id) in starts.iter().enumerate() {
                if budget == 0 || this.state.borrow().end.is_some() {
                    let mut state = this.state.borrow_mut();
                    for &unstarted in &starts[i..] {
                        state.scheduler.release(unstarted);
                    }
                    if budget == 0 && !state.pump_deferred {
                        state.pump_deferred = true;
                        let callback = state.pump_callback.as_ref().map(|c| c.clone_ref(py));
                        drop(state);
                        if let Some(callback) = callback {
                            if let Err(e) =
                                this.event_loop.call_method1(py, "call_soon", (callback,))
                            {
                                this.fail(
                                    py,
                                    format!("cannot schedule journeys: {}", one_line(py, &e)),
                                );
                            }
                        }
                    }
                    break 'outer;
                }
                budget -= 1;
                Self::start_one(slf, id);
            }
        }
        this.state.borrow_mut().pumping = false;
        Self::after_change(slf);
    }

    /// After anything that may end the run or change when the scheduler next needs to run.
    fn after_change(slf: &Bound<'_, Self>) {
        let this = slf.borrow();
        let py = slf.py();
        let (finished, forced) = {
            let state = this.state.borrow();
            let interrupted_and_idle = state.end.is_some() && state.running.is_empty();
            (state.scheduler.is_finished() || interrupted_and_idle, false)
        };
        if finished || forced {
            Self::finish_run(slf);
            return;
        }
        let wakeup = {
            let state = this.state.borrow();
            state
                .scheduler
                .next_wakeup(this.now())
                .min(state.next_report_at)
        };
        this.schedule_timer(py, wakeup);
    }

    fn schedule_timer(&self, py: Python<'_>, when: f64) {
        let mut state = self.state.borrow_mut();
        if state.done {
            return;
        }
        if let Some((at, _)) = &state.timer {
            if *at <= when + 1e-4 {
                return;
            }
        }
        if let Some((_, handle)) = state.timer.take() {
            let _ = handle.call_method0(py, "cancel");
        }
        let Some(callback) = state.tick_callback.as_ref().map(|c| c.clone_ref(py)) else {
            return;
        };
        let delay = (when - self.now()).max(0.0);
        drop(state);
        match self
            .event_loop
            .call_method1(py, "call_later", (delay, callback))
        {
            Ok(handle) => self.state.borrow_mut().timer = Some((when, handle)),
            Err(e) => self.fail(
                py,
                format!("cannot schedule the next period: {}", one_line(py, &e)),
            ),
        }
    }

    fn send_report(&self, py: Python<'_>) {
        let rows = self.state.borrow().scheduler.report();
        let map = |pick: fn(&(ScenarioId, u64, u64)) -> u64| {
            Value::Map(
                rows.iter()
                    .map(|row| (Value::UInt(u64::from(row.0)), Value::UInt(pick(row))))
                    .collect(),
            )
        };
        let msg = Message::bare(keys::controller_report(), unix_time())
            .with_field(keys::test(), self.test_name.clone())
            .with_field(keys::required(), map(|r| r.1))
            .with_field(keys::actual(), map(|r| r.2))
            .with_field(keys::num_runners(), 1u64);
        if let Err(e) = self.sink.get().deliver(py, msg) {
            log::error!(target: "mite.controller", "controller report failed: {}", one_line(py, &e));
        }
    }

    /// Ends the run now: resolves the done future (journeys still running are abandoned).
    fn finish_run(slf: &Bound<'_, Self>) {
        let this = slf.borrow();
        let py = slf.py();
        {
            let mut state = this.state.borrow_mut();
            if state.done {
                return;
            }
            state.done = true;
            if let Some((_, handle)) = state.timer.take() {
                let _ = handle.call_method0(py, "cancel");
            }
        }
        this.stop_flag.store(true, Ordering::Relaxed);
        this.send_report(py);
        let done = this.done_future.bind(py);
        if !done
            .call_method0("done")
            .and_then(|d| d.is_truthy())
            .unwrap_or(true)
        {
            if let Err(e) = done.call_method1("set_result", (py.None(),)) {
                e.print(py);
            }
        }
    }

    /// Gives back the slot planned for a journey of scenario `id` and fails the run.
    fn abandon(&self, py: Python<'_>, id: ScenarioId, message: String) {
        self.state.borrow_mut().scheduler.release(id);
        self.fail(py, message);
    }

    /// Records a fatal error and stops the run: one line for the user, exit 1.
    fn fail(&self, py: Python<'_>, message: String) {
        {
            let mut state = self.state.borrow_mut();
            if state.end.is_some() {
                return;
            }
            state.end = Some(RunEnd::Failed(message));
            state.scheduler.stop_all();
        }
        self.stop_flag.store(true, Ordering::Relaxed);
        self.cancel_all(py);
    }

    fn cancel_all(&self, py: Python<'_>) {
        let tasks: Vec<Py<PyAny>> = self
            .state
            .borrow()
            .running
            .values()
            .map(|t| t.clone_ref(py))
            .collect();
        for task in tasks {
            if let Err(e) = task.call_method0(py, "cancel") {
                e.print(py);
            }
        }
    }

    // ---- starting journeys ----------------------------------------------------------------

    /// Takes an item from the scenario's datapool and starts one journey.
    fn start_one(slf: &Bound<'_, Self>, id: ScenarioId) {
        let this = slf.borrow();
        let py = slf.py();
        let index = id as usize - 1;
        let pool = {
            let state = this.state.borrow();
            match &state.scenarios[index].pool {
                Pool::None => Ok(Some(None)),
                Pool::Recyclable(p) => p.get().try_checkout(py).map(|item| {
                    item.map(|(i, data)| {
                        Some(Item {
                            id: i.into_pyobject(py).unwrap().into_any().unbind(),
                            id_value: Value::UInt(i as u64),
                            index: Some(i),
                            data,
                        })
                    })
                }),
                Pool::Iterable(p) => p.get().next_item(py).map(|item| {
                    item.map(|(i, data)| {
                        Some(Item {
                            id: i.into_pyobject(py).unwrap().into_any().unbind(),
                            id_value: Value::UInt(i),
                            index: None,
                            data,
                        })
                    })
                }),
                Pool::SingleRun(p) => p.bind(py).borrow_mut().take(py).map(|item| {
                    item.map(|(i, data)| {
                        Some(Item {
                            id: i.into_pyobject(py).unwrap().into_any().unbind(),
                            id_value: Value::UInt(i),
                            index: None,
                            data,
                        })
                    })
                }),
                Pool::Python(p) => {
                    let pool = p.clone_ref(py);
                    drop(state);
                    return Self::start_python_checkout(slf, id, pool);
                }
            }
        };
        let exhaustible = !matches!(
            this.state.borrow().scenarios[index].pool,
            Pool::Recyclable(_)
        );
        match pool {
            Ok(Some(item)) => Self::launch(slf, id, item),
            Ok(None) if exhaustible => Self::exhausted(slf, id),
            Ok(None) => Self::starved(slf, id),
            Err(e) => {
                let spec = this.journey_spec(id);
                this.abandon(
                    py,
                    id,
                    format!(
                        "datapool of scenario {id} ({spec}) failed: {}",
                        one_line(py, &e)
                    ),
                );
            }
        }
    }

    fn exhausted(slf: &Bound<'_, Self>, id: ScenarioId) {
        let this = slf.borrow();
        let removal = {
            let mut state = this.state.borrow_mut();
            state.scheduler.release(id);
            state.scheduler.exhaust(id)
        };
        if let Some(removal) = removal {
            this.log_removals(&[removal]);
        }
    }

    fn starved(slf: &Bound<'_, Self>, id: ScenarioId) {
        let this = slf.borrow();
        let mut state = this.state.borrow_mut();
        state.scheduler.release(id);
        state.scheduler.starve(id);
        let entry = &mut state.scenarios[id as usize - 1];
        if !entry.starvation_warned {
            entry.starvation_warned = true;
            let size = match &entry.pool {
                Pool::Recyclable(p) => p.get().size().unwrap_or(0),
                _ => 0,
            };
            log::warn!(
                target: "mite.scenario",
                "Scenario {id} ({}) wants more journeys than its datapool has items ({size}); \
                 waiting for items to be checked in",
                entry.journey_spec
            );
        }
    }

    /// `await pool.checkout(config=None)` for a datapool written in Python.
    fn start_python_checkout(slf: &Bound<'_, Self>, id: ScenarioId, pool: Py<PyAny>) {
        let py = slf.py();
        let kwargs = [("config", py.None())].into_py_dict(py);
        let awaitable = kwargs.and_then(|kw| pool.bind(py).call_method("checkout", (), Some(&kw)));
        match awaitable {
            Ok(awaitable) => Self::drive(
                slf,
                awaitable,
                format!("checkout_{id}"),
                Purpose::Checkout(id),
            ),
            Err(e) => Self::checkout_finished(slf, id, Err(e)),
        }
    }

    fn checkout_finished(slf: &Bound<'_, Self>, id: ScenarioId, outcome: Result<Py<PyAny>, PyErr>) {
        let this = slf.borrow();
        let py = slf.py();
        match outcome {
            Ok(item) if item.is_none(py) => {
                // mite: "no item right now", the scenario stays.
                let mut state = this.state.borrow_mut();
                state.scheduler.release(id);
                state.scheduler.starve(id);
            }
            Ok(item) => match split_item(py, item.bind(py)) {
                Ok(item) => Self::launch(slf, id, Some(item)),
                Err(e) => {
                    let spec = this.journey_spec(id);
                    this.abandon(
                        py,
                        id,
                        format!(
                            "datapool of scenario {id} ({spec}) returned a bad item: {}",
                            one_line(py, &e)
                        ),
                    );
                }
            },
            Err(e) if datapool_exhausted(py).is_ok_and(|c| e.is_instance(py, c)) => {
                Self::exhausted(slf, id);
            }
            Err(e) => {
                let spec = this.journey_spec(id);
                this.abandon(
                    py,
                    id,
                    format!(
                        "datapool of scenario {id} ({spec}) failed: {}",
                        one_line(py, &e)
                    ),
                );
            }
        }
        if !this.state.borrow().pumping {
            Self::pump(slf);
        }
    }

    fn checkin(slf: &Bound<'_, Self>, scenario: ScenarioId, item: Item) {
        let this = slf.borrow();
        let py = slf.py();
        let pool = {
            let state = this.state.borrow();
            match &state.scenarios[scenario as usize - 1].pool {
                Pool::Recyclable(p) => {
                    if let Some(index) = item.index {
                        p.get().checkin_id(index);
                    }
                    return;
                }
                Pool::Python(p) => p.clone_ref(py),
                _ => return,
            }
        };
        match pool.bind(py).call_method1("checkin", (item.id,)) {
            Ok(awaitable) => Self::drive(slf, awaitable, "checkin".into(), Purpose::Checkin),
            Err(e) => {
                log::error!(target: "mite.runner", "datapool checkin failed: {}", one_line(py, &e))
            }
        }
    }

    /// Starts one journey execution with its datapool item.
    fn launch(slf: &Bound<'_, Self>, id: ScenarioId, item: Option<Item>) {
        let this = slf.borrow();
        let py = slf.py();
        let (journey, spec) = {
            let state = this.state.borrow();
            let entry = &state.scenarios[id as usize - 1];
            (entry.journey.clone_ref(py), entry.journey_spec.clone())
        };
        if let Err(message) = this.check_arity(py, id, &journey, &spec, item.as_ref()) {
            if let Some(item) = item {
                Self::checkin(slf, id, item);
            }
            this.abandon(py, id, message);
            return;
        }
        let fixture = match this.fixture(id) {
            Ok(f) => f,
            Err(message) => {
                this.abandon(py, id, message);
                return;
            }
        };
        if let Some(fixture) = fixture {
            let mut state = this.state.borrow_mut();
            match state.fixtures.get_mut(&fixture.label) {
                Some(Fixture::Ready(_)) => {}
                Some(Fixture::Pending(waiting)) => {
                    waiting.push((id, item));
                    return;
                }
                None => {
                    state
                        .fixtures
                        .insert(fixture.label.clone(), Fixture::Pending(vec![(id, item)]));
                    drop(state);
                    Self::start_fixture(slf, fixture, id);
                    return;
                }
            }
        }
        Self::launch_now(slf, id, item, journey, spec);
    }

    /// Checks once per item length that the journey accepts `(ctx, *item)`: a mismatch is a
    /// scenario mistake, not a journey error.
    fn check_arity(
        &self,
        py: Python<'_>,
        id: ScenarioId,
        journey: &Py<PyAny>,
        spec: &str,
        item: Option<&Item>,
    ) -> Result<(), String> {
        let args: Vec<Py<PyAny>> = match item {
            None => Vec::new(),
            Some(item) => match item.data.bind(py).try_iter() {
                Ok(it) => it
                    .map(|v| v.map(Bound::unbind))
                    .collect::<PyResult<_>>()
                    .map_err(|e| one_line(py, &e))?,
                Err(_) => {
                    return Err(format!(
                    "datapool item {} for journey {spec} is not a sequence: items must be tuples",
                    py_repr(item.data.bind(py))
                ))
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
                Err(format!(
                    "journey {spec} cannot be called with {shown}: {}",
                    one_line(py, &e)
                ))
            }
            _ => Ok(()),
        }
    }

    fn launch_now(
        slf: &Bound<'_, Self>,
        id: ScenarioId,
        item: Option<Item>,
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
        let envelope = Arc::new(Envelope {
            entries: vec![
                (keys::test(), Value::Str(this.test_name.clone())),
                (keys::runner_id(), Value::UInt(1)),
                (keys::journey(), Value::Str(spec.clone())),
                (keys::context_id(), Value::UInt(context_id)),
                (keys::scenario_id(), Value::UInt(u64::from(id))),
                (
                    keys::scenario_data_id(),
                    item.as_ref().map_or(Value::Nil, |i| i.id_value.clone()),
                ),
            ],
        });
        let context = Context::for_journey(
            this.sink.clone_ref(py),
            this.config.clone_ref(py),
            envelope,
            this.stop_flag.clone(),
            this.debug,
        );
        let prepared = match this.prepare(py, id, context, &journey, item.as_ref()) {
            Ok(prepared) => prepared,
            Err(e) => {
                this.abandon(
                    py,
                    id,
                    format!("cannot start journey {spec}: {}", one_line(py, &e)),
                );
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
            data_id: run.item.as_ref().map(|i| i.id.clone_ref(py)),
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
                this.abandon(py, id, format!("journey {spec} returned {shown}, not an awaitable: journeys must be async functions"));
                return;
            }
        };
        let task = CoroTask::new(
            py,
            iterator.unbind(),
            journey_context.unbind(),
            slf,
            name,
            Purpose::Journey(run),
        );
        match Bound::new(py, task) {
            Ok(task) => {
                this.state
                    .borrow_mut()
                    .running
                    .insert(serial, task.clone().into_any().unbind());
                CoroTask::step(&task, None);
            }
            Err(e) => this.fail(
                py,
                format!("cannot start journey {spec}: {}", one_line(py, &e)),
            ),
        }
    }

    /// Creates the journey's `ctx` and contextvars context, enters `__root__` in it and calls
    /// the journey (which, for an `async def`, only creates the coroutine).
    fn prepare<'py>(
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
    fn launch_task(
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
                    runner: slf.clone().unbind(),
                    purpose: RefCell::new(Some(Purpose::Journey(run))),
                },
            )?;
            task.call_method1("add_done_callback", (adapter,))?;
            Ok(task)
        })();
        match created {
            Ok(task) => {
                this.state
                    .borrow_mut()
                    .running
                    .insert(serial, task.unbind());
            }
            Err(e) => {
                this.state.borrow_mut().scheduler.release(scenario);
                this.fail(
                    py,
                    format!("cannot start a journey task: {}", one_line(py, &e)),
                );
            }
        }
    }

    /// Drives a cold-path coroutine (Python datapool, fixture) with the same driver.
    fn drive(slf: &Bound<'_, Self>, awaitable: Bound<'_, PyAny>, name: String, purpose: Purpose) {
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
            CoroTask::new(
                py,
                iterator.unbind(),
                context.unbind(),
                slf,
                TaskName::Given(name),
                purpose,
            ),
        ) {
            Ok(task) => CoroTask::step(&task, None),
            Err(e) => slf.borrow().fail(
                py,
                format!("cannot drive a coroutine: {}", one_line(py, &e)),
            ),
        }
    }

    // ---- fixtures ---------------------------------------------------------------------------

    fn start_fixture(slf: &Bound<'_, Self>, fixture: Arc<FixtureSpec>, id: ScenarioId) {
        let this = slf.borrow();
        let py = slf.py();
        // The fixture function gets a context of its own, as mite passes the first journey's.
        let spec = this.journey_spec(id);
        let envelope = Arc::new(Envelope {
            entries: vec![
                (keys::test(), Value::Str(this.test_name.clone())),
                (keys::runner_id(), Value::UInt(1)),
                (keys::journey(), Value::Str(spec)),
            ],
        });
        let ctx = Context::for_journey(
            this.sink.clone_ref(py),
            this.config.clone_ref(py),
            envelope,
            this.stop_flag.clone(),
            this.debug,
        );
        let awaitable = Bound::new(py, ctx).and_then(|ctx| fixture.function.bind(py).call1((ctx,)));
        match awaitable {
            Ok(a) => Self::drive(
                slf,
                a,
                format!("fixture_{}", fixture.label),
                Purpose::Fixture(fixture.label.clone()),
            ),
            Err(e) => Self::fixture_finished(slf, fixture.label.clone(), Err(e)),
        }
    }

    fn fixture_finished(slf: &Bound<'_, Self>, label: String, outcome: Result<Py<PyAny>, PyErr>) {
        let this = slf.borrow();
        let py = slf.py();
        let waiting = {
            let mut state = this.state.borrow_mut();
            let waiting = match state.fixtures.remove(&label) {
                Some(Fixture::Pending(waiting)) => waiting,
                _ => Vec::new(),
            };
            if let Ok(value) = &outcome {
                state
                    .fixtures
                    .insert(label.clone(), Fixture::Ready(value.clone_ref(py)));
            }
            waiting
        };
        match outcome {
            Ok(_) => {
                for (id, item) in waiting {
                    let (journey, spec) = {
                        let state = this.state.borrow();
                        let entry = &state.scenarios[id as usize - 1];
                        (entry.journey.clone_ref(py), entry.journey_spec.clone())
                    };
                    Self::launch_now(slf, id, item, journey, spec);
                }
            }
            Err(e) => {
                {
                    let mut state = this.state.borrow_mut();
                    for (id, _) in &waiting {
                        state.scheduler.release(*id);
                    }
                }
                this.fail(
                    py,
                    format!("fixture {label:?} failed: {}", one_line(py, &e)),
                );
            }
        }
        Self::after_change(slf);
    }

    /// The scenario's journey fixture, read once when the scenario was added.
    fn fixture(&self, id: ScenarioId) -> Result<Option<Arc<FixtureSpec>>, String> {
        self.state.borrow().scenarios[id as usize - 1]
            .fixture
            .clone()
    }

    fn apply_fixture(
        &self,
        py: Python<'_>,
        id: ScenarioId,
        ctx: &Bound<'_, Context>,
    ) -> PyResult<()> {
        let Ok(Some(fixture)) = self.fixture(id) else {
            return Ok(());
        };
        let state = self.state.borrow();
        if let Some(Fixture::Ready(value)) = state.fixtures.get(&fixture.label) {
            ctx.setattr(fixture.variable.as_str(), value.clone_ref(py))?;
        }
        Ok(())
    }

    // ---- journeys finishing -----------------------------------------------------------------

    fn journey_finished(slf: &Bound<'_, Self>, run: JourneyRun, outcome: Result<Py<PyAny>, PyErr>) {
        let this = slf.borrow();
        let py = slf.py();
        this.state.borrow_mut().running.remove(&run.serial);
        let ctx = run.ctx.bind(py).borrow();
        let had_error = match &outcome {
            Ok(_) => false,
            Err(e) if e.is_instance_of::<PySystemExit>(py) => {
                let code = e
                    .value(py)
                    .getattr("code")
                    .ok()
                    .and_then(|c| c.extract::<i32>().ok())
                    .unwrap_or(1);
                this.end_with(py, RunEnd::Exit(code));
                false
            }
            Err(e) if e.is_instance_of::<PyKeyboardInterrupt>(py) => {
                Self::interrupt_with(slf, 130);
                false
            }
            Err(e) => {
                let traceback = e.traceback(py);
                let traceback = traceback.as_ref().map(|t| t.as_any());
                match report_exception(py, &ctx, e.value(py).as_any(), traceback, &run.root) {
                    Ok(had_error) => had_error,
                    Err(exit) if exit.is_instance_of::<PySystemExit>(py) => {
                        this.end_with(py, RunEnd::Exit(1));
                        true
                    }
                    Err(other) => {
                        log::error!(target: "mite.runner", "reporting a journey error failed: {}", one_line(py, &other));
                        true
                    }
                }
            }
        };
        if let Err(e) = send_txn(py, &ctx, run.root.clone(), run.start_time, had_error) {
            log::error!(target: "mite.runner", "sending txn failed: {}", one_line(py, &e));
        }
        drop(ctx);
        if let Some(item) = run.item {
            Self::checkin(slf, run.scenario, item);
        }
        let pumping = {
            let mut state = this.state.borrow_mut();
            state.scheduler.finished(run.scenario);
            state.pumping
        };
        if !pumping {
            Self::pump(slf);
        }
    }

    fn end_with(&self, py: Python<'_>, end: RunEnd) {
        {
            let mut state = self.state.borrow_mut();
            if state.end.is_some() {
                return;
            }
            state.end = Some(end);
            state.scheduler.stop_all();
        }
        self.stop_flag.store(true, Ordering::Relaxed);
        self.cancel_all(py);
    }

    fn interrupt_with(slf: &Bound<'_, Self>, code: i32) {
        let this = slf.borrow();
        let py = slf.py();
        let again = this.state.borrow().end.is_some();
        if again {
            // A second signal, or journeys that will not stop: end now.
            Self::finish_run(slf);
            return;
        }
        log::warn!(target: "mite", "Received interrupt signal, stopping the test");
        this.end_with(py, RunEnd::Interrupted(code));
        let callback = this
            .state
            .borrow()
            .force_callback
            .as_ref()
            .map(|c| c.clone_ref(py));
        if let Some(callback) = callback {
            let _ = this
                .event_loop
                .call_method1(py, "call_later", (INTERRUPT_GRACE, callback));
        }
        Self::after_change(slf);
    }
}

#[pymethods]
impl Runner {
    /// Loop callback: the first tick, once the loop runs.
    fn _start(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        *slf.borrow().base_context.borrow_mut() = Some(contextvars::copy_current(py)?.unbind());
        Self::_tick(slf);
        Ok(())
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

    /// Loop callback: the interrupt grace period is over.
    fn _force_end(slf: &Bound<'_, Self>) {
        let remaining = slf.borrow().state.borrow().running.len();
        if remaining > 0 {
            log::warn!(target: "mite", "{remaining} journeys did not stop after cancellation; abandoning them");
        }
        Self::finish_run(slf);
    }
}

/// Done callback of a plain asyncio Task running a journey (`--asyncio-tasks`).
#[pyclass(unsendable, module = "mite._mite")]
pub struct TaskDone {
    runner: Py<Runner>,
    purpose: RefCell<Option<Purpose>>,
}

#[pymethods]
impl TaskDone {
    fn __call__(&self, py: Python<'_>, task: Bound<'_, PyAny>) -> PyResult<()> {
        let Some(purpose) = self.purpose.borrow_mut().take() else {
            return Ok(());
        };
        let outcome = match task.call_method0("result") {
            Ok(v) => Ok(v.unbind()),
            Err(e) => Err(e),
        };
        Runner::task_done(self.runner.bind(py), purpose, outcome);
        Ok(())
    }
}

struct FixtureSpec {
    label: String,
    variable: String,
    function: Py<PyAny>,
}

/// mite's undocumented fixture attributes on a journey function.
fn fixture_of(journey: &Bound<'_, PyAny>) -> PyResult<Option<FixtureSpec>> {
    let marked = match journey.getattr("_fixture") {
        Ok(v) => v.is_truthy()?,
        Err(_) => false,
    };
    if !marked {
        return Ok(None);
    }
    Ok(Some(FixtureSpec {
        label: journey.getattr("_fixture_label")?.str()?.to_string(),
        variable: journey.getattr("_fixture_variable")?.str()?.to_string(),
        function: journey.getattr("_fixture_func")?.unbind(),
    }))
}

/// A `DataPoolItem`-like result of a Python pool's checkout: `(id, data)`.
fn split_item(py: Python<'_>, item: &Bound<'_, PyAny>) -> PyResult<Item> {
    let id = item.get_item(0)?;
    let data = item.get_item(1)?;
    let id_value = super::convert::to_value(&id).unwrap_or(Value::Nil);
    let _ = py;
    Ok(Item {
        id: id.unbind(),
        id_value,
        index: None,
        data: data.unbind(),
    })
}

/// The iterator to drive for an awaitable: a coroutine itself, or `__await__()`.
fn as_iterator<'py>(awaitable: &Bound<'py, PyAny>) -> Result<Bound<'py, PyAny>, ()> {
    let py = awaitable.py();
    // SAFETY: type checks on a live object.
    if unsafe { pyo3::ffi::PyCoro_CheckExact(awaitable.as_ptr()) } != 0 {
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

fn py_repr(obj: &Bound<'_, PyAny>) -> String {
    obj.repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "<unrepresentable>".into())
}
