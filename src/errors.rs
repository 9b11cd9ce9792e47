//! The Python exception classes the core raises or recognises, looked up once, and the
//! conversion of core errors into Python exceptions. mite's own classes are kept (they are
//! defined in Python, `mite.exceptions` and `mite.scenario`), so users' `except` clauses keep
//! working.

use std::path::Path;

use pyo3::exceptions::{
    PyAttributeError, PyException, PyOSError, PyOverflowError, PyRuntimeError, PyStopIteration,
    PySystemError, PySystemExit, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

use mite_core::collector::CollectorError;
use mite_core::http::{HttpError, HttpErrorKind, RequestOptionError, RuntimeError};
use mite_core::prometheus::{BucketsError, DumpError};
use mite_core::recorder::RecorderError;

macro_rules! python_class {
    ($(#[$doc:meta])* $name:ident = $module:literal . $attr:literal) => {
        $(#[$doc])*
        pub fn $name(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
            static CLASS: PyOnceLock<Py<PyType>> = PyOnceLock::new();
            CLASS.import(py, $module, $attr)
        }
    };
}

python_class!(
    /// `mite.exceptions.MiteError`: reported as `error` messages with its `fields`.
    mite_error = "mite.exceptions"."MiteError"
);
python_class!(
    /// `mite.exceptions.DataPoolExhausted` (a BaseException): a datapool has no more items.
    datapool_exhausted = "mite.exceptions"."DataPoolExhausted"
);
python_class!(
    /// `mite.scenario.StopVolumeModel`: a volume model ends its scenario.
    stop_volume_model = "mite.scenario"."StopVolumeModel"
);
python_class!(
    /// `asyncio.CancelledError`.
    cancelled_error = "asyncio"."CancelledError"
);

/// A new `DataPoolExhausted()` to raise.
pub fn new_datapool_exhausted(py: Python<'_>) -> PyErr {
    match datapool_exhausted(py) {
        Ok(class) => PyErr::from_type(class.clone(), ()),
        Err(e) => e,
    }
}

/// One line describing a Python exception: `TypeError: message` (the last line of
/// `traceback.format_exception_only`), for error output that must not be a traceback.
pub fn one_line(py: Python<'_>, err: &PyErr) -> String {
    let value = err.value(py);
    let name = value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "Exception".into());
    let text = value.str().map(|s| s.to_string()).unwrap_or_default();
    let text = text.lines().last().unwrap_or("").trim();
    if text.is_empty() {
        name
    } else {
        format!("{name}: {text}")
    }
}

/// `asyncio.InvalidStateError(message)`, as futures raise it.
pub fn invalid_state(py: Python<'_>, message: &str) -> PyErr {
    match py
        .import("asyncio")
        .and_then(|m| m.getattr("InvalidStateError"))
    {
        Ok(class) => PyErr::from_value(class.call1((message,)).unwrap_or(class)),
        Err(e) => e,
    }
}

// --- Errors the bindings raise, each with its Python class ------------------------------------

/// A failure of the bindings or of a core call they made, as one enum: [`From`] gives each
/// variant its Python class, so no other module picks exception classes.
#[derive(Debug, thiserror::Error)]
pub enum BindingError {
    // ValueError: a request option or a value of the wrong shape.
    #[error("url must be a string")]
    UrlNotString,
    #[error("auth must be a 2-tuple of strings but it was: {0}")]
    AuthNotPair(String),
    #[error("cert must be a 2-tuple of strings but it was: {0}")]
    CertNotPair(String),
    #[error("verify must be True, False or the path of a CA bundle but it was: {0}")]
    BadVerify(String),
    #[error("proxy must be a proxy URL (http://HOST:PORT) or \"\" for none but it was: {0}")]
    BadProxy(String),
    #[error("data must be str or bytes")]
    DataNotBytes,
    #[error("cookies must be a dict")]
    CookiesNotDict,
    #[error("cookie value must be string or Cookie class")]
    BadCookieValue,
    #[error(transparent)]
    RequestOption(#[from] RequestOptionError),
    #[error("recursion limit exceeded")]
    TooDeep,
    #[error(transparent)]
    StatsDump(#[from] DumpError),
    #[error(transparent)]
    Buckets(#[from] BucketsError),
    // TypeError: a value of the wrong type.
    #[error("returned {0}, which is not a number")]
    VolumeNotANumber(String),
    #[error("an arrival rate needs {0}")]
    BadArrivalRate(String),
    #[error("message type must be a str, not {0}")]
    MessageTypeNotStr(String),
    #[error("can not serialize '{0}' object")]
    NotSerializable(String),
    // OverflowError
    #[error("Integer value out of range")]
    IntegerOutOfRange,
    // AttributeError
    #[error("'Context' object has no attribute 'http'")]
    NoHttp,
    #[error("http")]
    NoHttpToDelete,
    // RuntimeError: called at the wrong time.
    #[error("ctx.http requests need a running event loop")]
    NoRunningLoop,
    #[error("the request produced no response")]
    NoResponse,
    #[error("transaction entered twice")]
    TransactionEnteredTwice,
    #[error("transaction exited without being entered")]
    TransactionNotEntered,
    #[error("the selector is closed")]
    SelectorClosed,
    #[error("Task got bad yield: {0}")]
    BadYield(String),
    #[error(transparent)]
    HttpRuntime(#[from] RuntimeError),
    // Exception: mite's own message for a recyclable pool with every item out.
    #[error("Recyclable iterable datapool was emptied!")]
    RecyclableEmptied,
    // OSError (or the subclass its errno selects): the file or system call that failed.
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        source: std::io::Error,
    },
    #[error("bad selector descriptor {0}")]
    BadDescriptor(i32),
    #[error(transparent)]
    Recorder(#[from] RecorderError),
    #[error(transparent)]
    Collector(#[from] CollectorError),
    // OSError with libzmq's errno.
    #[error("{what}: {source}")]
    Socket { what: String, source: zmq::Error },
}

impl BindingError {
    pub fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> BindingError {
        move |source| BindingError::Io { what, source }
    }
}

/// `OSError(errno, text[, filename])`: Python turns a known errno into its subclass
/// (`FileNotFoundError`, `PermissionError`, ...).
fn os_error(source: &std::io::Error, text: String, path: Option<&Path>) -> PyErr {
    let errno = source.raw_os_error().unwrap_or(0);
    match path {
        Some(path) => PyOSError::new_err((errno, text, path.display().to_string())),
        None if errno == 0 => PyOSError::new_err(text),
        None => PyOSError::new_err((errno, text)),
    }
}

impl From<BindingError> for PyErr {
    fn from(error: BindingError) -> PyErr {
        use BindingError as E;
        let text = error.to_string();
        match &error {
            E::UrlNotString
            | E::AuthNotPair(_)
            | E::CertNotPair(_)
            | E::BadVerify(_)
            | E::BadProxy(_)
            | E::DataNotBytes
            | E::CookiesNotDict
            | E::BadCookieValue
            | E::RequestOption(_)
            | E::TooDeep
            | E::StatsDump(_)
            | E::Buckets(_) => PyValueError::new_err(text),
            E::VolumeNotANumber(_)
            | E::BadArrivalRate(_)
            | E::MessageTypeNotStr(_)
            | E::NotSerializable(_) => PyTypeError::new_err(text),
            E::IntegerOutOfRange => PyOverflowError::new_err(text),
            E::NoHttp | E::NoHttpToDelete => PyAttributeError::new_err(text),
            E::NoRunningLoop
            | E::NoResponse
            | E::TransactionEnteredTwice
            | E::TransactionNotEntered
            | E::SelectorClosed
            | E::BadYield(_)
            | E::HttpRuntime(_) => PyRuntimeError::new_err(text),
            E::RecyclableEmptied => PyException::new_err(text),
            E::Io { source, .. } => os_error(source, text, None),
            E::BadDescriptor(_) => PyOSError::new_err((libc::EBADF, text)),
            E::Recorder(
                RecorderError::CreateDir { path, source }
                | RecorderError::Write { path, source }
                | RecorderError::Delete { path, source },
            ) => os_error(source, text, Some(path)),
            E::Recorder(_) => PyValueError::new_err(text),
            E::Collector(
                CollectorError::CreateDir { path, source } | CollectorError::Io { path, source },
            ) => os_error(source, text, Some(path)),
            E::Collector(_) => PyValueError::new_err(text),
            E::Socket { source, .. } => PyOSError::new_err((source.to_raw(), text)),
        }
    }
}

// --- The await protocol and asyncio's own exceptions ------------------------------------------

/// `StopIteration(value)`: how an awaitable's `__next__`/`send` returns its result.
pub fn stop_iteration(value: Py<PyAny>) -> PyErr {
    PyStopIteration::new_err((value,))
}

/// Raises an exception object that already exists (a stored result, a `throw()` argument).
pub fn reraise(exception: Bound<'_, PyAny>) -> PyErr {
    PyErr::from_value(exception)
}

/// `asyncio.CancelledError(message)` (no arguments when there is no message).
pub fn new_cancelled(py: Python<'_>, message: Option<Py<PyAny>>) -> PyErr {
    match cancelled_error(py) {
        Ok(class) => match message {
            Some(m) => PyErr::from_type(class.clone(), (m,)),
            None => PyErr::from_type(class.clone(), ()),
        },
        Err(e) => e,
    }
}

/// `SystemExit(code)`: ends the run (`--debugging` after the post-mortem).
pub fn system_exit(code: i32) -> PyErr {
    PySystemExit::new_err(code)
}

/// A Rust panic caught at the C boundary of `am_send`.
pub fn panic_in_send() -> PyErr {
    PySystemError::new_err("panic in am_send")
}

python_class!(
    /// `mite_http.exceptions.HttpError`.
    http_error = "mite_http.exceptions"."HttpError"
);
python_class!(
    /// `mite_http.exceptions.RequestError` (too many redirects, as acurl).
    request_error = "mite_http.exceptions"."RequestError"
);

/// The `mite_http` exception for a failed exchange (as acurl raises them).
pub fn http_failure(py: Python<'_>, error: &HttpError) -> PyErr {
    let class = match error.kind {
        HttpErrorKind::MaxRedirects => request_error(py),
        _ => http_error(py),
    };
    match class {
        Ok(class) => PyErr::from_type(class.clone(), (error.to_string(),)),
        Err(e) => e,
    }
}
