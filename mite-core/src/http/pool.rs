//! The keep-alive connection pool: idle HTTP/1.1 connections per target (our own lean
//! client, `h1`), one shared HTTP/2 connection per target (hyper). One lock and a `Vec` pop or
//! push per request, and the connection phases are known exactly when a connection is new.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustc_hash::FxHashMap as HashMap;
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

    /// A connection to `target` the pool already has (looked at `now`), else a new one.
    pub async fn checkout(&self, target: &Target, now: Instant) -> Result<Conn, PoolError> {
        if let Some(conn) = self.reuse(target, now) {
            return Ok(conn);
        }
        // Boxed: opening a connection (DNS, TLS, HTTP/2 handshakes) is a large future that
        // would otherwise make every request's future, and every in-flight task, that large.
        Box::pin(self.open(target)).await
    }

    /// The shared HTTP/2 connection to `target`, or its most recently used idle HTTP/1.1
    /// one that has not been idle too long; one lock either way.
    fn reuse(&self, target: &Target, now: Instant) -> Option<Conn> {
        let mut connections = self.lock();
        if !connections.http2.is_empty() {
            if let Some((sender, info)) = connections.http2.get(target) {
                if !sender.is_closed() {
                    return Some(Conn {
                        sender: Sender::H2(sender.clone()),
                        info: info.clone(),
                        fresh: false,
                    });
                }
                connections.http2.remove(target);
            }
        }
        let idle = connections.http1.get_mut(target)?;
        while let Some(idle) = idle.pop() {
            if now.saturating_duration_since(idle.since) < self.idle_timeout {
                // A server may still have closed it meanwhile: the caller retries a request
                // that got no answer on a reused connection.
                return Some(Conn {
                    sender: Sender::H1(idle.conn),
                    info: idle.info,
                    fresh: false,
                });
            }
        }
        None
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
            let idle = Idle {
                conn: h1,
                info: conn.info,
                since: now,
            };
            let mut connections = self.lock();
            // The target's list usually exists: no clone of the target for the lookup.
            match connections.http1.get_mut(target) {
                Some(list) => list.push(idle),
                None => {
                    connections.http1.insert(target.clone(), vec![idle]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::tls::client_config;

    #[tokio::test]
    async fn idle_connections_are_reused_until_the_idle_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = Target {
            secure: false,
            host: Arc::from("127.0.0.1"),
            port: listener.local_addr().unwrap().port(),
            runtime: 0,
            proxy: None,
        };
        let tls = TlsConnector::from(Arc::new(
            client_config(&crate::http::Verify::Default, None).unwrap(),
        ));
        let pool = Pool::new(tls, Duration::from_secs(60));
        let opened_at = Instant::now();
        let conn = pool.checkout(&target, opened_at).await.unwrap();
        assert!(conn.fresh);
        pool.checkin(&target, conn, opened_at);

        let reused = pool.checkout(&target, opened_at).await.unwrap();
        assert!(!reused.fresh, "an idle connection is reused");
        pool.checkin(&target, reused, opened_at);

        let later = opened_at + Duration::from_secs(61);
        assert!(
            pool.reuse(&target, later).is_none(),
            "a connection idle past the timeout is dropped, not reused"
        );
        assert!(pool.lock().http1.get(&target).is_none_or(Vec::is_empty));
    }
}
