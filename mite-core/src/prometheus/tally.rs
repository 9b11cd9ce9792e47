//! mite's stats processors, natively: each message is matched and counted into per-stat
//! tables; [`StatTable::dump`] hands over the deltas and starts again from zero.
//!
//! This runs per message at the full message rate. A message's label values are looked at in
//! place ([`LabelView`]s borrowed from it), hashed once, and compared with the stored keys;
//! only label values not seen since the last dump are copied. Field positions are remembered
//! per label, since messages of one type list their fields in the same order.

use std::hash::Hasher;
use std::sync::Arc;

use hashbrown::HashTable;
use rustc_hash::FxHasher;
use smallvec::SmallVec;

use super::dump::{BucketCounts, DumpBody, StatDump};
use super::labels::{LabelKey, LabelValue};
use super::number::Number;
use super::spec::{Extract, StatKind, StatSpec};
use crate::messages::{py_str, Message, Value};

/// A label value as it sits in a message: what [`LabelValue::of`] would make of it.
enum LabelView<'m> {
    Nil,
    Bool(bool),
    Int(i64),
    Str(&'m Arc<str>),
    Bin(&'m [u8]),
    /// `str()` of a value of another type (rare: built only for such labels).
    Text(String),
}

impl<'m> LabelView<'m> {
    #[inline(always)]
    fn of(value: &'m Value) -> Self {
        match value {
            Value::Nil => LabelView::Nil,
            Value::Bool(b) => LabelView::Bool(*b),
            Value::Int(i) => LabelView::Int(*i),
            Value::UInt(u) => {
                i64::try_from(*u).map_or_else(|_| LabelView::Text(u.to_string()), LabelView::Int)
            }
            Value::Str(s) => LabelView::Str(s),
            Value::Bin(b) => LabelView::Bin(b),
            other => LabelView::Text(py_str(other)),
        }
    }

    fn hash_into(&self, h: &mut FxHasher) {
        match self {
            LabelView::Nil => h.write_u8(0),
            LabelView::Bool(b) => {
                h.write_u8(1);
                h.write_u8(u8::from(*b));
            }
            LabelView::Int(i) => {
                h.write_u8(2);
                h.write_i64(*i);
            }
            LabelView::Str(s) => hash_bytes(h, 3, s.as_bytes()),
            LabelView::Text(s) => hash_bytes(h, 3, s.as_bytes()),
            LabelView::Bin(b) => hash_bytes(h, 4, b),
        }
    }

    #[inline(always)]
    fn matches(&self, stored: &LabelValue) -> bool {
        match (self, stored) {
            (LabelView::Nil, LabelValue::Nil) => true,
            (LabelView::Bool(a), LabelValue::Bool(b)) => a == b,
            (LabelView::Int(a), LabelValue::Int(b)) => a == b,
            (LabelView::Str(a), LabelValue::Str(b)) => Arc::ptr_eq(a, b) || ***a == **b,
            (LabelView::Text(a), LabelValue::Text(b)) => **a == **b,
            (LabelView::Bin(a), LabelValue::Bin(b)) => **a == **b,
            _ => false,
        }
    }

    fn to_owned(&self) -> LabelValue {
        match self {
            LabelView::Nil => LabelValue::Nil,
            LabelView::Bool(b) => LabelValue::Bool(*b),
            LabelView::Int(i) => LabelValue::Int(*i),
            LabelView::Str(s) => LabelValue::Str(Arc::clone(s)),
            LabelView::Bin(b) => LabelValue::Bin(Arc::from(*b)),
            LabelView::Text(s) => LabelValue::Text(Arc::from(s.as_str())),
        }
    }
}

/// Hashes a byte string by its length and its first and last eight bytes: enough to tell
/// label values apart in practice, at a fixed cost however long they are (values that agree
/// there only share a hash bucket; keys are always compared in full).
fn hash_bytes(h: &mut FxHasher, tag: u8, bytes: &[u8]) {
    h.write_u8(tag);
    h.write_usize(bytes.len());
    let word = |chunk: &[u8]| {
        let mut buf = [0u8; 8];
        buf[..chunk.len()].copy_from_slice(chunk);
        u64::from_le_bytes(buf)
    };
    let n = bytes.len();
    h.write_u64(word(&bytes[..n.min(8)]));
    if n > 8 {
        h.write_u64(word(&bytes[n.saturating_sub(8)..]));
    }
}

/// Label values of one sample as views; most stats have few labels, kept on the stack.
type Views<'m> = SmallVec<[LabelView<'m>; 8]>;

