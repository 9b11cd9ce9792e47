//! Label values: the part of a message a stat groups by, hashable so it can key a table, and
//! rendered in Prometheus's text format.

use std::cmp::Ordering;
use std::fmt::Write;
use std::sync::Arc;

use crate::messages::{py_str, Value};

/// One label's value, as taken from a message field.
///
/// Strings, booleans, integers and `None` keep their type, so a dump carries the values mite's
/// would (`had_error` is `True`, not `"True"`); anything else (floats, lists, maps) is kept as
/// the text Python's `str()` gives it, which is all a label can show.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LabelValue {
    Nil,
    Bool(bool),
    Int(i64),
    Str(Arc<str>),
    /// Bytes (an HTTP method); rendered decoded, not as mite's `b'GET'`.
    Bin(Arc<[u8]>),
    /// `str()` of a value of any other type.
    Text(Arc<str>),
}

/// The label values of one sample, in the stat's label order.
pub type LabelKey = Box<[LabelValue]>;

impl LabelValue {
    pub fn of(value: &Value) -> Self {
        match value {
            Value::Nil => LabelValue::Nil,
            Value::Bool(b) => LabelValue::Bool(*b),
            Value::Int(i) => LabelValue::Int(*i),
            Value::UInt(u) => match i64::try_from(*u) {
                Ok(i) => LabelValue::Int(i),
                Err(_) => LabelValue::Text(Arc::from(u.to_string())),
            },
            Value::Str(s) => LabelValue::Str(s.clone()),
            Value::Bin(b) => LabelValue::Bin(Arc::from(b.as_slice())),
            other => LabelValue::Text(Arc::from(py_str(other))),
        }
    }

    /// The empty string mite's extractor puts in place of a missing field.
    pub fn missing() -> Self {
        LabelValue::Str(Arc::from(""))
    }

    /// The value as a message value, for a dump on the wire.
    pub fn to_value(&self) -> Value {
        match self {
            LabelValue::Nil => Value::Nil,
            LabelValue::Bool(b) => Value::Bool(*b),
            LabelValue::Int(i) => Value::Int(*i),
            LabelValue::Str(s) | LabelValue::Text(s) => Value::Str(s.clone()),
            LabelValue::Bin(b) => Value::Bin(b.to_vec()),
        }
    }

    /// Appends the value as Prometheus label text: Python's `str()` of it (bytes decoded),
    /// with `\`, `"` and newlines escaped.
    pub fn write_text(&self, out: &mut String) {
        match self {
            LabelValue::Nil => out.push_str("None"),
            LabelValue::Bool(true) => out.push_str("True"),
            LabelValue::Bool(false) => out.push_str("False"),
            LabelValue::Int(i) => {
                let _ = write!(out, "{i}");
            }
            LabelValue::Str(s) | LabelValue::Text(s) => escape_into(out, s),
            LabelValue::Bin(b) => escape_into(out, &String::from_utf8_lossy(b)),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            LabelValue::Nil => 0,
            LabelValue::Bool(_) => 1,
            LabelValue::Int(_) => 2,
            LabelValue::Str(_) | LabelValue::Text(_) => 3,
            LabelValue::Bin(_) => 4,
        }
    }
}

/// Python's order for values of one type (histogram samples are listed sorted, as mite's);
/// values of different types, which Python refuses to compare, by type.
impl Ord for LabelValue {
    fn cmp(&self, other: &Self) -> Ordering {
        use LabelValue::*;
        match (self, other) {
            (Bool(a), Bool(b)) => a.cmp(b),
            (Int(a), Int(b)) => a.cmp(b),
            (Str(a) | Text(a), Str(b) | Text(b)) => a.cmp(b),
            (Bin(a), Bin(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for LabelValue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// `name="value",…` for a sample's labels.
pub fn write_labels(out: &mut String, names: &[Arc<str>], key: &[LabelValue]) {
    for (i, (name, value)) in names.iter().zip(key.iter()).enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(name);
        out.push_str("=\"");
        value.write_text(out);
        out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &Value) -> String {
        let mut out = String::new();
        LabelValue::of(value).write_text(&mut out);
        out
    }

    #[test]
    fn values_render_as_python_str_with_bytes_decoded() {
        assert_eq!(text(&Value::Bin(b"GET".to_vec())), "GET");
        assert_eq!(text(&Value::Bool(true)), "True");
        assert_eq!(text(&Value::Nil), "None");
        assert_eq!(text(&Value::Int(-3)), "-3");
        assert_eq!(text(&Value::UInt(u64::MAX)), "18446744073709551615");
        assert_eq!(text(&Value::Float(0.5)), "0.5");
        assert_eq!(
            text(&Value::Array(vec![Value::Int(1), Value::str("a")])),
            "[1, 'a']"
        );
    }

    #[test]
    fn backslash_quote_and_newline_are_escaped() {
        assert_eq!(text(&Value::str("a\\b\"c\nd")), "a\\\\b\\\"c\\nd");
    }

    #[test]
    fn labels_are_joined_in_label_order() {
        let mut out = String::new();
        let names: Vec<Arc<str>> = vec![Arc::from("test"), Arc::from("had_error")];
        write_labels(
            &mut out,
            &names,
            &[LabelValue::of(&Value::str("T")), LabelValue::Bool(false)],
        );
        assert_eq!(out, "test=\"T\",had_error=\"False\"");
    }

    #[test]
    fn keys_sort_as_python_tuples_of_strings() {
        let mut keys = [
            LabelValue::of(&Value::str("b")),
            LabelValue::of(&Value::str("ab")),
            LabelValue::of(&Value::str("a")),
        ];
        keys.sort();
        let names: Vec<String> = keys
            .iter()
            .map(|k| {
                let mut s = String::new();
                k.write_text(&mut s);
                s
            })
            .collect();
        assert_eq!(names, ["a", "ab", "b"]);
    }
}
