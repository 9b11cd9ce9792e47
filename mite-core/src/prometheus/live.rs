//! Stats for a single-process run: a bus processor that counts every message into a
//! [`StatTable`] and adds its deltas to a shared [`Exporter`] four times a second, which the
//! `/metrics` server renders.
//!
//! The deltas pass through dumps exactly as between mite's `stats` and `prometheus_exporter`
//! processes, so both paths give the same numbers; the exporter's lock is taken only per dump.

use std::any::Any;
use std::sync::{Arc, Mutex, MutexGuard};

use super::dump::StatDump;
use super::exporter::Exporter;
use super::tally::StatTable;
use crate::bus::Processor;
use crate::messages::Message;

/// Seconds between dumps (mite's stats processors dump at most this often).
pub const DUMP_INTERVAL: f64 = 0.25;

/// The exporter state shared by the stats processors and the `/metrics` server.
#[derive(Clone, Default)]
pub struct SharedExporter(Arc<Mutex<Exporter>>);

impl SharedExporter {
    pub fn new() -> Self {
        Self::default()
    }

    /// The exporter; a panic elsewhere while it was held does not make it unusable.
    pub fn lock(&self) -> MutexGuard<'_, Exporter> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds dumps, logging (not failing on) one that disagrees with its stat's first dump.
    pub fn apply(&self, dumps: Vec<StatDump>) {
        let mut exporter = self.lock();
        for dump in dumps {
            if let Err(e) = exporter.apply(dump) {
                log::warn!(target: "mite.prometheus", "{e}");
            }
        }
    }

    pub fn render(&self) -> String {
        self.lock().render()
    }
}

pub struct LiveStats {
    table: StatTable,
    exporter: SharedExporter,
    next_dump: f64,
}

impl LiveStats {
    pub fn new(table: StatTable, exporter: SharedExporter, now: f64) -> Self {
        LiveStats {
            table,
            exporter,
            next_dump: now + DUMP_INTERVAL,
        }
    }

    fn dump(&mut self) {
        self.exporter.apply(self.table.dump());
    }

    fn dump_if_due(&mut self, now: f64) {
        if now > self.next_dump {
            self.dump();
            self.next_dump = now + DUMP_INTERVAL;
        }
    }
}

impl Processor for LiveStats {
    fn process(&mut self, msg: &Message, _raw: &[u8], now: f64) {
        self.table.process(msg);
        self.dump_if_due(now);
    }

    /// Between messages too, so the last quarter second of a quiet spell is not held back.
    fn idle(&mut self, now: f64) {
        self.dump_if_due(now);
    }

    fn finish(&mut self) {
        self.dump();
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