fn hash_views(views: &[LabelView<'_>]) -> u64 {
    let mut h = FxHasher::default();
    for view in views {
        view.hash_into(&mut h);
    }
    h.finish()
}

/// How many recently used samples are tried before hashing: messages in a row mostly share
/// their label values (one transaction, one status), so most lookups end here.
const RECENT: usize = 4;

/// Samples per label-value tuple, in the order first seen.
struct Samples<V> {
    entries: Vec<(LabelKey, u64, V)>,
    index: HashTable<usize>,
    /// Indices of the most recently used entries, most recent first.
    recent: [usize; RECENT],
    recent_len: usize,
}

impl<V> Default for Samples<V> {
    fn default() -> Self {
        Samples {
            entries: Vec::new(),
            index: HashTable::new(),
            recent: [0; RECENT],
            recent_len: 0,
        }
    }
}

#[inline(always)]
fn same_key(views: &[LabelView<'_>], key: &LabelKey) -> bool {
    // Plain loops: iterator adapters here were not folded into one loop.
    if key.len() != views.len() {
        return false;
    }
    for i in 0..views.len() {
        if !views[i].matches(&key[i]) {
            return false;
        }
    }
    true
}

impl<V> Samples<V> {
    /// The sample for these label values, created at `initial` the first time.
    fn entry(&mut self, views: &[LabelView<'_>], initial: impl FnOnce() -> V) -> &mut V {
        let mut hit = None;
        for at in 0..self.recent_len {
            if same_key(views, &self.entries[self.recent[at]].0) {
                hit = Some(at);
                break;
            }
        }
        let i = match hit {
            Some(at) => {
                let i = self.recent[at];
                self.recent.copy_within(0..at, 1);
                self.recent[0] = i;
                i
            }
            None => {
                let i = self.find_or_insert(views, initial);
                self.recent_len = (self.recent_len + 1).min(RECENT);
                self.recent.copy_within(0..self.recent_len - 1, 1);
                self.recent[0] = i;
                i
            }
        };
        &mut self.entries[i].2
    }

    fn find_or_insert(&mut self, views: &[LabelView<'_>], initial: impl FnOnce() -> V) -> usize {
        let hash = hash_views(views);
        let entries = &self.entries;
        if let Some(&i) = self.index.find(hash, |&i| same_key(views, &entries[i].0)) {
            return i;
        }
        let i = self.entries.len();
        let key: LabelKey = views.iter().map(LabelView::to_owned).collect();
        self.entries.push((key, hash, initial()));
        let entries = &self.entries;
        self.index.insert_unique(hash, i, |&j| entries[j].1);
        i
    }

    fn drain(&mut self) -> impl Iterator<Item = (LabelKey, V)> + '_ {
        self.index.clear();
        self.recent_len = 0;
        self.entries.drain(..).map(|(key, _, v)| (key, v))
    }
}

/// Counts per bucket (not yet cumulative), sum and count of one label-value tuple.
#[derive(Clone, Debug)]
struct Buckets {
    per_bucket: Vec<u64>,
    sum: Number,
    count: u64,
}

enum Tally {
    Counter(Samples<Number>),
    Accumulator(Samples<Number>),
    Gauge(Samples<Number>),
    Histogram {
        bounds: Vec<f64>,
        series: Samples<Buckets>,
    },
}

/// Where a label's value comes from, decided once per stat rather than per message.
enum Role {
    /// The message type.
    Kind,
    /// The transaction's name or id (messages sent by `ctx.send` carry both keys).
    TransactionName,
    TransactionId,
    /// `time`, unless a field of that name is there.
    Time,
    /// An envelope field or one of the message's own.
    Field,
}

/// Where a field was found last time, so the next message is looked at there first.
#[derive(Default)]
struct FieldHint {
    /// The field's place in the envelope the last time it was there.
    in_envelope: usize,
    /// Its place among the message's own fields the last time it was there.
    in_fields: usize,
}

struct Source {
    key: Arc<str>,
    role: Role,
    hint: FieldHint,
}

impl Source {
    fn new(key: &Arc<str>) -> Self {
        let role = match &**key {
            "type" => Role::Kind,
            "transaction" => Role::TransactionName,
            "transaction_id" => Role::TransactionId,
            "time" => Role::Time,
            _ => Role::Field,
        };
        Source {
            key: key.clone(),
            role,
            hint: FieldHint::default(),
        }
    }

    /// The label's value in `msg`; `""` when it has no such field (mite's
    /// `msg.get(label, "")`).
    #[inline(always)]
    fn view<'m>(&mut self, msg: &'m Message) -> LabelView<'m> {
        match self.role {
            Role::Kind => return LabelView::Str(&msg.kind),
            Role::TransactionName | Role::TransactionId if msg.has_transaction_keys => {
                return match (&msg.transaction, &self.role) {
                    (Some((name, _)), Role::TransactionName) => LabelView::Str(name),
                    (Some((_, id)), _) => match i64::try_from(*id) {
                        Ok(id) => LabelView::Int(id),
                        Err(_) => LabelView::Text(id.to_string()),
                    },
                    (None, _) => LabelView::Nil,
                };
            }
            _ => {}
        }
        match field(msg, &self.key, &mut self.hint) {
            Some(value) => LabelView::of(value),
            None if matches!(self.role, Role::Time) => {
                LabelView::Text(py_str(&Value::Float(msg.time)))
            }
            None => LabelView::Text(String::new()),
        }
    }

    fn number(&mut self, msg: &Message) -> Option<Number> {
        match field(msg, &self.key, &mut self.hint) {
            None if matches!(self.role, Role::Time) => Some(Number::Float(msg.time)),
            value => value.and_then(Number::of),
        }
    }
}

struct Tallied {
    name: Arc<str>,
    extract: Extract,
    labels: Vec<Arc<str>>,
    /// Per label, where its value comes from.
    sources: Vec<Source>,
    /// The value field's.
    value: Option<Source>,
    tally: Tally,
    /// Messages of a matching type without a usable number (mite's stats process dies on
    /// the KeyError; here they are counted and the first one logged).
    unusable: u64,
}

/// The deltas of a set of stats since their last dump.
pub struct StatTable {
    stats: Vec<Tallied>,
    /// Per message type, the stats that count it, in registration order.
    routes: Vec<(Arc<str>, Vec<usize>)>,
}

impl StatTable {
    pub fn new(specs: Vec<StatSpec>) -> Self {
        let mut routes: Vec<(Arc<str>, Vec<usize>)> = Vec::new();
        let mut stats = Vec::with_capacity(specs.len());
        for (i, spec) in specs.into_iter().enumerate() {
            for kind in &spec.types {
                match routes.iter_mut().find(|(k, _)| k == kind) {
                    Some((_, indices)) => indices.push(i),
                    None => routes.push((kind.clone(), vec![i])),
                }
            }
            let tally = match spec.kind {
                StatKind::Counter => Tally::Counter(Samples::default()),
                StatKind::Accumulator => Tally::Accumulator(Samples::default()),
                StatKind::Gauge => Tally::Gauge(Samples::default()),
                StatKind::Histogram { bounds } => Tally::Histogram {
                    bounds,
                    series: Samples::default(),
                },
            };
            let labels = spec.extract.label_names();
            let value = match &spec.extract {
                Extract::Fields {
                    value: Some(key), ..
                } => Some(Source::new(key)),
                _ => None,
            };
            stats.push(Tallied {
                sources: labels.iter().map(Source::new).collect(),
                value,
                labels,
                name: spec.name,
                extract: spec.extract,
                tally,
                unusable: 0,
            });
        }
        StatTable { stats, routes }
    }

    pub fn is_empty(&self) -> bool {
        self.stats.is_empty()
    }

    /// Counts one message into every stat whose types include its type.
    pub fn process(&mut self, msg: &Message) {
        let kind = &msg.kind;
        let Some((_, indices)) = self
            .routes
            .iter()
            .find(|(k, _)| Arc::ptr_eq(k, kind) || k == kind)
        else {
            return;
        };
        for &i in indices {
            self.stats[i].count(msg);
        }
    }

    /// Every stat's delta, in registration order (empty ones included), and a fresh start.
    pub fn dump(&mut self) -> Vec<StatDump> {
        self.stats.iter_mut().map(Tallied::dump).collect()
    }
}

/// A field of the message's own (after its envelope, which wins, as in [`Message::get`]),
/// looked for first where it was last time: messages of one type list their fields in one
/// order, and envelopes are all built alike.
#[inline(always)]
fn field<'m>(msg: &'m Message, key: &Arc<str>, hint: &mut FieldHint) -> Option<&'m Value> {
    // Keys are mostly the shared copies (`messages::keys`): equal by pointer; others mostly
    // differ in length or first byte, which is checked before the whole text.
    let is_key = |k: &Arc<str>| {
        Arc::ptr_eq(k, key)
            || k.len() == key.len()
                && k.as_bytes().first() == key.as_bytes().first()
                && **k == **key
    };
    if let Some(envelope) = msg.envelope.as_deref() {
        let entries = &envelope.entries;
        if let Some((k, v)) = entries.get(hint.in_envelope) {
            if Arc::ptr_eq(k, key) {
                return Some(v);
            }
        }
        if let Some(at) = entries.iter().position(|(k, _)| is_key(k)) {
            hint.in_envelope = at;
            return Some(&entries[at].1);
        }
    }
    if let Some((k, v)) = msg.fields.get(hint.in_fields) {
        if is_key(k) {
            return Some(v);
        }
    }
    let at = msg.fields.iter().position(|(k, _)| is_key(k))?;
    hint.in_fields = at;
    Some(&msg.fields[at].1)
}

