//! `--html-report`: one self-contained HTML file. The tables are written here, so they read
//! without scripts; the charts are drawn by the inlined `assets/report.js` from the series
//! embedded as JSON. Nothing is fetched from the network.
//!
//! Cells holding a figure of the JSON summary carry it as `data-json="path"` and
//! `data-value="raw"`, which is how the browser test checks the page against the JSON.

use std::fmt::Write;

use serde_json::Value as Json;

use super::json::{series_json, summary_json};
use super::run::RunSummary;
use super::text::{duration_text, rate_text, seconds_text, thousands};
use super::RunInfo;

const CSS: &str = include_str!("assets/report.css");
const SCRIPT: &str = include_str!("assets/report.js");
/// Error kinds the page lists.
const TOP_ERRORS_HTML: usize = 20;

/// Text for HTML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// JSON for a `<script type="application/json">` element: `</` cannot end the element early.
fn script_json(value: &Json) -> String {
    value
        .to_string()
        .replace("</", "<\\/")
        .replace("<!--", "\\u003c!--")
}

/// A cell showing `text` for the JSON summary's figure at `path`.
fn figure(path: &str, raw: &Json, text: &str) -> String {
    format!(
        "<td data-json=\"{}\" data-value=\"{}\">{}</td>",
        escape(path),
        escape(&raw.to_string()),
        escape(text)
    )
}

fn latency_ms(value: &Json) -> String {
    match value.as_f64() {
        Some(ms) => duration_text((ms * 1000.0).round() as u64),
        None => "-".to_owned(),
    }
}

/// The whole page.
pub fn html_report(summary: &RunSummary, info: &RunInfo) -> String {
    let doc = summary_json(summary, info);
    let test = summary.test.as_deref().unwrap_or("mite-rs run");
    let mut page = String::with_capacity(64 * 1024);
    let _ = write!(
        page,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>mite-rs report: {title}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n\
         <header><h1>mite-rs run report</h1><p class=\"sub\">{title} · <span class=\"outcome-{outcome}\">{outcome}</span>{started}</p></header>\n<main>\n",
        title = escape(test),
        outcome = info.outcome.name(),
        started = doc["started_at"]
            .as_f64()
            .and_then(crate::cat::local_iso)
            .map(|t| format!(" · started {}", escape(&t.replacen('T', " ", 1)[..t.len().min(19)])))
            .unwrap_or_default(),
    );
    cards(&mut page, &doc);
    page.push_str(
        "<section><h2>Over the run</h2><div class=\"charts\" id=\"charts-overall\"></div></section>\n",
    );
    transactions(&mut page, &doc);
    errors(&mut page, &doc);
    generator(&mut page, &doc);
    statuses(&mut page, &doc);
    thresholds(&mut page, &doc);
    run_details(&mut page, &doc, info);
    let _ = write!(
        page,
        "</main>\n<script type=\"application/json\" id=\"mite-summary\">{}</script>\n\
         <script type=\"application/json\" id=\"mite-series\">{}</script>\n<script>\n{SCRIPT}</script>\n\
         </body>\n</html>\n",
        script_json(&doc),
        script_json(&series_json(summary)),
    );
    page
}

/// A count as the page shows it: `1,234`.
fn count_text(value: &Json) -> String {
    value.as_u64().map_or_else(|| "-".to_owned(), thousands)
}

/// The value at a dotted path of the JSON summary (`requests.latency_ms.p95`).
fn at<'a>(doc: &'a Json, path: &str) -> &'a Json {
    path.split('.').fold(doc, |value, key| &value[key])
}

/// A summary card: its label, the JSON path of its figure, and how the figure is shown.
type Card = (&'static str, &'static str, fn(&Json) -> String);

