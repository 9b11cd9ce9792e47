//! The event loop a test runs on: created (HTTP on the loop thread, uvloop, or asyncio's),
//! run with Ctrl-C and SIGTERM handlers until the runner is done, and closed.

use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use super::command_support::{py_fatal, Fatal};
use super::controller::{ControllerLink, ScenarioSpec};
use super::runner::{RunEnd, Runner, RunnerOptions};
use crate::errors::one_line;

/// Creates the event loop (one doing its own HTTP work when the process has one CPU or
/// `MITE_HTTP_THREADS=0`, else uvloop when installed, unless `MITE_PROFILE=1`), runs the test
/// on it with signal handlers for Ctrl-C and SIGTERM, and closes it.
pub fn run_loop(
    py: Python<'_>,
    options: RunnerOptions,
    controller: ControllerLink,
    scenarios: Vec<ScenarioSpec>,
    memory_tracing: bool,
) -> Result<RunEnd, Fatal> {
    let asyncio = py
        .import("asyncio")
        .map_err(|e| py_fatal(py, "importing asyncio", &e))?;
    let use_uvloop = std::env::var("MITE_PROFILE").as_deref() != Ok("1");
    let event_loop = if mite_core::http::http_on_loop_thread() {
        py.import("mite._http_loop")
            .and_then(|module| module.call_method0("new_event_loop"))
    } else {
        match py.import("uvloop") {
            Ok(uvloop) if use_uvloop => uvloop.call_method0("new_event_loop"),
            _ => asyncio.call_method0("new_event_loop"),
        }
    }
    .map_err(|e| py_fatal(py, "creating the event loop", &e))?;
    asyncio
        .call_method1("set_event_loop", (&event_loop,))
        .map_err(|e| py_fatal(py, "setting the event loop", &e))?;
    if options.debug {
        // `--debugging` is also asyncio's debug mode, as in mite (slow callbacks, never-awaited
        // coroutines reported).
        event_loop
            .call_method1("set_debug", (true,))
            .map_err(|e| py_fatal(py, "setting the event loop's debug mode", &e))?;
    }
    let runner = Runner::create(
        py,
        event_loop.clone().unbind(),
        options,
        controller,
        scenarios,
    )
    .map_err(|e| py_fatal(py, "creating the runner", &e))?;
    let runner = runner.bind(py);
    let result = (|| -> PyResult<()> {
        let signal = py.import("signal")?;
        let interrupt = runner.getattr("_interrupt")?;
        for (name, code) in [("SIGINT", 130), ("SIGTERM", 143)] {
            event_loop.call_method1(
                "add_signal_handler",
                (signal.getattr(name)?, &interrupt, code),
            )?;
        }
        let tracing = if memory_tracing {
            Some(
                py.import("mite._memory_tracing")?
                    .call_method1("start", (&event_loop,))?,
            )
        } else {
            None
        };
        event_loop.call_method1("call_soon", (runner.getattr("_start")?,))?;
        let done = runner.borrow().done_future(py);
        event_loop.call_method1("run_until_complete", (done,))?;
        if let Some(tracing) = tracing {
            tracing.call_method0("cancel")?;
        }
        for name in ["SIGINT", "SIGTERM"] {
            event_loop.call_method1("remove_signal_handler", (signal.getattr(name)?,))?;
        }
        Ok(())
    })();
    let closed = close_loop(py, &event_loop);
    match result {
        Ok(()) => {}
        Err(e) if e.is_instance_of::<PyKeyboardInterrupt>(py) => {
            return Ok(RunEnd::Interrupted(130))
        }
        Err(e) => return Err(py_fatal(py, "the event loop failed", &e)),
    }
    if let Err(e) = closed {
        log::warn!(target: "mite", "closing the event loop: {}", one_line(py, &e));
    }
    Ok(runner.borrow().end())
}

/// Cancels tasks journeys left behind (e.g. from `gather`), then closes the loop.
fn close_loop(py: Python<'_>, event_loop: &Bound<'_, PyAny>) -> PyResult<()> {
    let asyncio = py.import("asyncio")?;
    let pending = asyncio.call_method1("all_tasks", (event_loop,))?;
    let pending: Vec<Bound<'_, PyAny>> = pending.try_iter()?.collect::<PyResult<_>>()?;
    if !pending.is_empty() {
        for task in &pending {
            task.call_method0("cancel")?;
        }
        let kwargs = PyDict::new(py);
        kwargs.set_item("return_exceptions", true)?;
        let gathered = asyncio.call_method("gather", PyTuple::new(py, &pending)?, Some(&kwargs))?;
        event_loop.call_method1("run_until_complete", (gathered,))?;
    }
    event_loop.call_method1(
        "run_until_complete",
        (event_loop.call_method0("shutdown_asyncgens")?,),
    )?;
    event_loop.call_method0("close")?;
    Ok(())
}
