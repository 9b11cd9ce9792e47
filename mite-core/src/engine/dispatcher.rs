//! Work items for runners: the controller's grants joined with datapool checkouts.
//!
//! A runner asks for work and gets `(scenario id, item id, data)` items (mite's work tuples);
//! it reports each finished journey with its scenario and item id, and the item goes back to
//! its pool here, on the controller side. A pool that answers later (a Python datapool's async
//! `checkout`) keeps the journey's slot granted until [`Dispatcher::checkout_done`].

use std::collections::{BTreeMap, VecDeque};

use thiserror::Error;

use super::controller::{Controller, ControllerError, ControllerReport, RunnerId};
use super::datapool::{Checkout, DataSource, Taken};
use super::scheduler::{Removal, ScenarioId, SchedulerConfig, VolumeModel};

/// One journey for a runner to start.
#[derive(Debug, PartialEq)]
pub struct Work<I, D> {
    pub scenario: ScenarioId,
    /// The datapool item's id and data, or `None` for a scenario without a datapool.
    pub item: Option<(I, D)>,
    /// When an arrival-rate model wanted it started (the controller's clock); `None` for a
    /// journey of a closed model.
    pub due: Option<f64>,
}

/// The answer to a work request, or to a late checkout.
#[derive(Debug, PartialEq)]
pub struct Dispatch<I, D> {
    pub work: Vec<Work<I, D>>,
    /// Scenarios that left the schedule (for mite's log lines).
    pub removals: Vec<Removal>,
    /// Scenarios whose pool had nothing to give (the bindings warn once per scenario).
    pub starved: Vec<ScenarioId>,
    /// Checkouts the pools will answer later.
    pub pending: usize,
    /// No scenario is left: the runner should finish what it runs and stop.
    pub stop: bool,
}

