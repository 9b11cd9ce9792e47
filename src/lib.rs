//! mite-rs: the native module `mite._mite`, PyO3 bindings over the pure-Rust `mite_core`.
//!
//! `bridge` is the Rust <-> asyncio bridge (journey tasks, native futures, the loop runtime);
//! `py` holds the Python-facing classes and registers the extension module; `errors` is the
//! one place core errors become Python exceptions. Everything that needs no Python lives in
//! `mite_core` and is tested there with plain `cargo test`.

mod bridge;
mod errors;
mod py;

/// mimalloc for every Rust allocation: faster than glibc's malloc for the engine's pattern of
/// many short-lived, mid-sized allocations per request, most of all across threads (made on the
/// HTTP thread, freed on the event loop's).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
