//! Atomic outputs: a file or directory is written under a hidden temporary name beside its
//! target and renamed into place only when complete. Dropped before `commit`, the temporary is
//! removed, so a failure never leaves anything half-written where the user looks.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

pub struct Staged {
    temp: PathBuf,
    target: PathBuf,
    committed: bool,
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
        let staged = Staged { temp, target: target.to_path_buf(), committed: false };
        staged.remove_temp();
        Ok(staged)
    }

    pub fn path(&self) -> &Path {
        &self.temp
    }

    fn remove_temp(&self) {
        let _ = std::fs::remove_dir_all(&self.temp);
        let _ = std::fs::remove_file(&self.temp);
        let mut wal = self.temp.as_os_str().to_owned();
        wal.push(".wal");
        let _ = std::fs::remove_file(PathBuf::from(wal));
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
            self.remove_temp();
        }
    }
}
