//! `ctx.http`: a journey's HTTP session (mite's `AcurlSessionWrapper` over an acurl session).
//!
//! Requests run on the shared Rust client with this session's cookie jar. When the journey's
//! context sends natively and no response callback is set, each response's `http_metrics`
//! message is built and sent on the tokio thread, without the GIL; otherwise it is sent on the
//! loop thread after the callback, as mite does.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use futures_util::future::{AbortHandle, Abortable};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple};
use url::Url;

use super::loop_driver::{AwaitingExchange, Completion, HttpDriver};
use super::response::{RequestOptions, Response};
use crate::bridge::contextvars;
use crate::bridge::native_future::NativeFuture;
use crate::errors::{http_failure, BindingError};
use crate::py::active_transaction::current_transaction;
use crate::py::context::Context;
use crate::py::convert::{to_arc_str, to_py, to_value};
use mite_core::bus::BusSender;
use mite_core::http::{
    check_body_options, http_metrics_fields, Body, CookieJar, Exchange, HttpClient,
    HttpClientConfig, Proxy, ProxyChoice, RequestDefaults, RequestSpec, Verify,
};
use mite_core::messages::{keys, to_json, Envelope, Message, Value};

/// The runner's one HTTP client (one keep-alive pool per TLS setting).
fn client() -> &'static Arc<HttpClient> {
    static CLIENT: OnceLock<Arc<HttpClient>> = OnceLock::new();
    CLIENT.get_or_init(|| Arc::new(HttpClient::new(HttpClientConfig::default())))
}

/// Sends `http_metrics` straight from the tokio thread.
#[derive(Clone)]
struct NativeRoute {
    bus: BusSender,
    envelope: Option<Arc<Envelope>>,
}

/// A request waiting for its exchange, kept on the loop thread.
struct InFlight {
    future: Py<NativeFuture>,
    session: Py<HttpSession>,
    transaction: Option<(Arc<str>, u64)>,
    metrics_sent: bool,
    /// The journey's contextvars context, for sending through a Python `ctx.send`.
    journey_context: Option<Py<PyAny>>,
    auth: Option<(String, String)>,
    body: Option<Vec<u8>>,
    cert: Option<(String, String)>,
}

#[pyclass(dict, module = "mite._mite", name = "HttpSession")]
pub struct HttpSession {
    ctx: Py<PyAny>,
    jar: Arc<CookieJar>,
    route: Option<NativeRoute>,
    /// Merged into every `http_metrics` message of this session; made on first access, as
    /// most journeys never touch it.
    additional_metrics: Mutex<Option<Py<PyAny>>>,
    callback: Option<Py<PyAny>>,
}

/// The arguments every request method takes.
struct RequestArgs<'a, 'py> {
    url: &'a Bound<'py, PyAny>,
    headers: Option<&'a Bound<'py, PyAny>>,
    cookies: Option<&'a Bound<'py, PyAny>>,
    auth: Option<&'a Bound<'py, PyAny>>,
    data: Option<&'a Bound<'py, PyAny>>,
    json: Option<&'a Bound<'py, PyAny>>,
    cert: Option<&'a Bound<'py, PyAny>>,
    allow_redirects: bool,
    max_redirects: u32,
    timeout: Option<f64>,
    verify: Option<&'a Bound<'py, PyAny>>,
    proxy: Option<&'a Bound<'py, PyAny>>,
}

/// `proxy=`: a proxy URL for this request whatever its scheme, or `""` for none (the
/// environment's `http_proxy` and the like are then not used).
fn proxy_option(value: &Bound<'_, PyAny>) -> Result<ProxyChoice, BindingError> {
    let shown = || value.repr().map_or_else(|_| "?".into(), |r| r.to_string());
    let text: String = value
        .extract()
        .map_err(|_| BindingError::BadProxy(shown()))?;
    if text.trim().is_empty() {
        return Ok(ProxyChoice::Direct);
    }
    Proxy::parse(text.trim())
        .map(|proxy| ProxyChoice::Via(Arc::new(proxy)))
        .map_err(|e| BindingError::BadProxy(e.to_string()))
}

/// `verify=`: True, False, or the path (str or os.PathLike) of a CA bundle file or directory,
/// as requests takes it.
fn verify_option(value: &Bound<'_, PyAny>) -> Result<Verify, BindingError> {
    if let Ok(on) = value.extract::<bool>() {
        return Ok(if on { Verify::Default } else { Verify::Off });
    }
    match value.extract::<std::path::PathBuf>() {
        Ok(path) => Ok(Verify::Bundle(path.to_string_lossy().into())),
        Err(_) => Err(BindingError::BadVerify(
            value.repr().map_or_else(|_| "?".into(), |r| r.to_string()),
        )),
    }
}

