//! The start of a ZMTP 3.0 connection with the NULL mechanism: both sides send a 64-byte
//! greeting and a READY command naming their socket type, and each checks the other's.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{Header, COMMAND};

const GREETING_LEN: usize = 64;
/// Version 3.0: libzmq 4 peers then speak 3.0 to us (no heartbeats unless asked for).
const VERSION: [u8; 2] = [3, 0];

/// The socket types the message plane's connections use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketType {
    Push,
    Pull,
}

impl SocketType {
    fn name(self) -> &'static str {
        match self {
            SocketType::Push => "PUSH",
            SocketType::Pull => "PULL",
        }
    }

    /// The only type a peer of this type may have (spec 30: PUSH talks to PULL).
    fn peer(self) -> SocketType {
        match self {
            SocketType::Push => SocketType::Pull,
            SocketType::Pull => SocketType::Push,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the peer does not speak ZMTP (its first bytes are not a ZMTP 3 greeting)")]
    NotZmtp,
    #[error("the peer speaks ZMTP {0}.x; libzmq 4 or later (ZMTP 3) is needed")]
    OldVersion(u8),
    #[error("the peer asks for the {0} security mechanism; only NULL is supported")]
    Mechanism(String),
    #[error("the peer's first command is {0:?}, not READY")]
    NotReady(String),
    #[error("the peer refused the connection: {0}")]
    Refused(String),
    #[error("the peer is a {found} socket; a {ours} socket takes only {wanted} peers")]
    SocketType {
        found: String,
        ours: &'static str,
        wanted: &'static str,
    },
    #[error("the peer's READY command is malformed")]
    Malformed,
}

fn greeting() -> [u8; GREETING_LEN] {
    let mut bytes = [0u8; GREETING_LEN];
    bytes[0] = 0xFF;
    bytes[9] = 0x7F;
    bytes[10..12].copy_from_slice(&VERSION);
    bytes[12..16].copy_from_slice(b"NULL");
    bytes
}

fn check_greeting(bytes: &[u8; GREETING_LEN]) -> Result<(), HandshakeError> {
    if bytes[0] != 0xFF || bytes[9] & 0x01 != 0x01 {
        return Err(HandshakeError::NotZmtp);
    }
    if bytes[10] < 3 {
        return Err(HandshakeError::OldVersion(bytes[10]));
    }
    let mechanism = &bytes[12..32];
    let name_len = mechanism.iter().position(|&b| b == 0).unwrap_or(20);
    let name = String::from_utf8_lossy(&mechanism[..name_len]);
    if name != "NULL" {
        return Err(HandshakeError::Mechanism(name.into_owned()));
    }
    Ok(())
}

/// A command frame: its name's length, its name, then its data.
fn command(name: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Header::write(COMMAND, 1 + name.len() + data.len(), &mut out);
    out.push(name.len() as u8);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(data);
    out
}

fn ready(ours: SocketType) -> Vec<u8> {
    let (key, value) = ("Socket-Type", ours.name());
    let mut data = vec![key.len() as u8];
    data.extend_from_slice(key.as_bytes());
    data.extend_from_slice(&(value.len() as u32).to_be_bytes());
    data.extend_from_slice(value.as_bytes());
    command("READY", &data)
}

/// A command body's name and data.
fn split_command(body: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&len, rest) = body.split_first()?;
    (rest.len() >= len as usize).then(|| rest.split_at(len as usize))
}

/// READY's metadata: `(name, value)` pairs, each name one length byte, each value four.
fn properties(mut data: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (name, rest) = split_command(data)?;
        let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let value = rest.get(4..4 + len)?;
        out.push((name, value));
        data = &rest[4 + len..];
    }
    Some(out)
}

async fn read_command<S: AsyncRead + Unpin + ?Sized>(
    stream: &mut S,
) -> Result<Vec<u8>, HandshakeError> {
    let mut header = [0u8; 9];
    stream.read_exact(&mut header[..2]).await?;
    let parsed = match Header::parse(&header[..2]) {
        Ok(Some(h)) => h,
        Ok(None) => {
            stream.read_exact(&mut header[2..]).await?;
            Header::parse(&header)
                .map_err(|_| HandshakeError::Malformed)?
                .ok_or(HandshakeError::Malformed)?
        }
        Err(_) => return Err(HandshakeError::Malformed),
    };
    if parsed.flags & COMMAND == 0 {
        return Err(HandshakeError::NotReady("a message".into()));
    }
    let mut body = vec![0u8; parsed.size as usize];
    stream.read_exact(&mut body).await?;
    Ok(body)
}

/// Greets the peer as a socket of type `ours` and checks its greeting and READY; after
/// this, the stream carries frames.
pub async fn handshake<S: AsyncRead + AsyncWrite + Unpin + ?Sized>(
    stream: &mut S,
    ours: SocketType,
) -> Result<(), HandshakeError> {
    let mut hello = greeting().to_vec();
    hello.extend(ready(ours));
    stream.write_all(&hello).await?;
    let mut theirs = [0u8; GREETING_LEN];
    stream.read_exact(&mut theirs).await?;
    check_greeting(&theirs)?;
    let body = read_command(stream).await?;
    let (name, data) = split_command(&body).ok_or(HandshakeError::Malformed)?;
    match name {
        b"READY" => {}
        b"ERROR" => {
            let reason = split_command(data).map_or(&b""[..], |(reason, _)| reason);
            return Err(HandshakeError::Refused(
                String::from_utf8_lossy(reason).into_owned(),
            ));
        }
        other => {
            return Err(HandshakeError::NotReady(
                String::from_utf8_lossy(other).into_owned(),
            ))
        }
    }
    let properties = properties(data).ok_or(HandshakeError::Malformed)?;
    let found = properties
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(b"Socket-Type"))
        .map(|(_, value)| String::from_utf8_lossy(value).into_owned())
        .ok_or(HandshakeError::Malformed)?;
    let wanted = ours.peer().name();
    if found != wanted {
        return Err(HandshakeError::SocketType {
            found,
            ours: ours.name(),
            wanted,
        });
    }
    Ok(())
}

#[cfg(test)]
pub(super) fn peer_hello(kind: &str) -> Vec<u8> {
    let mut out = greeting().to_vec();
    let mut data = vec![11u8];
    data.extend_from_slice(b"Socket-Type");
    data.extend_from_slice(&(kind.len() as u32).to_be_bytes());
    data.extend_from_slice(kind.as_bytes());
    out.extend(command("READY", &data));
    out
}
