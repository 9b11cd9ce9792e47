//! The end-of-run checks of an in-process test run: error and response-time thresholds, and
//! the `--report` benchmark report (spec §3.5).
//!
//! Figures come from [`ConsoleStats`], whose cumulative response times include only windows
//! closed by a later message, as in mite. Where mite crashes with a `StatisticsError` (too few
//! samples for a standard deviation), the report says so in one line, and a threshold that
//! cannot be evaluated fails with a message saying why.

use super::console::ConsoleStats;
use super::table::Table;
use crate::messages::py_float_repr;

/// The threshold options as given on the command line (mite's defaults by [`Default`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThresholdArgs<'a> {
    /// `--max-errors-threshold`
    pub max_errors: &'a str,
    /// `--max-response-time-threshold` (ms, `"0"` = off)
    pub max_response_time: &'a str,
    /// `--mean-response-time-threshold` (ms, `"0"` = off)
    pub mean_response_time: &'a str,
    /// `--standard-deviation-response-time-threshold` (ms, `"0"` = off)
    pub stdev_response_time: &'a str,
    /// `--standard-deviation-req-sec-threshold` (req/s, `"0"` = off)
    pub stdev_req_sec: &'a str,
    /// `--benchmark-percentiles`: `percentile:threshold_ms` pairs, comma-separated
    pub benchmark_percentiles: &'a str,
}

impl Default for ThresholdArgs<'static> {
    fn default() -> Self {
        ThresholdArgs {
            max_errors: "0",
            max_response_time: "0",
            mean_response_time: "0",
            stdev_response_time: "0",
            stdev_req_sec: "0",
            benchmark_percentiles: "50:0,90:0,98:0,99:0",
        }
    }
}

/// A threshold option that is not what mite's `int(...)` parsing accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThresholdError {
    #[error("{option}: {value:?} is not an integer")]
    NotAnInteger { option: &'static str, value: String },
    #[error("--benchmark-percentiles: {0:?} is not PERCENTILE:THRESHOLD_MS")]
    BadPercentileEntry(String),
    #[error("--benchmark-percentiles: percentile {0} is not between 1 and 99")]
    PercentileOutOfRange(i64),
}

/// One `--benchmark-percentiles` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PercentileThreshold {
    /// 1 to 99.
    pub percentile: u8,
    /// Milliseconds; 0 means no threshold, only a report column.
    pub threshold_ms: i64,
}

/// Parsed end-of-run thresholds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thresholds {
    /// Fail if more errors than this were counted.
    pub max_errors: i64,
    /// Fail if the slowest response took longer (ms). This and the next three are `None`
    /// when the option is exactly `"0"`: mite compares the string, so `"00"` is a threshold.
    pub max_response_time_ms: Option<i64>,
    /// Fail if the mean response time is higher (ms).
    pub mean_response_time_ms: Option<i64>,
    /// Fail if the response times' sample standard deviation is higher (ms).
    pub stdev_response_time_ms: Option<i64>,
    /// Fail if the standard deviation of the per-window request rates is higher (req/s).
    pub stdev_req_sec: Option<i64>,
    /// Report columns, and thresholds checked with `--report`.
    pub percentiles: Vec<PercentileThreshold>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds::parse(&ThresholdArgs::default()).expect("mite's defaults parse")
    }
}

/// One end-of-run check that ran, and its verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// The option that set it.
    pub option: &'static str,
    /// The limit, as the summary shows it (`0`, `500ms`, `p99 200ms`).
    pub limit: String,
    /// The failure text (also in [`Evaluation::failures`]), `None` if it passed.
    pub failure: Option<String>,
}

/// The outcome of the end-of-run checks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evaluation {
    /// ERROR texts of the checks mite runs before the report, in its order.
    pub failures: Vec<String>,
    /// The report for stdout (print as is: it starts and ends with blank lines), with `--report`.
    pub report: Option<String>,
    /// ERROR texts of the percentile checks, which mite logs after the report.
    pub percentile_failures: Vec<String>,
    /// Every check that ran, in the order run, with its verdict.
    pub checks: Vec<Check>,
}

