//! The collector (mite's `mite.collector.Collector`): every raw message, into rolling files.
//!
//! Messages go to `{dir}/current`, started at the epoch second written in
//! `{dir}/current_start_time`. Every `roll_after` messages the file is closed and renamed to
//! `{start}_{end}_{counter}` (or `{start}_{end}_{collector_id}_{counter}`) and a new `current`
//! begins. A `current` left by an earlier run is rolled the same way at start-up.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::messages::{decode_value, to_json, DecodeError};

const CURRENT: &str = "current";
const CURRENT_START_TIME: &str = "current_start_time";
const BUFFER_SIZE: usize = 64 * 1024;
/// mite's logger name for this module.
const LOG_TARGET: &str = "mite.collector";

/// Why the collector could not write a message or roll its file.
#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    #[error("cannot create the collector directory {path}: {source}")]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("collector I/O on {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("cannot decode a message for JSON output: {0}")]
    Decode(#[from] DecodeError),
    #[error("cannot decode a message for JSON output: {0} bytes after the first msgpack object")]
    TrailingBytes(usize),
}

/// Writes raw messages (or their JSON text) into `current`, rolling it every `roll_after`
/// messages.
///
/// Writes are buffered; each record goes into the buffer whole (or straight to the file when
/// larger than the buffer), so the file only ever holds whole records after a flush, and a
/// record never spans two files. The buffer is flushed on roll, by [`Collector::flush`] and
/// when the collector is dropped.
pub struct Collector {
    dir: PathBuf,
    roll_after: u64,
    collector_id: Option<String>,
    use_json: bool,
    current: Option<BufWriter<File>>,
    msg_count: u64,
    rolled: u64,
    line: String,
}

