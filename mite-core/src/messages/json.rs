//! JSON text exactly as Python's `json.dumps(obj)` writes it with default options, for the
//! object `msgpack.unpackb(raw, raw=False, strict_map_key=False)` gives Python.
//!
//! `mite cat` and the collector's JSON mode print messages this way, so their output stays
//! byte-for-byte comparable with mite's. Where Python would raise instead (a `bytes` map key, a
//! tuple key), we print something readable; see [`to_json`].

use std::collections::HashMap;
use std::fmt::Write;

use super::Value;

/// Renders `value` the way Python's `json.dumps` renders the equivalent Python object.
///
/// * Separators `", "` and `": "`; strings ASCII-escaped (`\uXXXX`, surrogate pairs beyond
///   the BMP, `\n \r \t \b \f \" \\` as short escapes).
/// * Floats as Python's `repr` (`1.0`, `1e-05`, `1.5e+16`), non-finite ones as `NaN`,
///   `Infinity`, `-Infinity`; ints as ints; `true`, `false`, `null`; arrays as lists.
/// * `Bin` values become text, decoded as UTF-8 with invalid bytes replaced by U+FFFD. `mite cat`
///   decodes bytes strictly and stops at the first invalid byte; printing the rest is more useful.
/// * Map keys are converted as `json.dumps` converts dict keys: strings as they are, ints as
///   digits, floats as their JSON text, `true`/`false`/`null`. Keys Python cannot print (arrays,
///   which msgpack turns into tuples, and maps) are written as a string holding their own JSON
///   text (`{"[1, 2]": 0}`); `Bin` keys are decoded like `Bin` values.
/// * A map with keys Python considers equal (`1`, `1.0` and `true`, or a repeated string) holds
///   one entry in a Python dict: the first key's position and spelling, the last value. We
///   print the same single entry.
pub fn to_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

/// Python's `repr(float)`: the shortest text that reads back as the same float, with Python's
/// switch to exponent notation (below `1e-4` and from `1e16`), e.g. `0.1`, `1.0`, `1e-05`,
/// `1e+16`, `inf`, `nan`.
pub fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    // `{:e}` gives the shortest round-trip digits (`1.5e16`, `-1e-5`, `0e0`), the same digits
    // Python's repr chooses; only the layout differs.
    let sci = format!("{f:e}");
    let (mantissa, exponent) = sci
        .split_once('e')
        .expect("LowerExp always writes an exponent");
    let exponent: i32 = exponent
        .parse()
        .expect("LowerExp writes a decimal exponent");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let mut digits: String = mantissa.chars().filter(|&c| c != '.').collect();
    // When two shortest candidates are equally close (the float lies exactly between them),
    // Rust rounds up and Python picks the even one, which is what exact formatting to the same
    // number of digits gives; it is only valid if it still reads back as the same float.
    let exact = format!("{:.*e}", digits.len() - 1, f.abs());
    if let Some((exact_mantissa, exact_exponent)) = exact.split_once('e') {
        let exact_digits: String = exact_mantissa.chars().filter(|&c| c != '.').collect();
        if exact_digits != digits
            && exact_exponent.parse() == Ok(exponent)
            && exact.parse::<f64>() == Ok(f.abs())
        {
            digits = exact_digits;
        }
    }
    // The decimal point sits after `point` digits: value = 0.DIGITS × 10^point.
    let point = exponent + 1;
    let mut out = String::from(sign);
    if !(-3..=16).contains(&point) {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        let _ = write!(out, "e{exp_sign}{:02}", exponent.unsigned_abs());
    } else if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', point.unsigned_abs() as usize));
        out.push_str(&digits);
    } else {
        let point = point as usize;
        if point >= digits.len() {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', point - digits.len()));
            out.push_str(".0");
        } else {
            out.push_str(&digits[..point]);
            out.push('.');
            out.push_str(&digits[point..]);
        }
    }
    out
}

/// A float as JSON: Python's `float.__repr__`, except the non-finite values.
fn json_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_owned()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
    } else {
        py_float_repr(f)
    }
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Nil => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::UInt(u) => {
            let _ = write!(out, "{u}");
        }
        Value::Float(f) => out.push_str(&json_float(*f)),
        Value::Str(s) => write_str(out, s),
        Value::Bin(b) => write_str(out, &String::from_utf8_lossy(b)),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Map(entries) => write_map(out, entries),
    }
}

fn write_map(out: &mut String, entries: &[(Value, Value)]) {
    out.push('{');
    for (i, (key, value)) in python_dict_entries(entries).into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_key(out, key);
        out.push_str(": ");
        write_value(out, value);
    }
    out.push('}');
}

