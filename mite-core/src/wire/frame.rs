//! A frame from the wire as a [`Message`]: mite's single msgpack map with a string `type`.

use std::sync::Arc;

use crate::messages::{decode_value, keys, DecodeError, Message, Value};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FrameError {
    #[error("not msgpack: {0}")]
    Msgpack(#[from] DecodeError),
    #[error("{0} bytes after the message")]
    Trailing(usize),
    #[error("not a message: a msgpack {0}, not a map")]
    NotAMap(&'static str),
    #[error("a message without a string \"type\"")]
    NoType,
    #[error("a message with a key that is not a string")]
    KeyNotString,
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Nil => "nil",
        Value::Bool(_) => "bool",
        Value::Int(_) | Value::UInt(_) => "integer",
        Value::Float(_) => "float",
        Value::Str(_) => "string",
        Value::Bin(_) => "bin",
        Value::Array(_) => "array",
        Value::Map(_) => "map",
    }
}

/// The message in `frame`. Every key but `type` is one of its fields, as the sender wrote
/// it (the runner's envelope and transaction keys included), so `Message::get` answers as
/// mite's `msg.get` does; `time` is also the message's time when it is a number.
pub fn message_from_frame(frame: &[u8]) -> Result<Message, FrameError> {
    let mut rest = frame;
    let value = decode_value(&mut rest)?;
    if !rest.is_empty() {
        return Err(FrameError::Trailing(rest.len()));
    }
    let Value::Map(entries) = value else {
        return Err(FrameError::NotAMap(kind_of(&value)));
    };
    let mut kind = None;
    let mut time = f64::NAN;
    let mut fields = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let Value::Str(key) = key else {
            return Err(FrameError::KeyNotString);
        };
        match &*key {
            "type" => match value {
                Value::Str(s) => kind = Some(keys::interned(&s).unwrap_or(s)),
                _ => return Err(FrameError::NoType),
            },
            name => {
                if name == "time" {
                    time = value.as_f64().unwrap_or(f64::NAN);
                }
                let key: Arc<str> = keys::interned(name).unwrap_or(key);
                fields.push((key, value));
            }
        }
    }
    let kind = kind.ok_or(FrameError::NoType)?;
    let (transaction, has_transaction_keys) = match transaction_of(&fields) {
        Some(transaction) => (transaction, true),
        None => (None, false),
    };
    Ok(Message {
        kind,
        time,
        fields,
        envelope: None,
        transaction,
        has_transaction_keys,
    })
}

/// The message's `transaction` and `transaction_id` as a runner writes them (a name and an
/// id, or both nil), so they are kept when the message is encoded again and
/// [`Message::transaction_name`] answers; `None` when they are absent or of other types
/// (then they stay plain fields).
fn transaction_of(fields: &[(Arc<str>, Value)]) -> Option<Option<(Arc<str>, u64)>> {
    let find = |key: &str| fields.iter().find(|(k, _)| &**k == key).map(|(_, v)| v);
    match (find("transaction")?, find("transaction_id")?) {
        (Value::Str(name), Value::UInt(id)) => Some(Some((name.clone(), *id))),
        (Value::Str(name), Value::Int(id)) => {
            u64::try_from(*id).ok().map(|id| Some((name.clone(), id)))
        }
        (Value::Nil, Value::Nil) => Some(None),
        _ => None,
    }
}
