//! Log lines in mite's format, written from Rust without the GIL.
//!
//! mite configures Python's `logging` with
//! `[%(asctime)s] <%(levelname)s> [%(name)s] [%(pathname)s:%(lineno)d %(funcName)s] %(message)s`.
//! Rust components log through the `log` crate with the logger name as the target
//! (`log::info!(target: "Http Stats", ...)`) and come out in the same shape, interleaving
//! line by line with what Python code logs to the same stderr.

use std::io::Write;
use std::str::FromStr;
use std::sync::Mutex;

use log::{Level, LevelFilter, Log, Metadata, Record};

struct MiteFormatLogger;

static LOGGER: MiteFormatLogger = MiteFormatLogger;

/// Python's level names, which mite's output uses.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::Error => "ERROR",
        Level::Warn => "WARNING",
        Level::Info => "INFO",
        Level::Debug => "DEBUG",
        Level::Trace => "TRACE",
    }
}

/// One log line, without the trailing newline.
pub fn format_line(record: &Record<'_>, timestamp: &str) -> String {
    let file = record.file().unwrap_or("<native>");
    let line = record.line().unwrap_or(0);
    let function = record
        .module_path()
        .and_then(|m| m.rsplit("::").next())
        .unwrap_or("-");
    format!(
        "[{timestamp}] <{}> [{}] [{file}:{line} {function}] {}",
        level_name(record.level()),
        record.target(),
        record.args()
    )
}

impl Log for MiteFormatLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let timestamp = chrono::Local::now()
            .format("%Y-%m-%d %H:%M:%S,%3f")
            .to_string();
        let mut text = format_line(record, &timestamp);
        text.push('\n');
        write_stderr(&text);
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

/// The live status line on the terminal (see `summary::StatusLine`), when one is shown:
/// lines written to stderr clear it first and draw it again after, so they never run into it.
static STATUS_LINE: Mutex<Option<String>> = Mutex::new(None);

/// Erases the terminal's current line.
const CLEAR_LINE: &str = "\r\x1b[2K";

/// Writes `text` (whole lines) to stderr, around the status line if one is shown. One write
/// per call, so lines from several threads never interleave mid-line.
pub fn write_stderr(text: &str) {
    let status = STATUS_LINE.lock().unwrap_or_else(|e| e.into_inner());
    match &*status {
        None => {
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        }
        Some(line) => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(CLEAR_LINE.as_bytes());
            let _ = out.flush();
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
            let _ = out.write_all(line.as_bytes());
            let _ = out.flush();
        }
    }
}

/// Shows `line` as the status line on stdout (a terminal), replacing the one shown.
pub fn show_status(line: &str) {
    let mut status = STATUS_LINE.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{CLEAR_LINE}{line}");
    let _ = out.flush();
    *status = Some(line.to_owned());
}

/// Erases the status line, if one is shown; later output starts on a clean line.
pub fn clear_status() {
    let mut status = STATUS_LINE.lock().unwrap_or_else(|e| e.into_inner());
    if status.take().is_some() {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(CLEAR_LINE.as_bytes());
        let _ = out.flush();
    }
}

/// A `--log-level` value Python's logging accepts, as a filter for the Rust side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLevel(pub LevelFilter);

/// A `--log-level` that is not one of Python's level names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown log level '{0}'")]
pub struct UnknownLogLevel(pub String);

impl FromStr for LogLevel {
    type Err = UnknownLogLevel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let filter = match s.to_ascii_uppercase().as_str() {
            "DEBUG" | "NOTSET" => LevelFilter::Debug,
            "INFO" => LevelFilter::Info,
            "WARNING" | "WARN" => LevelFilter::Warn,
            "ERROR" | "CRITICAL" | "FATAL" => LevelFilter::Error,
            _ => return Err(UnknownLogLevel(s.to_owned())),
        };
        Ok(LogLevel(filter))
    }
}

impl LogLevel {
    /// The name Python's `logging` understands for this level.
    pub fn python_name(self) -> &'static str {
        match self.0 {
            LevelFilter::Off | LevelFilter::Error => "ERROR",
            LevelFilter::Warn => "WARNING",
            LevelFilter::Info => "INFO",
            LevelFilter::Debug | LevelFilter::Trace => "DEBUG",
        }
    }
}

/// Installs the logger (once per process) and sets the level.
pub fn init(level: LogLevel) {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_have_mites_bracket_structure_and_python_level_names() {
        let record = Record::builder()
            .args(format_args!("Total> #Reqs:67 #Errs:7"))
            .level(Level::Warn)
            .target("Http Stats")
            .file(Some("src/stats/console.rs"))
            .line(Some(99))
            .module_path(Some("_mite::stats::console"))
            .build();
        assert_eq!(
            format_line(&record, "2026-11-25 15:18:11,618"),
            "[2026-11-25 15:18:11,618] <WARNING> [Http Stats] [src/stats/console.rs:99 console] \
             Total> #Reqs:67 #Errs:7"
        );
    }

    #[test]
    fn log_levels_parse_like_python_names() {
        assert_eq!("INFO".parse::<LogLevel>().unwrap().0, LevelFilter::Info);
        assert_eq!(
            "warning".parse::<LogLevel>().unwrap().python_name(),
            "WARNING"
        );
        assert_eq!(
            "LOUD".parse::<LogLevel>(),
            Err(UnknownLogLevel("LOUD".into()))
        );
    }
}
