use super::arrivals::{Rate, Timetable};
use super::SpawnLimit;

/// A scenario's id: 1, 2, 3, … in the order the scenario function returned them (as mite).
pub type ScenarioId = u32;

/// What a volume model says for one period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Volume {
    /// Keep this many journeys of the scenario running.
    Level(i64),
    /// Start journeys at this rate over the window, whatever is running (an arrival-rate
    /// model); see [`super::arrivals`].
    Rate(Rate),
    /// The model raised `StopVolumeModel`: the scenario ends.
    Stop,
}

/// mite's volume model: `vm(start, end)` evaluated once per period, seconds since the start.
pub trait VolumeModel {
    type Error;
    fn volume(&mut self, start: i64, end: i64) -> Result<Volume, Self::Error>;
}

/// Why a scenario left the schedule (for the log lines mite prints).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    VolumeModelStopped(ScenarioId),
    DataPoolExhausted(ScenarioId),
}

#[derive(Debug, Clone, Copy)]
pub struct SchedulerConfig {
    /// Seconds before time zero; no journeys run during it.
    pub start_delay: f64,
    /// Seconds between volume model evaluations (`--max-loop-delay`).
    pub period: f64,
    /// `--spawn-rate`: journeys per second by which total concurrency may grow.
    pub spawn_rate: Option<f64>,
}

struct Scenario<M> {
    id: ScenarioId,
    model: M,
    active: bool,
    required: u64,
    running: u64,
    /// The datapool had nothing to give; wait for a check-in or the next period.
    starved: bool,
    /// The starts of an arrival-rate model, once it said a rate.
    timetable: Option<Timetable>,
    /// The most journeys running at once the rate model allows (its latest window's).
    max_journeys: u64,
    /// The rate model raised `StopVolumeModel`, but starts of its last windows are still
    /// due: the scenario stays until they are taken, then leaves.
    draining: bool,
}

/// A start an arrival-rate model scheduled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival {
    pub scenario: ScenarioId,
    /// When it was due, on the scheduler's clock.
    pub due: f64,
}

/// What became of one arrival-rate scenario's starts so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArrivalCounts {
    pub scenario: ScenarioId,
    /// Starts that came due.
    pub scheduled: u64,
    /// Of those, starts that did not happen (see [`Scheduler::plan_arrivals`]).
    pub dropped: u64,
}

/// The in-process controller: required concurrency per scenario, journeys running, and how
/// many to start now. Times are seconds since the scheduler was created.
pub struct Scheduler<M> {
    config: SchedulerConfig,
    scenarios: Vec<Scenario<M>>,
    /// Time zero (the end of the start delay), once reached.
    zero: Option<f64>,
    current_period_end: i64,
    /// Test time of the last evaluation (see `refresh`).
    last_evaluation: Option<f64>,
    limit: SpawnLimit,
    /// Round-robin position, so no scenario is favoured when slots are scarce.
    next_pick: usize,
}

impl<M> Scenario<M> {
    /// Whether its timetable still holds a start (due now or later in its windows).
    fn has_due_starts(&self) -> bool {
        self.timetable
            .as_ref()
            .is_some_and(|t| t.next_due().is_some())
    }

    fn deactivate(&mut self) {
        self.active = false;
        self.required = 0;
        if let Some(timetable) = &mut self.timetable {
            timetable.close();
        }
    }
}

impl<M: VolumeModel> Scheduler<M> {
    pub fn new(config: SchedulerConfig) -> Self {
        Scheduler {
            limit: SpawnLimit::new(config.spawn_rate),
            config,
            scenarios: Vec::new(),
            zero: None,
            current_period_end: 0,
            last_evaluation: None,
            next_pick: 0,
        }
    }

    pub fn add_scenario(&mut self, model: M) -> ScenarioId {
        let id = self.scenarios.len() as ScenarioId + 1;
        self.scenarios.push(Scenario {
            id,
            model,
            active: true,
            required: 0,
            running: 0,
            starved: false,
            timetable: None,
            max_journeys: 0,
            draining: false,
        });
        id
    }

