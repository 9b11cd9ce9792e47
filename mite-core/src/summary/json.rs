//! The JSON summary (`--summary-json`, schema `docs/summary.schema.json`) and the series the
//! HTML report plots.

use serde_json::{json, Map, Value as Json};

use super::histogram::RunHistogram;
use super::run::RunSummary;
use super::timeline::Point;
use super::{Outcome, RunInfo};

/// The `version` of the summary document; bumped when a field changes meaning or goes.
pub(crate) const SUMMARY_VERSION: u32 = 1;
/// Error kinds listed in the JSON summary.
pub(crate) const TOP_ERRORS_JSON: usize = 20;

const QUANTILES: [(&str, f64); 4] = [("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99)];

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// Mean, percentiles and maximum in milliseconds; `null` without samples.
fn latency(h: &RunHistogram) -> Json {
    let (Some(mean), Some(max)) = (h.mean_us(), h.max_us()) else {
        return Json::Null;
    };
    let mut out = Map::new();
    out.insert("mean".into(), json!(round3(mean / 1000.0)));
    for (name, q) in QUANTILES {
        out.insert(name.into(), json!(h.quantile_us(q).map(ms)));
    }
    out.insert("max".into(), json!(ms(max)));
    Json::Object(out)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The starts of arrival-rate scenarios; `null` when the run had none.
fn arrivals_json(summary: &RunSummary) -> Json {
    let Some(total) = summary.start_totals() else {
        return Json::Null;
    };
    let by_scenario: Map<String, Json> = summary
        .starts
        .iter()
        .map(|(id, c)| {
            (
                id.to_string(),
                json!({"scheduled": c.scheduled, "dropped": c.dropped}),
            )
        })
        .collect();
    json!({
        "scheduled": total.scheduled,
        "dropped": total.dropped,
        "dropped_ratio": ratio(total.dropped, total.scheduled),
        "by_scenario": by_scenario,
    })
}

/// The load generator's own figures; `null` when no runner sent any.
fn generator_json(summary: &RunSummary) -> Json {
    let g = &summary.generator;
    if !g.seen() {
        return Json::Null;
    }
    let blocking: Vec<Json> = g
        .blocking
        .iter()
        .map(|((file, line), p)| {
            json!({
                "file": &**file,
                "line": line,
                "function": &*p.function,
                "code": &*p.code,
                "count": p.count,
                "max_seconds": round3(p.max_seconds),
            })
        })
        .collect();
    json!({
        "limited": g.limited(),
        "seconds": g.seconds,
        "limited_seconds": g.limited_seconds,
        "longest_limited_s": g.longest_limited,
        "loop_lag_ms": {
            "p90_max": round3(g.lag_p90_max * 1000.0),
            "max": round3(g.lag_max * 1000.0),
        },
        "cpu_percent": {"mean": round3(g.cpu_mean()), "max": round3(g.cpu_max)},
        "cores": g.cores,
        "late_starts": g.late_starts,
        "start_delay_max_ms": round3(g.start_delay_max * 1000.0),
        "blocking_calls": blocking,
        "blocking_calls_not_listed": g.blocking_other,
    })
}

/// The whole summary document.
pub(crate) fn summary_json(summary: &RunSummary, info: &RunInfo) -> Json {
    let duration = summary.duration();
    let times = (summary.messages > 0).then_some((summary.first_time, summary.last_time));
    let per_second = |n: u64| {
        if duration > 0.0 {
            round3(n as f64 / duration)
        } else {
            0.0
        }
    };
    let by_status: Map<String, Json> = summary
        .status_codes
        .iter()
        .map(|(code, n)| (code.to_string(), json!(n)))
        .collect();
    let top = summary.top_errors();
    let errors_listed: Vec<Json> = top
        .iter()
        .take(TOP_ERRORS_JSON)
        .map(|(t, m, n)| json!({"type": t, "message": m, "count": n}))
        .collect();
    let listed: u64 = top.iter().take(TOP_ERRORS_JSON).map(|e| e.2).sum();
    let transactions: Vec<Json> = summary
        .transaction_rows()
        .into_iter()
        .map(|(_, journey, name, t)| {
            json!({
                "journey": journey,
                "name": name,
                "count": t.count,
                "errors": t.errors,
                "error_rate": ratio(t.errors, t.count),
                "latency_ms": latency(&t.latency),
                "latency_from_intended_start_ms": latency(&t.from_intended),
            })
        })
        .collect();
    let thresholds = info.thresholds.as_ref().map(|checks| {
        let list: Vec<Json> = checks
            .iter()
            .map(|c| {
                json!({
                    "option": c.option,
                    "limit": c.limit,
                    "passed": c.failure.is_none(),
                    "failure": c.failure,
                })
            })
            .collect();
        json!({
            "passed": checks.iter().all(|c| c.failure.is_none()),
            "checks": list,
        })
    });
    json!({
        "version": SUMMARY_VERSION,
        "tool": "mite-rs",
        "outcome": info.outcome.name(),
        "interrupted": matches!(info.outcome, Outcome::Interrupted),
        "exit_code": info.exit_code,
        "test": summary.test.as_deref(),
        "command": info.command,
        "versions": info
            .versions
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect::<Map<String, Json>>(),
        "started_at": times.map(|t| t.0),
        "ended_at": times.map(|t| t.1),
        "duration_s": round3(duration),
        "messages": summary.messages,
        "journeys": {
            "started": summary.journeys_started(),
            "finished": summary.journeys_finished,
            "failed": summary.journeys_failed,
            "running_at_end": summary.journeys_active,
        },
        "requests": {
            "count": summary.requests(),
            "per_second": per_second(summary.requests()),
            "bytes": summary.bytes,
            "by_status": by_status,
            "latency_ms": latency(&summary.requests),
            "latency_from_intended_start_ms": latency(&summary.requests_from_intended),
        },
        "arrivals": arrivals_json(summary),
        "generator": generator_json(summary),
        "errors": {
            "count": summary.errors_total,
            "kinds": summary.error_kinds.len() as u64 + u64::from(summary.errors_other > 0),
            "top": errors_listed,
            "not_listed": summary.errors_total - listed,
        },
        "transactions": transactions,
        "thresholds": thresholds,
    })
}

/// [`summary_json`] as the text `--summary-json` writes: indented, ending with a newline.
pub fn summary_json_text(summary: &RunSummary, info: &RunInfo) -> String {
    let mut text = serde_json::to_string_pretty(&summary_json(summary, info))
        .unwrap_or_else(|_| "null".to_owned());
    text.push('\n');
    text
}

/// A series' per-bucket rate, error rate and p50 / p95 / p99 (ms, `null` where empty).
fn point_series(points: &[Point], len: usize, width: f64) -> Map<String, Json> {
    let at = |i: usize| points.get(i);
    let rate = |n: u64| round3(n as f64 / width);
    let mut out = Map::new();
    out.insert(
        "rate".into(),
        (0..len)
            .map(|i| json!(rate(at(i).map_or(0, |p| p.count))))
            .collect(),
    );
    out.insert(
        "errors".into(),
        (0..len)
            .map(|i| json!(rate(at(i).map_or(0, |p| p.errors))))
            .collect(),
    );
    for (name, q) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)] {
        let values = (0..len)
            .map(|i| json!(at(i).and_then(|p| p.latency.quantile_us(q)).map(ms)))
            .collect();
        out.insert(name.into(), values);
    }
    out
}

/// The plots' data: bucket start offsets (seconds from `origin`), the request series, the
/// journeys against their target, and one series per transaction.
pub(crate) fn series_json(summary: &RunSummary) -> Json {
    let timeline = &summary.timeline;
    let len = timeline.len();
    let width = timeline.width();
    let journeys = |pick: fn((f64, f64)) -> f64| -> Json {
        (0..len)
            .map(|i| {
                let mean = timeline.journeys.get(i).and_then(|j| j.mean());
                json!(mean.map(|m| round3(pick(m))))
            })
            .collect()
    };
    let transactions: Vec<Json> = summary
        .transaction_rows()
        .into_iter()
        .map(|(index, journey, name, _)| {
            let points = timeline
                .transactions
                .get(index)
                .map_or(&[][..], Vec::as_slice);
            let mut series = point_series(points, len, width);
            series.insert("journey".into(), json!(journey));
            series.insert("name".into(), json!(name));
            Json::Object(series)
        })
        .collect();
    json!({
        "origin": timeline.origin(),
        "width_s": width,
        "t": (0..len).map(|i| json!(i as f64 * width)).collect::<Json>(),
        "requests": point_series(&timeline.requests, len, width),
        "journeys": {"active": journeys(|m| m.0), "target": journeys(|m| m.1)},
        "transactions": transactions,
    })
}
