//! msgpack encoding with the byte layout of Python's `msgpack.packb(obj, use_bin_type=True)`
//! (smallest int and length formats, str8 allowed, floats always float64), so files and wire
//! frames are interchangeable with mite's.

use rmp::encode;
use rmp::Marker;

use super::{keys, Message, Value};

/// Why a byte string is not a msgpack stream we can read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecodeError {
    #[error("truncated msgpack data")]
    Truncated,
    #[error("unsupported msgpack type {0:#04x}")]
    Unsupported(u8),
    #[error("invalid UTF-8 in a msgpack string")]
    InvalidUtf8,
    #[error("msgpack data nested too deeply")]
    TooDeep,
}

// Writing into a Vec cannot fail, so the write results are discarded.
pub fn encode_value(value: &Value, buf: &mut Vec<u8>) {
    match value {
        Value::Nil => {
            let _ = encode::write_nil(buf);
        }
        Value::Bool(b) => {
            let _ = encode::write_bool(buf, *b);
        }
        Value::Int(i) => {
            let _ = encode::write_sint(buf, *i);
        }
        Value::UInt(u) => {
            let _ = encode::write_uint(buf, *u);
        }
        Value::Float(f) => {
            let _ = encode::write_f64(buf, *f);
        }
        Value::Str(s) => {
            let _ = encode::write_str(buf, s);
        }
        Value::Bin(b) => {
            let _ = encode::write_bin(buf, b);
        }
        Value::Array(items) => {
            let _ = encode::write_array_len(buf, items.len() as u32);
            for item in items {
                encode_value(item, buf);
            }
        }
        Value::Map(entries) => {
            let _ = encode::write_map_len(buf, entries.len() as u32);
            for (k, v) in entries {
                encode_value(k, buf);
                encode_value(v, buf);
            }
        }
    }
}

impl Message {
    /// Appends the message as one msgpack map, in the order of [`Message::entries`] (written
    /// out by hand: this runs for every message the collector writes).
    pub fn encode(&self, buf: &mut Vec<u8>) {
        let envelope = self.envelope.as_deref();
        let is_user_field =
            |key: &str| !keys::is_reserved(key) && !envelope.is_some_and(|e| e.contains(key));
        let user = self.fields.iter().filter(|(k, _)| is_user_field(k)).count();
        let envelope_len = envelope.map_or(0, |e| e.entries.len());
        let transaction_len = if self.has_transaction_keys { 2 } else { 0 };
        let _ = encode::write_map_len(buf, (user + 2 + envelope_len + transaction_len) as u32);
        for (key, value) in self.fields.iter().filter(|(k, _)| is_user_field(k)) {
            let _ = encode::write_str(buf, key);
            encode_value(value, buf);
        }
        let _ = encode::write_str(buf, "type");
        let _ = encode::write_str(buf, &self.kind);
        let _ = encode::write_str(buf, "time");
        let _ = encode::write_f64(buf, self.time);
        for (key, value) in envelope.map_or(&[][..], |e| &e.entries[..]) {
            let _ = encode::write_str(buf, key);
            encode_value(value, buf);
        }
        if self.has_transaction_keys {
            let _ = encode::write_str(buf, "transaction");
            match &self.transaction {
                Some((name, id)) => {
                    let _ = encode::write_str(buf, name);
                    let _ = encode::write_str(buf, "transaction_id");
                    let _ = encode::write_uint(buf, *id);
                }
                None => {
                    let _ = encode::write_nil(buf);
                    let _ = encode::write_str(buf, "transaction_id");
                    let _ = encode::write_nil(buf);
                }
            }
        }
    }
}

const MAX_DEPTH: usize = 512;

/// Decodes one value from the front of `input`, advancing it.
pub fn decode_value(input: &mut &[u8]) -> Result<Value, DecodeError> {
    decode_at_depth(input, 0)
}

/// Decodes a concatenated msgpack stream (a recorder or collector file).
pub fn decode_stream(mut input: &[u8]) -> Result<Vec<Value>, DecodeError> {
    let mut values = Vec::new();
    while !input.is_empty() {
        values.push(decode_value(&mut input)?);
    }
    Ok(values)
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], DecodeError> {
    if input.len() < n {
        return Err(DecodeError::Truncated);
    }
    let (head, tail) = input.split_at(n);
    *input = tail;
    Ok(head)
}

