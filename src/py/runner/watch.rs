//! The runner watching itself (`mite_core::health`): a loop-lag probe every
//! [`PROBE_INTERVAL`], a `runner_health` message a second with its CPU use and late starts,
//! one warning when the generator was the limit, and a watchdog thread that names a blocking
//! call while it holds the event loop.
//!
//! The watchdog sleeps between checks of the probe's heartbeat; only when the loop has not
//! beaten for [`BLOCKING_AFTER`] does it take the GIL (free while `time.sleep` runs, handed
//! over within the switch interval by busy Python code) and read the loop thread's frame.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::*;
use mite_core::health::{
    process_cpu_seconds, usable_cores, BlockingCall, Watch, BLOCKING_AFTER, PROBE_INTERVAL,
};

/// How often the watchdog looks at the heartbeat.
const WATCHDOG_INTERVAL: Duration = Duration::from_millis(20);

pub(super) struct SelfWatch {
    watch: Watch,
    /// Runner clock at which the pending probe is due.
    probe_due: f64,
    next_sample_at: f64,
    pub(super) probe_callback: Option<Py<PyAny>>,
    shared: Arc<Shared>,
    watchdog: Option<JoinHandle<()>>,
    /// Places of blocking calls already warned about.
    warned: HashSet<String>,
}

/// What the loop thread and the watchdog share.
struct Shared {
    started: Instant,
    /// Microseconds since `started` of the probe's last run.
    beat: AtomicU64,
    stop: AtomicBool,
    /// A blocking call the watchdog caught, for the loop thread to report once it is free.
    found: Mutex<Option<BlockingCall>>,
}

impl SelfWatch {
    pub(super) fn new(started: Instant) -> Self {
        SelfWatch {
            watch: Watch::new(usable_cores()),
            probe_due: 0.0,
            next_sample_at: 0.0,
            probe_callback: None,
            shared: Arc::new(Shared {
                started,
                beat: AtomicU64::new(0),
                stop: AtomicBool::new(false),
                found: Mutex::new(None),
            }),
            watchdog: None,
            warned: HashSet::new(),
        }
    }

    /// An arrival-rate journey started `delay` seconds after it was due.
    pub(super) fn started(&mut self, delay: f64) {
        self.watch.started(delay);
    }

    /// Tells the watchdog to stop; the caller joins the thread it gets (without the GIL,
    /// which the watchdog may be waiting for).
    pub(super) fn stop(&mut self) -> Option<JoinHandle<()>> {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.watchdog.take()
    }
}

impl Drop for SelfWatch {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}

fn beat_now(shared: &Shared) {
    let micros = shared.started.elapsed().as_micros() as u64;
    shared.beat.store(micros, Ordering::Relaxed);
}

/// The watchdog: when the loop has not beaten for a while, the loop thread's Python frame.
fn watchdog(shared: Arc<Shared>, loop_thread: u64) {
    let mut caught_beat = u64::MAX;
    while !shared.stop.load(Ordering::Relaxed) {
        std::thread::sleep(WATCHDOG_INTERVAL);
        let beat = shared.beat.load(Ordering::Relaxed);
        let since = shared.started.elapsed().as_secs_f64() - beat as f64 / 1e6;
        if beat == caught_beat || since < PROBE_INTERVAL + BLOCKING_AFTER {
            continue;
        }
        caught_beat = beat;
        let call = Python::attach(|py| {
            if shared.stop.load(Ordering::Relaxed) {
                return None;
            }
            blocking_frame(py, loop_thread).ok().flatten()
        });
        if let Some(call) = call {
            *shared.found.lock().unwrap_or_else(|e| e.into_inner()) = Some(call);
        }
    }
}

/// The innermost frame of the loop thread in the user's code (outside the standard library,
/// installed packages and mite's own), or the innermost frame if there is none.
fn blocking_frame(py: Python<'_>, loop_thread: u64) -> PyResult<Option<BlockingCall>> {
    let sys = py.import("sys")?;
    let frames = sys.call_method0("_current_frames")?;
    let Some(mut frame) = frames.cast::<PyDict>()?.get_item(loop_thread)? else {
        return Ok(None);
    };
    let prefixes: Vec<String> = ["prefix", "base_prefix", "exec_prefix"]
        .iter()
        .filter_map(|name| sys.getattr(*name).ok()?.extract::<String>().ok())
        .collect();
    let mite_dir = py
        .import("mite")?
        .getattr("__file__")?
        .extract::<String>()
        .ok()
        .and_then(|f| {
            std::path::Path::new(&f)
                .parent()
                .and_then(|p| p.parent())
                .map(|p| p.display().to_string())
        });
    let describe = |frame: &Bound<'_, PyAny>| -> PyResult<BlockingCall> {
        let code = frame.getattr("f_code")?;
        let file: String = code.getattr("co_filename")?.extract()?;
        let line: u32 = frame.getattr("f_lineno")?.extract().unwrap_or(0);
        let function: String = code.getattr("co_name")?.extract()?;
        let text: String = py
            .import("linecache")?
            .call_method1("getline", (&file, line))?
            .extract()
            .unwrap_or_default();
        Ok(BlockingCall {
            file,
            line,
            function,
            code: text.trim().to_owned(),
        })
    };
    let innermost = describe(&frame)?;
    loop {
        let call = describe(&frame)?;
        let theirs = call.file.starts_with('<')
            || prefixes.iter().any(|p| call.file.starts_with(p.as_str()))
            || mite_dir
                .as_deref()
                .is_some_and(|d| call.file.starts_with(d));
        if !theirs {
            return Ok(Some(call));
        }
        let back = frame.getattr("f_back")?;
        if back.is_none() {
            return Ok(Some(innermost));
        }
        frame = back;
    }
}

