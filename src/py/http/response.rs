//! `Response` (acurl's attributes, built lazily from the Rust response) and its `Request`.

use pyo3::exceptions::PyDeprecationWarning;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple, PyType};

use std::sync::Arc;

use mite_core::http::{CurlRequest, ResponseData, SentHeaders};

fn headers_class(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    static CLASS: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    CLASS.import(py, "mite_http.headers", "Headers")
}

/// What was asked for, as `response.request` shows it.
#[pyclass(frozen, module = "mite_http", name = "Request")]
pub struct Request {
    method: Arc<str>,
    url: Arc<str>,
    headers: SentHeaders,
    auth: Option<(String, String)>,
    data: Option<Vec<u8>>,
    cert: Option<(String, String)>,
}

/// What the journey passed besides the URL, shared by the responses of one exchange.
pub struct RequestOptions {
    pub auth: Option<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub cert: Option<(String, String)>,
}

impl Request {
    fn new(data: &ResponseData, options: &RequestOptions) -> Self {
        Request {
            method: data.method.clone(),
            url: data.url.clone(),
            headers: data.request_headers.clone(),
            auth: options.auth.clone(),
            data: options.body.clone(),
            cert: options.cert.clone(),
        }
    }

    fn cookie_pairs(&self) -> Vec<(String, String)> {
        self.headers.cookie_pairs()
    }
}

#[pymethods]
impl Request {
    /// The method as bytes (`b"GET"`), as acurl has it.
    #[getter]
    fn method<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.method.as_bytes())
    }

    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (name, value) in self.headers.pairs() {
            dict.set_item(name, value)?;
        }
        Ok(dict)
    }

    #[getter]
    fn cookies<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (name, value) in self.cookie_pairs() {
            dict.set_item(name, value)?;
        }
        Ok(dict)
    }

    #[getter]
    fn auth(&self) -> Option<(String, String)> {
        self.auth.clone()
    }

    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.data.as_ref().map(|d| PyBytes::new(py, d))
    }

    #[getter]
    fn cert(&self) -> Option<(String, String)> {
        self.cert.clone()
    }

    /// The request as a shell-quoted curl command line.
    fn to_curl(&self) -> String {
        CurlRequest {
            method: &self.method,
            url: &self.url,
            headers: &self.headers.pairs(),
            auth: self.auth.as_ref().map(|(u, p)| (u.as_str(), p.as_str())),
            body: self.data.as_deref(),
            cert: self.cert.as_ref().map(|(k, c)| (k.as_str(), c.as_str())),
        }
        .command()
    }

    fn __repr__(&self) -> String {
        format!("<Request {} {}>", self.method, self.url)
    }
}

/// One HTTP response. Python values are made on access, so a journey that only checks
/// `status_code` never pays for headers or text.
#[pyclass(frozen, module = "mite_http", name = "Response")]
pub struct Response {
    data: ResponseData,
    history: Vec<Py<Response>>,
    /// The session's cookies after this exchange.
    cookies: Arc<Vec<(String, String)>>,
    options: Arc<RequestOptions>,
}

impl Response {
    pub fn new(
        data: ResponseData,
        history: Vec<Py<Response>>,
        cookies: Arc<Vec<(String, String)>>,
        options: Arc<RequestOptions>,
    ) -> Self {
        Response {
            data,
            history,
            cookies,
            options,
        }
    }

    pub fn data(&self) -> &ResponseData {
        &self.data
    }

    fn charset(&self) -> String {
        self.data.charset()
    }
}

#[pymethods]
impl Response {
    #[getter]
    fn status_code(&self) -> u16 {
        self.data.status
    }

    /// Deprecated alias of `status_code` (acurl warns too).
    #[getter]
    fn response_code(&self, py: Python<'_>) -> PyResult<u16> {
        PyErr::warn(
            py,
            &py.get_type::<PyDeprecationWarning>(),
            c"response_code is deprecated, use status_code",
            1,
        )?;
        Ok(self.data.status)
    }

    #[getter]
    fn url(&self) -> &str {
        &self.data.url
    }

    /// The protocol the response came over: `HTTP/1.1` or `HTTP/2.0`.
    #[getter]
    fn http_version(&self) -> &'static str {
        self.data.version
    }

    #[getter]
    fn redirect_url(&self) -> Option<&str> {
        self.data.redirect_url.as_deref()
    }

    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        headers_class(py)?.call1((self.headers_tuple(py)?,))
    }

    #[getter]
    fn headers_tuple<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let pairs = self
            .data
            .header_pairs()
            .map(|(n, v)| PyTuple::new(py, [n, v.as_str()]))
            .collect::<PyResult<Vec<_>>>()?;
        PyTuple::new(py, pairs)
    }

    /// The header block as text (status line and headers).
    #[getter]
    fn header(&self) -> String {
        let mut text = format!("{} {}\r\n", self.data.version, self.data.status);
        for (name, value) in self.data.header_pairs() {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str("\r\n");
        text
    }

    #[getter]
    fn body<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.data.body)
    }

    /// Alias of `body`, as in requests.
    #[getter]
    fn content<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        self.body(py)
    }

    #[getter]
    fn encoding(&self) -> String {
        self.charset()
    }

    /// The body decoded with `encoding`.
    #[getter]
    fn text<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        if self.charset().eq_ignore_ascii_case("utf-8") {
            if let Ok(text) = std::str::from_utf8(&self.data.body) {
                return Ok(text.into_pyobject(py)?.into_any());
            }
        }
        self.body(py).call_method1("decode", (self.charset(),))
    }

    /// `json.loads(body)`.
    fn json<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        static LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let loads = LOADS.get_or_try_init(py, || {
            Ok::<_, PyErr>(py.import("json")?.getattr("loads")?.unbind())
        })?;
        loads.bind(py).call1((self.body(py),))
    }

    /// Cookies of the session's jar after this response.
    #[getter]
    fn cookies<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (name, value) in self.cookies.iter() {
            dict.set_item(name, value)?;
        }
        Ok(dict)
    }

    /// Earlier responses of a redirect chain, oldest first.
    #[getter]
    fn history<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.history.iter().map(|r| r.clone_ref(py)))
    }

    #[getter]
    fn request(&self, py: Python<'_>) -> PyResult<Py<Request>> {
        Py::new(py, Request::new(&self.data, &self.options))
    }

    #[getter]
    fn start_time(&self) -> i64 {
        self.data.start_time
    }

    #[getter]
    fn namelookup_time(&self) -> f64 {
        self.data.timings.namelookup
    }

    #[getter]
    fn connect_time(&self) -> f64 {
        self.data.timings.connect
    }

    #[getter]
    fn appconnect_time(&self) -> f64 {
        self.data.timings.appconnect
    }

    #[getter]
    fn pretransfer_time(&self) -> f64 {
        self.data.timings.pretransfer
    }

    #[getter]
    fn starttransfer_time(&self) -> f64 {
        self.data.timings.starttransfer
    }

    #[getter]
    fn total_time(&self) -> f64 {
        self.data.timings.total
    }

    #[getter]
    fn download_size(&self) -> f64 {
        self.data.download_size as f64
    }

    #[getter]
    fn upload_size(&self) -> f64 {
        self.data.upload_size as f64
    }

    #[getter]
    fn primary_ip(&self) -> &str {
        &self.data.primary_ip
    }

    fn __repr__(&self) -> String {
        format!("<Response [{}] {}>", self.data.status, self.data.url)
    }
}
