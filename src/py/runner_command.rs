//! `mite runner`: a runner of distributed mode. It says hello to the controller at
//! `--controller-socket` (mite-rs's or mite's), runs the journeys it is given on this
//! process's event loop and sends every message to `--message-socket`.

use pyo3::prelude::*;

use super::command_support::{prepare_command, py_fatal, Fatal};
use super::controller::remote::RemoteController;
use super::controller::ControllerLink;
use super::event_loop::run_loop;
use super::runner::{RunEnd, RunnerOptions};
use super::sink::MessageSink;
use mite_core::bus::Bus;
use mite_core::cli::Options;
use mite_core::wire::{check_endpoint, Forwarder};

pub fn run(py: Python<'_>, options: &Options) -> Result<i32, Fatal> {
    prepare_command(py, options)?;
    super::command_support::message_backend(options).map_err(Fatal::Message)?;
    check_endpoint(&options.message_socket)
        .map_err(|e| Fatal::Message(format!("--message-socket: {e}")))?;
    let forwarder = Forwarder::connect(&options.message_socket)
        .map_err(|e| Fatal::Message(format!("--message-socket: {e}")))?;
    let (controller, hello) = RemoteController::connect(
        &options.controller_socket,
        options.runner_max_journeys.as_ref().map(|n| n.value),
        match &options.min_loop_delay {
            Some(delay) => super::command_support::seconds("--min-loop-delay", delay)?,
            None => 0.0,
        },
        options.max_loop_delay.value,
    )
    .map_err(|e| Fatal::Message(e.0))?;
    log::debug!(
        target: "mite.runner",
        "runner {} of test {} (controller at {})",
        hello.runner_id,
        hello.test_name,
        options.controller_socket
    );
    let bus = Bus::start(vec![Box::new(forwarder)])
        .map_err(|e| Fatal::Message(format!("cannot start the message bus: {e}")))?;
    let sink = Bound::new(py, MessageSink::new(bus.sender(), Vec::new(), Vec::new()))
        .map_err(|e| py_fatal(py, "creating the message sink", &e))?;
    let end = run_loop(
        py,
        RunnerOptions {
            test_name: hello.test_name,
            sink: sink.unbind(),
            debug: options.debugging,
            use_asyncio_tasks: options.asyncio_tasks,
            grace_period: super::command_support::grace_period(options)?,
            max_journeys: options.runner_max_journeys.as_ref().map(|n| n.value),
        },
        ControllerLink::Remote(controller),
        Vec::new(),
        options.memory_tracing,
    );
    // Every message is handed to the socket before the process ends.
    py.detach(|| bus.stop());
    Ok(match end? {
        RunEnd::Completed => 0,
        RunEnd::Interrupted(code) | RunEnd::Exit(code) => code,
        RunEnd::Failed(message) => return Err(Fatal::Message(message)),
    })
}
