//! `mite.context.Context`: what a journey gets as `ctx`.
//!
//! A Context made by the runner sends through a native [`MessageSink`]: `ctx.send` walks the
//! keyword arguments once into a Rust message, with no dict. A Context made by user code with
//! a Python `send_fn` behaves exactly as mite's: it builds the dict and calls the function.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use super::active_transaction::{active_transaction_pair, current_transaction};
use super::convert::{to_arc_str, to_value};
use super::sink::MessageSink;
use crate::bridge::awaitable::Ready;
use crate::bridge::gil_shared::GilShared;
use crate::errors::BindingError;
use mite_core::bus::BusSender;
use mite_core::clock::unix_time;
use mite_core::messages::{keys, Envelope, Message, Value};

enum SendTarget {
    Native(Py<MessageSink>),
    Python(Py<PyAny>),
}

enum StopSource {
    Never,
    Flag(Arc<AtomicBool>),
    Function(Py<PyAny>),
}

/// The journey context. Instances take arbitrary attributes (`ctx.http`, fixtures, …).
#[pyclass(dict, subclass, module = "mite.context", name = "Context")]
pub struct Context {
    target: SendTarget,
    config: Py<PyAny>,
    /// mite's `id_data`, as given (Python path) …
    id_data: Option<Py<PyDict>>,
    /// … and as message fields (native path).
    envelope: Option<Arc<Envelope>>,
    stop: StopSource,
    debug: bool,
    next_transaction_id: AtomicU64,
    /// `ctx.http`, which `@mite_http` sets and removes around every journey: a slot of its
    /// own rather than an entry in the instance dict, which would be created for it each time.
    http: GilShared<RefCell<Option<Py<PyAny>>>>,
}

impl Context {
    /// A context for one journey execution in the runner.
    pub fn for_journey(
        sink: Py<MessageSink>,
        config: Py<PyAny>,
        envelope: Arc<Envelope>,
        stop: Arc<AtomicBool>,
        debug: bool,
    ) -> Self {
        Context {
            target: SendTarget::Native(sink),
            config,
            id_data: None,
            envelope: Some(envelope),
            stop: StopSource::Flag(stop),
            debug,
            next_transaction_id: AtomicU64::new(1),
            http: GilShared::default(),
        }
    }

    /// Where messages can go straight from Rust (any thread): the bus and the envelope, when
    /// this context sends natively and no Python processor is installed.
    pub fn native_route(&self) -> Option<(BusSender, Option<Arc<Envelope>>)> {
        match &self.target {
            SendTarget::Native(sink) => sink
                .get()
                .bus_only()
                .map(|bus| (bus, self.envelope.clone())),
            SendTarget::Python(_) => None,
        }
    }

    pub fn next_transaction_id(&self) -> u64 {
        self.next_transaction_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn debug(&self) -> bool {
        self.debug
    }

    /// Sets (`Some`) or removes (`None`) `ctx.http`, returning what it was.
    pub fn replace_http(&self, session: Option<Py<PyAny>>) -> Option<Py<PyAny>> {
        self.http.replace(session)
    }

    /// Sends a message built in Rust (`txn`, `error`, …) with the envelope and the given
    /// transaction, taking the Python path when the send function is Python.
    pub fn send_fields(
        &self,
        py: Python<'_>,
        kind: Arc<str>,
        fields: Vec<(Arc<str>, Value)>,
        transaction: Option<(Arc<str>, u64)>,
    ) -> PyResult<()> {
        self.send_fields_at(py, unix_time(), kind, fields, transaction)
    }

    /// [`Context::send_fields`] with the message's `time` already read (a `txn` message's is
    /// its `end_time`).
    pub fn send_fields_at(
        &self,
        py: Python<'_>,
        time: f64,
        kind: Arc<str>,
        fields: Vec<(Arc<str>, Value)>,
        transaction: Option<(Arc<str>, u64)>,
    ) -> PyResult<()> {
        let msg = Message {
            kind,
            time,
            fields,
            envelope: self.envelope.clone(),
            transaction,
            has_transaction_keys: true,
        };
        match &self.target {
            SendTarget::Native(sink) => sink.get().deliver(py, msg),
            SendTarget::Python(send_fn) => {
                let dict = PyDict::new(py);
                for (key, value) in &msg.fields {
                    dict.set_item(&**key, super::convert::to_py(py, value)?)?;
                }
                self.finish_python_message(py, send_fn, dict, &msg.kind, msg.time, msg.transaction)
            }
        }
    }

    /// Adds mite's envelope keys to a user dict and calls the Python send function.
    fn finish_python_message(
        &self,
        py: Python<'_>,
        send_fn: &Py<PyAny>,
        dict: Bound<'_, PyDict>,
        kind: &str,
        time: f64,
        transaction: Option<(Arc<str>, u64)>,
    ) -> PyResult<()> {
        dict.set_item(keys::type_().as_ref(), kind)?;
        dict.set_item(keys::time().as_ref(), time)?;
        if let Some(id_data) = &self.id_data {
            dict.update(id_data.bind(py).as_mapping())?;
        } else if let Some(envelope) = &self.envelope {
            for (key, value) in &envelope.entries {
                dict.set_item(&**key, super::convert::to_py(py, value)?)?;
            }
        }
        let (name, id) = match transaction {
            Some((name, id)) => (Some(name.to_string()), Some(id)),
            None => (None, None),
        };
        dict.set_item("transaction", name)?;
        dict.set_item("transaction_id", id)?;
        send_fn.call1(py, (dict,))?;
        Ok(())
    }
}

#[pymethods]
impl Context {
    #[new]
    #[pyo3(signature = (send_fn, config, id_data=None, should_stop_func=None, debug=false))]
    fn new(
        py: Python<'_>,
        send_fn: Bound<'_, PyAny>,
        config: Py<PyAny>,
        id_data: Option<Bound<'_, PyAny>>,
        should_stop_func: Option<Py<PyAny>>,
        debug: bool,
    ) -> PyResult<Self> {
        let target = match send_fn.cast::<MessageSink>() {
            Ok(sink) => SendTarget::Native(sink.clone().unbind()),
            Err(_) => SendTarget::Python(send_fn.unbind()),
        };
        let id_data = match id_data {
            Some(d) if !d.is_none() => Some(d.cast_into::<PyDict>()?.copy()?),
            _ => None,
        };
        // The native path needs the id data as message fields; a value msgpack cannot hold
        // is an error there, exactly as it would be when mite packs the message.
        let envelope = match (&target, &id_data) {
            (SendTarget::Native(_), Some(d)) => Some(Arc::new(Envelope::new(
                d.iter()
                    .map(|(k, v)| Ok((to_arc_str(k.cast()?)?, to_value(&v)?)))
                    .collect::<PyResult<_>>()?,
            ))),
            _ => None,
        };
        let _ = py;
        Ok(Context {
            target,
            config,
            id_data: id_data.map(Bound::unbind),
            envelope,
            stop: match should_stop_func {
                Some(f) if !f.is_none(py) => StopSource::Function(f),
                _ => StopSource::Never,
            },
            debug,
            next_transaction_id: AtomicU64::new(1),
            http: GilShared::default(),
        })
    }

