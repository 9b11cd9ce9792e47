//! The bus processor of a distributed runner: every message, msgpack-encoded once by the bus,
//! pushed to `--message-socket` (mite's `Sender`).

use std::any::Any;
use std::time::Instant;

use super::io_threads::with_batch_io_threads;
use super::socket::{Attach, Outbox, SocketError};
use crate::bus::Processor;

pub struct Forwarder {
    // Dropped before the context (fields drop in order): libzmq waits for open sockets.
    outbox: Outbox,
    _context: zmq::Context,
    /// When sends last had to wait, to warn once per stall rather than per message.
    stalled_since: Option<Instant>,
}

impl Forwarder {
    pub fn connect(address: &str) -> Result<Self, SocketError> {
        let context = zmq::Context::new();
        // The runner's loop, its bus thread and this socket's I/O thread share a CPU when
        // runners are pinned one per core: the I/O thread runs when the bus thread pauses.
        let outbox = with_batch_io_threads(|| Outbox::open(&context, address, Attach::Connect))?;
        Ok(Forwarder {
            outbox,
            _context: context,
            stalled_since: None,
        })
    }
}

impl Processor for Forwarder {
    fn process(&mut self, _msg: &crate::messages::Message, raw: &[u8], _now: f64) {
        // Waits while the queue is full, as mite's blocking send does: messages are never
        // dropped here; the warning says the consumer is not keeping up.
        let mut waited = false;
        let sent = self.outbox.send(raw, || {
            if !waited {
                waited = true;
                if self.stalled_since.is_none() {
                    log::warn!(
                        target: "mite.runner",
                        "messages are waiting for {} (is the duplicator running?)",
                        self.outbox.address()
                    );
                }
            }
            true
        });
        if let Err(e) = sent {
            log::error!(target: "mite.runner", "cannot send a message: {e}");
        }
        self.stalled_since = if waited { Some(Instant::now()) } else { None };
    }

    fn wants_raw(&self) -> bool {
        true
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
