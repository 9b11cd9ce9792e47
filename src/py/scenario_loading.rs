//! A scenario as the user wrote it: the config manager (`--config`, `--add-to-config`), the
//! scenario function called with what it asks for, and its list checked.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

use super::command_support::{import_spec, py_fatal, Fatal};
use super::controller::ScenarioSpec;
use super::sink::MessageSink;
use mite_core::cli::{self, Options};

/// ConfigManager built as mite does: the `--config` loader, then `--add-to-config` pairs.
pub fn build_config<'py>(py: Python<'py>, options: &Options) -> Result<Bound<'py, PyAny>, Fatal> {
    let manager = py
        .import("mite.config")
        .and_then(|m| m.getattr("ConfigManager"))
        .and_then(|c| c.call0())
        .map_err(|e| py_fatal(py, "cannot create the config manager", &e))?;
    let loader = import_spec(py, &options.config, "config spec")?;
    let initial = loader.call0().map_err(|e| {
        py_fatal(
            py,
            &format!("config loader '{}' failed", options.config),
            &e,
        )
    })?;
    let items = initial
        .call_method0("items")
        .and_then(|items| items.try_iter())
        .map_err(|e| {
            py_fatal(
                py,
                &format!("config loader '{}' did not return a dict", options.config),
                &e,
            )
        })?;
    for item in items {
        let item = item.map_err(|e| py_fatal(py, "reading the config", &e))?;
        manager
            .call_method1(
                "set",
                item.cast::<PyTuple>()
                    .map_err(|e| Fatal::Message(e.to_string()))?,
            )
            .map_err(|e| py_fatal(py, "setting the config", &e))?;
    }
    let pairs =
        cli::config_pairs(&options.add_to_config).map_err(|e| Fatal::Message(e.to_string()))?;
    for (key, value) in pairs {
        manager
            .call_method1("set", (key, value))
            .map_err(|e| py_fatal(py, "setting the config", &e))?;
    }
    Ok(manager)
}

/// Calls the scenario function with `config` and/or `sender` injected by parameter name.
pub fn call_scenario<'py>(
    py: Python<'py>,
    spec: &str,
    function: &Bound<'py, PyAny>,
    config: &Bound<'py, PyAny>,
    sender: &Bound<'py, MessageSink>,
) -> Result<Bound<'py, PyAny>, Fatal> {
    if !function.is_callable() {
        return Err(Fatal::Message(format!(
            "scenario '{spec}' is not a function"
        )));
    }
    let kwargs = PyDict::new(py);
    if let Ok(signature) = py
        .import("inspect")
        .and_then(|m| m.call_method1("signature", (function,)))
    {
        let names = signature
            .getattr("parameters")
            .and_then(|p| p.call_method0("keys"))
            .and_then(|k| {
                k.try_iter()?
                    .map(|n| n?.extract::<String>())
                    .collect::<PyResult<Vec<_>>>()
            })
            .map_err(|e| py_fatal(py, "reading the scenario's parameters", &e))?;
        for name in names {
            match name.as_str() {
                "config" => kwargs.set_item("config", config),
                "sender" => kwargs.set_item("sender", sender),
                other => {
                    return Err(Fatal::Message(format!(
                    "scenario '{spec}': Don't know how to inject {other} into a scenario function!"
                )))
                }
            }
            .map_err(|e| py_fatal(py, "calling the scenario", &e))?;
        }
    }
    function
        .call((), Some(&kwargs))
        .map_err(|e| py_fatal(py, &format!("scenario '{spec}' raised"), &e))
}

/// Checks the scenario function's result: `(journey_spec, datapool, volume_model)` items.
pub fn read_scenarios(
    py: Python<'_>,
    spec: &str,
    result: &Bound<'_, PyAny>,
) -> Result<Vec<ScenarioSpec>, Fatal> {
    scenario_items(py, spec, result)?
        .iter()
        .enumerate()
        .map(|(n, item)| read_scenario(py, spec, n, item))
        .collect()
}

const SHAPE: &str = "each item must be (journey_spec, datapool or None, volume_model)";

/// The items of the scenario function's result.
pub fn scenario_items<'py>(
    py: Python<'py>,
    spec: &str,
    result: &Bound<'py, PyAny>,
) -> Result<Vec<Bound<'py, PyAny>>, Fatal> {
    let items = result.try_iter().map_err(|_| {
        Fatal::Message(format!(
            "scenario '{spec}' returned {}, not a list of scenarios; {SHAPE}",
            short_repr(result)
        ))
    })?;
    items
        .collect::<PyResult<Vec<_>>>()
        .map_err(|e| py_fatal(py, &format!("scenario '{spec}' raised"), &e))
}

/// One item of the scenario function's result, checked, with its journey imported.
pub fn read_scenario(
    py: Python<'_>,
    spec: &str,
    n: usize,
    item: &Bound<'_, PyAny>,
) -> Result<ScenarioSpec, Fatal> {
    let parts: Vec<Bound<'_, PyAny>> = match item.try_iter() {
        Ok(it) if !item.is_instance_of::<PyString>() => it
            .collect::<PyResult<_>>()
            .map_err(|e| py_fatal(py, &format!("scenario '{spec}' item {n}"), &e))?,
        _ => Vec::new(),
    };
    let [journey_spec, datapool, volume_model] = parts.as_slice() else {
        return Err(Fatal::Message(format!(
            "scenario '{spec}' item {n} is {}; {SHAPE}",
            short_repr(item)
        )));
    };
    let Ok(journey_spec) = journey_spec.extract::<String>() else {
        return Err(Fatal::Message(format!(
            "scenario '{spec}' item {n}: the journey spec {} is not a string",
            short_repr(journey_spec)
        )));
    };
    if !datapool.is_none() && !datapool.hasattr("checkout").unwrap_or(false) {
        return Err(Fatal::Message(format!(
            "scenario '{spec}' item {n}: {} is not a datapool (it has no checkout method)",
            short_repr(datapool)
        )));
    }
    if !volume_model.is_callable() {
        return Err(Fatal::Message(format!(
            "scenario '{spec}' item {n}: the volume model {} is not callable",
            short_repr(volume_model)
        )));
    }
    let journey = import_spec(py, &journey_spec, "journey spec")?;
    if !journey.is_callable() {
        return Err(Fatal::Message(format!(
            "journey '{journey_spec}' is not a function"
        )));
    }
    Ok(ScenarioSpec {
        journey_spec,
        journey: journey.unbind(),
        datapool: (!datapool.is_none()).then(|| datapool.clone().unbind()),
        volume_model: volume_model.clone().unbind(),
    })
}

pub fn short_repr(obj: &Bound<'_, PyAny>) -> String {
    let text = super::convert::py_repr(obj);
    if text.chars().count() > 80 {
        format!("{}...", text.chars().take(77).collect::<String>())
    } else {
        text
    }
}
