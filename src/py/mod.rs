//! PyO3 bindings: the `mite._mite` extension module. One file per Python-facing concern;
//! logic that does not need Python lives in the core modules.

mod active_transaction;
mod cli;
mod command_support;
mod components;
mod config_versions;
mod context;
mod controller;
mod controller_command;
mod convert;
mod datapools;
mod event_loop;
mod exception_report;
mod http;
mod live_stats;
mod local_cluster;
mod processors;
mod run_summary;
mod runner;
mod runner_command;
mod scenario_check;
mod scenario_loading;
mod schedule;
mod sink;
mod transaction;
mod volume;
mod zmq_socket;

use pyo3::prelude::*;

use crate::bridge::{awaitable, journey_task, loop_runtime, native_future, send_slot};

/// One glibc malloc arena for the whole process, unless the user chose (`MALLOC_ARENA_MAX`):
/// Rust's allocations go to mimalloc, but Python's large objects and C extensions' still use
/// glibc, which would otherwise give every thread that touches them an arena of its own.
fn limit_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only tunes glibc's allocator; called before our threads start.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}

#[pymodule(gil_used = true)]
fn _mite(m: &Bound<'_, PyModule>) -> PyResult<()> {
    limit_malloc_arenas();
    m.setattr("__doc__", "The native core of mite-rs.")?;
    m.add(
        "BUILD_PROFILE",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    )?;
    m.add_class::<awaitable::Ready>()?;
    m.add_class::<context::Context>()?;
    m.add_class::<transaction::Transaction>()?;
    m.add_class::<sink::MessageSink>()?;
    m.add_class::<live_stats::NativeStats>()?;
    m.add_class::<live_stats::ExporterFeed>()?;
    m.add_class::<datapools::RecyclableIterableDataPool>()?;
    m.add_class::<datapools::IterableDataPool>()?;
    m.add_class::<datapools::SingleRunDataPool>()?;
    m.add_class::<journey_task::JourneyTask>()?;
    m.add_class::<native_future::NativeFuture>()?;
    m.add_class::<runner::Runner>()?;
    m.add_class::<runner::TaskDone>()?;
    m.add_class::<volume::FixedVolume>()?;
    m.add_class::<schedule::ScenarioSchedule>()?;
    m.add_class::<config_versions::ConfigVersions>()?;
    m.add_class::<http::HttpSession>()?;
    m.add_class::<http::HttpJourney>()?;
    m.add_class::<http::HttpCall>()?;
    m.add_class::<http::Response>()?;
    m.add_class::<http::Request>()?;
    m.add_class::<loop_runtime::HttpWaiter>()?;
    m.add_class::<processors::Recorder>()?;
    m.add_class::<processors::Collector>()?;
    m.add_class::<zmq_socket::ZmqSocket>()?;
    m.add_function(wrap_pyfunction!(cli::cli_main, m)?)?;
    m.add_function(wrap_pyfunction!(http::loop_driver::http_loops, m)?)?;
    m.add_function(wrap_pyfunction!(loop_runtime::http_on_loop_thread, m)?)?;
    send_slot::install::<awaitable::Ready>(m.py());
    send_slot::install::<native_future::NativeFuture>(m.py());
    send_slot::install::<http::HttpCall>(m.py());
    Ok(())
}
