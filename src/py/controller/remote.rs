//! The controller side of the seam in another process (`mite runner`): each call the runner
//! makes becomes a request on a REQ socket to `mite controller` (mite-rs's or mite's), with
//! mite's frames (`mite_core::wire::protocol`).
//!
//! The runner asks for work when journeys finished (at most every [`MIN_REQUEST_INTERVAL`])
//! and at least every `--max-loop-delay` seconds, reporting how many journeys it runs per
//! scenario and the datapool item ids of those that finished. After the controller says stop
//! it drains (asking with `max_work=0` while journeys run), asks once more, and says bye.
//! A controller that does not answer within [`REPLY_TIMEOUT`] ends the run with one line.
//!
//! The runner offers standing work (`mite_core::wire::standing`) in its hello. A mite-rs
//! controller then grants, for each scenario without a datapool, a number of journeys to
//! keep running: they are refilled here the moment one ends, and the runner asks again when
//! the grant's time is up. mite's controllers ignore the offer and hand out items.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::PyDict;
use rustc_hash::FxHashMap;

use super::{Failure, ItemId, WorkItem};
use crate::py::convert::to_py;
use mite_core::engine::{RunnerId, ScenarioId};
use mite_core::messages::Value;
use mite_core::wire::protocol::{ConfigPairs, HelloReply, Request, WorkReply, WorkRequest};
use mite_core::wire::standing::StandingWork;
use mite_core::wire::{check_endpoint, POLL_INTERVAL};

/// The shortest time between two work requests: finished journeys are batched.
pub const MIN_REQUEST_INTERVAL: f64 = 0.001;
/// How long the runner waits for an answer before it gives the controller up.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct RemoteController {
    socket: zmq::Socket,
    address: String,
    runner_id: RunnerId,
    max_work: Option<u64>,
    /// Seconds between requests when nothing finished (`--max-loop-delay`).
    max_wait: f64,
    /// The fewest seconds between two requests (`--min-loop-delay`, at least
    /// [`MIN_REQUEST_INTERVAL`]).
    min_wait: f64,
    /// Granted work the runner has not taken yet (it takes a bounded number per call).
    queued: VecDeque<WorkItem>,
    running: BTreeMap<ScenarioId, u64>,
    /// `(scenario id, item id)` of journeys finished since the last request.
    completed: Vec<(u64, Value)>,
    /// Journeys finished since the last request, with or without a datapool item: their
    /// places are refilled at the next request, so it comes early.
    finished_since_request: u64,
    config_changes: ConfigPairs,
    journey_specs: FxHashMap<ScenarioId, Arc<str>>,
    /// Standing work: journeys per scenario to keep running (empty with mite's controllers).
    standing: BTreeMap<ScenarioId, u64>,
    /// Runner clock until which the standing work holds.
    standing_until: f64,
    stop: bool,
    said_bye: bool,
    /// False once an exchange failed (the REQ socket then cannot be used again).
    healthy: bool,
    /// Runner clock of the last request.
    last_request: f64,
}

impl RemoteController {
    /// Connects to the controller at `address` and says hello.
    /// `min_wait` (`--min-loop-delay`) and `max_wait` (`--max-loop-delay`) bound the
    /// seconds between two work requests.
    pub fn connect(
        address: &str,
        max_work: Option<u64>,
        min_wait: f64,
        max_wait: f64,
    ) -> Result<(RemoteController, HelloReply), Failure> {
        check_endpoint(address).map_err(|e| Failure(format!("--controller-socket: {e}")))?;
        let failed = |e: zmq::Error| Failure(format!("controller at {address}: {e}"));
        let socket = zmq::Context::new().socket(zmq::REQ).map_err(failed)?;
        socket
            .set_rcvtimeo(POLL_INTERVAL.as_millis() as i32)
            .map_err(failed)?;
        socket.set_linger(0).map_err(failed)?;
        socket.connect(address).map_err(failed)?;
        let mut controller = RemoteController {
            socket,
            address: address.to_owned(),
            runner_id: 0,
            max_work,
            min_wait: min_wait.max(MIN_REQUEST_INTERVAL),
            max_wait: max_wait.max(min_wait).max(MIN_REQUEST_INTERVAL),
            queued: VecDeque::new(),
            running: BTreeMap::new(),
            completed: Vec::new(),
            finished_since_request: 0,
            config_changes: Vec::new(),
            journey_specs: FxHashMap::default(),
            standing: BTreeMap::new(),
            standing_until: f64::NEG_INFINITY,
            stop: false,
            said_bye: false,
            healthy: true,
            // The first request is due at once.
            last_request: f64::NEG_INFINITY,
        };
        let reply = controller.exchange(&Request::Hello {
            standing_work: true,
        })?;
        let hello = HelloReply::decode(&reply).map_err(|e| controller.bad_reply(e))?;
        controller.runner_id = hello.runner_id;
        // The whole config comes with the hello; ctx.config gets it through update_config.
        controller.config_changes = hello.config.clone();
        Ok((controller, hello))
    }

