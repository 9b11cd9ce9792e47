//! `mite._mite.ZmqSocket`: the ZeroMQ socket under `mite.zmq` (PUSH, PULL, REQ, REP), so the
//! Python transport classes work without pyzmq. Blocking calls release the GIL and wake every
//! [`POLL_INTERVAL`] to let Ctrl-C through.

use std::sync::{LazyLock, Mutex, MutexGuard};

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::BindingError;
use mite_core::wire::{check_endpoint, POLL_INTERVAL};

/// One libzmq context per process, as pyzmq's `zmq.Context.instance()`.
static CONTEXT: LazyLock<zmq::Context> = LazyLock::new(zmq::Context::new);

fn failed(what: String) -> impl FnOnce(zmq::Error) -> BindingError {
    move |source| BindingError::Socket { what, source }
}

#[pyclass(frozen, module = "mite._mite")]
pub struct ZmqSocket {
    socket: Mutex<Option<zmq::Socket>>,
    kind: &'static str,
}

impl ZmqSocket {
    fn socket(&self) -> Result<MutexGuard<'_, Option<zmq::Socket>>, BindingError> {
        let guard = self.socket.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            return Err(BindingError::Socket {
                what: format!("{} socket", self.kind),
                source: zmq::Error::ENOTSOCK,
            });
        }
        Ok(guard)
    }
}

#[pymethods]
impl ZmqSocket {
    /// `kind`: "PUSH", "PULL", "REQ" or "REP".
    #[new]
    fn new(kind: &str) -> PyResult<Self> {
        let (kind, socket_type) = match kind {
            "PUSH" => ("PUSH", zmq::PUSH),
            "PULL" => ("PULL", zmq::PULL),
            "REQ" => ("REQ", zmq::REQ),
            "REP" => ("REP", zmq::REP),
            other => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "unsupported socket type {other:?} (PUSH, PULL, REQ or REP)"
                )))
            }
        };
        let socket = CONTEXT
            .socket(socket_type)
            .map_err(failed(format!("{kind} socket")))?;
        let poll = POLL_INTERVAL.as_millis() as i32;
        let what = || format!("{kind} socket");
        socket.set_rcvtimeo(poll).map_err(failed(what()))?;
        socket.set_sndtimeo(poll).map_err(failed(what()))?;
        socket.set_linger(2_000).map_err(failed(what()))?;
        Ok(ZmqSocket {
            socket: Mutex::new(Some(socket)),
            kind,
        })
    }

    fn bind(&self, address: &str) -> PyResult<()> {
        check_endpoint(address)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
        let guard = self.socket()?;
        let socket = guard.as_ref().expect("checked");
        socket
            .bind(address)
            .map_err(failed(format!("cannot bind {address}")))?;
        Ok(())
    }

    fn connect(&self, address: &str) -> PyResult<()> {
        check_endpoint(address)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
        let guard = self.socket()?;
        let socket = guard.as_ref().expect("checked");
        socket
            .connect(address)
            .map_err(failed(format!("cannot connect to {address}")))?;
        Ok(())
    }

    /// Queues one frame. Waits while the peer's queue is full (or no peer is connected,
    /// for PUSH), unless `nonblocking`: then returns False instead of waiting.
    #[pyo3(signature = (data, nonblocking=false))]
    fn send(&self, py: Python<'_>, data: &[u8], nonblocking: bool) -> PyResult<bool> {
        // `&mut` so the closure that runs without the GIL may take it (a socket is not Sync).
        let mut guard = self.socket()?;
        let socket = guard.as_mut().expect("checked");
        let flags = if nonblocking { zmq::DONTWAIT } else { 0 };
        loop {
            let socket: &mut zmq::Socket = &mut *socket;
            match py.detach(move || socket.send(data, flags)) {
                Ok(()) => return Ok(true),
                Err(zmq::Error::EAGAIN) if nonblocking => return Ok(false),
                Err(zmq::Error::EAGAIN | zmq::Error::EINTR) => py.check_signals()?,
                Err(e) => return Err(failed(format!("{} send", self.kind))(e).into()),
            }
        }
    }

    /// The next frame, waiting as long as it takes (Ctrl-C interrupts).
    fn recv<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let mut guard = self.socket()?;
        let socket = guard.as_mut().expect("checked");
        loop {
            let socket: &mut zmq::Socket = &mut *socket;
            match py.detach(move || socket.recv_bytes(0)) {
                Ok(frame) => return Ok(PyBytes::new(py, &frame)),
                Err(zmq::Error::EAGAIN | zmq::Error::EINTR) => py.check_signals()?,
                Err(e) => return Err(failed(format!("{} receive", self.kind))(e).into()),
            }
        }
    }

    fn close(&self) {
        self.socket.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    #[getter]
    fn kind(&self) -> &'static str {
        self.kind
    }
}
