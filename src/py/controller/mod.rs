//! The controller side of the seam, in the runner's process (`scenario test`, `journey
//! test|run`): the core [`Dispatcher`] with the test's Python volume models, datapools and
//! config manager.
//!
//! A runner says hello (getting its id and the config), asks for work items, reports each
//! finished journey with its item id, and reads config changes, as a runner of mite's
//! distributed mode does over ZeroMQ. Volume models and datapools are called here, never by
//! the runner; a Python datapool's awaitables are handed to the runner to step on the loop,
//! and their answers come back through [`LocalController::checkout_done`].

mod link;
mod pools;
pub mod remote;
pub mod server;
pub mod serving;

pub use link::ControllerLink;
pub use pools::ItemId;
use pools::{python_answer, Pools};

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::convert::{py_repr, to_value};
use super::volume::PyVolumeModel;
use crate::errors::one_line;
use mite_core::clock::unix_time;
use mite_core::engine::{
    ArrivalCounts, Dispatch, DispatchError, Dispatcher, Removal, RunnerId, ScenarioId,
    SchedulerConfig, Work,
};
use mite_core::messages::{keys, Message, Value};

/// One scenario as the CLI resolved it.
pub struct ScenarioSpec {
    pub journey_spec: String,
    pub journey: Py<PyAny>,
    pub datapool: Option<Py<PyAny>>,
    pub volume_model: Py<PyAny>,
}

/// A work item for the runner: a scenario and its datapool item `(id, data)`, if any.
pub type WorkItem = Work<ItemId, Py<PyAny>>;

/// A controller-side failure that ends the test: one line for the user.
#[derive(Debug)]
pub struct Failure(pub String);

/// The controller of a test run in this process.
pub struct LocalController {
    dispatcher: Dispatcher<PyVolumeModel>,
    pools: Pools,
    /// Journey specs by scenario, for log lines and error messages.
    journey_specs: Vec<Arc<str>>,
    /// Scenarios already warned about wanting more journeys than their pool has items.
    starvation_warned: Vec<bool>,
    /// The last scenario removal, until the line saying that none is left was logged (an
    /// arrival-rate scenario stays until its last due starts are handed out).
    last_removal: Option<Removal>,
    /// Arrival-rate scenarios already warned about dropping starts (at report time).
    drops_warned: std::cell::RefCell<std::collections::BTreeSet<ScenarioId>>,
    config_manager: Py<PyAny>,
    test_name: Arc<str>,
}

impl LocalController {
    pub fn new(
        py: Python<'_>,
        scheduler: SchedulerConfig,
        specs: &[ScenarioSpec],
        config_manager: Py<PyAny>,
        test_name: Arc<str>,
        runner_timeout: Option<f64>,
    ) -> PyResult<Self> {
        // In-process (no timeout) the runner cannot go silent without the controller
        // stopping too; runners of other processes are dropped after `runner_timeout`.
        let mut dispatcher = Dispatcher::new(scheduler, runner_timeout);
        let mut pools = Pools::new();
        for spec in specs {
            let id = dispatcher.add_scenario(PyVolumeModel::new(spec.volume_model.clone_ref(py)));
            if spec.datapool.is_none() {
                // Runners of other processes that offer it keep its journeys running.
                dispatcher.controller_mut().allow_standing(id);
            }
            log::info!(
                target: "mite.scenario",
                "Added scenario id={id} journey_spec={} datapool={} volumemodel={}",
                py_repr(spec.journey_spec.clone().into_pyobject(py)?.as_any()),
                spec.datapool.as_ref().map_or("None".into(), |d| py_repr(d.bind(py))),
                py_repr(spec.volume_model.bind(py)),
            );
            pools.push(py, spec.datapool.as_ref().map(|d| d.clone_ref(py)));
        }
        Ok(LocalController {
            dispatcher,
            pools,
            journey_specs: specs
                .iter()
                .map(|s| Arc::from(s.journey_spec.as_str()))
                .collect(),
            starvation_warned: vec![false; specs.len()],
            last_removal: None,
            drops_warned: Default::default(),
            config_manager,
            test_name,
        })
    }

