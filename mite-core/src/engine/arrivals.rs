//! Arrival-rate scheduling: a timetable of journey starts, so that journeys start when they
//! are due whatever the target's speed (an open model), not when a running one ends.
//!
//! A rate volume model says, for each window the scheduler evaluates it over, how many
//! starts per second it wants at the window's start and at its end (the rate changes
//! linearly between), and the most journeys of the scenario that may run at once. The
//! `k`-th start of the run (from 0) is due when the expected number of starts since time
//! zero reaches `k`, so a constant rate `r` starts a journey at `0, 1/r, 2/r, …` and a ramp
//! spaces its starts by the rate of the moment. Fractions carry over from window to window.

use std::collections::VecDeque;

/// What a rate model says for one window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Journey starts per second at the window's start.
    pub per_second: f64,
    /// Starts per second at the window's end.
    pub until: f64,
    /// The most journeys of the scenario running at once; a start due beyond it is dropped.
    pub max_journeys: u64,
}

/// One evaluated window: `length` seconds from `start` (test time), the rate going from
/// `from` to `to` starts per second.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Window {
    start: f64,
    length: f64,
    from: f64,
    to: f64,
    /// Starts expected before the window began.
    before: f64,
}

impl Window {
    /// Starts expected in the first `x` seconds of the window.
    fn expected(&self, x: f64) -> f64 {
        self.from * x + (self.to - self.from) * x * x / (2.0 * self.length)
    }

    fn end(&self) -> f64 {
        self.start + self.length
    }

    /// When, in test time, the start numbered `index` is due, if it falls in this window.
    fn due(&self, index: u64) -> Option<f64> {
        let target = index as f64 - self.before;
        if target >= self.expected(self.length) {
            return None;
        }
        if target <= 0.0 {
            return Some(self.start);
        }
        // The root in [0, length] of a·x² + b·x = target, in the form that stays exact when
        // a is zero or tiny: x = 2·target / (b + √(b² + 4·a·target)).
        let a = (self.to - self.from) / (2.0 * self.length);
        let b = self.from;
        let root = (b * b + 4.0 * a * target).max(0.0).sqrt();
        let x = 2.0 * target / (b + root);
        Some(self.start + x.clamp(0.0, self.length))
    }
}

/// One scenario's timetable of starts and what became of them.
#[derive(Debug, Clone, Default)]
pub struct Timetable {
    /// The windows that may still hold starts not yet taken, oldest first.
    windows: VecDeque<Window>,
    /// Starts expected up to the end of the newest window.
    expected: f64,
    /// Starts taken off the timetable so far: started or dropped.
    pub(crate) scheduled: u64,
    /// Starts dropped: the scenario was at its `max_journeys`, the runner had no room, or
    /// the datapool had no item.
    pub(crate) dropped: u64,
}

impl Timetable {
    /// Adds the window `[start, end)` (test time) with `rate`. Windows follow one another;
    /// a window that does not begin where the last ended starts the count afresh from what
    /// was already taken.
    pub fn add_window(&mut self, start: f64, end: f64, rate: Rate) {
        let continues = self
            .windows
            .back()
            .is_some_and(|last| (last.end() - start).abs() < 1e-9);
        if !continues {
            self.windows.clear();
            self.expected = self.scheduled as f64;
        }
        if end <= start {
            return;
        }
        let sane = |r: f64| if r.is_finite() { r.max(0.0) } else { 0.0 };
        let window = Window {
            start,
            length: end - start,
            from: sane(rate.per_second),
            to: sane(rate.until),
            before: self.expected,
        };
        self.expected += window.expected(window.length);
        self.windows.push_back(window);
    }

    /// When the next start is due (test time), if the windows so far hold one.
    pub fn next_due(&self) -> Option<f64> {
        self.windows.iter().find_map(|w| w.due(self.scheduled))
    }

    /// Takes the next start off the timetable (started or dropped).
    pub fn take(&mut self) {
        self.scheduled += 1;
        // Windows whose starts are all taken are done with, but the newest stays: the next
        // window continues from it.
        while self.windows.len() > 1 && self.windows[0].due(self.scheduled).is_none() {
            self.windows.pop_front();
        }
    }

    /// A start taken off the timetable did not happen after all.
    pub fn drop_one(&mut self) {
        self.dropped += 1;
    }

    /// Stops the timetable: no start is due any more.
    pub fn close(&mut self) {
        self.windows.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(per_second: f64, until: f64) -> Rate {
        Rate {
            per_second,
            until,
            max_journeys: 100,
        }
    }

    /// Every due time the timetable holds, in order.
    fn all_due(t: &mut Timetable) -> Vec<f64> {
        let mut times = Vec::new();
        while let Some(at) = t.next_due() {
            times.push(at);
            t.take();
        }
        times
    }

    #[test]
    fn a_constant_rate_spaces_its_starts_evenly_from_time_zero() {
        let mut t = Timetable::default();
        t.add_window(0.0, 1.0, rate(4.0, 4.0));
        assert_eq!(all_due(&mut t), [0.0, 0.25, 0.5, 0.75]);
        t.add_window(1.0, 2.0, rate(4.0, 4.0));
        assert_eq!(all_due(&mut t), [1.0, 1.25, 1.5, 1.75]);
    }

    #[test]
    fn fractions_carry_over_between_windows() {
        let mut t = Timetable::default();
        for second in 0..10 {
            t.add_window(f64::from(second), f64::from(second + 1), rate(0.5, 0.5));
        }
        let times = all_due(&mut t);
        assert_eq!(times, [0.0, 2.0, 4.0, 6.0, 8.0]);
    }

    #[test]
    fn a_ramp_starts_as_many_as_its_area_and_closer_together_as_it_rises() {
        let mut t = Timetable::default();
        // 0 to 20 a second over 10 s: 100 starts.
        for second in 0..10 {
            let from = 2.0 * f64::from(second);
            t.add_window(
                f64::from(second),
                f64::from(second + 1),
                rate(from, from + 2.0),
            );
        }
        let times = all_due(&mut t);
        assert_eq!(times.len(), 100);
        // Starts due by time x: x² (the area under 2x).
        assert!((times[25] - 5.0).abs() < 1e-9, "{}", times[25]);
        let early = times[2] - times[1];
        let late = times[99] - times[98];
        assert!(early > 5.0 * late, "{early} vs {late}");
    }

    #[test]
    fn starts_of_an_older_window_stay_due_at_their_own_time() {
        let mut t = Timetable::default();
        t.add_window(0.0, 1.0, rate(2.0, 2.0));
        t.add_window(1.0, 2.0, rate(2.0, 2.0));
        assert_eq!(all_due(&mut t), [0.0, 0.5, 1.0, 1.5]);
    }

    #[test]
    fn a_gap_restarts_the_count_and_nonsense_rates_mean_none() {
        let mut t = Timetable::default();
        t.add_window(0.0, 1.0, rate(1.0, 1.0));
        assert_eq!(all_due(&mut t), [0.0]);
        t.add_window(5.0, 6.0, rate(2.0, 2.0));
        assert_eq!(all_due(&mut t), [5.0, 5.5]);
        t.add_window(6.0, 7.0, rate(f64::NAN, -3.0));
        assert!(all_due(&mut t).is_empty());
        t.add_window(7.0, 8.0, rate(1.0, 1.0));
        t.close();
        assert_eq!(t.next_due(), None);
        assert_eq!(t.scheduled, 3);
    }
}
