//! The message-plane components' loops. Each returns the signal that stopped it, after
//! flushing what it holds; setting up (binding, opening files) fails with one line.

use std::time::Instant;

use super::complaints::Complaints;
use super::frame::message_from_frame;
use super::signals::{StopSignals, StoppedBy};
use super::socket::{Attach, Inbox, Outbox, Received, SocketError};
use super::zmtp::ListenError;
use crate::bus::processors::CollectorFilter;
use crate::collector::{Collector, CollectorError};
use crate::messages::{decode_value, encode_value, Value};
use crate::prometheus::{MetricsServer, ServerError, SharedExporter, StatDump, StatTable};
use crate::recorder::{Recorder, RecorderError};

/// Frames handled between two checks for a stop signal when frames keep coming.
const FRAMES_PER_CHECK: u32 = 4096;
/// Seconds between two stats dumps (mite's).
const DUMP_INTERVAL: f64 = 0.25;

#[derive(Debug, thiserror::Error)]
pub enum ComponentError {
    #[error(transparent)]
    Socket(#[from] SocketError),
    #[error("--web-address: {0}")]
    Server(#[from] ServerError),
    #[error("cannot handle stop signals: {0}")]
    Signals(std::io::Error),
    #[error(transparent)]
    Listen(#[from] ListenError),
    #[error("cannot start the event loop: {0}")]
    Runtime(std::io::Error),
}

/// What a component does with each frame, and between frames.
trait Handler {
    fn frame(&mut self, frame: &[u8]);
    /// After every quiet [`super::POLL_INTERVAL`] and every [`FRAMES_PER_CHECK`] frames.
    fn idle(&mut self) {}
}

/// Hands each frame to `handler` until a stop signal.
fn pump(
    inbox: &mut Inbox,
    signals: &StopSignals,
    handler: &mut impl Handler,
) -> Result<StoppedBy, SocketError> {
    let mut since_check = 0;
    loop {
        match inbox.recv()? {
            Received::Frame(frame) => {
                handler.frame(frame);
                since_check += 1;
                if since_check < FRAMES_PER_CHECK {
                    continue;
                }
            }
            Received::Nothing => {}
        }
        since_check = 0;
        handler.idle();
        if let Some(by) = signals.stopped_by() {
            return Ok(by);
        }
    }
}

struct Frames<F>(F);

impl<F: FnMut(&[u8])> Handler for Frames<F> {
    fn frame(&mut self, frame: &[u8]) {
        (self.0)(frame)
    }
}

/// `mite receiver`: each frame from `address` (connected) to `on_frame`, until a stop signal.
pub fn run_receiver(
    address: &str,
    signals: &StopSignals,
    on_frame: impl FnMut(&[u8]),
) -> Result<StoppedBy, ComponentError> {
    let context = zmq::Context::new();
    let mut inbox = Inbox::open(&context, address, Attach::Connect, "mite.receiver")?;
    let stopped = pump(&mut inbox, signals, &mut Frames(on_frame));
    inbox.complaints().log_totals();
    Ok(stopped?)
}

struct CollectorSink<'c> {
    collector: &'c mut Collector,
    filter: Option<Box<dyn CollectorFilter>>,
    complaints: Complaints,
}

impl Handler for CollectorSink<'_> {
    fn frame(&mut self, frame: &[u8]) {
        let keep = self.filter.as_mut().is_none_or(|f| f.keep(frame));
        if let Err(e) = self.collector.process_raw(frame, keep) {
            // One log line per kind of failure, not per message.
            let kind = match &e {
                CollectorError::Io { .. } => "file errors",
                _ => "messages that could not be written as JSON",
            };
            self.complaints.note(kind, || e.to_string());
        }
    }
}

/// `mite collector`: frames from `address` (connected) into the collector's rolling files.
pub fn run_collector(
    address: &str,
    collector: &mut Collector,
    filter: Option<Box<dyn CollectorFilter>>,
    signals: &StopSignals,
) -> Result<StoppedBy, ComponentError> {
    let context = zmq::Context::new();
    let mut inbox = Inbox::open(&context, address, Attach::Connect, "mite.collector")?;
    let mut sink = CollectorSink {
        collector,
        filter,
        complaints: Complaints::new("mite.collector"),
    };
    let stopped = pump(&mut inbox, signals, &mut sink);
    if let Err(e) = sink.collector.flush() {
        log::error!(target: "mite.collector", "{e}");
    }
    inbox.complaints().log_totals();
    sink.complaints.log_totals();
    Ok(stopped?)
}

struct RecorderSink<'r> {
    recorder: &'r mut Recorder,
    complaints: Complaints,
}

