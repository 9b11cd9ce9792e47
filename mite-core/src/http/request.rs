use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;

use super::proxy::ProxyChoice;
use super::trust::Verify;

/// A request body and the content type it implies unless the caller set one.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Body {
    #[default]
    Empty,
    /// `data=`: sent as is; curl's default type for it is form-urlencoded.
    Data(Bytes),
    /// `json=`: already serialised, `Content-Type: application/json`.
    Json(Bytes),
}

impl Body {
    pub fn bytes(&self) -> Bytes {
        match self {
            Body::Empty => Bytes::new(),
            Body::Data(b) | Body::Json(b) => b.clone(),
        }
    }

    pub fn default_content_type(&self) -> Option<&'static str> {
        match self {
            Body::Empty => None,
            Body::Data(_) => Some("application/x-www-form-urlencoded"),
            Body::Json(_) => Some("application/json"),
        }
    }
}

/// A request's headers as its connection sends them.
pub enum RequestHeaders {
    /// A plain HTTP/1.1 request's (no body, auth, cookies or headers of the journey's),
    /// rendered once per URL, each line ending in CRLF.
    Rendered(Bytes),
    Map(HeaderMap),
}

/// A method's name, upper-case; the standard methods' names are shared, not allocated per
/// request.
pub fn method_name(method: &str) -> Arc<str> {
    static STANDARD: OnceLock<[Arc<str>; 7]> = OnceLock::new();
    let standard = STANDARD.get_or_init(|| {
        ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"].map(Arc::from)
    });
    standard
        .iter()
        .find(|name| name.eq_ignore_ascii_case(method))
        .cloned()
        .unwrap_or_else(|| Arc::from(method.to_ascii_uppercase()))
}

/// Header lists are shared: most requests have none, and this one costs no allocation.
fn no_headers() -> Arc<Vec<(String, String)>> {
    static EMPTY: OnceLock<Arc<Vec<(String, String)>>> = OnceLock::new();
    EMPTY.get_or_init(|| Arc::new(Vec::new())).clone()
}

/// One request as a journey asked for it.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    /// Upper-case method, sent as given.
    pub method: Arc<str>,
    pub url: String,
    /// Header names and values in the order given.
    pub headers: Arc<Vec<(String, String)>>,
    pub body: Body,
    /// `auth=(user, password)`: HTTP basic.
    pub basic_auth: Option<(String, String)>,
    pub allow_redirects: bool,
    pub max_redirects: u32,
    /// The whole exchange, redirects included, must finish within this.
    pub timeout: Duration,
    pub verify: Verify,
    /// `proxy=`, else the environment's proxies.
    pub proxy: ProxyChoice,
    /// `cert=(keyfile, certfile)`.
    pub client_cert: Option<(String, String)>,
}

impl RequestSpec {
    pub fn new(method: &str, url: &str) -> Self {
        RequestSpec {
            method: method_name(method),
            url: url.to_owned(),
            headers: no_headers(),
            body: Body::Empty,
            basic_auth: None,
            allow_redirects: true,
            max_redirects: 5,
            timeout: Duration::from_secs(30),
            verify: Verify::Default,
            proxy: ProxyChoice::FromEnvironment,
            client_cert: None,
        }
    }

    pub fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }
}
