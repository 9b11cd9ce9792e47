//! `scenario test --runners N`: distributed mode on one machine from one command. This
//! process is the controller and the message plane's only consumer; it starts N `mite
//! runner` processes on private ipc sockets, answers their requests and feeds every message
//! they send into its own bus, so the run has one console, one report and one set of
//! recorder and collector files, as in-process.
//!
//! Time zero waits until every runner has joined, so none takes the whole first share. A
//! runner that dies is reported and, once silent for the controller's timeout, its share
//! goes to the others. A stop signal is passed on once to every runner; this process goes
//! on answering and reading until they have all ended (killing those that outstay
//! [`STOP_GRACE`]), then reads what is left on the socket.

mod children;

use std::time::{Duration, Instant};

use pyo3::prelude::*;

use super::command_support::{grace_period, py_fatal, Fatal};
use super::controller::server::RunnerRequests;
use super::controller::serving::RequestLoop;
use super::controller::{LocalController, ScenarioSpec};
use super::runner::RunEnd;
use super::sink::MessageSink;
use crate::errors::one_line;
use children::{describe, RunnerProcesses};
use mite_core::cli::Options;
use mite_core::engine::{SchedulerConfig, RUNNER_TIMEOUT};
use mite_core::wire::{message_from_frame, Attach, Complaints, Inbox, Received, StopSignals};

/// How long runners may take to start (import the scenario's modules) and say hello.
const JOIN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long runners may take to stop once told to, beyond `--grace-period`: cancelled
/// journeys get 5 s, and the runners then say bye.
const STOP_GRACE: Duration = Duration::from_secs(15);
/// Once every runner has ended, the socket is read until it has been quiet this long.
const QUIET: Duration = Duration::from_millis(250);
/// Frames read in one go before the requests get a look again.
const FRAMES_PER_TURN: usize = 4096;

pub struct ClusterRun<'a> {
    pub options: &'a Options,
    pub test_name: String,
    pub scenarios: Vec<ScenarioSpec>,
    pub scheduler: SchedulerConfig,
    pub runners: usize,
}

pub fn run(
    py: Python<'_>,
    run: ClusterRun<'_>,
    config_manager: &Bound<'_, PyAny>,
    sink: &Bound<'_, MessageSink>,
) -> Result<RunEnd, Fatal> {
    let ClusterRun {
        options,
        test_name,
        scenarios,
        scheduler,
        runners: count,
    } = run;
    if options.debugging {
        return Err(Fatal::Message(
            "--debugging stops at a journey's error in this process: use it with --runners=1"
                .into(),
        ));
    }
    let controller = LocalController::new(
        py,
        scheduler,
        &scenarios,
        config_manager.clone().unbind(),
        std::sync::Arc::from(test_name.as_str()),
        Some(RUNNER_TIMEOUT),
    )
    .map_err(|e| py_fatal(py, "creating the controller", &e))?;
    let requests = RunnerRequests::new(py, controller, test_name)
        .map_err(|e| py_fatal(py, "creating the controller", &e))?;
    // Private to this user (0700), removed at the end.
    let dir = tempfile::Builder::new()
        .prefix("mite-runners-")
        .tempdir()
        .map_err(|e| Fatal::Message(format!("cannot create the runners' socket directory: {e}")))?;
    let controller_address = format!("ipc://{}", dir.path().join("controller").display());
    let message_address = format!("ipc://{}", dir.path().join("messages").display());
    let mut requests = RequestLoop::bind(requests, &controller_address)?;
    requests.hold();
    let context = zmq::Context::new();
    let inbox = Inbox::open(&context, &message_address, Attach::Bind, "mite.runners")
        .map_err(|e| Fatal::Message(format!("the runners' message socket: {e}")))?;
    let signals = StopSignals::install()
        .map_err(|e| Fatal::Message(format!("cannot handle signals: {e}")))?;
    let (python, sys_path) = interpreter(py)?;
    let args = runner_args(options, &controller_address, &message_address);
    let processes = RunnerProcesses::start(&python, &sys_path, &args, count)
        .map_err(|e| Fatal::Message(format!("cannot start a runner process ({python}): {e}")))?;
    log::info!(target: "mite", "started {count} runner processes");
    let mut cluster = Cluster {
        requests,
        inbox,
        processes,
        sink,
        failures: Complaints::new("mite.runners"),
        count,
        stop_within: Duration::from_secs_f64(grace_period(options)?) + STOP_GRACE,
    };
    let end = cluster.serve(py, &signals);
    let Cluster {
        requests,
        mut processes,
        ..
    } = cluster;
    processes.kill();
    requests.close(py, sink);
    end
}

