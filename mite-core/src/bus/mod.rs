//! The in-process message bus: journeys (on the loop thread) hand messages over a channel to
//! one consumer thread that runs the Rust message processors (console stats, recorder,
//! collector, logging) without the GIL.
//!
//! The consumer polls instead of being woken per message: a send is a lock-free push with no
//! syscall, and the consumer takes whatever accumulated every couple of milliseconds.

pub mod processors;

use std::any::Any;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TryRecvError};

use crate::clock::unix_time;
use crate::messages::Message;

/// A consumer of bus messages, run on the bus thread.
pub trait Processor: Send {
    /// Handles one message. `raw` is its msgpack encoding when [`Processor::wants_raw`] is
    /// true for any processor (it is encoded once and shared), empty otherwise. `now` is the
    /// epoch time the batch holding the message is processed at.
    fn process(&mut self, msg: &Message, raw: &[u8], now: f64);

    /// Whether this processor reads the msgpack encoding.
    fn wants_raw(&self) -> bool {
        false
    }

    /// Called when the queue is empty (about every couple of milliseconds while idle), with
    /// the current epoch time: for work that is due by the clock rather than by a message.
    fn idle(&mut self, _now: f64) {}

    /// Called once after the last message: flush files, print what is pending.
    fn finish(&mut self) {}

    /// For getting a concrete processor (e.g. the console stats) back after the run.
    fn as_any(&self) -> &dyn Any;
}

enum Item {
    Message(Message),
    /// A message with the msgpack it arrived as (from another process): processors that
    /// read the encoding get those bytes, unchanged.
    Encoded(Message, Vec<u8>),
    Stop,
}

/// The sending side: cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct BusSender(Sender<Item>);

impl BusSender {
    /// Queues a message; silently dropped once the bus has stopped.
    pub fn send(&self, msg: Message) {
        let _ = self.0.send(Item::Message(msg));
    }

    /// Queues a message decoded from `raw`, which processors reading the encoding get.
    pub fn send_encoded(&self, msg: Message, raw: Vec<u8>) {
        let _ = self.0.send(Item::Encoded(msg, raw));
    }
}

/// A running bus: its consumer thread and the processors it feeds.
pub struct Bus {
    sender: BusSender,
    thread: Option<JoinHandle<Vec<Box<dyn Processor>>>>,
}

const IDLE_SLEEP: Duration = Duration::from_millis(2);

impl Bus {
    /// Starts the consumer thread with processors run in the given order.
    pub fn start(processors: Vec<Box<dyn Processor>>) -> std::io::Result<Self> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("mite-bus".into())
            .spawn(move || consume(rx, processors))?;
        Ok(Bus {
            sender: BusSender(tx),
            thread: Some(thread),
        })
    }

    pub fn sender(&self) -> BusSender {
        self.sender.clone()
    }

    /// Delivers everything queued so far, finishes the processors and returns them.
    pub fn stop(mut self) -> Vec<Box<dyn Processor>> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Vec<Box<dyn Processor>> {
        let _ = self.sender.0.send(Item::Stop);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(processors)) => processors,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => Vec::new(),
        }
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop_and_join();
        }
    }
}

fn consume(rx: Receiver<Item>, mut processors: Vec<Box<dyn Processor>>) -> Vec<Box<dyn Processor>> {
    let wants_raw = processors.iter().any(|p| p.wants_raw());
    let mut raw = Vec::with_capacity(1024);
    // The clock is read once per batch (and every so many messages), not per message.
    let mut now = unix_time();
    let mut since_clock = 0u32;
    loop {
        let item = rx.try_recv();
        if let Ok(Item::Message(_) | Item::Encoded(..)) = &item {
            since_clock += 1;
            if since_clock == 1024 {
                since_clock = 0;
                now = unix_time();
            }
        }
        match item {
            Ok(Item::Message(msg)) => {
                raw.clear();
                if wants_raw {
                    msg.encode(&mut raw);
                }
                for processor in processors.iter_mut() {
                    processor.process(&msg, &raw, now);
                }
            }
            Ok(Item::Encoded(msg, encoded)) => {
                let encoded: &[u8] = if wants_raw { &encoded } else { &[] };
                for processor in processors.iter_mut() {
                    processor.process(&msg, encoded, now);
                }
            }
            Ok(Item::Stop) | Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {
                std::thread::sleep(IDLE_SLEEP);
                now = unix_time();
                since_clock = 0;
                for processor in processors.iter_mut() {
                    processor.idle(now);
                }
            }
        }
    }
    for processor in processors.iter_mut() {
        processor.finish();
    }
    processors
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::messages::{decode_stream, Value};

    /// Each message's type and msgpack bytes, as the processor saw them.
    type Seen = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

    struct Recording {
        seen: Seen,
        finished: Arc<Mutex<bool>>,
    }

    impl Processor for Recording {
        fn process(&mut self, msg: &Message, raw: &[u8], _now: f64) {
            self.seen
                .lock()
                .unwrap()
                .push((msg.kind.to_string(), raw.to_vec()));
        }
        fn wants_raw(&self) -> bool {
            true
        }
        fn finish(&mut self) {
            *self.finished.lock().unwrap() = true;
        }
        fn as_any(&self) -> &dyn Any {
            self
        }
    }

    #[test]
    fn every_message_queued_before_stop_is_processed_in_order_then_finished() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let finished = Arc::new(Mutex::new(false));
        let bus = Bus::start(vec![Box::new(Recording {
            seen: seen.clone(),
            finished: finished.clone(),
        })])
        .unwrap();
        let sender = bus.sender();
        for i in 0..1000 {
            sender.send(Message::bare(Arc::from(format!("m{i}")), 1.0));
        }
        let processors = bus.stop();
        assert_eq!(processors.len(), 1);
        assert!(*finished.lock().unwrap());
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1000);
        assert_eq!(seen[999].0, "m999");
        let decoded = decode_stream(&seen[0].1).unwrap();
        assert_eq!(decoded[0].get("type"), Some(&Value::str("m0")));
    }

    #[test]
    fn a_message_sent_with_its_encoding_reaches_processors_as_those_bytes() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let bus = Bus::start(vec![Box::new(Recording {
            seen: seen.clone(),
            finished: Arc::new(Mutex::new(false)),
        })])
        .unwrap();
        // Bytes no encoder of ours would write (a key order of another runner).
        let wire = vec![0x81, 0xa4, b't', b'y', b'p', b'e', 0xa1, b'x'];
        bus.sender()
            .send_encoded(Message::bare(Arc::from("x"), 1.0), wire.clone());
        bus.sender().send(Message::bare(Arc::from("y"), 1.0));
        bus.stop();
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0], ("x".to_owned(), wire));
        assert_eq!(seen[1].0, "y");
        assert_ne!(seen[1].1, seen[0].1);
    }
}
