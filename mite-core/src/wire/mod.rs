//! Distributed mode's message plane: ZeroMQ sockets carrying mite's single-frame msgpack
//! messages, and the components that only move or count messages (`duplicator`,
//! `collector`, `recorder`, `stats`, `prometheus_exporter`).
//!
//! Each component is a loop over one PULL socket: a frame is handled as it arrives; every
//! [`POLL_INTERVAL`] without one (and every few thousand frames) the loop asks whether to go
//! on, so a stop signal ends it promptly and whatever it holds is flushed first. A frame that
//! is not a message (bad msgpack, several parts, too big) is counted, the first of each kind
//! logged, and skipped: one bad peer never stops a component.

mod complaints;
mod components;
mod duplicator;
mod endpoint;
mod forwarder;
mod frame;
mod io_threads;
pub mod protocol;
mod signals;
mod socket;
pub mod standing;
pub mod zmtp;

#[cfg(test)]
mod tests;

pub use complaints::Complaints;
pub use components::{
    run_collector, run_exporter, run_receiver, run_recorder, run_stats, ComponentError, ExtraStats,
    StatsOptions,
};
pub use duplicator::{run_duplicator, DuplicatorDebug};
pub use endpoint::{check_endpoint, EndpointError};
pub use forwarder::Forwarder;
pub use frame::{message_from_frame, FrameError};
pub use signals::{StopSignals, StoppedBy};
pub use socket::{Attach, Inbox, Outbox, Received, SocketError, MAX_FRAME};

use std::time::Duration;

/// How long a loop waits for a frame before checking whether it should stop.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);
