use std::net::IpAddr;

use bytes::Bytes;

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

/// One response of an exchange (each redirect hop is one).
#[derive(Debug, Clone)]
pub struct ResponseData {
    pub method: String,
    /// The URL this response came from.
    pub url: String,
    pub status: u16,
    /// `HTTP/1.1`, `HTTP/2.0`, …
    pub version: &'static str,
    /// Header names as received (lower-case for HTTP/2) with their values, in order.
    pub headers: Vec<(String, String)>,
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
    pub primary_ip: Option<IpAddr>,
    /// Request headers as sent (for `response.request.headers`).
    pub request_headers: Vec<(String, String)>,
}

/// Everything one `ctx.http.<method>(...)` produced: every response received (redirect hops
/// first), and an error if it did not end with a final response.
#[derive(Debug, Clone, Default)]
pub struct Exchange {
    pub responses: Vec<ResponseData>,
    pub error: Option<HttpError>,
}
