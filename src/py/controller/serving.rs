//! The controller's request loop of distributed mode, shared by `mite controller` and
//! `scenario test --runners N`: a REP socket whose requests are answered by
//! [`RunnerRequests`], the volume models refreshed before each answer, silent runners
//! dropped, and a `controller_report` sent every second.
//!
//! The caller owns the loop (what ends it differs) and may wait on a message inbox together
//! with the requests, so one thread both answers runners and reads their messages.

use std::time::Instant;

use pyo3::prelude::*;

use super::server::RunnerRequests;
use crate::errors::one_line;
use crate::py::command_support::Fatal;
use crate::py::sink::MessageSink;
use mite_core::wire::protocol::WorkReply;
use mite_core::wire::{Inbox, POLL_INTERVAL};

/// Seconds between controller reports (mite sends one a second).
const REPORT_INTERVAL: f64 = 1.0;
/// A request above this size makes libzmq drop its sender's connection (requests are a few
/// hundred bytes; one reporting a hundred thousand finished items about a megabyte).
const MAX_REQUEST: i64 = 16 << 20;

/// What became readable while [`RequestLoop::wait`] waited.
#[derive(Default)]
pub struct Ready {
    pub request: bool,
    pub messages: bool,
}

pub struct RequestLoop {
    requests: RunnerRequests,
    socket: zmq::Socket,
    /// Time zero of the test: volume models see seconds since then. None while held.
    started: Option<Instant>,
    next_report: f64,
}

impl RequestLoop {
    /// Binds `address` (`--controller-socket`) for `requests`.
    pub fn bind(requests: RunnerRequests, address: &str) -> Result<Self, Fatal> {
        let failed = |e: zmq::Error| {
            Fatal::Message(format!("--controller-socket: cannot bind {address}: {e}"))
        };
        let socket = zmq::Context::new().socket(zmq::REP).map_err(failed)?;
        socket.set_linger(1_000).map_err(failed)?;
        socket.set_maxmsgsize(MAX_REQUEST).map_err(failed)?;
        socket.bind(address).map_err(failed)?;
        Ok(RequestLoop {
            requests,
            socket,
            started: Some(Instant::now()),
            next_report: 0.0,
        })
    }

    pub fn requests(&self) -> &RunnerRequests {
        &self.requests
    }

    /// Seconds since time zero (0 while held).
    pub fn now(&self) -> f64 {
        self.started.map_or(0.0, |t| t.elapsed().as_secs_f64())
    }

    /// Holds the test before time zero: runners may join, none gets work, no volume model is
    /// read.
    pub fn hold(&mut self) {
        self.started = None;
        self.requests.hold_work(true);
    }

    /// Time zero is now (every runner has joined).
    pub fn start(&mut self) {
        self.started = Some(Instant::now());
        self.next_report = 0.0;
        self.requests.hold_work(false);
    }

    /// Ends every scenario: runners are told to stop with their next answer.
    pub fn stop_scenarios(&mut self) {
        self.requests.controller_mut().stop_all();
    }

    /// Runners that joined and have not said bye (nor gone silent).
    pub fn runner_count(&self) -> usize {
        self.requests.controller().runner_count()
    }

    /// Whether a scenario is still running.
    pub fn scenarios_left(&self) -> bool {
        self.requests.controller().is_active()
    }

    /// The test is over: no scenario is left and every runner said bye or went silent.
    pub fn is_over(&self) -> bool {
        let controller = self.requests.controller();
        !controller.is_active() && controller.runner_count() == 0
    }

    /// Refreshes the volume models, drops silent runners and sends a report when one is due.
    pub fn tick(&mut self, py: Python<'_>, sink: &Bound<'_, MessageSink>) -> Result<(), Fatal> {
        if self.started.is_none() {
            return Ok(());
        }
        let now = self.now();
        self.requests
            .controller_mut()
            .refresh(py, now)
            .map_err(|e| Fatal::Message(e.0))?;
        self.requests.drop_silent(py, now);
        if now >= self.next_report {
            self.next_report = now + REPORT_INTERVAL;
            self.send_report(py, sink);
        }
        Ok(())
    }

    pub fn send_report(&self, py: Python<'_>, sink: &Bound<'_, MessageSink>) {
        let report = self.requests.controller().report();
        if let Err(e) = sink.get().deliver(py, report) {
            log::error!(target: "mite.controller", "controller report failed: {}", one_line(py, &e));
        }
    }

    /// Waits without the GIL, up to [`POLL_INTERVAL`], for a request or (when given) a
    /// frame on `inbox`.
    pub fn wait(&mut self, py: Python<'_>, inbox: Option<&mut Inbox>) -> Result<Ready, Fatal> {
        let socket = &mut self.socket;
        let timeout = POLL_INTERVAL.as_millis() as i64;
        let polled = py.detach(move || {
            let mut items = vec![socket.as_poll_item(zmq::POLLIN)];
            if let Some(inbox) = &inbox {
                items.push(inbox.poll_item());
            }
            zmq::poll(&mut items, timeout).map(|_| Ready {
                request: items[0].is_readable(),
                messages: items.get(1).is_some_and(|i| i.is_readable()),
            })
        });
        match polled {
            Ok(ready) => Ok(ready),
            Err(zmq::Error::EINTR) => Ok(Ready::default()),
            Err(e) => Err(Fatal::Message(format!("--controller-socket: {e}"))),
        }
    }

    /// Answers the waiting request, if there is one, after a [`RequestLoop::tick`].
    pub fn answer(&mut self, py: Python<'_>, sink: &Bound<'_, MessageSink>) -> Result<(), Fatal> {
        let frame = match self.socket.recv_bytes(zmq::DONTWAIT) {
            Ok(frame) => frame,
            Err(zmq::Error::EAGAIN | zmq::Error::EINTR) => return Ok(()),
            Err(e) => return Err(Fatal::Message(format!("--controller-socket: {e}"))),
        };
        if self.socket.get_rcvmore().unwrap_or(false) {
            // Every part is read, so the socket can answer; the whole is not a request.
            let mut parts = 1;
            while self.socket.recv_bytes(0).is_ok() {
                parts += 1;
                if !self.socket.get_rcvmore().unwrap_or(false) {
                    break;
                }
            }
            let reply = self
                .requests
                .not_a_request(&format!("a message of {parts} parts"));
            if let Err(e) = self.socket.send(reply, 0) {
                log::error!(target: "mite.controller", "cannot answer a runner: {e}");
            }
            return Ok(());
        }
        self.tick(py, sink)?;
        let now = self.now();
        let (reply, failure) = match self.requests.answer(py, &frame, now) {
            Ok(reply) => (reply, None),
            // The runner is told to stop before the controller ends.
            Err(failure) => (
                WorkReply {
                    work: Vec::new(),
                    config: Vec::new(),
                    stop: true,
                    standing: None,
                }
                .encode(),
                Some(failure),
            ),
        };
        if let Err(e) = self.socket.send(reply, 0) {
            log::error!(target: "mite.controller", "cannot answer a runner: {e}");
        }
        match failure {
            Some(failure) => Err(Fatal::Message(failure.0)),
            None => Ok(()),
        }
    }

    /// The last report, then the datapools' event loop closed.
    pub fn close(self, py: Python<'_>, sink: &Bound<'_, MessageSink>) {
        self.send_report(py, sink);
        self.requests.close(py);
    }
}
