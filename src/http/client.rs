//! Executes one journey request: the pooled hyper client, cookies, redirects with mite's rules,
//! the deadline, and curl-style timings for every response.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio_rustls::TlsConnector;
use url::Url;

use super::connector::{ConnectError, ConnectionInfo, TimedConnector};
use super::decode::{decode, ACCEPT_ENCODING};
use super::tls::{client_config, ClientCert};
use super::{
    Body, CookieJar, Exchange, HttpError, HttpErrorKind, RequestSpec, ResponseData, Timings,
};

type Pool = Client<TimedConnector, Full<Bytes>>;

/// Connection pool settings.
#[derive(Debug, Clone, Copy)]
pub struct HttpClientConfig {
    /// Idle keep-alive connections are closed after this.
    pub pool_idle_timeout: Duration,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        HttpClientConfig {
            pool_idle_timeout: Duration::from_secs(90),
        }
    }
}

/// The runner's HTTP client: one keep-alive pool per TLS setting, shared by every journey.
pub struct HttpClient {
    config: HttpClientConfig,
    verifying: OnceLock<Result<Pool, String>>,
    trusting: OnceLock<Result<Pool, String>>,
    /// Pools for client certificates, by (key file, cert file, verify).
    with_certs: Mutex<HashMap<(String, String, bool), Pool>>,
}

fn build_pool(config: HttpClientConfig, tls: rustls::ClientConfig) -> Pool {
    let connector = TimedConnector::new(TlsConnector::from(Arc::new(tls)));
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(config.pool_idle_timeout)
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .build(connector)
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

fn epoch_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn since(t0: Instant, t: Instant) -> f64 {
    t.saturating_duration_since(t0).as_secs_f64()
}

/// The most useful line of a hyper-util error: our connector's own error when there is one.
fn classify(error: &hyper_util::client::legacy::Error) -> (HttpErrorKind, String) {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(connect) = e.downcast_ref::<ConnectError>() {
            let kind = match connect {
                ConnectError::InvalidUri(_) => HttpErrorKind::InvalidUrl,
                ConnectError::Dns { .. } | ConnectError::NoAddress(_) => HttpErrorKind::Dns,
                ConnectError::Connect { .. } => HttpErrorKind::Connect,
                ConnectError::Tls { .. } => HttpErrorKind::Tls,
            };
            return (kind, connect.to_string());
        }
        source = e.source();
    }
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        message.push_str(": ");
        message.push_str(&e.to_string());
        source = e.source();
    }
    (HttpErrorKind::Protocol, message)
}

impl HttpClient {
    pub fn new(config: HttpClientConfig) -> Self {
        HttpClient {
            config,
            verifying: OnceLock::new(),
            trusting: OnceLock::new(),
            with_certs: Mutex::new(HashMap::new()),
        }
    }

    fn pool(&self, verify: bool, cert: Option<&(String, String)>) -> Result<Pool, String> {
        let config = self.config;
        if let Some((key, certfile)) = cert {
            let mut pools = self.with_certs.lock().unwrap_or_else(|e| e.into_inner());
            let id = (key.clone(), certfile.clone(), verify);
            if let Some(pool) = pools.get(&id) {
                return Ok(pool.clone());
            }
            let tls = client_config(verify, Some(ClientCert::load(key, certfile)?))?;
            let pool = build_pool(config, tls);
            pools.insert(id, pool.clone());
            return Ok(pool);
        }
        let cell = if verify {
            &self.verifying
        } else {
            &self.trusting
        };
        cell.get_or_init(|| client_config(verify, None).map(|tls| build_pool(config, tls)))
            .clone()
    }