fn cards(page: &mut String, doc: &Json) {
    let cards: [Card; 7] = [
        ("duration", "duration_s", |v| {
            seconds_text(v.as_f64().unwrap_or(0.0))
        }),
        ("journeys finished", "journeys.finished", count_text),
        ("journeys failed", "journeys.failed", count_text),
        ("requests", "requests.count", count_text),
        ("requests per second", "requests.per_second", |v| {
            rate_text(v.as_f64().unwrap_or(0.0))
        }),
        ("request p95", "requests.latency_ms.p95", latency_ms),
        ("errors", "errors.count", count_text),
    ];
    // Arrival-rate runs: what became of the scheduled starts, and the latency that counts
    // the time a journey waited to start.
    let open_cards: [Card; 3] = [
        ("starts scheduled", "arrivals.scheduled", count_text),
        ("starts dropped", "arrivals.dropped", count_text),
        (
            "request p95 from intended start",
            "requests.latency_from_intended_start_ms.p95",
            latency_ms,
        ),
    ];
    let open = !doc["arrivals"].is_null();
    let generator_card: Card = ("load generator", "generator.limited", |v| {
        if v.as_bool() == Some(true) {
            "the limit".to_owned()
        } else {
            "ok".to_owned()
        }
    });
    let watched = !doc["generator"].is_null();
    let cards = cards
        .into_iter()
        .chain(open_cards.into_iter().filter(|_| open))
        .chain(std::iter::once(generator_card).filter(|_| watched));
    page.push_str("<section><h2>Summary</h2><div class=\"cards\">");
    for (label, path, show) in cards {
        let value = at(doc, path);
        let text = show(value);
        let _ = write!(
            page,
            "<div class=\"card\"><div class=\"label\">{label}</div>\
             <div class=\"value\" data-json=\"{path}\" data-value=\"{}\">{}</div></div>",
            escape(&value.to_string()),
            escape(&text)
        );
    }
    page.push_str("</div></section>\n");
}

