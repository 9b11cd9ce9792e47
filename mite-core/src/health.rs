//! The load generator watching itself: when the runner's event loop lags, its process uses
//! (nearly) all the CPU it may, or arrival-rate journeys start late, the figures measure the
//! generator rather than the target. A runner samples these once a second into a
//! `runner_health` message; a run of such seconds warns once, live, and the summary says so.
//!
//! The runner measures loop lag with a probe callback every [`PROBE_INTERVAL`] seconds: how
//! late each one ran. A callback that runs long (a blocking call in a journey) shows as one
//! large lag; a watchdog thread catches it while it happens and names the code.

use std::sync::Arc;

use crate::messages::{Message, Value};

/// Seconds between two loop-lag probes.
pub const PROBE_INTERVAL: f64 = 0.05;
/// Loop lag (seconds) above which a second counts as the generator's limit.
pub const LAG_LIMIT: f64 = 0.010;
/// The share of its cores above which a second counts as the generator's limit.
pub const CPU_LIMIT: f64 = 0.90;
/// Consecutive limited seconds that make the run generator-limited.
pub const LIMITED_SECONDS: u32 = 3;
/// A loop callback running this long (seconds) is a blocking call worth naming.
pub const BLOCKING_AFTER: f64 = 0.1;

/// The CPU seconds (user and system, all threads) this process has used.
pub fn process_cpu_seconds() -> Option<f64> {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return None;
    }
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Some(seconds(usage.ru_utime) + seconds(usage.ru_stime))
}

/// The CPUs this process may run on (its affinity and cgroup limits included).
pub fn usable_cores() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

/// One second of the generator's own figures.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sample {
    /// How late the loop ran its probes: 90th percentile (a second over the limit is one
    /// where lag was sustained, not one hiccup) and maximum, seconds.
    pub lag_p90: f64,
    pub lag_max: f64,
    /// CPU used over the second as a share of the usable cores (0 to 1).
    pub cpu: f64,
    pub cores: u32,
    /// Arrival-rate journeys that started more than [`LAG_LIMIT`] late, and the latest.
    pub late_starts: u64,
    pub start_delay_max: f64,
}

impl Sample {
    /// What made this second the generator's limit, if anything: `"loop lag"`, `"CPU"`,
    /// `"late starts"`.
    pub fn limits(&self) -> Vec<&'static str> {
        let mut why = Vec::new();
        if self.lag_p90 > LAG_LIMIT {
            why.push("loop lag");
        }
        if self.cpu > CPU_LIMIT {
            why.push("CPU");
        }
        if self.late_starts > 0 && self.start_delay_max > LAG_LIMIT {
            why.push("late starts");
        }
        why
    }

    /// The `runner_health` message of this second.
    pub fn message(&self, time: f64, test: &Arc<str>, runner_id: u64) -> Message {
        Message::bare(Arc::from("runner_health"), time)
            .with_field(Arc::from("test"), Value::Str(test.clone()))
            .with_field(Arc::from("runner_id"), Value::UInt(runner_id))
            .with_field(Arc::from("loop_lag_p90"), Value::Float(self.lag_p90))
            .with_field(Arc::from("loop_lag_max"), Value::Float(self.lag_max))
            .with_field(Arc::from("cpu_percent"), Value::Float(self.cpu * 100.0))
            .with_field(Arc::from("cores"), Value::UInt(u64::from(self.cores)))
            .with_field(Arc::from("late_starts"), Value::UInt(self.late_starts))
            .with_field(
                Arc::from("start_delay_max"),
                Value::Float(self.start_delay_max),
            )
            .with_field(Arc::from("limited"), Value::Bool(!self.limits().is_empty()))
    }

    /// The figures for people: `loop lag p90 45ms (max 1.0s), CPU 98% of 1 core`.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "loop lag p90 {} (max {}), CPU {:.0}% of {} core{}",
            seconds_text(self.lag_p90),
            seconds_text(self.lag_max),
            self.cpu * 100.0,
            self.cores,
            if self.cores == 1 { "" } else { "s" }
        );
        if self.late_starts > 0 {
            text += &format!(
                ", {} arrival-rate starts late by up to {}",
                self.late_starts,
                seconds_text(self.start_delay_max)
            );
        }
        text
    }
}

