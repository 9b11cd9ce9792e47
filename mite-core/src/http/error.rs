/// Why a request produced no (final) response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpErrorKind {
    InvalidUrl,
    Dns,
    Connect,
    Tls,
    Timeout,
    /// The server broke the protocol or the connection mid-exchange.
    Protocol,
    /// Still redirecting after `max_redirects` hops (mite: `RequestError("Max Redirects")`).
    MaxRedirects,
    /// A client certificate or key could not be loaded.
    Certificate,
}

/// A failed request, naming the URL and the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{method} {url} failed: {message}")]
pub struct HttpError {
    pub kind: HttpErrorKind,
    pub method: String,
    pub url: String,
    pub message: String,
}

impl HttpError {
    pub fn new(kind: HttpErrorKind, method: &str, url: &str, message: impl Into<String>) -> Self {
        HttpError {
            kind,
            method: method.to_owned(),
            url: url.to_owned(),
            message: message.into(),
        }
    }
}
