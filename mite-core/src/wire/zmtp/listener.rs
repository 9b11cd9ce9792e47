//! Bound addresses as libzmq reads them (`tcp://HOST:PORT`, `tcp://*:PORT`, `ipc://PATH`,
//! `ipc://@NAME` for Linux's abstract names), listened on with tokio.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};

/// A connection's byte stream, whichever transport carries it.
pub trait Stream: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> Stream for T {}

#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("cannot bind {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error(
        "cannot bind {0}: only tcp:// and ipc:// addresses can be bound by another process's peers"
    )]
    Transport(String),
    #[error("cannot bind {0}: the host does not resolve to an address")]
    Host(String),
}

pub enum Listener {
    Tcp(TcpListener),
    /// The path is removed when the listener goes, as libzmq does (`None`: an abstract name).
    Unix(UnixListener, Option<PathBuf>),
}

fn tcp_address(address: &str, rest: &str) -> Result<SocketAddr, ListenError> {
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| ListenError::Host(address.to_owned()))?;
    let port = if port == "*" {
        0
    } else {
        port.parse::<u16>()
            .map_err(|_| ListenError::Host(address.to_owned()))?
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = if host == "*" { "0.0.0.0" } else { host };
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut all| all.next())
        .ok_or_else(|| ListenError::Host(address.to_owned()))
}

impl Listener {
    /// Binds `address` (checked already by [`crate::wire::check_endpoint`]).
    pub fn bind(address: &str) -> Result<Listener, ListenError> {
        let bind = |source| ListenError::Bind {
            address: address.to_owned(),
            source,
        };
        match address.split_once("://") {
            Some(("tcp", rest)) => {
                let socket_address = tcp_address(address, rest)?;
                let std = std::net::TcpListener::bind(socket_address).map_err(bind)?;
                std.set_nonblocking(true).map_err(bind)?;
                Ok(Listener::Tcp(TcpListener::from_std(std).map_err(bind)?))
            }
            Some(("ipc", rest)) => {
                if let Some(name) = rest.strip_prefix('@') {
                    let std = abstract_listener(name).map_err(bind)?;
                    return Ok(Listener::Unix(
                        UnixListener::from_std(std).map_err(bind)?,
                        None,
                    ));
                }
                // A socket file left by an earlier run is replaced, as libzmq does.
                let _ = std::fs::remove_file(rest);
                let listener = UnixListener::bind(rest).map_err(bind)?;
                Ok(Listener::Unix(listener, Some(PathBuf::from(rest))))
            }
            _ => Err(ListenError::Transport(address.to_owned())),
        }
    }

    /// The next connection and a name for it in logs.
    pub async fn accept(&self) -> std::io::Result<(Box<dyn Stream>, String)> {
        match self {
            Listener::Tcp(listener) => {
                let (stream, peer) = listener.accept().await?;
                // libzmq sets it on its connections: batches are large, single messages
                // should not wait.
                stream.set_nodelay(true)?;
                Ok((Box::new(stream), peer.to_string()))
            }
            Listener::Unix(listener, _) => {
                let (stream, _) = listener.accept().await?;
                Ok((Box::new(stream), "a local peer".to_owned()))
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix(_, Some(path)) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(target_os = "linux")]
fn abstract_listener(name: &str) -> std::io::Result<std::os::unix::net::UnixListener> {
    use std::os::linux::net::SocketAddrExt;
    let address = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    let listener = std::os::unix::net::UnixListener::bind_addr(&address)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

#[cfg(not(target_os = "linux"))]
fn abstract_listener(_name: &str) -> std::io::Result<std::os::unix::net::UnixListener> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "abstract socket names are Linux's",
    ))
}
