//! The recorder (mite's `mite.recorder.Recorder`): keeps what data-creation journeys report.
//!
//! A `data_created` message appends the msgpack encoding of its `data` field to
//! `{dir}/{name}.msgpack`, so each file is a concatenated msgpack stream that grows across runs;
//! a `purge_data` message deletes the file. Every other message is ignored.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::messages::{encode_value, Message, Value};

/// The INFO text mite logs when `purge_data` names a file that does not exist.
pub const PURGE_MISSING_LOG: &str = "Tried to delete a file that didn't exist, continuing";

/// Files kept open between messages; beyond this the least recently written one is closed.
const MAX_OPEN_FILES: usize = 32;

/// Why the recorder could not handle a message.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    #[error("cannot create the recorder directory {path}: {source}")]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("recorder file name {0:?} must not contain path separators or NUL")]
    InvalidName(String),
    #[error("the `name` field of a {kind} message must be a string")]
    NameNotString { kind: String },
    #[error("data_created message for {name:?} has no `data` field")]
    MissingData { name: String },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot delete {path}: {source}")]
    Delete { path: PathBuf, source: io::Error },
}

/// What [`Recorder::process`] did with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecorderOutcome {
    /// Not a `data_created`/`purge_data` message with a name.
    Ignored,
    /// The `data` value was appended to the name's file.
    Appended,
    /// The name's file was deleted.
    Purged,
    /// `purge_data` named a file that does not exist; the caller logs [`PURGE_MISSING_LOG`].
    PurgeMissing,
}

/// An open file plus the identity of the directory entry it was opened through.
struct OpenFile {
    file: File,
    identity: Option<FileIdentity>,
    last_used: u64,
}

/// Appends `data_created` payloads to per-name files and deletes them on `purge_data`.
///
/// mite opens and closes the file for every record. We keep recently used files open, but
/// before each write check that the path still names the file we hold, so a file deleted or
/// moved by someone else is recreated just as it would be with mite.
pub struct Recorder {
    dir: PathBuf,
    open: HashMap<String, OpenFile>,
    clock: u64,
    buf: Vec<u8>,
}

impl Recorder {
    /// A recorder writing into `dir`, made absolute and created (with its parents) if missing.
    pub fn new(dir: impl AsRef<Path>) -> Result<Self, RecorderError> {
        let dir = dir.as_ref();
        let dir = std::path::absolute(dir).map_err(|source| RecorderError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        fs::create_dir_all(&dir).map_err(|source| RecorderError::CreateDir {
            path: dir.clone(),
            source,
        })?;
        Ok(Recorder {
            dir,
            open: HashMap::new(),
            clock: 0,
            buf: Vec::new(),
        })
    }

    /// The absolute directory the files live in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Handles one message: `data_created` and `purge_data` with a non-nil `name`.
    ///
    /// Names must be plain file names: mite would follow a `/` into an existing subdirectory
    /// (or `..` out of the directory); we refuse such names instead.
    pub fn process(&mut self, msg: &Message) -> Result<RecorderOutcome, RecorderError> {
        let kind = &*msg.kind;
        if kind != "data_created" && kind != "purge_data" {
            return Ok(RecorderOutcome::Ignored);
        }
        let name = match msg.get("name") {
            None | Some(Value::Nil) => return Ok(RecorderOutcome::Ignored),
            Some(Value::Str(name)) => name,
            Some(_) => {
                return Err(RecorderError::NameNotString {
                    kind: kind.to_owned(),
                })
            }
        };
        if name.is_empty() || name.contains(['/', '\\', '\0']) {
            return Err(RecorderError::InvalidName(name.to_string()));
        }
        if kind == "data_created" {
            let data = msg.get("data").ok_or_else(|| RecorderError::MissingData {
                name: name.to_string(),
            })?;
            self.append(name, data)?;
            Ok(RecorderOutcome::Appended)
        } else {
            self.purge(name)
        }
    }

    /// Makes sure nothing is held back. Records are written unbuffered, so they are already in
    /// the files; this also closes the cached handles.
    pub fn flush(&mut self) -> Result<(), RecorderError> {
        self.open.clear();
        Ok(())
    }

    fn path_for(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.msgpack"))
    }

    fn append(&mut self, name: &str, data: &Value) -> Result<(), RecorderError> {
        let path = self.path_for(name);
        self.buf.clear();
        encode_value(data, &mut self.buf);
        self.clock += 1;
        let current = FileIdentity::of_path(&path);
        let reusable = self
            .open
            .get(name)
            .is_some_and(|open| open.identity.is_some() && open.identity == current);
        if !reusable {
            self.open.remove(name);
            if self.open.len() >= MAX_OPEN_FILES {
                self.close_least_recently_used();
            }
            let file = OpenOptions::new()
                .append(true)
                .create(true)
                .open(&path)
                .map_err(|source| RecorderError::Write {
                    path: path.clone(),
                    source,
                })?;
            let identity = FileIdentity::of_file(&file);
            self.open.insert(
                name.to_owned(),
                OpenFile {
                    file,
                    identity,
                    last_used: 0,
                },
            );
        }
        let open = self.open.get_mut(name).expect("inserted above");
        open.last_used = self.clock;
        // One write of the whole record on an unbuffered append-mode handle: the record lands
        // whole at the end of the file.
        open.file
            .write_all(&self.buf)
            .map_err(|source| RecorderError::Write { path, source })
    }

    fn purge(&mut self, name: &str) -> Result<RecorderOutcome, RecorderError> {
        // Close our handle first so no later write goes to the deleted file.
        self.open.remove(name);
        let path = self.path_for(name);
        match fs::remove_file(&path) {
            Ok(()) => Ok(RecorderOutcome::Purged),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(RecorderOutcome::PurgeMissing),
            Err(source) => Err(RecorderError::Delete { path, source }),
        }
    }

    fn close_least_recently_used(&mut self) {
        let oldest = self
            .open
            .iter()
            .min_by_key(|(_, open)| open.last_used)
            .map(|(name, _)| name.clone());
        if let Some(name) = oldest {
            self.open.remove(&name);
        }
    }
}

/// Which file a path or handle refers to (device and inode), to notice a file replaced behind
/// our back. Platforms without inodes never reuse a handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileIdentity {
    dev: u64,
    ino: u64,
}

