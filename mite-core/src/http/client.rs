//! Executes one journey request: the connection pool, cookies, redirects with mite's rules,
//! the deadline, and curl-style timings for every response.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2;
use rustc_hash::FxHashMap;
use tokio_rustls::TlsConnector;
use url::Url;

use super::connector::{ConnectError, Target};
use super::deadline::Deadlines;
use super::decode::{decode, ACCEPT_ENCODING};
use super::h1::H1Error;
use super::pool::{Conn, Pool, PoolError, RequestBody, Sender};
use super::proxy::ProxyChoice;
use super::request::{method_name, RequestHeaders};
use super::response::SentHeaders;
use super::runtime::current_tag;
use super::tls::{client_config, ClientCert, TlsError};
use super::trust::Verify;
use super::{
    Body, CookieJar, Exchange, HttpError, HttpErrorKind, RequestSpec, ResponseData, Timings,
};
use crate::clock::unix_time;

/// Connection pool settings.
#[derive(Debug, Clone, Copy)]
pub struct HttpClientConfig {
    /// Idle keep-alive connections are not reused after this.
    pub pool_idle_timeout: Duration,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        HttpClientConfig {
            pool_idle_timeout: Duration::from_secs(60),
        }
    }
}

/// A pool's TLS setting: how it verifies, and its client certificate (key file, cert file).
type TlsSetting = (Verify, Option<(String, String)>);

/// The runner's HTTP client: one keep-alive pool per TLS setting, shared by every journey.
pub struct HttpClient {
    config: HttpClientConfig,
    /// The pool of requests that verify against the default roots, without a client
    /// certificate: nearly all of them.
    verifying: OnceLock<Result<Arc<Pool>, TlsError>>,
    /// Pools for the other TLS settings: `verify=False`, a CA bundle, a client certificate
    /// (key file, cert file).
    others: Mutex<HashMap<TlsSetting, Arc<Pool>>>,
}

/// The process's request deadlines (one sweeper for all clients).
fn deadlines() -> &'static Deadlines {
    static DEADLINES: OnceLock<Deadlines> = OnceLock::new();
    DEADLINES.get_or_init(Deadlines::default)
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

fn since(t0: Instant, t: Instant) -> f64 {
    t.saturating_duration_since(t0).as_secs_f64()
}

/// The headers `response.request.headers` lists beyond the journey's own.
type AddedHeaders = Vec<(&'static str, Cow<'static, str>)>;

/// A URL as a request needs it, parsed once per thread (see [`parse_url`]).
#[derive(Clone)]
struct ParsedUrl {
    url: Arc<str>,
    uri: Uri,
    /// Where to connect (its `runtime` is set per request).
    target: Target,
    /// The headers of a plain request to this URL over HTTP/1.1 (no body, headers of the
    /// journey's, auth or cookies), rendered as they are sent.
    plain_h1_headers: Bytes,
    /// The same headers as `response.request.headers` lists them.
    plain_added: Arc<AddedHeaders>,
}

/// Why a request's URL or method cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("{0}")]
    Invalid(String),
    #[error("unsupported scheme '{0}'")]
    UnsupportedScheme(String),
    #[error("the URL has no scheme (http:// or https://)")]
    NoScheme,
    #[error("the URL has no host")]
    NoHost,
    #[error("bad method: {0}")]
    BadMethod(String),
    #[error("{0}")]
    Proxy(String),
}

impl ParsedUrl {
    fn parse(url: &str) -> Result<Self, UrlError> {
        let uri = Uri::from_str(url).map_err(|e| UrlError::Invalid(e.to_string()))?;
        let secure = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            Some(other) => return Err(UrlError::UnsupportedScheme(other.to_owned())),
            None => return Err(UrlError::NoScheme),
        };
        let host = uri.host().ok_or(UrlError::NoHost)?;
        let authority = uri.authority().map_or("", |a| a.as_str()).to_owned();
        let plain_h1_headers = Bytes::from(format!(
            "host: {authority}\r\naccept: */*\r\naccept-encoding: {ACCEPT_ENCODING}\r\n"
        ));
        let plain_added = Arc::new(vec![
            ("Host", Cow::Owned(authority)),
            ("Accept", Cow::Borrowed("*/*")),
            ("Accept-Encoding", Cow::Borrowed(ACCEPT_ENCODING)),
        ]);
        let target = Target {
            secure,
            host: Arc::from(host),
            port: uri.port_u16().unwrap_or(if secure { 443 } else { 80 }),
            runtime: 0,
            proxy: None,
        };
        Ok(ParsedUrl {
            url: Arc::from(url),
            target,
            uri,
            plain_h1_headers,
            plain_added,
        })
    }
}