/// `0.045` as `45ms`, `1.2` as `1.2s`.
pub fn seconds_text(seconds: f64) -> String {
    if seconds < 1.0 {
        format!("{:.0}ms", seconds * 1000.0)
    } else {
        format!("{seconds:.1}s")
    }
}

/// Collects a second's probes and arrival-rate start delays.
#[derive(Debug)]
pub struct Watch {
    lags: Vec<f64>,
    late_starts: u64,
    start_delay_max: f64,
    cores: u32,
    last_cpu: Option<(f64, f64)>,
    consecutive: u32,
    warned: bool,
}

impl Watch {
    pub fn new(cores: u32) -> Self {
        Watch {
            lags: Vec::with_capacity(32),
            late_starts: 0,
            start_delay_max: 0.0,
            cores: cores.max(1),
            last_cpu: None,
            consecutive: 0,
            warned: false,
        }
    }

    /// A probe ran `lag` seconds after it was due.
    pub fn probe(&mut self, lag: f64) {
        self.lags.push(lag.max(0.0));
    }

    /// An arrival-rate journey started `delay` seconds after it was due.
    pub fn started(&mut self, delay: f64) {
        if delay > LAG_LIMIT {
            self.late_starts += 1;
        }
        self.start_delay_max = self.start_delay_max.max(delay);
    }

    /// The second's figures, given the wall clock and the process's CPU seconds now; the
    /// collection starts afresh. `None` for the first call (no CPU baseline yet).
    pub fn sample(&mut self, wall: f64, cpu_seconds: f64) -> Option<Sample> {
        let previous = self.last_cpu.replace((wall, cpu_seconds));
        let mut lags = std::mem::take(&mut self.lags);
        let late_starts = std::mem::take(&mut self.late_starts);
        let start_delay_max = std::mem::take(&mut self.start_delay_max);
        let (wall0, cpu0) = previous?;
        let elapsed = wall - wall0;
        if elapsed <= 0.0 {
            return None;
        }
        lags.sort_by(f64::total_cmp);
        let at = |q: f64| {
            lags.get(((lags.len() as f64 * q).ceil() as usize).saturating_sub(1))
                .copied()
                .unwrap_or(0.0)
        };
        Some(Sample {
            lag_p90: at(0.9),
            lag_max: lags.last().copied().unwrap_or(0.0),
            cpu: ((cpu_seconds - cpu0) / elapsed / f64::from(self.cores)).max(0.0),
            cores: self.cores,
            late_starts,
            start_delay_max,
        })
    }

    /// Judges a second: the warning to log the first time [`LIMITED_SECONDS`] seconds in a
    /// row were the generator's limit.
    pub fn judge(&mut self, sample: &Sample) -> Option<String> {
        let limits = sample.limits();
        if limits.is_empty() {
            self.consecutive = 0;
            return None;
        }
        self.consecutive += 1;
        if self.consecutive < LIMITED_SECONDS || self.warned {
            return None;
        }
        self.warned = true;
        Some(format!(
            "The load generator, not the target, was the limit for {} s ({}): {}. \
             Its latencies and rates measure this process; use more runners (--runners) \
             or lighter journeys",
            self.consecutive,
            limits.join(", "),
            sample.describe()
        ))
    }
}

/// Where a blocking call held the event loop, found by the runner's watchdog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockingCall {
    pub file: String,
    pub line: u32,
    pub function: String,
    /// The source line, stripped (empty when it cannot be read).
    pub code: String,
}

impl BlockingCall {
    /// `paced.py:17 in quick: time.sleep(1.0)`.
    pub fn place(&self) -> String {
        let file = std::path::Path::new(&self.file)
            .file_name()
            .map_or(self.file.clone(), |f| f.to_string_lossy().into_owned());
        if self.code.is_empty() {
            format!("{file}:{} in {}", self.line, self.function)
        } else {
            format!("{file}:{} in {}: {}", self.line, self.function, self.code)
        }
    }

