//! `mite cat` and `mite uncat`: a msgpack stream (a collector or recorder file) as JSON
//! lines, and JSON lines back to msgpack, streaming in constant memory.
//!
//! `cat` prints each record as Python's `json.dump` would (see [`to_json`]); a file that ends
//! inside a record, or holds bytes that are not msgpack, gives every whole record before the
//! damage and then [`CatError::Damaged`] with the byte offset where it starts.

use std::io::{self, BufRead, Read, Write};

use chrono::{Local, TimeZone};

use crate::messages::{decode_value, encode_value, parse_json, to_json, DecodeError, Value};

/// Bytes read at a time; a record longer than what is buffered doubles the next read.
const READ_SIZE: usize = 64 * 1024;

/// Top-level keys `--prettify-timestamps` turns into local date-times (as mite).
const TIMESTAMP_KEYS: [&str; 3] = ["time", "start_time", "end_time"];

/// Records between two calls of the caller's `keep_going` (Ctrl-C checks).
const CHECK_EVERY: u64 = 1024;

#[derive(Debug, thiserror::Error)]
pub enum CatError {
    #[error("stopped")]
    Stopped,
    #[error("reading: {0}")]
    Read(io::Error),
    #[error("writing: {0}")]
    Write(io::Error),
    #[error("damaged at byte {offset}, after {records} whole records: {reason}")]
    Damaged {
        offset: u64,
        records: u64,
        reason: DecodeError,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum UncatError {
    #[error("stopped")]
    Stopped,
    #[error("reading: {0}")]
    Read(io::Error),
    #[error("writing: {0}")]
    Write(io::Error),
    #[error("line {line} is not JSON: {message}")]
    BadLine { line: u64, message: String },
}

/// Writes one JSON line per msgpack record of `input` to `out`; returns the records written.
/// A closed pipe on `out` (`mite cat FILE | head`) ends the output quietly. `keep_going` is
/// asked every few records and before each read; `false` stops with [`CatError::Stopped`].
pub fn cat(
    input: impl Read,
    mut out: impl Write,
    prettify: bool,
    keep_going: impl FnMut() -> bool,
) -> Result<u64, CatError> {
    let mut line = String::new();
    let mut written = 0u64;
    let walked = for_each_record(input, keep_going, |mut value| {
        if prettify {
            prettify_timestamps(&mut value);
        }
        line.clear();
        line.push_str(&to_json(&value));
        line.push('\n');
        out.write_all(line.as_bytes())?;
        written += 1;
        Ok(())
    });
    match walked {
        Err(CatError::Write(e)) => quiet_on_closed_pipe(e, written),
        Err(e) => Err(e),
        Ok(records) => match out.flush() {
            Err(e) => quiet_on_closed_pipe(e, records),
            Ok(()) => Ok(records),
        },
    }
}

/// Decodes `input`'s msgpack records one after another in bounded memory, handing each to
/// `each` (whose I/O error stops the walk as [`CatError::Write`]); returns the records seen.
/// `keep_going` is asked every few records and before each read.
pub fn for_each_record(
    mut input: impl Read,
    mut keep_going: impl FnMut() -> bool,
    mut each: impl FnMut(Value) -> io::Result<()>,
) -> Result<u64, CatError> {
    let mut buf: Vec<u8> = Vec::with_capacity(READ_SIZE);
    let mut start = 0; // first byte of buf not yet decoded
    let mut offset = 0u64; // file offset of buf[start]
    let mut records = 0u64;
    let mut eof = false;
    loop {
        let mut rest = &buf[start..];
        let before = rest.len();
        match decode_value(&mut rest) {
            Ok(value) => {
                let used = before - rest.len();
                start += used;
                offset += used as u64;
                records += 1;
                if records % CHECK_EVERY == 0 && !keep_going() {
                    return Err(CatError::Stopped);
                }
                each(value).map_err(CatError::Write)?;
                continue;
            }
            Err(DecodeError::Truncated) if !eof => {}
            Err(DecodeError::Truncated) if before == 0 => break,
            Err(reason) => {
                return Err(CatError::Damaged {
                    offset,
                    records,
                    reason,
                })
            }
        }
        // Need more bytes: keep only the undecoded tail, then read at least as much again.
        if !keep_going() {
            return Err(CatError::Stopped);
        }
        buf.drain(..start);
        start = 0;
        let want = READ_SIZE.max(buf.len());
        let filled = buf.len();
        buf.resize(filled + want, 0);
        let n = loop {
            match input.read(&mut buf[filled..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(CatError::Read(e)),
            }
        };
        buf.truncate(filled + n);
        eof = n == 0;
    }
    Ok(records)
}

fn quiet_on_closed_pipe(e: io::Error, records: u64) -> Result<u64, CatError> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Ok(records)
    } else {
        Err(CatError::Write(e))
    }
}

/// mite's `datetime.fromtimestamp(float(v)).isoformat()` for the top-level timestamp keys:
/// local time, microseconds (rounded half to even) shown unless zero.
fn prettify_timestamps(value: &mut Value) {
    let Value::Map(entries) = value else { return };
    for (key, v) in entries.iter_mut() {
        let is_timestamp = key.as_str().is_some_and(|k| TIMESTAMP_KEYS.contains(&k));
        let seconds = match &*v {
            Value::Str(s) => s.trim().parse::<f64>().ok(),
            other => other.as_f64(),
        };
        if let (true, Some(seconds)) = (is_timestamp, seconds) {
            if let Some(text) = local_iso(seconds) {
                *v = Value::Str(text.into());
            }
        }
    }
}

/// `datetime.fromtimestamp(seconds).isoformat()`, or `None` outside chrono's range.
pub fn local_iso(seconds: f64) -> Option<String> {
    if !seconds.is_finite() {
        return None;
    }
    let mut whole = seconds.floor();
    let mut micros = ((seconds - whole) * 1e6).round_ties_even();
    if micros >= 1e6 {
        whole += 1.0;
        micros -= 1e6;
    }
    let time = Local.timestamp_opt(whole as i64, 0).earliest()?;
    let base = time.format("%Y-%m-%dT%H:%M:%S").to_string();
    Some(match micros as u32 {
        0 => base,
        us => format!("{base}.{us:06}"),
    })
}

/// Packs each JSON line of `input` as msgpack into `out` (mite's `pack_msg`); blank lines are
/// skipped. Returns the records written. `keep_going` as for [`cat`].
pub fn uncat(
    input: impl BufRead,
    mut out: impl Write,
    mut keep_going: impl FnMut() -> bool,
) -> Result<u64, UncatError> {
    let mut records = 0;
    let mut packed = Vec::new();
    for (index, line) in input.lines().enumerate() {
        let line = line.map_err(UncatError::Read)?;
        if (index as u64 + 1) % CHECK_EVERY == 0 && !keep_going() {
            return Err(UncatError::Stopped);
        }
        if line.trim().is_empty() {
            continue;
        }
        let value = parse_json(&line).map_err(|e| UncatError::BadLine {
            line: index as u64 + 1,
            message: e.to_string(),
        })?;
        packed.clear();
        encode_value(&value, &mut packed);
        out.write_all(&packed).map_err(UncatError::Write)?;
        records += 1;
    }
    out.flush().map_err(UncatError::Write)?;
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed(values: &[Value]) -> Vec<u8> {
        let mut buf = Vec::new();
        for v in values {
            encode_value(v, &mut buf);
        }
        buf
    }

    fn record(i: u64) -> Value {
        Value::Map(vec![
            (Value::str("type"), Value::str("txn")),
            (Value::str("n"), Value::UInt(i)),
        ])
    }

    /// A reader that hands out a few bytes at a time, as a pipe may.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(out.len()).min(self.0.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn every_record_becomes_one_json_line_however_the_bytes_arrive() {
        let data = packed(&(0..1000).map(record).collect::<Vec<_>>());
        let mut out = Vec::new();
        assert_eq!(
            cat(Trickle(&data, 7), &mut out, false, || true).unwrap(),
            1000
        );
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 1000);
        assert_eq!(text.lines().nth(3), Some(r#"{"type": "txn", "n": 3}"#));
    }

    #[test]
    fn a_record_larger_than_a_read_is_put_together() {
        let big = Value::Bin(vec![b'x'; 3 * READ_SIZE + 5]);
        let data = packed(&[big, record(1)]);
        let mut out = Vec::new();
        assert_eq!(cat(&data[..], &mut out, false, || true).unwrap(), 2);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0].len(),
            3 * READ_SIZE + 5 + 2,
            "the bytes as one JSON string"
        );
        assert_eq!(lines[1], r#"{"type": "txn", "n": 1}"#);
    }