impl<I, D> Default for Dispatch<I, D> {
    fn default() -> Self {
        Dispatch {
            work: Vec::new(),
            removals: Vec::new(),
            starved: Vec::new(),
            pending: 0,
            stop: false,
        }
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum DispatchError<M, P> {
    #[error(transparent)]
    Controller(#[from] ControllerError<M>),
    /// A datapool's checkout failed (anything but "empty" or "exhausted").
    #[error("datapool of scenario {0} failed")]
    DataPool(ScenarioId, P),
}

/// The controller of one test, handing out work with items of the scenarios' datapools
/// (passed to each call, so the bindings can lend them with the GIL held).
pub struct Dispatcher<M> {
    controller: Controller<M>,
    /// The due times of checkouts the pools answer later, per scenario, oldest first: the
    /// first answer gets the oldest.
    pending_due: BTreeMap<ScenarioId, VecDeque<Option<f64>>>,
}

type Result<T, M, S> =
    std::result::Result<T, DispatchError<<M as VolumeModel>::Error, <S as DataSource>::Error>>;
type DispatchOf<S> = Dispatch<<S as DataSource>::ItemId, <S as DataSource>::Data>;

impl<M: VolumeModel> Dispatcher<M> {
    /// `timeout` as for [`Controller::new`].
    pub fn new(config: SchedulerConfig, timeout: Option<f64>) -> Self {
        Dispatcher {
            controller: Controller::new(config, timeout),
            pending_due: BTreeMap::new(),
        }
    }

    pub fn add_scenario(&mut self, model: M) -> ScenarioId {
        self.controller.add_scenario(model)
    }

    pub fn controller(&self) -> &Controller<M> {
        &self.controller
    }

    pub fn controller_mut(&mut self) -> &mut Controller<M> {
        &mut self.controller
    }

    pub fn hello(&mut self, now: f64) -> RunnerId {
        self.controller.hello(now)
    }

    pub fn bye(&mut self, runner: RunnerId) {
        self.controller.bye(runner);
    }

    pub fn report(&self) -> ControllerReport {
        self.controller.report()
    }

    /// A runner asks for work, reporting the journeys it finished since it last asked as
    /// `(scenario id, item id)`; `max_work` is its own cap on concurrent journeys.
    pub fn request_work<S: DataSource>(
        &mut self,
        pools: &mut S,
        runner: RunnerId,
        now: f64,
        finished: impl IntoIterator<Item = (ScenarioId, Option<S::ItemId>)>,
        max_work: Option<u64>,
    ) -> Result<DispatchOf<S>, M, S> {
        self.request_work_within(pools, runner, now, finished, max_work, u64::MAX)
    }

    /// [`Self::request_work`] with at most `budget` journeys in the answer (see
    /// [`Controller::request_work_within`]).
    pub fn request_work_within<S: DataSource>(
        &mut self,
        pools: &mut S,
        runner: RunnerId,
        now: f64,
        finished: impl IntoIterator<Item = (ScenarioId, Option<S::ItemId>)>,
        max_work: Option<u64>,
        budget: u64,
    ) -> Result<DispatchOf<S>, M, S> {
        self.finished(pools, runner, finished)?;
        let grant = self
            .controller
            .request_work_within(runner, now, &[], max_work, budget)?;
        let mut dispatch = Dispatch {
            removals: grant.removals,
            ..Dispatch::default()
        };
        let arrivals = grant
            .arrivals
            .into_iter()
            .map(|a| (a.scenario, Some(a.due)));
        let mut starts = arrivals.chain(grant.starts.into_iter().map(|id| (id, None)));
        while let Some((scenario, due)) = starts.next() {
            let checkout = match pools.checkout(scenario) {
                Ok(checkout) => checkout,
                Err(e) => {
                    self.controller.give_back(runner, scenario);
                    for (unstarted, _) in starts {
                        self.controller.give_back(runner, unstarted);
                    }
                    return Err(DispatchError::DataPool(scenario, e));
                }
            };
            match checkout {
                Checkout::NoPool => dispatch.work.push(Work {
                    scenario,
                    item: None,
                    due,
                }),
                Checkout::Now(taken) => self.take(runner, scenario, taken, due, &mut dispatch),
                Checkout::Later => {
                    self.pending_due.entry(scenario).or_default().push_back(due);
                    dispatch.pending += 1;
                }
            }
        }
        dispatch.stop = !self.controller.is_active();
        Ok(dispatch)
    }

    /// The answer of a checkout that said [`Checkout::Later`], for the same runner.
    pub fn checkout_done<I, D, E>(
        &mut self,
        runner: RunnerId,
        scenario: ScenarioId,
        answer: std::result::Result<Taken<I, D>, E>,
    ) -> std::result::Result<Dispatch<I, D>, DispatchError<M::Error, E>> {
        let mut dispatch = Dispatch::default();
        let due = self
            .pending_due
            .get_mut(&scenario)
            .and_then(VecDeque::pop_front)
            .flatten();
        match answer {
            Ok(taken) => self.take(runner, scenario, taken, due, &mut dispatch),
            Err(e) => {
                self.controller.give_back(runner, scenario);
                return Err(DispatchError::DataPool(scenario, e));
            }
        }
        dispatch.stop = !self.controller.is_active();
        Ok(dispatch)
    }

    /// Journeys of `runner` finished: their items go back to their pools and their slots
    /// to the schedule, without asking for more work.
    pub fn finished<S: DataSource>(
        &mut self,
        pools: &mut S,
        runner: RunnerId,
        finished: impl IntoIterator<Item = (ScenarioId, Option<S::ItemId>)>,
    ) -> Result<(), M, S> {
        for (scenario, item) in finished {
            if let Some(item) = item {
                pools.checkin(scenario, item);
            }
            self.controller.report_finished(runner, &[scenario])?;
        }
        Ok(())
    }

    /// A work item the runner could not start (a journey that cannot take its item, a fixture
    /// that failed): the item goes back and the slot is planned again.
    pub fn give_back<S: DataSource>(
        &mut self,
        pools: &mut S,
        runner: RunnerId,
        scenario: ScenarioId,
        item: Option<S::ItemId>,
    ) {
        if let Some(item) = item {
            pools.checkin(scenario, item);
        }
        self.controller.give_back(runner, scenario);
    }

    fn take<I, D>(
        &mut self,
        runner: RunnerId,
        scenario: ScenarioId,
        taken: Taken<I, D>,
        due: Option<f64>,
        dispatch: &mut Dispatch<I, D>,
    ) {
        match taken {
            Taken::Item(id, data) => dispatch.work.push(Work {
                scenario,
                item: Some((id, data)),
                due,
            }),
            Taken::Empty => {
                self.controller.give_back(runner, scenario);
                self.controller.starve(scenario);
                dispatch.starved.push(scenario);
            }
            Taken::Exhausted => {
                self.controller.give_back(runner, scenario);
                dispatch.removals.extend(self.controller.exhaust(scenario));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::datapool::RecycleQueue;
    use crate::engine::scheduler::Volume;

    struct Level(i64);

    impl VolumeModel for Level {
        type Error = ();
        fn volume(&mut self, _: i64, _: i64) -> std::result::Result<Volume, ()> {
            Ok(Volume::Level(self.0))
        }
    }

    /// Scenario 1: a recyclable pool of two items; 2: no pool; 3: three one-pass items, then
    /// exhausted; 4: answers later; 5: fails.
    struct Pools {
        recyclable: RecycleQueue,
        once_left: u64,
        checked_in: Vec<(ScenarioId, usize)>,
    }

    impl DataSource for Pools {
        type ItemId = usize;
        type Data = &'static str;
        type Error = &'static str;

        fn checkout(
            &mut self,
            scenario: ScenarioId,
        ) -> std::result::Result<Checkout<usize, &'static str>, &'static str> {
            Ok(match scenario {
                1 => Checkout::Now(match self.recyclable.checkout() {
                    Some(i) => Taken::Item(i, "recycled"),
                    None => Taken::Empty,
                }),
                2 => Checkout::NoPool,
                3 if self.once_left > 0 => {
                    self.once_left -= 1;
                    Checkout::Now(Taken::Item(self.once_left as usize, "once"))
                }
                3 => Checkout::Now(Taken::Exhausted),
                4 => Checkout::Later,
                _ => return Err("broken pool"),
            })
        }

        fn checkin(&mut self, scenario: ScenarioId, item: usize) {
            self.checked_in.push((scenario, item));
            if scenario == 1 {
                self.recyclable.checkin(item).unwrap();
            }
        }
    }

    fn dispatcher(levels: &[i64]) -> (Dispatcher<Level>, Pools) {
        let mut d = Dispatcher::new(
            SchedulerConfig {
                start_delay: 0.0,
                period: 1.0,
                spawn_rate: None,
            },
            None,
        );
        for &level in levels {
            d.add_scenario(Level(level));
        }
        let pools = Pools {
            recyclable: RecycleQueue::new(2),
            once_left: 3,
            checked_in: Vec::new(),
        };
        (d, pools)
    }

    fn items(dispatch: &Dispatch<usize, &'static str>) -> Vec<(ScenarioId, Option<usize>)> {
        dispatch
            .work
            .iter()
            .map(|w| (w.scenario, w.item.as_ref().map(|i| i.0)))
            .collect()
    }

    #[test]
    fn work_items_carry_the_item_id_and_a_starved_pool_gives_the_slot_back() {
        let (mut d, mut p) = dispatcher(&[3]);
        let r = d.hello(0.0);
        let got = d.request_work(&mut p, r, 0.0, [], None).unwrap();
        assert_eq!(items(&got), [(1, Some(0)), (1, Some(1))]);
        assert_eq!(got.starved, [1]);
        assert_eq!(d.report().scenarios, [(1, 3, 2)]);
    }

    #[test]
    fn a_finished_item_is_checked_in_on_the_controller_side_and_handed_out_again() {
        let (mut d, mut p) = dispatcher(&[2]);
        let r = d.hello(0.0);
        d.request_work(&mut p, r, 0.0, [], None).unwrap();
        let got = d
            .request_work(&mut p, r, 0.1, [(1, Some(0))], None)
            .unwrap();
        assert_eq!(p.checked_in, [(1, 0)]);
        assert_eq!(items(&got), [(1, Some(0))]);
    }

    #[test]
    fn an_exhausted_pool_removes_its_scenario() {
        let (mut d, mut p) = dispatcher(&[0, 0, 5]);
        let r = d.hello(0.0);
        let got = d.request_work(&mut p, r, 0.0, [], None).unwrap();
        assert_eq!(items(&got), [(3, Some(2)), (3, Some(1)), (3, Some(0))]);
        assert_eq!(got.removals, [Removal::DataPoolExhausted(3)]);
        assert!(d.report().scenarios.iter().all(|row| row.0 != 3));
        assert!(!got.stop, "scenarios 1 and 2 are still in the schedule");
    }

    #[test]
    fn a_late_checkout_keeps_its_slot_until_answered() {
        let (mut d, mut p) = dispatcher(&[0, 0, 0, 1]);
        let r = d.hello(0.0);
        let got = d.request_work(&mut p, r, 0.0, [], None).unwrap();
        assert_eq!((got.work.len(), got.pending), (0, 1));
        assert_eq!(d.report().scenarios[3], (4, 1, 1));
        assert!(d
            .request_work(&mut p, r, 0.1, [], None)
            .unwrap()
            .work
            .is_empty());
        let late = d
            .checkout_done::<_, _, &str>(r, 4, Ok(Taken::Item(9, "late")))
            .unwrap();
        assert_eq!(items(&late), [(4, Some(9))]);
        let empty = d
            .checkout_done::<usize, &str, &str>(r, 4, Ok(Taken::Empty))
            .unwrap();
        assert_eq!(empty.starved, [4]);
        assert_eq!(d.report().scenarios[3], (4, 1, 0));
    }

    #[test]
    fn a_failing_pool_gives_back_every_slot_of_the_grant() {
        let (mut d, mut p) = dispatcher(&[0, 0, 0, 0, 2]);
        let r = d.hello(0.0);
        assert_eq!(
            d.request_work(&mut p, r, 0.0, [], None),
            Err(DispatchError::DataPool(5, "broken pool"))
        );
        assert_eq!(d.report().scenarios[4], (5, 2, 0));
    }

    #[test]
    fn a_given_back_item_returns_to_its_pool() {
        let (mut d, mut p) = dispatcher(&[1, 1]);
        let r = d.hello(0.0);
        let got = d.request_work(&mut p, r, 0.0, [], None).unwrap();
        assert_eq!(items(&got), [(1, Some(0)), (2, None)]);
        d.give_back(&mut p, r, 1, Some(0));
        d.give_back(&mut p, r, 2, None);
        assert_eq!(p.checked_in, [(1, 0)]);
        let mut again = items(&d.request_work(&mut p, r, 0.1, [], None).unwrap());
        again.sort();
        assert_eq!(again, [(1, Some(1)), (2, None)]);
    }
}