fn string_pair(value: &Bound<'_, PyAny>) -> Option<(String, String)> {
    let tuple = value.cast::<PyTuple>().ok()?;
    if tuple.len() != 2 {
        return None;
    }
    Some((
        tuple.get_item(0).ok()?.extract().ok()?,
        tuple.get_item(1).ok()?.extract().ok()?,
    ))
}

fn header_pairs(headers: &Bound<'_, PyAny>) -> PyResult<Vec<(String, String)>> {
    let items = if headers.hasattr("items")? {
        headers.call_method0("items")?
    } else {
        headers.clone()
    };
    items
        .try_iter()?
        .map(|pair| {
            let pair = pair?;
            let name = pair.get_item(0)?.str()?.to_string();
            let value = pair.get_item(1)?.str()?.to_string();
            Ok((name, value))
        })
        .collect()
}

impl HttpSession {
    /// A fresh session (own cookie jar) for the journey context `ctx`.
    pub fn create(py: Python<'_>, ctx: Py<PyAny>) -> Self {
        let route = ctx
            .bind(py)
            .cast::<Context>()
            .ok()
            .and_then(|c| c.borrow().native_route())
            .map(|(bus, envelope)| NativeRoute { bus, envelope });
        HttpSession {
            ctx,
            jar: Arc::new(CookieJar::new()),
            route,
            additional_metrics: Mutex::new(None),
            callback: None,
        }
    }

    fn spec(
        &self,
        method: &str,
        args: &RequestArgs<'_, '_>,
    ) -> PyResult<(RequestSpec, Option<Vec<u8>>)> {
        let Ok(url) = args.url.cast::<PyString>() else {
            return Err(BindingError::UrlNotString.into());
        };
        let mut spec = RequestSpec::new(method, url.to_str()?);
        if let Some(headers) = args.headers.filter(|h| !h.is_none()) {
            spec.headers = Arc::new(header_pairs(headers)?);
        }
        if let Some(auth) = args.auth.filter(|a| !a.is_none()) {
            spec.basic_auth =
                Some(string_pair(auth).ok_or_else(|| BindingError::AuthNotPair(auth.to_string()))?);
        }
        if let Some(cert) = args.cert.filter(|c| !c.is_none()) {
            spec.client_cert =
                Some(string_pair(cert).ok_or_else(|| BindingError::CertNotPair(cert.to_string()))?);
        }
        let data = args.data.filter(|d| !d.is_none());
        let json = args.json.filter(|j| !j.is_none());
        let mut raw_body = None;
        check_body_options(data.is_some(), json.is_some()).map_err(BindingError::from)?;
        match (data, json) {
            (Some(data), _) => {
                let bytes = if let Ok(s) = data.cast::<PyString>() {
                    s.to_str()?.as_bytes().to_vec()
                } else if let Ok(b) = data.cast::<PyBytes>() {
                    b.as_bytes().to_vec()
                } else {
                    return Err(BindingError::DataNotBytes.into());
                };
                raw_body = Some(bytes.clone());
                spec.body = Body::Data(Bytes::from(bytes));
            }
            (None, Some(json)) => {
                let text = to_json(&to_value(json)?);
                raw_body = Some(text.as_bytes().to_vec());
                spec.body = Body::Json(Bytes::from(text));
            }
            (None, None) => {}
        }
        spec.allow_redirects = args.allow_redirects;
        spec.max_redirects = args.max_redirects;
        let defaults = RequestDefaults::get();
        spec.timeout = defaults.timeout(args.timeout).map_err(BindingError::from)?;
        spec.verify = match args.verify {
            Some(value) => verify_option(value)?,
            None if defaults.verify_tls => Verify::Default,
            None => Verify::Off,
        };
        spec.proxy = match args.proxy {
            Some(value) if !value.is_none() => proxy_option(value)?,
            _ => ProxyChoice::FromEnvironment,
        };
        Ok((spec, raw_body))
    }

    /// `cookies=`: each one joins the session's jar for the rest of the session.
    fn add_cookies(&self, url: &str, cookies: &Bound<'_, PyAny>) -> PyResult<()> {
        let Ok(dict) = cookies.cast::<PyDict>() else {
            return Err(BindingError::CookiesNotDict.into());
        };
        let parsed = Url::parse(url).ok();
        for (name, value) in dict.iter() {
            let name = name.str()?.to_string();
            let (value, domain) = if let Ok(s) = value.cast::<PyString>() {
                (s.to_string(), None)
            } else if value.hasattr("domain")? && value.hasattr("value")? {
                (
                    value.getattr("value")?.str()?.to_string(),
                    Some(value.getattr("domain")?.str()?.to_string()),
                )
            } else {
                return Err(BindingError::BadCookieValue.into());
            };
            if let Some(url) = &parsed {
                self.jar.add(url, &name, &value, domain.as_deref());
            }
        }
        Ok(())
    }