impl Collector {
    /// A collector writing into `dir` (made absolute and created if missing).
    ///
    /// `roll_after == 0` never rolls (mite compares the count for equality after incrementing
    /// it). An empty `collector_id` counts as none, as in mite. A `current` file from a previous
    /// run is rolled first; if its `current_start_time` is missing (mite crashes there), the
    /// file's modification time stands in for the start time.
    pub fn new(
        dir: impl AsRef<Path>,
        roll_after: u64,
        collector_id: Option<String>,
        use_json: bool,
    ) -> Result<Self, CollectorError> {
        let dir = dir.as_ref();
        let dir = std::path::absolute(dir).map_err(|source| CollectorError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        fs::create_dir_all(&dir).map_err(|source| CollectorError::CreateDir {
            path: dir.clone(),
            source,
        })?;
        let mut collector = Collector {
            dir,
            roll_after,
            collector_id: collector_id.filter(|id| !id.is_empty()),
            use_json,
            current: None,
            msg_count: 0,
            rolled: 0,
            line: String::new(),
        };
        collector.roll()?;
        Ok(collector)
    }

    /// The absolute directory the files live in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Counts one message and writes it if `keep` (the caller's `--collector-filter` verdict).
    ///
    /// Filtered-out messages count towards `roll_after` too, as in mite. In JSON mode a message
    /// that does not decode is an error and is not written; it is still counted, and the file
    /// still rolls on schedule (mite raised before its roll check, and then never rolled again).
    pub fn process_raw(&mut self, raw: &[u8], keep: bool) -> Result<(), CollectorError> {
        if self.current.is_none() {
            // A failed roll left no file open: retry, so data flows again once the cause is gone.
            self.roll()?;
        }
        self.msg_count += 1;
        let written = if keep { self.write(raw) } else { Ok(()) };
        let rolled = if self.msg_count == self.roll_after {
            self.roll()
        } else {
            Ok(())
        };
        written.and(rolled)
    }

    /// Writes everything buffered to `current`.
    pub fn flush(&mut self) -> Result<(), CollectorError> {
        match self.current.as_mut() {
            Some(current) => current
                .flush()
                .map_err(|source| self.io_error(CURRENT, source)),
            None => Ok(()),
        }
    }

    fn write(&mut self, raw: &[u8]) -> Result<(), CollectorError> {
        let record: &[u8] = if self.use_json {
            let mut rest = raw;
            let value = decode_value(&mut rest)?;
            if !rest.is_empty() {
                return Err(CollectorError::TrailingBytes(rest.len()));
            }
            self.line = to_json(&value);
            self.line.push('\n');
            self.line.as_bytes()
        } else {
            raw
        };
        let current = self
            .current
            .as_mut()
            .expect("process_raw opens the file before writing");
        // One write_all per record: BufWriter either buffers all of it or flushes what it holds
        // and writes the record directly, never part of it.
        current
            .write_all(record)
            .map_err(|source| io_error(&self.dir, CURRENT, source))
    }

    /// Closes `current` (if any), renames it to its rolled name, and starts a new one.
    fn roll(&mut self) -> Result<(), CollectorError> {
        self.msg_count = 0;
        if let Some(mut current) = self.current.take() {
            current
                .flush()
                .map_err(|source| self.io_error(CURRENT, source))?;
        }
        let current_path = self.dir.join(CURRENT);
        if current_path.is_file() {
            let start = self.start_time_of_current(&current_path)?;
            let mut name = format!("{start}_{}", now_secs());
            if let Some(id) = &self.collector_id {
                name.push('_');
                name.push_str(id);
            }
            name.push('_');
            name.push_str(&self.rolled.to_string());
            self.rolled += 1;
            log::debug!(
                target: LOG_TARGET,
                "rotating existing current file {}",
                current_path.display()
            );
            // DEBUG, not mite's INFO: at mite-rs speeds a file rolls every second or so, and
            // a line per roll would drown the console.
            log::debug!(
                target: LOG_TARGET,
                "moving old current {} to {}",
                current_path.display(),
                self.dir.join(&name).display()
            );
            fs::rename(&current_path, self.dir.join(&name))
                .map_err(|source| self.io_error(CURRENT, source))?;
        }
        fs::write(self.dir.join(CURRENT_START_TIME), now_secs().to_string())
            .map_err(|source| self.io_error(CURRENT_START_TIME, source))?;
        let file = File::create(&current_path).map_err(|source| self.io_error(CURRENT, source))?;
        self.current = Some(BufWriter::with_capacity(BUFFER_SIZE, file));
        Ok(())
    }

    /// The text of `current_start_time`, used verbatim as mite does, or the mtime of `current`
    /// in whole seconds when that file is missing.
    fn start_time_of_current(&self, current_path: &Path) -> Result<String, CollectorError> {
        match fs::read_to_string(self.dir.join(CURRENT_START_TIME)) {
            Ok(text) => Ok(text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let modified = fs::metadata(current_path)
                    .and_then(|m| m.modified())
                    .map_err(|source| self.io_error(CURRENT, source))?;
                Ok(epoch_secs(modified).to_string())
            }
            Err(source) => Err(self.io_error(CURRENT_START_TIME, source)),
        }
    }

    fn io_error(&self, file: &str, source: io::Error) -> CollectorError {
        io_error(&self.dir, file, source)
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        // Errors cannot be reported from drop; callers wanting them call `flush` first.
        let _ = self.flush();
    }
}

fn io_error(dir: &Path, file: &str, source: io::Error) -> CollectorError {
    CollectorError::Io {
        path: dir.join(file),
        source,
    }
}

/// Whole seconds since the epoch, truncated like Python's `int(time.time())`.
fn epoch_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

fn now_secs() -> i64 {
    epoch_secs(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{decode_stream, encode_value, Value};

    fn raw(value: &Value) -> Vec<u8> {
        let mut buf = Vec::new();
        encode_value(value, &mut buf);
        buf
    }

    fn msg(i: u64) -> Vec<u8> {
        raw(&Value::Map(vec![
            (Value::str("type"), Value::str("txn")),
            (Value::str("i"), Value::UInt(i)),
        ]))
    }

    /// Rolled files, sorted by their counter.
    fn rolled_files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n != CURRENT && n != CURRENT_START_TIME)
            .collect();
        names.sort_by_key(|n| n.rsplit('_').next().unwrap().parse::<u64>().unwrap());
        names
    }

    fn decoded(path: &Path) -> Vec<Value> {
        decode_stream(&fs::read(path).unwrap()).unwrap()
    }

    #[test]
    fn new_creates_current_and_its_start_time() {
        let tmp = tempfile::tempdir().unwrap();
        let collector = Collector::new(tmp.path().join("collector_data"), 10, None, false).unwrap();
        assert!(collector.dir().is_absolute());
        assert!(collector.dir().join(CURRENT).is_file());
        let start: i64 = fs::read_to_string(collector.dir().join(CURRENT_START_TIME))
            .unwrap()
            .parse()
            .unwrap();
        assert!((start - now_secs()).abs() <= 1);
    }

