//! Messages on the bus: the msgpack data model, the message envelope, and the wire encoding.
//!
//! Everything a journey reports (`txn`, `error`, `http_metrics`, user types) becomes a
//! [`Message`]: a typed envelope around an ordered list of fields. Nothing here touches Python;
//! the bindings convert Python objects into [`Value`]s once, at `ctx.send` time.

mod json;
mod json_parse;
mod message;
mod msgpack;
mod py_text;
mod value;

pub use json::{py_float_repr, to_json};
pub use json_parse::{parse_json, JsonError};
pub use message::{key_bit, keys, Envelope, Message};
pub use msgpack::{decode_stream, decode_value, encode_value, DecodeError};
pub use py_text::{py_repr, py_str};
pub use value::Value;