impl Tallied {
    fn count(&mut self, msg: &Message) {
        match &self.extract {
            Extract::Fields { .. } => {
                let number = match &mut self.value {
                    None => Some(Number::Int(1)),
                    Some(source) => source.number(msg),
                };
                let Some(number) = number else {
                    let key = self.value.as_ref().map_or("", |s| &*s.key);
                    return note_unusable(&self.name, &mut self.unusable, msg, key);
                };
                let mut views = Views::new();
                for source in &mut self.sources {
                    views.push(source.view(msg));
                }
                add(&mut self.tally, &views, number);
            }
            Extract::PerScenario { field: key } => {
                let Some(Value::Map(entries)) = field(msg, key, &mut FieldHint::default()) else {
                    return note_unusable(&self.name, &mut self.unusable, msg, key);
                };
                for (scenario, value) in entries {
                    let Some(number) = Number::of(value) else {
                        continue;
                    };
                    let mut views = Views::new();
                    views.push(self.sources[0].view(msg));
                    views.push(LabelView::of(scenario));
                    add(&mut self.tally, &views, number);
                }
            }
        }
    }

    fn dump(&mut self) -> StatDump {
        let drain = |samples: &mut Samples<Number>| samples.drain().collect();
        let body = match &mut self.tally {
            Tally::Counter(s) | Tally::Accumulator(s) => DumpBody::Counter(drain(s)),
            Tally::Gauge(s) => DumpBody::Gauge(drain(s)),
            Tally::Histogram { bounds, series } => DumpBody::Histogram {
                bounds: bounds.clone(),
                series: series
                    .drain()
                    .map(|(key, b)| {
                        let mut running = 0;
                        let cumulative = b
                            .per_bucket
                            .iter()
                            .map(|n| {
                                running += n;
                                running
                            })
                            .collect();
                        let counts = BucketCounts {
                            cumulative,
                            sum: b.sum,
                            count: b.count,
                        };
                        (key, counts)
                    })
                    .collect(),
            },
        };
        StatDump {
            name: self.name.clone(),
            labels: self.labels.clone(),
            body,
        }
    }
}