    fn scenario_mut(&mut self, id: ScenarioId) -> Option<&mut Scenario<M>> {
        self.scenarios.get_mut(id.checked_sub(1)? as usize)
    }

    /// Seconds since time zero, or `None` during the start delay.
    fn test_time(&mut self, now: f64) -> Option<f64> {
        let in_delay = self.config.start_delay > 0.0 && now <= self.config.start_delay;
        if self.zero.is_none() && !in_delay {
            self.zero = Some(now);
        }
        self.zero.map(|zero| now - zero)
    }

    /// Evaluates every volume model if a period ended (mite's `get_required_work`): called
    /// with `(start = previous end, end = int(t + period))`. Returns the scenarios removed.
    pub fn refresh(&mut self, now: f64) -> Result<Vec<Removal>, (ScenarioId, M::Error)> {
        let Some(t) = self.test_time(now) else {
            return Ok(Vec::new());
        };
        if t < self.current_period_end as f64 {
            return Ok(Vec::new());
        }
        // With a period under a second, `int(t + period)` can stay at or below `t`, and mite
        // re-evaluates on every work request; evaluate at most once per period instead.
        if self.config.period < 1.0
            && self
                .last_evaluation
                .is_some_and(|last| t < last + self.config.period)
        {
            return Ok(Vec::new());
        }
        self.last_evaluation = Some(t);
        let start = self.current_period_end;
        self.evaluate(start, (t + self.config.period) as i64)
    }

    /// Calls every volume model for the window `(start, end)` and makes `end` the end of
    /// the current period. Returns the scenarios removed.
    pub fn evaluate(
        &mut self,
        start: i64,
        end: i64,
    ) -> Result<Vec<Removal>, (ScenarioId, M::Error)> {
        let mut removed = Vec::new();
        self.last_evaluation.get_or_insert(start as f64);
        for scenario in self
            .scenarios
            .iter_mut()
            .filter(|s| s.active && !s.draining)
        {
            match scenario.model.volume(start, end) {
                Ok(Volume::Level(n)) => {
                    scenario.required = n.max(0) as u64;
                    if let Some(timetable) = &mut scenario.timetable {
                        timetable.close();
                    }
                }
                Ok(Volume::Rate(rate)) => {
                    scenario.required = 0;
                    scenario.max_journeys = rate.max_journeys;
                    let timetable = scenario.timetable.get_or_insert_with(Timetable::default);
                    timetable.add_window(start as f64, end as f64, rate);
                }
                Ok(Volume::Stop) => {
                    if scenario.has_due_starts() {
                        scenario.draining = true;
                        scenario.required = 0;
                    } else {
                        scenario.deactivate();
                    }
                    removed.push(Removal::VolumeModelStopped(scenario.id));
                }
                Err(e) => return Err((scenario.id, e)),
            }
            scenario.starved = false;
        }
        self.current_period_end = end;
        Ok(removed)
    }

    /// Decides which journeys to start now and counts them as running. Returns scenario ids,
    /// one entry per journey to start, interleaved across scenarios.
    pub fn plan(&mut self, now: f64) -> Vec<ScenarioId> {
        self.plan_at_most(now, u64::MAX)
    }

    /// [`Scheduler::plan`], starting no more than `cap` journeys (a runner's share).
    pub fn plan_at_most(&mut self, now: f64, cap: u64) -> Vec<ScenarioId> {
        let mut starts = Vec::new();
        if self.zero.is_none() || cap == 0 {
            return starts;
        }
        let required_total = self.required_total();
        let running_total = self.running_total();
        let allowed = self.limit.allowed(now, required_total, running_total);
        let mut budget = allowed.saturating_sub(running_total).min(cap);
        let count = self.scenarios.len();
        while budget > 0 {
            let mut progressed = false;
            for offset in 0..count {
                if budget == 0 {
                    break;
                }
                let index = (self.next_pick + offset) % count;
                let scenario = &mut self.scenarios[index];
                if scenario.active && !scenario.starved && scenario.running < scenario.required {
                    scenario.running += 1;
                    budget -= 1;
                    starts.push(scenario.id);
                    progressed = true;
                }
            }
            if count > 0 {
                self.next_pick = (self.next_pick + 1) % count;
            }
            if !progressed {
                break;
            }
        }
        starts
    }

