//! Which side of the seam a runner talks to: the controller in this process, or one in
//! another process over ZeroMQ. The runner makes the same calls of either.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::remote::RemoteController;
use super::{Failure, ItemId, LocalController, WorkItem};
use mite_core::engine::{RunnerId, ScenarioId};
use mite_core::messages::Message;

pub enum ControllerLink {
    Local(LocalController),
    Remote(RemoteController),
}

impl ControllerLink {
    /// The runner joins: its id, and the config as a dict.
    pub fn hello<'py>(&mut self, py: Python<'py>) -> PyResult<(RunnerId, Bound<'py, PyDict>)> {
        match self {
            ControllerLink::Local(c) => c.hello(py, 0.0),
            ControllerLink::Remote(c) => {
                // The hello happened on connecting; its config waits in the changes.
                let config = PyDict::new(py);
                c.update_config(py, &config)?;
                Ok((c.runner_id(), config))
            }
        }
    }

    pub fn update_config(
        &mut self,
        py: Python<'_>,
        runner: RunnerId,
        config: &Bound<'_, PyDict>,
    ) -> PyResult<()> {
        match self {
            ControllerLink::Local(c) => c.update_config(py, runner, config),
            ControllerLink::Remote(c) => c.update_config(py, config),
        }
    }

    pub fn refresh(&mut self, py: Python<'_>, now: f64) -> Result<(), Failure> {
        match self {
            ControllerLink::Local(c) => c.refresh(py, now),
            ControllerLink::Remote(c) => c.refresh(py, now),
        }
    }

    pub fn request_work(
        &mut self,
        py: Python<'_>,
        runner: RunnerId,
        now: f64,
        budget: u64,
        room: Option<u64>,
    ) -> Result<Vec<WorkItem>, Failure> {
        match self {
            ControllerLink::Local(c) => c.request_work(py, runner, now, budget, room),
            ControllerLink::Remote(c) => {
                c.request_work(py, now, room.map_or(budget, |r| r.min(budget)))
            }
        }
    }

    /// A Python datapool's checkout finished (only the local controller starts those).
    pub fn checkout_done(
        &mut self,
        py: Python<'_>,
        runner: RunnerId,
        scenario: ScenarioId,
        outcome: PyResult<Py<PyAny>>,
    ) -> Result<Vec<WorkItem>, Failure> {
        match self {
            ControllerLink::Local(c) => c.checkout_done(py, runner, scenario, outcome),
            ControllerLink::Remote(_) => Ok(Vec::new()),
        }
    }

    pub fn finished(
        &mut self,
        py: Python<'_>,
        runner: RunnerId,
        scenario: ScenarioId,
        item: Option<ItemId>,
    ) {
        match self {
            ControllerLink::Local(c) => c.finished(py, runner, scenario, item),
            ControllerLink::Remote(c) => c.finished(scenario, item),
        }
    }

    /// A granted journey that could not start. Remotely it is reported as finished, as
    /// mite's runner does, so its item is checked in.
    pub fn give_back(
        &mut self,
        py: Python<'_>,
        runner: RunnerId,
        scenario: ScenarioId,
        item: Option<ItemId>,
    ) {
        match self {
            ControllerLink::Local(c) => c.give_back(py, runner, scenario, item),
            ControllerLink::Remote(c) => c.finished(scenario, item),
        }
    }

    pub fn has_pool_calls(&self) -> bool {
        match self {
            ControllerLink::Local(c) => c.has_pool_calls(),
            ControllerLink::Remote(_) => false,
        }
    }

    pub fn take_checkouts(&mut self) -> Vec<(ScenarioId, Py<PyAny>)> {
        match self {
            ControllerLink::Local(c) => c.take_checkouts(),
            ControllerLink::Remote(_) => Vec::new(),
        }
    }

    pub fn take_checkins(&mut self) -> Vec<Py<PyAny>> {
        match self {
            ControllerLink::Local(c) => c.take_checkins(),
            ControllerLink::Remote(_) => Vec::new(),
        }
    }

    pub fn stop_all(&mut self) {
        match self {
            ControllerLink::Local(c) => c.stop_all(),
            ControllerLink::Remote(c) => c.stop_all(),
        }
    }

    pub fn is_active(&self) -> bool {
        match self {
            ControllerLink::Local(c) => c.is_active(),
            ControllerLink::Remote(c) => c.is_active(),
        }
    }

    pub fn is_finished(&self) -> bool {
        match self {
            ControllerLink::Local(c) => c.is_finished(),
            ControllerLink::Remote(c) => c.is_finished(),
        }
    }

    pub fn next_wakeup(&self, now: f64) -> f64 {
        match self {
            ControllerLink::Local(c) => c.next_wakeup(now),
            ControllerLink::Remote(c) => c.next_wakeup(now),
        }
    }

    pub fn journey_spec(&self, id: ScenarioId) -> Arc<str> {
        match self {
            ControllerLink::Local(c) => c.journey_spec(id),
            ControllerLink::Remote(c) => c.journey_spec(id),
        }
    }

    /// The `controller_report` to send, if this side sends them (a remote controller sends
    /// its own).
    pub fn report(&self) -> Option<Message> {
        match self {
            ControllerLink::Local(c) => Some(c.report()),
            ControllerLink::Remote(_) => None,
        }
    }

    /// The run is over: a remote controller is told (see [`RemoteController::farewell`]).
    pub fn farewell(&mut self, py: Python<'_>, now: f64) {
        if let ControllerLink::Remote(c) = self {
            c.farewell(py, now);
        }
    }

    /// Whether journeys arrive by spec from another process (the runner imports them).
    pub fn is_remote(&self) -> bool {
        matches!(self, ControllerLink::Remote(_))
    }
}