impl FileIdentity {
    #[cfg(unix)]
    fn from_metadata(meta: &fs::Metadata) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        Some(FileIdentity {
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    #[cfg(not(unix))]
    fn from_metadata(_meta: &fs::Metadata) -> Option<Self> {
        None
    }

    fn of_path(path: &Path) -> Option<Self> {
        fs::metadata(path)
            .ok()
            .and_then(|m| Self::from_metadata(&m))
    }

    fn of_file(file: &File) -> Option<Self> {
        file.metadata().ok().and_then(|m| Self::from_metadata(&m))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::messages::{decode_stream, keys};

    fn data_created(name: &str, data: Value) -> Message {
        Message::bare(Arc::from("data_created"), 1.0)
            .with_field(keys::name(), name)
            .with_field(keys::data(), data)
    }

    fn purge(name: &str) -> Message {
        Message::bare(Arc::from("purge_data"), 1.0).with_field(keys::name(), name)
    }

    fn user(name: &str) -> Value {
        Value::Map(vec![(Value::str("username"), Value::str(name))])
    }

    fn read(recorder: &Recorder, name: &str) -> Vec<Value> {
        decode_stream(&fs::read(recorder.dir().join(format!("{name}.msgpack"))).unwrap()).unwrap()
    }

    #[test]
    fn new_creates_the_directory_and_makes_it_absolute() {
        let tmp = tempfile::tempdir().unwrap();
        let recorder = Recorder::new(tmp.path().join("a/recorder_data")).unwrap();
        assert!(recorder.dir().is_absolute());
        assert!(recorder.dir().is_dir());
        Recorder::new(tmp.path().join("a/recorder_data")).unwrap();
    }

    #[test]
    fn data_created_appends_only_the_data_value() {
        let tmp = tempfile::tempdir().unwrap();
        let mut recorder = Recorder::new(tmp.path()).unwrap();
        let outcome = recorder
            .process(&data_created("users", user("alice")))
            .unwrap();
        assert_eq!(outcome, RecorderOutcome::Appended);
        recorder
            .process(&data_created("users", user("bob")))
            .unwrap();
        assert_eq!(read(&recorder, "users"), vec![user("alice"), user("bob")]);
        let bytes = fs::read(tmp.path().join("users.msgpack")).unwrap();
        let mut expected = Vec::new();
        encode_value(&user("alice"), &mut expected);
        assert_eq!(&bytes[..expected.len()], &expected[..]);
    }

    #[test]
    fn records_are_on_disk_without_a_flush() {
        let tmp = tempfile::tempdir().unwrap();
        let mut recorder = Recorder::new(tmp.path()).unwrap();
        recorder
            .process(&data_created("users", user("alice")))
            .unwrap();
        assert_eq!(read(&recorder, "users"), vec![user("alice")]);
    }

    #[test]
    fn files_grow_across_recorder_instances() {
        let tmp = tempfile::tempdir().unwrap();
        let mut first = Recorder::new(tmp.path()).unwrap();
        first
            .process(&data_created("users", user("alice")))
            .unwrap();
        drop(first);
        let mut second = Recorder::new(tmp.path()).unwrap();
        second.process(&data_created("users", user("bob"))).unwrap();
        assert_eq!(read(&second, "users"), vec![user("alice"), user("bob")]);
    }

    #[test]
    fn purge_deletes_the_file_and_later_records_start_a_new_one() {
        let tmp = tempfile::tempdir().unwrap();
        let mut recorder = Recorder::new(tmp.path()).unwrap();
        recorder
            .process(&data_created("users", user("alice")))
            .unwrap();
        assert_eq!(
            recorder.process(&purge("users")).unwrap(),
            RecorderOutcome::Purged
        );
        assert!(!tmp.path().join("users.msgpack").exists());
        recorder
            .process(&data_created("users", user("bob")))
            .unwrap();
        assert_eq!(read(&recorder, "users"), vec![user("bob")]);
    }

    #[test]
    fn purging_a_missing_file_is_not_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let mut recorder = Recorder::new(tmp.path()).unwrap();
        assert_eq!(
            recorder.process(&purge("nobody")).unwrap(),
            RecorderOutcome::PurgeMissing
        );
    }

    #[test]
    fn a_file_deleted_behind_our_back_is_recreated() {
        let tmp = tempfile::tempdir().unwrap();
        let mut recorder = Recorder::new(tmp.path()).unwrap();
        recorder
            .process(&data_created("users", user("alice")))
            .unwrap();
        fs::remove_file(tmp.path().join("users.msgpack")).unwrap();
        recorder
            .process(&data_created("users", user("bob")))
            .unwrap();
        assert_eq!(read(&recorder, "users"), vec![user("bob")]);
    }

    #[test]
    fn many_names_are_all_recorded() {
        let tmp = tempfile::tempdir().unwrap();
        let mut recorder = Recorder::new(tmp.path()).unwrap();
        for round in 0..2 {
            for i in 0..(MAX_OPEN_FILES + 5) {
                let name = format!("n{i}");
                recorder
                    .process(&data_created(&name, Value::UInt(round)))
                    .unwrap();
            }
        }
        assert!(recorder.open.len() <= MAX_OPEN_FILES);
        for i in 0..(MAX_OPEN_FILES + 5) {
            assert_eq!(
                read(&recorder, &format!("n{i}")),
                vec![Value::UInt(0), Value::UInt(1)]
            );
        }
    }

    #[test]
    fn other_messages_and_nil_names_are_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        let mut recorder = Recorder::new(tmp.path()).unwrap();
        let txn = Message::bare(Arc::from("txn"), 1.0).with_field(keys::name(), "users");
        assert_eq!(recorder.process(&txn).unwrap(), RecorderOutcome::Ignored);
        let nil_name = Message::bare(Arc::from("data_created"), 1.0)
            .with_field(keys::name(), Value::Nil)
            .with_field(keys::data(), 1i64);
        assert_eq!(
            recorder.process(&nil_name).unwrap(),
            RecorderOutcome::Ignored
        );
        let no_name = Message::bare(Arc::from("purge_data"), 1.0);
        assert_eq!(
            recorder.process(&no_name).unwrap(),
            RecorderOutcome::Ignored
        );
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
    }

    #[test]
    fn names_that_would_leave_the_directory_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let mut recorder = Recorder::new(tmp.path().join("rec")).unwrap();
        for name in ["../escape", "a/b", "..\\x", "", "a\0b"] {
            let err = recorder
                .process(&data_created(name, Value::Nil))
                .unwrap_err();
            assert!(matches!(err, RecorderError::InvalidName(_)), "{name:?}");
            let err = recorder.process(&purge(name)).unwrap_err();
            assert!(matches!(err, RecorderError::InvalidName(_)), "{name:?}");
        }
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_non_string_name_or_missing_data_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let mut recorder = Recorder::new(tmp.path()).unwrap();
        let int_name = Message::bare(Arc::from("data_created"), 1.0)
            .with_field(keys::name(), 3i64)
            .with_field(keys::data(), 1i64);
        assert!(matches!(
            recorder.process(&int_name),
            Err(RecorderError::NameNotString { .. })
        ));
        let no_data = Message::bare(Arc::from("data_created"), 1.0).with_field(keys::name(), "x");
        assert!(matches!(
            recorder.process(&no_data),
            Err(RecorderError::MissingData { .. })
        ));
    }

    #[test]
    fn flush_closes_handles_and_keeps_the_data() {
        let tmp = tempfile::tempdir().unwrap();
        let mut recorder = Recorder::new(tmp.path()).unwrap();
        recorder
            .process(&data_created("users", user("alice")))
            .unwrap();
        recorder.flush().unwrap();
        assert!(recorder.open.is_empty());
        recorder
            .process(&data_created("users", user("bob")))
            .unwrap();
        assert_eq!(read(&recorder, "users"), vec![user("alice"), user("bob")]);
    }
}
