//! mite's built-in datapools as Rust classes holding Python objects.
//!
//! From Python they keep mite's async protocol (`await pool.checkout(config)`,
//! `await pool.checkin(item_id)`); the scheduler calls the Rust methods directly instead.

use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyIterator, PyTuple, PyType};

use crate::bridge::awaitable::Ready;
use crate::errors::{new_datapool_exhausted, BindingError};
use mite_core::engine::{CheckinError, RecycleQueue};

/// `mite.datapools.DataPoolItem(id, data)`.
fn data_pool_item<'py>(
    py: Python<'py>,
    id: impl IntoPyObject<'py>,
    data: &Py<PyAny>,
) -> PyResult<Py<PyAny>> {
    static CLASS: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    let class = CLASS.import(py, "mite.datapools", "DataPoolItem")?;
    Ok(class.call1((id, data.clone_ref(py)))?.unbind())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the pool half-updated (every critical
    // section is a single push or pop), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

enum Recyclable {
    Unread(Option<Py<PyAny>>),
    Ready {
        items: Vec<Py<PyAny>>,
        queue: RecycleQueue,
    },
}

/// Why a recyclable pool did not take an item back.
#[derive(Debug, thiserror::Error)]
pub enum RecyclableCheckinError {
    #[error("the datapool was not read yet")]
    NotRead,
    #[error(transparent)]
    Refused(#[from] CheckinError),
}

/// Hands out items round-robin forever: checked-in ids go to the back of the queue.
#[pyclass(frozen, subclass, module = "mite.datapools")]
pub struct RecyclableIterableDataPool {
    state: Mutex<Recyclable>,
}

impl RecyclableIterableDataPool {
    /// Reads the iterable on first use (mite is lazy too: a generator runs at first checkout).
    fn ensure_read(&self, py: Python<'_>) -> PyResult<()> {
        let iterable = match &mut *lock(&self.state) {
            Recyclable::Unread(iterable) => iterable.take(),
            Recyclable::Ready { .. } => return Ok(()),
        };
        let Some(iterable) = iterable else {
            return Ok(());
        };
        // Iterate without the lock held: the iterable is user code.
        let items: Vec<Py<PyAny>> = match iterable
            .bind(py)
            .try_iter()
            .and_then(|it| it.map(|item| item.map(Bound::unbind)).collect())
        {
            Ok(items) => items,
            Err(e) => {
                *lock(&self.state) = Recyclable::Unread(Some(iterable));
                return Err(e);
            }
        };
        let queue = RecycleQueue::new(items.len());
        *lock(&self.state) = Recyclable::Ready { items, queue };
        Ok(())
    }

    /// The oldest available item, or `None` when every item is checked out.
    pub fn try_checkout(&self, py: Python<'_>) -> PyResult<Option<(usize, Py<PyAny>)>> {
        self.ensure_read(py)?;
        match &mut *lock(&self.state) {
            Recyclable::Ready { items, queue } => {
                Ok(queue.checkout().map(|id| (id, items[id].clone_ref(py))))
            }
            Recyclable::Unread(_) => Ok(None),
        }
    }

    /// Returns item `index` to the back of the queue.
    pub fn checkin_index(&self, index: usize) -> Result<(), RecyclableCheckinError> {
        match &mut *lock(&self.state) {
            Recyclable::Ready { queue, .. } => Ok(queue.checkin(index)?),
            Recyclable::Unread(_) => Err(RecyclableCheckinError::NotRead),
        }
    }

    /// Number of items, once read.
    pub fn size(&self) -> Option<usize> {
        match &*lock(&self.state) {
            Recyclable::Ready { items, .. } => Some(items.len()),
            Recyclable::Unread(_) => None,
        }
    }
}

// Arguments are taken by `__init__`, not `__new__`, so Python subclasses can define their own
// `__init__` and call `super().__init__(...)`, as with mite's pure-Python pools.
#[pymethods]
impl RecyclableIterableDataPool {
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> Self {
        RecyclableIterableDataPool {
            state: Mutex::new(Recyclable::Unread(None)),
        }
    }

    fn __init__(&self, iterable: Py<PyAny>) {
        *lock(&self.state) = Recyclable::Unread(Some(iterable));
    }

    /// `await pool.checkout(config)` → `DataPoolItem`; raises when every item is out.
    #[pyo3(signature = (config=None))]
    fn checkout(&self, py: Python<'_>, config: Option<Py<PyAny>>) -> PyResult<Py<Ready>> {
        let _ = config;
        let item = self.try_checkout(py).and_then(|item| match item {
            Some((id, data)) => data_pool_item(py, id, &data),
            None => Err(BindingError::RecyclableEmptied.into()),
        });
        Ready::of(py, item)
    }

    /// `await pool.checkin(item_id)`.
    fn checkin(slf: &Bound<'_, Self>, item_id: usize) -> PyResult<Py<Ready>> {
        let py = slf.py();
        let message = match slf.get().checkin_index(item_id) {
            Ok(()) => None,
            Err(RecyclableCheckinError::NotRead) => Some(format!(
                "{}: checkin called for {item_id} before the datapool was initialized!  \
                 Maybe a stale runner is hanging around",
                slf.repr()?
            )),
            Err(RecyclableCheckinError::Refused(e)) => {
                Some(format!("{}: checkin refused: {e}", slf.repr()?))
            }
        };
        if let Some(message) = message {
            py.import("logging")?
                .call_method1("getLogger", ("mite.datapools",))?
                .call_method1("error", (message,))?;
        }
        Ok(Ready::none(py))
    }
}

/// Hands out each item once (ids from 1), then raises `DataPoolExhausted`.
#[pyclass(frozen, subclass, module = "mite.datapools")]
pub struct IterableDataPool {
    iterator: Mutex<Option<Py<PyIterator>>>,
    next_id: Mutex<u64>,
}

impl IterableDataPool {
    /// The next item, or `None` when the iterable is used up.
    pub fn next_item(&self, py: Python<'_>) -> PyResult<Option<(u64, Py<PyAny>)>> {
        let Some(iterator) = lock(&self.iterator).as_ref().map(|it| it.clone_ref(py)) else {
            return Ok(None);
        };
        match iterator.bind(py).clone().next() {
            Some(Ok(item)) => {
                let mut next_id = lock(&self.next_id);
                let id = *next_id;
                *next_id += 1;
                Ok(Some((id, item.unbind())))
            }
            Some(Err(e)) => Err(e),
            None => Ok(None),
        }
    }
}

#[pymethods]
impl IterableDataPool {
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> Self {
        IterableDataPool {
            iterator: Mutex::new(None),
            next_id: Mutex::new(1),
        }
    }

    fn __init__(&self, iterable: Bound<'_, PyAny>) -> PyResult<()> {
        *lock(&self.iterator) = Some(iterable.try_iter()?.unbind());
        Ok(())
    }

    #[pyo3(signature = (config=None))]
    fn checkout(&self, py: Python<'_>, config: Option<Py<PyAny>>) -> PyResult<Py<Ready>> {
        let _ = config;
        let item = self.next_item(py).and_then(|item| match item {
            Some((id, data)) => data_pool_item(py, id, &data),
            None => Err(new_datapool_exhausted(py)),
        });
        Ready::of(py, item)
    }

    fn checkin(&self, py: Python<'_>, item_id: Py<PyAny>) -> Py<Ready> {
        let _ = item_id;
        Ready::none(py)
    }
}

/// Gives its one item (as a 1-tuple, id 1) once, then raises `DataPoolExhausted`.
#[pyclass(subclass, module = "mite.datapools")]
pub struct SingleRunDataPool {
    #[pyo3(get, set)]
    has_ran: bool,
    #[pyo3(get, set)]
    data_item: Py<PyAny>,
}

impl SingleRunDataPool {
    /// The item on the first call, `None` afterwards.
    pub fn take(&mut self, py: Python<'_>) -> PyResult<Option<(u64, Py<PyAny>)>> {
        if self.has_ran {
            return Ok(None);
        }
        self.has_ran = true;
        let data = PyTuple::new(py, [self.data_item.clone_ref(py)])?;
        Ok(Some((1, data.into_any().unbind())))
    }
}

#[pymethods]
impl SingleRunDataPool {
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(
        py: Python<'_>,
        _args: &Bound<'_, PyTuple>,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> Self {
        SingleRunDataPool {
            has_ran: false,
            data_item: py.None(),
        }
    }

    fn __init__(&mut self, data_item: Py<PyAny>) {
        self.has_ran = false;
        self.data_item = data_item;
    }

    #[pyo3(signature = (config=None))]
    fn checkout(&mut self, py: Python<'_>, config: Option<Py<PyAny>>) -> PyResult<Py<Ready>> {
        let _ = config;
        let item = self.take(py).and_then(|item| match item {
            Some((id, data)) => data_pool_item(py, id, &data),
            None => Err(new_datapool_exhausted(py)),
        });
        Ready::of(py, item)
    }

    fn checkin(&self, py: Python<'_>, item_id: Py<PyAny>) -> Py<Ready> {
        let _ = item_id;
        Ready::none(py)
    }
}
