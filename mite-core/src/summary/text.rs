//! The end-of-run summary printed on the console.

use std::fmt::Write;

use super::histogram::RunHistogram;
use super::run::{RunSummary, TransactionTotals};
use super::RunInfo;

/// Error kinds the console lists.
const TOP_ERRORS_TEXT: usize = 5;
/// Transaction rows the console lists (the JSON and HTML have them all).
const TRANSACTION_ROWS_TEXT: usize = 30;
const QUANTILES: [f64; 4] = [0.5, 0.9, 0.95, 0.99];

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A latency for people: three significant figures, in µs, ms or s.
pub(crate) fn duration_text(us: u64) -> String {
    let us = us as f64;
    if us < 1000.0 {
        format!("{us:.0}µs")
    } else if us < 10_000.0 {
        format!("{:.2}ms", us / 1000.0)
    } else if us < 100_000.0 {
        format!("{:.1}ms", us / 1000.0)
    } else if us < 10_000_000.0 {
        format!("{:.0}ms", us / 1000.0)
    } else {
        format!("{:.1}s", us / 1e6)
    }
}

/// A run's length: `0.028s`, `9.03s`, `61.0s`.
pub(crate) fn seconds_text(seconds: f64) -> String {
    if seconds < 1.0 {
        format!("{seconds:.3}s")
    } else if seconds < 10.0 {
        format!("{seconds:.2}s")
    } else {
        format!("{seconds:.1}s")
    }
}

/// A rate: `57,993`, `12.3`.
pub(crate) fn rate_text(rate: f64) -> String {
    if rate >= 100.0 {
        thousands(rate.round() as u64)
    } else {
        format!("{rate:.1}")
    }
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".to_owned()
    } else {
        format!("{:.2}%", 100.0 * part as f64 / whole as f64)
    }
}

fn latency_cells(h: &RunHistogram) -> Vec<String> {
    QUANTILES
        .iter()
        .map(|&q| h.quantile_us(q))
        .chain([h.max_us()])
        .map(|v| v.map_or_else(|| "-".to_owned(), duration_text))
        .collect()
}

/// `  p50 …  p90 …  p95 …  p99 …  max …`.
fn latency_line(h: &RunHistogram) -> String {
    let cells = latency_cells(h);
    format!(
        "  p50 {}  p90 {}  p95 {}  p99 {}  max {}",
        cells[0], cells[1], cells[2], cells[3], cells[4]
    )
}

/// The summary as lines for stdout (ends with a newline).
pub fn summary_text(summary: &RunSummary, info: &RunInfo) -> String {
    let mut out = String::new();
    let rule = "─".repeat(30);
    let _ = writeln!(out, "\n{rule} mite-rs run summary {rule}");
    let _ = writeln!(
        out,
        "test        {}  ({})",
        summary.test.as_deref().unwrap_or("-"),
        info.outcome.name()
    );
    let duration = summary.duration();
    let _ = writeln!(out, "duration    {}", seconds_text(duration));
    let _ = writeln!(
        out,
        "journeys    {} started, {} finished, {} failed ({})",
        thousands(summary.journeys_started()),
        thousands(summary.journeys_finished),
        thousands(summary.journeys_failed),
        percent(summary.journeys_failed, summary.journeys_finished)
    );
    if let Some(starts) = summary.start_totals() {
        let _ = writeln!(
            out,
            "starts      {} scheduled by arrival rate, {} dropped ({})",
            thousands(starts.scheduled),
            thousands(starts.dropped),
            percent(starts.dropped, starts.scheduled)
        );
    }
    let rate = if duration > 0.0 {
        summary.requests() as f64 / duration
    } else {
        0.0
    };
    let _ = write!(
        out,
        "requests    {} ({}/s)",
        thousands(summary.requests()),
        rate_text(rate)
    );
    if summary.requests() > 0 {
        out.push_str(&latency_line(&summary.requests));
    }
    out.push('\n');
    if summary.requests_from_intended.count() > 0 {
        let _ = writeln!(
            out,
            "  from intended start{}",
            latency_line(&summary.requests_from_intended)
        );
    }
    if !summary.status_codes.is_empty() {
        let codes: Vec<String> = summary
            .status_codes
            .iter()
            .map(|(code, n)| format!("{code}: {}", thousands(*n)))
            .collect();
        let _ = writeln!(out, "statuses    {}", codes.join(", "));
    }
    errors_text(&mut out, summary);
    generator_text(&mut out, summary);
    transactions_text(&mut out, summary);
    thresholds_text(&mut out, info);
    out
}

/// Whether the load generator was the limit, with its figures; blocking calls by place.
fn generator_text(out: &mut String, summary: &RunSummary) {
    use crate::health::seconds_text;
    let g = &summary.generator;
    if !g.seen() {
        return;
    }
    let figures = format!(
        "loop lag p90 up to {}, CPU up to {:.0}% of {} core{}",
        seconds_text(g.lag_p90_max),
        g.cpu_max,
        g.cores,
        if g.cores == 1 { "" } else { "s" }
    );
    if g.limited() {
        let _ = writeln!(
            out,
            "generator   LIMITED for {} s (longest run {} s): {figures}{}; the figures measure \
             the generator, not the target",
            g.limited_seconds,
            g.longest_limited,
            if g.late_starts > 0 {
                format!(
                    ", {} starts late by up to {}",
                    thousands(g.late_starts),
                    seconds_text(g.start_delay_max)
                )
            } else {
                String::new()
            }
        );
    } else {
        let _ = writeln!(out, "generator   ok: {figures}");
    }
    for ((file, line), place) in &g.blocking {
        let name = std::path::Path::new(&**file)
            .file_name()
            .map_or_else(|| file.to_string(), |f| f.to_string_lossy().into_owned());
        let _ = writeln!(
            out,
            "  blocked the loop {} at {name}:{line} in {}: {} ({} time{})",
            seconds_text(place.max_seconds),
            place.function,
            place.code,
            place.count,
            if place.count == 1 { "" } else { "s" }
        );
    }
}

