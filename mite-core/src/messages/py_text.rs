//! Python's `str()` and `repr()` of message values, for console lines that mite builds with
//! f-strings (`f"{k}={v}"` in `MsgOutput`, `f"Total errors for {journey} :..."`).
//!
//! Arrays print as lists: a journey's tuples and lists are both arrays by the time they reach
//! us. Non-ASCII characters print as themselves except those Python deems unprintable, which
//! are escaped; that set is approximated by the control, format, separator and private-use
//! ranges (unassigned code points print as themselves, where Python escapes them).

use std::fmt::Write;

use super::{py_float_repr, Value};

/// `str(value)`: strings as they are, everything else as its `repr`.
pub fn py_str(value: &Value) -> String {
    match value {
        Value::Str(s) => s.to_string(),
        _ => py_repr(value),
    }
}

/// `repr(value)`.
pub fn py_repr(value: &Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, value);
    out
}

fn write_repr(out: &mut String, value: &Value) {
    match value {
        Value::Nil => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::UInt(u) => {
            let _ = write!(out, "{u}");
        }
        Value::Float(f) => out.push_str(&py_float_repr(*f)),
        Value::Str(s) => write_str_repr(out, s),
        Value::Bin(b) => write_bytes_repr(out, b),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(out, item);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(out, k);
                out.push_str(": ");
                write_repr(out, v);
            }
            out.push('}');
        }
    }
}

/// Python prefers single quotes, switching to double quotes when that avoids escaping.
fn quote_for(has_single: bool, has_double: bool) -> char {
    if has_single && !has_double {
        '"'
    } else {
        '\''
    }
}

fn write_str_repr(out: &mut String, s: &str) {
    let quote = quote_for(s.contains('\''), s.contains('"'));
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            _ if c == quote => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ if is_printable(c) => out.push(c),
            _ => {
                let code = u32::from(c);
                let _ = if code < 0x100 {
                    write!(out, "\\x{code:02x}")
                } else if code < 0x10000 {
                    write!(out, "\\u{code:04x}")
                } else {
                    write!(out, "\\U{code:08x}")
                };
            }
        }
    }
    out.push(quote);
}

fn write_bytes_repr(out: &mut String, bytes: &[u8]) {
    let quote = quote_for(bytes.contains(&b'\''), bytes.contains(&b'"'));
    out.push('b');
    out.push(quote);
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ if char::from(b) == quote => {
                out.push('\\');
                out.push(quote);
            }
            b' '..=b'~' => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push(quote);
}

/// Python's `str.isprintable` for one non-ASCII character (see the module doc for the
/// approximation).
fn is_printable(c: char) -> bool {
    if c.is_control() {
        return false;
    }
    !matches!(
        u32::from(c),
        // Zs other than the ASCII space
        0xA0 | 0x1680 | 0x2000..=0x200A | 0x202F | 0x205F | 0x3000
        // Zl, Zp
        | 0x2028 | 0x2029
        // Cf
        | 0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x890..=0x891 | 0x8E2 | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF
        | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F
        // Co
        | 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD
        // Noncharacters (Cn, always unassigned)
        | 0xFDD0..=0xFDEF | 0xFFFE | 0xFFFF
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_print_like_python() {
        assert_eq!(py_str(&Value::Nil), "None");
        assert_eq!(py_str(&Value::Bool(true)), "True");
        assert_eq!(py_str(&Value::Bool(false)), "False");
        assert_eq!(py_str(&Value::Int(-3)), "-3");
        assert_eq!(py_str(&Value::UInt(7)), "7");
        assert_eq!(py_str(&Value::Float(1.0)), "1.0");
        assert_eq!(py_str(&Value::Float(1e-05)), "1e-05");
        assert_eq!(py_str(&Value::Float(f64::INFINITY)), "inf");
        assert_eq!(py_str(&Value::str("it's")), "it's");
    }

    #[test]
    fn bytes_print_as_their_repr() {
        assert_eq!(py_str(&Value::Bin(b"GET".to_vec())), "b'GET'");
        assert_eq!(py_str(&Value::Bin(b"it's".to_vec())), "b\"it's\"");
        assert_eq!(py_str(&Value::Bin(b"'\"".to_vec())), "b'\\'\"'");
        assert_eq!(
            py_str(&Value::Bin(vec![0, 0x7f, 0xff, b'\n', b'\\'])),
            "b'\\x00\\x7f\\xff\\n\\\\'"
        );
    }

    #[test]
    fn strings_inside_containers_print_as_their_repr() {
        // str({'a': [1, 'x', None, b'y'], 2: "it's"})
        let value = Value::Map(vec![
            (
                Value::str("a"),
                Value::Array(vec![
                    Value::UInt(1),
                    Value::str("x"),
                    Value::Nil,
                    Value::Bin(b"y".to_vec()),
                ]),
            ),
            (Value::UInt(2), Value::str("it's")),
        ]);
        assert_eq!(py_str(&value), "{'a': [1, 'x', None, b'y'], 2: \"it's\"}");
    }

    #[test]
    fn string_repr_escapes_like_python() {
        // repr('a\'b"c\\\n\t\x01\x7f é\xa0\u200b😀\ue000')
        let s = "a'b\"c\\\n\t\u{1}\u{7f} é\u{a0}\u{200b}😀\u{e000}";
        assert_eq!(
            py_repr(&Value::str(s)),
            "'a\\'b\"c\\\\\\n\\t\\x01\\x7f é\\xa0\\u200b😀\\ue000'"
        );
        assert_eq!(py_repr(&Value::str("\u{10fffd}")), "'\\U0010fffd'");
    }
}
