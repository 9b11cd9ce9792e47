//! mite-rs: the native core of the `mite` Python package.
//!
//! The pure-Rust core (messages, processors, scheduling, CLI definitions) has no pyo3 in it;
//! `py` holds the bindings and registers the `mite._mite` extension module.

pub mod messages;

mod py;
