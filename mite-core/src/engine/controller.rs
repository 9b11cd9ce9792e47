//! The controller side of the seam between controller and runners (mite's `Controller`).
//!
//! A runner says hello and gets its id, asks for work (reporting the journeys it finished
//! since it last asked), and says bye. The controller evaluates the volume models, shares the
//! required concurrency across the runners it has heard from recently, and reports required
//! and actual work. In-process mode calls these methods directly; a transport carries the
//! same calls between processes.

mod standing;

pub use standing::StandingGrant;

use std::collections::{BTreeMap, BTreeSet};

use thiserror::Error;

use super::scheduler::{
    Arrival, ArrivalCounts, Removal, ScenarioId, Scheduler, SchedulerConfig, VolumeModel,
};

/// A runner's id: 1, 2, 3, … in the order runners said hello (as mite).
pub type RunnerId = u64;

/// mite drops a runner it has not heard from for this many seconds.
pub const RUNNER_TIMEOUT: f64 = 10.0;

#[derive(Debug, Error, PartialEq)]
pub enum ControllerError<E> {
    /// A runner that never said hello, said bye, or was dropped as silent.
    #[error("runner {0} is not known to the controller")]
    UnknownRunner(RunnerId),
    /// A volume model failed (anything but `StopVolumeModel`).
    #[error("volume model of scenario {0} failed")]
    VolumeModel(ScenarioId, E),
}

/// The answer to a work request.
#[derive(Debug, Default, PartialEq)]
pub struct WorkGrant {
    /// One scenario id per journey to start now.
    pub starts: Vec<ScenarioId>,
    /// Journeys of arrival-rate scenarios to start now, with when each was due.
    pub arrivals: Vec<Arrival>,
    /// Scenarios that left the schedule while answering (for mite's log lines).
    pub removals: Vec<Removal>,
    /// No scenario is left: the runner should finish what it runs and stop.
    pub stop: bool,
}

/// What a `controller_report` message says.
#[derive(Debug, PartialEq)]
pub struct ControllerReport {
    /// `(scenario id, required concurrency, actual concurrency)` per active scenario.
    pub scenarios: Vec<(ScenarioId, u64, u64)>,
    pub num_runners: u64,
    /// Starts scheduled and dropped so far by the scenarios with an arrival-rate model.
    pub arrivals: Vec<ArrivalCounts>,
}

struct RunnerEntry {
    last_seen: f64,
    /// Journeys given to this runner and not reported finished, per scenario (for standing
    /// work, the journeys it holds).
    work: BTreeMap<ScenarioId, u64>,
    /// The runner offered standing work (`standing`).
    standing: bool,
    /// The standing journeys it may keep running, per scenario, as last granted.
    quota: BTreeMap<ScenarioId, u64>,
}

impl RunnerEntry {
    fn new(last_seen: f64, standing: bool) -> Self {
        RunnerEntry {
            last_seen,
            work: BTreeMap::new(),
            standing,
            quota: BTreeMap::new(),
        }
    }
}

impl RunnerEntry {
    fn total(&self) -> u64 {
        self.work.values().sum()
    }

    fn take_one(&mut self, id: ScenarioId) -> bool {
        match self.work.get_mut(&id) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }
}

/// The controller of one test: volume models, spawn rate and the runners' shares.
pub struct Controller<M> {
    scheduler: Scheduler<M>,
    runners: BTreeMap<RunnerId, RunnerEntry>,
    next_runner_id: RunnerId,
    /// Seconds of silence after which a runner is dropped; `None` for in-process runners,
    /// which cannot go silent without the controller stopping too.
    timeout: Option<f64>,
    /// Scenarios whose journeys may be standing work (they have no datapool).
    standing: BTreeSet<ScenarioId>,
}

impl<M: VolumeModel> Controller<M> {
    pub fn new(config: SchedulerConfig, timeout: Option<f64>) -> Self {
        Controller {
            scheduler: Scheduler::new(config),
            runners: BTreeMap::new(),
            next_runner_id: 1,
            timeout,
            standing: BTreeSet::new(),
        }
    }

    pub fn add_scenario(&mut self, model: M) -> ScenarioId {
        self.scheduler.add_scenario(model)
    }