    #[test]
    fn a_truncated_file_gives_its_whole_records_then_where_it_breaks() {
        let whole = packed(&[record(1), record(2)]);
        let mut data = whole.clone();
        data.extend_from_slice(&packed(&[record(3)])[..5]);
        let mut out = Vec::new();
        match cat(&data[..], &mut out, false, || true) {
            Err(CatError::Damaged {
                offset,
                records,
                reason,
            }) => {
                assert_eq!(
                    (offset, records, reason),
                    (whole.len() as u64, 2, DecodeError::Truncated)
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), 2);
    }

    #[test]
    fn bytes_that_are_not_msgpack_are_reported_at_their_offset() {
        let mut data = packed(&[record(1)]);
        let at = data.len() as u64;
        data.push(0xc1); // never used by msgpack
        data.extend_from_slice(&packed(&[record(2)]));
        let err = cat(&data[..], io::sink(), false, || true).unwrap_err();
        assert!(matches!(
            err,
            CatError::Damaged { offset, records: 1, reason: DecodeError::Unsupported(0xc1) } if offset == at
        ));
    }

    #[test]
    fn the_caller_can_stop_a_long_cat() {
        let data = packed(&(0..5000).map(record).collect::<Vec<_>>());
        let mut asked = 0;
        let result = cat(&data[..], io::sink(), false, || {
            asked += 1;
            asked < 3
        });
        assert!(matches!(result, Err(CatError::Stopped)));
    }

    #[test]
    fn an_empty_file_is_no_records() {
        assert_eq!(cat(&b""[..], io::sink(), false, || true).unwrap(), 0);
    }

    #[test]
    fn timestamps_become_local_date_times_with_microseconds_unless_zero() {
        let mut v = Value::Map(vec![
            (Value::str("time"), Value::Float(1_000_000_000.25)),
            (Value::str("start_time"), Value::Int(1_000_000_000)),
            (Value::str("other"), Value::Float(1.5)),
        ]);
        prettify_timestamps(&mut v);
        let expected = |s: i64| {
            Local
                .timestamp_opt(s, 0)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%S")
        };
        assert_eq!(
            v.get("time").and_then(Value::as_str),
            Some(format!("{}.250000", expected(1_000_000_000)).as_str())
        );
        assert_eq!(
            v.get("start_time").and_then(Value::as_str),
            Some(expected(1_000_000_000).to_string().as_str())
        );
        assert_eq!(v.get("other"), Some(&Value::Float(1.5)));
    }

    #[test]
    fn microseconds_round_half_to_even_and_carry_into_the_second() {
        let second = |s: i64| {
            Local
                .timestamp_opt(s, 0)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string()
        };
        assert_eq!(local_iso(10.999_999_7), Some(second(11)));
        assert_eq!(local_iso(f64::NAN), None);
    }

    #[test]
    fn uncat_packs_json_lines_as_pack_msg_does_and_names_a_bad_line() {
        let input = "{\"type\": \"txn\", \"n\": 1}\n\n[1, 2.5, null, true]\n";
        let mut out = Vec::new();
        assert_eq!(uncat(input.as_bytes(), &mut out, || true).unwrap(), 2);
        let mut expected = packed(&[record(1)]);
        expected.extend(packed(&[Value::Array(vec![
            Value::UInt(1),
            Value::Float(2.5),
            Value::Nil,
            Value::Bool(true),
        ])]));
        assert_eq!(out, expected);
        let err = uncat("1\n{oops\n".as_bytes(), io::sink(), || true).unwrap_err();
        assert!(matches!(err, UncatError::BadLine { line: 2, .. }), "{err}");
    }

    #[test]
    fn cat_then_uncat_gives_the_file_back() {
        let data = packed(&(0..50).map(record).collect::<Vec<_>>());
        let mut text = Vec::new();
        cat(&data[..], &mut text, false, || true).unwrap();
        let mut back = Vec::new();
        uncat(&text[..], &mut back, || true).unwrap();
        assert_eq!(back, data);
    }
}