fn be_uint(input: &mut &[u8], n: usize) -> Result<u64, DecodeError> {
    Ok(take(input, n)?
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

fn decode_at_depth(input: &mut &[u8], depth: usize) -> Result<Value, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::TooDeep);
    }
    let byte = take(input, 1)?[0];
    let value = match Marker::from_u8(byte) {
        Marker::Null => Value::Nil,
        Marker::True => Value::Bool(true),
        Marker::False => Value::Bool(false),
        Marker::FixPos(n) => Value::UInt(u64::from(n)),
        Marker::FixNeg(n) => Value::Int(i64::from(n)),
        Marker::U8 => Value::UInt(be_uint(input, 1)?),
        Marker::U16 => Value::UInt(be_uint(input, 2)?),
        Marker::U32 => Value::UInt(be_uint(input, 4)?),
        Marker::U64 => Value::UInt(be_uint(input, 8)?),
        Marker::I8 => Value::Int(i64::from(be_uint(input, 1)? as u8 as i8)),
        Marker::I16 => Value::Int(i64::from(be_uint(input, 2)? as u16 as i16)),
        Marker::I32 => Value::Int(i64::from(be_uint(input, 4)? as u32 as i32)),
        Marker::I64 => Value::Int(be_uint(input, 8)? as i64),
        Marker::F32 => Value::Float(f64::from(f32::from_bits(be_uint(input, 4)? as u32))),
        Marker::F64 => Value::Float(f64::from_bits(be_uint(input, 8)?)),
        Marker::FixStr(n) => decode_str(input, usize::from(n))?,
        Marker::Str8 => {
            let n = be_uint(input, 1)? as usize;
            decode_str(input, n)?
        }
        Marker::Str16 => {
            let n = be_uint(input, 2)? as usize;
            decode_str(input, n)?
        }
        Marker::Str32 => {
            let n = be_uint(input, 4)? as usize;
            decode_str(input, n)?
        }
        Marker::Bin8 => {
            let n = be_uint(input, 1)? as usize;
            Value::Bin(take(input, n)?.to_vec())
        }
        Marker::Bin16 => {
            let n = be_uint(input, 2)? as usize;
            Value::Bin(take(input, n)?.to_vec())
        }
        Marker::Bin32 => {
            let n = be_uint(input, 4)? as usize;
            Value::Bin(take(input, n)?.to_vec())
        }
        Marker::FixArray(n) => decode_array(input, usize::from(n), depth)?,
        Marker::Array16 => {
            let n = be_uint(input, 2)? as usize;
            decode_array(input, n, depth)?
        }
        Marker::Array32 => {
            let n = be_uint(input, 4)? as usize;
            decode_array(input, n, depth)?
        }
        Marker::FixMap(n) => decode_map(input, usize::from(n), depth)?,
        Marker::Map16 => {
            let n = be_uint(input, 2)? as usize;
            decode_map(input, n, depth)?
        }
        Marker::Map32 => {
            let n = be_uint(input, 4)? as usize;
            decode_map(input, n, depth)?
        }
        _ => return Err(DecodeError::Unsupported(byte)),
    };
    Ok(value)
}

fn decode_str(input: &mut &[u8], n: usize) -> Result<Value, DecodeError> {
    let bytes = take(input, n)?;
    std::str::from_utf8(bytes)
        .map(Value::str)
        .map_err(|_| DecodeError::InvalidUtf8)
}

fn decode_array(input: &mut &[u8], n: usize, depth: usize) -> Result<Value, DecodeError> {
    // Each element takes at least one byte: refuse lengths the input cannot hold before
    // allocating for them.
    if n > input.len() {
        return Err(DecodeError::Truncated);
    }
    let mut items = Vec::with_capacity(n);
    for _ in 0..n {
        items.push(decode_at_depth(input, depth + 1)?);
    }
    Ok(Value::Array(items))
}