impl Handler for RecorderSink<'_> {
    fn frame(&mut self, frame: &[u8]) {
        match message_from_frame(frame) {
            Ok(msg) => {
                if let Err(e) = self.recorder.process(&msg) {
                    let kind = match &e {
                        RecorderError::NameNotString { .. } => "names that are not strings",
                        RecorderError::InvalidName(_) => "names that are not plain file names",
                        RecorderError::MissingData { .. } => "data_created without data",
                        _ => "file errors",
                    };
                    self.complaints.note(kind, || e.to_string());
                }
            }
            Err(e) => self
                .complaints
                .note("malformed messages", || format!("skipped a message: {e}")),
        }
    }
}

/// `mite recorder`: `data_created` and `purge_data` frames from `address` (connected) into
/// the recorder's files.
pub fn run_recorder(
    address: &str,
    recorder: &mut Recorder,
    signals: &StopSignals,
) -> Result<StoppedBy, ComponentError> {
    let context = zmq::Context::new();
    let mut inbox = Inbox::open(&context, address, Attach::Connect, "mite.recorder")?;
    let mut sink = RecorderSink {
        recorder,
        complaints: Complaints::new("mite.recorder"),
    };
    let stopped = pump(&mut inbox, signals, &mut sink);
    if let Err(e) = sink.recorder.flush() {
        log::error!(target: "mite.recorder", "{e}");
    }
    inbox.complaints().log_totals();
    sink.complaints.log_totals();
    Ok(stopped?)
}

/// Stats counted outside the native table (Python `mite_stats` entry points).
pub trait ExtraStats: Send {
    /// Counts one message (the frame as it came).
    fn process(&mut self, frame: &[u8]);
    /// Their deltas since the last call, as mite's wire dicts.
    fn dump(&mut self) -> Vec<Value>;
}

pub struct StatsOptions<'a> {
    pub in_address: &'a str,
    pub out_address: &'a str,
    pub table: StatTable,
    pub extra: Option<Box<dyn ExtraStats + 'a>>,
}

struct StatsLoop<'a, 's> {
    table: StatTable,
    extra: Option<Box<dyn ExtraStats + 'a>>,
    outbox: Outbox,
    signals: &'s StopSignals,
    complaints: Complaints,
    started: Instant,
    last_dump: f64,
    /// Something was counted since the last dump.
    counted: bool,
    frame_out: Vec<u8>,
    failure: Option<SocketError>,
}

impl StatsLoop<'_, '_> {
    /// Sends every stat's deltas as one frame; waits while the exporter is away unless
    /// stopping (then the socket's linger period still gets it out if the peer is back).
    fn dump(&mut self, stopping: bool) {
        self.last_dump = self.started.elapsed().as_secs_f64();
        self.counted = false;
        let mut dumps: Vec<Value> = self.table.dump().iter().map(StatDump::to_value).collect();
        if let Some(extra) = self.extra.as_mut() {
            dumps.extend(extra.dump());
        }
        self.frame_out.clear();
        encode_value(&Value::Array(dumps), &mut self.frame_out);
        let signals = self.signals;
        match self.outbox.send(&self.frame_out, || {
            !stopping && signals.stopped_by().is_none()
        }) {
            Ok(true) => {}
            Ok(false) => log::warn!(
                target: "mite.stats",
                "the last stats dump could not be sent to {}: no exporter took it",
                self.outbox.address()
            ),
            Err(e) => self.failure = Some(e),
        }
    }

    fn due(&self) -> bool {
        self.counted && self.started.elapsed().as_secs_f64() - self.last_dump > DUMP_INTERVAL
    }
}