    /// A runner joins; `now` is seconds since the controller started.
    pub fn hello(&mut self, now: f64) -> RunnerId {
        self.hello_offering(now, false)
    }

    /// A runner joins, offering standing work or not.
    pub fn hello_offering(&mut self, now: f64, standing: bool) -> RunnerId {
        let id = self.next_runner_id;
        self.next_runner_id += 1;
        self.runners.insert(id, RunnerEntry::new(now, standing));
        id
    }

    /// A runner leaves; what it was running is no longer counted.
    pub fn bye(&mut self, runner: RunnerId) {
        if let Some(entry) = self.runners.remove(&runner) {
            self.forget_work(entry);
        }
    }

    /// A runner asks for work: `finished` holds one scenario id per journey it finished
    /// since it last asked, `max_work` its own cap on concurrent journeys.
    pub fn request_work(
        &mut self,
        runner: RunnerId,
        now: f64,
        finished: &[ScenarioId],
        max_work: Option<u64>,
    ) -> Result<WorkGrant, ControllerError<M::Error>> {
        self.request_work_within(runner, now, finished, max_work, u64::MAX)
    }

    /// [`Self::request_work`], granting at most `budget` journeys in this answer (a runner
    /// that starts a bounded number per loop callback). Arrival-rate starts come first; those
    /// due beyond the budget stay due, those beyond `max_work` are dropped.
    pub fn request_work_within(
        &mut self,
        runner: RunnerId,
        now: f64,
        finished: &[ScenarioId],
        max_work: Option<u64>,
        budget: u64,
    ) -> Result<WorkGrant, ControllerError<M::Error>> {
        self.report_finished(runner, finished)?;
        if let Some(entry) = self.runners.get_mut(&runner) {
            entry.last_seen = now;
        }
        let _ = self.drop_silent(now);
        let removals = self.refresh(now)?;
        let runner_total = self.runners[&runner].total();
        let room = max_work.map_or(u64::MAX, |max| max.saturating_sub(runner_total));
        let arrivals = self.scheduler.plan_arrivals(now, budget, room);
        let taken = arrivals.len() as u64;
        let runner_total = runner_total + taken;
        let mut cap = self
            .share_of(runner)
            .saturating_sub(runner_total)
            .min(budget - taken);
        if let Some(max) = max_work {
            cap = cap.min(max.saturating_sub(runner_total));
        }
        let mut starts = self.scheduler.plan_at_most(now, cap);
        let entry = self.runners.get_mut(&runner).expect("checked above");
        for id in starts.iter().chain(arrivals.iter().map(|a| &a.scenario)) {
            *entry.work.entry(*id).or_insert(0) += 1;
        }
        if entry.standing {
            // Held, not started one by one: they become the runner's quota.
            starts.retain(|id| !self.standing.contains(id) || self.scheduler.is_rate(*id));
            self.update_quota(runner);
        }
        Ok(WorkGrant {
            starts,
            arrivals,
            removals,
            stop: !self.scheduler.is_active(),
        })
    }

    /// A runner of another process says how many journeys it runs per scenario (mite's
    /// `current_work`); journeys given to it and no longer running count as finished. A
    /// runner that does not report its finished journeys one by one (mite's reports only
    /// those with a datapool item) is kept right this way.
    pub fn set_actual(&mut self, runner: RunnerId, current: &[(ScenarioId, u64)]) {
        let Some(entry) = self.runners.get_mut(&runner) else {
            return;
        };
        for (id, assumed) in entry.work.iter_mut() {
            let reported = current.iter().find(|(c, _)| c == id).map_or(0, |(_, n)| *n);
            while *assumed > reported {
                *assumed -= 1;
                self.scheduler.finished(*id);
            }
        }
    }

    /// A runner asks without having said hello to this controller (it outlived a restart,
    /// or was dropped as silent and came back): it is taken on under its own id.
    pub fn readmit(&mut self, runner: RunnerId, now: f64) {
        // Its offer of standing work was made to another controller: it gets items.
        self.runners
            .entry(runner)
            .or_insert_with(|| RunnerEntry::new(now, false));
        self.next_runner_id = self.next_runner_id.max(runner + 1);
    }

