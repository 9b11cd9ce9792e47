//! Problems that can repeat at the message rate (bad frames, full outputs): the first of each
//! kind is logged, the rest counted, and the counts logged when the component ends.

use std::collections::BTreeMap;

/// Counts of repeated problems by kind, in the order first seen.
#[derive(Default)]
pub struct Complaints {
    target: &'static str,
    counts: BTreeMap<String, u64>,
}

impl Complaints {
    pub fn new(target: &'static str) -> Self {
        Complaints {
            target,
            counts: BTreeMap::new(),
        }
    }

    /// Notes one problem of `kind`; the first is logged with `detail`.
    pub fn note(&mut self, kind: &str, detail: impl FnOnce() -> String) {
        self.note_many(kind, 1, detail);
    }

    /// Notes `count` problems of `kind` at once (a run of dropped messages).
    pub fn note_many(&mut self, kind: &str, count: u64, detail: impl FnOnce() -> String) {
        match self.counts.get_mut(kind) {
            Some(n) => *n += count,
            None => {
                log::error!(target: self.target, "{} (further ones are counted, not logged)", detail());
                self.counts.insert(kind.to_owned(), count);
            }
        }
    }

    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Logs how many of each kind there were, if any repeated.
    pub fn log_totals(&self) {
        for (kind, n) in &self.counts {
            if *n > 1 {
                log::error!(target: self.target, "{kind}: {n} in all");
            }
        }
    }
}