/// This process's Python interpreter, and its `sys.path` as JSON.
fn interpreter(py: Python<'_>) -> Result<(String, String), Fatal> {
    let found = (|| -> PyResult<(String, String)> {
        let sys = py.import("sys")?;
        let executable = sys.getattr("executable")?.extract()?;
        let path = py
            .import("json")?
            .call_method1("dumps", (sys.getattr("path")?,))?
            .extract()?;
        Ok((executable, path))
    })();
    let (executable, path) =
        found.map_err(|e| py_fatal(py, "finding the Python interpreter", &e))?;
    if executable.is_empty() {
        return Err(Fatal::Message(
            "--runners needs sys.executable to start runner processes, and it is empty".into(),
        ));
    }
    Ok((executable, path))
}

/// The options a runner process needs: its sockets, and the ones that change how a runner
/// runs. The config reaches it in the controller's hello; its `sys.path` is already this
/// process's.
fn runner_args(options: &Options, controller: &str, messages: &str) -> Vec<String> {
    let mut args = vec![
        "--exclude-working-directory".to_owned(),
        format!("--controller-socket={controller}"),
        format!("--message-socket={messages}"),
        format!("--log-level={}", options.log_level),
        format!("--max-loop-delay={}", options.max_loop_delay.text),
        format!("--grace-period={}", options.grace_period.text),
    ];
    if let Some(delay) = &options.min_loop_delay {
        args.push(format!("--min-loop-delay={}", delay.text));
    }
    if let Some(n) = &options.runner_max_journeys {
        args.push(format!("--runner-max-journeys={}", n.text));
    }
    for (on, flag) in [
        (options.memory_tracing, "--memory-tracing"),
        (options.asyncio_tasks, "--asyncio-tasks"),
    ] {
        if on {
            args.push(flag.to_owned());
        }
    }
    args
}

struct Cluster<'a, 'py> {
    requests: RequestLoop,
    inbox: Inbox,
    processes: RunnerProcesses,
    sink: &'a Bound<'py, MessageSink>,
    /// Messages a Python processor failed on: the first logged, the rest counted.
    failures: Complaints,
    count: usize,
    /// How long runners may take to stop once told to.
    stop_within: Duration,
}

