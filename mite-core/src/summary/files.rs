//! Collector files as input to the summary (`mite report FILE...`): msgpack records, as the
//! collector writes them, or JSON lines (`--collector-use-json`), read in bounded memory.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::run::RunSummary;
use crate::cat::{for_each_record, CatError};
use crate::messages::parse_json;

/// Why a file could not be read to the end.
#[derive(Debug, thiserror::Error)]
pub enum ReportFileError {
    #[error("{}: {source}", path.display())]
    Open { path: PathBuf, source: io::Error },
    #[error("{}: {source}", path.display())]
    Msgpack { path: PathBuf, source: CatError },
    #[error("{}: line {line} is not JSON: {message}", path.display())]
    JsonLine {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{}: reading: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("stopped")]
    Stopped,
}

/// Adds every record of the file at `path` to `summary`; returns how many there were.
/// `keep_going` is asked now and then; `false` stops with [`ReportFileError::Stopped`].
pub fn add_file(
    summary: &mut RunSummary,
    path: &Path,
    keep_going: impl FnMut() -> bool,
) -> Result<u64, ReportFileError> {
    let file = File::open(path).map_err(|source| ReportFileError::Open {
        path: path.to_owned(),
        source,
    })?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let read_error = |source| ReportFileError::Read {
        path: path.to_owned(),
        source,
    };
    let first = reader.fill_buf().map_err(read_error)?;
    let is_json = first
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{');
    if !is_json {
        return for_each_record(reader, keep_going, |value| {
            summary.add(&value);
            Ok(())
        })
        .map_err(|source| match source {
            CatError::Stopped => ReportFileError::Stopped,
            source => ReportFileError::Msgpack {
                path: path.to_owned(),
                source,
            },
        });
    }
    add_json_lines(summary, path, reader, keep_going)
}

fn add_json_lines(
    summary: &mut RunSummary,
    path: &Path,
    mut reader: impl BufRead,
    mut keep_going: impl FnMut() -> bool,
) -> Result<u64, ReportFileError> {
    let mut line = String::new();
    let mut number = 0u64;
    let mut records = 0u64;
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|source| ReportFileError::Read {
                path: path.to_owned(),
                source,
            })?;
        if n == 0 {
            return Ok(records);
        }
        number += 1;
        if number % 1024 == 0 && !keep_going() {
            return Err(ReportFileError::Stopped);
        }
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let value = parse_json(text).map_err(|e| ReportFileError::JsonLine {
            path: path.to_owned(),
            line: number,
            message: e.to_string(),
        })?;
        summary.add(&value);
        records += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{encode_value, to_json, Value};

    fn txn_record(end: f64) -> Value {
        Value::Map(vec![
            (Value::str("start_time"), Value::Float(end - 0.5)),
            (Value::str("end_time"), Value::Float(end)),
            (Value::str("had_error"), Value::Bool(false)),
            (Value::str("type"), Value::str("txn")),
            (Value::str("time"), Value::Float(end)),
            (Value::str("test"), Value::str("m:s")),
            (Value::str("journey"), Value::str("m:j")),
            (Value::str("transaction"), Value::str("__root__")),
        ])
    }

    #[test]
    fn msgpack_and_json_lines_give_the_same_figures() {
        let dir = tempfile::tempdir().unwrap();
        let (mut packed, mut lines) = (Vec::new(), String::new());
        for i in 0..3000 {
            let record = txn_record(100.0 + f64::from(i) / 100.0);
            encode_value(&record, &mut packed);
            lines.push_str(&to_json(&record));
            lines.push('\n');
        }
        std::fs::write(dir.path().join("a"), &packed).unwrap();
        std::fs::write(dir.path().join("b"), &lines).unwrap();
        let (mut a, mut b) = (RunSummary::default(), RunSummary::default());
        assert_eq!(
            add_file(&mut a, &dir.path().join("a"), || true).unwrap(),
            3000
        );
        assert_eq!(
            add_file(&mut b, &dir.path().join("b"), || true).unwrap(),
            3000
        );
        assert_eq!(a.journeys_finished, 3000);
        assert_eq!(b.journeys_finished, 3000);
        assert_eq!(a.duration(), b.duration());
    }

    #[test]
    fn damage_and_missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut packed = Vec::new();
        encode_value(&txn_record(1.0), &mut packed);
        packed.push(0xc1); // never valid msgpack
        std::fs::write(dir.path().join("bad"), &packed).unwrap();
        std::fs::write(dir.path().join("bad.json"), "{\"type\": \"txn\"}\n{nope\n").unwrap();
        let mut s = RunSummary::default();
        let e = add_file(&mut s, &dir.path().join("bad"), || true).unwrap_err();
        assert!(e.to_string().contains("damaged at byte"), "{e}");
        let e = add_file(&mut s, &dir.path().join("bad.json"), || true).unwrap_err();
        assert!(e.to_string().contains("line 2 is not JSON"), "{e}");
        let e = add_file(&mut s, &dir.path().join("missing"), || true).unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
    }
}
