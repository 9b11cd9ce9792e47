//! A volume model's plan without running it (`mite scenario check`): the concurrency the
//! scheduler would ask for, period by period, on a simulated clock, and when the model ends.
//!
//! The model is driven through the same [`Scheduler`] a run uses, so the windows it is
//! called with and its start delay are a run's.

use super::scheduler::{Removal, Scheduler, SchedulerConfig, Volume, VolumeModel};

/// Evaluations at most: a model that never ends is followed this far.
pub const MAX_EVALUATIONS: usize = 100_000;

/// What a volume model asks for over time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// `(seconds since time zero, required journeys)` after each evaluation.
    pub levels: Vec<(f64, u64)>,
    /// `(seconds since time zero, starts per second)` after each evaluation that gave an
    /// arrival rate (the rate at the window's start).
    pub rates: Vec<(f64, f64)>,
    /// Starts the arrival rates schedule in all.
    pub starts: f64,
    /// The largest `max_journeys` an arrival rate gave.
    pub max_journeys: u64,
    /// Seconds since time zero when the model raised `StopVolumeModel`; `None` if it had not
    /// by `horizon`.
    pub ends_at: Option<f64>,
}

impl Plan {
    /// The most journeys running at once: the highest concurrency asked for, or the highest
    /// cap of an arrival rate.
    pub fn peak(&self) -> u64 {
        let levels = self.levels.iter().map(|&(_, n)| n).max().unwrap_or(0);
        levels.max(self.max_journeys)
    }

    /// The highest arrival rate, in starts per second.
    pub fn peak_rate(&self) -> f64 {
        self.rates.iter().map(|&(_, r)| r).fold(0.0, f64::max)
    }
}

/// A model whose every answer is kept, so the plan can show rates as well as levels.
struct Recording<M> {
    model: M,
    last: Option<Volume>,
}

impl<M: VolumeModel> VolumeModel for Recording<M> {
    type Error = M::Error;

    fn volume(&mut self, start: i64, end: i64) -> Result<Volume, M::Error> {
        let volume = self.model.volume(start, end)?;
        self.last = Some(volume);
        Ok(volume)
    }
}

/// A model's failure and the time (seconds since time zero) of the window it failed in.
#[derive(Debug)]
pub struct PlanError<E> {
    pub at: f64,
    pub error: E,
}

/// Plans `model` for up to `horizon` seconds (and [`MAX_EVALUATIONS`] periods). The spawn
/// rate is left out: it limits how fast journeys start, not what the model asks for.
pub fn plan_volume<M: VolumeModel>(
    model: M,
    config: SchedulerConfig,
    horizon: f64,
) -> Result<Plan, PlanError<M::Error>> {
    let period = config.period.max(0.001);
    let mut scheduler = Scheduler::new(SchedulerConfig {
        spawn_rate: None,
        period,
        ..config
    });
    let id = scheduler.add_scenario(Recording { model, last: None });
    let delay = config.start_delay.max(0.0);
    let mut plan = Plan::default();
    // Times on the scheduler's clock: the delay first, then one evaluation per period.
    let zero = if delay > 0.0 { delay + 1e-9 } else { 0.0 };
    for step in 0..MAX_EVALUATIONS {
        // Counted, not added up, so that times stay on the period's grid.
        let t = step as f64 * period;
        let now = zero + t;
        if t > horizon {
            break;
        }
        let removed = scheduler.refresh(now).map_err(|(_, error)| PlanError {
            at: t.max(0.0),
            error,
        })?;
        if removed
            .iter()
            .any(|r| matches!(r, Removal::VolumeModelStopped(s) if *s == id))
        {
            plan.ends_at = Some(t.max(0.0));
            return Ok(plan);
        }
        let Some((_, required)) = scheduler.required().find(|(s, _)| *s == id) else {
            continue;
        };
        let t = t.max(0.0);
        match scheduler.model_mut(id).and_then(|m| m.last.take()) {
            Some(Volume::Rate(rate)) => {
                // Each window is about a period long, the rate changing linearly across it.
                plan.rates.push((t, rate.per_second));
                plan.starts += period * (rate.per_second + rate.until) / 2.0;
                plan.max_journeys = plan.max_journeys.max(rate.max_journeys);
            }
            _ => plan.levels.push((t, required)),
        }
    }
    Ok(plan)
}

