//! `mite demo-app`: the bundled target the examples and benchmarks run against.
//!
//! It serves the API of the data-creation walkthrough (`POST /users/create`, `POST /login`),
//! plus `GET /` and `GET /delay/<ms>` for latency tests and `GET /users` to check what was
//! created. Users live in memory. Built on hyper, so it is fast enough to be a benchmark target.

mod routes;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

pub use routes::Users;

/// Where and how to serve.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    pub host: String,
    pub port: u16,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
}

/// Serves until SIGINT or SIGTERM. `on_listening` gets the bound address (useful with port 0).
pub fn serve(config: &DemoConfig, on_listening: impl FnOnce(SocketAddr)) -> std::io::Result<()> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if config.threads > 0 {
        builder.worker_threads(config.threads);
    }
    let runtime = builder.enable_all().build()?;
    runtime.block_on(async {
        let listener = TcpListener::bind((config.host.as_str(), config.port)).await?;
        on_listening(listener.local_addr()?);
        let users = Arc::new(Users::default());
        let accept = async {
            loop {
                let (stream, _) = match listener.accept().await {
                    Ok(conn) => conn,
                    // Out of file descriptors and the like: keep serving the others.
                    Err(_) => continue,
                };
                let _ = stream.set_nodelay(true);
                let users = users.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let users = users.clone();
                        async move { Ok::<_, Infallible>(routes::handle(&users, request).await) }
                    });
                    let _ = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        };
        tokio::select! {
            () = accept => Ok(()),
            () = shutdown_signal() => Ok(()),
        }
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
}
