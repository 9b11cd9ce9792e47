//! Statistics for the console: mite's periodic `Http Stats` lines, the `MSG` lines, and the
//! end-of-run thresholds and `--report` benchmark report of in-process test runs.
//!
//! Everything here is pure formatting and arithmetic on [`Message`](crate::messages::Message)s;
//! the caller owns the clock and the loggers.

mod console;
mod exact_sum;
mod msg_output;
mod report;
mod sample_store;
mod series;
mod table;

pub use console::{ConsoleOptions, ConsoleStats, LOGGER as HTTP_STATS_LOGGER};
pub use msg_output::{format_debug_log, format_exception_log, LOGGER as MSG_LOGGER};
pub use report::{
    Check, Evaluation, PercentileThreshold, ThresholdArgs, ThresholdError, Thresholds,
};
