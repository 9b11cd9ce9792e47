//! The `/metrics` endpoint: a small HTTP/1.1 server on its own thread that renders the shared
//! exporter on every scrape. Other paths are 404, other methods 405.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener as StdListener, ToSocketAddrs};
use std::thread::JoinHandle;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::live::SharedExporter;

/// mite's content type for `/metrics`.
pub const CONTENT_TYPE: &str = "text/plain; charset=utf-8";

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{0:?} is not [HOST:]PORT")]
    Address(String),
    #[error("cannot resolve {0}")]
    Resolve(String),
    #[error("cannot listen on {address}: {reason}")]
    Bind { address: String, reason: String },
}

/// `[HOST:]PORT` (`9301`, `0.0.0.0:9301`, `[::1]:9301`); the host defaults to 127.0.0.1.
pub fn parse_listen_address(text: &str) -> Result<(String, u16), ServerError> {
    let bad = || ServerError::Address(text.to_owned());
    let (host, port) = match text.rsplit_once(':') {
        Some((host, port)) => {
            let host = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host);
            if host.is_empty() || host.contains(':') && !text.starts_with('[') {
                return Err(bad());
            }
            (host.to_owned(), port)
        }
        None => ("127.0.0.1".to_owned(), text),
    };
    let port = port.parse::<u16>().map_err(|_| bad())?;
    Ok((host, port))
}

/// A running `/metrics` server; stopped when dropped.
pub struct MetricsServer {
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

fn reason(e: &std::io::Error) -> String {
    // "Address already in use (os error 98)" -> "Address already in use"
    let text = e.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

impl MetricsServer {
    /// Binds `[HOST:]PORT` now (so a busy port is an error before the run starts) and serves
    /// from a thread of its own.
    pub fn start(address: &str, exporter: SharedExporter) -> Result<Self, ServerError> {
        let (host, port) = parse_listen_address(address)?;
        let resolved: Vec<SocketAddr> = (host.as_str(), port)
            .to_socket_addrs()
            .map_err(|_| ServerError::Resolve(host.clone()))?
            .collect();
        let first = resolved
            .first()
            .ok_or_else(|| ServerError::Resolve(host.clone()))?;
        let listener = StdListener::bind(first)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| ServerError::Bind {
                address: address.to_owned(),
                reason: reason(&e),
            })?;
        let bound = listener.local_addr().map_err(|e| ServerError::Bind {
            address: address.to_owned(),
            reason: reason(&e),
        })?;
        let (stop, stopped) = oneshot::channel();
        let bind_error = |e: std::io::Error| ServerError::Bind {
            address: address.to_owned(),
            reason: reason(&e),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(bind_error)?;
        let thread = std::thread::Builder::new()
            .name("mite-metrics".into())
            .spawn(move || runtime.block_on(serve(listener, exporter, stopped)))
            .map_err(bind_error)?;
        Ok(MetricsServer {
            address: bound,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: StdListener,
    exporter: SharedExporter,
    mut stopped: oneshot::Receiver<()>,
) {
    let Ok(listener) = TcpListener::from_std(listener) else {
        return;
    };
    loop {
        let stream = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let exporter = exporter.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let exporter = exporter.clone();
                async move { Ok::<_, Infallible>(respond(&exporter, &request)) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn respond<B>(exporter: &SharedExporter, request: &Request<B>) -> Response<Full<Bytes>> {
    let (status, body) = match (request.method(), request.uri().path()) {
        (&Method::GET | &Method::HEAD, "/metrics") => (StatusCode::OK, exporter.render()),
        (_, "/metrics") => (StatusCode::METHOD_NOT_ALLOWED, String::new()),
        _ => (StatusCode::NOT_FOUND, String::new()),
    };
    Response::builder()
        .status(status)
        .header("content-type", CONTENT_TYPE)
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_default_to_loopback() {
        assert_eq!(
            parse_listen_address("9301").unwrap(),
            ("127.0.0.1".into(), 9301)
        );
        assert_eq!(
            parse_listen_address("0.0.0.0:9").unwrap(),
            ("0.0.0.0".into(), 9)
        );
        assert_eq!(parse_listen_address("[::1]:9").unwrap(), ("::1".into(), 9));
        for bad in ["", "x", ":9", "1:2:3", "host:99999", "host:"] {
            assert!(parse_listen_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serves_the_exporter_text_and_refuses_other_paths() {
        use std::io::{Read, Write};
        let exporter = SharedExporter::new();
        let server = MetricsServer::start("127.0.0.1:0", exporter).unwrap();
        let get = |path: &str| {
            let mut stream = std::net::TcpStream::connect(server.local_addr()).unwrap();
            write!(
                stream,
                "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            let mut text = String::new();
            stream.read_to_string(&mut text).unwrap();
            text
        };
        let metrics = get("/metrics");
        assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
        assert!(metrics.contains("content-type: text/plain; charset=utf-8"));
        assert!(get("/other").starts_with("HTTP/1.1 404"));
    }

    #[test]
    fn a_busy_port_is_one_line() {
        let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = holder.local_addr().unwrap().port();
        let address = format!("127.0.0.1:{port}");
        let err = MetricsServer::start(&address, SharedExporter::new())
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            format!("cannot listen on {address}: Address already in use")
        );
    }
}
