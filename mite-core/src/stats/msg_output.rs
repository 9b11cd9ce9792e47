//! The console lines of mite's `MsgOutput` (logger `MSG`), for in-process test runs.
//!
//! mite pops fields off the shared message dict while formatting, which also strips them from
//! what the collector records; here the message is only read (see spec §6, quirk 22).

use std::cmp::Ordering;
use std::fmt::Write;

use crate::messages::py_str;
use crate::messages::{Message, Value};

/// mite's logger name for these lines.
pub const LOGGER: &str = "MSG";

/// The WARNING text for a message carrying a non-empty `stacktrace` (an `exception`), or `None`.
///
/// `[{type}] {time:.6f} {k=v, ...}\n{ex_type}: {message}\n{stacktrace}`, where the `k=v` pairs
/// are every other field sorted by key, values printed with Python's `str()`. mite's `message`
/// already starts with the class name, hence `ValueError: ValueError: bad` on the console.
pub fn format_exception_log(msg: &Message) -> Option<String> {
    let stacktrace = msg.get("stacktrace").filter(|v| is_truthy(v))?;
    let mut out = header(msg);
    write_fields(&mut out, msg, &["stacktrace", "message", "ex_type"]);
    let text = |key: &str| msg.get(key).map_or_else(|| "None".to_owned(), py_str);
    let _ = write!(
        out,
        "\n{}: {}\n{}",
        text("ex_type"),
        text("message"),
        py_str(stacktrace)
    );
    Some(out)
}

/// The DEBUG text `[{type}] {time:.6f} {k=v, ...}` (every field but `type`, `time` and
/// `stacktrace`, sorted by key). The caller logs it when DEBUG is enabled and
/// [`format_exception_log`] returned `None`.
pub fn format_debug_log(msg: &Message) -> String {
    let mut out = header(msg);
    write_fields(&mut out, msg, &["stacktrace"]);
    out
}

/// `[{type}] {time:.6f} ` (with the trailing space mite's format has even without fields).
fn header(msg: &Message) -> String {
    format!("[{}] {} ", msg.kind, python_fixed6(msg.time))
}

fn write_fields(out: &mut String, msg: &Message, skip: &[&str]) {
    let mut fields: Vec<(&str, std::borrow::Cow<'_, Value>)> = msg
        .entries()
        .filter(|(k, _)| *k != "type" && *k != "time" && !skip.contains(k))
        .collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{key}={}", py_str(value));
    }
}

/// Python's `format(x, ".6f")`, including its spelling of the non-finite values.
fn python_fixed6(x: f64) -> String {
    if x.is_nan() {
        "nan".to_owned()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else {
        format!("{x:.6}")
    }
}

/// Python truthiness of a value.
fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Nil => false,
        Value::Bool(b) => *b,
        Value::Int(i) => *i != 0,
        Value::UInt(u) => *u != 0,
        Value::Float(f) => f.partial_cmp(&0.0) != Some(Ordering::Equal),
        Value::Str(s) => !s.is_empty(),
        Value::Bin(b) => !b.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Map(entries) => !entries.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::messages::{keys, Envelope};

    fn envelope() -> Arc<Envelope> {
        Arc::new(Envelope::new(vec![
            (keys::test(), Value::str("mod:scenario")),
            (keys::runner_id(), Value::UInt(1)),
            (keys::journey(), Value::str("mod:journey")),
            (keys::context_id(), Value::UInt(4)),
            (keys::scenario_id(), Value::UInt(2)),
            (keys::scenario_data_id(), Value::Nil),
        ]))
    }

    fn exception(stacktrace: &str) -> Message {
        Message {
            kind: Arc::from("exception"),
            time: 1_700_000_000.25,
            fields: vec![
                (keys::message(), Value::str("ValueError: bad")),
                (keys::ex_type(), Value::str("ValueError")),
                (keys::location(), Value::str("/j.py:3:journey")),
                (keys::stacktrace(), Value::str(stacktrace)),
            ],
            envelope: Some(envelope()),
            transaction: Some((Arc::from("__root__"), 1)),
            has_transaction_keys: true,
        }
    }

    #[test]
    fn exceptions_print_their_fields_sorted_then_type_message_and_stacktrace() {
        let text = format_exception_log(&exception("Traceback ...\nValueError: bad\n")).unwrap();
        assert_eq!(
            text,
            "[exception] 1700000000.250000 context_id=4, journey=mod:journey, \
             location=/j.py:3:journey, runner_id=1, scenario_data_id=None, scenario_id=2, \
             test=mod:scenario, transaction=__root__, transaction_id=1\n\
             ValueError: ValueError: bad\nTraceback ...\nValueError: bad\n"
        );
    }

    #[test]
    fn messages_without_a_stacktrace_are_not_warnings() {
        assert_eq!(format_exception_log(&exception("")), None);
        let error = Message::bare(Arc::from("error"), 1.0).with_field(keys::message(), "m");
        assert_eq!(format_exception_log(&error), None);
    }

    #[test]
    fn the_message_is_not_changed() {
        let msg = exception("tb");
        let before = msg.clone();
        format_exception_log(&msg);
        format_debug_log(&msg);
        assert_eq!(msg, before);
    }

    #[test]
    fn debug_lines_print_every_field_but_type_time_and_stacktrace() {
        let msg = Message::bare(Arc::from("http_metrics"), 2.5)
            .with_field(Arc::from("method"), Value::Bin(b"GET".to_vec()))
            .with_field(Arc::from("total_time"), 0.1)
            .with_field(
                Arc::from("headers"),
                Value::Map(vec![(Value::str("a"), Value::str("b"))]),
            )
            .with_field(keys::stacktrace(), "");
        assert_eq!(
            format_debug_log(&msg),
            "[http_metrics] 2.500000 headers={'a': 'b'}, method=b'GET', total_time=0.1"
        );
    }

    #[test]
    fn a_message_with_no_other_fields_keeps_the_trailing_space() {
        let msg = Message::bare(Arc::from("ping"), 0.0);
        assert_eq!(format_debug_log(&msg), "[ping] 0.000000 ");
    }

    #[test]
    fn exceptions_without_type_or_message_print_none() {
        let msg = Message::bare(Arc::from("exception"), 1.0).with_field(keys::stacktrace(), "tb");
        assert_eq!(
            format_exception_log(&msg).unwrap(),
            "[exception] 1.000000 \nNone: None\ntb"
        );
    }
}
