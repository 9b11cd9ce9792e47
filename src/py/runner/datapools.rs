//! Datapool items for journeys: taking one out before a journey starts (built-in pools
//! directly, Python pools through their async `checkout`) and putting it back after.

use super::*;

pub(super) enum Pool {
    None,
    Recyclable(Py<RecyclableIterableDataPool>),
    Iterable(Py<IterableDataPool>),
    SingleRun(Py<SingleRunDataPool>),
    Python(Py<PyAny>),
}

impl Pool {
    pub(super) fn classify(py: Python<'_>, pool: Option<Py<PyAny>>) -> Pool {
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

/// A datapool item handed to one journey execution.
pub(super) struct Item {
    /// The id to check back in (Python object for Python pools).
    pub(super) id: Py<PyAny>,
    /// The same id as a message field (`scenario_data_id`).
    pub(super) id_value: Value,
    /// Recyclable pools check in by index.
    pub(super) index: Option<usize>,
    pub(super) data: Py<PyAny>,
}

impl Item {
    /// An item of a one-pass pool (`IterableDataPool`, `SingleRunDataPool`): checked in by
    /// its number alone.
    fn numbered(py: Python<'_>, number: u64, data: Py<PyAny>) -> Item {
        Item {
            id: number
                .into_pyobject(py)
                .unwrap_or_else(|e| match e {})
                .into_any()
                .unbind(),
            id_value: Value::UInt(number),
            index: None,
            data,
        }
    }
}

/// A `DataPoolItem`-like result of a Python pool's checkout: `(id, data)`.
pub(super) fn split_item(py: Python<'_>, item: &Bound<'_, PyAny>) -> PyResult<Item> {
    let id = item.get_item(0)?;
    let data = item.get_item(1)?;
    let id_value = to_value(&id).unwrap_or(Value::Nil);
    let _ = py;
    Ok(Item {
        id: id.unbind(),
        id_value,
        index: None,
        data: data.unbind(),
    })
}

impl Runner {
    /// Stops scenario `id` because its datapool raised `error` (from `checkout`).
    fn abandon_failed_pool(&self, py: Python<'_>, id: ScenarioId, error: &PyErr) {
        let spec = self.journey_spec(id);
        self.abandon(
            py,
            id,
            format!(
                "datapool of scenario {id} ({spec}) failed: {}",
                one_line(py, error)
            ),
        );
    }

    /// Takes an item from the scenario's datapool and starts one journey.
    pub(super) fn start_one(slf: &Bound<'_, Self>, id: ScenarioId) {
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
                Pool::Iterable(p) => p
                    .get()
                    .next_item(py)
                    .map(|item| item.map(|(i, data)| Some(Item::numbered(py, i, data)))),
                Pool::SingleRun(p) => p
                    .bind(py)
                    .borrow_mut()
                    .take(py)
                    .map(|item| item.map(|(i, data)| Some(Item::numbered(py, i, data)))),
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
            Err(e) => this.abandon_failed_pool(py, id, &e),
        }
    }

    pub(super) fn exhausted(slf: &Bound<'_, Self>, id: ScenarioId) {
        let this = slf.borrow();
        let removal = {
            let mut state = this.state.borrow_mut();
            state.give_back(id);
            state.controller.exhaust(id)
        };
        if let Some(removal) = removal {
            this.log_removals(&[removal]);
        }
    }

    pub(super) fn starved(slf: &Bound<'_, Self>, id: ScenarioId) {
        let this = slf.borrow();
        let mut state = this.state.borrow_mut();
        state.give_back(id);
        state.controller.starve(id);
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
    pub(super) fn start_python_checkout(slf: &Bound<'_, Self>, id: ScenarioId, pool: Py<PyAny>) {
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

    pub(super) fn checkout_finished(
        slf: &Bound<'_, Self>,
        id: ScenarioId,
        outcome: Result<Py<PyAny>, PyErr>,
    ) {
        let this = slf.borrow();
        let py = slf.py();
        match outcome {
            Ok(item) if item.is_none(py) => {
                // mite: "no item right now", the scenario stays.
                let mut state = this.state.borrow_mut();
                state.give_back(id);
                state.controller.starve(id);
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
            Err(e) => this.abandon_failed_pool(py, id, &e),
        }
        if !this.state.borrow().pumping {
            Self::pump(slf);
        }
    }

    pub(super) fn checkin(slf: &Bound<'_, Self>, scenario: ScenarioId, item: Item) {
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
}