impl Runner {
    /// Starts the probe and the watchdog; on the loop thread, once the loop runs.
    pub(super) fn start_watch(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let this = slf.borrow();
        let loop_thread: u64 = py
            .import("threading")?
            .call_method0("get_ident")?
            .extract()?;
        let now = this.now();
        let mut state = this.state.borrow_mut();
        let watch = &mut state.watch;
        watch.probe_callback = Some(slf.getattr("_probe")?.unbind());
        beat_now(&watch.shared);
        let _ = watch
            .watch
            .sample(now, process_cpu_seconds().unwrap_or(0.0));
        watch.next_sample_at = now + 1.0;
        let shared = watch.shared.clone();
        watch.watchdog = std::thread::Builder::new()
            .name("mite-watchdog".into())
            .spawn(move || watchdog(shared, loop_thread))
            .ok();
        drop(state);
        this.arm_probe(py, now);
        Ok(())
    }

    fn arm_probe(&self, py: Python<'_>, now: f64) {
        let callback = {
            let mut state = self.state.borrow_mut();
            if state.done {
                return;
            }
            state.watch.probe_due = now + PROBE_INTERVAL;
            state.watch.probe_callback.as_ref().map(|c| c.clone_ref(py))
        };
        if let Some(callback) = callback {
            let _ = self
                .event_loop
                .call_method1(py, "call_later", (PROBE_INTERVAL, callback));
        }
    }

    /// The run is over: the health of its last, partial second, if there is enough of it.
    pub(super) fn final_health(&self, py: Python<'_>) {
        let now = self.now();
        let sample = {
            let mut state = self.state.borrow_mut();
            let watch = &mut state.watch;
            if watch.probe_callback.is_none() || now < watch.next_sample_at - 0.8 {
                return;
            }
            watch.next_sample_at = f64::INFINITY;
            watch
                .watch
                .sample(now, process_cpu_seconds().unwrap_or(0.0))
        };
        if let Some(sample) = sample {
            self.report_health(py, sample);
        }
    }

    fn report_health(&self, py: Python<'_>, sample: mite_core::health::Sample) {
        let warning = self.state.borrow_mut().watch.watch.judge(&sample);
        if let Some(warning) = warning {
            log::warn!(target: "mite.runner", "{warning}");
        }
        let runner_id = self.state.borrow().runner_id;
        let message = sample.message(unix_time(), &self.test_name, runner_id);
        let _ = self.sink.get().deliver(py, message);
    }

    /// The probe: how late it ran; once a second, the runner's health.
    pub(super) fn probe(&self, py: Python<'_>) {
        let now = self.now();
        let (blocked, sample) = {
            let mut state = self.state.borrow_mut();
            if state.done {
                return;
            }
            let watch = &mut state.watch;
            let lag = now - watch.probe_due;
            watch.watch.probe(lag);
            beat_now(&watch.shared);
            let found = watch
                .shared
                .found
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            let blocked = found
                .filter(|_| lag >= BLOCKING_AFTER)
                .map(|call| (call, lag));
            let sample = if now >= watch.next_sample_at {
                watch.next_sample_at = now + 1.0;
                let cpu = process_cpu_seconds().unwrap_or(0.0);
                watch.watch.sample(now, cpu)
            } else {
                None
            };
            (blocked, sample)
        };
        let runner_id = self.state.borrow().runner_id;
        let time = unix_time();
        if let Some((call, seconds)) = blocked {
            let first = self.state.borrow_mut().watch.warned.insert(call.place());
            if first {
                log::warn!(target: "mite.runner", "{}", call.warning(seconds));
            }
            let message = call.message(time, &self.test_name, runner_id, seconds);
            let _ = self.sink.get().deliver(py, message);
        }
        if let Some(sample) = sample {
            self.report_health(py, sample);
        }
        self.arm_probe(py, now);
    }
}
