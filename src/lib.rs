//! mite-rs: the native core of the `mite` Python package.
//!
//! The pure-Rust core (messages, processors, scheduling, CLI definitions) has no pyo3 in it;
//! `py` holds the bindings and registers the `mite._mite` extension module.

pub mod bus;
pub mod cli;
pub mod clock;
pub mod collector;
pub mod demo;
pub mod engine;
pub mod http;
pub mod logging;
pub mod messages;
pub mod recorder;
pub mod stats;

mod py;

/// mimalloc for every Rust allocation: faster than glibc's malloc for the engine's pattern of
/// many short-lived, mid-sized allocations per request, most of all across threads (made on the
/// HTTP thread, freed on the event loop's).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
