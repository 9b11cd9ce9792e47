//! Python objects ⇄ message values, with the rules of `msgpack.packb(use_bin_type=True)` and
//! `unpackb(raw=False, use_list=False, strict_map_key=False)` (mite's `pack_msg`/`unpack_msg`).

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple,
};

use crate::errors::BindingError;
use mite_core::messages::Value;

/// msgpack's own nesting limit, which also stops self-referencing containers.
const MAX_DEPTH: usize = 512;

/// Converts a Python object to a message value, or raises what msgpack would raise.
pub fn to_value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    to_value_at(obj, 0)
}

/// A `str` as a shared Rust string.
pub fn to_arc_str(s: &Bound<'_, PyString>) -> PyResult<Arc<str>> {
    Ok(Arc::from(s.to_str()?))
}

fn to_value_at(obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        return Err(BindingError::TooDeep.into());
    }
    if obj.is_none() {
        return Ok(Value::Nil);
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::Str(to_arc_str(s)?));
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(Value::Float(f.value()));
    }
    if let Ok(i) = obj.cast::<PyInt>() {
        if let Ok(v) = i.extract::<i64>() {
            return Ok(Value::Int(v));
        }
        return i
            .extract::<u64>()
            .map(Value::UInt)
            .map_err(|_| BindingError::IntegerOutOfRange.into());
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return t
            .iter()
            .map(|item| to_value_at(&item, depth + 1))
            .collect::<PyResult<_>>()
            .map(Value::Array);
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return l
            .iter()
            .map(|item| to_value_at(&item, depth + 1))
            .collect::<PyResult<_>>()
            .map(Value::Array);
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        return d
            .iter()
            .map(|(k, v)| Ok((to_value_at(&k, depth + 1)?, to_value_at(&v, depth + 1)?)))
            .collect::<PyResult<_>>()
            .map(Value::Map);
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Value::Bin(b.as_bytes().to_vec()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Value::Bin(b.to_vec()));
    }
    let type_name = obj.get_type().name()?.to_string();
    Err(BindingError::NotSerializable(type_name).into())
}

/// Converts a message value to the Python object `unpack_msg` would give.
pub fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Nil => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Int(i) => i.into_pyobject(py)?.into_any(),
        Value::UInt(u) => u.into_pyobject(py)?.into_any(),
        Value::Float(f) => PyFloat::new(py, *f).into_any(),
        Value::Str(s) => PyString::new(py, s).into_any(),
        Value::Bin(b) => PyBytes::new(py, b).into_any(),
        Value::Array(items) => {
            let items = items
                .iter()
                .map(|item| to_py(py, item))
                .collect::<PyResult<Vec<_>>>()?;
            PyTuple::new(py, items)?.into_any()
        }
        Value::Map(entries) => {
            let dict = PyDict::new(py);
            for (k, v) in entries {
                dict.set_item(to_py(py, k)?, to_py(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

/// `repr(obj)` for a message to the user, or a placeholder when `__repr__` itself fails.
pub fn py_repr(obj: &Bound<'_, PyAny>) -> String {
    obj.repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "<unrepresentable>".into())
}
