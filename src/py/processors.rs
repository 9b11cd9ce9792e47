//! `mite.recorder.Recorder` and `mite.collector.Collector`: the Rust processors with mite's
//! Python API, for code that builds its own pipeline (`mite recorder`, tests).

use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use super::sink::dict_to_message;
use crate::errors::BindingError;
use mite_core::collector::Collector as CoreCollector;
use mite_core::recorder::{Recorder as CoreRecorder, RecorderOutcome, PURGE_MISSING_LOG};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Appends `data_created` data to `<target_dir>/<name>.msgpack`; `purge_data` deletes it.
#[pyclass(frozen, module = "mite.recorder", name = "Recorder")]
pub struct Recorder {
    inner: Mutex<CoreRecorder>,
}

#[pymethods]
impl Recorder {
    /// `target_dir` defaults to `recorded_data`, as in mite.
    #[new]
    #[pyo3(signature = (target_dir=None))]
    fn new(target_dir: Option<String>) -> PyResult<Self> {
        let dir = target_dir.unwrap_or_else(|| "recorded_data".into());
        let inner = CoreRecorder::new(&dir).map_err(BindingError::from)?;
        log::info!(target: "mite.recorder", "Starting recorder");
        Ok(Recorder {
            inner: Mutex::new(inner),
        })
    }

    fn process_message(&self, msg: &Bound<'_, PyDict>) -> PyResult<()> {
        let message = dict_to_message(msg)?;
        match lock(&self.inner).process(&message) {
            Ok(RecorderOutcome::PurgeMissing) => {
                log::info!(target: "mite.recorder", "{PURGE_MISSING_LOG}");
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(e) => Err(BindingError::from(e).into()),
        }
    }
}

/// Writes raw messages to `current`, rolled every `roll_after` messages.
#[pyclass(frozen, module = "mite.collector", name = "Collector")]
pub struct Collector {
    inner: Mutex<Option<CoreCollector>>,
    filter_fn: Option<Py<PyAny>>,
}

#[pymethods]
impl Collector {
    /// `target_dir` defaults to `collector_data`, as in mite.
    #[new]
    #[pyo3(signature = (target_dir=None, roll_after=100000, collector_id=None, filter_fn=None, use_json=false))]
    fn new(
        target_dir: Option<String>,
        roll_after: u64,
        collector_id: Option<Bound<'_, PyAny>>,
        filter_fn: Option<Py<PyAny>>,
        use_json: bool,
    ) -> PyResult<Self> {
        let dir = target_dir.unwrap_or_else(|| "collector_data".into());
        let id = match collector_id {
            Some(id) if !id.is_none() => Some(id.str()?.to_string()),
            _ => None,
        };
        let inner =
            CoreCollector::new(&dir, roll_after, id, use_json).map_err(BindingError::from)?;
        log::info!(target: "mite.collector", "Initializing collector");
        Ok(Collector {
            inner: Mutex::new(Some(inner)),
            filter_fn,
        })
    }

    fn process_raw_message(&self, py: Python<'_>, raw: &Bound<'_, PyBytes>) -> PyResult<()> {
        let keep = match &self.filter_fn {
            Some(filter) => filter.call1(py, (raw,))?.is_truthy(py)?,
            None => true,
        };
        if let Some(collector) = lock(&self.inner).as_mut() {
            collector
                .process_raw(raw.as_bytes(), keep)
                .map_err(BindingError::from)?;
        }
        Ok(())
    }

    /// Flushes buffered messages to `current`.
    fn flush(&self) -> PyResult<()> {
        if let Some(collector) = lock(&self.inner).as_mut() {
            collector.flush().map_err(BindingError::from)?;
        }
        Ok(())
    }

    /// Flushes and closes the file (also done when the collector is garbage-collected).
    fn close(&self) {
        lock(&self.inner).take();
    }
}
