//! A Python volume model (`lambda start, end: N`, mite's DSL objects) as the scheduler's
//! [`VolumeModel`].

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::errors::{stop_volume_model, BindingError};
use mite_core::engine::{Volume, VolumeModel};

pub struct PyVolumeModel {
    model: Py<PyAny>,
}

impl PyVolumeModel {
    pub fn new(model: Py<PyAny>) -> Self {
        PyVolumeModel { model }
    }
}

/// mite converts the result with `int()`; numbers (and number-like objects) are accepted,
/// anything else is an error rather than a silent `int("5")`.
fn as_volume(value: &Bound<'_, PyAny>) -> PyResult<i64> {
    if value.is_instance_of::<PyString>() || value.is_instance_of::<PyBytes>() || value.is_none() {
        return Err(not_a_number(value));
    }
    if let Ok(n) = value.extract::<i64>() {
        return Ok(n);
    }
    match value.extract::<f64>() {
        Ok(f) if f.is_finite() => Ok(f.trunc() as i64),
        _ => Err(not_a_number(value)),
    }
}

fn not_a_number(value: &Bound<'_, PyAny>) -> PyErr {
    let shown = value
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "?".into());
    BindingError::VolumeNotANumber(shown).into()
}

impl VolumeModel for PyVolumeModel {
    type Error = PyErr;

    fn volume(&mut self, start: i64, end: i64) -> Result<Volume, PyErr> {
        Python::attach(|py| match self.model.call1(py, (start, end)) {
            Ok(value) => as_volume(value.bind(py)).map(Volume::Level),
            Err(e) if e.is_instance(py, stop_volume_model(py)?) => Ok(Volume::Stop),
            Err(e) => Err(e),
        })
    }
}

/// The volume model of `journey test` / `journey run`: the same concurrency forever.
#[pyclass(frozen, module = "mite._mite")]
pub struct FixedVolume {
    volume: i64,
}

impl FixedVolume {
    pub fn new(volume: i64) -> Self {
        FixedVolume { volume }
    }
}

#[pymethods]
impl FixedVolume {
    fn __call__(&self, start: i64, end: i64) -> i64 {
        let _ = (start, end);
        self.volume
    }

    fn __repr__(&self) -> String {
        format!("<volume model: constant {}>", self.volume)
    }
}
