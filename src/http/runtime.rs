//! The tokio runtime that does the HTTP work, started on first use.

use std::sync::OnceLock;

/// Why the runtime could not start.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot start the HTTP runtime: {0}")]
pub struct RuntimeError(String);

/// The shared runtime. By default one thread runs a current-thread scheduler (no work
/// stealing to pay for: one core does all the I/O and the event loop keeps the other);
/// `MITE_HTTP_THREADS=N` (N > 1) uses a multi-threaded scheduler with N workers instead.
pub fn runtime() -> Result<&'static tokio::runtime::Handle, RuntimeError> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Handle, RuntimeError>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let threads = std::env::var("MITE_HTTP_THREADS")
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
                .filter(|n| *n > 0)
                .unwrap_or(1);
            if threads > 1 {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(threads)
                    .thread_name("mite-http")
                    .enable_all()
                    .build()
                    .map_err(|e| RuntimeError(e.to_string()))?;
                let handle = runtime.handle().clone();
                // The runtime lives as long as the process.
                std::mem::forget(runtime);
                return Ok(handle);
            }
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| RuntimeError(e.to_string()))?;
            let handle = runtime.handle().clone();
            std::thread::Builder::new()
                .name("mite-http".into())
                .spawn(move || runtime.block_on(std::future::pending::<()>()))
                .map_err(|e| RuntimeError(e.to_string()))?;
            Ok(handle)
        })
        .as_ref()
        .map_err(Clone::clone)
}