    pub fn runner_id(&self) -> RunnerId {
        self.runner_id
    }

    fn bad_reply(&self, e: impl std::fmt::Display) -> Failure {
        Failure(format!("controller at {}: {e}", self.address))
    }

    /// One request and its reply. Blocks the loop for the round trip (tens of microseconds
    /// on one machine), without running Python code meanwhile.
    fn exchange(&mut self, request: &Request) -> Result<Vec<u8>, Failure> {
        let reply = self.round_trip(request);
        self.healthy &= reply.is_ok();
        reply
    }

    fn round_trip(&mut self, request: &Request) -> Result<Vec<u8>, Failure> {
        self.socket
            .send(request.encode(), 0)
            .map_err(|e| self.bad_reply(e))?;
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            match self.socket.recv_bytes(0) {
                Ok(reply) => return Ok(reply),
                Err(zmq::Error::EAGAIN | zmq::Error::EINTR) if Instant::now() < deadline => {}
                Err(zmq::Error::EAGAIN | zmq::Error::EINTR) => {
                    return Err(Failure(format!(
                        "the controller at {} did not answer for {} s; stopping",
                        self.address,
                        REPLY_TIMEOUT.as_secs()
                    )))
                }
                Err(e) => return Err(self.bad_reply(e)),
            }
        }
    }

    fn work_request(&mut self, max_work: Option<u64>) -> Request {
        // Standing work counts as held up to its quota, even while a journey is being
        // replaced, so the controller never hands that slot to another runner.
        let mut held = self.running.clone();
        for (id, quota) in &self.standing {
            let n = held.entry(*id).or_insert(0);
            *n = (*n).max(*quota);
        }
        Request::RequestWork(WorkRequest {
            runner_id: self.runner_id,
            current_work: held
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .map(|(id, n)| (u64::from(id), n))
                .collect(),
            completed: std::mem::take(&mut self.completed),
            max_work,
        })
    }

    fn ask(&mut self, py: Python<'_>, now: f64, max_work: Option<u64>) -> Result<(), Failure> {
        self.last_request = now;
        self.finished_since_request = 0;
        let request = self.work_request(max_work);
        let reply = self.exchange(&request)?;
        let reply = WorkReply::decode(&reply).map_err(|e| self.bad_reply(e))?;
        self.config_changes.extend(reply.config);
        let stopping = self.stop;
        self.stop |= reply.stop;
        // Due times on this runner's clock: now, less how late the controller said each is.
        let late: FxHashMap<u64, f64> = reply
            .standing
            .as_ref()
            .map(|s| s.late.iter().copied().collect())
            .unwrap_or_default();
        self.take_standing(now, reply.standing)?;
        for (index, item) in reply.work.into_iter().enumerate() {
            let scenario = self.scenario_id(item.scenario_id)?;
            if stopping {
                // Work granted after stop (mite's controller may) is never started: its item
                // goes straight back.
                self.completed.push((item.scenario_id, item.data_id));
                continue;
            }
            self.journey_specs
                .entry(scenario)
                .or_insert_with(|| Arc::from(item.journey_spec.as_str()));
            *self.running.entry(scenario).or_insert(0) += 1;
            let data = if item.data_id.is_nil() && item.args.is_nil() {
                None
            } else {
                let id = ItemId::remote(py, item.data_id).map_err(|e| self.bad_reply(e))?;
                let args = to_py(py, &item.args).map_err(|e| self.bad_reply(e))?;
                Some((id, args.unbind()))
            };
            self.queued.push_back(WorkItem {
                scenario,
                item: data,
                due: late.get(&(index as u64)).map(|seconds| now - seconds),
            });
        }
        Ok(())
    }

    fn scenario_id(&self, id: u64) -> Result<ScenarioId, Failure> {
        ScenarioId::try_from(id)
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| self.bad_reply(format!("scenario id {id} is out of range")))
    }

    /// The standing work of a reply replaces the last; none (mite's controllers, a stop)
    /// means none.
    fn take_standing(&mut self, now: f64, grant: Option<StandingWork>) -> Result<(), Failure> {
        self.standing.clear();
        let Some(grant) = grant.filter(|_| !self.stop) else {
            return Ok(());
        };
        self.standing_until = now + grant.valid_for;
        for s in grant.scenarios {
            let scenario = self.scenario_id(s.scenario_id)?;
            self.journey_specs
                .entry(scenario)
                .or_insert_with(|| Arc::from(s.journey_spec.as_str()));
            self.standing.insert(scenario, s.journeys);
        }
        Ok(())
    }

    /// Work to start now: what is queued, or (when due) what a request brings, and
    /// standing journeys in place of those that ended.
    pub fn request_work(
        &mut self,
        py: Python<'_>,
        now: f64,
        at_most: u64,
    ) -> Result<Vec<WorkItem>, Failure> {
        if self.queued.is_empty() && !self.stop && self.request_due(now) {
            self.ask(py, now, self.max_work)?;
        }
        let n = (at_most as usize).min(self.queued.len());
        let mut work: Vec<WorkItem> = self.queued.drain(..n).collect();
        if now < self.standing_until && !self.stop {
            for (&scenario, &quota) in &self.standing {
                let running = self.running.entry(scenario).or_insert(0);
                while *running < quota && (work.len() as u64) < at_most {
                    *running += 1;
                    work.push(WorkItem {
                        scenario,
                        item: None,
                        due: None,
                    });
                }
            }
        }
        Ok(work)
    }

    fn request_due(&self, now: f64) -> bool {
        let since = now - self.last_request;
        let early = self.finished_since_request > 0 || self.standing_expired(now);
        since >= self.max_wait || (early && since >= self.min_wait)
    }

    /// The last grant's time is up: a mite-rs controller's answer may differ now (a period
    /// boundary, a spawn slot, an arrival-rate start coming due), standing journeys or not.
    fn standing_expired(&self, now: f64) -> bool {
        self.standing_until.is_finite() && now >= self.standing_until
    }

    /// Standing journeys that could start now.
    fn standing_open(&self, now: f64) -> bool {
        now < self.standing_until
            && self
                .standing
                .iter()
                .any(|(id, quota)| self.running.get(id).copied().unwrap_or(0) < *quota)
    }

    /// Between requests: while stopping, reports finished journeys; once none runs, asks a
    /// last time and says bye.
    pub fn refresh(&mut self, py: Python<'_>, now: f64) -> Result<(), Failure> {
        if !self.stop || self.said_bye {
            return Ok(());
        }
        if self.running.values().sum::<u64>() > 0 {
            if self.request_due(now) {
                self.ask(py, now, Some(0))?;
            }
            return Ok(());
        }
        self.ask(py, now, Some(0))?;
        self.exchange(&Request::Bye {
            runner_id: self.runner_id,
        })?;
        self.said_bye = true;
        Ok(())
    }

    /// The run ended some other way (a failure, an interrupt): reports what finished and
    /// says bye if the controller still answers, so it checks the items in and forgets this
    /// runner at once rather than after its silence timeout.
    pub fn farewell(&mut self, py: Python<'_>, now: f64) {
        self.stop_all();
        if self.said_bye || !self.healthy {
            return;
        }
        let result = self.ask(py, now, Some(0)).and_then(|()| {
            self.exchange(&Request::Bye {
                runner_id: self.runner_id,
            })
        });
        match result {
            Ok(_) => self.said_bye = true,
            Err(Failure(message)) => log::warn!(target: "mite.runner", "saying bye: {message}"),
        }
    }

    /// A journey finished (or could not start): its item id goes back with the next request.
    pub fn finished(&mut self, scenario: ScenarioId, item: Option<ItemId>) {
        let running = self.running.get(&scenario).copied().unwrap_or(0);
        // A standing journey within its quota is replaced here; only one above it (its
        // quota was cut) frees a slot the controller should hear about soon.
        match self.standing.get(&scenario) {
            Some(quota) if running <= *quota && item.is_none() => {}
            _ => self.finished_since_request += 1,
        }
        if let Some(n) = self.running.get_mut(&scenario) {
            *n = n.saturating_sub(1);
        }
        if let Some(item) = item {
            if !item.value.is_nil() {
                self.completed.push((u64::from(scenario), item.value));
            }
        }
    }

    /// The runner stops (an interrupt, a fatal error): no more work; queued items go back.
    pub fn stop_all(&mut self) {
        self.stop = true;
        self.standing.clear();
        while let Some(work) = self.queued.pop_front() {
            let item = work.item.map(|(id, _)| id);
            self.finished(work.scenario, item);
        }
    }

    pub fn is_active(&self) -> bool {
        !self.stop
    }

    pub fn is_finished(&self) -> bool {
        self.said_bye
    }

    /// When the runner should next call [`Self::refresh`] / [`Self::request_work`].
    pub fn next_wakeup(&self, now: f64) -> f64 {
        if self.said_bye {
            return f64::INFINITY;
        }
        let idle = self.stop && self.running.values().sum::<u64>() == 0;
        if !self.queued.is_empty() || idle || self.standing_open(now) {
            return now;
        }
        let mut next = if self.finished_since_request == 0 {
            self.last_request + self.max_wait
        } else {
            self.last_request + self.min_wait
        };
        if self.standing_until.is_finite() {
            next = next.min(self.standing_until.max(self.last_request + self.min_wait));
        }
        next.max(now)
    }

    pub fn journey_spec(&self, id: ScenarioId) -> Arc<str> {
        self.journey_specs
            .get(&id)
            .cloned()
            .unwrap_or_else(|| Arc::from("?"))
    }

    /// Applies the config changes the controller sent since the last call.
    pub fn update_config(&mut self, py: Python<'_>, config: &Bound<'_, PyDict>) -> PyResult<()> {
        for (key, value) in self.config_changes.drain(..) {
            config.set_item(to_py(py, &key)?, to_py(py, &value)?)?;
        }
        Ok(())
    }
}
