//! A connector that times DNS, TCP connect and the TLS handshake, so responses can report
//! curl's phase times. The times travel with the connection (hyper-util's `Connected::extra`)
//! and are claimed by the first response on it; later responses on a reused connection report
//! zero for those phases, as curl does.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// When each phase of opening a connection finished.
#[derive(Debug)]
pub struct ConnectionInfo {
    pub remote: SocketAddr,
    pub dns_done: Instant,
    pub connected: Instant,
    pub tls_done: Option<Instant>,
    /// Set once the first response on this connection has reported the phases.
    claimed: AtomicBool,
}

impl ConnectionInfo {
    /// The phase instants, for the first response on the connection only.
    pub fn claim(&self) -> Option<(Instant, Instant, Option<Instant>)> {
        if self.claimed.swap(true, Ordering::Relaxed) {
            None
        } else {
            Some((self.dns_done, self.connected, self.tls_done))
        }
    }
}

/// Why a connection could not be opened; the message is shown to the user.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("invalid URL: {0}")]
    InvalidUri(String),
    #[error("DNS lookup of {host} failed: {source}")]
    Dns { host: String, source: io::Error },
    #[error("DNS lookup of {0} found no address")]
    NoAddress(String),
    #[error("connecting to {addr} failed: {source}")]
    Connect { addr: SocketAddr, source: io::Error },
    #[error("TLS handshake with {host} failed: {source}")]
    Tls { host: String, source: io::Error },
}

#[derive(Clone)]
pub struct TimedConnector {
    tls: TlsConnector,
}

impl TimedConnector {
    pub fn new(tls: TlsConnector) -> Self {
        TimedConnector { tls }
    }
}

impl tower_service::Service<Uri> for TimedConnector {
    type Response = TimedStream;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<TimedStream, ConnectError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let tls = self.tls.clone();
        Box::pin(async move { connect(uri, tls).await })
    }
}

async fn resolve(host: &str, port: u16) -> Result<SocketAddr, ConnectError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let mut addrs = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|source| ConnectError::Dns {
            host: bare.to_owned(),
            source,
        })?;
    addrs
        .next()
        .ok_or_else(|| ConnectError::NoAddress(bare.to_owned()))
}

async fn connect(uri: Uri, tls: TlsConnector) -> Result<TimedStream, ConnectError> {
    let host = uri
        .host()
        .ok_or_else(|| ConnectError::InvalidUri(uri.to_string()))?
        .to_owned();
    let secure = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(ConnectError::InvalidUri(uri.to_string())),
    };
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let addr = resolve(&host, port).await?;
    let dns_done = Instant::now();
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|source| ConnectError::Connect { addr, source })?;
    let _ = tcp.set_nodelay(true);
    let connected = Instant::now();
    if !secure {
        return Ok(TimedStream {
            io: Io::Plain(TokioIo::new(tcp)),
            info: Arc::new(ConnectionInfo {
                remote: addr,
                dns_done,
                connected,
                tls_done: None,
                claimed: AtomicBool::new(false),
            }),
            h2: false,
        });
    }
    let name = ServerName::try_from(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
    )
    .map_err(|e| ConnectError::InvalidUri(format!("{host}: {e}")))?;
    let stream = tls
        .connect(name, tcp)
        .await
        .map_err(|source| ConnectError::Tls {
            host: host.clone(),
            source,
        })?;
    let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
    Ok(TimedStream {
        io: Io::Tls(Box::new(TokioIo::new(stream))),
        info: Arc::new(ConnectionInfo {
            remote: addr,
            dns_done,
            connected,
            tls_done: Some(Instant::now()),
            claimed: AtomicBool::new(false),
        }),
        h2,
    })
}

enum Io {
    Plain(TokioIo<TcpStream>),
    Tls(Box<TokioIo<TlsStream<TcpStream>>>),
}

/// A connection (plain or TLS) carrying its phase times.
pub struct TimedStream {
    io: Io,
    info: Arc<ConnectionInfo>,
    h2: bool,
}

impl Connection for TimedStream {
    fn connected(&self) -> Connected {
        let connected = Connected::new().extra(self.info.clone());
        if self.h2 {
            connected.negotiated_h2()
        } else {
            connected
        }
    }
}

impl Read for TimedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(io) => Pin::new(io).poll_read(cx, buf),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_read(cx, buf),
        }
    }
}

impl Write for TimedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(io) => Pin::new(io).poll_write(cx, buf),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(io) => Pin::new(io).poll_flush(cx),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(io) => Pin::new(io).poll_shutdown(cx),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Plain(io) => io.is_write_vectored(),
            Io::Tls(io) => io.is_write_vectored(),
        }
    }
}
