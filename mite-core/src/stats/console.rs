//! The periodic console statistics of mite's `HttpStatsOutput` (logger `Http Stats`).
//!
//! Windows are closed by message arrival, not by a timer: the first message after more than two
//! seconds closes the window and prints it. Only closed windows feed the cumulative statistics
//! used by the end-of-run thresholds and report, as in mite, so the samples of the last, partial
//! window never reach them.

use std::fmt::Write;

use super::series::Series;
use crate::messages::py_str;
use crate::messages::Message;

/// mite's logger name for these lines.
pub const LOGGER: &str = "Http Stats";

/// Seconds a window must exceed before the next message closes it.
const PERIOD: f64 = 2.0;

/// Message types counted as requests (they carry `total_time` and `download_size`).
const REQUEST_TYPES: [&str; 3] = [
    "http_metrics",
    "selenium_page_load_metrics",
    "selenium_network_resource_metrics",
];

/// The command-line switches that change the console statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConsoleOptions {
    /// `--journey-logging`: print cumulative error counts per journey.
    pub journey_logging: bool,
    /// `--hide-constant-logs`: drop the `Total>` and `Last 2 Secs>` lines.
    pub hide_constant_logs: bool,
    /// `--report`: keep every response time for the end-of-run report's percentiles.
    pub report: bool,
}

/// Request and error counts in two-second windows, and the cumulative figures the end-of-run
/// checks use.
#[derive(Clone, Debug)]
pub struct ConsoleStats {
    /// Requests counted so far, including the open window.
    pub req_total: u64,
    /// `error` and `exception` messages so far, including the open window.
    pub error_total: u64,
    pub(super) options: ConsoleOptions,
    /// When the stats began (mite's `_init_time`), for the report's run duration.
    pub(super) created_at: f64,
    window_start: Option<f64>,
    req_recent: u64,
    error_recent: u64,
    recent_times: Vec<f64>,
    /// Response times of arrival-rate journeys plus their start delay, this window.
    recent_intended: Vec<f64>,
    /// Response times of closed windows.
    pub(super) response_times: Series,
    /// The same, from the intended start, for the requests of arrival-rate journeys.
    pub(super) intended_times: Series,
    /// Requests per second of each closed window that had requests.
    pub(super) request_rates: Series,
    /// Sum of `download_size` over all requests, in bytes.
    pub(super) bytes_transferred: f64,
    /// Errors per journey in order of first error.
    journey_errors: Vec<(String, u64)>,
}

impl ConsoleStats {
    /// Empty statistics; `created_at` is the epoch time the run started.
    pub fn new(options: ConsoleOptions, created_at: f64) -> Self {
        ConsoleStats {
            req_total: 0,
            error_total: 0,
            options,
            created_at,
            window_start: None,
            req_recent: 0,
            error_recent: 0,
            recent_times: Vec::new(),
            recent_intended: Vec::new(),
            response_times: Series::new(options.report),
            intended_times: Series::new(options.report),
            request_rates: Series::new(true),
            bytes_transferred: 0.0,
            journey_errors: Vec::new(),
        }
    }

    /// Counts one message that arrived at epoch time `now`, first closing the window if it is
    /// older than two seconds. Returns the lines to log at INFO (usually none).
    ///
    /// A request message without a numeric `total_time` is not counted (mite raises a
    /// KeyError inside `ctx.send` there); a missing or non-numeric `download_size` counts as 0.
    pub fn process(&mut self, msg: &Message, now: f64) -> Vec<String> {
        let start = *self.window_start.get_or_insert(now);
        let mut lines = Vec::new();
        if start + PERIOD < now {
            self.close_window(start, now, &mut lines);
        }
        let kind = &*msg.kind;
        if REQUEST_TYPES.contains(&kind) {
            if let Some(total_time) = msg.get("total_time").and_then(|v| v.as_f64()) {
                self.recent_times.push(total_time);
                if self.options.report {
                    if let Some(delay) = msg.get("start_delay").and_then(|v| v.as_f64()) {
                        self.recent_intended.push(total_time + delay);
                    }
                }
                self.bytes_transferred += msg
                    .get("download_size")
                    .and_then(|v| v.as_f64())
                    .unwrap_or(0.0);
                self.req_total += 1;
                self.req_recent += 1;
            }
        } else if kind == "error" || kind == "exception" {
            self.error_total += 1;
            self.error_recent += 1;
            if self.options.journey_logging {
                let journey = msg.get("journey").map_or_else(|| "None".to_owned(), py_str);
                match self.journey_errors.iter_mut().find(|(j, _)| *j == journey) {
                    Some((_, count)) => *count += 1,
                    None => self.journey_errors.push((journey, 1)),
                }
            }
        }
        lines
    }

