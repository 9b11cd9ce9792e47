//! [`RunSummary`]: a run's figures, added up message by message, whether the messages come
//! live off the bus or afterwards from collector files.
//!
//! Only mite's message types are read: `txn` (transactions and, for `__root__`, journeys),
//! `http_metrics` (requests), `error` and `exception`, and `controller_report` (active and
//! required journeys). Everything is bounded: at most [`MAX_TRANSACTIONS`] transaction rows
//! and [`MAX_ERROR_KINDS`] kinds of error are told apart, the rest are counted together.

use std::collections::BTreeMap;
use std::sync::Arc;

use indexmap::IndexMap;
use rustc_hash::FxBuildHasher;

use super::generator::GeneratorTotals;
use super::histogram::{micros, RunHistogram};
use super::timeline::Timeline;
use super::view::MessageView;
use crate::messages::{keys, Value};

/// Transaction rows told apart; later names count in one `(other transactions)` row.
pub(crate) const MAX_TRANSACTIONS: usize = 500;
/// Kinds of error told apart; later kinds are counted as other.
pub(crate) const MAX_ERROR_KINDS: usize = 1000;
/// An error message longer than this is cut (with `…`) before it is grouped.
const ERROR_MESSAGE_CHARS: usize = 300;
/// The name of the row for transactions past [`MAX_TRANSACTIONS`].
pub(crate) const OTHER_TRANSACTIONS: &str = "(other transactions)";

/// A `(journey, transaction)` or `(type, message)` key, borrowed: finds a row without
/// building its owned key. Hashes as the owned tuple does (a tuple hashes its parts in turn).
#[derive(Hash)]
struct RowKey<'a>(&'a str, &'a str);

impl indexmap::Equivalent<(Arc<str>, Arc<str>)> for RowKey<'_> {
    fn equivalent(&self, key: &(Arc<str>, Arc<str>)) -> bool {
        *key.0 == *self.0 && *key.1 == *self.1
    }
}

/// Where the fields of each kind of message were last found ([`MessageView::fields_at`]).
#[derive(Clone, Debug, Default)]
struct Hints {
    request: [usize; 3],
    transaction: [usize; 3],
    error: [usize; 2],
}

/// The interned keys the summary reads (see [`MessageView::fields_at`]).
#[derive(Clone, Debug)]
struct Keys {
    total_time: Arc<str>,
    download_size: Arc<str>,
    response_code: Arc<str>,
    had_error: Arc<str>,
    start_time: Arc<str>,
    end_time: Arc<str>,
    ex_type: Arc<str>,
    message: Arc<str>,
    empty: Arc<str>,
}

impl Default for Keys {
    fn default() -> Self {
        Keys {
            total_time: keys::total_time(),
            download_size: keys::download_size(),
            response_code: keys::response_code(),
            had_error: keys::had_error(),
            start_time: keys::start_time(),
            end_time: keys::end_time(),
            ex_type: keys::ex_type(),
            message: keys::message(),
            empty: Arc::from(""),
        }
    }
}

type Rows = IndexMap<(Arc<str>, Arc<str>), TransactionTotals, FxBuildHasher>;

/// A remembered row: journey, transaction name, index.
type RecentRow = (Arc<str>, Arc<str>, usize);

/// The transaction rows met last. A journey's messages share one `Arc` of the journey's
/// name, and its transaction names differ in length more often than not, so a row is
/// usually found here with a pointer and a length comparison and at most one short text
/// comparison, without hashing.
#[derive(Clone, Debug, Default)]
struct RecentRows {
    rows: [Option<RecentRow>; 4],
    next: usize,
}

impl RecentRows {
    fn index(&mut self, rows: &mut Rows, journey: &Arc<str>, name: &Arc<str>) -> usize {
        for (j, n, index) in self.rows.iter().flatten() {
            if Arc::ptr_eq(j, journey) && **n == **name {
                return *index;
            }
        }
        let index = transaction_index(rows, journey, name);
        self.rows[self.next] = Some((journey.clone(), name.clone(), index));
        self.next = (self.next + 1) % self.rows.len();
        index
    }
}

