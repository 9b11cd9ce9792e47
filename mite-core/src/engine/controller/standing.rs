//! Standing work ([`crate::wire::standing`]): a runner that offered it is not given one item
//! per journey of a scenario without a datapool, but a number of journeys it may keep
//! running (its quota), refilling them itself.
//!
//! The controller counts what such a runner holds (`work`, from the runner's reports: the
//! larger of what runs and its quota), so the cluster total stays the volume model's value.
//! A quota only grows by what the usual grant hands out (spawn rate and shares included);
//! it shrinks when the scenario wants fewer journeys than run or the runner holds more than
//! its share (a runner joined). A shrunk quota stops refills; the journeys above it end on
//! their own, as mite's do when no new work comes.

use std::collections::BTreeMap;

use super::{Controller, RunnerEntry, RunnerId};
use crate::engine::scheduler::{ScenarioId, VolumeModel};

/// The longest grant: a runner asks again at least this often anyway (`--max-loop-delay`).
const LONGEST_GRANT: f64 = 3600.0;

/// What a runner that offered standing work may run.
#[derive(Debug, PartialEq)]
pub struct StandingGrant {
    /// Seconds from now during which the quotas hold: until the next period boundary or
    /// spawn slot, when the controller's answer may change.
    pub valid_for: f64,
    /// `(scenario id, journeys)` for every scenario that may be standing work.
    pub quotas: Vec<(ScenarioId, u64)>,
}

impl RunnerEntry {
    /// Standing journeys of `id` this runner still runs above its quota.
    fn cut_pending(&self, id: ScenarioId) -> u64 {
        if !self.standing {
            return 0;
        }
        let held = self.work.get(&id).copied().unwrap_or(0);
        held.saturating_sub(self.quota.get(&id).copied().unwrap_or(0))
    }
}

impl<M: VolumeModel> Controller<M> {
    /// Scenario `id` has no datapool: runners that offer standing work hold its journeys.
    pub fn allow_standing(&mut self, id: ScenarioId) {
        self.standing.insert(id);
    }

