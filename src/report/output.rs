//! Atomic output: every file is written to a temporary name in its folder and renamed into
//! place, so a failed or interrupted run never leaves a half-written file.

use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {error}")]
pub struct WriteError {
    pub path: PathBuf,
    pub error: std::io::Error,
}

/// Creates `dir` (and parents); an error names the folder.
pub fn ensure_dir(dir: &Path) -> Result<(), WriteError> {
    std::fs::create_dir_all(dir).map_err(|error| WriteError {
        path: dir.to_path_buf(),
        error,
    })?;
    // Probe that the folder is writable before any work is done.
    let probe = dir.join(".raftsim-write-test");
    std::fs::write(&probe, b"").map_err(|error| WriteError {
        path: dir.to_path_buf(),
        error,
    })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let err = |error| WriteError {
        path: path.to_path_buf(),
        error,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
}
