//! `mite duplicator`: every message from the bound input to each bound output, unchanged.
//!
//! It speaks ZMTP itself (see [`super::zmtp`]) rather than through libzmq's sockets: a
//! connection's frames are read in large buffers and each run of whole messages is appended
//! to every output's queue as the bytes it came in, so the cost per message is one frame
//! header looked at, and the kernel sees a few large reads and writes instead of one
//! libzmq batch per 8 KB. One thread runs it all.
//!
//! An output with no consumer connected drops what comes, as mite's does (its PUSH sends do
//! not wait). An output whose consumers all have [`PEER_QUEUE`] bytes waiting holds the
//! inputs back (so the runners' sockets wait, and nothing is lost) for up to
//! [`STALLED_AFTER`]; a consumer that is still that far behind then is stalled, and its
//! output drops for it until it catches up, so one stuck consumer cannot stop the others.
//! Each output's consumers take turns, a run of messages each, as PUSH peers do.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

use super::complaints::Complaints;
use super::components::ComponentError;
use super::signals::{StopSignals, StoppedBy};
use super::zmtp::{self, FrameReader, FrameSink, Listener, Skipped, SocketType, Stream};
use super::{MAX_FRAME, POLL_INTERVAL};
use crate::messages::{decode_value, py_str};

/// Bytes a consumer may have waiting before its output holds the inputs back: about 20,000
/// of a runner's messages. Small enough to stay in cache; the runners' sockets queue more.
const PEER_QUEUE: usize = 8 << 20;
/// How long a consumer may keep its output full before the inputs stop waiting for it.
const STALLED_AFTER: Duration = Duration::from_secs(2);
/// The most one read can add to a queue (a larger frame is still taken by an empty queue).
const READ_ROOM: usize = 1 << 20;
/// A connection that has not finished its greeting by then is closed.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a stopping duplicator keeps writing what its consumers have waiting (libzmq's
/// linger of the other components).
const LINGER: Duration = Duration::from_secs(2);

/// How many messages a SIGUSR1 makes the duplicator print (mite's
/// `MITE_DEBUG_MESSAGES_TO_DUMP`, else the number in the file named by
/// `MITE_DEBUG_MESSAGES_TO_DUMP_FILE`, default `/tmp/mite_messages_to_dump`, else 100).
pub struct DuplicatorDebug;

impl DuplicatorDebug {
    pub fn messages_to_dump() -> u64 {
        if let Some(n) = std::env::var("MITE_DEBUG_MESSAGES_TO_DUMP")
            .ok()
            .and_then(|v| v.trim().parse().ok())
        {
            return n;
        }
        let file = std::env::var("MITE_DEBUG_MESSAGES_TO_DUMP_FILE")
            .unwrap_or_else(|_| "/tmp/mite_messages_to_dump".into());
        std::fs::read_to_string(file)
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100)
    }
}

/// One connected consumer: the bytes waiting for it, and its writer's wake-up.
#[derive(Default)]
struct Consumer {
    queue: RefCell<Vec<u8>>,
    wake: Notify,
    writing: Cell<bool>,
}

impl Consumer {
    fn idle(&self) -> bool {
        !self.writing.get() && self.queue.borrow().is_empty()
    }
}

struct Output {
    address: String,
    consumers: RefCell<Vec<Rc<Consumer>>>,
    next: Cell<usize>,
    /// Since when every consumer's queue has been too full for another read.
    full_since: Cell<Option<Instant>>,
}

impl Output {
    /// Whether the inputs should wait before reading more: some consumer is connected, none
    /// has room for another read, and they have not been like that for [`STALLED_AFTER`].
    fn holds_inputs(&self, now: Instant) -> bool {
        let consumers = self.consumers.borrow();
        let full = !consumers.is_empty()
            && consumers
                .iter()
                .all(|c| c.queue.borrow().len() + READ_ROOM > PEER_QUEUE);
        if !full {
            self.full_since.set(None);
            return false;
        }
        let since = *self.full_since.get().get_or_insert(now);
        self.full_since.set(Some(since));
        now - since < STALLED_AFTER
    }