    /// Runs the request and every redirect it leads to, within `spec.timeout`.
    pub async fn execute(&self, spec: RequestSpec, jar: Arc<CookieJar>) -> Exchange {
        let mut exchange = Exchange::default();
        let fail = |kind, method: &str, url: &str, message: String| {
            Some(HttpError::new(kind, method, url, message))
        };
        let mut url = match Url::parse(&spec.url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => url,
            Ok(url) => {
                exchange.error = fail(
                    HttpErrorKind::InvalidUrl,
                    &spec.method,
                    &spec.url,
                    format!("unsupported scheme '{}'", url.scheme()),
                );
                return exchange;
            }
            Err(e) => {
                exchange.error = fail(
                    HttpErrorKind::InvalidUrl,
                    &spec.method,
                    &spec.url,
                    e.to_string(),
                );
                return exchange;
            }
        };
        let pool = match self.pool(spec.verify_tls, spec.client_cert.as_ref()) {
            Ok(pool) => pool,
            Err(e) => {
                exchange.error = fail(HttpErrorKind::Certificate, &spec.method, &spec.url, e);
                return exchange;
            }
        };
        let deadline = Instant::now() + spec.timeout;
        let mut method = spec.method.clone();
        let mut body = spec.body.clone();
        let mut followed = 0;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let hop = tokio::time::timeout(
                remaining,
                self.send(&pool, &spec, &method, &url, &body, &jar),
            );
            let response = match hop.await {
                Err(_) => {
                    exchange.error = fail(
                        HttpErrorKind::Timeout,
                        &method,
                        url.as_str(),
                        format!("timed out after {:.3} s", spec.timeout.as_secs_f64()),
                    );
                    return exchange;
                }
                Ok(Err(e)) => {
                    exchange.error = Some(e);
                    return exchange;
                }
                Ok(Ok(response)) => response,
            };
            let next = response
                .redirect_url
                .clone()
                .filter(|_| spec.allow_redirects && is_redirect(response.status));
            let status = response.status;
            exchange.responses.push(response);
            let Some(next) = next else {
                return exchange;
            };
            if followed >= spec.max_redirects {
                exchange.error = fail(
                    HttpErrorKind::MaxRedirects,
                    &method,
                    url.as_str(),
                    "Max Redirects".into(),
                );
                return exchange;
            }
            followed += 1;
            if matches!(status, 301..=303) {
                method = "GET".into();
                body = Body::Empty;
            }
            url = match Url::parse(&next) {
                Ok(url) => url,
                Err(e) => {
                    exchange.error = fail(HttpErrorKind::InvalidUrl, &method, &next, e.to_string());
                    return exchange;
                }
            };
        }
    }

    /// One request/response on the pool.
    async fn send(
        &self,
        pool: &Pool,
        spec: &RequestSpec,
        method: &str,
        url: &Url,
        body: &Body,
        jar: &CookieJar,
    ) -> Result<ResponseData, HttpError> {
        let error = |kind, message: String| HttpError::new(kind, method, url.as_str(), message);
        let http_method = Method::from_bytes(method.as_bytes())
            .map_err(|e| error(HttpErrorKind::InvalidUrl, format!("bad method: {e}")))?;
        let mut request_headers: Vec<(String, String)> = Vec::with_capacity(spec.headers.len() + 4);
        // Headers that belong to a body are not carried over when a redirect drops it.
        let body_header = |name: &str| {
            name.eq_ignore_ascii_case("content-type") || name.eq_ignore_ascii_case("content-length")
        };
        for (name, value) in &spec.headers {
            if matches!(body, Body::Empty) && !matches!(spec.body, Body::Empty) && body_header(name)
            {
                continue;
            }
            request_headers.push((name.clone(), value.clone()));
        }
        let has = |headers: &[(String, String)], name: &str| {
            headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
        };
        if !has(&request_headers, "accept") {
            request_headers.push(("Accept".into(), "*/*".into()));
        }
        if !has(&request_headers, "accept-encoding") {
            request_headers.push(("Accept-Encoding".into(), ACCEPT_ENCODING.into()));
        }
        if let Some(content_type) = body.default_content_type() {
            if !has(&request_headers, "content-type") {
                request_headers.push(("Content-Type".into(), content_type.into()));
            }
        }
        if let Some((user, password)) = &spec.basic_auth {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            request_headers.push(("Authorization".into(), format!("Basic {token}")));
        }
        if let Some(cookies) = jar.header_for(url) {
            request_headers.push(("Cookie".into(), cookies));
        }
        let mut builder = Request::builder().method(http_method).uri(url.as_str());
        for (name, value) in &request_headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| {
                error(
                    HttpErrorKind::InvalidUrl,
                    format!("bad header name {name:?}: {e}"),
                )
            })?;
            let value = HeaderValue::from_str(value).map_err(|e| {
                error(
                    HttpErrorKind::InvalidUrl,
                    format!("bad header value {value:?}: {e}"),
                )
            })?;
            builder = builder.header(name, value);
        }
        let payload = body.bytes();
        let upload_size = payload.len() as u64;
        let request = builder
            .body(Full::new(payload))
            .map_err(|e| error(HttpErrorKind::InvalidUrl, e.to_string()))?;

        let start_time = epoch_seconds();
        let t0 = Instant::now();
        let response = pool.request(request).await.map_err(|e| {
            let (kind, message) = classify(&e);
            error(kind, message)
        })?;
        let first_byte = Instant::now();
        let (parts, incoming) = response.into_parts();
        let raw = incoming
            .collect()
            .await
            .map_err(|e| error(HttpErrorKind::Protocol, format!("reading the body: {e}")))?
            .to_bytes();
        let done = Instant::now();

        let info = parts.extensions.get::<Arc<ConnectionInfo>>();
        let mut timings = Timings {
            starttransfer: since(t0, first_byte),
            total: since(t0, done),
            ..Timings::default()
        };
        if let Some((dns, connected, tls)) = info.and_then(|i| i.claim()) {
            timings.namelookup = since(t0, dns);
            timings.connect = since(t0, connected);
            timings.appconnect = tls.map_or(0.0, |t| since(t0, t));
            timings.pretransfer = timings.connect.max(timings.appconnect);
        }
        jar.store_from_response(
            url,
            parts
                .headers
                .get_all(http::header::SET_COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok()),
        );
        let status = parts.status.as_u16();
        let version = match parts.version {
            http::Version::HTTP_09 => "HTTP/0.9",
            http::Version::HTTP_10 => "HTTP/1.0",
            http::Version::HTTP_2 => "HTTP/2.0",
            http::Version::HTTP_3 => "HTTP/3.0",
            _ => "HTTP/1.1",
        };
        let redirect_url = parts
            .headers
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .filter(|_| (300..400).contains(&status))
            .and_then(|location| url.join(location).ok())
            .map(String::from);
        let encoding = parts
            .headers
            .get(http::header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok());
        let download_size = raw.len() as u64;
        let body = decode(encoding, raw)
            .map_err(|e| error(HttpErrorKind::Protocol, format!("decoding the body: {e}")))?;
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        Ok(ResponseData {
            method: method.to_owned(),
            url: url.as_str().to_owned(),
            status,
            version,
            headers,
            body,
            download_size,
            upload_size,
            redirect_url,
            timings,
            start_time,
            primary_ip: info.map(|i| i.remote.ip()),
            request_headers,
        })
    }
}