impl Evaluation {
    /// Whether the run failed (mite raises `Exception("Mite test failed")`, exit code 1).
    pub fn failed(&self) -> bool {
        !self.failures.is_empty() || !self.percentile_failures.is_empty()
    }
}

impl Thresholds {
    /// Parses the options as mite does with `int(...)`. Percentiles must be 1 to 99: mite
    /// reads the 0th as the 99th and crashes on 100 and above.
    pub fn parse(args: &ThresholdArgs<'_>) -> Result<Self, ThresholdError> {
        let optional = |option: &'static str, value: &str| {
            if value == "0" {
                Ok(None)
            } else {
                parse_int(option, value).map(Some)
            }
        };
        let percentiles = args
            .benchmark_percentiles
            .split(',')
            .map(|entry| {
                let (percentile, threshold) = entry
                    .split_once(':')
                    .filter(|(_, t)| !t.contains(':'))
                    .ok_or_else(|| ThresholdError::BadPercentileEntry(entry.to_owned()))?;
                let percentile = parse_int("--benchmark-percentiles", percentile)?;
                let threshold_ms = parse_int("--benchmark-percentiles", threshold)?;
                let percentile = u8::try_from(percentile)
                    .ok()
                    .filter(|p| (1..=99).contains(p))
                    .ok_or(ThresholdError::PercentileOutOfRange(percentile))?;
                Ok(PercentileThreshold {
                    percentile,
                    threshold_ms,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Thresholds {
            max_errors: parse_int("--max-errors-threshold", args.max_errors)?,
            max_response_time_ms: optional(
                "--max-response-time-threshold",
                args.max_response_time,
            )?,
            mean_response_time_ms: optional(
                "--mean-response-time-threshold",
                args.mean_response_time,
            )?,
            stdev_response_time_ms: optional(
                "--standard-deviation-response-time-threshold",
                args.stdev_response_time,
            )?,
            stdev_req_sec: optional("--standard-deviation-req-sec-threshold", args.stdev_req_sec)?,
            percentiles,
        })
    }

    /// Runs mite's end-of-run checks on `stats`; `completed_at` is the epoch time the run
    /// ended. The report is built when the stats were created with `report` set.
    pub fn evaluate(&self, stats: &ConsoleStats, completed_at: f64) -> Evaluation {
        let times = &stats.response_times;
        let mut failures = Vec::new();
        let mut checks = Vec::new();
        // Runs one check: what it pushes onto `failures` (at most one text) is its verdict.
        let mut check =
            |option: &'static str, limit: String, run: &mut dyn FnMut(&mut Vec<String>)| {
                let before = failures.len();
                run(&mut failures);
                checks.push(Check {
                    option,
                    limit,
                    failure: failures.get(before).cloned(),
                });
            };

        check(
            "--max-errors-threshold",
            self.max_errors.to_string(),
            &mut |failures| {
                if i128::from(self.max_errors) < i128::from(stats.error_total) {
                    failures.push(format!("Error count exceeded: {}", stats.error_total));
                }
            },
        );
        // mite's figures start as the int 0, printed `0` rather than `0.0`.
        let ms = |seconds: Option<f64>| seconds.map(|s| s * 1000.0);
        if let Some(limit) = self.max_response_time_ms {
            check(
                "--max-response-time-threshold",
                format!("{limit}ms"),
                &mut |failures| {
                    if let Some(text) = exceeds(ms(times.max()), limit) {
                        failures.push(format!("Max response time exceeded: {text}ms"));
                    }
                },
            );
        }
        if let Some(limit) = self.mean_response_time_ms {
            check(
                "--mean-response-time-threshold",
                format!("{limit}ms"),
                &mut |failures| {
                    if let Some(text) = exceeds(ms(times.mean()), limit) {
                        failures.push(format!("Mean response time exceeded: {text}ms"));
                    }
                },
            );
        }
        if let Some(limit) = self.stdev_response_time_ms {
            let option = "--standard-deviation-response-time-threshold";
            check(option, format!("{limit}ms"), &mut |failures| {
                if times.len() == 1 {
                    failures.push(
                        "Response time standard deviation could not be checked: it needs at \
                         least two response times from closed 2-second windows, got 1"
                            .to_owned(),
                    );
                } else if let Some(text) = exceeds(ms(times.stdev()), limit) {
                    failures.push(format!(
                        "Response time standard deviation exceeded: {text}ms"
                    ));
                }
            });
        }
        if let Some(limit) = self.stdev_req_sec {
            let option = "--standard-deviation-req-sec-threshold";
            check(option, limit.to_string(), &mut |failures| {
                let rates = &stats.request_rates;
                if stats.req_total > 0 && rates.len() < 2 {
                    failures.push(format!(
                        "Request per second standard deviation could not be checked: it needs \
                         at least two closed 2-second windows with requests, got {}",
                        rates.len()
                    ));
                } else if let Some(text) = exceeds(rates.stdev(), limit) {
                    failures.push(format!("Request per second exceeded: {text}"));
                }
            });
        }

        let mut evaluation = Evaluation {
            failures,
            checks,
            ..Evaluation::default()
        };
        if !stats.options.report {
            return evaluation;
        }
        let percentiles = self.percentile_values(stats);
        evaluation.report = Some(render_report(stats, &percentiles, completed_at));
        for (threshold, value) in percentiles {
            let limit = threshold.threshold_ms;
            if limit == 0 {
                continue;
            }
            let failure = (value * 1000.0 >= limit as f64).then(|| {
                format!(
                    "Response time at {}th percentile exceeded {limit}ms: {}",
                    threshold.percentile,
                    time_unit_format(value)
                )
            });
            evaluation.checks.push(Check {
                option: "--benchmark-percentiles",
                limit: format!("p{} {limit}ms", threshold.percentile),
                failure: failure.clone(),
            });
            evaluation.percentile_failures.extend(failure);
        }
        evaluation
    }

    /// Each configured percentile with its value; empty without response times (as in mite).
    fn percentile_values(&self, stats: &ConsoleStats) -> Vec<(PercentileThreshold, f64)> {
        let Some(quantiles) = stats.response_times.percentiles() else {
            return Vec::new();
        };
        self.percentiles
            .iter()
            .map(|&t| (t, quantiles[usize::from(t.percentile) - 1]))
            .collect()
    }
}

/// The figure's text if it exceeds `limit` (an absent figure is mite's int `0`).
fn exceeds(value: Option<f64>, limit: i64) -> Option<String> {
    match value {
        Some(v) if v > limit as f64 => Some(py_float_repr(v)),
        None if 0 > limit => Some("0".to_owned()),
        _ => None,
    }
}

fn render_report(
    stats: &ConsoleStats,
    percentiles: &[(PercentileThreshold, f64)],
    completed_at: f64,
) -> String {
    let mut out = format!("\n{0} MITE Benchmark Report {0}\n\n", "=".repeat(20));
    let rates = &stats.request_rates;
    if stats.req_total == 0 || rates.len() >= 2 {
        out.push_str(&latency_table(stats, percentiles));
        out.push_str("\n\n");
        out.push_str(&requests_table(stats));
        out.push_str("\n\n");
    } else {
        out.push_str(&format!(
            "Not enough data for the latency and request rate tables: they need at least two \
             closed 2-second windows with requests, this run closed {}.\n\n",
            rates.len()
        ));
    }
    let (size, unit) = human_readable_bytes(stats.bytes_transferred);
    out.push_str(&format!(
        "{0} Summary {0}\n{1} requests in {2:.2}s, {size:.2} {unit} data transferred\n\n",
        "=".repeat(27),
        stats.req_total,
        completed_at - stats.created_at,
    ));
    out
}

const STANDARD_HEADERS: [&str; 6] = ["", "Avg", "Min", "Max", "Std Dev", "+/- Std Dev"];

fn latency_table(stats: &ConsoleStats, percentiles: &[(PercentileThreshold, f64)]) -> String {
    let times = &stats.response_times;
    let mut header: Vec<String> = STANDARD_HEADERS.iter().map(|h| h.to_string()).collect();
    header.extend(
        percentiles
            .iter()
            .map(|(t, _)| format!("{} %tile", t.percentile)),
    );
    let mut table = Table::new(header);
    let mut row = standard_cells("Latency", times);
    row.extend(
        percentiles
            .iter()
            .map(|(t, value)| colorise(*value, t.threshold_ms)),
    );
    table.add_row(row, true);
    // Arrival-rate journeys' requests timed from when the journey was due (mite-rs).
    let intended = &stats.intended_times;
    if let Some(quantiles) = intended.percentiles() {
        let mut row = standard_cells("From intended start", intended);
        row.extend(
            percentiles
                .iter()
                .map(|(t, _)| time_unit_format(quantiles[usize::from(t.percentile) - 1])),
        );
        table.add_row(row, false);
    }
    if percentiles.iter().any(|(t, _)| t.threshold_ms != 0) {
        let mut row = vec!["Test Thresholds".to_owned()];
        row.extend(std::iter::repeat_n(
            "-".to_owned(),
            STANDARD_HEADERS.len() - 1,
        ));
        row.extend(percentiles.iter().map(|(t, _)| match t.threshold_ms {
            0 => "-".to_owned(),
            ms => format!("{ms}ms"),
        }));
        table.add_row(row, false);
    }
    table.render()
}

/// A latency row's label and its mean, min, max, standard deviation and share within one.
fn standard_cells(label: &str, times: &super::series::Series) -> Vec<String> {
    vec![
        label.to_owned(),
        time_unit_format(times.mean().unwrap_or(0.0)),
        time_unit_format(times.min().unwrap_or(0.0)),
        time_unit_format(times.max().unwrap_or(0.0)),
        time_unit_format(times.stdev().unwrap_or(0.0)),
        format!("{:.2}%", times.percent_within_one_stdev().unwrap_or(0.0)),
    ]
}

fn requests_table(stats: &ConsoleStats) -> String {
    let rates = &stats.request_rates;
    let mut table = Table::new(STANDARD_HEADERS.iter().map(|h| h.to_string()).collect());
    table.add_row(
        vec![
            "Req/Sec".to_owned(),
            number_format(rates.mean().unwrap_or(0.0)),
            number_format(rates.min().unwrap_or(0.0)),
            number_format(rates.max().unwrap_or(0.0)),
            number_format(rates.stdev().unwrap_or(0.0)),
            format!("{:.2}%", rates.percent_within_one_stdev().unwrap_or(0.0)),
        ],
        false,
    );
    table.render()
}

/// Seconds as `12.34ms` below one second, else `1.234s`.
fn time_unit_format(seconds: f64) -> String {
    if seconds < 1.0 {
        format!("{:.2}ms", seconds * 1000.0)
    } else {
        format!("{seconds:.3}s")
    }
}

/// Thresholded percentile cells are red when at or over the threshold, else green.
fn colorise(seconds: f64, threshold_ms: i64) -> String {
    let text = time_unit_format(seconds);
    match threshold_ms {
        0 => text,
        t if seconds * 1000.0 >= t as f64 => format!("\u{1b}[91m{text}\u{1b}[0m"),
        _ => format!("\u{1b}[92m{text}\u{1b}[0m"),
    }
}

fn number_format(x: f64) -> String {
    if x >= 1000.0 {
        format!("{:.2}K", x / 1000.0)
    } else {
        format!("{x:.2}")
    }
}

fn human_readable_bytes(bytes: f64) -> (f64, &'static str) {
    let mut size = bytes;
    for unit in ["B", "KB", "MB", "GB", "TB"] {
        if size < 1024.0 {
            return (size, unit);
        }
        size /= 1024.0;
    }
    (size, "PB")
}

/// Python's `int(text)` for base-10 text: surrounding whitespace, a sign, digits with single
/// underscores between them.
fn parse_int(option: &'static str, text: &str) -> Result<i64, ThresholdError> {
    let error = || ThresholdError::NotAnInteger {
        option,
        value: text.to_owned(),
    };
    let trimmed = text.trim();
    let (negative, digits) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let well_formed = !digits.is_empty()
        && !digits.starts_with('_')
        && !digits.ends_with('_')
        && !digits.contains("__")
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    if !well_formed {
        return Err(error());
    }
    let magnitude: i128 = digits
        .bytes()
        .filter(|b| b.is_ascii_digit())
        .try_fold(0i128, |acc, b| {
            acc.checked_mul(10)?.checked_add(i128::from(b - b'0'))
        })
        .ok_or_else(error)?;
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).map_err(|_| error())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::messages::Message;
    use crate::stats::ConsoleOptions;

