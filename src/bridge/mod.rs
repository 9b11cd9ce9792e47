//! The bridge between Rust and asyncio: how a journey's coroutine is stepped, how it awaits
//! work done in Rust, and how that work's results come back to the event loop.
//!
//! `journey_task` steps coroutines (asyncio sees it as the current Task); `native_future` is
//! what a coroutine awaits for Rust work; `awaitable` is an already-done awaitable; `send_slot`
//! gives both the fast `am_send` protocol; `done_callbacks` and `contextvars` are the asyncio
//! plumbing they share; `loop_runtime` lets the event loop's selector drive a tokio runtime on
//! the loop's own thread. Results cross threads through `mite_core::completion`.
//!
//! Nothing here knows the runner or a protocol: a task reports its end through
//! [`journey_task::OnTaskDone`], a future wakes its task through a plain function.

pub mod awaitable;
pub mod contextvars;
pub mod coroutine;
pub mod done_callbacks;
pub mod gil_shared;
pub mod journey_task;
pub mod loop_runtime;
pub mod native_future;
pub mod send_slot;
