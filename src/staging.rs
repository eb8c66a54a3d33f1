//! Atomic outputs: a file or directory is written under a hidden temporary name beside its
//! target and renamed into place only when complete. Dropped before `commit`, the temporary is
//! removed, so a failure never leaves anything half-written where the user looks; nor does an
//! interrupted run (`cleanup`).

use crate::cleanup::{register, Registration};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

pub struct Staged {
    temp: PathBuf,
    target: PathBuf,
    committed: bool,
    _undo: Registration,
}

impl Staged {
    /// Reserves a temporary name beside `target`, creating `target`'s parent directory.
    pub fn beside(target: &Path) -> Result<Staged> {
        let name = target
            .file_name()
            .ok_or_else(|| Error::Usage(format!("{}: not a file or directory name", target.display())))?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".tmp-{}", std::process::id()));
        let temp = target.with_file_name(temp_name);
        if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        remove_temp(&temp);
        let undo = register({
            let temp = temp.clone();
            move || remove_temp(&temp)
        });
        Ok(Staged { temp, target: target.to_path_buf(), committed: false, _undo: undo })
    }

    pub fn path(&self) -> &Path {
        &self.temp
    }

    /// Moves the finished output into place, replacing whatever was there.
    pub fn commit(mut self) -> Result<()> {
        if self.target.is_dir() {
            std::fs::remove_dir_all(&self.target).map_err(|e| Error::io(&self.target, e))?;
        }
        std::fs::rename(&self.temp, &self.target).map_err(|e| Error::io(&self.target, e))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            remove_temp(&self.temp);
        }
    }
}

/// Removes a temporary output, and what DuckDB keeps beside a database file: its write-ahead log
/// and its spill directory.
fn remove_temp(temp: &Path) {
    let _ = std::fs::remove_dir_all(temp);
    let _ = std::fs::remove_file(temp);
    for suffix in [".wal", ".tmp"] {
        let mut beside = temp.as_os_str().to_owned();
        beside.push(suffix);
        let beside = PathBuf::from(beside);
        let _ = std::fs::remove_file(&beside);
        let _ = std::fs::remove_dir_all(&beside);
    }
}
