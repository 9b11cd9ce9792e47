//! Label values looked at in place: what a message would give a stat, borrowed from it, so a
//! lookup copies nothing unless the values are new.

use std::hash::Hasher;
use std::sync::Arc;

use rustc_hash::FxHasher;
use smallvec::SmallVec;

use super::super::labels::{LabelKey, LabelValue};
use crate::messages::{py_str, Value};

/// A label value as it sits in a message: what [`LabelValue::of`] would make of it.
///
/// Plain borrowed data (`Copy`, nothing to drop); the rare values a label shows as their
/// `str()` (floats, lists, maps, integers beyond `i64`) have it made only when compared,
/// hashed or stored.
#[derive(Clone, Copy)]
pub(super) enum LabelView<'m> {
    Nil,
    Bool(bool),
    Int(i64),
    Str(&'m Arc<str>),
    Bin(&'m [u8]),
    /// No such field: mite's `""`.
    Missing,
    /// An integer beyond `i64`.
    Big(u64),
    /// The message's time (a `time` label on a message without such a field).
    Float(f64),
    /// A value of any other type.
    Other(&'m Value),
}

impl<'m> LabelView<'m> {
    #[inline(always)]
    pub(super) fn of(value: &'m Value) -> Self {
        match value {
            Value::Nil => LabelView::Nil,
            Value::Bool(b) => LabelView::Bool(*b),
            Value::Int(i) => LabelView::Int(*i),
            Value::UInt(u) => LabelView::of_u64(*u),
            Value::Str(s) => LabelView::Str(s),
            Value::Bin(b) => LabelView::Bin(b),
            other => LabelView::Other(other),
        }
    }

    #[inline(always)]
    pub(super) fn of_u64(u: u64) -> Self {
        i64::try_from(u).map_or(LabelView::Big(u), LabelView::Int)
    }

    /// The `str()` a label shows for the rare kinds kept as text.
    fn text(&self) -> Option<String> {
        match self {
            LabelView::Big(u) => Some(u.to_string()),
            LabelView::Float(f) => Some(py_str(&Value::Float(*f))),
            LabelView::Other(v) => Some(py_str(v)),
            _ => None,
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
            LabelView::Missing => hash_bytes(h, 3, b""),
            LabelView::Bin(b) => hash_bytes(h, 4, b),
            LabelView::Big(_) | LabelView::Float(_) | LabelView::Other(_) => {
                hash_bytes(h, 5, self.text().unwrap_or_default().as_bytes())
            }
        }
    }

    #[inline(always)]
    pub(super) fn matches(&self, stored: &LabelValue) -> bool {
        match (self, stored) {
            (LabelView::Str(a), LabelValue::Str(b)) => Arc::ptr_eq(a, b) || ***a == **b,
            (LabelView::Int(a), LabelValue::Int(b)) => a == b,
            (LabelView::Bin(a), LabelValue::Bin(b)) => **a == **b,
            (LabelView::Bool(a), LabelValue::Bool(b)) => a == b,
            (LabelView::Nil, LabelValue::Nil) => true,
            (LabelView::Missing, LabelValue::Str(b)) => b.is_empty(),
            (
                LabelView::Big(_) | LabelView::Float(_) | LabelView::Other(_),
                LabelValue::Text(b),
            ) => self.text().is_some_and(|a| *a == **b),
            _ => false,
        }
    }

    pub(super) fn to_stored(self) -> LabelValue {
        match self {
            LabelView::Nil => LabelValue::Nil,
            LabelView::Bool(b) => LabelValue::Bool(b),
            LabelView::Int(i) => LabelValue::Int(i),
            LabelView::Str(s) => LabelValue::Str(Arc::clone(s)),
            LabelView::Bin(b) => LabelValue::Bin(Arc::from(b)),
            LabelView::Missing => LabelValue::missing(),
            LabelView::Big(_) | LabelView::Float(_) | LabelView::Other(_) => {
                LabelValue::Text(Arc::from(self.text().unwrap_or_default()))
            }
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

/// The label values of one message, for all the stats of its type; kept on the stack.
pub(super) type Views<'m> = SmallVec<[LabelView<'m>; 8]>;

/// The hash of the views at `pick`, in that order (a stat's labels among its route's).
pub(super) fn hash_picked(views: &[LabelView<'_>], pick: &[usize]) -> u64 {
    let mut h = FxHasher::default();
    for &at in pick {
        views[at].hash_into(&mut h);
    }
    h.finish()
}

/// Whether the views at `pick` are the stored key.
#[inline(always)]
pub(super) fn picked_is(views: &[LabelView<'_>], pick: &[usize], key: &LabelKey) -> bool {
    // Plain loops: iterator adapters here were not folded into one loop.
    if key.len() != pick.len() {
        return false;
    }
    for i in 0..pick.len() {
        if !views[pick[i]].matches(&key[i]) {
            return false;
        }
    }
    true
}

/// Whether all the views are these stored values.
#[inline(always)]
pub(super) fn all_are(views: &[LabelView<'_>], values: &[LabelValue]) -> bool {
    if values.len() != views.len() {
        return false;
    }
    for i in 0..views.len() {
        if !views[i].matches(&values[i]) {
            return false;
        }
    }
    true
}

/// Owned copies of the views at `pick`.
pub(super) fn owned_picked(views: &[LabelView<'_>], pick: &[usize]) -> LabelKey {
    pick.iter().map(|&at| views[at].to_stored()).collect()
}