fn errors_text(out: &mut String, summary: &RunSummary) {
    let kinds = summary.error_kinds.len() + usize::from(summary.errors_other > 0);
    let _ = writeln!(
        out,
        "errors      {}{}",
        thousands(summary.errors_total),
        match kinds {
            0 => String::new(),
            1 => " (1 kind)".to_owned(),
            n => format!(" ({n} kinds)"),
        }
    );
    let top = summary.top_errors();
    for (ex_type, message, count) in top.iter().take(TOP_ERRORS_TEXT) {
        let what = match (ex_type.is_empty(), message.is_empty()) {
            (false, false) => format!("{ex_type}: {message}"),
            (true, _) => message.to_string(),
            (false, true) => ex_type.to_string(),
        };
        let what = what.lines().next().unwrap_or("");
        let _ = writeln!(out, "  {:>10}  {what}", thousands(*count));
    }
    let listed: u64 = top.iter().take(TOP_ERRORS_TEXT).map(|e| e.2).sum();
    if summary.errors_total > listed {
        let _ = writeln!(
            out,
            "  {:>10}  of other kinds",
            thousands(summary.errors_total - listed)
        );
    }
}

fn transactions_text(out: &mut String, summary: &RunSummary) {
    if summary.transactions.is_empty() {
        return;
    }
    let rows = summary.transaction_rows();
    let several_journeys = rows.iter().any(|row| row.1 != rows[0].1);
    let label = |journey: &str, name: &str| {
        if several_journeys && !journey.is_empty() {
            format!("{journey} {name}")
        } else {
            name.to_owned()
        }
    };
    let listed = &rows[..rows.len().min(TRANSACTION_ROWS_TEXT)];
    // One row per transaction that has samples in the histogram `pick` chooses.
    let rows_of = |pick: fn(&TransactionTotals) -> &RunHistogram| -> Vec<Vec<String>> {
        listed
            .iter()
            .filter(|row| pick(row.3).count() > 0)
            .map(|(_, journey, name, t)| {
                let mut row = vec![
                    label(journey, name),
                    thousands(t.count),
                    percent(t.errors, t.count),
                ];
                row.extend(latency_cells(pick(t)));
                row
            })
            .collect()
    };
    out.push('\n');
    table(out, "transaction", &rows_of(|t| &t.latency));
    if summary.transactions.len() > TRANSACTION_ROWS_TEXT {
        let _ = writeln!(
            out,
            "… and {} more transactions (all of them are in --summary-json and --html-report)",
            summary.transactions.len() - TRANSACTION_ROWS_TEXT
        );
    }
    // Arrival-rate journeys: the same, timed from when each journey was due to start.
    let intended = rows_of(|t| &t.from_intended);
    if !intended.is_empty() {
        out.push('\n');
        table(out, "from intended start", &intended);
    }
}

/// A table of `rows` under a header of `first` and the count, error and latency columns.
fn table(out: &mut String, first: &str, rows: &[Vec<String>]) {
    let header = [first, "count", "errors", "p50", "p90", "p95", "p99", "max"];
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([header[c].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[&str]| {
        let mut text = String::new();
        for (c, cell) in cells.iter().enumerate() {
            let pad = widths[c].saturating_sub(cell.chars().count());
            if c == 0 {
                let _ = write!(text, "{cell}{}", " ".repeat(pad));
            } else {
                let _ = write!(text, "  {}{cell}", " ".repeat(pad));
            }
        }
        text.trim_end().to_owned()
    };
    let _ = writeln!(out, "{}", line(&header));
    for row in rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        let _ = writeln!(out, "{}", line(&cells));
    }
}

fn thresholds_text(out: &mut String, info: &RunInfo) {
    if let Some(checks) = &info.thresholds {
        out.push_str("\nthresholds\n");
        for check in checks {
            match &check.failure {
                None => {
                    let _ = writeln!(out, "  passed  {} {}", check.option, check.limit);
                }
                Some(why) => {
                    let _ = writeln!(out, "  FAILED  {} {}: {why}", check.option, check.limit);
                }
            }
        }
    }
    if let Some(code) = info.exit_code {
        let why = match (code, &info.thresholds) {
            (0, _) => "the run passed".to_owned(),
            (1, Some(checks)) if checks.iter().any(|c| c.failure.is_some()) => {
                "a threshold failed".to_owned()
            }
            _ => format!("the run was {}", info.outcome.name()),
        };
        let _ = writeln!(out, "exit code {code}: {why}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_easily() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234), "1,234");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(duration_text(452), "452µs");
        assert_eq!(duration_text(1_234), "1.23ms");
        assert_eq!(duration_text(12_345), "12.3ms");
        assert_eq!(duration_text(123_456), "123ms");
        assert_eq!(duration_text(12_345_678), "12.3s");
        assert_eq!(seconds_text(0.0281), "0.028s");
        assert_eq!(seconds_text(61.04), "61.0s");
        assert_eq!(rate_text(57_993.04), "57,993");
        assert_eq!(rate_text(7.14), "7.1");
    }
}