fn write_key(out: &mut String, key: &Value) {
    match key {
        Value::Str(s) => write_str(out, s),
        Value::Nil | Value::Bool(_) | Value::Int(_) | Value::UInt(_) => {
            out.push('"');
            write_value(out, key);
            out.push('"');
        }
        Value::Float(f) => {
            out.push('"');
            out.push_str(&json_float(*f));
            out.push('"');
        }
        Value::Bin(b) => write_str(out, &String::from_utf8_lossy(b)),
        Value::Array(_) | Value::Map(_) => write_str(out, &to_json(key)),
    }
}

/// Writes `s` as a JSON string with Python's `ensure_ascii` escaping.
fn write_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// A map key's identity under Python's `==`/`hash`, which decides whether two msgpack keys
/// collapse into one dict entry.
#[derive(PartialEq, Eq, Hash)]
enum KeyIdentity<'a> {
    Nil,
    /// Bools, ints and integral floats: Python treats `True`, `1` and `1.0` as the same key.
    Integer(i128),
    /// Other floats, by bit pattern (`-0.0` is integral, so it is not here).
    Float(u64),
    Str(&'a str),
    Bytes(&'a [u8]),
    Tuple(Vec<KeyIdentity<'a>>),
    /// Never equal to another key: NaN (each unpacked NaN is its own object) and maps.
    Unique(usize),
}

fn key_identity(key: &Value, position: usize) -> KeyIdentity<'_> {
    match key {
        Value::Nil => KeyIdentity::Nil,
        Value::Bool(b) => KeyIdentity::Integer(i128::from(*b)),
        Value::Int(i) => KeyIdentity::Integer(i128::from(*i)),
        Value::UInt(u) => KeyIdentity::Integer(i128::from(*u)),
        Value::Float(f) if f.is_nan() => KeyIdentity::Unique(position),
        // Below 2^100 an integral float converts to i128 exactly; larger ones cannot equal any
        // msgpack integer, so their bits identify them.
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 2f64.powi(100) => {
            KeyIdentity::Integer(*f as i128)
        }
        Value::Float(f) => KeyIdentity::Float(f.to_bits()),
        Value::Str(s) => KeyIdentity::Str(s),
        Value::Bin(b) => KeyIdentity::Bytes(b),
        Value::Array(items) => {
            KeyIdentity::Tuple(items.iter().map(|k| key_identity(k, position)).collect())
        }
        Value::Map(_) => KeyIdentity::Unique(position),
    }
}

/// The entries of the Python dict built from `entries`: first key, last value, first position.
fn python_dict_entries(entries: &[(Value, Value)]) -> Vec<(&Value, &Value)> {
    let mut result: Vec<(&Value, &Value)> = Vec::with_capacity(entries.len());
    if entries.len() < 2 {
        result.extend(entries.iter().map(|(k, v)| (k, v)));
        return result;
    }
    let mut seen: HashMap<KeyIdentity<'_>, usize> = HashMap::with_capacity(entries.len());
    for (position, (key, value)) in entries.iter().enumerate() {
        match seen.entry(key_identity(key, position)) {
            std::collections::hash_map::Entry::Occupied(slot) => result[*slot.get()].1 = value,
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(result.len());
                result.push((key, value));
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: Vec<(Value, Value)>) -> Value {
        Value::Map(entries)
    }

    #[test]
    fn float_repr_matches_python() {
        // Expected texts from CPython 3.11 `repr(float)`.
        let cases: &[(f64, &str)] = &[
            (1.0, "1.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1.0 / 3.0, "0.3333333333333333"),
            (100.0, "100.0"),
            (123456.789, "123456.789"),
            (0.0001, "0.0001"),
            (0.00012345, "0.00012345"),
            (1e-05, "1e-05"),
            (1.5e-05, "1.5e-05"),
            (-1e-05, "-1e-05"),
            (1e15, "1000000000000000.0"),
            (1234567890123456.0, "1234567890123456.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1e22, "1e+22"),
            (1e23, "1e+23"),
            (1e100, "1e+100"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (2.2250738585072014e-308, "2.2250738585072014e-308"),
            (9007199254740993.0, "9007199254740992.0"),
            (0.09999999999999999, "0.09999999999999999"),
            // 603982528891711.25 exactly, halfway between two shortest candidates: Python
            // picks the even digit
            (f64::from_bits(0x4301_2a8d_20ae_59fa), "603982528891711.2"),
            (2f64.powi(60), "1.152921504606847e+18"),
            (1700000000.123456, "1700000000.123456"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
        ];
        for &(f, expected) in cases {
            assert_eq!(py_float_repr(f), expected, "repr of {f:e}");
        }
    }

    #[test]
    fn scalars_render_like_json_dumps() {
        assert_eq!(to_json(&Value::Nil), "null");
        assert_eq!(to_json(&Value::Bool(true)), "true");
        assert_eq!(to_json(&Value::Bool(false)), "false");
        assert_eq!(to_json(&Value::Int(-42)), "-42");
        assert_eq!(to_json(&Value::UInt(u64::MAX)), "18446744073709551615");
        assert_eq!(to_json(&Value::Float(1.0)), "1.0");
        assert_eq!(to_json(&Value::Float(1e-05)), "1e-05");
        assert_eq!(to_json(&Value::Float(f64::NAN)), "NaN");
        assert_eq!(to_json(&Value::Float(f64::INFINITY)), "Infinity");
        assert_eq!(to_json(&Value::Float(f64::NEG_INFINITY)), "-Infinity");
    }

    #[test]
    fn strings_are_ascii_escaped_like_python() {
        // json.dumps('a"b\\c\n\r\t\b\f\x01\x7f é € 😀 ~')
        let s = "a\"b\\c\n\r\t\u{8}\u{c}\u{1}\u{7f} é € 😀 ~";
        assert_eq!(
            to_json(&Value::str(s)),
            r#""a\"b\\c\n\r\t\b\f\u0001\u007f \u00e9 \u20ac \ud83d\ude00 ~""#
        );
        assert_eq!(to_json(&Value::str("/")), r#""/""#);
    }

    #[test]
    fn containers_use_pythons_default_separators() {
        let value = map(vec![
            (
                Value::str("a"),
                Value::Array(vec![Value::UInt(1), Value::Float(2.0)]),
            ),
            (Value::str("b"), map(vec![])),
            (Value::str("c"), Value::Array(vec![])),
        ]);
        assert_eq!(to_json(&value), r#"{"a": [1, 2.0], "b": {}, "c": []}"#);
    }

    #[test]
    fn bytes_are_decoded_as_utf8_text() {
        assert_eq!(to_json(&Value::Bin(b"GET".to_vec())), r#""GET""#);
        assert_eq!(to_json(&Value::Bin("é".as_bytes().to_vec())), r#""\u00e9""#);
        assert_eq!(to_json(&Value::Bin(vec![b'a', 0xff])), r#""a\ufffd""#);
    }

    #[test]
    fn non_string_keys_are_converted_like_json_dumps() {
        let value = map(vec![
            (Value::UInt(3), Value::Nil),
            (Value::Int(-4), Value::Nil),
            (Value::Float(1.5), Value::Nil),
            (Value::Float(f64::INFINITY), Value::Nil),
            (Value::Bool(false), Value::Nil),
            (Value::Nil, Value::Nil),
        ]);
        assert_eq!(
            to_json(&value),
            r#"{"3": null, "-4": null, "1.5": null, "Infinity": null, "false": null, "null": null}"#
        );
    }

    #[test]
    fn keys_python_cannot_print_become_their_json_text() {
        let value = map(vec![
            (
                Value::Array(vec![Value::UInt(1), Value::str("x")]),
                Value::UInt(0),
            ),
            (Value::Bin(b"k".to_vec()), Value::UInt(1)),
        ]);
        assert_eq!(to_json(&value), r#"{"[1, \"x\"]": 0, "k": 1}"#);
    }

    #[test]
    fn keys_equal_in_python_collapse_to_the_first_key_and_last_value() {
        // msgpack.unpackb of {1: 'a', 'x': 'b', 1.0: 'c', True: 'd', 'x': 'e'} gives {1: 'd', 'x': 'e'}
        let value = map(vec![
            (Value::UInt(1), Value::str("a")),
            (Value::str("x"), Value::str("b")),
            (Value::Float(1.0), Value::str("c")),
            (Value::Bool(true), Value::str("d")),
            (Value::str("x"), Value::str("e")),
        ]);
        assert_eq!(to_json(&value), r#"{"1": "d", "x": "e"}"#);
    }

    #[test]
    fn distinct_keys_stay_distinct() {
        let value = map(vec![
            (Value::Float(f64::NAN), Value::UInt(1)),
            (Value::Float(f64::NAN), Value::UInt(2)),
            (Value::str("1"), Value::UInt(3)),
            (Value::UInt(1), Value::UInt(4)),
            (Value::Bin(b"1".to_vec()), Value::UInt(5)),
            (Value::Float(0.5), Value::UInt(6)),
        ]);
        assert_eq!(
            to_json(&value),
            r#"{"NaN": 1, "NaN": 2, "1": 3, "1": 4, "1": 5, "0.5": 6}"#
        );
    }

    #[test]
    fn a_message_renders_like_mite_cat() {
        // python3 -c 'import json; print(json.dumps({"start_time": 1700000000,
        //   "method": "GET", "total_time": 0.012, "time": 1700000000.5, "transaction": None}))'
        let value = map(vec![
            (Value::str("start_time"), Value::UInt(1_700_000_000)),
            (Value::str("method"), Value::Bin(b"GET".to_vec())),
            (Value::str("total_time"), Value::Float(0.012)),
            (Value::str("time"), Value::Float(1_700_000_000.5)),
            (Value::str("transaction"), Value::Nil),
        ]);
        assert_eq!(
            to_json(&value),
            r#"{"start_time": 1700000000, "method": "GET", "total_time": 0.012, "time": 1700000000.5, "transaction": null}"#
        );
    }
}
