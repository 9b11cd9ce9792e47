//! The pure-Rust core of mite-rs: no pyo3 anywhere in its dependency tree.
//!
//! `engine` is the controller side (volume models, spawn limit, the seam runners ask for work
//! through); `http` the HTTP engine; `messages` the message model and its encodings; `bus` the
//! message bus and its Rust processors; `stats`, `recorder` and `collector` consume messages;
//! `cli` is the command line's definition; `demo` the bundled demo target. The Python bindings
//! (the `mite-rs` crate at the top of the workspace) are the only edge that knows about Python.

pub mod bus;
pub mod cat;
pub mod cli;
pub mod clock;
pub mod collector;
pub mod completion;
pub mod demo;
pub mod engine;
pub mod health;
pub mod http;
pub mod logging;
pub mod messages;
pub mod prometheus;
pub mod recorder;
pub mod recorder_alias;
pub mod stats;
pub mod summary;
pub mod wire;