    /// The scenarios whose journeys are standing work: no datapool, and no arrival-rate
    /// model (whose journeys start on its timetable, one by one).
    fn standing_scenarios(&self) -> impl Iterator<Item = ScenarioId> + '_ {
        self.standing
            .iter()
            .copied()
            .filter(|&id| !self.scheduler.is_rate(id))
    }

    /// Whether `runner` offered standing work.
    pub fn offers_standing(&self, runner: RunnerId) -> bool {
        self.runners.get(&runner).is_some_and(|e| e.standing)
    }

    /// The standing work of `runner` after its last request, if it offered it.
    pub fn standing_grant(&self, runner: RunnerId, now: f64) -> Option<StandingGrant> {
        let entry = self.runners.get(&runner).filter(|e| e.standing)?;
        let valid_for = (self.scheduler.next_wakeup(now) - now).clamp(0.0, LONGEST_GRANT);
        Some(StandingGrant {
            valid_for,
            quotas: self
                .standing_scenarios()
                .map(|id| (id, entry.quota.get(&id).copied().unwrap_or(0)))
                .collect(),
        })
    }

    /// Sets `runner`'s quotas from what it holds after this request's grant.
    pub(super) fn update_quota(&mut self, runner: RunnerId) {
        let share = self.share_of(runner);
        let Some(entry) = self.runners.get(&runner) else {
            return;
        };
        let mut quota = BTreeMap::new();
        for id in self.standing_scenarios() {
            let held = entry.work.get(&id).copied().unwrap_or(0);
            let allowed = match self.scheduler.load(id) {
                None => 0,
                Some((required, running)) => {
                    // Cuts already asked of other runners are not yet visible as ended
                    // journeys; asking again would cut twice. No runner is cut below its
                    // own part of the scenario.
                    let pending: u64 = self
                        .runners
                        .iter()
                        .filter(|(r, _)| **r != runner)
                        .map(|(_, e)| e.cut_pending(id))
                        .sum();
                    let excess = running.saturating_sub(required).saturating_sub(pending);
                    let above_part = held.saturating_sub(self.part_of(required, runner));
                    held - excess.min(above_part)
                }
            };
            quota.insert(id, allowed);
        }
        let items: u64 = entry
            .work
            .iter()
            .filter(|(id, _)| !self.standing.contains(id) || self.scheduler.is_rate(**id))
            .map(|(_, n)| n)
            .sum();
        let mut over = (items + quota.values().sum::<u64>()).saturating_sub(share);
        for q in quota.values_mut().rev() {
            let cut = over.min(*q);
            *q -= cut;
            over -= cut;
        }
        if let Some(entry) = self.runners.get_mut(&runner) {
            entry.quota = quota;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{controller, Level};
    use super::*;

    fn quotas(c: &Controller<Level>, r: RunnerId) -> Vec<u64> {
        c.standing_grant(r, 0.0)
            .unwrap()
            .quotas
            .iter()
            .map(|q| q.1)
            .collect()
    }

    #[test]
    fn a_standing_runner_gets_a_quota_instead_of_items() {
        let mut c = controller(None);
        let s = c.add_scenario(Level(50));
        c.allow_standing(s);
        let r = c.hello_offering(0.0, true);
        let grant = c.request_work(r, 0.0, &[], None).unwrap();
        assert!(grant.starts.is_empty());
        assert_eq!(quotas(&c, r), [50]);
        assert_eq!(c.report().scenarios, [(s, 50, 50)]);
        // It reports holding its quota: nothing changes, nothing more is granted.
        c.set_actual(r, &[(s, 50)]);
        c.request_work(r, 0.5, &[], None).unwrap();
        assert_eq!(quotas(&c, r), [50]);
        // The grant holds until the next period boundary.
        let grant = c.standing_grant(r, 0.5).unwrap();
        assert!((grant.valid_for - 0.5).abs() < 1e-6, "{grant:?}");
    }

    #[test]
    fn runners_without_the_offer_and_scenarios_with_datapools_get_items() {
        let mut c = controller(None);
        let pooled = c.add_scenario(Level(3));
        let free = c.add_scenario(Level(3));
        c.allow_standing(free);
        let plain = c.hello(0.0);
        assert_eq!(
            c.request_work(plain, 0.0, &[], None).unwrap().starts.len(),
            6
        );
        assert!(c.standing_grant(plain, 0.0).is_none());
        let mut c = controller(None);
        c.add_scenario(Level(3));
        let free = c.add_scenario(Level(3));
        c.allow_standing(free);
        let r = c.hello_offering(0.0, true);
        let grant = c.request_work(r, 0.0, &[], None).unwrap();
        assert_eq!(grant.starts, [pooled; 3]);
        assert_eq!(c.standing_grant(r, 0.0).unwrap().quotas, [(free, 3)]);
    }

    #[test]
    fn a_lower_volume_cuts_the_quota_once_across_runners() {
        let mut c = controller(None);
        let s = c.add_scenario(Level(10));
        c.allow_standing(s);
        let (a, b) = (c.hello_offering(0.0, true), c.hello_offering(0.0, true));
        c.request_work(a, 0.0, &[], None).unwrap();
        c.request_work(b, 0.0, &[], None).unwrap();
        assert_eq!((quotas(&c, a), quotas(&c, b)), (vec![5], vec![5]));
        c.scheduler.set_required(s, 4);
        // Each is cut to its part, b counting the cut a has not carried out yet.
        c.request_work(a, 0.1, &[], None).unwrap();
        c.request_work(b, 0.1, &[], None).unwrap();
        assert_eq!((quotas(&c, a), quotas(&c, b)), (vec![2], vec![2]));
        // Their journeys above the quota end; nothing is granted back above the volume.
        c.set_actual(a, &[(s, 2)]);
        c.set_actual(b, &[(s, 2)]);
        c.request_work(a, 0.2, &[], None).unwrap();
        c.request_work(b, 0.2, &[], None).unwrap();
        assert_eq!((quotas(&c, a), quotas(&c, b)), (vec![2], vec![2]));
        assert_eq!(c.report().scenarios, [(s, 4, 4)]);
    }

    #[test]
    fn a_joining_runner_gets_its_share_as_the_first_ones_journeys_end() {
        let mut c = controller(None);
        let s = c.add_scenario(Level(10));
        c.allow_standing(s);
        let a = c.hello_offering(0.0, true);
        c.request_work(a, 0.0, &[], None).unwrap();
        assert_eq!(quotas(&c, a), [10]);
        let b = c.hello_offering(0.1, true);
        c.request_work(b, 0.1, &[], None).unwrap();
        assert_eq!(quotas(&c, b), [0]);
        c.request_work(a, 0.2, &[], None).unwrap();
        assert_eq!(quotas(&c, a), [5]);
        // a ran down to its quota.
        c.set_actual(a, &[(s, 5)]);
        c.request_work(b, 0.3, &[], None).unwrap();
        assert_eq!(quotas(&c, b), [5]);
        assert_eq!(c.report().scenarios, [(s, 10, 10)]);
    }

    #[test]
    fn a_stopped_scenario_has_no_quota() {
        let mut c = controller(None);
        let s = c.add_scenario(Level(5));
        c.allow_standing(s);
        let r = c.hello_offering(0.0, true);
        c.request_work(r, 0.0, &[], None).unwrap();
        c.stop_all();
        let grant = c.request_work(r, 0.1, &[], None).unwrap();
        assert!(grant.stop);
        assert_eq!(quotas(&c, r), [0]);
    }

    #[test]
    fn a_readmitted_runner_gets_items() {
        let mut c = controller(Some(10.0));
        let s = c.add_scenario(Level(2));
        c.allow_standing(s);
        c.readmit(4, 0.0);
        assert!(!c.offers_standing(4));
        assert_eq!(c.request_work(4, 0.0, &[], None).unwrap().starts, [s, s]);
    }
}
