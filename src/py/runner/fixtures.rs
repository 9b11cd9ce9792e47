//! Journey fixtures (mite's `_fixture` attributes): computed once per label (the bookkeeping is
//! `mite_core::engine::Fixtures`), then attached to every context of the journeys that use
//! them.

use super::*;

/// Fixture values by label, and the journeys waiting for one: `(scenario, item)`.
/// A journey waiting for its fixture: its scenario, datapool item and due time.
pub(super) type FixtureTable = Fixtures<Py<PyAny>, (ScenarioId, Option<Item>, Option<f64>)>;

pub(super) struct FixtureSpec {
    pub(super) label: String,
    pub(super) variable: String,
    pub(super) function: Py<PyAny>,
}

/// mite's undocumented fixture attributes on a journey function.
pub(super) fn fixture_of(journey: &Bound<'_, PyAny>) -> PyResult<Option<FixtureSpec>> {
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

impl Runner {
    pub(super) fn start_fixture(slf: &Bound<'_, Self>, fixture: Arc<FixtureSpec>, id: ScenarioId) {
        let this = slf.borrow();
        let py = slf.py();
        // The fixture function gets a context of its own, as mite passes the first journey's.
        let spec = this.journey_spec(id);
        let envelope = Arc::new(Envelope::new(vec![
            (keys::test(), Value::Str(this.test_name.clone())),
            (
                keys::runner_id(),
                Value::UInt(this.state.borrow().runner_id),
            ),
            (keys::journey(), Value::Str(spec)),
        ]));
        let ctx = Context::for_journey(
            this.sink.clone_ref(py),
            this.config.clone_ref(py).into_any(),
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

    pub(super) fn fixture_finished(
        slf: &Bound<'_, Self>,
        label: String,
        outcome: Result<Py<PyAny>, PyErr>,
    ) {
        let this = slf.borrow();
        let py = slf.py();
        let (waiting, outcome) = this.state.borrow_mut().fixtures.computed(&label, outcome);
        match outcome {
            Ok(_) => {
                for (id, item, due) in waiting {
                    let (journey, spec) = {
                        let state = this.state.borrow();
                        let entry = &state.scenarios[id as usize - 1];
                        (entry.journey.clone_ref(py), entry.journey_spec.clone())
                    };
                    Self::launch_now(slf, id, item, due, journey, spec);
                }
            }
            Err(e) => {
                {
                    let mut state = this.state.borrow_mut();
                    for (id, item, _) in waiting {
                        state.give_back(py, id, item);
                    }
                }
                Self::step_pool_calls(slf);
                this.fail(
                    py,
                    format!("fixture {label:?} failed: {}", one_line(py, &e)),
                );
            }
        }
        Self::after_change(slf);
    }

    /// The scenario's journey fixture, read once when the scenario was added.
    pub(super) fn fixture(&self, id: ScenarioId) -> Result<Option<Arc<FixtureSpec>>, String> {
        self.state.borrow().scenarios[id as usize - 1]
            .fixture
            .clone()
    }

    pub(super) fn apply_fixture(
        &self,
        py: Python<'_>,
        id: ScenarioId,
        ctx: &Bound<'_, Context>,
    ) -> PyResult<()> {
        let Ok(Some(fixture)) = self.fixture(id) else {
            return Ok(());
        };
        let state = self.state.borrow();
        if let Some(value) = state.fixtures.value(&fixture.label) {
            ctx.setattr(fixture.variable.as_str(), value.clone_ref(py))?;
        }
        Ok(())
    }
}