/// The row of `(journey, name)`, added if new (or the `(other transactions)` row once there
/// are [`MAX_TRANSACTIONS`]).
fn transaction_index(rows: &mut Rows, journey: &Arc<str>, name: &Arc<str>) -> usize {
    if let Some(index) = rows.get_index_of(&RowKey(journey, name)) {
        return index;
    }
    let key = if rows.len() >= MAX_TRANSACTIONS {
        (Arc::from(""), Arc::from(OTHER_TRANSACTIONS))
    } else {
        (journey.clone(), name.clone())
    };
    let entry = rows.entry(key);
    let index = entry.index();
    entry.or_default();
    index
}

/// One transaction row's totals.
#[derive(Clone, Debug, Default)]
pub struct TransactionTotals {
    pub(crate) count: u64,
    pub(crate) errors: u64,
    pub(crate) latency: RunHistogram,
    /// Latency counted from when the journey was due to start (arrival-rate journeys only):
    /// the service latency plus the journey's start delay.
    pub(crate) from_intended: RunHistogram,
}

/// What became of one arrival-rate scenario's starts, as the latest report says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StartCounts {
    pub(crate) scheduled: u64,
    pub(crate) dropped: u64,
}

/// The figures of a run so far.
#[derive(Clone, Debug)]
pub struct RunSummary {
    pub(crate) test: Option<Arc<str>>,
    pub(crate) first_time: f64,
    pub(crate) last_time: f64,
    pub(crate) messages: u64,
    pub(crate) journeys_finished: u64,
    pub(crate) journeys_failed: u64,
    /// Active and required journeys in the latest controller report.
    pub(crate) journeys_active: u64,
    pub(crate) journeys_target: u64,
    pub(crate) requests: RunHistogram,
    /// Requests of arrival-rate journeys, timed from when the journey was due to start.
    pub(crate) requests_from_intended: RunHistogram,
    /// Starts of arrival-rate scenarios by scenario id, from the latest report saying so.
    pub(crate) starts: BTreeMap<u64, StartCounts>,
    pub(crate) bytes: f64,
    pub(crate) status_codes: BTreeMap<i64, u64>,
    pub(crate) errors_total: u64,
    pub(crate) error_kinds: IndexMap<(Arc<str>, Arc<str>), u64, FxBuildHasher>,
    /// Errors of kinds past [`MAX_ERROR_KINDS`].
    pub(crate) errors_other: u64,
    pub(crate) transactions: Rows,
    pub(crate) timeline: Timeline,
    /// The load generator's own figures (`runner_health`, `blocking_call`).
    pub(crate) generator: GeneratorTotals,
    latest_report: f64,
    keys: Keys,
    hints: Hints,
    recent_rows: RecentRows,
}

impl Default for RunSummary {
    fn default() -> Self {
        RunSummary::with_timeline(Timeline::default())
    }
}

impl RunSummary {
    pub(crate) fn with_timeline(timeline: Timeline) -> Self {
        RunSummary {
            test: None,
            first_time: f64::INFINITY,
            last_time: f64::NEG_INFINITY,
            messages: 0,
            journeys_finished: 0,
            journeys_failed: 0,
            journeys_active: 0,
            journeys_target: 0,
            requests: RunHistogram::default(),
            requests_from_intended: RunHistogram::default(),
            starts: BTreeMap::new(),
            bytes: 0.0,
            status_codes: BTreeMap::new(),
            errors_total: 0,
            error_kinds: IndexMap::default(),
            errors_other: 0,
            transactions: IndexMap::default(),
            timeline,
            generator: GeneratorTotals::default(),
            latest_report: f64::NEG_INFINITY,
            keys: Keys::default(),
            hints: Hints::default(),
            recent_rows: RecentRows::default(),
        }
    }