fn decode_map(input: &mut &[u8], n: usize, depth: usize) -> Result<Value, DecodeError> {
    if n.saturating_mul(2) > input.len() {
        return Err(DecodeError::Truncated);
    }
    let mut entries = Vec::with_capacity(n);
    for _ in 0..n {
        let k = decode_at_depth(input, depth + 1)?;
        let v = decode_at_depth(input, depth + 1)?;
        entries.push((k, v));
    }
    Ok(Value::Map(entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed(value: &Value) -> Vec<u8> {
        let mut buf = Vec::new();
        encode_value(value, &mut buf);
        buf
    }

    #[test]
    fn ints_use_the_smallest_format_like_python_msgpack() {
        assert_eq!(packed(&Value::Int(1)), [0x01]);
        assert_eq!(packed(&Value::Int(200)), [0xcc, 200]);
        assert_eq!(packed(&Value::Int(-1)), [0xff]);
        assert_eq!(packed(&Value::Int(-100)), [0xd0, 0x9c]);
        assert_eq!(packed(&Value::UInt(70000)), [0xce, 0, 1, 0x11, 0x70]);
    }

    #[test]
    fn strings_bytes_and_floats_match_python_msgpack() {
        assert_eq!(packed(&Value::str("T")), [0xa1, b'T']);
        assert_eq!(packed(&Value::str(&"x".repeat(40)))[..2], [0xd9, 40]);
        assert_eq!(
            packed(&Value::Bin(b"GET".to_vec())),
            [0xc4, 3, b'G', b'E', b'T']
        );
        assert_eq!(packed(&Value::Float(1.0))[0], 0xcb);
    }

    #[test]
    fn the_hello_reply_bytes_match_the_spec() {
        // (1, "T", [("k", "v")]) from spec §4.3
        let reply = Value::Array(vec![
            Value::UInt(1),
            Value::str("T"),
            Value::Array(vec![Value::Array(vec![Value::str("k"), Value::str("v")])]),
        ]);
        assert_eq!(
            packed(&reply),
            [0x93, 0x01, 0xa1, 0x54, 0x91, 0x92, 0xa1, 0x6b, 0xa1, 0x76]
        );
    }

    #[test]
    fn messages_encode_as_the_map_of_their_entries() {
        use std::sync::Arc;

        use crate::messages::Envelope;
        let msg = Message {
            kind: Arc::from("txn"),
            time: 1.5,
            fields: vec![
                (Arc::from("had_error"), Value::Bool(true)),
                (Arc::from("journey"), Value::str("overwritten")),
            ],
            envelope: Some(Arc::new(Envelope::new(vec![(
                Arc::from("journey"),
                Value::str("m:j"),
            )]))),
            transaction: Some((Arc::from("__root__"), 3)),
            has_transaction_keys: true,
        };
        let mut fast = Vec::new();
        msg.encode(&mut fast);
        assert_eq!(fast, packed(&msg.to_value()));
        let bare = Message::bare(Arc::from("controller_report"), 2.0);
        let mut fast = Vec::new();
        bare.encode(&mut fast);
        assert_eq!(fast, packed(&bare.to_value()));
    }

    #[test]
    fn values_round_trip() {
        let value = Value::Map(vec![
            (
                Value::str("a"),
                Value::Array(vec![Value::Int(-5), Value::UInt(u64::MAX)]),
            ),
            (Value::UInt(3), Value::Float(0.25)),
            (Value::str("b"), Value::Bin(vec![0, 159, 146, 150])),
            (Value::str("c"), Value::Nil),
            (Value::str("d"), Value::Bool(true)),
        ]);
        let bytes = packed(&value);
        assert_eq!(decode_stream(&bytes).unwrap(), vec![value]);
    }

    #[test]
    fn truncated_and_hostile_input_is_an_error_not_a_panic() {
        assert_eq!(decode_stream(&[0x92, 0x01]), Err(DecodeError::Truncated));
        assert_eq!(
            decode_stream(&[0xdd, 0xff, 0xff, 0xff, 0xff]),
            Err(DecodeError::Truncated)
        );
        assert_eq!(decode_stream(&[0xc1]), Err(DecodeError::Unsupported(0xc1)));
        assert_eq!(
            decode_stream(&[0xa2, 0xff, 0xfe]),
            Err(DecodeError::InvalidUtf8)
        );
        assert_eq!(
            decode_stream(&vec![0x91; 10_000]),
            Err(DecodeError::TooDeep)
        );
    }
}
