//! Opening connections, timing DNS, TCP connect and the TLS handshake so that responses can
//! report curl's phase times.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::proxy::Proxy;

/// The most a proxy's answer to CONNECT may hold before its blank line.
const MAX_CONNECT_RESPONSE: usize = 16 << 10;

/// Where a connection goes: what pools connections.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub secure: bool,
    pub host: Arc<str>,
    pub port: u16,
    /// The runtime whose reactor serves the connection ([`super::runtime::current_tag`]):
    /// a connection is only reused on the runtime that opened it.
    pub runtime: u64,
    /// The proxy the connection goes through (to its own address; a tunnel for https).
    pub proxy: Option<Arc<Proxy>>,
}

/// When each phase of opening a connection finished, and the peer.
#[derive(Debug)]
pub struct ConnectionInfo {
    /// The peer's address as text, for every `http_metrics` on this connection.
    pub primary_ip: Arc<str>,
    pub dns_done: Instant,
    pub connected: Instant,
    pub tls_done: Option<Instant>,
    /// ALPN chose HTTP/2.
    pub h2: bool,
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
    #[error("the proxy {proxy} refused the tunnel to {target}: {answer}")]
    ProxyRefused {
        proxy: String,
        target: String,
        answer: String,
    },
    #[error("the proxy {proxy} failed: {source}")]
    Proxy { proxy: String, source: io::Error },
}

/// Asks `proxy` (connected as `tcp`) for a tunnel to `target`, as curl does for https://
/// URLs: `CONNECT host:port`, then a 2xx answer.
async fn tunnel(tcp: &mut TcpStream, proxy: &Proxy, target: &Target) -> Result<(), ConnectError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = format!("{}:{}", target.host, target.port);
    let proxy_name = format!("{}:{}", proxy.host, proxy.port);
    let failed = |source| ConnectError::Proxy {
        proxy: proxy_name.clone(),
        source,
    };
    let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some(authorization) = &proxy.authorization {
        request.push_str(&format!("Proxy-Authorization: {authorization}\r\n"));
    }
    request.push_str("\r\n");
    tcp.write_all(request.as_bytes()).await.map_err(failed)?;
    // Read the answer byte by byte up to its blank line: what follows is the server's.
    let mut answer = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") {
        if answer.len() >= MAX_CONNECT_RESPONSE {
            return Err(failed(io::Error::other(
                "an answer to CONNECT without its end",
            )));
        }
        match tcp.read(&mut byte).await.map_err(failed)? {
            0 => return Err(failed(io::ErrorKind::UnexpectedEof.into())),
            _ => answer.push(byte[0]),
        }
    }
    let status_line =
        String::from_utf8_lossy(answer.split(|&b| b == b'\r').next().unwrap_or(&[])).into_owned();
    let code = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok());
    match code {
        Some(200..=299) => Ok(()),
        _ => Err(ConnectError::ProxyRefused {
            proxy: proxy_name,
            target: authority,
            answer: status_line,
        }),
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

/// Opens a connection (TLS for https) and records when each phase finished.
pub async fn connect(
    target: &Target,
    tls: &TlsConnector,
) -> Result<(RawStream, ConnectionInfo), ConnectError> {
    // Through a proxy, the times and the address are the proxy's, as curl reports them.
    let (host, port) = match &target.proxy {
        Some(proxy) => (&proxy.host, proxy.port),
        None => (&target.host, target.port),
    };
    let addr = resolve(host, port).await?;
    let dns_done = Instant::now();
    let mut tcp = TcpStream::connect(addr)
        .await
        .map_err(|source| ConnectError::Connect { addr, source })?;
    let _ = tcp.set_nodelay(true);
    let connected = Instant::now();
    let primary_ip: Arc<str> = Arc::from(addr.ip().to_string());
    if !target.secure {
        let info = ConnectionInfo {
            primary_ip,
            dns_done,
            connected,
            tls_done: None,
            h2: false,
        };
        return Ok((RawStream::Plain(tcp), info));
    }
    if let Some(proxy) = &target.proxy {
        tunnel(&mut tcp, proxy, target).await?;
    }
    let bare = target.host.trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(bare.to_owned())
        .map_err(|e| ConnectError::InvalidUri(format!("{}: {e}", target.host)))?;
    let stream = tls
        .connect(name, tcp)
        .await
        .map_err(|source| ConnectError::Tls {
            host: target.host.to_string(),
            source,
        })?;
    let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
    let info = ConnectionInfo {
        primary_ip,
        dns_done,
        connected,
        tls_done: Some(Instant::now()),
        h2,
    };
    Ok((RawStream::Tls(Box::new(stream)), info))
}

/// A plain or TLS connection.
pub enum RawStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl RawStream {
    /// Waits until a read would find data (or the end of the stream), so that a caller can
    /// take memory for it only then. A TLS stream may hold decrypted data already: it is
    /// always "ready" and its reads wait instead.
    pub async fn readable(&self) -> io::Result<()> {
        match self {
            RawStream::Plain(io) => io.readable().await,
            RawStream::Tls(_) => Ok(()),
        }
    }
}

impl AsyncRead for RawStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            RawStream::Plain(io) => Pin::new(io).poll_read(cx, buf),
            RawStream::Tls(io) => Pin::new(io.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for RawStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            RawStream::Plain(io) => Pin::new(io).poll_write(cx, buf),
            RawStream::Tls(io) => Pin::new(io.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            RawStream::Plain(io) => Pin::new(io).poll_flush(cx),
            RawStream::Tls(io) => Pin::new(io.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            RawStream::Plain(io) => Pin::new(io).poll_shutdown(cx),
            RawStream::Tls(io) => Pin::new(io.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            RawStream::Plain(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            RawStream::Tls(io) => Pin::new(io.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            RawStream::Plain(io) => io.is_write_vectored(),
            RawStream::Tls(io) => io.is_write_vectored(),
        }
    }
}
