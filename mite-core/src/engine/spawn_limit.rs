/// Caps how fast total concurrency may *grow*, in journeys per second.
///
/// mite limits the number of journeys handed out per work request by `spawn_rate / hit_rate`;
/// with one-request journeys the hit rate is huge and the limit starves the test. Here only
/// growth is limited: a slot freed by a finished journey is refilled at once, while new slots
/// open at `rate` per second up to the required total.
#[derive(Debug, Clone)]
pub struct SpawnLimit {
    rate: Option<f64>,
    ceiling: f64,
    last_update: Option<f64>,
}

impl SpawnLimit {
    /// `rate` of `None` (or not a positive number) means unlimited.
    pub fn new(rate: Option<f64>) -> Self {
        let rate = rate.filter(|r| r.is_finite() && *r > 0.0);
        SpawnLimit {
            rate,
            // One journey may start at once, so a test does not wait a whole 1/rate to begin.
            ceiling: 1.0,
            last_update: None,
        }
    }

    /// How many journeys may be running in total at `now`, given what is wanted and running.
    pub fn allowed(&mut self, now: f64, required_total: u64, running_total: u64) -> u64 {
        let Some(rate) = self.rate else {
            return required_total;
        };
        let elapsed = self.last_update.map_or(0.0, |last| (now - last).max(0.0));
        self.last_update = Some(now);
        // Never grow past what is wanted, so a later increase is limited again; never drop
        // below what runs, so the growth credit is not spent on journeys already running.
        let floor = (running_total.min(required_total)) as f64;
        self.ceiling = (self.ceiling + rate * elapsed)
            .min(required_total.max(1) as f64)
            .max(floor);
        self.ceiling.floor() as u64
    }

    /// Seconds until one more slot opens, if growth is being held back.
    pub fn next_slot_in(&self, required_total: u64) -> Option<f64> {
        let rate = self.rate?;
        if self.ceiling >= required_total as f64 {
            return None;
        }
        let missing = 1.0 - self.ceiling.fract();
        Some((missing / rate).max(0.001))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_allows_everything_required() {
        let mut limit = SpawnLimit::new(None);
        assert_eq!(limit.allowed(0.0, 10_000, 0), 10_000);
        assert_eq!(limit.next_slot_in(10_000), None);
    }

    #[test]
    fn growth_is_limited_to_the_rate() {
        let mut limit = SpawnLimit::new(Some(100.0));
        assert_eq!(limit.allowed(0.0, 1000, 0), 1);
        assert_eq!(limit.allowed(0.5, 1000, 1), 51);
        assert_eq!(limit.allowed(1.0, 1000, 51), 101);
        assert!((limit.next_slot_in(1000).unwrap() - 0.01).abs() < 1e-9);
    }

    #[test]
    fn refilling_freed_slots_is_never_limited() {
        // 50 running at the target: journeys finishing and restarting thousands of times per
        // second must always find their slot open.
        let mut limit = SpawnLimit::new(Some(10.0));
        let mut now = 0.0;
        while limit.allowed(now, 50, 0) < 50 {
            now += 0.1;
        }
        for i in 0..10_000 {
            let t = now + f64::from(i) * 1e-5;
            assert_eq!(limit.allowed(t, 50, 49), 50);
        }
    }

    #[test]
    fn a_drop_in_demand_makes_the_next_rise_limited_again() {
        let mut limit = SpawnLimit::new(Some(10.0));
        assert_eq!(limit.allowed(100.0, 100, 0), 1);
        assert_eq!(limit.allowed(110.0, 100, 0), 100);
        assert_eq!(limit.allowed(111.0, 5, 5), 5);
        assert_eq!(limit.allowed(111.5, 100, 5), 10);
    }
}
