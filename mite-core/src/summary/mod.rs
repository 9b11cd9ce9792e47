//! A run's results for people and for CI: the end-of-run summary on the console, the JSON
//! summary (`--summary-json`), and the self-contained HTML report with plots
//! (`--html-report`), from the same figures.
//!
//! [`RunSummary`] adds the figures up message by message: live on the bus thread during a
//! run, or afterwards from collector files (`mite report`), so both give the same document.
//! Its memory is bounded whatever the run's length (see `timeline`).

mod files;
mod generator;
mod histogram;
mod html;
mod json;
mod live;
mod run;
mod text;
mod timeline;
mod view;

pub use files::{add_file, ReportFileError};
pub use html::html_report;
pub use json::summary_json_text;
pub use live::LiveSummary;
pub use run::RunSummary;
pub use text::summary_text;
pub use view::MessageView;

use crate::stats::Check;

/// How the run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    /// Stopped by a signal (Ctrl-C, SIGTERM) before its volume models ended.
    Interrupted,
    /// Ended by an error outside any journey, or by a journey's `sys.exit`.
    Failed,
    /// Built afterwards from collector files: how the run ended is not known.
    FromFiles,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Interrupted => "interrupted",
            Outcome::Failed => "failed",
            Outcome::FromFiles => "from files",
        }
    }
}

/// What the summary says beyond the messages: how the run was started and how it ended.
#[derive(Clone, Debug)]
pub struct RunInfo {
    /// The command line, program name first.
    pub command: Vec<String>,
    pub outcome: Outcome,
    /// The exit code the run ends with, when known.
    pub exit_code: Option<i32>,
    /// `(component, version)`: mite-rs, Python, …
    pub versions: Vec<(String, String)>,
    /// The options and configuration the run was given, as `(name, value)` text.
    pub settings: Vec<(String, String)>,
    /// The end-of-run checks and their verdicts; `None` when none ran.
    pub thresholds: Option<Vec<Check>>,
}
