//! The scenarios' datapools as the core's [`DataSource`]: the built-in pools are read
//! directly, a datapool written in Python is asked through its async `checkout`/`checkin`,
//! whose awaitables the runner steps on the loop and whose answers come back here.

use pyo3::prelude::*;
use pyo3::types::IntoPyDict;

use crate::errors::{datapool_exhausted, one_line};
use crate::py::convert::to_value;
use crate::py::datapools::{IterableDataPool, RecyclableIterableDataPool, SingleRunDataPool};
use mite_core::engine::{Checkout, DataSource, ScenarioId, Taken};
use mite_core::messages::Value;

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
        // Only the exact built-in classes take the direct path: a subclass may override
        // checkout/checkin in Python.
        let ty = bound.get_type();
        if ty.is(py.get_type::<RecyclableIterableDataPool>()) {
            Pool::Recyclable(bound.cast_exact().unwrap().clone().unbind())
        } else if ty.is(py.get_type::<IterableDataPool>()) {
            Pool::Iterable(bound.cast_exact().unwrap().clone().unbind())
        } else if ty.is(py.get_type::<SingleRunDataPool>()) {
            Pool::SingleRun(bound.cast_exact().unwrap().clone().unbind())
        } else {
            Pool::Python(pool)
        }
    }
}

/// A datapool item's id, in the forms its users need.
pub struct ItemId {
    /// What a Python pool's `checkin` gets back, and what the task name shows.
    pub object: Py<PyAny>,
    /// The same id as a message field (`scenario_data_id`).
    pub value: Value,
    /// A recyclable pool's index, to check in without calling Python.
    index: Option<usize>,
}

impl ItemId {
    /// An id a controller in another process gave (any msgpack value).
    pub fn remote(py: Python<'_>, value: Value) -> PyResult<ItemId> {
        Ok(ItemId {
            object: crate::py::convert::to_py(py, &value)?.unbind(),
            value,
            index: None,
        })
    }

    /// An id that is a number (built-in pools).
    fn number(py: Python<'_>, number: u64, index: Option<usize>) -> ItemId {
        ItemId {
            object: number
                .into_pyobject(py)
                .unwrap_or_else(|e| match e {})
                .into_any()
                .unbind(),
            value: Value::UInt(number),
            index,
        }
    }
}

/// Why a datapool gave no usable item.
pub enum PoolError {
    /// `checkout` raised (anything but `DataPoolExhausted`).
    Raised(PyErr),
    /// A Python pool's `checkout` returned something that is not `(id, data)`.
    BadItem(PyErr),
}

impl PoolError {
    pub fn describe(&self, py: Python<'_>) -> String {
        match self {
            PoolError::Raised(e) => format!("failed: {}", one_line(py, e)),
            PoolError::BadItem(e) => format!("returned a bad item: {}", one_line(py, e)),
        }
    }
}

/// The datapools of a test's scenarios, in scenario order.
pub struct Pools {
    pools: Vec<Pool>,
    /// Awaitables of Python `checkout` calls, for the runner to step.
    checkouts: Vec<(ScenarioId, Py<PyAny>)>,
    /// Awaitables of Python `checkin` calls, for the runner to step.
    checkins: Vec<Py<PyAny>>,
}

impl Pools {
    pub fn new() -> Self {
        Pools {
            pools: Vec::new(),
            checkouts: Vec::new(),
            checkins: Vec::new(),
        }
    }

    /// Adds the next scenario's pool (`None` for a scenario without one).
    pub fn push(&mut self, py: Python<'_>, pool: Option<Py<PyAny>>) {
        self.pools.push(Pool::classify(py, pool));
    }

    pub fn has_calls(&self) -> bool {
        !self.checkouts.is_empty() || !self.checkins.is_empty()
    }

    /// The Python checkouts started since the last call: `(scenario, awaitable)`.
    pub fn take_checkouts(&mut self) -> Vec<(ScenarioId, Py<PyAny>)> {
        std::mem::take(&mut self.checkouts)
    }

    /// The Python checkins started since the last call.
    pub fn take_checkins(&mut self) -> Vec<Py<PyAny>> {
        std::mem::take(&mut self.checkins)
    }

    /// The number of items of a recyclable pool, for the starvation warning.
    pub fn size(&self, scenario: ScenarioId) -> usize {
        match self.pool(scenario) {
            Some(Pool::Recyclable(p)) => p.get().size().unwrap_or(0),
            _ => 0,
        }
    }