    fn request(total_time: f64, bytes: u64) -> Message {
        Message::bare(Arc::from("http_metrics"), 0.0)
            .with_field(Arc::from("total_time"), total_time)
            .with_field(Arc::from("download_size"), bytes)
    }

    fn tick() -> Message {
        Message::bare(Arc::from("controller_report"), 0.0)
    }

    fn error() -> Message {
        Message::bare(Arc::from("error"), 0.0)
    }

    fn thresholds(args: ThresholdArgs<'_>) -> Thresholds {
        Thresholds::parse(&args).unwrap()
    }

    /// A run like the one behind the spec's verified report: 15 requests each of 0.01 to
    /// 0.10 s, 2 KiB each, in three closed windows of 30, 60 and 60 requests.
    fn spec_run() -> ConsoleStats {
        let mut stats = ConsoleStats::new(
            ConsoleOptions {
                report: true,
                ..ConsoleOptions::default()
            },
            0.0,
        );
        // Windows of 2 s + 1 ns: 15, 30 and 30 req/s, within rounding.
        let mut now = 0.0;
        stats.process(&tick(), now);
        for window_requests in [30, 60, 60] {
            for i in 0..window_requests {
                let t = f64::from(i % 10 + 1) / 100.0;
                stats.process(&request(t, 2048), now + 0.01);
            }
            now += 2.0 + 1e-9;
            stats.process(&tick(), now);
        }
        stats
    }

