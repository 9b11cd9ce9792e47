//! ZMTP 3.0 (rfc.zeromq.org/spec/23), as much of it as a PULL or PUSH peer with the NULL
//! mechanism needs: the greeting, the READY command, and frame headers. It lets the
//! duplicator move frames between libzmq peers in large buffers, walking only the headers,
//! where libzmq's own sockets would copy and hand over each message.

mod frames;
mod handshake;
mod listener;

pub use frames::{encode_message, FrameReader, FrameSink, Skipped};
pub use handshake::{handshake, HandshakeError, SocketType};
pub use listener::{ListenError, Listener, Stream};

/// A frame header's flag bits (spec 23, "Framing").
pub const MORE: u8 = 0x01;
pub const LONG: u8 = 0x02;
pub const COMMAND: u8 = 0x04;
/// The rest are reserved and must be zero.
const RESERVED: u8 = !(MORE | LONG | COMMAND);

/// Commands are small (READY, ERROR, PING); a longer one is a peer speaking something else.
const MAX_COMMAND: u64 = 64 << 10;

/// Why a connection's byte stream cannot be read as ZMTP frames.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtocolError {
    #[error("a frame header has reserved flag bits set ({0:#04x})")]
    Reserved(u8),
    #[error("a command frame of {0} bytes (commands are at most {MAX_COMMAND})")]
    LongCommand(u64),
    #[error("a command frame with the MORE flag")]
    CommandWithMore,
}

/// A parsed frame header: its flags, its own length (2 or 9 bytes) and its body's size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub flags: u8,
    pub len: usize,
    pub size: u64,
}

impl Header {
    /// The header at the start of `bytes`, `Ok(None)` while it is incomplete.
    pub fn parse(bytes: &[u8]) -> Result<Option<Header>, ProtocolError> {
        let Some(&flags) = bytes.first() else {
            return Ok(None);
        };
        if flags & RESERVED != 0 {
            return Err(ProtocolError::Reserved(flags));
        }
        if flags & COMMAND != 0 && flags & MORE != 0 {
            return Err(ProtocolError::CommandWithMore);
        }
        let header = if flags & LONG != 0 {
            let Some(size) = bytes.get(1..9) else {
                return Ok(None);
            };
            let size = u64::from_be_bytes(size.try_into().expect("8 bytes"));
            Header {
                flags,
                len: 9,
                size,
            }
        } else {
            let Some(&size) = bytes.get(1) else {
                return Ok(None);
            };
            Header {
                flags,
                len: 2,
                size: size.into(),
            }
        };
        if flags & COMMAND != 0 && header.size > MAX_COMMAND {
            return Err(ProtocolError::LongCommand(header.size));
        }
        Ok(Some(header))
    }

    /// Appends the header of a frame with `flags` (LONG is set here as needed) and `size`.
    pub fn write(flags: u8, size: usize, out: &mut Vec<u8>) {
        match u8::try_from(size) {
            Ok(short) => out.extend_from_slice(&[flags & !LONG, short]),
            Err(_) => {
                out.push(flags | LONG);
                out.extend_from_slice(&(size as u64).to_be_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests;
