//! Reading a connection's frames in large buffers: runs of whole single-part messages are
//! handed on as the bytes they arrived in (headers and all), so forwarding them is one copy
//! per run, not one operation per message.

use super::{Header, ProtocolError, COMMAND, MORE};
use crate::wire::MAX_FRAME;

/// How much a reader asks the kernel for at once (it grows to hold one larger frame).
const READ_CHUNK: usize = 256 << 10;

/// A frame that was read and dropped rather than handed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skipped {
    /// A message of several parts (mite's messages are one frame).
    Parts(u64),
    /// A frame over [`MAX_FRAME`] bytes, skipped without being held.
    Oversized(u64),
}

/// What a [`FrameReader`] finds.
pub trait FrameSink {
    /// `frames` holds `count` whole single-part messages, headers included, in order.
    fn messages(&mut self, frames: &[u8], count: u64);
    /// Whether [`FrameSink::body`] should see each message's body as well.
    fn wants_bodies(&self) -> bool {
        false
    }
    fn body(&mut self, _body: &[u8]) {}
    fn skipped(&mut self, _skipped: Skipped) {}
    /// A command frame's body (its name first) between messages.
    fn command(&mut self, _body: &[u8]) {}
}

/// One connection's read buffer and where it is in the frame stream.
pub struct FrameReader {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Bytes of the current frame still to drop.
    skip: u64,
    /// What to report once they are dropped.
    skipped: Option<Skipped>,
    /// Parts seen so far of a multi-part message being dropped.
    parts: u64,
    /// The buffered bytes the next frame needs before it can be handed on.
    need: usize,
}

impl Default for FrameReader {
    fn default() -> Self {
        FrameReader {
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
            skip: 0,
            skipped: None,
            parts: 0,
            need: 0,
        }
    }
}

impl FrameReader {
    /// Room for the next read, made by moving the unread tail to the front and, for a frame
    /// larger than the buffer, growing it (and shrinking it again once such a frame is gone).
    pub fn space(&mut self) -> &mut [u8] {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        }
        let wanted = self.need.max(READ_CHUNK);
        let shrink = self.buf.len() > READ_CHUNK
            && wanted == READ_CHUNK
            && self.end - self.start <= READ_CHUNK / 2;
        if shrink
            || self.buf.len() - self.start < wanted
            || self.buf.len() - self.end < READ_CHUNK / 4
        {
            self.buf.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        if shrink {
            self.buf.truncate(READ_CHUNK);
            self.buf.shrink_to_fit();
        } else if self.buf.len() < wanted {
            self.buf.resize(wanted, 0);
        }
        &mut self.buf[self.end..]
    }

    /// Takes `n` bytes just read into [`FrameReader::space`] and hands `sink` everything that
    /// is now whole.
    pub fn filled(&mut self, n: usize, sink: &mut impl FrameSink) -> Result<(), ProtocolError> {
        self.end += n;
        let result = self.walk(sink);
        if self.skip == 0 && self.start == self.end {
            self.need = 0;
        }
        result
    }

    fn walk(&mut self, sink: &mut impl FrameSink) -> Result<(), ProtocolError> {
        let mut pos = self.start;
        // The run of whole messages not yet handed on: where it starts, how many.
        let mut run = (pos, 0u64);
        let result = loop {
            if self.skip > 0 {
                let n = self.skip.min((self.end - pos) as u64);
                pos += n as usize;
                self.skip -= n;
                // Nothing is in the run while a frame is dropped: it starts after it.
                run = (pos, 0);
                if self.skip > 0 {
                    break Ok(());
                }
            }
            if let Some(skipped) = self.skipped.take() {
                sink.skipped(skipped);
            }
            let header = match Header::parse(&self.buf[pos..self.end]) {
                Ok(Some(header)) => header,
                Ok(None) => {
                    self.need = 9;
                    break Ok(());
                }
                Err(e) => break Err(e),
            };
            let available = (self.end - pos) as u64;
            let total = header.len as u64 + header.size;
            let dropped = if header.flags & COMMAND != 0 {
                if available < total {
                    self.need = total as usize;
                    break Ok(());
                }
                hand_on(sink, &self.buf, run, pos);
                sink.command(&self.buf[pos + header.len..pos + total as usize]);
                pos += total as usize;
                run = (pos, 0);
                continue;
            } else if self.parts > 0 || header.flags & MORE != 0 {
                self.parts += 1;
                (header.flags & MORE == 0).then(|| Skipped::Parts(std::mem::take(&mut self.parts)))
            } else if header.size > MAX_FRAME as u64 {
                Some(Skipped::Oversized(header.size))
            } else {
                if available < total {
                    self.need = total as usize;
                    break Ok(());
                }
                if sink.wants_bodies() {
                    sink.body(&self.buf[pos + header.len..pos + total as usize]);
                }
                pos += total as usize;
                run.1 += 1;
                continue;
            };
            // A frame to drop: its body is skipped as it arrives, never held whole.
            hand_on(sink, &self.buf, run, pos);
            self.skipped = dropped;
            pos += header.len;
            self.skip = header.size;
            run = (pos, 0);
        };
        hand_on(sink, &self.buf, run, pos);
        self.start = pos;
        result
    }
}

/// Hands `sink` the run of whole messages from `run.0` to `end`, if it holds any.
fn hand_on(sink: &mut impl FrameSink, buf: &[u8], run: (usize, u64), end: usize) {
    if run.1 > 0 {
        sink.messages(&buf[run.0..end], run.1);
    }
}

/// Appends `body` as a single-part message frame (bench peers and tests).
pub fn encode_message(body: &[u8], out: &mut Vec<u8>) {
    Header::write(0, body.len(), out);
    out.extend_from_slice(body);
}
