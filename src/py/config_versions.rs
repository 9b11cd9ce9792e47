//! `mite._mite.ConfigVersions`: the core's versioned configuration holding Python values,
//! behind `mite.config.ConfigManager`.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use mite_core::engine::VersionedConfig;

#[pyclass(module = "mite._mite")]
#[derive(Default)]
pub struct ConfigVersions {
    config: VersionedConfig<Py<PyAny>>,
}

#[pymethods]
impl ConfigVersions {
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// The number of `set`s so far.
    #[getter]
    fn version(&self) -> u64 {
        self.config.version()
    }

    fn set(&mut self, name: &str, value: Py<PyAny>) {
        self.config.set(name, value);
    }

    #[pyo3(signature = (name, default=None))]
    fn get(&self, py: Python<'_>, name: &str, default: Option<Py<PyAny>>) -> Py<PyAny> {
        match self.config.get(name) {
            Some(value) => value.clone_ref(py),
            None => default.unwrap_or_else(|| py.None()),
        }
    }

    /// `[(name, value)]` set after version `seen`, in the order names were first set.
    fn changes_since<'py>(&self, py: Python<'py>, seen: u64) -> PyResult<Bound<'py, PyList>> {
        PyList::new(
            py,
            self.config
                .changes_since(seen)
                .map(|(name, value)| (name, value.clone_ref(py))),
        )
    }

    /// `{name: (value, version last set at)}`.
    fn entries<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (name, value, version) in self.config.entries() {
            dict.set_item(name, (value.clone_ref(py), version))?;
        }
        Ok(dict)
    }
}
