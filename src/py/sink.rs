//! Where a native Context's messages go: the Rust bus, plus any Python message processors the
//! user installed (`--message-processors`), which run synchronously in `ctx.send` as in mite
//! and only then cost a dict per message.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use super::convert::{to_arc_str, to_py, to_value};
use mite_core::bus::BusSender;
use mite_core::clock::unix_time;
use mite_core::messages::Message;

/// The send function of the runner's contexts. Calling it with a dict (mite's `send_fn(msg)`
/// protocol) also works, so it can be handed to Python code as a plain callable.
#[pyclass(frozen, module = "mite._mite")]
pub struct MessageSink {
    bus: BusSender,
    /// Processors with `process_message(dict)`.
    dict_listeners: Vec<Py<PyAny>>,
    /// Processors with `process_raw_message(bytes)`.
    raw_listeners: Vec<Py<PyAny>>,
}

impl MessageSink {
    pub fn new(
        bus: BusSender,
        dict_listeners: Vec<Py<PyAny>>,
        raw_listeners: Vec<Py<PyAny>>,
    ) -> Self {
        MessageSink {
            bus,
            dict_listeners,
            raw_listeners,
        }
    }

    /// The bus, when no Python processor needs to see messages: then messages can be sent
    /// from any thread without the GIL.
    pub fn bus_only(&self) -> Option<BusSender> {
        (self.dict_listeners.is_empty() && self.raw_listeners.is_empty()).then(|| self.bus.clone())
    }

    /// Delivers one message: Python processors first (their exceptions reach the sender, as
    /// in mite's test mode), then the Rust bus.
    pub fn deliver(&self, py: Python<'_>, msg: Message) -> PyResult<()> {
        self.deliver_to_python(py, &msg, None)?;
        self.bus.send(msg);
        Ok(())
    }

    /// The Python processors' part of a delivery; `encoded` is the message's msgpack when
    /// it is at hand.
    fn deliver_to_python(
        &self,
        py: Python<'_>,
        msg: &Message,
        encoded: Option<&[u8]>,
    ) -> PyResult<()> {
        if !self.dict_listeners.is_empty() {
            let dict = message_to_dict(py, msg)?;
            for listener in &self.dict_listeners {
                listener.call1(py, (&dict,))?;
            }
        }
        if !self.raw_listeners.is_empty() {
            let mut raw = Vec::new();
            let raw = match encoded {
                Some(encoded) => encoded,
                None => {
                    msg.encode(&mut raw);
                    &raw
                }
            };
            let bytes = PyBytes::new(py, raw);
            for listener in &self.raw_listeners {
                listener.call1(py, (&bytes,))?;
            }
        }
        Ok(())
    }

    /// Delivers a message that arrived from another process as `frame`: the Python raw
    /// processors and the bus's encoding readers get the frame itself.
    pub fn deliver_frame(&self, py: Python<'_>, msg: Message, frame: &[u8]) -> PyResult<()> {
        let delivered = self.deliver_to_python(py, &msg, Some(frame));
        self.bus.send_encoded(msg, frame.to_vec());
        delivered
    }
}

#[pymethods]
impl MessageSink {
    /// `sink(msg_dict)`: sends a ready-made message, e.g. from a scenario's `sender`.
    fn __call__(&self, py: Python<'_>, msg: &Bound<'_, PyDict>) -> PyResult<()> {
        self.deliver(py, dict_to_message(msg)?)
    }

    /// mite's `Sender.send(msg)`.
    fn send(&self, py: Python<'_>, msg: &Bound<'_, PyDict>) -> PyResult<()> {
        self.deliver(py, dict_to_message(msg)?)
    }
}

/// The message as the dict mite's processors receive.
pub fn message_to_dict<'py>(py: Python<'py>, msg: &Message) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (key, value) in msg.entries() {
        dict.set_item(key, to_py(py, &value)?)?;
    }
    Ok(dict)
}

/// A message dict built elsewhere (not by `ctx.send`), kept field for field.
pub fn dict_to_message(msg: &Bound<'_, PyDict>) -> PyResult<Message> {
    let mut kind = None;
    let mut time = None;
    let mut fields = Vec::with_capacity(msg.len());
    for (key, value) in msg.iter() {
        let key = to_arc_str(key.cast()?)?;
        match &*key {
            "type" => kind = Some(value.str()?.to_str()?.into()),
            "time" => time = value.extract::<f64>().ok(),
            _ => fields.push((key, to_value(&value)?)),
        }
    }
    let mut message = Message::bare(
        kind.unwrap_or_else(|| "".into()),
        time.unwrap_or_else(unix_time),
    );
    message.fields = fields;
    Ok(message)
}
