//! The HTTP engine behind `ctx.http`: one keep-alive pool per runner (our own HTTP/1.1
//! client, hyper for HTTP/2), cookie jars per journey session, redirects with mite's rules,
//! and curl-style phase timings per response.
//! Pure Rust, driven by tokio; the bindings hand requests in and take exchanges out.

mod client;
mod connector;
mod cookies;
mod curl;
mod deadline;
mod decode;
mod defaults;
mod error;
mod h1;
mod metrics;
mod pool;
mod proxy;
mod request;
mod response;
mod runtime;
mod tls;
mod tls_error;
mod trust;

pub use client::{HttpClient, HttpClientConfig};
pub use cookies::CookieJar;
pub use curl::{shell_quote, CurlRequest};
pub use defaults::{check_body_options, RequestDefaults, RequestOptionError, DEFAULT_TIMEOUT};
pub use error::{HttpError, HttpErrorKind};
pub use metrics::http_metrics_fields;
pub use proxy::{Proxy, ProxyChoice, ProxyError};
pub use request::{Body, RequestSpec};
pub use response::{charset_of, Exchange, ResponseData, SentHeaders, Timings};
pub use runtime::{
    current_tag, http_on_loop_thread, loop_runtime, runtime, Job, LoopRuntime, RuntimeError,
    WatchedSelector,
};
pub use trust::{Verify, BUNDLE_VARIABLES};
