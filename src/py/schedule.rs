//! `mite._mite.ScenarioSchedule`: the core scheduler seen from Python, so that
//! `mite.scenario.ScenarioManager` plans work with the same rules as the CLI's runs (periods,
//! start delay, the spawn-rate cap on growth, round-robin across scenarios).

use std::time::Instant;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::volume::PyVolumeModel;
use mite_core::engine::{Removal, ScenarioId, Scheduler, SchedulerConfig};

#[pyclass(module = "mite._mite")]
pub struct ScenarioSchedule {
    scheduler: Scheduler<PyVolumeModel>,
    started: Instant,
}

impl ScenarioSchedule {
    fn now(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

#[pymethods]
impl ScenarioSchedule {
    /// Times are seconds since the schedule was created.
    #[new]
    #[pyo3(signature = (start_delay=0.0, period=1.0, spawn_rate=None))]
    fn new(start_delay: f64, period: f64, spawn_rate: Option<f64>) -> Self {
        ScenarioSchedule {
            scheduler: Scheduler::new(SchedulerConfig {
                start_delay,
                period: period.max(0.001),
                spawn_rate,
            }),
            started: Instant::now(),
        }
    }

    /// Adds a scenario with its volume model; returns its id (1, 2, 3, …).
    fn add_scenario(&mut self, volume_model: Py<PyAny>) -> ScenarioId {
        self.scheduler
            .add_scenario(PyVolumeModel::new(volume_model))
    }

    /// Evaluates the volume models if a period ended; returns the ids of the scenarios whose
    /// model raised `StopVolumeModel`. Any other exception of a model propagates.
    fn refresh(&mut self) -> PyResult<Vec<ScenarioId>> {
        let now = self.now();
        let removed = self.scheduler.refresh(now).map_err(|(_, e)| e)?;
        Ok(removed_ids(removed))
    }

    /// Calls the volume models for the window `(start, end)` now, whatever the clock says;
    /// returns the ids of the scenarios whose model raised `StopVolumeModel`.
    fn evaluate(&mut self, start: i64, end: i64) -> PyResult<Vec<ScenarioId>> {
        let removed = self.scheduler.evaluate(start, end).map_err(|(_, e)| e)?;
        Ok(removed_ids(removed))
    }

    /// Overrides required concurrencies (`{scenario id: n}`) until the next evaluation.
    fn set_required(&mut self, required: &Bound<'_, PyDict>) -> PyResult<()> {
        for (id, n) in required.iter() {
            self.scheduler.set_required(id.extract()?, n.extract()?);
        }
        Ok(())
    }

    /// `{scenario id: required concurrency}` of the scenarios still in the schedule.
    fn required<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (id, required) in self.scheduler.required() {
            dict.set_item(id, required)?;
        }
        Ok(dict)
    }

    /// Scenario ids of at most `cap` journeys to start now, given `current_work`
    /// (`{scenario id: journeys running}` across every runner).
    fn plan(&mut self, current_work: &Bound<'_, PyDict>, cap: u64) -> PyResult<Vec<ScenarioId>> {
        let ids: Vec<ScenarioId> = self.scheduler.required().map(|(id, _)| id).collect();
        // Only scenarios in the schedule are planned, so only their counts matter.
        for id in ids {
            let running = match current_work.get_item(id)? {
                Some(n) => n.extract::<u64>()?,
                None => 0,
            };
            self.scheduler.set_running(id, running);
        }
        let now = self.now();
        Ok(self.scheduler.plan_at_most(now, cap))
    }

    /// The scenario's datapool is exhausted: it leaves the schedule. `False` if it had left.
    fn exhaust(&mut self, scenario_id: ScenarioId) -> bool {
        self.scheduler.exhaust(scenario_id).is_some()
    }

    /// Still in the start delay, or some scenario is left.
    fn is_active(&self) -> bool {
        self.scheduler.is_active()
    }
}

fn removed_ids(removed: Vec<Removal>) -> Vec<ScenarioId> {
    removed
        .into_iter()
        .map(|removal| match removal {
            Removal::VolumeModelStopped(id) | Removal::DataPoolExhausted(id) => id,
        })
        .collect()
}
