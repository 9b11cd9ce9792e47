//! `mite controller SCENARIO_SPEC`: the controller of distributed mode. It calls the
//! scenario function, answers runners on `--controller-socket` (REP; mite-rs's runners or
//! mite's), sends `controller_report` messages (and what the scenario function sends) to
//! `--message-socket`, and ends once no scenario is left and every runner said bye or went
//! silent.

use std::time::{Duration, Instant};

use pyo3::prelude::*;

use super::command_support::{import_spec, prepare_command, py_fatal, Fatal};
use super::controller::server::RunnerRequests;
use super::controller::serving::RequestLoop;
use super::controller::LocalController;
use super::scenario_loading::{build_config, call_scenario, read_scenarios};
use super::sink::MessageSink;
use crate::errors::one_line;
use mite_core::bus::Bus;
use mite_core::cli::Options;
use mite_core::engine::{SchedulerConfig, RUNNER_TIMEOUT};
use mite_core::wire::{check_endpoint, Forwarder, StopSignals};

pub fn run(py: Python<'_>, options: &Options, spec: &str) -> Result<i32, Fatal> {
    prepare_command(py, options)?;
    super::command_support::message_backend(options).map_err(Fatal::Message)?;
    for (option, address) in [
        ("--controller-socket", &options.controller_socket),
        ("--message-socket", &options.message_socket),
    ] {
        check_endpoint(address).map_err(|e| Fatal::Message(format!("{option}: {e}")))?;
    }
    let config_manager = build_config(py, options)?;
    let forwarder = Forwarder::connect(&options.message_socket)
        .map_err(|e| Fatal::Message(format!("--message-socket: {e}")))?;
    let bus = Bus::start(vec![Box::new(forwarder)])
        .map_err(|e| Fatal::Message(format!("cannot start the message bus: {e}")))?;
    let sink = Bound::new(py, MessageSink::new(bus.sender(), Vec::new(), Vec::new()))
        .map_err(|e| py_fatal(py, "creating the message sink", &e))?;
    let function = import_spec(py, spec, "scenario spec")?;
    let result = call_scenario(py, spec, &function, &config_manager, &sink)?;
    let scenarios = read_scenarios(py, spec, &result)?;
    let scheduler = SchedulerConfig {
        start_delay: options.delay_start_seconds.value,
        period: options.max_loop_delay.value.max(0.001),
        spawn_rate: Some(options.spawn_rate.value),
    };
    let controller = LocalController::new(
        py,
        scheduler,
        &scenarios,
        config_manager.clone().unbind(),
        std::sync::Arc::from(spec),
        Some(RUNNER_TIMEOUT),
    )
    .map_err(|e| py_fatal(py, "creating the controller", &e))?;
    let requests = RunnerRequests::new(py, controller, spec.to_owned())
        .map_err(|e| py_fatal(py, "creating the controller", &e))?;
    let mut requests = RequestLoop::bind(requests, &options.controller_socket)?;
    let signals = StopSignals::install()
        .map_err(|e| Fatal::Message(format!("cannot handle signals: {e}")))?;
    let webhook = Webhook::start(py, options.logging_webhook.as_deref(), spec)?;
    let outcome = serve(py, &mut requests, &signals, &sink);
    webhook.end(py);
    requests.close(py, &sink);
    // Every report is handed to the socket before the process ends.
    py.detach(|| bus.stop());
    outcome
}

/// `--logging-webhook` (or `MITE_LOGGING_URL`): the test's start and end told to a server.
struct Webhook {
    module: Py<PyAny>,
    url: Option<String>,
    id: Py<PyAny>,
}

impl Webhook {
    fn start(py: Python<'_>, option: Option<&str>, spec: &str) -> Result<Webhook, Fatal> {
        let module = py
            .import("mite._logging_webhook")
            .map_err(|e| py_fatal(py, "the logging webhook", &e))?;
        let url: Option<String> = module
            .call_method1("url_from", (option,))
            .and_then(|u| u.extract())
            .map_err(|e| py_fatal(py, "the logging webhook", &e))?;
        let id = match &url {
            Some(url) => module
                .call_method1("start", (url, spec))
                .map_err(|e| py_fatal(py, "the logging webhook", &e))?
                .unbind(),
            None => py.None(),
        };
        Ok(Webhook {
            module: module.into_any().unbind(),
            url,
            id,
        })
    }

    fn end(self, py: Python<'_>) {
        if let Some(url) = &self.url {
            if let Err(e) = self.module.call_method1(py, "end", (url, &self.id)) {
                log::warn!(target: "mite.controller", "the logging webhook: {}", one_line(py, &e));
            }
        }
    }
}

/// How long a stopped controller goes on answering, so its runners hear that they are to
/// stop (and say bye) rather than wait out their timeout.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Answers runners until the test is over or a signal stops it.
fn serve(
    py: Python<'_>,
    requests: &mut RequestLoop,
    signals: &StopSignals,
    sink: &Bound<'_, MessageSink>,
) -> Result<i32, Fatal> {
    let mut stopping_since: Option<Instant> = None;
    loop {
        if let Some(by) = signals.stopped_by() {
            let since = *stopping_since.get_or_insert_with(|| {
                log::info!(target: "mite.controller", "Received interrupt signal, telling the runners to stop");
                requests.stop_scenarios();
                Instant::now()
            });
            if requests.runner_count() == 0 || since.elapsed() >= STOP_GRACE {
                log::info!(target: "mite.controller", "shutting down");
                return Ok(by.exit_code());
            }
        }
        if requests.is_over() {
            return Ok(0);
        }
        if requests.wait(py, None)?.request {
            requests.answer(py, sink)?;
        } else {
            requests.tick(py, sink)?;
        }
    }
}
