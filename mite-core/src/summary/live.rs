//! The summary on the bus: [`LiveSummary`] counts every message of an in-process run, and,
//! on a terminal, keeps a one-line status up to date.

use std::any::Any;
use std::sync::{Arc, OnceLock};

use super::run::RunSummary;
use crate::bus::Processor;
use crate::logging::{clear_status, show_status};
use crate::messages::Message;

/// Seconds between two drawings of the status line.
const STATUS_EVERY: f64 = 1.0;

/// The run's figures, and the status line when stdout is a terminal.
pub struct LiveSummary {
    pub summary: RunSummary,
    status: Option<StatusLine>,
}

impl LiveSummary {
    /// `status` draws the status line (to stdout), for a run started at `started` (epoch
    /// seconds) that is expected to last `expected` seconds once that is set (when the
    /// scenarios' length is known).
    pub fn new(status: bool, started: f64, expected: Arc<OnceLock<f64>>) -> Self {
        LiveSummary {
            summary: RunSummary::default(),
            status: status.then(|| StatusLine {
                started,
                expected,
                next_draw: started + STATUS_EVERY,
                last_draw: started,
                last_requests: 0,
            }),
        }
    }

    /// Whether this draws the status line.
    pub fn shows_status(&self) -> bool {
        self.status.is_some()
    }

    #[inline]
    fn tick(&mut self, now: f64) {
        if let Some(status) = &mut self.status {
            if now >= status.next_draw {
                show_status(&status.line(&self.summary, now));
            }
        }
    }
}

impl Processor for LiveSummary {
    fn process(&mut self, msg: &Message, _raw: &[u8], now: f64) {
        self.summary.add(msg);
        self.tick(now);
    }

    fn idle(&mut self, now: f64) {
        self.tick(now);
    }

    fn finish(&mut self) {
        if self.status.is_some() {
            clear_status();
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

struct StatusLine {
    started: f64,
    expected: Arc<OnceLock<f64>>,
    next_draw: f64,
    last_draw: f64,
    last_requests: u64,
}

impl StatusLine {
    /// `▶ 0:12 of 1:00 (0:48 left) · 40 journeys · 1,234 req/s · 3 errors`, and moves the
    /// clock on to the next drawing.
    fn line(&mut self, summary: &RunSummary, now: f64) -> String {
        let elapsed = (now - self.started).max(0.0);
        let span = (now - self.last_draw).max(1e-3);
        let requests = summary.requests();
        let rate = requests.saturating_sub(self.last_requests) as f64 / span;
        self.last_draw = now;
        self.last_requests = requests;
        self.next_draw = now + STATUS_EVERY;
        let time = match self.expected.get().copied() {
            Some(total) => format!(
                "{} of {} ({} left)",
                clock(elapsed),
                clock(total),
                clock((total - elapsed).max(0.0))
            ),
            None => clock(elapsed),
        };
        format!(
            "▶ {time} · {} journeys · {} req/s · {} errors",
            super::text::thousands(summary.active_journeys()),
            super::text::thousands(rate.round() as u64),
            super::text::thousands(summary.errors()),
        )
    }
}

/// Seconds as `m:ss` or `h:mm:ss`.
fn clock(seconds: f64) -> String {
    let s = seconds.round() as u64;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_line_says_how_far_the_run_is() {
        let mut status = StatusLine {
            started: 100.0,
            expected: Arc::new(OnceLock::from(60.0)),
            next_draw: 101.0,
            last_draw: 100.0,
            last_requests: 0,
        };
        let line = status.line(&RunSummary::default(), 112.0);
        assert_eq!(
            line,
            "▶ 0:12 of 1:00 (0:48 left) · 0 journeys · 0 req/s · 0 errors"
        );
        assert_eq!(status.next_draw, 113.0);
        assert_eq!(clock(3725.0), "1:02:05");
    }
}