/// How many parsed URLs a thread keeps; past this the cache starts again (journeys that put
/// ids in their URLs would otherwise grow it without end).
const URL_CACHE_SIZE: usize = 512;

thread_local! {
    static URLS: RefCell<FxHashMap<Arc<str>, ParsedUrl>> = RefCell::new(FxHashMap::default());
}

/// `url` parsed, from this thread's cache when it was seen before: a load test requests the
/// same few URLs over and over, and parsing one (and rendering its plain headers) costs more
/// than looking it up.
fn parse_url(url: &str) -> Result<ParsedUrl, UrlError> {
    if let Some(parsed) = URLS.with_borrow(|urls| urls.get(url).cloned()) {
        return Ok(parsed);
    }
    let parsed = ParsedUrl::parse(url)?;
    URLS.with_borrow_mut(|urls| {
        if urls.len() >= URL_CACHE_SIZE {
            urls.clear();
        }
        urls.insert(parsed.url.clone(), parsed.clone());
    });
    Ok(parsed)
}

/// One hop of an exchange: what to send where.
struct Hop {
    method: Method,
    method_name: Arc<str>,
    url: ParsedUrl,
    target: Target,
    body: Body,
}

impl Hop {
    fn new(method: &str, url: &str, body: Body, proxy: &ProxyChoice) -> Result<Self, UrlError> {
        let url = parse_url(url)?;
        let proxy = proxy
            .for_target(url.target.secure, &url.target.host)
            .map_err(UrlError::Proxy)?;
        let target = Target {
            runtime: current_tag(),
            proxy,
            ..url.target.clone()
        };
        Ok(Hop {
            method: Method::from_bytes(method.as_bytes())
                .map_err(|e| UrlError::BadMethod(e.to_string()))?,
            method_name: method_name(method),
            url,
            target,
            body,
        })
    }

    fn uri(&self) -> &Uri {
        &self.url.uri
    }

    fn error(&self, kind: HttpErrorKind, message: impl Into<String>) -> HttpError {
        HttpError::new(kind, &self.method_name, &self.url.url, message)
    }

    /// A `url::Url` for cookie matching and redirect resolution (only parsed when needed).
    fn parsed_url(&self) -> Option<Url> {
        Url::parse(&self.url.url).ok()
    }
}

fn connect_error(hop: &Hop, error: PoolError) -> HttpError {
    let kind = match &error {
        PoolError::Connect(ConnectError::InvalidUri(_)) => HttpErrorKind::InvalidUrl,
        PoolError::Connect(ConnectError::Dns { .. } | ConnectError::NoAddress(_)) => {
            HttpErrorKind::Dns
        }
        PoolError::Connect(ConnectError::Connect { .. }) => HttpErrorKind::Connect,
        PoolError::Connect(ConnectError::Tls { .. }) => HttpErrorKind::Tls,
        PoolError::Connect(ConnectError::Proxy { .. } | ConnectError::ProxyRefused { .. }) => {
            HttpErrorKind::Connect
        }
        PoolError::Handshake(_) => HttpErrorKind::Protocol,
    };
    hop.error(kind, error.to_string())
}

fn hyper_error(error: &hyper::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        message.push_str(": ");
        message.push_str(&e.to_string());
        source = e.source();
    }
    message
}

impl HttpClient {
    pub fn new(config: HttpClientConfig) -> Self {
        HttpClient {
            config,
            verifying: OnceLock::new(),
            others: Mutex::new(HashMap::new()),
        }
    }

    fn build_pool(&self, tls: rustls::ClientConfig) -> Arc<Pool> {
        Arc::new(Pool::new(
            TlsConnector::from(Arc::new(tls)),
            self.config.pool_idle_timeout,
        ))
    }