    fn close_window(&mut self, start: f64, now: f64, lines: &mut Vec<String>) {
        let elapsed = now - start;
        for &t in &self.recent_times {
            self.response_times.push(t);
        }
        for t in self.recent_intended.drain(..) {
            self.intended_times.push(t);
        }
        if self.req_recent > 0 {
            // mite stores window rates only under --report; we always do (one number per
            // window), so the req/s standard deviation threshold also works without it.
            self.request_rates.push(self.req_recent as f64 / elapsed);
        }
        self.recent_times.sort_by(f64::total_cmp);
        if !self.options.hide_constant_logs {
            lines.push(format!(
                "Total> #Reqs:{} #Errs:{}",
                self.req_total, self.error_total
            ));
        }
        if self.options.journey_logging {
            for (journey, count) in &self.journey_errors {
                lines.push(format!("Total errors for {journey} :{count}"));
            }
        }
        if !self.options.hide_constant_logs {
            let mut line = format!(
                "Last 2 Secs> #Reqs:{} #Errs:{} Req/S:{:.1}",
                self.req_recent,
                self.error_recent,
                self.req_recent as f64 / elapsed
            );
            for (label, percentile) in [
                ("min", 0.0),
                ("25%", 25.0),
                ("50%", 50.0),
                ("75%", 75.0),
                ("90%", 90.0),
                ("99%", 99.0),
                ("99.9%", 99.9),
                ("max", 100.0),
            ] {
                let _ = write!(
                    line,
                    " {label}:{}",
                    window_percentile(&self.recent_times, percentile)
                );
            }
            lines.push(line);
        }
        self.window_start = Some(now);
        self.recent_times.clear();
        self.req_recent = 0;
        self.error_recent = 0;
    }
}