impl Cluster<'_, '_> {
    fn serve(&mut self, py: Python<'_>, signals: &StopSignals) -> Result<RunEnd, Fatal> {
        let begun = Instant::now();
        let mut joined = false;
        let mut stopped_by = None;
        let mut passed_on = 0;
        let mut kill_at: Option<Instant> = None;
        let mut last_tick = Instant::now();
        loop {
            for (pid, status) in self.processes.reap() {
                // A runner passed a stop signal exits 130 or 143, as it should.
                let as_told = passed_on > 0 && matches!(status.code(), Some(130 | 143));
                if !status.success() && !as_told {
                    log::warn!(target: "mite", "runner process {pid} {}", describe(status));
                }
            }
            let running = self.processes.running();
            if running == 0 {
                break;
            }
            if let Some(by) = signals.stopped_by() {
                // The first signal lets the runners' journeys finish; the second cancels them.
                let stops = signals.stops().min(2);
                if stops > passed_on {
                    passed_on = stops;
                    let within = if stops == 1 {
                        log::info!(target: "mite", "Received interrupt signal, stopping the runners");
                        self.stop_within
                    } else {
                        log::info!(target: "mite", "Received another interrupt signal, telling the runners to cancel their journeys");
                        STOP_GRACE
                    };
                    stopped_by = Some(by);
                    self.processes.signal(by.signal());
                    kill_at = Some(Instant::now() + within);
                }
            }
            if !joined {
                let joined_runners = self.requests.requests().controller().runner_count();
                if joined_runners >= running {
                    joined = true;
                    self.requests.start();
                } else if begun.elapsed() >= JOIN_TIMEOUT {
                    if joined_runners == 0 {
                        return Err(Fatal::Message(format!(
                            "no runner process joined within {} s",
                            JOIN_TIMEOUT.as_secs()
                        )));
                    }
                    log::warn!(target: "mite", "{joined_runners} of {} runner processes joined within {} s; starting with them", self.count, JOIN_TIMEOUT.as_secs());
                    joined = true;
                    self.requests.start();
                }
            }
            if kill_at.is_none() && self.requests.is_over() {
                kill_at = Some(Instant::now() + self.stop_within);
            }
            if kill_at.is_some_and(|at| Instant::now() >= at) {
                log::warn!(target: "mite", "{running} runner processes did not stop in time: killed");
                self.processes.kill();
                kill_at = Some(Instant::now() + STOP_GRACE);
            }
            let ready = self.requests.wait(py, Some(&mut self.inbox))?;
            if ready.messages {
                self.read_messages(py, FRAMES_PER_TURN);
            }
            if ready.request {
                self.requests.answer(py, self.sink)?;
                last_tick = Instant::now();
            } else if last_tick.elapsed() >= mite_core::wire::POLL_INTERVAL {
                self.requests.tick(py, self.sink)?;
                last_tick = Instant::now();
            }
        }
        self.read_remaining(py);
        self.failures.log_totals();
        if let Some(by) = stopped_by {
            return Ok(RunEnd::Interrupted(by.exit_code()));
        }
        // Runners killed before the end may still count as joined: they are gone.
        if self.requests.scenarios_left() {
            return Ok(RunEnd::Failed(format!(
                "every runner process ended before the test did ({} of {} failed)",
                self.processes.failed(),
                self.count
            )));
        }
        Ok(RunEnd::Completed)
    }

    /// Up to `limit` waiting frames into the bus (and the Python processors).
    fn read_messages(&mut self, py: Python<'_>, limit: usize) -> usize {
        let mut read = 0;
        while read < limit {
            let frame = match self.inbox.try_recv() {
                Ok(Received::Frame(frame)) => frame,
                Ok(Received::Nothing) => break,
                Err(e) => {
                    log::error!(target: "mite.runners", "{e}");
                    break;
                }
            };
            read += 1;
            let message = match message_from_frame(frame) {
                Ok(message) => message,
                Err(e) => {
                    self.failures
                        .note("malformed messages", || format!("skipped a message: {e}"));
                    continue;
                }
            };
            if let Err(e) = self.sink.get().deliver_frame(py, message, frame) {
                let text = one_line(py, &e);
                self.failures.note("processor failures", || {
                    format!("a message processor failed: {text}")
                });
            }
        }
        read
    }

    /// After the last runner ended: what it sent before ending is still arriving.
    fn read_remaining(&mut self, py: Python<'_>) {
        let mut quiet_since = Instant::now();
        while quiet_since.elapsed() < QUIET {
            if self.read_messages(py, FRAMES_PER_TURN) > 0 {
                quiet_since = Instant::now();
            } else {
                let inbox = &mut self.inbox;
                py.detach(move || {
                    let mut items = [inbox.poll_item()];
                    let _ = zmq::poll(&mut items, 20);
                });
            }
        }
    }
}
