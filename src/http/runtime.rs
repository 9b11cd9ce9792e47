//! The tokio runtime that does the HTTP work, started on first use.

use std::sync::OnceLock;

/// Why the runtime could not start.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot start the HTTP runtime: {0}")]
pub struct RuntimeError(String);

/// The shared runtime: `MITE_HTTP_THREADS` workers (default 1, so one core does all the I/O
/// and the event loop keeps the other).
pub fn runtime() -> Result<&'static tokio::runtime::Runtime, RuntimeError> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, RuntimeError>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let threads = std::env::var("MITE_HTTP_THREADS")
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
                .filter(|n| *n > 0)
                .unwrap_or(1);
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .thread_name("mite-http")
                .enable_all()
                .build()
                .map_err(|e| RuntimeError(e.to_string()))
        })
        .as_ref()
        .map_err(Clone::clone)
}
