//! The recorder's default directory under both of its names. The seed document (and so
//! mite-rs's default) says `recorder-data/`; mite 2.x writes `recorder_data/`, and projects read
//! `recorder_data/users.msgpack` back at import time. With the default `--recorder-dir`, one
//! name is the directory of files and the other a relative symlink to it, so readers of
//! either find every file. An explicit `--recorder-dir` picks one place and nothing else.

use std::io;
use std::path::{Path, PathBuf};

/// mite-rs's default `--recorder-dir`.
pub const DEFAULT_DIR: &str = "recorder-data";
/// mite 2.x's.
pub const MITE_DIR: &str = "recorder_data";

/// Where the default directory's files go, inside `base` (the working directory): an existing
/// real `recorder_data/` (earlier mite runs' files stay together) or `recorder-data/`, with
/// the other name made a symlink to it when free. The directory itself is created by the
/// recorder. A second real directory under the other name is left alone (returned as
/// `Ok((dir, Some(other)))`, for a warning).
pub fn default_dir(base: &Path) -> io::Result<(PathBuf, Option<PathBuf>)> {
    let ours = base.join(DEFAULT_DIR);
    let mites = base.join(MITE_DIR);
    let is_real_dir = |p: &Path| {
        p.symlink_metadata()
            .map(|m| m.file_type().is_dir())
            .unwrap_or(false)
    };
    let (target, alias, target_name) = if is_real_dir(&mites) && !is_real_dir(&ours) {
        (mites, ours, MITE_DIR)
    } else {
        (ours, mites, DEFAULT_DIR)
    };
    std::fs::create_dir_all(&target)?;
    match alias.symlink_metadata() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            match std::os::unix::fs::symlink(target_name, &alias) {
                Ok(()) => Ok((target, None)),
                // Another run made it meanwhile.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok((target, None)),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
        Ok(meta) if meta.file_type().is_symlink() => Ok((target, None)),
        Ok(_) => Ok((target, Some(alias))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_through(base: &Path, dir: &str, file: &str) -> String {
        std::fs::read_to_string(base.join(dir).join(file)).unwrap()
    }

    #[test]
    fn a_fresh_directory_gets_ours_and_mites_name_for_it() {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, other) = default_dir(tmp.path()).unwrap();
        assert_eq!(dir, tmp.path().join(DEFAULT_DIR));
        assert!(other.is_none());
        std::fs::write(dir.join("users.msgpack"), "x").unwrap();
        assert_eq!(read_through(tmp.path(), MITE_DIR, "users.msgpack"), "x");
        let link = std::fs::read_link(tmp.path().join(MITE_DIR)).unwrap();
        assert_eq!(link, Path::new(DEFAULT_DIR));
        // Again: nothing changes.
        assert_eq!(default_dir(tmp.path()).unwrap(), (dir, None));
    }

    #[test]
    fn mites_existing_directory_is_kept_and_ours_points_at_it() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join(MITE_DIR)).unwrap();
        std::fs::write(tmp.path().join(MITE_DIR).join("old.msgpack"), "o").unwrap();
        let (dir, other) = default_dir(tmp.path()).unwrap();
        assert_eq!(dir, tmp.path().join(MITE_DIR));
        assert!(other.is_none());
        assert_eq!(read_through(tmp.path(), DEFAULT_DIR, "old.msgpack"), "o");
    }

    #[test]
    fn two_real_directories_are_left_alone_and_told() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join(MITE_DIR)).unwrap();
        std::fs::create_dir(tmp.path().join(DEFAULT_DIR)).unwrap();
        let (dir, other) = default_dir(tmp.path()).unwrap();
        assert_eq!(dir, tmp.path().join(DEFAULT_DIR));
        assert_eq!(other, Some(tmp.path().join(MITE_DIR)));
    }
}