    fn pool(
        &self,
        verify: &Verify,
        cert: Option<&(String, String)>,
    ) -> Result<Arc<Pool>, TlsError> {
        if cert.is_none() && *verify == Verify::Default {
            return self
                .verifying
                .get_or_init(|| client_config(verify, None).map(|tls| self.build_pool(tls)))
                .clone();
        }
        let mut pools = self.others.lock().unwrap_or_else(|e| e.into_inner());
        let id = (verify.clone(), cert.cloned());
        if let Some(pool) = pools.get(&id) {
            return Ok(pool.clone());
        }
        // Failures are not kept: a bundle or key file put right is picked up by the next
        // request.
        let client_cert = match cert {
            Some((key, certfile)) => Some(ClientCert::load(key, certfile)?),
            None => None,
        };
        let pool = self.build_pool(client_config(verify, client_cert)?);
        pools.insert(id, pool.clone());
        Ok(pool)
    }

    /// Runs the request and every redirect it leads to, within `spec.timeout`.
    pub async fn execute(&self, spec: RequestSpec, jar: Arc<CookieJar>) -> Exchange {
        let mut exchange = Exchange::default();
        let mut hop = match Hop::new(&spec.method, &spec.url, spec.body.clone(), &spec.proxy) {
            Ok(hop) => hop,
            Err(message) => {
                exchange.error = Some(HttpError::new(
                    HttpErrorKind::InvalidUrl,
                    &spec.method,
                    &spec.url,
                    message.to_string(),
                ));
                return exchange;
            }
        };
        let pool = match self.pool(&spec.verify, spec.client_cert.as_ref()) {
            Ok(pool) => pool,
            Err(e) => {
                exchange.error = Some(hop.error(HttpErrorKind::Certificate, e.to_string()));
                return exchange;
            }
        };
        let mut hop_started = Instant::now();
        let deadline = hop_started + spec.timeout;
        let mut followed = 0;
        loop {
            // Boxed: the exchange is most of this future, and a future is copied whole each
            // time it moves (into the deadline wrapper, into its caller's state); a box moves
            // as a pointer.
            let sent = deadlines().limit_until(
                deadline,
                Box::pin(self.send(&pool, &spec, &hop, &jar, hop_started)),
            );
            let response = match sent.await {
                None => {
                    let message = format!("timed out after {:.3} s", spec.timeout.as_secs_f64());
                    exchange.error = Some(hop.error(HttpErrorKind::Timeout, message));
                    return exchange;
                }
                Some(Err(e)) => {
                    exchange.error = Some(e);
                    return exchange;
                }
                Some(Ok(response)) => response,
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
                exchange.error = Some(hop.error(HttpErrorKind::MaxRedirects, "Max Redirects"));
                return exchange;
            }
            followed += 1;
            let (method, body) = if matches!(status, 301..=303) {
                (method_name("GET"), Body::Empty)
            } else {
                (hop.method_name.clone(), hop.body.clone())
            };
            hop = match Hop::new(&method, &next, body, &spec.proxy) {
                Ok(hop) => hop,
                Err(message) => {
                    exchange.error = Some(HttpError::new(
                        HttpErrorKind::InvalidUrl,
                        &method,
                        &next,
                        message.to_string(),
                    ));
                    return exchange;
                }
            };
            hop_started = Instant::now();
        }
    }

