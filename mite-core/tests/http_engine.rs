//! The Rust HTTP engine against in-process servers on 127.0.0.1: HTTP/2 over TLS when the
//! server offers it, certificate verification, connection reuse and its timings.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use mite_core::http::{
    CookieJar, Exchange, HttpClient, HttpClientConfig, HttpErrorKind, RequestSpec, Verify,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;

const CERT: &[u8] = include_bytes!("../../tests/data/selfsigned.crt");
const KEY: &[u8] = include_bytes!("../../tests/data/selfsigned.key");

fn server_tls(alpn: &[&[u8]]) -> Arc<rustls::ServerConfig> {
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &CERT[..])
        .collect::<Result<_, _>>()
        .unwrap();
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut &KEY[..]).unwrap().unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// Serves "hello" over TLS (HTTP/1.1 or HTTP/2, as negotiated); returns the address.
async fn tls_server(alpn: &[&[u8]]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(server_tls(alpn));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let service = service_fn(|_request| async {
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                        b"hello",
                    ))))
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    addr
}

fn request(url: &str, verify: bool) -> RequestSpec {
    let mut spec = RequestSpec::new("GET", url);
    spec.verify = if verify { Verify::Default } else { Verify::Off };
    spec.timeout = Duration::from_secs(5);
    spec
}

async fn fetch(client: &HttpClient, url: &str, verify: bool) -> Exchange {
    client
        .execute(request(url, verify), Arc::new(CookieJar::new()))
        .await
}

#[tokio::test]
async fn http2_is_used_when_the_tls_server_offers_it() {
    let addr = tls_server(&[b"h2", b"http/1.1"]).await;
    let client = HttpClient::new(HttpClientConfig::default());
    let exchange = fetch(
        &client,
        &format!("https://localhost:{}/", addr.port()),
        false,
    )
    .await;
    assert!(exchange.error.is_none(), "{:?}", exchange.error);
    let response = &exchange.responses[0];
    assert_eq!(response.version, "HTTP/2.0");
    assert_eq!(&response.body[..], b"hello");
    assert!(response.timings.appconnect > 0.0);
}

#[tokio::test]
async fn http1_is_used_when_the_server_offers_only_that() {
    let addr = tls_server(&[b"http/1.1"]).await;
    let client = HttpClient::new(HttpClientConfig::default());
    let exchange = fetch(
        &client,
        &format!("https://127.0.0.1:{}/", addr.port()),
        false,
    )
    .await;
    assert_eq!(exchange.responses[0].version, "HTTP/1.1");
}

#[tokio::test]
async fn an_untrusted_certificate_fails_when_verifying() {
    let addr = tls_server(&[b"h2", b"http/1.1"]).await;
    let client = HttpClient::new(HttpClientConfig::default());
    let exchange = fetch(
        &client,
        &format!("https://localhost:{}/", addr.port()),
        true,
    )
    .await;
    let error = exchange.error.expect("verification must fail");
    assert_eq!(error.kind, HttpErrorKind::Tls);
    assert!(exchange.responses.is_empty());
}

#[tokio::test]
async fn a_reused_connection_reports_zero_connection_phases() {
    let addr = tls_server(&[b"http/1.1"]).await;
    let client = HttpClient::new(HttpClientConfig::default());
    let url = format!("https://127.0.0.1:{}/", addr.port());
    let first = fetch(&client, &url, false).await;
    let second = fetch(&client, &url, false).await;
    let (first, second) = (&first.responses[0].timings, &second.responses[0].timings);
    assert!(first.connect > 0.0 && first.appconnect >= first.connect);
    assert_eq!((second.connect, second.appconnect), (0.0, 0.0));
    assert!(second.total > 0.0);
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error_naming_the_url() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let client = HttpClient::new(HttpClientConfig::default());
    let url = format!("http://127.0.0.1:{port}/x");
    let exchange = fetch(&client, &url, true).await;
    let error = exchange.error.unwrap();
    assert_eq!(error.kind, HttpErrorKind::Connect);
    assert!(error.to_string().contains(&url), "{error}");
}
