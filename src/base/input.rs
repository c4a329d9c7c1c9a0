//! Reading an input file whole, within a size bound. A scenario or a trace is read into memory
//! at once, so a file larger than its bound is refused before it is read, and a pipe is read
//! through [`Read::take`] so that it cannot grow past the bound either. A device (`/dev/zero`,
//! a terminal) is refused at once: it is not a file, and it may never end.

use std::io::Read;
use std::path::Path;

/// Why an input file was not read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}, not a file: give a file (or a pipe)")]
    NotAFile(&'static str),
    #[error("larger than {}", format_bytes(*.0))]
    TooLarge(u64),
}

/// Reads `path` as UTF-8 text of at most `limit` bytes.
pub fn read_to_string_limited(path: &Path, limit: u64) -> Result<String, InputError> {
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    let kind = meta.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_char_device() {
            return Err(InputError::NotAFile("a character device"));
        }
        if kind.is_block_device() {
            return Err(InputError::NotAFile("a block device"));
        }
    }
    if kind.is_file() && meta.len() > limit {
        return Err(InputError::TooLarge(limit));
    }
    let mut text = String::new();
    file.take(limit.saturating_add(1))
        .read_to_string(&mut text)?;
    if text.len() as u64 > limit {
        return Err(InputError::TooLarge(limit));
    }
    Ok(text)
}

/// `1 MiB`, `512 MiB`, `3 GiB`, or bytes when not a whole number of KiB.
pub fn format_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["GiB", "MiB", "KiB", "bytes"];
    for (i, unit) in UNITS.iter().enumerate() {
        let size = 1u64 << (10 * (3 - i));
        if n >= size && n.is_multiple_of(size) {
            return format!("{} {unit}", n / size);
        }
    }
    format!("{n} bytes")
}

/// `1 fault`, `2 faults`: a count and its noun, `one` for one, `many` otherwise.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `1,000,000`: a count in a message, with its digits grouped.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_sizes() {
        assert_eq!(format_bytes(1 << 20), "1 MiB");
        assert_eq!(format_bytes(512 << 20), "512 MiB");
        assert_eq!(format_bytes(1 << 30), "1 GiB");
        assert_eq!(format_bytes(1000), "1000 bytes");
        assert_eq!(format_bytes(0), "0 bytes");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(4294967295), "4,294,967,295");
    }

    #[test]
    fn refuses_what_is_larger_than_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"0123456789").unwrap();
        assert_eq!(read_to_string_limited(&p, 10).unwrap(), "0123456789");
        assert!(matches!(
            read_to_string_limited(&p, 9),
            Err(InputError::TooLarge(9))
        ));
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_device_without_reading_it() {
        assert!(matches!(
            read_to_string_limited(Path::new("/dev/zero"), 1 << 20),
            Err(InputError::NotAFile("a character device"))
        ));
    }
}