fn note_unusable(name: &str, unusable: &mut u64, msg: &Message, key: &str) {
    *unusable += 1;
    if *unusable == 1 {
        log::warn!(
            target: "mite.stats",
            "{name}: a {} message without a number in {key:?} was not counted (no more such will be logged)",
            msg.kind
        );
    }
}

fn add(tally: &mut Tally, views: &[LabelView<'_>], number: Number) {
    match tally {
        Tally::Counter(samples) => {
            let n = samples.entry(views, || Number::ZERO);
            *n = *n + Number::Int(1);
        }
        Tally::Accumulator(samples) => {
            let n = samples.entry(views, || Number::ZERO);
            *n = *n + number;
        }
        Tally::Gauge(samples) => *samples.entry(views, || Number::ZERO) = number,
        Tally::Histogram { bounds, series } => {
            let width = bounds.len();
            let b = series.entry(views, || Buckets {
                per_bucket: vec![0; width],
                sum: Number::ZERO,
                count: 0,
            });
            b.sum = b.sum + number;
            b.count += 1;
            let value = number.as_f64();
            // The first bound the value is at or below; NaN is below none.
            let first = if value.is_nan() {
                width
            } else {
                bounds.partition_point(|&bound| bound < value)
            };
            if first < width {
                b.per_bucket[first] += 1;
            }
        }
    }
}
