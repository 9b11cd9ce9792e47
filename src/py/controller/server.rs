//! The controller of distributed mode answering runners of other processes (`mite
//! controller`): each REQ frame decoded (mite's frames, `mite_core::wire::protocol`), turned
//! into calls on the [`LocalController`], and answered.
//!
//! A runner's `current_work` is taken as what it runs (mite's runners report finished
//! journeys only when they had a datapool item); the item ids it reports are checked in.
//! Items handed out are remembered per runner, so a runner dropped as silent gives its items
//! back. A Python datapool's `checkout`/`checkin` awaitables run to completion on this
//! process's own event loop, as mite's controller awaits them inside the request.

use std::collections::HashMap;

use pyo3::prelude::*;

use super::{Failure, ItemId, LocalController, WorkItem};
use crate::errors::one_line;
use crate::py::convert::to_value;
use mite_core::engine::{RunnerId, ScenarioId};
use mite_core::messages::{encode_value, Value};
use mite_core::wire::protocol::{self, HelloReply, Request, WorkReply, WorkRequest};
use mite_core::wire::standing::{StandingScenario, StandingWork};

/// A datapool item id as a map key: its msgpack encoding.
type ItemKey = (RunnerId, ScenarioId, Vec<u8>);

fn key_of(runner: RunnerId, scenario: ScenarioId, id: &Value) -> ItemKey {
    let mut bytes = Vec::new();
    encode_value(id, &mut bytes);
    (runner, scenario, bytes)
}

pub struct RunnerRequests {
    controller: LocalController,
    test_name: String,
    /// Items given to runners and not reported back.
    out: HashMap<ItemKey, ItemId>,
    /// For Python datapools' awaitables.
    event_loop: Py<PyAny>,
    malformed: u64,
    /// Work is held back (requests get none) until every expected runner has joined.
    holding: bool,
}

impl RunnerRequests {
    pub fn new(py: Python<'_>, controller: LocalController, test_name: String) -> PyResult<Self> {
        let event_loop = py
            .import("asyncio")?
            .call_method0("new_event_loop")?
            .unbind();
        Ok(RunnerRequests {
            controller,
            test_name,
            out: HashMap::new(),
            event_loop,
            malformed: 0,
            holding: false,
        })
    }

    /// Holds work back, or hands it out again: runners that join early then do not take the
    /// whole first share before the others arrive.
    pub fn hold_work(&mut self, hold: bool) {
        self.holding = hold;
    }

    pub fn controller(&self) -> &LocalController {
        &self.controller
    }

    pub fn controller_mut(&mut self) -> &mut LocalController {
        &mut self.controller
    }

    /// The reply to one request frame. A frame that is not a request is answered with nil
    /// (a REP socket must answer) and the first one logged.
    pub fn answer(&mut self, py: Python<'_>, frame: &[u8], now: f64) -> Result<Vec<u8>, Failure> {
        match Request::decode(frame) {
            Ok(Request::Hello { standing_work }) => self.hello(py, now, standing_work),
            Ok(Request::RequestWork(request)) => self.work(py, request, now),
            Ok(Request::Bye { runner_id }) => {
                self.forget(py, runner_id);
                self.controller.dispatcher_mut().bye(runner_id);
                Ok(protocol::bye_reply())
            }
            Err(e) => {
                self.note_malformed(&e);
                Ok(protocol::bye_reply())
            }
        }
    }

    /// The reply to a frame that is not one request (e.g. several parts): nil, logged once.
    pub fn not_a_request(&mut self, what: &str) -> Vec<u8> {
        self.note_malformed(&what);
        protocol::bye_reply()
    }

    fn note_malformed(&mut self, e: &dyn std::fmt::Display) {
        self.malformed += 1;
        if self.malformed == 1 {
            log::error!(target: "mite.controller", "a request that is not mite's was answered with nil: {e} (further ones are counted, not logged)");
        }
    }

    fn hello(&mut self, py: Python<'_>, now: f64, standing: bool) -> Result<Vec<u8>, Failure> {
        let runner_id = self
            .controller
            .dispatcher_mut()
            .controller_mut()
            .hello_offering(now, standing);
        let config = self.config_for(py, runner_id)?;
        log::debug!(target: "mite.controller", "runner {runner_id} said hello");
        Ok(HelloReply {
            runner_id,
            test_name: self.test_name.clone(),
            config,
        }
        .encode())
    }

    fn config_for(&self, py: Python<'_>, runner: RunnerId) -> Result<Vec<(Value, Value)>, Failure> {
        self.controller.config_changes(py, runner).map_err(|e| {
            Failure(format!(
                "reading config changes failed: {}",
                one_line(py, &e)
            ))
        })
    }

