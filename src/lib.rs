//! mite-rs: the native module `mite._mite`, PyO3 bindings over the pure-Rust `mite_core`.
//!
//! `py` holds the bindings and registers the extension module; everything that needs no
//! Python lives in `mite_core` and is tested there with plain `cargo test`.

mod py;

/// mimalloc for every Rust allocation: faster than glibc's malloc for the engine's pattern of
/// many short-lived, mid-sized allocations per request, most of all across threads (made on the
/// HTTP thread, freed on the event loop's).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