    /// The arrival-rate starts due by `now`, at most `budget` of them; the rest stay due for
    /// the next call. A due start is dropped instead when its scenario runs its
    /// `max_journeys`, or when `room` (how many more journeys the asking runner may run) is
    /// used up. Each start taken counts as running.
    pub fn plan_arrivals(&mut self, now: f64, mut budget: u64, mut room: u64) -> Vec<Arrival> {
        let mut starts = Vec::new();
        let Some(zero) = self.zero else {
            return starts;
        };
        let t = now - zero;
        for scenario in self.scenarios.iter_mut().filter(|s| s.active) {
            let Some(timetable) = &mut scenario.timetable else {
                continue;
            };
            while budget > 0 {
                let Some(due) = timetable.next_due().filter(|&due| due <= t) else {
                    break;
                };
                timetable.take();
                if scenario.running >= scenario.max_journeys || room == 0 {
                    timetable.drop_one();
                    continue;
                }
                scenario.running += 1;
                budget -= 1;
                room -= 1;
                starts.push(Arrival {
                    scenario: scenario.id,
                    due: zero + due,
                });
            }
            if scenario.draining && !scenario.has_due_starts() {
                scenario.deactivate();
            }
        }
        // Across scenarios, the earliest due first.
        starts.sort_by(|a, b| a.due.total_cmp(&b.due));
        starts
    }

    /// A start that was planned could not happen (no datapool item, the runner left before
    /// taking it): its slot goes back, and an arrival-rate start counts as dropped.
    pub fn not_started(&mut self, id: ScenarioId) {
        if let Some(s) = self.scenario_mut(id) {
            s.running = s.running.saturating_sub(1);
            if let Some(timetable) = &mut s.timetable {
                timetable.drop_one();
            }
        }
    }

    /// Scenario `id`'s volume model.
    pub fn model_mut(&mut self, id: ScenarioId) -> Option<&mut M> {
        self.scenario_mut(id).map(|s| &mut s.model)
    }

    /// Whether scenario `id` has had an arrival-rate model.
    pub fn is_rate(&self, id: ScenarioId) -> bool {
        self.scenarios
            .get((id as usize).wrapping_sub(1))
            .is_some_and(|s| s.timetable.is_some())
    }

    /// Starts scheduled and dropped so far, for every scenario that had a rate model.
    pub fn arrivals(&self) -> Vec<ArrivalCounts> {
        self.scenarios
            .iter()
            .filter_map(|s| {
                let timetable = s.timetable.as_ref()?;
                Some(ArrivalCounts {
                    scenario: s.id,
                    scheduled: timetable.scheduled,
                    dropped: timetable.dropped,
                })
            })
            .collect()
    }

    /// Overrides the required concurrency of scenario `id` until its model is next evaluated.
    pub fn set_required(&mut self, id: ScenarioId, required: u64) {
        if let Some(s) = self.scenario_mut(id) {
            s.required = required;
        }
    }

    /// Sets how many journeys of scenario `id` run, for a caller that counts them itself
    /// (mite's `ScenarioManager.get_work` is told the controller-wide current work).
    pub fn set_running(&mut self, id: ScenarioId, running: u64) {
        if let Some(s) = self.scenario_mut(id) {
            s.running = running;
        }
    }