/// `values` as a line of block characters, one per column (the highest value in it), at
/// most `width` columns: `▁▂▄▆█`, a space for zero.
pub fn sparkline(values: &[u64], width: usize) -> String {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    if values.is_empty() || width == 0 {
        return String::new();
    }
    let columns = values.len().min(width);
    let top = values.iter().copied().max().unwrap_or(0).max(1);
    (0..columns)
        .map(|c| {
            let from = c * values.len() / columns;
            let to = ((c + 1) * values.len() / columns).max(from + 1);
            let high = values[from..to].iter().copied().max().unwrap_or(0);
            if high == 0 {
                ' '
            } else {
                let level = (high * 8).div_ceil(top).clamp(1, 8) as usize;
                BLOCKS[level - 1]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Volume;

    /// Ramps up by one a second for `seconds`, then stops.
    struct Ramp {
        seconds: i64,
        calls: Vec<(i64, i64)>,
    }

    impl VolumeModel for Ramp {
        type Error = String;

        fn volume(&mut self, start: i64, end: i64) -> Result<Volume, String> {
            self.calls.push((start, end));
            if start > self.seconds {
                Ok(Volume::Stop)
            } else if start == 7 && self.seconds == 99 {
                Err("boom".into())
            } else {
                Ok(Volume::Level(start))
            }
        }
    }

    fn config(delay: f64) -> SchedulerConfig {
        SchedulerConfig {
            start_delay: delay,
            period: 1.0,
            spawn_rate: Some(1.0),
        }
    }

    #[test]
    fn a_model_is_planned_period_by_period_until_it_stops() {
        let model = Ramp {
            seconds: 5,
            calls: Vec::new(),
        };
        let plan = plan_volume(model, config(0.0), 3600.0).unwrap();
        let levels: Vec<u64> = plan.levels.iter().map(|l| l.1).collect();
        assert_eq!(levels, [0, 1, 2, 3, 4, 5]);
        assert_eq!(plan.ends_at, Some(6.0));
        assert_eq!(plan.peak(), 5);
    }

    #[test]
    fn the_start_delay_comes_first_and_times_count_from_zero() {
        let model = Ramp {
            seconds: 2,
            calls: Vec::new(),
        };
        let plan = plan_volume(model, config(3.0), 3600.0).unwrap();
        assert_eq!(plan.levels[0], (0.0, 0));
        assert_eq!(plan.ends_at, Some(3.0));
    }

    #[test]
    fn a_failure_says_when_and_an_endless_model_stops_at_the_horizon() {
        let failing = Ramp {
            seconds: 99,
            calls: Vec::new(),
        };
        let e = plan_volume(failing, config(0.0), 3600.0).unwrap_err();
        assert_eq!((e.at, e.error.as_str()), (7.0, "boom"));
        let endless = Ramp {
            seconds: i64::MAX,
            calls: Vec::new(),
        };
        let plan = plan_volume(endless, config(0.0), 10.0).unwrap();
        assert_eq!(plan.ends_at, None);
        assert_eq!(plan.levels.len(), 11);
    }

    /// 10 starts a second for 5 s, at most 40 running.
    struct Rated;

    impl VolumeModel for Rated {
        type Error = String;

        fn volume(&mut self, start: i64, _: i64) -> Result<Volume, String> {
            Ok(if start >= 5 {
                Volume::Stop
            } else {
                Volume::Rate(crate::engine::Rate {
                    per_second: 10.0,
                    until: 10.0,
                    max_journeys: 40,
                })
            })
        }
    }

    #[test]
    fn a_rate_model_is_planned_as_starts_per_second_with_its_cap() {
        let plan = plan_volume(Rated, config(0.0), 3600.0).unwrap();
        assert!(plan.levels.is_empty());
        assert_eq!(plan.rates.len(), 5);
        assert_eq!(plan.peak_rate(), 10.0);
        assert_eq!(plan.starts, 50.0);
        assert_eq!(plan.peak(), 40);
        assert_eq!(plan.ends_at, Some(5.0));
    }

    #[test]
    fn sparklines_scale_to_the_peak() {
        assert_eq!(sparkline(&[0, 1, 2, 4, 8], 10), " ▁▂▄█");
        assert_eq!(sparkline(&[8; 100], 10).chars().count(), 10);
        assert_eq!(sparkline(&[0, 0, 8, 0], 2), " █");
        assert_eq!(sparkline(&[], 10), "");
    }
}
