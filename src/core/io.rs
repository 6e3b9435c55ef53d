//! Binary file I/O: inputs read byte-for-byte (nothing added, stripped or decoded, case C28 of docs/interop-cases.md),
//! outputs written atomically (temp file in the same folder, fsync, rename).

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// An input: a file path, or `-` for standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    File(PathBuf),
}

impl Input {
    /// `-` is standard input; anything else is a path.
    pub fn parse(s: &str) -> Input {
        if s == "-" {
            Input::Stdin
        } else {
            Input::File(PathBuf::from(s))
        }
    }

    /// The name used in messages (`-` for stdin).
    pub fn display_path(&self) -> PathBuf {
        match self {
            Input::Stdin => PathBuf::from("-"),
            Input::File(p) => p.clone(),
        }
    }

    /// Opens the input for streaming. A directory or a missing file is an error naming the path.
    pub fn open(&self) -> Result<Box<dyn Read + Send>> {
        match self {
            Input::Stdin => Ok(Box::new(std::io::stdin())),
            Input::File(p) => Ok(Box::new(open_regular(p)?)),
        }
    }

    /// Size in bytes when known without reading (regular files).
    pub fn len_hint(&self) -> Option<u64> {
        match self {
            Input::Stdin => None,
            Input::File(p) => std::fs::metadata(p)
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len()),
        }
    }
}

/// Opens a file for reading, refusing directories with a clear message.
pub fn open_regular(path: &Path) -> Result<File> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::BadInput {
            path: path.to_path_buf(),
            reason: "is a directory, not a file".into(),
        });
    }
    File::open(path).map_err(|e| Error::io(path, e))
}

/// Reads a whole file of at most `limit` bytes (keys, signatures, sidecars).
pub fn read_small_file(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let f = open_regular(path)?;
    let mut buf = Vec::new();
    f.take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(path, e))?;
    if buf.len() as u64 > limit {
        return Err(Error::BadInput {
            path: path.to_path_buf(),
            reason: format!("larger than the {limit}-byte limit for this kind of file"),
        });
    }
    Ok(buf)
}

/// Reads at most `limit` bytes from `r`; returns `None` when there was more.
pub fn read_up_to(r: &mut dyn Read, limit: usize, path: &Path) -> Result<(Vec<u8>, bool)> {
    let mut buf = Vec::with_capacity(limit.min(64 * 1024) + 1);
    r.take(limit as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(path, e))?;
    let more = buf.len() > limit;
    Ok((buf, more))
}

/// Read size for streamed hashing and verification, in bytes.
pub const CHUNK: usize = 256 * 1024;

/// Reads `reader` to the end in chunks of [`CHUNK`] bytes, handing each to `f`
/// (constant memory whatever the input size). I/O errors name `origin`.
pub fn for_each_chunk(
    reader: &mut dyn Read,
    origin: &Path,
    mut f: impl FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => f(&buf[..n])?,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(origin, e)),
        }
    }
}

/// File mode for written files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The process umask applies (0644 under the usual umask 022).
    Default,
    /// Owner read/write only (0600): secrets such as plaintexts and shared secrets.
    OwnerOnly,
}

/// Writes `bytes` to `path` atomically: a temp file in the same folder, fsync, rename over `path`.
/// After any error the target is untouched and no temp file is left.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: Mode) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if path.is_dir() {
        return Err(Error::BadInput {
            path: path.to_path_buf(),
            reason: "is a directory; give a file name to write".into(),
        });
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(".kms-openssl-")
        .suffix(".tmp")
        .permissions(permissions(mode))
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Mode bits at creation; open(2) applies the umask on top, as for any `openssl -out` file.
fn permissions(mode: Mode) -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(match mode {
        Mode::Default => 0o666,
        Mode::OwnerOnly => 0o600,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out.sig");
        write_atomic(&p, b"one", Mode::Default).unwrap();
        write_atomic(&p, b"two", Mode::OwnerOnly).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn writing_into_a_missing_folder_fails_cleanly() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("nope/out.sig");
        assert!(write_atomic(&p, b"x", Mode::Default).is_err());
        assert!(!p.exists());
    }

    #[test]
    fn directory_input_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let e = Input::File(d.path().to_path_buf()).open().err().unwrap();
        assert!(e.to_string().contains("directory"), "{e}");
    }
}
