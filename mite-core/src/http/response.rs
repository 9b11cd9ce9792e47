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
    /// The cookies sent, from the `Cookie` headers we added.
    pub fn cookie_pairs(&self) -> Vec<(String, String)> {
        self.added
            .iter()
            .filter(|(n, _)| *n == "Cookie")
            .flat_map(|(_, v)| v.split("; "))
            .filter_map(|pair| pair.split_once('='))
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect()
    }

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

    /// The text encoding: `Content-Type`'s `charset`, else latin1 (acurl's default).
    pub fn charset(&self) -> String {
        charset_of(self.header("content-type"))
    }
}

/// The `charset` parameter of a `Content-Type` value, else `latin1`.
pub fn charset_of(content_type: Option<&str>) -> String {
    content_type
        .and_then(|ct| {
            ct.split(';').map(str::trim).find_map(|p| {
                let (name, value) = p.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("charset")
                    .then(|| value.trim())
            })
        })
        .map(|c| c.trim_matches('"').to_owned())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "latin1".to_owned())
}

/// Everything one `ctx.http.<method>(...)` produced: every response received (redirect hops
/// first), and an error if it did not end with a final response.
#[derive(Debug, Clone, Default)]
pub struct Exchange {
    pub responses: Vec<ResponseData>,
    pub error: Option<HttpError>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_charset_comes_from_content_type_in_any_case_else_latin1() {
        assert_eq!(charset_of(Some("text/html; charset=utf-8")), "utf-8");
        assert_eq!(
            charset_of(Some("text/html;CHARSET=\"ISO-8859-2\"")),
            "ISO-8859-2"
        );
        assert_eq!(charset_of(Some("text/html; Charset = koi8-r")), "koi8-r");
        assert_eq!(charset_of(Some("application/json")), "latin1");
        assert_eq!(charset_of(Some("text/plain; charset=")), "latin1");
        assert_eq!(charset_of(None), "latin1");
    }

    #[test]
    fn cookies_sent_are_read_back_from_the_cookie_header() {
        let sent = SentHeaders {
            user: Arc::new(vec![("Cookie".into(), "ignored=1".into())]),
            added: Arc::new(vec![
                ("Accept", Cow::Borrowed("*/*")),
                ("Cookie", Cow::Owned("a=1; b=x=y".into())),
            ]),
        };
        assert_eq!(
            sent.cookie_pairs(),
            [("a".into(), "1".into()), ("b".into(), "x=y".into())]
        );
    }
}