    fn metrics_dict(&self, py: Python<'_>) -> Py<PyAny> {
        let mut metrics = self
            .additional_metrics
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        metrics
            .get_or_insert_with(|| PyDict::new(py).into_any().unbind())
            .clone_ref(py)
    }

    /// `additional_metrics` as message fields.
    fn extra_fields(&self, py: Python<'_>) -> PyResult<Vec<(Arc<str>, Value)>> {
        let metrics = self
            .additional_metrics
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let Some(metrics) = metrics.as_ref().map(|m| m.clone_ref(py)) else {
            return Ok(Vec::new());
        };
        let Ok(dict) = metrics.bind(py).cast::<PyDict>().cloned() else {
            return Ok(Vec::new());
        };
        dict.iter()
            .map(|(k, v)| Ok((to_arc_str(k.cast::<PyString>()?)?, to_value(&v)?)))
            .collect()
    }

    fn submit(
        slf: &Bound<'_, Self>,
        method: &str,
        args: RequestArgs<'_, '_>,
    ) -> PyResult<Py<NativeFuture>> {
        let py = slf.py();
        let this = slf.borrow();
        let (spec, raw_body) = this.spec(method, &args)?;
        if let Some(cookies) = args.cookies.filter(|c| !c.is_none()) {
            this.add_cookies(&spec.url, cookies)?;
        }
        let driver = HttpDriver::current(py)?;
        let transaction = current_transaction(py)?;
        let fast = match (&this.route, &this.callback) {
            (Some(route), None) => Some((route.clone(), this.extra_fields(py)?)),
            _ => None,
        };
        let journey_context = match (&fast, this.ctx.bind(py).cast::<Context>()) {
            (None, Err(_)) => Some(contextvars::copy_current(py)?.unbind()),
            _ => None,
        };
        let future = Py::new(py, NativeFuture::new(driver.get().event_loop(py)))?;
        let id = driver.get().track(Box::new(InFlight {
            future: future.clone_ref(py),
            session: slf.clone().unbind(),
            transaction: transaction.clone(),
            metrics_sent: fast.is_some(),
            journey_context,
            auth: spec.basic_auth.clone(),
            body: raw_body,
            cert: spec.client_cert.clone(),
        }));
        let queue = driver.get().queue();
        let jar = this.jar.clone();
        let client = client().clone();
        let work: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async move {
            let exchange = client.execute(spec, jar).await;
            if let Some((route, extras)) = fast {
                send_metrics(&route, &exchange, &extras, transaction);
            }
            queue.push(Completion { id, exchange });
        });
        let (abort, registration) = AbortHandle::new_pair();
        HttpDriver::submit(&driver, Abortable::new(work, registration))?;
        let driver = driver.clone().unbind();
        future.borrow(py).set_on_cancel(Box::new(move || {
            abort.abort();
            driver.get().forget(id);
        }));
        Ok(future)
    }
}

/// Builds and sends the `http_metrics` of every response, on the tokio thread.
fn send_metrics(
    route: &NativeRoute,
    exchange: &Exchange,
    extras: &[(Arc<str>, Value)],
    transaction: Option<(Arc<str>, u64)>,
) {
    for response in &exchange.responses {
        let mut fields = http_metrics_fields(response);
        fields.extend(extras.iter().cloned());
        route.bus.send(Message {
            kind: keys::http_metrics(),
            time: response.finished_at,
            fields,
            envelope: route.envelope.clone(),
            transaction: transaction.clone(),
            has_transaction_keys: true,
        });
    }
}

impl AwaitingExchange for InFlight {
    fn complete(self: Box<Self>, py: Python<'_>, exchange: Exchange) {
        let future = self.future.clone_ref(py);
        let result = finish_exchange(py, *self, exchange);
        NativeFuture::resolve(future.bind(py), result);
    }
}

/// On the loop thread: the Python responses, the slow-path metrics, and the result or error.
fn finish_exchange(py: Python<'_>, in_flight: InFlight, exchange: Exchange) -> PyResult<Py<PyAny>> {
    // Most journeys' exchanges have no cookies and no options: those share one empty value.
    static NO_COOKIES: OnceLock<Arc<Vec<(String, String)>>> = OnceLock::new();
    static NO_OPTIONS: OnceLock<Arc<RequestOptions>> = OnceLock::new();
    let session = in_flight.session.bind(py).borrow();
    let cookies = if session.jar.is_empty() {
        NO_COOKIES.get_or_init(|| Arc::new(Vec::new())).clone()
    } else {
        Arc::new(session.jar.all())
    };
    let asked = match (&in_flight.auth, &in_flight.body, &in_flight.cert) {
        (None, None, None) => NO_OPTIONS
            .get_or_init(|| {
                Arc::new(RequestOptions {
                    auth: None,
                    body: None,
                    cert: None,
                })
            })
            .clone(),
        _ => Arc::new(RequestOptions {
            auth: in_flight.auth.clone(),
            body: in_flight.body.clone(),
            cert: in_flight.cert.clone(),
        }),
    };
    let mut responses: Vec<Py<Response>> = Vec::with_capacity(exchange.responses.len());
    for data in exchange.responses {
        let history = responses.iter().map(|r| r.clone_ref(py)).collect();
        responses.push(Py::new(
            py,
            Response::new(data, history, cookies.clone(), asked.clone()),
        )?);
    }
    if !in_flight.metrics_sent {
        for response in &responses {
            session.report(py, response, &in_flight)?;
        }
    }
    if let Some(error) = exchange.error {
        return Err(http_failure(py, &error));
    }
    match responses.pop() {
        Some(last) => Ok(last.into_any()),
        None => Err(BindingError::NoResponse.into()),
    }
}