    pub fn knows(&self, runner: RunnerId) -> bool {
        self.runners.contains_key(&runner)
    }

    pub fn runner_count(&self) -> usize {
        self.runners.len()
    }

    /// Journeys of `runner` finished (one scenario id each), without asking for more.
    pub fn report_finished(
        &mut self,
        runner: RunnerId,
        finished: &[ScenarioId],
    ) -> Result<(), ControllerError<M::Error>> {
        let entry = self
            .runners
            .get_mut(&runner)
            .ok_or(ControllerError::UnknownRunner(runner))?;
        for &id in finished {
            if entry.take_one(id) {
                self.scheduler.finished(id);
            }
        }
        Ok(())
    }

    /// A journey granted to `runner` could not start (no datapool item, a bad scenario).
    pub fn give_back(&mut self, runner: RunnerId, id: ScenarioId) {
        if let Some(entry) = self.runners.get_mut(&runner) {
            if entry.take_one(id) {
                self.scheduler.not_started(id);
            }
        }
    }

    /// Journeys granted to `runner` and not yet reported finished or given back.
    pub fn outstanding(&self, runner: RunnerId) -> u64 {
        self.runners.get(&runner).map_or(0, RunnerEntry::total)
    }

    /// Evaluates the volume models if a period ended.
    pub fn refresh(&mut self, now: f64) -> Result<Vec<Removal>, ControllerError<M::Error>> {
        self.scheduler
            .refresh(now)
            .map_err(|(id, e)| ControllerError::VolumeModel(id, e))
    }

    /// The scenario's datapool has nothing to give right now.
    pub fn starve(&mut self, id: ScenarioId) {
        self.scheduler.starve(id);
    }

    /// The scenario's datapool is exhausted: the scenario ends.
    pub fn exhaust(&mut self, id: ScenarioId) -> Option<Removal> {
        self.scheduler.exhaust(id)
    }

    /// Ends every scenario now; journeys already running are left to their runners.
    pub fn stop_all(&mut self) {
        self.scheduler.stop_all();
    }

    /// Still in the start delay, or some scenario is left.
    pub fn is_active(&self) -> bool {
        self.scheduler.is_active()
    }

    /// No scenario left and no journey running anywhere: the test is over.
    pub fn is_finished(&self) -> bool {
        self.scheduler.is_finished()
    }

    /// When the controller next needs to be asked if no journey finishes before then.
    pub fn next_wakeup(&self, now: f64) -> f64 {
        self.scheduler.next_wakeup(now)
    }

    pub fn report(&self) -> ControllerReport {
        ControllerReport {
            scenarios: self.scheduler.report(),
            num_runners: self.runners.len() as u64,
            arrivals: self.scheduler.arrivals(),
        }
    }

    /// This runner's share of the required total: an even split, the remainder going one
    /// each to the runners with the lowest ids, so the shares add up to the total exactly.
    fn share_of(&self, runner: RunnerId) -> u64 {
        self.part_of(self.scheduler.required_total(), runner)
    }

    /// `runner`'s part of `total` split across the runners as [`Self::share_of`] splits.
    fn part_of(&self, total: u64, runner: RunnerId) -> u64 {
        let count = self.runners.len() as u64;
        if count == 0 {
            return 0;
        }
        let rank = self.runners.keys().take_while(|&&id| id < runner).count() as u64;
        total / count + u64::from(rank < total % count)
    }

    /// Drops the runners not heard from for the timeout; their ids, so what they held can
    /// go back.
    pub fn drop_silent(&mut self, now: f64) -> Vec<RunnerId> {
        let Some(timeout) = self.timeout else {
            return Vec::new();
        };
        let silent: Vec<RunnerId> = self
            .runners
            .iter()
            .filter(|(_, entry)| entry.last_seen + timeout < now)
            .map(|(&id, _)| id)
            .collect();
        for &id in &silent {
            log::warn!(target: "mite.controller", "Runner {id} went silent; its share moves to the others");
            self.bye(id);
        }
        silent
    }

