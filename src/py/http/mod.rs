//! `ctx.http`: the Python face of the Rust HTTP engine (`mite_core::http`).
//!
//! A request is validated and turned into a `RequestSpec` on the loop thread, run on the tokio
//! runtime, and handed back through a completion queue that wakes the event loop once per
//! batch (an eventfd); the loop converts the result to Python and resumes the journey.

mod decorator;
pub(crate) mod loop_driver;
mod response;
mod session;

pub use decorator::{HttpCall, HttpJourney};
pub use response::{Request, Response};
pub use session::HttpSession;
