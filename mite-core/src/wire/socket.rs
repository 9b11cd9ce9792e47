//! The two socket kinds the message plane uses: an [`Inbox`] (PULL) that hands out one
//! whole frame at a time, and an [`Outbox`] (PUSH).

use super::complaints::Complaints;
use super::endpoint::{check_endpoint, EndpointError};
use super::POLL_INTERVAL;

/// Frames above this size are skipped (mite's messages are a few hundred bytes; a stats
/// dump of a big test a few megabytes).
pub const MAX_FRAME: usize = 256 << 20;
/// Frames an outbox holds for a peer that is away or slow before sends wait (or fail, without
/// waiting). libzmq's default is 1,000, which a runner or duplicator at mite-rs's rates fills
/// in a few milliseconds of a consumer's pause.
const SEND_QUEUE: i32 = 100_000;
/// How long a closing outbox keeps trying to deliver what it has queued.
const LINGER_MS: i32 = 2_000;

#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    #[error("cannot bind {address}: {source}")]
    Bind { address: String, source: zmq::Error },
    #[error("cannot connect to {address}: {source}")]
    Connect { address: String, source: zmq::Error },
    #[error("{address}: {source}")]
    Io { address: String, source: zmq::Error },
}

/// Whether a socket binds its address or connects to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attach {
    Bind,
    Connect,
}

fn open(
    context: &zmq::Context,
    kind: zmq::SocketType,
    address: &str,
    attach: Attach,
) -> Result<zmq::Socket, SocketError> {
    check_endpoint(address)?;
    let io = |source| SocketError::Io {
        address: address.to_owned(),
        source,
    };
    let socket = context.socket(kind).map_err(io)?;
    socket.set_linger(LINGER_MS).map_err(io)?;
    // Before bind/connect: libzmq applies the limit to connections made afterwards.
    if kind == zmq::PUSH {
        socket.set_sndhwm(SEND_QUEUE).map_err(io)?;
    }
    match attach {
        Attach::Bind => socket.bind(address).map_err(|source| SocketError::Bind {
            address: address.to_owned(),
            source,
        })?,
        Attach::Connect => socket
            .connect(address)
            .map_err(|source| SocketError::Connect {
                address: address.to_owned(),
                source,
            })?,
    }
    Ok(socket)
}

/// What [`Inbox::recv`] got.
pub enum Received<'a> {
    Frame(&'a [u8]),
    /// Nothing within [`POLL_INTERVAL`], a signal, or a frame that was skipped.
    Nothing,
}

/// A PULL socket.
pub struct Inbox {
    socket: zmq::Socket,
    frame: zmq::Message,
    address: String,
    complaints: Complaints,
}

impl Inbox {
    pub fn open(
        context: &zmq::Context,
        address: &str,
        attach: Attach,
        target: &'static str,
    ) -> Result<Self, SocketError> {
        let socket = open(context, zmq::PULL, address, attach)?;
        let timeout = POLL_INTERVAL.as_millis() as i32;
        socket
            .set_rcvtimeo(timeout)
            .map_err(|source| SocketError::Io {
                address: address.to_owned(),
                source,
            })?;
        Ok(Inbox {
            socket,
            frame: zmq::Message::new(),
            address: address.to_owned(),
            complaints: Complaints::new(target),
        })
    }

    /// The next whole single-part frame, or [`Received::Nothing`] after [`POLL_INTERVAL`].
    pub fn recv(&mut self) -> Result<Received<'_>, SocketError> {
        self.receive(0)
    }

    /// The next frame if one is waiting, without waiting.
    pub fn try_recv(&mut self) -> Result<Received<'_>, SocketError> {
        self.receive(zmq::DONTWAIT)
    }

    /// For waiting on this socket together with others (`zmq::poll`).
    pub fn poll_item(&self) -> zmq::PollItem<'_> {
        self.socket.as_poll_item(zmq::POLLIN)
    }

    fn receive(&mut self, flags: i32) -> Result<Received<'_>, SocketError> {
        match self.socket.recv(&mut self.frame, flags) {
            Ok(()) => {}
            Err(zmq::Error::EAGAIN | zmq::Error::EINTR) => return Ok(Received::Nothing),
            Err(source) => {
                return Err(SocketError::Io {
                    address: self.address.clone(),
                    source,
                })
            }
        }
        if self.frame.get_more() {
            let mut parts = 1;
            let mut rest = zmq::Message::new();
            while self.socket.get_rcvmore().unwrap_or(false) {
                if self.socket.recv(&mut rest, 0).is_err() {
                    break;
                }
                parts += 1;
            }
            let address = &self.address;
            self.complaints.note("multi-part messages", || {
                format!("{address}: skipped a message of {parts} parts (mite sends one)")
            });
            return Ok(Received::Nothing);
        }
        if self.frame.len() > MAX_FRAME {
            let (address, len) = (&self.address, self.frame.len());
            self.complaints.note("oversized messages", || {
                format!("{address}: skipped a message of {len} bytes (the limit is {MAX_FRAME})")
            });
            return Ok(Received::Nothing);
        }
        Ok(Received::Frame(&self.frame))
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn complaints(&self) -> &Complaints {
        &self.complaints
    }
}

/// A PUSH socket.
pub struct Outbox {
    socket: zmq::Socket,
    address: String,
}

impl Outbox {
    pub fn open(
        context: &zmq::Context,
        address: &str,
        attach: Attach,
    ) -> Result<Self, SocketError> {
        let socket = open(context, zmq::PUSH, address, attach)?;
        let timeout = POLL_INTERVAL.as_millis() as i32;
        socket
            .set_sndtimeo(timeout)
            .map_err(|source| SocketError::Io {
                address: address.to_owned(),
                source,
            })?;
        Ok(Outbox {
            socket,
            address: address.to_owned(),
        })
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// Queues `frame`, waiting while the peer's queue is full for as long as `keep_going`
    /// says (checked every [`POLL_INTERVAL`]); false if it was not queued.
    pub fn send(
        &self,
        frame: &[u8],
        mut keep_going: impl FnMut() -> bool,
    ) -> Result<bool, SocketError> {
        loop {
            match self.socket.send(frame, 0) {
                Ok(()) => return Ok(true),
                Err(zmq::Error::EAGAIN | zmq::Error::EINTR) if keep_going() => continue,
                Err(zmq::Error::EAGAIN | zmq::Error::EINTR) => return Ok(false),
                Err(source) => {
                    return Err(SocketError::Io {
                        address: self.address.clone(),
                        source,
                    })
                }
            }
        }
    }
}