    /// `(scenario id, required)` for every active scenario, once the volume models were
    /// first evaluated (nothing during the start delay, as mite).
    pub fn required(&self) -> impl Iterator<Item = (ScenarioId, u64)> + '_ {
        let evaluated = self.last_evaluation.is_some();
        self.scenarios
            .iter()
            .filter(move |s| evaluated && s.active)
            .map(|s| (s.id, s.required))
    }

    /// A planned journey is no longer counted (its runner left): give its slot back. A start
    /// that did not happen is [`Scheduler::not_started`].
    pub fn release(&mut self, id: ScenarioId) {
        if let Some(s) = self.scenario_mut(id) {
            s.running = s.running.saturating_sub(1);
        }
    }

    /// A journey of scenario `id` finished; its datapool item (if any) was checked in.
    pub fn finished(&mut self, id: ScenarioId) {
        if let Some(s) = self.scenario_mut(id) {
            s.running = s.running.saturating_sub(1);
            s.starved = false;
        }
    }

    /// The scenario's datapool has no item right now: stop asking until something changes.
    pub fn starve(&mut self, id: ScenarioId) {
        if let Some(s) = self.scenario_mut(id) {
            s.starved = true;
        }
    }

    /// The scenario's datapool is exhausted: the scenario ends (running journeys go on).
    pub fn exhaust(&mut self, id: ScenarioId) -> Option<Removal> {
        let s = self.scenario_mut(id)?;
        if !s.active {
            return None;
        }
        s.deactivate();
        Some(Removal::DataPoolExhausted(id))
    }

    /// Ends every scenario now (interrupt); running journeys are left to the caller.
    pub fn stop_all(&mut self) {
        for s in &mut self.scenarios {
            s.deactivate();
        }
    }

    /// Still in the start delay, or some scenario is left (mite's `is_active`).
    pub fn is_active(&self) -> bool {
        self.zero.is_none() && !self.scenarios.is_empty() || self.scenarios.iter().any(|s| s.active)
    }

    /// No scenario left and no journey running: the run is over.
    pub fn is_finished(&self) -> bool {
        !self.is_active() && self.running_total() == 0
    }

    pub fn running_total(&self) -> u64 {
        self.scenarios.iter().map(|s| s.running).sum()
    }

    pub fn required_total(&self) -> u64 {
        self.scenarios
            .iter()
            .filter(|s| s.active)
            .map(|s| s.required)
            .sum()
    }

    /// `(required, running)` of scenario `id`, if it is active.
    pub fn load(&self, id: ScenarioId) -> Option<(u64, u64)> {
        self.scenarios
            .iter()
            .find(|s| s.id == id && s.active)
            .map(|s| (s.required, s.running))
    }

    /// `(scenario id, required, running)` for every active scenario, for controller reports.
    pub fn report(&self) -> Vec<(ScenarioId, u64, u64)> {
        self.scenarios
            .iter()
            .filter(|s| s.active)
            .map(|s| (s.id, s.required, s.running))
            .collect()
    }

    /// When the scheduler next needs to run if no journey finishes before then.
    pub fn next_wakeup(&self, now: f64) -> f64 {
        let period_boundary = match self.zero {
            None => self.config.start_delay + 1e-6,
            Some(zero) => zero + self.current_period_end as f64,
        };
        let wants_more = self
            .scenarios
            .iter()
            .any(|s| s.active && !s.starved && s.running < s.required);
        let slot = if wants_more {
            self.limit
                .next_slot_in(self.required_total())
                .map(|dt| now + dt)
        } else {
            None
        };
        let arrival = self.zero.and_then(|zero| {
            self.scenarios
                .iter()
                .filter(|s| s.active)
                .filter_map(|s| s.timetable.as_ref()?.next_due())
                .min_by(f64::total_cmp)
                .map(|due| zero + due)
        });
        [slot, arrival]
            .into_iter()
            .flatten()
            .fold(period_boundary, f64::min)
            .max(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A volume model from a closure, recording its calls.
    struct Model {
        f: Box<dyn FnMut(i64, i64) -> Volume>,
        calls: Vec<(i64, i64)>,
    }

    impl VolumeModel for Model {
        type Error = String;
        fn volume(&mut self, start: i64, end: i64) -> Result<Volume, String> {
            self.calls.push((start, end));
            Ok((self.f)(start, end))
        }
    }

    fn model(f: impl FnMut(i64, i64) -> Volume + 'static) -> Model {
        Model {
            f: Box::new(f),
            calls: Vec::new(),
        }
    }

    fn config(start_delay: f64, spawn_rate: Option<f64>) -> SchedulerConfig {
        SchedulerConfig {
            start_delay,
            period: 1.0,
            spawn_rate,
        }
    }

    #[test]
    fn a_caller_that_counts_running_journeys_itself_gets_the_gap_planned() {
        let mut s = Scheduler::new(config(0.0, None));
        s.add_scenario(model(|_, _| Volume::Level(5)));
        s.refresh(0.0).unwrap();
        s.set_running(1, 3);
        assert_eq!(s.plan(0.0), [1, 1]);
        s.set_running(1, 0);
        assert_eq!(s.plan_at_most(0.0, 4), [1, 1, 1, 1]);
        assert_eq!(s.required().collect::<Vec<_>>(), [(1, 5)]);
    }

    #[test]
    fn an_explicit_window_evaluates_the_models_and_sets_the_period_end() {
        let mut s = Scheduler::new(config(0.0, None));
        s.add_scenario(model(|start, end| Volume::Level(end - start)));
        assert_eq!(
            s.required().count(),
            0,
            "nothing before the first evaluation"
        );
        s.refresh(0.0).unwrap();
        s.evaluate(5, 10).unwrap();
        assert_eq!(s.required().collect::<Vec<_>>(), [(1, 5)]);
        s.set_required(1, 2);
        assert_eq!(s.required().collect::<Vec<_>>(), [(1, 2)]);
        s.refresh(11.0).unwrap();
        assert_eq!(s.scenarios[0].model.calls, [(0, 1), (5, 10), (10, 12)]);
    }

    #[test]
    fn volume_models_see_mites_integer_periods() {
        let mut s = Scheduler::new(config(0.0, None));
        s.add_scenario(model(|_, _| Volume::Level(1)));
        for now in [0.0, 0.5, 1.0, 1.7, 2.2, 3.0] {
            s.refresh(now).unwrap();
        }
        assert_eq!(s.scenarios[0].model.calls, [(0, 1), (1, 2), (2, 3), (3, 4)]);
    }

    #[test]
    fn short_periods_evaluate_once_per_period_not_on_every_call() {
        let mut s = Scheduler::new(SchedulerConfig {
            start_delay: 0.0,
            period: 0.2,
            spawn_rate: None,
        });
        s.add_scenario(model(|_, _| Volume::Level(1)));
        for i in 0..100 {
            s.refresh(f64::from(i) * 0.01).unwrap();
        }
        assert_eq!(s.scenarios[0].model.calls.len(), 5);
    }

    #[test]
    fn nothing_runs_during_the_start_delay_and_time_restarts_after_it() {
        let mut s = Scheduler::new(config(2.0, None));
        s.add_scenario(model(|_, _| Volume::Level(3)));
        s.refresh(1.0).unwrap();
        assert!(s.plan(1.0).is_empty());
        assert!(s.is_active());
        s.refresh(2.5).unwrap();
        assert_eq!(s.scenarios[0].model.calls, [(0, 1)]);
        assert_eq!(s.plan(2.5), [1, 1, 1]);
    }

    #[test]
    fn plan_fills_up_to_the_required_concurrency_and_refills_finished_slots() {
        let mut s = Scheduler::new(config(0.0, None));
        let id = s.add_scenario(model(|_, _| Volume::Level(3)));
        s.refresh(0.1).unwrap();
        assert_eq!(s.plan(0.1).len(), 3);
        assert!(s.plan(0.1).is_empty());
        s.finished(id);
        assert_eq!(s.plan(0.2), [id]);
    }

    #[test]
    fn slots_are_shared_round_robin_when_limited() {
        let mut s = Scheduler::new(config(0.0, Some(4.0)));
        s.add_scenario(model(|_, _| Volume::Level(10)));
        s.add_scenario(model(|_, _| Volume::Level(10)));
        s.refresh(0.0).unwrap();
        let mut started = s.plan(0.0);
        started.extend(s.plan(1.0));
        assert_eq!(started.len(), 5);
        let first = started.iter().filter(|&&id| id == 1).count();
        assert!((2..=3).contains(&first), "{started:?}");
    }

    #[test]
    fn stop_removes_the_scenario_and_the_run_ends_when_journeys_finish() {
        let mut s = Scheduler::new(config(0.0, None));
        let id = s.add_scenario(model(|start, _| {
            if start > 0 {
                Volume::Stop
            } else {
                Volume::Level(1)
            }
        }));
        s.refresh(0.0).unwrap();
        assert_eq!(s.plan(0.0), [id]);
        assert_eq!(s.refresh(1.0).unwrap(), [Removal::VolumeModelStopped(id)]);
        assert!(!s.is_active());
        assert!(!s.is_finished());
        s.finished(id);
        assert!(s.is_finished());
    }

    #[test]
    fn exhausted_and_starved_scenarios_stop_asking() {
        let mut s = Scheduler::new(config(0.0, None));
        let a = s.add_scenario(model(|_, _| Volume::Level(2)));
        let b = s.add_scenario(model(|_, _| Volume::Level(2)));
        s.refresh(0.0).unwrap();
        assert_eq!(s.plan(0.0).len(), 4);
        s.release(a);
        s.starve(a);
        assert!(s.plan(0.0).is_empty());
        s.finished(a);
        assert_eq!(s.plan(0.0), [a, a]);
        assert_eq!(s.exhaust(b), Some(Removal::DataPoolExhausted(b)));
        assert_eq!(s.exhaust(b), None);
        s.release(b);
        s.finished(b);
        assert!(s.plan(0.0).is_empty());
    }

    #[test]
    fn negative_volumes_mean_zero() {
        let mut s = Scheduler::new(config(0.0, None));
        s.add_scenario(model(|_, _| Volume::Level(-5)));
        s.refresh(0.0).unwrap();
        assert!(s.plan(0.0).is_empty());
    }

    #[test]
    fn volume_model_errors_name_the_scenario() {
        struct Failing;
        impl VolumeModel for Failing {
            type Error = &'static str;
            fn volume(&mut self, _: i64, _: i64) -> Result<Volume, &'static str> {
                Err("boom")
            }
        }
        let mut s = Scheduler::new(config(0.0, None));
        s.add_scenario(Failing);
        assert_eq!(s.refresh(0.0).err(), Some((1, "boom")));
    }

    fn rate(per_second: f64, max_journeys: u64) -> Volume {
        Volume::Rate(Rate {
            per_second,
            until: per_second,
            max_journeys,
        })
    }

    /// Two starts a second, then `StopVolumeModel` from the second window on.
    fn two_a_second_for_a_second() -> Model {
        model(|start, _| {
            if start >= 1 {
                Volume::Stop
            } else {
                rate(2.0, 10)
            }
        })
    }

    #[test]
    fn arrivals_start_when_due_whatever_is_running() {
        let mut s = Scheduler::new(config(0.0, None));
        let id = s.add_scenario(model(|_, _| rate(10.0, 1000)));
        s.refresh(0.0).unwrap();
        let first = s.plan_arrivals(0.0, u64::MAX, u64::MAX);
        assert_eq!(
            first,
            [Arrival {
                scenario: id,
                due: 0.0
            }]
        );
        // Nothing finished, yet four more are due by 0.45 s.
        let due: Vec<f64> = s
            .plan_arrivals(0.45, u64::MAX, u64::MAX)
            .iter()
            .map(|a| a.due)
            .collect();
        assert_eq!(due.len(), 4);
        assert!((due[3] - 0.4).abs() < 1e-9, "{due:?}");
        assert_eq!(s.running_total(), 5);
        assert!(
            s.plan(0.45).is_empty(),
            "a rate model asks for no concurrency"
        );
        assert!((s.next_wakeup(0.45) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn arrivals_past_the_cap_or_the_runners_room_are_dropped_and_counted() {
        let mut s = Scheduler::new(config(0.0, None));
        let id = s.add_scenario(model(|_, _| rate(10.0, 3)));
        s.refresh(0.0).unwrap();
        assert_eq!(s.plan_arrivals(0.95, u64::MAX, u64::MAX).len(), 3);
        let counts = s.arrivals();
        assert_eq!(
            counts,
            [ArrivalCounts {
                scenario: id,
                scheduled: 10,
                dropped: 7
            }]
        );
        s.finished(id);
        s.refresh(1.0).unwrap();
        // Room for none on this runner: dropped too.
        assert!(s.plan_arrivals(1.05, u64::MAX, 0).is_empty());
        assert_eq!(s.arrivals()[0].dropped, 8);
        // A start that could not happen after all counts as dropped.
        assert_eq!(s.plan_arrivals(1.15, u64::MAX, u64::MAX).len(), 1);
        s.not_started(id);
        assert_eq!(
            s.arrivals()[0],
            ArrivalCounts {
                scenario: id,
                scheduled: 12,
                dropped: 9
            }
        );
    }

    #[test]
    fn arrivals_beyond_the_budget_stay_due_for_the_next_call() {
        let mut s = Scheduler::new(config(0.0, None));
        s.add_scenario(model(|_, _| rate(100.0, 1000)));
        s.refresh(0.0).unwrap();
        assert_eq!(s.plan_arrivals(0.5, 20, u64::MAX).len(), 20);
        assert_eq!(s.next_wakeup(0.5), 0.5, "more are due now");
        let rest = s.plan_arrivals(0.5, u64::MAX, u64::MAX);
        assert_eq!(rest.len(), 31);
        assert_eq!(s.arrivals()[0].dropped, 0);
    }

    #[test]
    fn starts_still_due_when_the_rate_model_stops_are_taken_before_it_leaves() {
        let mut s = Scheduler::new(config(0.0, None));
        s.add_scenario(two_a_second_for_a_second());
        s.refresh(0.0).unwrap();
        assert_eq!(s.plan_arrivals(0.2, u64::MAX, u64::MAX).len(), 1);
        // Nobody asked between 0.5 s and the stop: that start is still handed out.
        assert_eq!(s.refresh(1.0).unwrap().len(), 1);
        assert!(s.is_active());
        let late = s.plan_arrivals(1.0, u64::MAX, u64::MAX);
        assert_eq!(late.len(), 1);
        assert_eq!(late[0].due, 0.5);
        assert!(!s.is_active());
        assert_eq!(s.arrivals()[0].scheduled, 2);
    }

    #[test]
    fn a_stopped_rate_model_schedules_nothing_more() {
        let mut s = Scheduler::new(config(0.0, None));
        s.add_scenario(two_a_second_for_a_second());
        s.refresh(0.0).unwrap();
        assert_eq!(s.plan_arrivals(0.99, u64::MAX, u64::MAX).len(), 2);
        s.refresh(1.0).unwrap();
        assert!(s.plan_arrivals(5.0, u64::MAX, u64::MAX).is_empty());
        assert_eq!(s.arrivals()[0].scheduled, 2);
        assert!(!s.is_active());
    }

    #[test]
    fn wakeup_is_the_next_period_boundary_or_the_next_spawn_slot() {
        let mut s = Scheduler::new(config(0.0, Some(100.0)));
        s.add_scenario(model(|_, _| Volume::Level(1000)));
        s.refresh(0.0).unwrap();
        s.plan(0.0);
        assert!((s.next_wakeup(0.0) - 0.01).abs() < 1e-9);
        let mut idle = Scheduler::new(config(0.0, None));
        idle.add_scenario(model(|_, _| Volume::Level(0)));
        idle.refresh(0.25).unwrap();
        assert!((idle.next_wakeup(0.25) - 1.25).abs() < 1e-9);
    }
}