    /// A runner joins: its id, and the config as a dict (every key, as mite's hello).
    pub fn hello<'py>(
        &mut self,
        py: Python<'py>,
        now: f64,
    ) -> PyResult<(RunnerId, Bound<'py, PyDict>)> {
        let runner = self.dispatcher.hello(now);
        let config = PyDict::new(py);
        self.update_config(py, runner, &config)?;
        Ok((runner, config))
    }

    /// The config changes set since `runner` last asked (every key the first time).
    pub fn config_changes(
        &self,
        py: Python<'_>,
        runner: RunnerId,
    ) -> PyResult<Vec<(Value, Value)>> {
        let changes = self
            .config_manager
            .call_method1(py, "get_changes_for_runner", (runner,))?;
        changes
            .bind(py)
            .try_iter()?
            .map(|pair| {
                let pair = pair?;
                Ok((to_value(&pair.get_item(0)?)?, to_value(&pair.get_item(1)?)?))
            })
            .collect()
    }

    /// For [`server::RunnerRequests`], which serves runners of other processes.
    pub fn dispatcher_mut(&mut self) -> &mut Dispatcher<PyVolumeModel> {
        &mut self.dispatcher
    }

    /// Checks items in (runners of other processes report their finished journeys' items;
    /// their concurrency comes from `current_work`).
    pub fn check_in(&mut self, py: Python<'_>, items: Vec<(ScenarioId, ItemId)>) {
        use mite_core::engine::DataSource;
        let mut pools = self.pools.with_py(py);
        for (scenario, item) in items {
            pools.checkin(scenario, item);
        }
    }

    /// Work for a runner of another process, capped by its own `max_work`.
    pub fn remote_work(
        &mut self,
        py: Python<'_>,
        runner: RunnerId,
        now: f64,
        max_work: Option<u64>,
    ) -> Result<Vec<WorkItem>, Failure> {
        let dispatch =
            self.dispatcher
                .request_work(&mut self.pools.with_py(py), runner, now, [], max_work);
        self.after(py, dispatch)
    }

    /// Applies the config changes set since `runner` last asked to its `config` dict.
    pub fn update_config(
        &mut self,
        py: Python<'_>,
        runner: RunnerId,
        config: &Bound<'_, PyDict>,
    ) -> PyResult<()> {
        let changes = self
            .config_manager
            .call_method1(py, "get_changes_for_runner", (runner,))?;
        for pair in changes.bind(py).try_iter()? {
            let pair = pair?;
            config.set_item(pair.get_item(0)?, pair.get_item(1)?)?;
        }
        Ok(())
    }

    /// Evaluates the volume models if a period ended.
    pub fn refresh(&mut self, py: Python<'_>, now: f64) -> Result<(), Failure> {
        let removals = self
            .dispatcher
            .controller_mut()
            .refresh(now)
            .map_err(|e| self.failure_in(py, DispatchError::Controller(e)))?;
        self.log_removals(&removals);
        Ok(())
    }

    /// Work for `runner`: at most `budget` journeys now, and never more than `room` beyond
    /// what it already runs (arrival-rate starts past `room` are dropped; those past
    /// `budget` stay due).
    pub fn request_work(
        &mut self,
        py: Python<'_>,
        runner: RunnerId,
        now: f64,
        budget: u64,
        room: Option<u64>,
    ) -> Result<Vec<WorkItem>, Failure> {
        let outstanding = self.dispatcher.controller().outstanding(runner);
        let max_work = room.map(|room| outstanding + room);
        let dispatch = self.dispatcher.request_work_within(
            &mut self.pools.with_py(py),
            runner,
            now,
            [],
            max_work,
            budget,
        );
        self.after(py, dispatch)
    }

    /// A Python datapool's `checkout` (started by [`Self::request_work`]) finished.
    pub fn checkout_done(
        &mut self,
        py: Python<'_>,
        runner: RunnerId,
        scenario: ScenarioId,
        outcome: PyResult<Py<PyAny>>,
    ) -> Result<Vec<WorkItem>, Failure> {
        let answer = python_answer(py, outcome);
        let dispatch = self.dispatcher.checkout_done(runner, scenario, answer);
        self.after(py, dispatch)
    }

    /// A journey of `runner` finished: its item goes back to its pool.
    pub fn finished(
        &mut self,
        py: Python<'_>,
        runner: RunnerId,
        scenario: ScenarioId,
        item: Option<ItemId>,
    ) {
        // In-process the runner reports each finished journey at once, so the counts are
        // exact when it next asks for work. Its id is known: the call cannot fail.
        let _ = self
            .dispatcher
            .finished(&mut self.pools.with_py(py), runner, [(scenario, item)]);
    }

    /// A work item the runner could not start goes back.
    pub fn give_back(
        &mut self,
        py: Python<'_>,
        runner: RunnerId,
        scenario: ScenarioId,
        item: Option<ItemId>,
    ) {
        self.dispatcher
            .give_back(&mut self.pools.with_py(py), runner, scenario, item);
    }

    /// Whether a call started Python datapool calls that the runner has not taken yet.
    pub fn has_pool_calls(&self) -> bool {
        self.pools.has_calls()
    }

    /// Python datapool `checkout` calls to step: `(scenario, awaitable)`.
    pub fn take_checkouts(&mut self) -> Vec<(ScenarioId, Py<PyAny>)> {
        self.pools.take_checkouts()
    }

    /// Python datapool `checkin` calls to step.
    pub fn take_checkins(&mut self) -> Vec<Py<PyAny>> {
        self.pools.take_checkins()
    }

    /// Ends every scenario now (an interrupt, a fatal error).
    pub fn stop_all(&mut self) {
        // An interrupt or a failure is not the scenarios' end: no "all removed" line.
        self.last_removal = None;
        self.dispatcher.controller_mut().stop_all();
    }

    pub fn is_active(&self) -> bool {
        self.dispatcher.controller().is_active()
    }

    /// Runners known now (said hello and neither bye nor silent for the timeout).
    pub fn runner_count(&self) -> usize {
        self.dispatcher.controller().runner_count()
    }

    pub fn is_finished(&self) -> bool {
        self.dispatcher.controller().is_finished()
    }

    pub fn next_wakeup(&self, now: f64) -> f64 {
        self.dispatcher.controller().next_wakeup(now)
    }

    pub fn journey_spec(&self, id: ScenarioId) -> Arc<str> {
        (id as usize)
            .checked_sub(1)
            .and_then(|i| self.journey_specs.get(i))
            .map_or_else(|| Arc::from("?"), Arc::clone)
    }

    /// mite's `controller_report`: required and actual concurrency per scenario.
    pub fn report(&self) -> Message {
        let report = self.dispatcher.report();
        let rows = report.scenarios;
        let map = |pick: fn(&(ScenarioId, u64, u64)) -> u64| {
            Value::Map(
                rows.iter()
                    .map(|row| (Value::UInt(u64::from(row.0)), Value::UInt(pick(row))))
                    .collect(),
            )
        };
        let message = Message::bare(keys::controller_report(), unix_time())
            .with_field(keys::test(), self.test_name.clone())
            .with_field(keys::required(), map(|r| r.1))
            .with_field(keys::actual(), map(|r| r.2))
            .with_field(keys::num_runners(), report.num_runners);
        if report.arrivals.is_empty() {
            return message;
        }
        self.warn_dropped(&report.arrivals);
        // Arrival-rate scenarios: starts due and dropped so far (mite-rs only).
        let counts = |pick: fn(&ArrivalCounts) -> u64| {
            Value::Map(
                report
                    .arrivals
                    .iter()
                    .map(|a| (Value::UInt(u64::from(a.scenario)), Value::UInt(pick(a))))
                    .collect(),
            )
        };
        message
            .with_field(keys::starts_scheduled(), counts(|a| a.scheduled))
            .with_field(keys::starts_dropped(), counts(|a| a.dropped))
    }

    /// Says once per scenario that starts are being dropped: the run no longer offers the
    /// load its model asks for.
    fn warn_dropped(&self, arrivals: &[ArrivalCounts]) {
        let mut warned = self.drops_warned.borrow_mut();
        for a in arrivals.iter().filter(|a| a.dropped > 0) {
            if warned.insert(a.scenario) {
                log::warn!(
                    target: "mite.scenario",
                    "Scenario {} ({}) dropped {} of {} scheduled starts so far: a start is \
                     dropped when the scenario already runs its max_journeys, the runner \
                     has no room (--runner-max-journeys) or the datapool has no item",
                    a.scenario,
                    self.journey_spec(a.scenario),
                    a.dropped,
                    a.scheduled,
                );
            }
        }
    }

    fn after(
        &mut self,
        py: Python<'_>,
        dispatch: Result<Dispatch<ItemId, Py<PyAny>>, DispatchError<PyErr, pools::PoolError>>,
    ) -> Result<Vec<WorkItem>, Failure> {
        let dispatch = dispatch.map_err(|e| self.failure_in(py, e))?;
        self.log_removals(&dispatch.removals);
        for id in dispatch.starved {
            self.warn_starved(id);
        }
        Ok(dispatch.work)
    }

    fn warn_starved(&mut self, id: ScenarioId) {
        let Some(warned) = self.starvation_warned.get_mut(id as usize - 1) else {
            return;
        };
        if !*warned {
            *warned = true;
            log::warn!(
                target: "mite.scenario",
                "Scenario {id} ({}) wants more journeys than its datapool has items ({}); \
                 waiting for items to be checked in",
                self.journey_spec(id),
                self.pools.size(id),
            );
        }
    }

    fn log_removals(&mut self, removals: &[Removal]) {
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
        if let Some(last) = removals.last() {
            self.last_removal = Some(*last);
        }
        if self.last_removal.is_some() && !self.is_active() {
            let text = match self.last_removal.take() {
                Some(Removal::DataPoolExhausted(_)) => {
                    "All scenarios removed from scenario tracker"
                }
                _ => "All scenarios have been removed from scenario tracker",
            };
            log::info!(target: "mite.scenario", "{text}");
        }
    }

    fn failure_in(&self, py: Python<'_>, error: DispatchError<PyErr, pools::PoolError>) -> Failure {
        use mite_core::engine::ControllerError;
        Failure(match error {
            DispatchError::Controller(ControllerError::VolumeModel(id, e)) => format!(
                "volume model of scenario {id} ({}) failed: {}",
                self.journey_spec(id),
                one_line(py, &e)
            ),
            DispatchError::Controller(e) => e.to_string(),
            DispatchError::DataPool(id, e) => format!(
                "datapool of scenario {id} ({}) {}",
                self.journey_spec(id),
                e.describe(py)
            ),
        })
    }
}