    /// Counts one message.
    pub fn add(&mut self, msg: &impl MessageView) {
        let Some(time) = msg.time().filter(|t| t.is_finite()) else {
            return;
        };
        self.messages += 1;
        self.first_time = self.first_time.min(time);
        self.last_time = self.last_time.max(time);
        if self.test.is_none() {
            if let Some(Value::Str(test)) = msg.field("test") {
                self.test = Some(test.clone());
            }
        }
        match msg.kind() {
            Some("http_metrics") => self.add_request(msg, time),
            Some("txn") => self.add_transaction(msg, time),
            Some("error" | "exception") => self.add_error(msg, time),
            Some("controller_report") => self.add_report(msg, time),
            Some("runner_health") => self.generator.add_health(msg),
            Some("blocking_call") => self.generator.add_blocking(msg),
            _ => {}
        }
    }

    /// Requests so far.
    pub fn requests(&self) -> u64 {
        self.requests.count()
    }

    /// `error` and `exception` messages so far.
    pub fn errors(&self) -> u64 {
        self.errors_total
    }

    /// Active journeys in the latest controller report.
    pub fn active_journeys(&self) -> u64 {
        self.journeys_active
    }

    /// The epoch time of the earliest message (or transaction start) seen.
    pub fn first_seen(&self) -> Option<f64> {
        (self.messages > 0).then_some(self.first_time)
    }

    /// Seconds from the first message to the last (0 before two).
    pub fn duration(&self) -> f64 {
        if self.last_time > self.first_time {
            self.last_time - self.first_time
        } else {
            0.0
        }
    }

    /// Journeys that began: those that ended, and those the latest report counted as running
    /// when it came after the last journey ended.
    pub(crate) fn journeys_started(&self) -> u64 {
        self.journeys_finished + self.journeys_active
    }

    fn add_request(&mut self, msg: &impl MessageView, time: f64) {
        let k = &self.keys;
        let [total_time, download_size, response_code] = msg.fields_at(
            [&k.total_time, &k.download_size, &k.response_code],
            &mut self.hints.request,
        );
        let seconds = total_time.and_then(Value::as_f64).unwrap_or(0.0);
        let us = micros(seconds);
        self.requests.record(us);
        self.timeline.record_request(time, us);
        if let Some(delay) = msg.start_delay() {
            self.requests_from_intended.record(micros(seconds + delay));
        }
        if let Some(size) = download_size.and_then(Value::as_f64) {
            if size.is_finite() && size > 0.0 {
                self.bytes += size;
            }
        }
        // A failed connection has no status: counted as 0, as curl reports it.
        let code = response_code.and_then(Value::as_i64).unwrap_or(0);
        *self.status_codes.entry(code).or_insert(0) += 1;
    }

    fn add_transaction(&mut self, msg: &impl MessageView, time: f64) {
        let k = &self.keys;
        let [had_error, start_time, end_time] = msg.fields_at(
            [&k.had_error, &k.start_time, &k.end_time],
            &mut self.hints.transaction,
        );
        let journey = msg.field("journey");
        let name = msg.transaction().unwrap_or(&k.empty);
        let failed = matches!(had_error, Some(Value::Bool(true)));
        if &**name == "__root__" {
            self.journeys_finished += 1;
            self.journeys_failed += u64::from(failed);
        }
        let start = start_time.and_then(Value::as_f64);
        let seconds = match (start, end_time.and_then(Value::as_f64)) {
            (Some(start), Some(end)) if start.is_finite() && end.is_finite() => {
                // The run began when its first transaction did, not when that one ended.
                self.first_time = self.first_time.min(start);
                end - start
            }
            _ => 0.0,
        };
        let us = micros(seconds);
        let journey = match journey {
            Some(Value::Str(journey)) => journey,
            _ => &k.empty,
        };
        let index = self
            .recent_rows
            .index(&mut self.transactions, journey, name);
        let (_, totals) = self
            .transactions
            .get_index_mut(index)
            .expect("index just looked up");
        totals.count += 1;
        totals.errors += u64::from(failed);
        totals.latency.record(us);
        if let Some(delay) = msg.start_delay() {
            totals.from_intended.record(micros(seconds + delay));
        }
        self.timeline.record_transaction(time, index, us, failed);
    }

