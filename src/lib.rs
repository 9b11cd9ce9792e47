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

/// mimalloc for every Rust allocation: per-request futures, buffers and responses are made on
/// the HTTP thread and freed on the event loop's, a pattern glibc's malloc serves slowly.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
