//! A Python volume model (`lambda start, end: N`, mite's DSL objects) as the scheduler's
//! [`VolumeModel`]. A model may also answer with an arrival rate
//! (`mite.volume_model.ArrivalRate`, or any object with its attributes).

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyFloat, PyInt, PyString};

use crate::errors::{stop_volume_model, BindingError};
use mite_core::engine::{Rate, Volume, VolumeModel};

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

/// A number, or an arrival rate: `per_second`, `until` (the rate at the window's end; `None`
/// for the same) and `max_journeys`.
fn volume_of(value: &Bound<'_, PyAny>) -> PyResult<Volume> {
    let py = value.py();
    if value.is_instance_of::<PyInt>() || value.is_instance_of::<PyFloat>() {
        return as_volume(value).map(Volume::Level);
    }
    match value.getattr(intern!(py, "per_second")) {
        Ok(per_second) => {
            let rate = |v: &Bound<'_, PyAny>, what: &str| match v.extract::<f64>() {
                Ok(r) if r.is_finite() && r >= 0.0 => Ok(r),
                _ => Err(BindingError::BadArrivalRate(format!(
                    "{what} as a number of starts per second, 0 or more, not {}",
                    shown(v)
                ))),
            };
            let per_second = rate(&per_second, "per_second")?;
            let until = match value.getattr(intern!(py, "until")) {
                Ok(v) if !v.is_none() => rate(&v, "until")?,
                _ => per_second,
            };
            let cap = value.getattr(intern!(py, "max_journeys"))?;
            let max_journeys = cap.extract::<u64>().map_err(|_| {
                BindingError::BadArrivalRate(format!(
                    "max_journeys as a whole number, 0 or more, not {}",
                    shown(&cap)
                ))
            })?;
            Ok(Volume::Rate(Rate {
                per_second,
                until,
                max_journeys,
            }))
        }
        Err(_) => as_volume(value).map(Volume::Level),
    }
}

fn shown(value: &Bound<'_, PyAny>) -> String {
    value
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "?".into())
}

fn not_a_number(value: &Bound<'_, PyAny>) -> PyErr {
    BindingError::VolumeNotANumber(shown(value)).into()
}

impl VolumeModel for PyVolumeModel {
    type Error = PyErr;

    fn volume(&mut self, start: i64, end: i64) -> Result<Volume, PyErr> {
        Python::attach(|py| match self.model.call1(py, (start, end)) {
            Ok(value) => Ok(volume_of(value.bind(py))?),
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