fn transactions(page: &mut String, doc: &Json) {
    let rows = doc["transactions"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    page.push_str("<section><h2>Transactions</h2>");
    if rows.is_empty() {
        page.push_str("<p class=\"note\">No transactions were recorded.</p></section>\n");
        return;
    }
    transaction_table(page, rows, "transactions", "latency_ms");
    if rows
        .iter()
        .any(|row| !row["latency_from_intended_start_ms"].is_null())
    {
        page.push_str(
            "<h2 style=\"margin-top:14px\">From intended start</h2><p class=\"note\">The \
             transactions of arrival-rate journeys, timed from when each journey was due to \
             start: a stall that delayed starts shows here.</p>",
        );
        transaction_table(
            page,
            rows,
            "transactions-intended",
            "latency_from_intended_start_ms",
        );
    }
    page.push_str(
        "<h2 style=\"margin-top:14px\">One transaction over the run</h2>\
         <select id=\"transaction-picker\" aria-label=\"transaction\"></select>\
         <div class=\"charts\" id=\"charts-transaction\"></div></section>\n",
    );
}

/// The table `id` of the transaction rows with their latencies under `latency` (a key of
/// each row; rows without it are left out).
fn transaction_table(page: &mut String, rows: &[Json], id: &str, latency: &str) {
    let _ = writeln!(
        page,
        "<table id=\"{id}\"><tr><th>journey</th><th class=\"text\">transaction</th>\
         <th>count</th><th>failed</th><th>error rate</th><th>mean</th><th>p50</th><th>p90</th>\
         <th>p95</th><th>p99</th><th>max</th></tr>",
    );
    for (i, row) in rows.iter().enumerate() {
        if row[latency].is_null() && latency != "latency_ms" {
            continue;
        }
        let base = format!("transactions.{i}");
        let _ = write!(
            page,
            "<tr><td class=\"text\">{}</td><td class=\"text\">{}</td>",
            escape(row["journey"].as_str().unwrap_or("")),
            escape(row["name"].as_str().unwrap_or(""))
        );
        for key in ["count", "errors"] {
            let value = &row[key];
            page.push_str(&figure(&format!("{base}.{key}"), value, &count_text(value)));
        }
        let rate = &row["error_rate"];
        page.push_str(&figure(
            &format!("{base}.error_rate"),
            rate,
            &format!("{:.2}%", rate.as_f64().unwrap_or(0.0) * 100.0),
        ));
        for key in ["mean", "p50", "p90", "p95", "p99", "max"] {
            let value = &row[latency][key];
            page.push_str(&figure(
                &format!("{base}.{latency}.{key}"),
                value,
                &latency_ms(value),
            ));
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</table>\n");
}

fn errors(page: &mut String, doc: &Json) {
    let errors = &doc["errors"];
    let _ = writeln!(
        page,
        "<section><h2>Errors</h2><table id=\"errors\"><tr><th class=\"text\">type</th>\
         <th class=\"text\">message</th><th>count</th></tr>"
    );
    let top = errors["top"].as_array().map_or(&[][..], Vec::as_slice);
    for (i, row) in top.iter().take(TOP_ERRORS_HTML).enumerate() {
        let _ = writeln!(
            page,
            "<tr><td class=\"text\">{}</td><td class=\"text\"><pre>{}</pre></td>{}</tr>",
            escape(row["type"].as_str().unwrap_or("")),
            escape(row["message"].as_str().unwrap_or("")),
            figure(
                &format!("errors.top.{i}.count"),
                &row["count"],
                &count_text(&row["count"])
            )
        );
    }
    let _ = writeln!(
        page,
        "<tr><td class=\"text\" colspan=\"2\">all errors</td>{}</tr></table></section>",
        figure(
            "errors.count",
            &errors["count"],
            &count_text(&errors["count"])
        )
    );
}

fn statuses(page: &mut String, doc: &Json) {
    let Some(codes) = doc["requests"]["by_status"].as_object() else {
        return;
    };
    if codes.is_empty() {
        return;
    }
    page.push_str(
        "<section><h2>Responses by status</h2><table id=\"statuses\"><tr><th class=\"text\">status</th><th>count</th></tr>\n",
    );
    for (code, n) in codes {
        let label = if code == "0" { "0 (no response)" } else { code };
        let _ = writeln!(
            page,
            "<tr><td class=\"text\">{}</td>{}</tr>",
            escape(label),
            figure(&format!("requests.by_status.{code}"), n, &count_text(n))
        );
    }
    page.push_str("</table></section>\n");
}

/// Whether the load generator was the limit: its figures, and the blocking calls it caught.
fn generator(page: &mut String, doc: &Json) {
    let g = &doc["generator"];
    if g.is_null() {
        return;
    }
    let verdict = if g["limited"].as_bool() == Some(true) {
        "The load generator, not the target, was the limit for part of this run: its \
         latencies and rates measure the generator."
    } else {
        "The load generator kept up: no run of seconds over its limits."
    };
    let _ = write!(
        page,
        "<section><h2>Load generator</h2><p class=\"note\">{verdict}</p>\
         <table id=\"generator\"><tr><th class=\"text\">figure</th><th>value</th></tr>"
    );
    let rows: [Card; 7] = [
        (
            "seconds over a limit",
            "generator.limited_seconds",
            count_text,
        ),
        (
            "longest run over a limit (s)",
            "generator.longest_limited_s",
            count_text,
        ),
        (
            "loop lag p90, worst second",
            "generator.loop_lag_ms.p90_max",
            latency_ms,
        ),
        ("loop lag, worst", "generator.loop_lag_ms.max", latency_ms),
        (
            "CPU % of its cores, worst second",
            "generator.cpu_percent.max",
            |v| format!("{:.0}%", v.as_f64().unwrap_or(0.0)),
        ),
        ("usable cores", "generator.cores", count_text),
        (
            "arrival-rate starts late",
            "generator.late_starts",
            count_text,
        ),
    ];
    for (label, path, show) in rows {
        let value = at(doc, path);
        let _ = write!(
            page,
            "<tr><td class=\"text\">{label}</td>{}</tr>",
            figure(path, value, &show(value))
        );
    }
    page.push_str("</table>\n");
    let calls = g["blocking_calls"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    if !calls.is_empty() {
        page.push_str(
            "<h2 style=\"margin-top:14px\">Blocking calls in journeys</h2><table id=\"blocking\">\
             <tr><th class=\"text\">where</th><th class=\"text\">code</th><th>times</th>\
             <th>longest</th></tr>\n",
        );
        for (i, call) in calls.iter().enumerate() {
            let place = format!(
                "{}:{} in {}",
                call["file"].as_str().unwrap_or(""),
                call["line"],
                call["function"].as_str().unwrap_or("")
            );
            let seconds = &call["max_seconds"];
            let _ = writeln!(
                page,
                "<tr><td class=\"text\">{}</td><td class=\"text\"><pre>{}</pre></td>{}{}</tr>",
                escape(&place),
                escape(call["code"].as_str().unwrap_or("")),
                figure(
                    &format!("generator.blocking_calls.{i}.count"),
                    &call["count"],
                    &count_text(&call["count"])
                ),
                figure(
                    &format!("generator.blocking_calls.{i}.max_seconds"),
                    seconds,
                    &seconds_text(seconds.as_f64().unwrap_or(0.0))
                ),
            );
        }
        page.push_str("</table>\n");
    }
    page.push_str("</section>\n");
}

fn thresholds(page: &mut String, doc: &Json) {
    let Some(checks) = doc["thresholds"]["checks"].as_array() else {
        return;
    };
    page.push_str(
        "<section><h2>Thresholds</h2><table id=\"thresholds\"><tr><th class=\"text\">option</th>\
         <th class=\"text\">limit</th><th class=\"text\">verdict</th></tr>\n",
    );
    for check in checks {
        let passed = check["passed"].as_bool().unwrap_or(false);
        let _ = writeln!(
            page,
            "<tr><td class=\"text\"><code>{}</code></td><td class=\"text\">{}</td>\
             <td class=\"text {}\">{}</td></tr>",
            escape(check["option"].as_str().unwrap_or("")),
            escape(check["limit"].as_str().unwrap_or("")),
            if passed { "good" } else { "bad" },
            escape(check["failure"].as_str().unwrap_or("passed"))
        );
    }
    let _ = writeln!(
        page,
        "</table><p>exit code <strong data-json=\"exit_code\" data-value=\"{0}\">{0}</strong></p></section>",
        escape(&doc["exit_code"].to_string())
    );
}

fn run_details(page: &mut String, doc: &Json, info: &RunInfo) {
    page.push_str("<section><h2>The run</h2><table id=\"run\">");
    let command = info.command.join(" ");
    let _ = writeln!(
        page,
        "<tr><td class=\"text\">command</td><td class=\"text\"><pre>{}</pre></td></tr>",
        escape(&command)
    );
    let versions: Vec<String> = info
        .versions
        .iter()
        .map(|(name, value)| format!("{name} {value}"))
        .collect();
    let _ = writeln!(
        page,
        "<tr><td class=\"text\">versions</td><td class=\"text\">{}</td></tr>",
        escape(&versions.join(" · "))
    );
    for (name, value) in &info.settings {
        let _ = writeln!(
            page,
            "<tr><td class=\"text\">{}</td><td class=\"text\"><pre>{}</pre></td></tr>",
            escape(name),
            escape(value)
        );
    }
    let _ = writeln!(
        page,
        "<tr><td class=\"text\">messages</td>{}</tr></table></section>",
        figure("messages", &doc["messages"], &count_text(&doc["messages"]))
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_json_cannot_close_its_script_element() {
        let text = script_json(&serde_json::json!({"m": "</script><!-- x"}));
        assert!(!text.contains("</"));
        assert!(!text.contains("<!--"));
        let back: Json = serde_json::from_str(&text).unwrap();
        assert_eq!(back["m"], "</script><!-- x");
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }
}
