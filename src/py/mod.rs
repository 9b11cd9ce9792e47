//! PyO3 bindings: the `mite._mite` extension module.

use pyo3::prelude::*;

#[pymodule(gil_used = true)]
fn _mite(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__doc__", "The native core of mite-rs.")?;
    Ok(())
}
