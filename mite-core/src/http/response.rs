use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use http::HeaderMap;

use super::HttpError;

/// curl's cumulative phase times, in seconds from the start of one transfer.
///
/// On a reused connection the connection phases are zero, as curl reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    pub namelookup: f64,
    pub connect: f64,
    /// TLS handshake done; 0 for plain HTTP.
    pub appconnect: f64,
    pub pretransfer: f64,
    pub starttransfer: f64,
    pub total: f64,
}

/// The headers a request was sent with, kept in parts so that building them for
/// `response.request.headers` costs nothing unless a journey asks.
#[derive(Debug, Clone, Default)]
pub struct SentHeaders {
    /// The journey's own headers, in its order.
    pub user: Arc<Vec<(String, String)>>,
    /// Headers we added (`Accept`, `Content-Type`, `Authorization`, `Cookie`, ...); shared by
    /// every plain request to one URL.
    pub added: Arc<Vec<(&'static str, Cow<'static, str>)>>,
}

impl SentHeaders {
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.user
            .iter()
            .cloned()
            .chain(
                self.added
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), v.to_string())),
            )
            .collect()
    }
}

/// One response of an exchange (each redirect hop is one).
#[derive(Debug, Clone)]
pub struct ResponseData {
    pub method: Arc<str>,
    /// The URL this response came from.
    pub url: Arc<str>,
    pub status: u16,
    /// `HTTP/1.1`, `HTTP/2.0`, …
    pub version: &'static str,
    pub headers: HeaderMap,
    /// The body, decompressed if the server compressed it.
    pub body: Bytes,
    /// Bytes received on the wire for the body.
    pub download_size: u64,
    pub upload_size: u64,
    /// `Location` resolved against `url`, for 3xx responses.
    pub redirect_url: Option<String>,
    pub timings: Timings,
    /// Epoch seconds when the transfer started, truncated (curl's `time(NULL)`).
    pub start_time: i64,
    /// Epoch seconds (fractional) when the response was complete: the `time` of its
    /// `http_metrics` message (the start's wall clock plus the measured total, saving a read).
    pub finished_at: f64,
    /// The peer's address (empty if unknown).
    pub primary_ip: Arc<str>,
    pub request_headers: SentHeaders,
}

impl ResponseData {
    /// Header names (lower-case) and values, in order; repeated headers repeat.
    pub fn header_pairs(&self) -> impl Iterator<Item = (&str, String)> + '_ {
        self.headers.iter().map(|(name, value)| {
            (
                name.as_str(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Everything one `ctx.http.<method>(...)` produced: every response received (redirect hops
/// first), and an error if it did not end with a final response.
#[derive(Debug, Clone, Default)]
pub struct Exchange {
    pub responses: Vec<ResponseData>,
    pub error: Option<HttpError>,
}