    fn pool(&self, scenario: ScenarioId) -> Option<&Pool> {
        self.pools.get((scenario as usize).checked_sub(1)?)
    }

    /// The pools bound to the GIL, as a [`DataSource`].
    pub fn with_py<'a, 'py>(&'a mut self, py: Python<'py>) -> PoolsNow<'a, 'py> {
        PoolsNow { py, pools: self }
    }
}

/// [`Pools`] while the GIL is held.
pub struct PoolsNow<'a, 'py> {
    py: Python<'py>,
    pools: &'a mut Pools,
}

/// What a Python pool's `checkout` gave (its awaitable's outcome), as the core's answer.
pub fn python_answer(
    py: Python<'_>,
    outcome: PyResult<Py<PyAny>>,
) -> Result<Taken<ItemId, Py<PyAny>>, PoolError> {
    match outcome {
        // mite: "no item right now", the scenario stays.
        Ok(item) if item.is_none(py) => Ok(Taken::Empty),
        Ok(item) => {
            let item = item.bind(py);
            let split = item.get_item(0).and_then(|id| Ok((id, item.get_item(1)?)));
            let (id, data) = split.map_err(PoolError::BadItem)?;
            Ok(Taken::Item(
                ItemId {
                    value: to_value(&id).unwrap_or(Value::Nil),
                    object: id.unbind(),
                    index: None,
                },
                data.unbind(),
            ))
        }
        Err(e) if datapool_exhausted(py).is_ok_and(|c| e.is_instance(py, c)) => {
            Ok(Taken::Exhausted)
        }
        Err(e) => Err(PoolError::Raised(e)),
    }
}

/// A one-pass pool's answer: an item, or exhausted.
fn once(py: Python<'_>, item: Option<(u64, Py<PyAny>)>) -> Taken<ItemId, Py<PyAny>> {
    match item {
        Some((number, data)) => Taken::Item(ItemId::number(py, number, None), data),
        None => Taken::Exhausted,
    }
}

impl DataSource for PoolsNow<'_, '_> {
    type ItemId = ItemId;
    type Data = Py<PyAny>;
    type Error = PoolError;

    fn checkout(&mut self, scenario: ScenarioId) -> Result<Checkout<ItemId, Py<PyAny>>, PoolError> {
        let py = self.py;
        let taken = match self.pools.pool(scenario) {
            None | Some(Pool::None) => return Ok(Checkout::NoPool),
            Some(Pool::Recyclable(p)) => match p.get().try_checkout(py) {
                Ok(Some((index, data))) => {
                    Taken::Item(ItemId::number(py, index as u64, Some(index)), data)
                }
                Ok(None) => Taken::Empty,
                Err(e) => return Err(PoolError::Raised(e)),
            },
            Some(Pool::Iterable(p)) => once(py, p.get().next_item(py).map_err(PoolError::Raised)?),
            Some(Pool::SingleRun(p)) => once(
                py,
                p.bind(py)
                    .borrow_mut()
                    .take(py)
                    .map_err(PoolError::Raised)?,
            ),
            Some(Pool::Python(p)) => {
                let kwargs = [("config", py.None())].into_py_dict(py);
                let call = kwargs.and_then(|kw| p.bind(py).call_method("checkout", (), Some(&kw)));
                let awaitable = call.map_err(PoolError::Raised)?;
                self.pools.checkouts.push((scenario, awaitable.unbind()));
                return Ok(Checkout::Later);
            }
        };
        Ok(Checkout::Now(taken))
    }

    fn checkin(&mut self, scenario: ScenarioId, item: ItemId) {
        let py = self.py;
        match self.pools.pool(scenario) {
            Some(Pool::Recyclable(p)) => {
                if let Some(Err(e)) = item.index.map(|index| p.get().checkin_index(index)) {
                    log::error!(target: "mite.datapools", "checkin of scenario {scenario} refused: {e}");
                }
            }
            Some(Pool::Python(p)) => match p.bind(py).call_method1("checkin", (item.object,)) {
                Ok(awaitable) => self.pools.checkins.push(awaitable.unbind()),
                Err(e) => {
                    log::error!(target: "mite.runner", "datapool checkin failed: {}", one_line(py, &e))
                }
            },
            _ => {}
        }
    }
}