    /// Queues `frames` for the next consumer with room; false when none has.
    fn take(&self, frames: &[u8]) -> bool {
        let consumers = self.consumers.borrow();
        let n = consumers.len();
        for turn in 0..n {
            let at = (self.next.get() + turn) % n;
            let consumer = &consumers[at];
            let mut queue = consumer.queue.borrow_mut();
            if queue.is_empty() || queue.len() + frames.len() <= PEER_QUEUE {
                queue.extend_from_slice(frames);
                drop(queue);
                consumer.wake.notify_one();
                self.next.set((at + 1) % n);
                return true;
            }
        }
        false
    }
}

struct Hub {
    in_address: String,
    outputs: Vec<Output>,
    complaints: RefCell<Complaints>,
    to_dump: Cell<u64>,
    /// Woken when a consumer's writer has emptied its queue.
    room: Notify,
}

impl Hub {
    /// Returns once no output holds the inputs back.
    async fn room_to_read(&self) {
        loop {
            let now = Instant::now();
            // Every output is asked, so each notes when it became full.
            let held = self.outputs.iter().filter(|o| o.holds_inputs(now)).count();
            if held == 0 {
                return;
            }
            // Woken by a writer, or on time to notice a consumer has stalled.
            let _ = tokio::time::timeout(POLL_INTERVAL, self.room.notified()).await;
        }
    }

    fn complain(&self, kind: &str, count: u64, detail: impl FnOnce() -> String) {
        self.complaints.borrow_mut().note_many(kind, count, detail);
    }

    fn idle(&self) -> bool {
        self.outputs
            .iter()
            .all(|o| o.consumers.borrow().iter().all(|c| c.idle()))
    }
}

impl FrameSink for &Hub {
    fn messages(&mut self, frames: &[u8], count: u64) {
        for output in &self.outputs {
            if !output.take(frames) {
                let address = &output.address;
                self.complain(address, count, || {
                    // mite's line, whose PUSH socket says EAGAIN.
                    format!(
                        "Duplicator message buffer full for address {address}; \
                         error is 11: Resource temporarily unavailable"
                    )
                });
            }
        }
    }

    fn wants_bodies(&self) -> bool {
        self.to_dump.get() > 0
    }

    fn body(&mut self, body: &[u8]) {
        self.to_dump.set(self.to_dump.get().saturating_sub(1));
        let mut rest = body;
        let text = decode_value(&mut rest)
            .map(|v| py_str(&v))
            .unwrap_or_else(|e| format!("<not msgpack: {e}>"));
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }

    fn skipped(&mut self, skipped: Skipped) {
        let address = &self.in_address;
        match skipped {
            Skipped::Parts(parts) => self.complain("multi-part messages", 1, || {
                format!("{address}: skipped a message of {parts} parts (mite sends one)")
            }),
            Skipped::Oversized(len) => self.complain("oversized messages", 1, || {
                format!("{address}: skipped a message of {len} bytes (the limit is {MAX_FRAME})")
            }),
        }
    }
}

async fn greet(hub: &Hub, stream: &mut dyn Stream, ours: SocketType, peer: &str) -> bool {
    let address = match ours {
        SocketType::Pull => hub.in_address.clone(),
        SocketType::Push => "an output".to_owned(),
    };
    let outcome = tokio::time::timeout(HANDSHAKE_TIMEOUT, zmtp::handshake(stream, ours)).await;
    let reason = match outcome {
        Ok(Ok(())) => return true,
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no greeting within {HANDSHAKE_TIMEOUT:?}"),
    };
    hub.complain("refused connections", 1, || {
        format!("{address}: refused a connection from {peer}: {reason}")
    });
    false
}

/// One producer's connection: its messages to every output, until it closes.
async fn pull_from(hub: Rc<Hub>, mut stream: Box<dyn Stream>, peer: String) {
    if !greet(&hub, &mut *stream, SocketType::Pull, &peer).await {
        return;
    }
    let mut reader = FrameReader::default();
    loop {
        hub.room_to_read().await;
        let n = match stream.read(reader.space()).await {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) => {
                log::debug!(target: "mite.duplicator", "{peer}: {e}");
                return;
            }
        };
        if let Err(e) = reader.filled(n, &mut &*hub) {
            let address = &hub.in_address;
            hub.complain("closed connections", 1, || {
                format!("{address}: closed the connection from {peer}: {e}")
            });
            return;
        }
    }
}

