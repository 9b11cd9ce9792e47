//! Wall-clock time as mite reports it.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, as Python's `time.time()`.
pub fn unix_time() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