    #[test]
    fn defaults_parse_to_mites_defaults() {
        let t = Thresholds::default();
        assert_eq!(t.max_errors, 0);
        assert_eq!(t.max_response_time_ms, None);
        assert_eq!(t.stdev_req_sec, None);
        let percentiles: Vec<(u8, i64)> = t
            .percentiles
            .iter()
            .map(|p| (p.percentile, p.threshold_ms))
            .collect();
        assert_eq!(percentiles, [(50, 0), (90, 0), (98, 0), (99, 0)]);
    }

    #[test]
    fn integers_parse_like_python_int() {
        assert_eq!(parse_int("x", " 12 "), Ok(12));
        assert_eq!(parse_int("x", "+5"), Ok(5));
        assert_eq!(parse_int("x", "-3"), Ok(-3));
        assert_eq!(parse_int("x", "1_000"), Ok(1000));
        assert_eq!(parse_int("x", "007"), Ok(7));
        for bad in [
            "",
            "1.5",
            "_1",
            "1__0",
            "1_",
            "ten",
            "- 1",
            "99999999999999999999",
        ] {
            assert!(parse_int("x", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_the_exact_string_0_disables_a_threshold() {
        let t = thresholds(ThresholdArgs {
            max_response_time: "00",
            ..ThresholdArgs::default()
        });
        assert_eq!(t.max_response_time_ms, Some(0));
    }

    #[test]
    fn bad_threshold_options_are_errors() {
        let err = Thresholds::parse(&ThresholdArgs {
            max_errors: "many",
            ..ThresholdArgs::default()
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "--max-errors-threshold: \"many\" is not an integer"
        );
        for (spec, expected) in [
            ("50", ThresholdError::BadPercentileEntry("50".into())),
            (
                "50:1:2",
                ThresholdError::BadPercentileEntry("50:1:2".into()),
            ),
            ("0:10", ThresholdError::PercentileOutOfRange(0)),
            ("100:10", ThresholdError::PercentileOutOfRange(100)),
        ] {
            let err = Thresholds::parse(&ThresholdArgs {
                benchmark_percentiles: spec,
                ..ThresholdArgs::default()
            })
            .unwrap_err();
            assert_eq!(err, expected);
        }
    }

    #[test]
    fn any_error_fails_the_run_by_default() {
        let mut stats = ConsoleStats::new(ConsoleOptions::default(), 0.0);
        stats.process(&error(), 0.0);
        let evaluation = Thresholds::default().evaluate(&stats, 1.0);
        assert_eq!(evaluation.failures, ["Error count exceeded: 1"]);
        assert!(evaluation.failed());
        assert_eq!(evaluation.report, None);
    }

    #[test]
    fn a_clean_run_passes_without_a_report() {
        let evaluation = Thresholds::default().evaluate(&spec_run(), 10.0);
        let stats = ConsoleStats::new(ConsoleOptions::default(), 0.0);
        assert!(!Thresholds::default().evaluate(&stats, 1.0).failed());
        assert!(!evaluation.failed());
    }

    #[test]
    fn response_time_thresholds_print_pythons_float_repr() {
        let mut stats = ConsoleStats::new(ConsoleOptions::default(), 0.0);
        stats.process(&request(0.1, 0), 0.0);
        stats.process(&request(0.3, 0), 0.5);
        stats.process(&tick(), 2.5);
        let t = thresholds(ThresholdArgs {
            max_response_time: "100",
            mean_response_time: "100",
            stdev_response_time: "100",
            ..ThresholdArgs::default()
        });
        // 0.3 * 1000, fmean([0.1, 0.3]) * 1000, stdev([0.1, 0.3]) * 1000 in Python
        assert_eq!(
            t.evaluate(&stats, 3.0).failures,
            [
                "Max response time exceeded: 300.0ms",
                "Mean response time exceeded: 200.0ms",
                "Response time standard deviation exceeded: 141.4213562373095ms",
            ]
        );
    }

    #[test]
    fn thresholds_on_figures_without_samples_compare_mites_zero() {
        let stats = ConsoleStats::new(ConsoleOptions::default(), 0.0);
        let t = thresholds(ThresholdArgs {
            max_response_time: "-1",
            stdev_req_sec: "5",
            ..ThresholdArgs::default()
        });
        assert_eq!(
            t.evaluate(&stats, 1.0).failures,
            ["Max response time exceeded: 0ms"]
        );
    }

    #[test]
    fn thresholds_that_need_more_samples_fail_with_a_reason() {
        let mut stats = ConsoleStats::new(ConsoleOptions::default(), 0.0);
        stats.process(&request(0.1, 0), 0.0);
        stats.process(&tick(), 2.5);
        let t = thresholds(ThresholdArgs {
            stdev_response_time: "100",
            stdev_req_sec: "1",
            ..ThresholdArgs::default()
        });
        let failures = t.evaluate(&stats, 3.0).failures;
        assert_eq!(failures.len(), 2);
        assert!(failures[0].starts_with("Response time standard deviation could not be checked"));
        assert!(
            failures[1].starts_with("Request per second standard deviation could not be checked")
        );
    }

    #[test]
    fn the_req_sec_threshold_works_without_report() {
        let stats = spec_run();
        let t = thresholds(ThresholdArgs {
            stdev_req_sec: "1",
            ..ThresholdArgs::default()
        });
        // statistics.stdev of the three window rates, as mite computes them
        assert_eq!(
            t.evaluate(&stats, 7.0).failures,
            ["Request per second exceeded: 8.66025403351426"]
        );
    }

    #[test]
    fn the_report_matches_mites_layout() {
        let stats = spec_run();
        let t = thresholds(ThresholdArgs {
            benchmark_percentiles: "50:20,90:0,99:50",
            ..ThresholdArgs::default()
        });
        let evaluation = t.evaluate(&stats, 6.06);
        let red = |s: &str| format!("\u{1b}[91m{s}\u{1b}[0m");
        let expected = format!(
            "\n==================== MITE Benchmark Report ====================\n\n\
+-----------------+---------+---------+----------+---------+-------------+----------+----------+----------+\n\
|                 |   Avg   |   Min   |   Max    | Std Dev | +/- Std Dev | 50 %tile | 90 %tile | 99 %tile |\n\
+-----------------+---------+---------+----------+---------+-------------+----------+----------+----------+\n\
|     Latency     | 55.00ms | 10.00ms | 100.00ms | 28.82ms |    60.00%   | {}  | 99.00ms  | {} |\n\
+-----------------+---------+---------+----------+---------+-------------+----------+----------+----------+\n\
| Test Thresholds |    -    |    -    |    -     |    -    |      -      |   20ms   |    -     |   50ms   |\n\
+-----------------+---------+---------+----------+---------+-------------+----------+----------+----------+\n\
\n\
+---------+-------+-------+-------+---------+-------------+\n\
|         |  Avg  |  Min  |  Max  | Std Dev | +/- Std Dev |\n\
+---------+-------+-------+-------+---------+-------------+\n\
| Req/Sec | 25.00 | 15.00 | 30.00 |   8.66  |    66.67%   |\n\
+---------+-------+-------+-------+---------+-------------+\n\
\n\
=========================== Summary ===========================\n\
150 requests in 6.06s, 300.00 KB data transferred\n\n",
            red("55.00ms"),
            red("100.00ms"),
        );
        assert_eq!(evaluation.report.as_deref(), Some(expected.as_str()));
        assert_eq!(
            evaluation.percentile_failures,
            [
                "Response time at 50th percentile exceeded 20ms: 55.00ms",
                "Response time at 99th percentile exceeded 50ms: 100.00ms",
            ]
        );
        assert!(evaluation.failures.is_empty());
        assert!(evaluation.failed());
    }

    #[test]
    fn passing_percentiles_are_green_and_unthresholded_ones_plain() {
        let stats = spec_run();
        let t = thresholds(ThresholdArgs {
            benchmark_percentiles: "50:1000,90:0",
            ..ThresholdArgs::default()
        });
        let evaluation = t.evaluate(&stats, 6.06);
        let report = evaluation.report.as_deref().unwrap();
        assert!(
            report.contains("| \u{1b}[92m55.00ms\u{1b}[0m  | 99.00ms  |"),
            "{report}"
        );
        assert!(report.contains("|  1000ms  |    -     |"), "{report}");
        assert!(!evaluation.failed());
    }

    #[test]
    fn without_thresholds_there_is_no_thresholds_row() {
        let evaluation = Thresholds::default().evaluate(&spec_run(), 6.06);
        let report = evaluation.report.unwrap();
        assert!(!report.contains("Test Thresholds"));
        assert!(report.contains("| 50 %tile | 90 %tile | 98 %tile | 99 %tile |"));
    }

    #[test]
    fn a_run_without_requests_reports_zeros() {
        let stats = ConsoleStats::new(
            ConsoleOptions {
                report: true,
                ..ConsoleOptions::default()
            },
            0.0,
        );
        let report = Thresholds::default().evaluate(&stats, 1.5).report.unwrap();
        assert!(
            report.contains("| Latency | 0.00ms | 0.00ms | 0.00ms |  0.00ms |    0.00%    |"),
            "{report}"
        );
        assert!(
            report.contains("| Req/Sec | 0.00 | 0.00 | 0.00 |   0.00  |    0.00%    |"),
            "{report}"
        );
        assert!(report.ends_with("0 requests in 1.50s, 0.00 B data transferred\n\n"));
    }

    #[test]
    fn a_short_run_says_there_is_not_enough_data() {
        let mut stats = ConsoleStats::new(
            ConsoleOptions {
                report: true,
                ..ConsoleOptions::default()
            },
            0.0,
        );
        stats.process(&request(0.1, 1536), 0.0);
        let report = Thresholds::default().evaluate(&stats, 1.0).report.unwrap();
        assert_eq!(
            report,
            "\n==================== MITE Benchmark Report ====================\n\n\
             Not enough data for the latency and request rate tables: they need at least two \
             closed 2-second windows with requests, this run closed 0.\n\n\
             =========================== Summary ===========================\n\
             1 requests in 1.00s, 1.50 KB data transferred\n\n"
        );
    }

    #[test]
    fn sizes_and_rates_use_mites_units() {
        assert_eq!(human_readable_bytes(1023.0), (1023.0, "B"));
        assert_eq!(human_readable_bytes(1024.0 * 1024.0 * 3.0), (3.0, "MB"));
        assert_eq!(human_readable_bytes(1024f64.powi(5)), (1.0, "PB"));
        assert_eq!(human_readable_bytes(1024f64.powi(6)), (1024.0, "PB"));
        assert_eq!(number_format(999.994), "999.99");
        assert_eq!(number_format(1500.0), "1.50K");
        assert_eq!(time_unit_format(0.0123), "12.30ms");
        assert_eq!(time_unit_format(1.23456), "1.235s");
    }
}