    fn add_error(&mut self, msg: &impl MessageView, time: f64) {
        self.errors_total += 1;
        self.timeline.record_error(time);
        let [ex_type, message] = msg.fields_at(
            [&self.keys.ex_type, &self.keys.message],
            &mut self.hints.error,
        );
        let text = |value: Option<&Value>| match value {
            Some(Value::Str(s)) => s.clone(),
            _ => self.keys.empty.clone(),
        };
        let ex_type = text(ex_type);
        let mut message = text(message);
        if message.chars().count() > ERROR_MESSAGE_CHARS {
            let cut: String = message.chars().take(ERROR_MESSAGE_CHARS).collect();
            message = Arc::from(format!("{cut}…"));
        }
        if let Some(count) = self.error_kinds.get_mut(&RowKey(&ex_type, &message)) {
            *count += 1;
        } else if self.error_kinds.len() < MAX_ERROR_KINDS {
            self.error_kinds.insert((ex_type, message), 1);
        } else {
            self.errors_other += 1;
        }
    }

    fn add_report(&mut self, msg: &impl MessageView, time: f64) {
        let total = |key| match msg.field(key) {
            Some(Value::Map(entries)) => entries
                .iter()
                .filter_map(|(_, v)| v.as_f64())
                .filter(|v| v.is_finite() && *v >= 0.0)
                .sum::<f64>(),
            _ => 0.0,
        };
        let (active, target) = (total("actual"), total("required"));
        self.timeline.record_journeys(time, active, target);
        if time >= self.latest_report {
            self.latest_report = time;
            self.journeys_active = active as u64;
            self.journeys_target = target as u64;
            self.add_starts(msg);
        }
    }

    /// `starts_scheduled` and `starts_dropped` (mite-rs's reports of arrival-rate
    /// scenarios) are running totals: the latest report holds them all. A report without
    /// them (a scenario ended, another controller) leaves the last counts standing.
    fn add_starts(&mut self, msg: &impl MessageView) {
        let entries = |key| match msg.field(key) {
            Some(Value::Map(entries)) => entries.as_slice(),
            _ => &[],
        };
        let scenario = |k: &Value| match k {
            Value::Str(s) => s.parse::<u64>().ok(),
            other => other.as_i64().and_then(|n| u64::try_from(n).ok()),
        };
        let count = |v: &Value| {
            v.as_f64()
                .filter(|n| n.is_finite() && *n >= 0.0)
                .map(|n| n as u64)
        };
        for (k, v) in entries("starts_scheduled") {
            if let (Some(id), Some(n)) = (scenario(k), count(v)) {
                self.starts.entry(id).or_default().scheduled = n;
            }
        }
        for (k, v) in entries("starts_dropped") {
            if let (Some(id), Some(n)) = (scenario(k), count(v)) {
                self.starts.entry(id).or_default().dropped = n;
            }
        }
    }

    /// Starts of arrival-rate scenarios scheduled and dropped, all scenarios together;
    /// `None` when the run had none.
    pub(crate) fn start_totals(&self) -> Option<StartCounts> {
        (!self.starts.is_empty()).then(|| StartCounts {
            scheduled: self.starts.values().map(|c| c.scheduled).sum(),
            dropped: self.starts.values().map(|c| c.dropped).sum(),
        })
    }

    /// The transaction rows by journey, then name (so `__root__` comes before its steps), each
    /// with its index into the timeline's transaction series.
    pub(crate) fn transaction_rows(&self) -> Vec<(usize, &str, &str, &TransactionTotals)> {
        let mut rows: Vec<_> = self
            .transactions
            .iter()
            .enumerate()
            .map(|(index, ((journey, name), totals))| (index, &**journey, &**name, totals))
            .collect();
        rows.sort_by(|a, b| (a.1, a.2).cmp(&(b.1, b.2)));
        rows
    }

