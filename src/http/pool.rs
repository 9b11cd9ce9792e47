//! The keep-alive connection pool: idle HTTP/1.1 connections per target (our own lean
//! client, `h1`), one shared HTTP/2 connection per target (hyper). One lock and a `Vec` pop or
//! push per request, and the connection phases are known exactly when a connection is new.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio_rustls::TlsConnector;

use super::connector::{connect, ConnectError, ConnectionInfo, Target};
use super::h1::H1Conn;

pub type RequestBody = Full<Bytes>;

pub enum Sender {
    H1(H1Conn),
    H2(http2::SendRequest<RequestBody>),
}

/// A connection ready for one request.
pub struct Conn {
    pub sender: Sender,
    pub info: Arc<ConnectionInfo>,
    /// Newly opened for this request: its phases belong to this response.
    pub fresh: bool,
}

/// Why no connection could be had.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("HTTP handshake failed: {0}")]
    Handshake(hyper::Error),
}

struct Idle {
    conn: H1Conn,
    info: Arc<ConnectionInfo>,
    since: Instant,
}

#[derive(Default)]
struct Connections {
    http1: HashMap<Target, Vec<Idle>>,
    http2: HashMap<Target, (http2::SendRequest<RequestBody>, Arc<ConnectionInfo>)>,
}

pub struct Pool {
    tls: TlsConnector,
    idle_timeout: Duration,
    connections: Mutex<Connections>,
}

impl Pool {
    pub fn new(tls: TlsConnector, idle_timeout: Duration) -> Self {
        Pool {
            tls,
            idle_timeout,
            connections: Mutex::new(Connections::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connections> {
        self.connections.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An idle connection to `target` if there is a usable one, else a new one.
    pub async fn checkout(&self, target: &Target) -> Result<Conn, PoolError> {
        if let Some(conn) = self.shared_http2(target) {
            return Ok(conn);
        }
        while let Some(idle) = self.pop_idle(target) {
            if idle.since.elapsed() < self.idle_timeout {
                // A server may still have closed it meanwhile: the caller retries a request
                // that got no answer on a reused connection.
                return Ok(Conn {
                    sender: Sender::H1(idle.conn),
                    info: idle.info,
                    fresh: false,
                });
            }
        }
        // Boxed: opening a connection (DNS, TLS, HTTP/2 handshakes) is a large future that
        // would otherwise make every request's future, and every in-flight task, that large.
        Box::pin(self.open(target)).await
    }

    fn shared_http2(&self, target: &Target) -> Option<Conn> {
        let mut connections = self.lock();
        let (sender, info) = connections.http2.get(target)?;
        if sender.is_closed() {
            connections.http2.remove(target);
            return None;
        }
        Some(Conn {
            sender: Sender::H2(sender.clone()),
            info: info.clone(),
            fresh: false,
        })
    }

    fn pop_idle(&self, target: &Target) -> Option<Idle> {
        self.lock().http1.get_mut(target)?.pop()
    }

    /// A new connection to `target`, HTTP/2 if the TLS handshake chose it.
    pub async fn open(&self, target: &Target) -> Result<Conn, PoolError> {
        let (stream, info) = connect(target, &self.tls).await?;
        let info = Arc::new(info);
        let sender = if info.h2 {
            let (sender, connection) = http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .handshake(TokioIo::new(stream))
                .await
                .map_err(PoolError::Handshake)?;
            tokio::spawn(connection);
            self.lock()
                .http2
                .insert(target.clone(), (sender.clone(), info.clone()));
            Sender::H2(sender)
        } else {
            Sender::H1(H1Conn::new(stream))
        };
        Ok(Conn {
            sender,
            info,
            fresh: true,
        })
    }

    /// Returns an HTTP/1.1 connection whose response was read completely (at `now`).
    pub fn checkin(&self, target: &Target, conn: Conn, now: Instant) {
        if let Sender::H1(h1) = conn.sender {
            if !h1.reusable {
                return;
            }
            self.lock()
                .http1
                .entry(target.clone())
                .or_default()
                .push(Idle {
                    conn: h1,
                    info: conn.info,
                    since: now,
                });
        }
    }
}