    /// The configuration given at construction (in the runner, a dict shared by all
    /// journeys).
    #[getter]
    fn config(&self, py: Python<'_>) -> Py<PyAny> {
        self.config.clone_ref(py)
    }

    /// The journey's HTTP session, while an `@mite_http` journey runs.
    #[getter]
    fn http(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.http
            .borrow()
            .as_ref()
            .map(|session| session.clone_ref(py))
            .ok_or_else(|| BindingError::NoHttp.into())
    }

    #[setter]
    fn set_http(&self, session: Py<PyAny>) {
        self.replace_http(Some(session));
    }

    #[deleter]
    fn delete_http(&self) -> PyResult<()> {
        match self.replace_http(None) {
            Some(_) => Ok(()),
            None => Err(BindingError::NoHttpToDelete.into()),
        }
    }

    /// `(full name, id)` of the current task's innermost transaction, `(None, None)` outside
    /// one (mite's, which its tests read).
    #[getter(_active_transaction)]
    fn active_transaction<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        active_transaction_pair(py)
    }

    /// True once the test is stopping: no new journeys will be started.
    #[getter]
    fn should_stop(&self, py: Python<'_>) -> PyResult<bool> {
        match &self.stop {
            StopSource::Never => Ok(false),
            StopSource::Flag(flag) => Ok(flag.load(Ordering::Relaxed)),
            StopSource::Function(f) => f.call0(py)?.bind(py).is_truthy(),
        }
    }

    /// `ctx.send(type, **fields)`: sends one message. Returns an awaitable that is already
    /// done, so `await ctx.send(...)` works as well.
    #[pyo3(signature = (r#type, **fields))]
    fn send(
        &self,
        py: Python<'_>,
        r#type: Bound<'_, PyAny>,
        fields: Option<Bound<'_, PyDict>>,
    ) -> PyResult<Py<Ready>> {
        let transaction = current_transaction(py)?;
        match &self.target {
            SendTarget::Native(sink) => {
                let kind = match r#type.cast::<PyString>() {
                    Ok(s) => to_arc_str(s)?,
                    Err(_) => {
                        let name = r#type.get_type().name()?.to_string();
                        return Err(BindingError::MessageTypeNotStr(name).into());
                    }
                };
                let envelope = self.envelope.as_deref();
                let mut values = Vec::with_capacity(fields.as_ref().map_or(0, |f| f.len()));
                if let Some(fields) = &fields {
                    for (key, value) in fields.iter() {
                        let key = to_arc_str(key.cast()?)?;
                        if keys::is_reserved(&key) || envelope.is_some_and(|e| e.contains(&key)) {
                            continue;
                        }
                        values.push((key, to_value(&value)?));
                    }
                }
                let msg = Message {
                    kind,
                    time: unix_time(),
                    fields: values,
                    envelope: self.envelope.clone(),
                    transaction,
                    has_transaction_keys: true,
                };
                sink.get().deliver(py, msg)?;
            }
            SendTarget::Python(send_fn) => {
                let dict = match fields {
                    Some(f) => f.copy()?,
                    None => PyDict::new(py),
                };
                let kind = r#type.str()?;
                self.finish_python_message(
                    py,
                    send_fn,
                    dict,
                    kind.to_str()?,
                    unix_time(),
                    transaction,
                )?;
            }
        }
        Ok(Ready::none(py))
    }
}