    /// The warning for a loop held `seconds` by this call.
    pub fn warning(&self, seconds: f64) -> String {
        format!(
            "A blocking call held the event loop for {} at {}; nothing else ran meanwhile \
             (no journey started or made progress). Await instead (asyncio.sleep), or run \
             blocking work in an executor",
            seconds_text(seconds),
            self.place()
        )
    }

    /// The `blocking_call` message.
    pub fn message(&self, time: f64, test: &Arc<str>, runner_id: u64, seconds: f64) -> Message {
        Message::bare(Arc::from("blocking_call"), time)
            .with_field(Arc::from("test"), Value::Str(test.clone()))
            .with_field(Arc::from("runner_id"), Value::UInt(runner_id))
            .with_field(Arc::from("file"), Value::str(&self.file))
            .with_field(Arc::from("line"), Value::UInt(u64::from(self.line)))
            .with_field(Arc::from("function"), Value::str(&self.function))
            .with_field(Arc::from("code"), Value::str(&self.code))
            .with_field(Arc::from("seconds"), Value::Float(seconds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_of_probes_gives_its_lag_percentile_cpu_share_and_late_starts() {
        let mut watch = Watch::new(2);
        assert_eq!(watch.sample(0.0, 10.0), None, "no baseline yet");
        // Half the probes late by 30 ms, one by 400 ms.
        for i in 0..20 {
            watch.probe(match i {
                7 => 0.4,
                i if i % 2 == 0 => 0.03,
                _ => 0.001,
            });
        }
        watch.started(0.002);
        watch.started(0.05);
        let sample = watch.sample(1.0, 11.5).unwrap();
        assert_eq!(sample.lag_max, 0.4);
        assert_eq!(sample.lag_p90, 0.03);
        assert!((sample.cpu - 0.75).abs() < 1e-9);
        assert_eq!((sample.late_starts, sample.start_delay_max), (1, 0.05));
        assert_eq!(sample.limits(), ["loop lag", "late starts"]);
        // One hiccup in a second is not sustained lag.
        for i in 0..20 {
            watch.probe(if i == 3 { 0.2 } else { 0.001 });
        }
        let quiet = watch.sample(2.0, 11.6).unwrap();
        assert!(quiet.limits().is_empty(), "{quiet:?}");
    }

    #[test]
    fn only_a_run_of_limited_seconds_warns_and_only_once() {
        let mut watch = Watch::new(1);
        let busy = Sample {
            cpu: 0.97,
            cores: 1,
            ..Sample::default()
        };
        let calm = Sample {
            cores: 1,
            ..Sample::default()
        };
        assert_eq!(watch.judge(&busy), None);
        assert_eq!(watch.judge(&busy), None);
        assert_eq!(watch.judge(&calm), None);
        assert_eq!(watch.judge(&busy), None);
        assert_eq!(watch.judge(&busy), None);
        let warning = watch.judge(&busy).unwrap();
        assert!(
            warning.contains("for 3 s (CPU)") && warning.contains("CPU 97% of 1 core"),
            "{warning}"
        );
        assert_eq!(watch.judge(&busy), None);
    }

    #[test]
    fn a_blocking_call_is_named_by_file_line_function_and_code() {
        let call = BlockingCall {
            file: "/home/u/project/paced.py".into(),
            line: 17,
            function: "quick".into(),
            code: "time.sleep(1.0)".into(),
        };
        assert_eq!(call.place(), "paced.py:17 in quick: time.sleep(1.0)");
        let warning = call.warning(1.004);
        assert!(warning.starts_with("A blocking call held the event loop for 1.0s at paced.py:17"));
        let msg = call.message(5.0, &Arc::from("t"), 1, 1.0);
        assert_eq!(msg.get("line").and_then(Value::as_i64), Some(17));
    }

    #[test]
    fn the_process_cpu_clock_moves() {
        let before = process_cpu_seconds().unwrap();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        assert!(x > 0);
        assert!(process_cpu_seconds().unwrap() >= before);
        assert!(usable_cores() >= 1);
    }
}