    /// The headers of one hop's request: for a plain HTTP/1.1 request, the ones rendered with
    /// its URL; else a map of the journey's headers and ours.
    fn headers(
        &self,
        spec: &RequestSpec,
        hop: &Hop,
        h2: bool,
        jar: &CookieJar,
    ) -> Result<(RequestHeaders, SentHeaders), HttpError> {
        // A plain request through a proxy that wants credentials carries them.
        let proxy_authorization = match &hop.target.proxy {
            Some(proxy) if !hop.target.secure => proxy.authorization.clone(),
            _ => None,
        };
        let plain = !h2
            && proxy_authorization.is_none()
            && spec.headers.is_empty()
            && matches!(hop.body, Body::Empty)
            && spec.basic_auth.is_none()
            && jar.is_empty();
        if plain {
            return Ok((
                RequestHeaders::Rendered(hop.url.plain_h1_headers.clone()),
                SentHeaders {
                    user: spec.headers.clone(),
                    added: hop.url.plain_added.clone(),
                },
            ));
        }
        let mut headers = HeaderMap::with_capacity(spec.headers.len() + 6);
        // Headers that belong to a body are not carried over when a redirect drops it.
        let dropped_body = matches!(hop.body, Body::Empty) && !matches!(spec.body, Body::Empty);
        for (name, value) in spec.headers.iter() {
            let lower = name.to_ascii_lowercase();
            if dropped_body && (lower == "content-type" || lower == "content-length") {
                continue;
            }
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| {
                hop.error(
                    HttpErrorKind::InvalidUrl,
                    format!("bad header name {name:?}: {e}"),
                )
            })?;
            let value = HeaderValue::from_str(value).map_err(|e| {
                hop.error(
                    HttpErrorKind::InvalidUrl,
                    format!("bad header value {value:?}: {e}"),
                )
            })?;
            headers.append(name, value);
        }
        let mut added = AddedHeaders::new();
        let mut add = |headers: &mut HeaderMap,
                       name: HeaderName,
                       label: &'static str,
                       value: Cow<'static, str>| {
            if headers.contains_key(&name) {
                return;
            }
            let header_value = match &value {
                Cow::Borrowed(text) => Some(HeaderValue::from_static(text)),
                Cow::Owned(text) => HeaderValue::from_str(text).ok(),
            };
            if let Some(header_value) = header_value {
                headers.insert(name, header_value);
                added.push((label, value));
            }
        };
        if !h2 {
            if let Some(authority) = hop.uri().authority() {
                add(
                    &mut headers,
                    header::HOST,
                    "Host",
                    Cow::Owned(authority.as_str().to_owned()),
                );
            }
        }
        add(&mut headers, header::ACCEPT, "Accept", Cow::Borrowed("*/*"));
        add(
            &mut headers,
            header::ACCEPT_ENCODING,
            "Accept-Encoding",
            Cow::Borrowed(ACCEPT_ENCODING),
        );
        if let Some(content_type) = hop.body.default_content_type() {
            add(
                &mut headers,
                header::CONTENT_TYPE,
                "Content-Type",
                Cow::Borrowed(content_type),
            );
        }
        if let Some((user, password)) = &spec.basic_auth {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            add(
                &mut headers,
                header::AUTHORIZATION,
                "Authorization",
                Cow::Owned(format!("Basic {token}")),
            );
        }
        if let Some(authorization) = proxy_authorization {
            add(
                &mut headers,
                header::PROXY_AUTHORIZATION,
                "Proxy-Authorization",
                Cow::Owned(authorization.to_string()),
            );
        }
        if !jar.is_empty() {
            if let Some(cookies) = hop.parsed_url().and_then(|url| jar.header_for(&url)) {
                if let Ok(value) = HeaderValue::from_str(&cookies) {
                    headers.append(header::COOKIE, value);
                    added.push(("Cookie", Cow::Owned(cookies)));
                }
            }
        }
        Ok((
            RequestHeaders::Map(headers),
            SentHeaders {
                user: spec.headers.clone(),
                added: Arc::new(added),
            },
        ))
    }

    /// One request/response on the pool, starting at `t0`.
    async fn send(
        &self,
        pool: &Pool,
        spec: &RequestSpec,
        hop: &Hop,
        jar: &CookieJar,
        t0: Instant,
    ) -> Result<ResponseData, HttpError> {
        let started_at = unix_time();
        let mut conn = pool
            .checkout(&hop.target, t0)
            .await
            .map_err(|e| connect_error(hop, e))?;
        let (mut headers, mut sent_headers) =
            self.headers(spec, hop, matches!(conn.sender, Sender::H2(_)), jar)?;
        let body = hop.body.bytes();
        let upload_size = body.len() as u64;
        let exchanged = match exchange(&mut conn, hop, &headers, &body).await {
            // A reused connection the server had closed: nothing was processed, so the request
            // goes again on a new connection.
            Err(Failure::Retryable(_)) if !conn.fresh => {
                conn = Box::pin(pool.open(&hop.target))
                    .await
                    .map_err(|e| connect_error(hop, e))?;
                // The new connection may speak the other protocol.
                (headers, sent_headers) =
                    self.headers(spec, hop, matches!(conn.sender, Sender::H2(_)), jar)?;
                exchange(&mut conn, hop, &headers, &body).await
            }
            other => other,
        }
        .map_err(|failure| hop.error(HttpErrorKind::Protocol, failure.message()))?;
        let Exchanged {
            status,
            version,
            headers: response_headers,
            body: raw,
            first_byte,
            done,
        } = exchanged;
        let info = conn.info.clone();
        let fresh = conn.fresh;
        pool.checkin(&hop.target, conn, done);

        let mut timings = Timings {
            starttransfer: since(t0, first_byte),
            total: since(t0, done),
            ..Timings::default()
        };
        if fresh {
            timings.namelookup = since(t0, info.dns_done);
            timings.connect = since(t0, info.connected);
            timings.appconnect = info.tls_done.map_or(0.0, |t| since(t0, t));
            timings.pretransfer = timings.connect.max(timings.appconnect);
        }
        let status = status.as_u16();
        let needs_url = response_headers.contains_key(header::SET_COOKIE)
            || ((300..400).contains(&status) && response_headers.contains_key(header::LOCATION));
        let url = if needs_url { hop.parsed_url() } else { None };
        if let Some(url) = &url {
            jar.store_from_response(
                url,
                response_headers
                    .get_all(header::SET_COOKIE)
                    .iter()
                    .filter_map(|v| v.to_str().ok()),
            );
        }
        let redirect_url = match (&url, response_headers.get(header::LOCATION)) {
            (Some(url), Some(location)) if (300..400).contains(&status) => location
                .to_str()
                .ok()
                .and_then(|l| url.join(l).ok())
                .map(String::from),
            _ => None,
        };
        let encoding = response_headers
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok());
        let download_size = raw.len() as u64;
        let body = decode(encoding, raw)
            .map_err(|e| hop.error(HttpErrorKind::Protocol, format!("decoding the body: {e}")))?;
        let version = match version {
            http::Version::HTTP_09 => "HTTP/0.9",
            http::Version::HTTP_10 => "HTTP/1.0",
            http::Version::HTTP_2 => "HTTP/2.0",
            http::Version::HTTP_3 => "HTTP/3.0",
            _ => "HTTP/1.1",
        };
        Ok(ResponseData {
            method: hop.method_name.clone(),
            url: hop.url.url.clone(),
            status,
            version,
            headers: response_headers,
            body,
            download_size,
            upload_size,
            redirect_url,
            start_time: started_at as i64,
            finished_at: started_at + timings.total,
            timings,
            primary_ip: info.primary_ip.clone(),
            request_headers: sent_headers,
        })
    }
}