    fn work(&mut self, py: Python<'_>, request: WorkRequest, now: f64) -> Result<Vec<u8>, Failure> {
        let runner = request.runner_id;
        if !self.controller.dispatcher_mut().controller().knows(runner) {
            self.controller
                .dispatcher_mut()
                .controller_mut()
                .readmit(runner, now);
        }
        let mut back = Vec::new();
        for (scenario, id) in &request.completed {
            let Ok(scenario) = ScenarioId::try_from(*scenario) else {
                continue;
            };
            if let Some(item) = self.out.remove(&key_of(runner, scenario, id)) {
                back.push((scenario, item));
            }
        }
        self.controller.check_in(py, back);
        self.run_pool_calls(py, runner)?;
        let current: Vec<(ScenarioId, u64)> = request
            .current_work
            .iter()
            .filter_map(|&(id, n)| ScenarioId::try_from(id).ok().map(|id| (id, n)))
            .collect();
        self.controller
            .dispatcher_mut()
            .controller_mut()
            .set_actual(runner, &current);
        let mut work = if self.holding {
            Vec::new()
        } else {
            self.controller
                .remote_work(py, runner, now, request.max_work)?
        };
        work.extend(self.run_pool_calls(py, runner)?);
        // How late each arrival-rate item already is, for runners that can be told.
        let late = work
            .iter()
            .enumerate()
            .filter_map(|(index, w)| Some((index as u64, (now - w.due?).max(0.0))))
            .collect();
        let items = work
            .into_iter()
            .map(|w| self.item_for(py, runner, w))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(WorkReply {
            work: items,
            config: self.config_for(py, runner)?,
            stop: !self.controller.is_active(),
            standing: self.standing_work(runner, now, late),
        }
        .encode())
    }

    /// What a runner that offered standing work may keep running, and how late the reply's
    /// arrival-rate items are.
    fn standing_work(
        &mut self,
        runner: RunnerId,
        now: f64,
        late: Vec<(u64, f64)>,
    ) -> Option<StandingWork> {
        let grant = self
            .controller
            .dispatcher_mut()
            .controller()
            .standing_grant(runner, now)?;
        Some(StandingWork {
            valid_for: grant.valid_for,
            scenarios: grant
                .quotas
                .into_iter()
                .map(|(id, journeys)| StandingScenario {
                    scenario_id: u64::from(id),
                    journeys,
                    journey_spec: self.controller.journey_spec(id).to_string(),
                })
                .collect(),
            late,
        })
    }

    /// A work item on the wire; its item remembered until the runner reports it back.
    fn item_for(
        &mut self,
        py: Python<'_>,
        runner: RunnerId,
        work: WorkItem,
    ) -> Result<protocol::WorkItem, Failure> {
        let journey_spec = self.controller.journey_spec(work.scenario).to_string();
        let (data_id, args) = match work.item {
            None => (Value::Nil, Value::Nil),
            Some((id, data)) => {
                let args = to_value(data.bind(py)).map_err(|e| {
                    Failure(format!(
                        "a datapool item of scenario {} ({journey_spec}) cannot be sent to a runner: {}",
                        work.scenario,
                        one_line(py, &e)
                    ))
                })?;
                let data_id = id.value.clone();
                self.out.insert(key_of(runner, work.scenario, &data_id), id);
                (data_id, args)
            }
        };
        Ok(protocol::WorkItem {
            scenario_id: u64::from(work.scenario),
            data_id,
            journey_spec,
            args,
        })
    }

    /// Runs the Python datapool calls the last step started; the work late checkouts bring.
    fn run_pool_calls(
        &mut self,
        py: Python<'_>,
        runner: RunnerId,
    ) -> Result<Vec<WorkItem>, Failure> {
        let mut work = Vec::new();
        while self.controller.has_pool_calls() {
            for awaitable in self.controller.take_checkins() {
                if let Err(e) = self
                    .event_loop
                    .call_method1(py, "run_until_complete", (awaitable,))
                {
                    log::error!(target: "mite.controller", "datapool checkin failed: {}", one_line(py, &e));
                }
            }
            for (scenario, awaitable) in self.controller.take_checkouts() {
                let outcome = self
                    .event_loop
                    .call_method1(py, "run_until_complete", (awaitable,));
                work.extend(
                    self.controller
                        .checkout_done(py, runner, scenario, outcome)?,
                );
            }
        }
        Ok(work)
    }

    /// Checks in what `runner` held (it said bye, or went silent).
    pub fn forget(&mut self, py: Python<'_>, runner: RunnerId) {
        let keys: Vec<ItemKey> = self
            .out
            .keys()
            .filter(|(r, _, _)| *r == runner)
            .cloned()
            .collect();
        let items = keys
            .into_iter()
            .filter_map(|key| self.out.remove(&key).map(|item| (key.1, item)))
            .collect();
        self.controller.check_in(py, items);
        let _ = self.run_pool_calls(py, runner);
    }

    /// Drops runners silent for the timeout; their items go back.
    pub fn drop_silent(&mut self, py: Python<'_>, now: f64) {
        let dropped = self
            .controller
            .dispatcher_mut()
            .controller_mut()
            .drop_silent(now);
        for runner in dropped {
            self.forget(py, runner);
        }
    }

    pub fn close(&self, py: Python<'_>) {
        let _ = self.event_loop.call_method0(py, "close");
    }
}
