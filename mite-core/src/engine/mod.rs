//! Scheduling, the controller side of mite: volume models evaluated per period, the spawn-rate
//! cap, datapool checkouts by item id, and the seam through which runners ask for work
//! (`Controller`, and `Dispatcher` joining its grants with datapool items).
//!
//! The bindings supply volume models and datapools and start the journeys; this module only
//! does the arithmetic and the bookkeeping.

mod arrivals;
mod config;
mod controller;
mod datapool;
mod dispatcher;
mod fixtures;
mod plan;
mod scheduler;
mod spawn_limit;

pub use arrivals::{Rate, Timetable};
pub use config::VersionedConfig;
pub use controller::{
    Controller, ControllerError, ControllerReport, RunnerId, StandingGrant, WorkGrant,
    RUNNER_TIMEOUT,
};
pub use datapool::{CheckinError, Checkout, DataSource, RecycleQueue, Taken};
pub use dispatcher::{Dispatch, DispatchError, Dispatcher, Work};
pub use fixtures::{FixtureNeed, Fixtures};
pub use plan::{plan_volume, sparkline, Plan, PlanError, MAX_EVALUATIONS};
pub use scheduler::{
    Arrival, ArrivalCounts, Removal, ScenarioId, Scheduler, SchedulerConfig, Volume, VolumeModel,
};
pub use spawn_limit::SpawnLimit;