/// A response as it came off the connection.
struct Exchanged {
    status: http::StatusCode,
    version: http::Version,
    headers: HeaderMap,
    body: Bytes,
    first_byte: Instant,
    /// When the response was complete.
    done: Instant,
}

/// Why an exchange failed.
enum Failure {
    /// Nothing reached the server or came back: safe to send again on a new connection.
    Retryable(String),
    Fatal(String),
}

impl Failure {
    fn message(self) -> String {
        match self {
            Failure::Retryable(m) | Failure::Fatal(m) => m,
        }
    }
}

/// One request and its whole response on `conn`.
async fn exchange(
    conn: &mut Conn,
    hop: &Hop,
    headers: &RequestHeaders,
    body: &Bytes,
) -> Result<Exchanged, Failure> {
    match &mut conn.sender {
        Sender::H1(h1) => {
            // Through a proxy, a plain request names the whole URL (absolute form).
            let absolute;
            let target = if hop.target.proxy.is_some() && !hop.target.secure {
                absolute = hop.uri().to_string();
                absolute.as_str()
            } else {
                hop.uri().path_and_query().map_or("/", |pq| pq.as_str())
            };
            match h1.exchange(&hop.method, target, headers, body).await {
                Ok(received) => Ok(Exchanged {
                    status: received.head.status,
                    version: received.head.version,
                    headers: received.head.headers,
                    body: received.body,
                    first_byte: received.first_byte,
                    done: received.done,
                }),
                Err(e @ (H1Error::ClosedBeforeResponse | H1Error::Write(_))) => {
                    Err(Failure::Retryable(e.to_string()))
                }
                Err(e) => Err(Failure::Fatal(e.to_string())),
            }
        }
        // Boxed, like opening a connection: hyper's HTTP/2 futures are large, and would size
        // every HTTP/1.1 request's future (and in-flight task) to match.
        Sender::H2(sender) => match headers {
            RequestHeaders::Map(map) => Box::pin(exchange_h2(sender, hop, map, body)).await,
            RequestHeaders::Rendered(_) => Err(Failure::Fatal(
                "HTTP/1.1 headers were prepared for an HTTP/2 connection".into(),
            )),
        },
    }
}