/// One consumer's connection: what its output queues for it, until it closes.
async fn push_to(hub: Rc<Hub>, output: usize, mut stream: Box<dyn Stream>, peer: String) {
    if !greet(&hub, &mut *stream, SocketType::Push, &peer).await {
        return;
    }
    let consumer = Rc::new(Consumer::default());
    let output = &hub.outputs[output];
    output.consumers.borrow_mut().push(consumer.clone());
    let (mut incoming, mut outgoing) = tokio::io::split(stream);
    // A PULL peer sends nothing after its greeting; reading tells when it goes.
    let closed = async {
        let mut scratch = [0u8; 512];
        while let Ok(1..) = incoming.read(&mut scratch).await {}
    };
    let write = async {
        let mut spare = Vec::new();
        loop {
            if consumer.queue.borrow().is_empty() {
                consumer.wake.notified().await;
                continue;
            }
            std::mem::swap(&mut *consumer.queue.borrow_mut(), &mut spare);
            consumer.writing.set(true);
            let written = outgoing.write_all(&spare).await;
            consumer.writing.set(false);
            hub.room.notify_waiters();
            spare.clear();
            // Kept at its size, so the next swap does not fault fresh pages in, unless a
            // frame far larger than usual passed.
            if spare.capacity() > 2 * PEER_QUEUE {
                spare = Vec::new();
            }
            if let Err(e) = written {
                log::debug!(target: "mite.duplicator", "{}: {peer}: {e}", output.address);
                return;
            }
        }
    };
    tokio::select! {
        () = closed => {}
        () = write => {}
    }
    output
        .consumers
        .borrow_mut()
        .retain(|c| !Rc::ptr_eq(c, &consumer));
    let lost = consumer.queue.borrow().len();
    if lost > 0 {
        log::info!(
            target: "mite.duplicator",
            "{}: a consumer ({peer}) went away with {lost} bytes of messages waiting",
            output.address
        );
    }
}

async fn accept(hub: Rc<Hub>, listener: Listener, output: Option<usize>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let hub = hub.clone();
                match output {
                    None => tokio::task::spawn_local(pull_from(hub, stream, peer)),
                    Some(i) => tokio::task::spawn_local(push_to(hub, i, stream, peer)),
                };
            }
            Err(e) => {
                // Out of file descriptors and the like: wait rather than spin.
                log::error!(target: "mite.duplicator", "cannot accept a connection: {e}");
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        }
    }
}

/// `mite duplicator`: every frame from `in_address` to each of `out_addresses` (all bound),
/// until a stop signal; what consumers have waiting is written for up to [`LINGER`] first.
pub fn run_duplicator(
    in_address: &str,
    out_addresses: &[String],
    signals: &StopSignals,
) -> Result<StoppedBy, ComponentError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ComponentError::Runtime)?;
    let tasks = tokio::task::LocalSet::new();
    tasks.block_on(&runtime, async {
        let input = Listener::bind(in_address)?;
        let outputs = out_addresses
            .iter()
            .map(|address| Listener::bind(address))
            .collect::<Result<Vec<_>, _>>()?;
        let hub = Rc::new(Hub {
            in_address: in_address.to_owned(),
            outputs: out_addresses
                .iter()
                .map(|address| Output {
                    address: address.clone(),
                    consumers: RefCell::default(),
                    next: Cell::new(0),
                    full_since: Cell::new(None),
                })
                .collect(),
            complaints: RefCell::new(Complaints::new("mite.duplicator")),
            to_dump: Cell::new(0),
            room: Notify::new(),
        });
        tokio::task::spawn_local(accept(hub.clone(), input, None));
        for (i, listener) in outputs.into_iter().enumerate() {
            tokio::task::spawn_local(accept(hub.clone(), listener, Some(i)));
        }
        let mut tick = tokio::time::interval(POLL_INTERVAL);
        let stopped = loop {
            tick.tick().await;
            if signals.take_usr1() {
                hub.to_dump.set(DuplicatorDebug::messages_to_dump());
            }
            if let Some(by) = signals.stopped_by() {
                break by;
            }
        };
        let _ = tokio::time::timeout(LINGER, async {
            while !hub.idle() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        hub.complaints.borrow().log_totals();
        Ok(stopped)
    })
}