impl HttpSession {
    /// The loop-thread `http_metrics`: response callback first, then the message.
    fn report(
        &self,
        py: Python<'_>,
        response: &Py<Response>,
        in_flight: &InFlight,
    ) -> PyResult<()> {
        if let Some(callback) = &self.callback {
            callback.call1(py, (response, self.metrics_dict(py)))?;
        }
        let mut fields = http_metrics_fields(response.bind(py).get().data());
        fields.extend(self.extra_fields(py)?);
        let ctx = self.ctx.bind(py);
        if let Ok(native) = ctx.cast::<Context>() {
            return native.borrow().send_fields(
                py,
                keys::http_metrics(),
                fields,
                in_flight.transaction.clone(),
            );
        }
        let kwargs = PyDict::new(py);
        for (key, value) in &fields {
            kwargs.set_item(&**key, to_py(py, value)?)?;
        }
        let send = ctx.getattr("send")?;
        match &in_flight.journey_context {
            Some(context) => {
                context
                    .bind(py)
                    .call_method("run", (send, "http_metrics"), Some(&kwargs))?
            }
            None => send.call(("http_metrics",), Some(&kwargs))?,
        };
        Ok(())
    }
}

macro_rules! http_methods {
    ($($name:ident => $method:literal),* $(,)?) => {
        #[pymethods]
        impl HttpSession {
            #[new]
            fn new(py: Python<'_>, ctx: Py<PyAny>) -> Self {
                Self::create(py, ctx)
            }

            /// Merged into every `http_metrics` message of this session.
            #[getter]
            fn additional_metrics(&self, py: Python<'_>) -> Py<PyAny> {
                self.metrics_dict(py)
            }

            #[setter]
            fn set_additional_metrics(&self, value: Py<PyAny>) {
                *self.additional_metrics.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
            }

            /// `cb(response, additional_metrics)` runs for every response before its
            /// `http_metrics` message is built.
            fn set_response_callback(&mut self, cb: Option<Py<PyAny>>) {
                self.callback = cb.filter(|c| !Python::attach(|py| c.is_none(py)));
            }

            /// `name → value` of the session's cookies.
            fn cookies<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
                let dict = PyDict::new(py);
                for (name, value) in self.jar.all() {
                    dict.set_item(name, value)?;
                }
                Ok(dict)
            }

            fn erase_all_cookies(&self) {
                self.jar.clear();
            }

            $(
                #[pyo3(signature = (
                    url, *, headers=None, cookies=None, auth=None, data=None, json=None,
                    cert=None, allow_redirects=true, max_redirects=5, timeout=None, verify=None,
                    proxy=None
                ))]
                #[allow(clippy::too_many_arguments)]
                fn $name(
                    slf: &Bound<'_, Self>,
                    url: &Bound<'_, PyAny>,
                    headers: Option<&Bound<'_, PyAny>>,
                    cookies: Option<&Bound<'_, PyAny>>,
                    auth: Option<&Bound<'_, PyAny>>,
                    data: Option<&Bound<'_, PyAny>>,
                    json: Option<&Bound<'_, PyAny>>,
                    cert: Option<&Bound<'_, PyAny>>,
                    allow_redirects: bool,
                    max_redirects: u32,
                    timeout: Option<f64>,
                    verify: Option<&Bound<'_, PyAny>>,
                    proxy: Option<&Bound<'_, PyAny>>,
                ) -> PyResult<Py<NativeFuture>> {
                    Self::submit(slf, $method, RequestArgs {
                        url, headers, cookies, auth, data, json, cert,
                        allow_redirects, max_redirects, timeout, verify, proxy,
                    })
                }
            )*
        }
    };
}

http_methods! {
    get => "GET",
    post => "POST",
    put => "PUT",
    patch => "PATCH",
    delete => "DELETE",
    head => "HEAD",
    options => "OPTIONS",
}