    fn forget_work(&mut self, entry: RunnerEntry) {
        for (id, n) in entry.work {
            for _ in 0..n {
                self.scheduler.release(id);
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::engine::scheduler::Volume;

    pub(super) struct Level(pub(super) i64);

    impl VolumeModel for Level {
        type Error = ();
        fn volume(&mut self, _: i64, _: i64) -> Result<Volume, ()> {
            Ok(Volume::Level(self.0))
        }
    }

    pub(super) fn controller(timeout: Option<f64>) -> Controller<Level> {
        Controller::new(
            SchedulerConfig {
                start_delay: 0.0,
                period: 1.0,
                spawn_rate: None,
            },
            timeout,
        )
    }

    #[test]
    fn a_runners_reported_work_replaces_what_it_was_given() {
        let mut c = controller(None);
        let id = c.add_scenario(Level(4));
        let r = c.hello(0.0);
        assert_eq!(c.request_work(r, 0.0, &[], None).unwrap().starts.len(), 4);
        // Two finished without being reported one by one: the runner says it runs two.
        c.set_actual(r, &[(id, 2)]);
        assert_eq!(c.outstanding(r), 2);
        assert_eq!(c.request_work(r, 0.1, &[], None).unwrap().starts.len(), 2);
        c.set_actual(r, &[]);
        assert_eq!(c.outstanding(r), 0);
    }

    #[test]
    fn an_unknown_runner_is_readmitted_under_its_id() {
        let mut c = controller(Some(10.0));
        c.add_scenario(Level(2));
        assert!(!c.knows(5));
        c.readmit(5, 0.0);
        assert!(c.knows(5));
        assert_eq!(c.request_work(5, 0.0, &[], None).unwrap().starts.len(), 2);
        assert_eq!(c.hello(0.0), 6);
        assert_eq!(c.drop_silent(20.0), vec![5, 6]);
        assert_eq!(c.runner_count(), 0);
    }

    #[test]
    fn runners_get_ids_in_the_order_they_said_hello() {
        let mut c = controller(None);
        assert_eq!([c.hello(0.0), c.hello(0.0), c.hello(0.0)], [1, 2, 3]);
        assert_eq!(c.report().num_runners, 3);
    }

    #[test]
    fn a_single_runner_gets_the_whole_volume() {
        let mut c = controller(None);
        c.add_scenario(Level(7));
        let r = c.hello(0.0);
        let grant = c.request_work(r, 0.0, &[], None).unwrap();
        assert_eq!(grant.starts.len(), 7);
        assert!(!grant.stop);
        assert!(c.request_work(r, 0.1, &[], None).unwrap().starts.is_empty());
    }

    #[test]
    fn the_cluster_holds_the_volume_not_each_runner() {
        let mut c = controller(None);
        c.add_scenario(Level(10));
        let (a, b, d) = (c.hello(0.0), c.hello(0.0), c.hello(0.0));
        let got: Vec<usize> = [a, b, d]
            .iter()
            .map(|&r| c.request_work(r, 0.0, &[], None).unwrap().starts.len())
            .collect();
        assert_eq!(got, [4, 3, 3]);
        let report = c.report();
        assert_eq!(report.scenarios, [(1, 10, 10)]);
    }

    #[test]
    fn finished_journeys_are_refilled_on_the_next_request() {
        let mut c = controller(None);
        let s = c.add_scenario(Level(2));
        let r = c.hello(0.0);
        assert_eq!(c.request_work(r, 0.0, &[], None).unwrap().starts, [s, s]);
        assert_eq!(c.request_work(r, 0.1, &[s], None).unwrap().starts, [s]);
    }

    #[test]
    fn a_runner_never_gets_more_than_its_own_cap() {
        let mut c = controller(None);
        c.add_scenario(Level(100));
        let r = c.hello(0.0);
        assert_eq!(
            c.request_work(r, 0.0, &[], Some(5)).unwrap().starts.len(),
            5
        );
        assert!(c
            .request_work(r, 0.1, &[], Some(5))
            .unwrap()
            .starts
            .is_empty());
    }

    #[test]
    fn a_silent_runner_is_dropped_and_its_share_moves_to_the_others() {
        let mut c = controller(Some(RUNNER_TIMEOUT));
        c.add_scenario(Level(10));
        let (a, b) = (c.hello(0.0), c.hello(0.0));
        assert_eq!(c.request_work(a, 0.0, &[], None).unwrap().starts.len(), 5);
        assert_eq!(c.request_work(b, 0.0, &[], None).unwrap().starts.len(), 5);
        // b says nothing for longer than the timeout; a takes over the whole volume.
        assert_eq!(c.request_work(a, 11.0, &[], None).unwrap().starts.len(), 5);
        assert_eq!(c.report().num_runners, 1);
        assert_eq!(
            c.request_work(b, 11.5, &[], None),
            Err(ControllerError::UnknownRunner(b))
        );
    }

    #[test]
    fn bye_stops_counting_the_runners_journeys() {
        let mut c = controller(None);
        c.add_scenario(Level(4));
        let (a, b) = (c.hello(0.0), c.hello(0.0));
        c.request_work(a, 0.0, &[], None).unwrap();
        c.request_work(b, 0.0, &[], None).unwrap();
        c.bye(b);
        assert_eq!(c.report().scenarios, [(1, 4, 2)]);
        assert_eq!(c.request_work(a, 0.1, &[], None).unwrap().starts.len(), 2);
    }

    #[test]
    fn given_back_work_is_planned_again() {
        let mut c = controller(None);
        let s = c.add_scenario(Level(1));
        let r = c.hello(0.0);
        assert_eq!(c.request_work(r, 0.0, &[], None).unwrap().starts, [s]);
        c.give_back(r, s);
        assert_eq!(c.request_work(r, 0.0, &[], None).unwrap().starts, [s]);
    }

    #[test]
    fn finishing_work_never_given_changes_nothing() {
        let mut c = controller(None);
        let s = c.add_scenario(Level(1));
        let r = c.hello(0.0);
        c.request_work(r, 0.0, &[], None).unwrap();
        c.report_finished(r, &[s, s, s]).unwrap();
        assert_eq!(c.report().scenarios, [(1, 1, 0)]);
    }

    struct Arrivals(f64);

    impl VolumeModel for Arrivals {
        type Error = ();
        fn volume(&mut self, _: i64, _: i64) -> Result<Volume, ()> {
            Ok(Volume::Rate(crate::engine::Rate {
                per_second: self.0,
                until: self.0,
                max_journeys: 100,
            }))
        }
    }

    #[test]
    fn arrivals_go_to_the_runner_that_asks_and_count_as_its_work() {
        let mut c = Controller::new(
            SchedulerConfig {
                start_delay: 0.0,
                period: 1.0,
                spawn_rate: None,
            },
            None,
        );
        let s = c.add_scenario(Arrivals(10.0));
        let (a, b) = (c.hello(0.0), c.hello(0.0));
        assert_eq!(c.request_work(a, 0.0, &[], None).unwrap().arrivals.len(), 1);
        let grant = c.request_work(a, 0.25, &[], None).unwrap();
        assert!(grant.starts.is_empty());
        assert_eq!(grant.arrivals.len(), 2);
        assert_eq!(c.outstanding(a), 3);
        // Runner b may run one more: of the two due, one is dropped.
        let grant = c
            .request_work_within(b, 0.45, &[], Some(1), u64::MAX)
            .unwrap();
        assert_eq!(grant.arrivals.len(), 1);
        c.report_finished(a, &[s, s]).unwrap();
        let report = c.report();
        assert_eq!(report.scenarios, [(s, 0, 2)]);
        assert_eq!(
            report.arrivals,
            [ArrivalCounts {
                scenario: s,
                scheduled: 5,
                dropped: 1
            }]
        );
    }

    #[test]
    fn stop_is_signalled_when_no_scenario_is_left() {
        let mut c = controller(None);
        let s = c.add_scenario(Level(1));
        let r = c.hello(0.0);
        c.request_work(r, 0.0, &[], None).unwrap();
        c.stop_all();
        let grant = c.request_work(r, 0.1, &[s], None).unwrap();
        assert!(grant.stop && grant.starts.is_empty());
        assert!(c.is_finished());
    }
}