impl Handler for StatsLoop<'_, '_> {
    fn frame(&mut self, frame: &[u8]) {
        match message_from_frame(frame) {
            Ok(msg) => self.table.process(&msg),
            Err(e) => {
                return self
                    .complaints
                    .note("malformed messages", || format!("skipped a message: {e}"))
            }
        }
        if let Some(extra) = self.extra.as_mut() {
            extra.process(frame);
        }
        self.counted = true;
        if self.due() {
            self.dump(false);
        }
    }

    fn idle(&mut self) {
        // mite dumps only when a message comes; a quiet spell would hold back the last
        // counts, so they go out here too.
        if self.due() {
            self.dump(false);
        }
    }
}

/// `mite stats`: messages from `in_address` counted; every [`DUMP_INTERVAL`] in which
/// something was counted, one frame of every stat's deltas (a msgpack array of mite's dump
/// dicts) to `out_address`, and a last one when stopped. Both addresses are connected.
pub fn run_stats(
    options: StatsOptions<'_>,
    signals: &StopSignals,
) -> Result<StoppedBy, ComponentError> {
    let context = zmq::Context::new();
    let mut inbox = Inbox::open(&context, options.in_address, Attach::Connect, "mite.stats")?;
    let outbox = Outbox::open(&context, options.out_address, Attach::Connect)?;
    let mut stats = StatsLoop {
        table: options.table,
        extra: options.extra,
        outbox,
        signals,
        complaints: Complaints::new("mite.stats"),
        started: Instant::now(),
        last_dump: 0.0,
        counted: false,
        frame_out: Vec::new(),
        failure: None,
    };
    let stopped = pump(&mut inbox, signals, &mut stats);
    if stats.counted {
        stats.dump(true);
    }
    inbox.complaints().log_totals();
    stats.complaints.log_totals();
    if let Some(e) = stats.failure {
        return Err(e.into());
    }
    Ok(stopped?)
}

struct ExporterLoop {
    exporter: SharedExporter,
    complaints: Complaints,
}

impl Handler for ExporterLoop {
    fn frame(&mut self, frame: &[u8]) {
        let mut rest = frame;
        let dumps = match decode_value(&mut rest) {
            Ok(Value::Array(items)) if rest.is_empty() => items,
            Ok(_) => {
                return self
                    .complaints
                    .note("frames that are not a list of dumps", || {
                        "skipped a message that is not a list of stats dumps".into()
                    })
            }
            Err(e) => {
                return self.complaints.note("malformed messages", || {
                    format!("skipped a message: not msgpack: {e}")
                })
            }
        };
        let mut exporter = self.exporter.lock();
        for item in &dumps {
            let applied = StatDump::from_value(item)
                .map_err(|e| e.to_string())
                .and_then(|dump| exporter.apply(dump).map_err(|e| e.to_string()));
            if let Err(e) = applied {
                self.complaints
                    .note("bad dumps", || format!("skipped a stats dump: {e}"));
            }
        }
    }
}

/// `mite prometheus_exporter`: stats dumps from `in_address` (bound; many stats processes
/// may connect) added up and served as Prometheus text on `web_address`.
pub fn run_exporter(
    in_address: &str,
    web_address: &str,
    signals: &StopSignals,
) -> Result<StoppedBy, ComponentError> {
    let context = zmq::Context::new();
    let mut inbox = Inbox::open(
        &context,
        in_address,
        Attach::Bind,
        "mite.prometheus_exporter",
    )?;
    let exporter = SharedExporter::new();
    let server = MetricsServer::start(web_address, exporter.clone())?;
    log::info!(
        target: "mite.prometheus_exporter",
        "Serving Prometheus metrics on http://{}/metrics",
        server.local_addr()
    );
    let mut exporting = ExporterLoop {
        exporter,
        complaints: Complaints::new("mite.prometheus_exporter"),
    };
    let stopped = pump(&mut inbox, signals, &mut exporting);
    inbox.complaints().log_totals();
    exporting.complaints.log_totals();
    drop(server);
    Ok(stopped?)
}
