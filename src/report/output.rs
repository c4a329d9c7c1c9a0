//! Atomic output: every file is written to a temporary name in its folder and renamed into
//! place, so a failed or interrupted run never leaves a half-written file. Output folders are
//! created only when their files are written: a refused or interrupted run leaves no empty
//! folder behind.

use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {error}")]
pub struct WriteError {
    pub path: PathBuf,
    pub error: std::io::Error,
}

/// Checks, before any work, that `dir` can be created and written, without creating it: its
/// nearest existing ancestor must take a file (a probe, removed at once). Nothing is left
/// behind, so a run refused or interrupted later leaves no empty folder.
pub fn check_writable(dir: &Path) -> Result<(), WriteError> {
    let base = nearest_existing(dir);
    let probe = base.join(format!(".raftsim-write-test-{}", std::process::id()));
    std::fs::File::create(&probe).map_err(|error| WriteError {
        path: dir.to_path_buf(),
        error,
    })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// `dir` itself if it exists, else its nearest ancestor that does (`.` for a relative path
/// none of whose folders exist yet).
fn nearest_existing(dir: &Path) -> &Path {
    dir.ancestors()
        .find(|p| p.as_os_str().is_empty() || p.exists())
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// A file that output streams into during a run and that takes its name only at the end. It
/// has no name meanwhile: it is created in the nearest existing folder of where it will go and
/// unlinked at once, so a run that is killed leaves nothing behind, not even an empty output
/// folder. [`Unnamed::persist`] creates the folder and copies the file into place atomically.
pub struct Unnamed {
    file: std::fs::File,
    /// Where the file still has a name, on a system that cannot unlink an open file: removed
    /// when this is dropped.
    leftover: Option<PathBuf>,
}

impl Unnamed {
    /// Creates the file for output that will go to `dir`; an error names `dir` (it is not
    /// writable), and nothing is left behind.
    pub fn create(dir: &Path) -> Result<Unnamed, WriteError> {
        let base = nearest_existing(dir);
        let path = base.join(format!(".raftsim-output-{}.tmp", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|error| WriteError {
                path: dir.to_path_buf(),
                error,
            })?;
        let leftover = std::fs::remove_file(&path).err().map(|_| path);
        Ok(Unnamed { file, leftover })
    }

    /// A handle to write through (it shares the file's position).
    pub fn writer(&self) -> std::io::Result<std::fs::File> {
        self.file.try_clone()
    }

    /// Creates `path`'s folder and gives the file's content that name, atomically (through a
    /// temporary name in the same folder, removed if anything fails).
    pub fn persist(self, path: &Path) -> Result<(), WriteError> {
        use std::io::{Seek, SeekFrom};
        replace_atomically(path, |out| {
            let mut src = &self.file;
            src.seek(SeekFrom::Start(0))?;
            std::io::copy(&mut src, out).map(drop)
        })
    }
}

impl Drop for Unnamed {
    fn drop(&mut self) {
        if let Some(p) = self.leftover.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Writes `bytes` to `path` atomically, creating its folder if needed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    replace_atomically(path, |out| out.write_all(bytes))
}

/// Creates `path`'s folder, lets `fill` write a temporary file beside `path`, makes it durable
/// and renames it into place; the temporary file is removed if anything fails, so `path` is
/// either the old file or the whole new one.
fn replace_atomically(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<(), WriteError> {
    let err = |error| WriteError {
        path: path.to_path_buf(),
        error,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(err)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        fill(&mut f)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
}