    #[test]
    fn raw_messages_are_concatenated_and_flushed_on_drop() {
        let tmp = tempfile::tempdir().unwrap();
        let mut collector = Collector::new(tmp.path(), 100, None, false).unwrap();
        collector.process_raw(&msg(1), true).unwrap();
        collector.process_raw(&msg(2), true).unwrap();
        assert_eq!(fs::read(tmp.path().join(CURRENT)).unwrap(), b"");
        drop(collector);
        let mut expected = msg(1);
        expected.extend(msg(2));
        assert_eq!(fs::read(tmp.path().join(CURRENT)).unwrap(), expected);
    }

    #[test]
    fn flush_writes_whole_records() {
        let tmp = tempfile::tempdir().unwrap();
        let mut collector = Collector::new(tmp.path(), 100, None, false).unwrap();
        collector.process_raw(&msg(1), true).unwrap();
        collector.flush().unwrap();
        assert_eq!(fs::read(tmp.path().join(CURRENT)).unwrap(), msg(1));
    }

    #[test]
    fn the_file_rolls_after_roll_after_messages() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path()).unwrap();
        let mut collector = Collector::new(tmp.path(), 2, None, false).unwrap();
        fs::write(tmp.path().join(CURRENT_START_TIME), "1700000000").unwrap();
        for i in 0..5 {
            collector.process_raw(&msg(i), true).unwrap();
        }
        let rolled = rolled_files(tmp.path());
        assert_eq!(rolled.len(), 2);
        let parts: Vec<&str> = rolled[0].split('_').collect();
        assert_eq!(parts[0], "1700000000");
        assert!((parts[1].parse::<i64>().unwrap() - now_secs()).abs() <= 1);
        assert_eq!(parts[2], "0");
        assert!(rolled[1].ends_with("_1"));
        assert_eq!(decoded(&tmp.path().join(&rolled[0])).len(), 2);
        assert_eq!(decoded(&tmp.path().join(&rolled[1])).len(), 2);
        drop(collector);
        assert_eq!(decoded(&tmp.path().join(CURRENT)).len(), 1);
    }

    #[test]
    fn filtered_messages_count_towards_the_roll() {
        let tmp = tempfile::tempdir().unwrap();
        let mut collector = Collector::new(tmp.path(), 3, None, false).unwrap();
        collector.process_raw(&msg(0), true).unwrap();
        collector.process_raw(&msg(1), false).unwrap();
        collector.process_raw(&msg(2), false).unwrap();
        let rolled = rolled_files(tmp.path());
        assert_eq!(rolled.len(), 1);
        let rolled_msgs = decoded(&tmp.path().join(&rolled[0]));
        assert_eq!(rolled_msgs.len(), 1);
        assert_eq!(rolled_msgs[0].get("i"), Some(&Value::UInt(0)));
    }

    #[test]
    fn the_collector_id_goes_between_end_time_and_counter() {
        let tmp = tempfile::tempdir().unwrap();
        let mut collector = Collector::new(tmp.path(), 1, Some("c7".into()), false).unwrap();
        fs::write(tmp.path().join(CURRENT_START_TIME), "42").unwrap();
        collector.process_raw(&msg(0), true).unwrap();
        let rolled = rolled_files(tmp.path());
        let parts: Vec<&str> = rolled[0].split('_').collect();
        assert_eq!((parts[0], parts[2], parts[3]), ("42", "c7", "0"));
    }

    #[test]
    fn an_empty_collector_id_is_no_id() {
        let tmp = tempfile::tempdir().unwrap();
        let mut collector = Collector::new(tmp.path(), 1, Some(String::new()), false).unwrap();
        collector.process_raw(&msg(0), true).unwrap();
        assert_eq!(rolled_files(tmp.path())[0].split('_').count(), 3);
    }

    #[test]
    fn roll_after_zero_never_rolls() {
        let tmp = tempfile::tempdir().unwrap();
        let mut collector = Collector::new(tmp.path(), 0, None, false).unwrap();
        for i in 0..10 {
            collector.process_raw(&msg(i), true).unwrap();
        }
        assert!(rolled_files(tmp.path()).is_empty());
    }

    #[test]
    fn a_previous_current_is_rolled_at_start_up() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join(CURRENT), msg(9)).unwrap();
        fs::write(tmp.path().join(CURRENT_START_TIME), "1600000000").unwrap();
        let _collector = Collector::new(tmp.path(), 10, None, false).unwrap();
        let rolled = rolled_files(tmp.path());
        assert_eq!(rolled.len(), 1);
        assert!(rolled[0].starts_with("1600000000_"));
        assert!(rolled[0].ends_with("_0"));
        assert_eq!(fs::read(tmp.path().join(&rolled[0])).unwrap(), msg(9));
        assert_eq!(fs::read(tmp.path().join(CURRENT)).unwrap(), b"");
    }

    #[test]
    fn a_previous_current_without_start_time_uses_its_mtime() {
        let tmp = tempfile::tempdir().unwrap();
        let current = tmp.path().join(CURRENT);
        fs::write(&current, msg(9)).unwrap();
        let mtime = UNIX_EPOCH + std::time::Duration::from_secs(1_500_000_000);
        File::options()
            .write(true)
            .open(&current)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        let _collector = Collector::new(tmp.path(), 10, None, false).unwrap();
        let rolled = rolled_files(tmp.path());
        assert!(rolled[0].starts_with("1500000000_"), "{rolled:?}");
    }

    #[test]
    fn counters_restart_per_instance() {
        let tmp = tempfile::tempdir().unwrap();
        let mut first = Collector::new(tmp.path(), 1, None, false).unwrap();
        first.process_raw(&msg(0), true).unwrap();
        drop(first);
        // The second instance rolls the leftover `current` with counter 0 again.
        let _second = Collector::new(tmp.path(), 1, Some("b".into()), false).unwrap();
        let mut names = rolled_files(tmp.path());
        names.sort();
        assert_eq!(names.len(), 2);
        assert!(names.iter().all(|n| n.ends_with("_0")));
    }

    #[test]
    fn json_mode_writes_one_json_document_per_line() {
        let tmp = tempfile::tempdir().unwrap();
        let mut collector = Collector::new(tmp.path(), 100, None, true).unwrap();
        let value = Value::Map(vec![
            (Value::str("type"), Value::str("http_metrics")),
            (Value::str("method"), Value::Bin(b"GET".to_vec())),
            (Value::str("total_time"), Value::Float(0.5)),
        ]);
        collector.process_raw(&raw(&value), true).unwrap();
        collector.process_raw(&msg(1), true).unwrap();
        drop(collector);
        assert_eq!(
            fs::read_to_string(tmp.path().join(CURRENT)).unwrap(),
            "{\"type\": \"http_metrics\", \"method\": \"GET\", \"total_time\": 0.5}\n\
             {\"type\": \"txn\", \"i\": 1}\n"
        );
    }

    #[test]
    fn json_mode_rejects_undecodable_messages_but_still_counts_them() {
        let tmp = tempfile::tempdir().unwrap();
        let mut collector = Collector::new(tmp.path(), 2, None, true).unwrap();
        collector.process_raw(&msg(0), true).unwrap();
        assert!(matches!(
            collector.process_raw(&[0x92, 0x01], true),
            Err(CollectorError::Decode(DecodeError::Truncated))
        ));
        collector.process_raw(&msg(1), true).unwrap();
        let mut two = msg(2);
        two.extend(msg(3));
        assert!(matches!(
            collector.process_raw(&two, true),
            Err(CollectorError::TrailingBytes(_))
        ));
        let rolled = rolled_files(tmp.path());
        assert_eq!(rolled.len(), 2);
        assert_eq!(
            fs::read_to_string(tmp.path().join(&rolled[0])).unwrap(),
            "{\"type\": \"txn\", \"i\": 0}\n"
        );
    }

    #[test]
    fn records_larger_than_the_buffer_are_written_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let mut collector = Collector::new(tmp.path(), 100, None, false).unwrap();
        let big = raw(&Value::Bin(vec![7; BUFFER_SIZE * 2]));
        collector.process_raw(&msg(0), true).unwrap();
        collector.process_raw(&big, true).unwrap();
        collector.process_raw(&msg(1), true).unwrap();
        // Without a flush the file holds whole records only: the first two.
        let on_disk = decode_stream(&fs::read(tmp.path().join(CURRENT)).unwrap()).unwrap();
        assert_eq!(on_disk.len(), 2);
        collector.flush().unwrap();
        assert_eq!(decoded(&tmp.path().join(CURRENT)).len(), 3);
    }
}