    /// The error kinds, most frequent first (ties in order of first appearance).
    pub(crate) fn top_errors(&self) -> Vec<(&str, &str, u64)> {
        let mut kinds: Vec<_> = self
            .error_kinds
            .iter()
            .map(|((t, m), &n)| (&**t, &**m, n))
            .collect();
        kinds.sort_by_key(|kind| std::cmp::Reverse(kind.2));
        kinds
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{Envelope, Message};

    fn txn(name: &str, start: f64, end: f64, had_error: bool) -> Message {
        Message {
            kind: Arc::from("txn"),
            time: end,
            fields: vec![
                (keys::start_time(), Value::Float(start)),
                (keys::end_time(), Value::Float(end)),
                (keys::had_error(), Value::Bool(had_error)),
            ],
            envelope: Some(Arc::new(Envelope::new(vec![
                (keys::test(), Value::str("m:s")),
                (keys::journey(), Value::str("m:j")),
            ]))),
            transaction: Some((Arc::from(name), 1)),
            has_transaction_keys: true,
        }
    }

    #[test]
    fn journeys_transactions_requests_and_errors_are_counted() {
        let mut s = RunSummary::default();
        s.add(&txn("__root__ :: Log in", 10.0, 10.25, false));
        s.add(&txn("__root__", 10.0, 10.5, false));
        s.add(&txn("__root__", 11.0, 11.75, true));
        let request = Message::bare(Arc::from("http_metrics"), 10.2)
            .with_field(Arc::from("total_time"), 0.004)
            .with_field(Arc::from("response_code"), 200u64);
        s.add(&request);
        s.add(
            &Message::bare(Arc::from("exception"), 11.7)
                .with_field(Arc::from("ex_type"), "ValueError")
                .with_field(Arc::from("message"), "boom"),
        );
        assert_eq!(s.test.as_deref(), Some("m:s"));
        assert_eq!((s.journeys_finished, s.journeys_failed), (2, 1));
        assert_eq!(s.requests(), 1);
        assert_eq!(s.status_codes.get(&200), Some(&1));
        assert_eq!(s.top_errors(), [("ValueError", "boom", 1)]);
        let root = &s.transactions[&(Arc::from("m:j"), Arc::from("__root__"))];
        assert_eq!((root.count, root.errors), (2, 1));
        assert_eq!(root.latency.max_us(), Some(750_000));
        assert_eq!(s.duration(), 1.75);
    }

    #[test]
    fn fields_are_found_where_they_were_by_pointer_or_by_text() {
        let msg = txn("T", 1.0, 2.0, true).with_field(Arc::from("extra"), 7u64);
        let extra = Arc::from("extra");
        let missing = Arc::from("missing");
        let keys = [&keys::had_error(), &keys::end_time(), &extra, &missing];
        let mut hints = [5, 0, 0, 0];
        for _ in 0..2 {
            let [had_error, end_time, found_extra, not_there] = msg.fields_at(keys, &mut hints);
            assert_eq!(had_error, Some(&Value::Bool(true)));
            assert_eq!(end_time, Some(&Value::Float(2.0)));
            assert_eq!(found_extra, Some(&Value::UInt(7)));
            assert_eq!(not_there, None);
            assert_eq!(hints[..2], [2, 1]);
        }
        let by_text = msg.to_value();
        let [had_error, found_extra] = by_text.fields_at([&keys::had_error(), &extra], &mut [0, 0]);
        assert_eq!(had_error, Some(&Value::Bool(true)));
        assert_eq!(found_extra, Some(&Value::UInt(7)));
    }

    #[test]
    fn collector_records_read_like_live_messages() {
        let live = txn("__root__", 5.0, 5.5, true);
        let record = live.to_value();
        let (mut a, mut b) = (RunSummary::default(), RunSummary::default());
        a.add(&live);
        b.add(&record);
        assert_eq!(a.journeys_failed, b.journeys_failed);
        assert_eq!(
            a.transactions.keys().collect::<Vec<_>>(),
            b.transactions.keys().collect::<Vec<_>>()
        );
        assert_eq!(a.test, b.test);
    }

    #[test]
    fn rows_met_again_are_told_apart_by_their_text() {
        let mut s = RunSummary::default();
        for i in 0..60 {
            // Names of one length, each message a new Arc, more names than are remembered.
            s.add(&txn(&format!("t{}", i % 6), 1.0, 2.0, false));
        }
        let counts: Vec<(String, u64)> = s
            .transactions
            .iter()
            .map(|((_, name), t)| (name.to_string(), t.count))
            .collect();
        let expected: Vec<(String, u64)> = (0..6).map(|i| (format!("t{i}"), 10)).collect();
        assert_eq!(counts, expected);
    }

    #[test]
    fn rows_and_error_kinds_are_bounded() {
        let mut s = RunSummary::default();
        for i in 0..(MAX_TRANSACTIONS + 20) {
            s.add(&txn(&format!("t{i}"), 1.0, 2.0, false));
        }
        assert_eq!(s.transactions.len(), MAX_TRANSACTIONS + 1);
        let other = &s.transactions[&(Arc::from(""), Arc::from(OTHER_TRANSACTIONS))];
        assert_eq!(other.count, 20);
        for i in 0..(MAX_ERROR_KINDS + 5) {
            s.add(
                &Message::bare(Arc::from("error"), 3.0)
                    .with_field(Arc::from("message"), format!("id {i}").as_str()),
            );
        }
        assert_eq!(s.error_kinds.len(), MAX_ERROR_KINDS);
        assert_eq!(
            (s.errors_total, s.errors_other),
            (MAX_ERROR_KINDS as u64 + 5, 5)
        );
    }

    #[test]
    fn the_latest_controller_report_gives_the_active_journeys() {
        let report = |time, actual: u64, required: u64| {
            Message::bare(Arc::from("controller_report"), time)
                .with_field(
                    Arc::from("actual"),
                    Value::Map(vec![(Value::UInt(1), Value::UInt(actual))]),
                )
                .with_field(
                    Arc::from("required"),
                    Value::Map(vec![(Value::UInt(1), Value::UInt(required))]),
                )
        };
        let mut s = RunSummary::default();
        s.add(&report(2.0, 3, 5));
        s.add(&report(1.0, 9, 9));
        assert_eq!((s.journeys_active, s.journeys_target), (3, 5));
    }

    #[test]
    fn start_delays_give_latency_from_the_intended_start_and_reports_the_start_counts() {
        let mut summary = RunSummary::default();
        let mut late = txn("step", 10.0, 10.1, false);
        late.envelope = Some(Arc::new(Envelope::new(vec![
            (keys::journey(), Value::str("m:j")),
            (keys::start_delay(), Value::Float(0.4)),
        ])));
        summary.add(&late);
        summary.add(&txn("step", 11.0, 11.1, false));
        let (_, row) = summary.transactions.get_index(0).unwrap();
        assert_eq!((row.latency.count(), row.from_intended.count()), (2, 1));
        assert_eq!(row.from_intended.max_us(), Some(500_000));
        // A collector record carries it as a field of its own.
        let record = Value::Map(vec![
            (Value::str("type"), Value::str("http_metrics")),
            (Value::str("time"), Value::Float(12.0)),
            (Value::str("total_time"), Value::Float(0.25)),
            (Value::str("start_delay"), Value::Float(1.0)),
        ]);
        summary.add(&record);
        assert_eq!(summary.requests_from_intended.max_us(), Some(1_250_000));
        assert_eq!(summary.start_totals(), None);
        let report = |time: f64, scheduled: i64| {
            Message::bare(keys::controller_report(), time)
                .with_field(
                    keys::starts_scheduled(),
                    Value::Map(vec![(Value::Int(1), Value::Int(scheduled))]),
                )
                .with_field(
                    keys::starts_dropped(),
                    Value::Map(vec![(Value::Int(1), Value::Int(3))]),
                )
        };
        summary.add(&report(13.0, 50));
        // An older report arriving late changes nothing.
        summary.add(&report(12.5, 20));
        assert_eq!(
            summary.start_totals(),
            Some(StartCounts {
                scheduled: 50,
                dropped: 3
            })
        );
    }
}
