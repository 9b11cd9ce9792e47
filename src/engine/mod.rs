//! Scheduling: which scenarios want how many journeys running, and how many to start now.
//!
//! This is the controller half of mite (its `ScenarioManager`) for a runner in the same
//! process, as pure Rust. The bindings supply volume models and datapools and start the
//! journeys; this module only does the arithmetic and the bookkeeping.

mod scheduler;
mod spawn_limit;

pub use scheduler::{Removal, ScenarioId, Scheduler, SchedulerConfig, Volume, VolumeModel};
pub use spawn_limit::SpawnLimit;