/// mite's `_pct`: linear interpolation at `p/100 · (n−1)` over sorted times, `None` when empty.
///
/// mite prints an exactly indexed value (always the min and max) as `{repr}:.6f`, an f-string
/// slip; every value is printed as `{:.6f}` here.
fn window_percentile(sorted: &[f64], percentile: f64) -> String {
    if sorted.is_empty() {
        return "None".to_owned();
    }
    let index = percentile / 100.0 * (sorted.len() - 1) as f64;
    let whole = index.trunc();
    let fraction = index - whole;
    let i = whole as usize;
    let value = if fraction == 0.0 {
        sorted[i]
    } else {
        let (a, b) = (sorted[i], sorted[i + 1]);
        a + (b - a) * fraction
    };
    format!("{value:.6}")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::messages::{keys, Envelope, Value};

    fn request(total_time: f64) -> Message {
        Message::bare(Arc::from("http_metrics"), 0.0)
            .with_field(Arc::from("total_time"), total_time)
            .with_field(Arc::from("download_size"), 1024u64)
    }

    fn error(kind: &str, journey: &str) -> Message {
        let mut msg = Message::bare(Arc::from(kind), 0.0);
        msg.envelope = Some(Arc::new(Envelope::new(vec![(
            keys::journey(),
            Value::str(journey),
        )])));
        msg
    }

    fn tick() -> Message {
        Message::bare(Arc::from("controller_report"), 0.0)
    }

    fn stats(options: ConsoleOptions) -> ConsoleStats {
        ConsoleStats::new(options, 1000.0)
    }

    #[test]
    fn nothing_prints_until_a_message_arrives_after_more_than_two_seconds() {
        let mut s = stats(ConsoleOptions::default());
        assert!(s.process(&request(0.1), 1000.0).is_empty());
        assert!(s.process(&request(0.2), 1001.0).is_empty());
        // exactly two seconds is not enough (strictly greater)
        assert!(s.process(&tick(), 1002.0).is_empty());
        let lines = s.process(&tick(), 1002.5);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], "Total> #Reqs:2 #Errs:0");
        assert!(lines[1].starts_with("Last 2 Secs> #Reqs:2 #Errs:0 Req/S:0.8 "));
    }

    #[test]
    fn the_window_line_has_interpolated_percentiles() {
        let mut s = stats(ConsoleOptions::default());
        s.process(&tick(), 100.0);
        // mite's verified example: 60 requests of 0.01..0.1 s in 2 s
        for i in 0..60 {
            s.process(
                &request(0.01 + 0.09 * f64::from(i) / 59.0),
                100.0 + f64::from(i) / 30.0,
            );
        }
        let lines = s.process(&tick(), 102.0 + 1e-9);
        assert_eq!(
            lines[1],
            "Last 2 Secs> #Reqs:60 #Errs:0 Req/S:30.0 min:0.010000 25%:0.032500 \
             50%:0.055000 75%:0.077500 90%:0.091000 99%:0.099100 99.9%:0.099910 max:0.100000"
        );
    }

    #[test]
    fn an_empty_window_prints_none_percentiles() {
        let mut s = stats(ConsoleOptions::default());
        s.process(&tick(), 0.0);
        let lines = s.process(&tick(), 3.0);
        assert_eq!(
            lines[1],
            "Last 2 Secs> #Reqs:0 #Errs:0 Req/S:0.0 min:None 25%:None 50%:None 75%:None \
             90%:None 99%:None 99.9%:None max:None"
        );
    }

    #[test]
    fn errors_and_exceptions_count_as_errors() {
        let mut s = stats(ConsoleOptions::default());
        s.process(&error("error", "m:j"), 0.0);
        s.process(&error("exception", "m:j"), 0.5);
        s.process(&error("txn", "m:j"), 0.6);
        let lines = s.process(&tick(), 2.5);
        assert_eq!(lines[0], "Total> #Reqs:0 #Errs:2");
        assert!(lines[1].starts_with("Last 2 Secs> #Reqs:0 #Errs:2 "));
        assert_eq!(s.error_total, 2);
    }

    #[test]
    fn the_message_that_closes_a_window_counts_in_the_next_one() {
        let mut s = stats(ConsoleOptions::default());
        s.process(&tick(), 0.0);
        let lines = s.process(&request(0.5), 2.5);
        assert!(lines[1].starts_with("Last 2 Secs> #Reqs:0 "));
        assert_eq!(s.req_total, 1);
        let lines = s.process(&tick(), 5.0);
        assert_eq!(lines[0], "Total> #Reqs:1 #Errs:0");
        assert!(lines[1].starts_with("Last 2 Secs> #Reqs:1 #Errs:0 Req/S:0.4 min:0.500000 "));
    }

    #[test]
    fn journey_logging_prints_cumulative_errors_per_journey() {
        let mut s = stats(ConsoleOptions {
            journey_logging: true,
            ..ConsoleOptions::default()
        });
        s.process(&error("error", "m:b"), 0.0);
        s.process(&error("exception", "m:a"), 0.1);
        s.process(&error("error", "m:b"), 0.2);
        let lines = s.process(&tick(), 3.0);
        assert_eq!(lines[1], "Total errors for m:b :2");
        assert_eq!(lines[2], "Total errors for m:a :1");
        assert!(lines[3].starts_with("Last 2 Secs>"));
        let lines = s.process(&tick(), 6.0);
        assert_eq!(lines[1], "Total errors for m:b :2");
    }

    #[test]
    fn hidden_constant_logs_leave_only_journey_lines() {
        let mut s = stats(ConsoleOptions {
            journey_logging: true,
            hide_constant_logs: true,
            report: false,
        });
        s.process(&tick(), 0.0);
        assert!(s.process(&tick(), 3.0).is_empty());
        s.process(&error("error", "m:j"), 3.1);
        assert_eq!(
            s.process(&tick(), 6.0),
            vec!["Total errors for m:j :1".to_owned()]
        );
    }

    #[test]
    fn selenium_metrics_count_as_requests_and_bytes_add_up() {
        let mut s = stats(ConsoleOptions::default());
        let page = Message::bare(Arc::from("selenium_page_load_metrics"), 0.0)
            .with_field(Arc::from("total_time"), 1.5);
        s.process(&page, 0.0);
        s.process(&request(0.1), 0.0);
        assert_eq!(s.req_total, 2);
        assert_eq!(s.bytes_transferred, 1024.0);
    }

    #[test]
    fn requests_without_total_time_are_not_counted() {
        let mut s = stats(ConsoleOptions::default());
        s.process(&Message::bare(Arc::from("http_metrics"), 0.0), 0.0);
        assert_eq!(s.req_total, 0);
    }

    #[test]
    fn only_closed_windows_feed_the_cumulative_figures() {
        let mut s = stats(ConsoleOptions::default());
        s.process(&request(0.2), 0.0);
        s.process(&request(0.4), 1.0);
        s.process(&request(0.9), 2.5);
        assert_eq!(s.response_times.len(), 2);
        assert_eq!(s.response_times.max(), Some(0.4));
        assert_eq!(s.request_rates.len(), 1);
        assert_eq!(s.request_rates.min(), Some(2.0 / 2.5));
        assert_eq!(s.req_total, 3);
    }
}
