//! mite's stats processors and Prometheus exporter, natively: the built-in stats of the `mite`
//! and `mite_http` entry points ([`spec`]) counted per message ([`tally`]), handed over as
//! deltas ([`dump`], mite's wire dicts) to an [`exporter::Exporter`] that adds them up and
//! renders Prometheus text, served on `/metrics` ([`server`]). [`live`] joins them for a
//! single-process run; the `stats` and `prometheus_exporter` components use the same parts.

pub mod dump;
pub mod exporter;
pub mod labels;
pub mod live;
pub mod number;
pub mod server;
pub mod spec;
pub mod tally;

#[cfg(test)]
mod tests;

pub use dump::{BucketCounts, DumpBody, DumpError, StatDump};
pub use exporter::{Exporter, MismatchError};
pub use labels::{LabelKey, LabelValue};
pub use live::{LiveStats, SharedExporter, DUMP_INTERVAL};
pub use number::Number;
pub use server::{parse_listen_address, MetricsServer, ServerError, CONTENT_TYPE};
pub use spec::{
    http_buckets_from_env, mite_http_stats, mite_stats, parse_buckets, BucketsError, Extract,
    StatKind, StatSpec,
};
pub use tally::StatTable;