async fn exchange_h2(
    sender: &mut http2::SendRequest<RequestBody>,
    hop: &Hop,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Exchanged, Failure> {
    let mut request = Request::new(Full::new(body.clone()));
    *request.method_mut() = hop.method.clone();
    *request.uri_mut() = hop.uri().clone();
    *request.headers_mut() = headers.clone();
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| Failure::Fatal(hyper_error(&e)))?;
    let first_byte = Instant::now();
    let (parts, incoming) = response.into_parts();
    let body = incoming
        .collect()
        .await
        .map_err(|e| Failure::Fatal(format!("reading the body: {e}")))?
        .to_bytes();
    Ok(Exchanged {
        status: parts.status,
        version: parts.version,
        headers: parts.headers,
        body,
        first_byte,
        done: Instant::now(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_parsed_once_per_thread_and_plain_headers_match_the_general_path() {
        let first = parse_url("http://example.test:8080/x?y=1").unwrap();
        let again = parse_url("http://example.test:8080/x?y=1").unwrap();
        assert!(
            Arc::ptr_eq(&first.url, &again.url),
            "the second parse is a cache hit"
        );
        assert_eq!(
            (first.target.secure, first.target.port, &*first.target.host),
            (false, 8080, "example.test")
        );
        assert_eq!(
            &first.plain_h1_headers[..],
            b"host: example.test:8080\r\naccept: */*\r\naccept-encoding: gzip, deflate\r\n"
        );
        assert!(parse_url("ftp://example.test/").is_err());
        assert!(parse_url("/relative").is_err());

        let client = HttpClient::new(HttpClientConfig::default());
        let jar = CookieJar::default();
        let hop = Hop::new(
            "GET",
            "http://example.test:8080/x?y=1",
            Body::Empty,
            &ProxyChoice::Direct,
        )
        .unwrap();
        let mut spec = RequestSpec::new("GET", "http://example.test:8080/x?y=1");
        let (plain, plain_sent) = client.headers(&spec, &hop, false, &jar).unwrap();
        assert!(matches!(plain, RequestHeaders::Rendered(_)));
        spec.headers = Arc::new(vec![("X-A".into(), "1".into())]);
        let (general, sent) = client.headers(&spec, &hop, false, &jar).unwrap();
        let RequestHeaders::Map(map) = general else {
            panic!("a request with headers of its own uses the map");
        };
        let names: Vec<_> = map.keys().map(|n| n.as_str()).collect();
        assert_eq!(names, ["x-a", "host", "accept", "accept-encoding"]);
        assert_eq!(sent.added, plain_sent.added);
        let (for_h2, _) = client.headers(&spec, &hop, true, &jar).unwrap();
        assert!(matches!(for_h2, RequestHeaders::Map(_)));
    }

    /// Every request in flight is a task holding these futures: with 10,000 concurrent
    /// journeys their size is most of the engine's memory, and a future is copied whole each
    /// time it moves. Rare paths (opening connections, HTTP/2) are boxed so they do not size
    /// the common one, and the exchange is boxed apart from the request's outer future; this
    /// catches a change that undoes either.
    #[test]
    fn a_requests_futures_stay_small() {
        let client = HttpClient::new(HttpClientConfig::default());
        let jar = Arc::new(CookieJar::default());
        let spec = RequestSpec::new("GET", "http://127.0.0.1:1/");
        let outer = std::mem::size_of_val(&client.execute(spec.clone(), jar.clone()));
        assert!(outer < 1200, "the request future grew to {outer} bytes");
        let pool = client.pool(&Verify::Default, None).unwrap();
        let hop = Hop::new(
            "GET",
            "http://127.0.0.1:1/",
            Body::Empty,
            &ProxyChoice::Direct,
        )
        .unwrap();
        let exchange =
            std::mem::size_of_val(&client.send(&pool, &spec, &hop, &jar, Instant::now()));
        assert!(
            exchange < 1500,
            "the exchange future grew to {exchange} bytes"
        );
    }
}
