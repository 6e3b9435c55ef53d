//! Binary file I/O. Inputs are read byte-for-byte (nothing added, stripped or decoded, case C28 of
//! docs/interop-cases.md) and opened exactly once, so a FIFO or standard input works. Outputs are
//! written all or nothing: every destination is checked before anything is written; regular files
//! get a temp file in the same folder, fsync and a rename; a device or FIFO (`/dev/null`, `>(…)`) is
//! written into, as `openssl -out` does, never replaced; a symlink is followed.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Read size for streamed hashing and verification, in bytes.
pub const CHUNK: usize = 256 * 1024;

/// An input: a file path, or `-` for standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    File(PathBuf),
}

impl Input {
    /// `-` is standard input; anything else is a path (any bytes, not only UTF-8).
    pub fn parse(s: impl AsRef<OsStr>) -> Input {
        let s = s.as_ref();
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

    /// Opens the input, once, for streaming. A directory or a missing file is an error naming the
    /// path.
    pub fn open(&self) -> Result<Opened> {
        match self {
            Input::Stdin => Ok(Opened {
                reader: Box::new(std::io::stdin()),
                origin: PathBuf::from("-"),
                len: None,
                id: None,
            }),
            Input::File(p) => {
                let f = open_regular(p)?;
                let meta = f.metadata().map_err(|e| Error::io(p, e))?;
                Ok(Opened {
                    reader: Box::new(f),
                    origin: p.clone(),
                    len: meta.is_file().then_some(meta.len()),
                    id: Some((meta.dev(), meta.ino())),
                })
            }
        }
    }
}

/// An input opened once: read it through [`Read`]; nothing opens it again.
pub struct Opened {
    reader: Box<dyn Read + Send>,
    origin: PathBuf,
    /// Size in bytes of a regular file (`fstat` of the open file); `None` for a pipe or stdin.
    len: Option<u64>,
    /// Device and inode, to refuse writing an output over it.
    id: Option<(u64, u64)>,
}

impl Opened {
    /// The name used in messages (`-` for stdin).
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// Size in bytes when known without reading (regular files).
    pub fn len(&self) -> Option<u64> {
        self.len
    }

    /// Whether it is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len == Some(0)
    }

    /// `(device, inode)` of a file input.
    pub fn file_id(&self) -> Option<(u64, u64)> {
        self.id
    }
}

impl Read for Opened {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.reader.read(buf)
    }
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("origin", &self.origin)
            .field("len", &self.len)
            .finish()
    }
}

/// Opens a file for reading, refusing directories with a clear message. A FIFO nobody writes to
/// reads as empty instead of blocking the open forever (opened `O_NONBLOCK`, then switched back to
/// blocking reads, so a pipe with a writer, such as `<(command)`, is read whole).
pub fn open_regular(path: &Path) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::BadInput {
            path: path.to_path_buf(),
            reason: "is a directory, not a file".into(),
        });
    }
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    // SAFETY: fcntl on a descriptor we own; only the O_NONBLOCK status flag changes.
    let ok = unsafe {
        let flags = libc::fcntl(f.as_raw_fd(), libc::F_GETFL);
        flags >= 0 && libc::fcntl(f.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK) == 0
    };
    if !ok {
        return Err(Error::io(path, std::io::Error::last_os_error()));
    }
    Ok(f)
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

/// Reads up to `limit + 1` bytes from `r`: the flag says whether there was more than `limit`, in
/// which case the buffer holds `limit + 1` bytes (chain it before the rest of `r`).
pub fn read_up_to(r: &mut dyn Read, limit: usize, path: &Path) -> Result<(Vec<u8>, bool)> {
    let mut buf = Vec::with_capacity(limit.min(64 * 1024) + 1);
    r.take(limit as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(path, e))?;
    let more = buf.len() > limit;
    Ok((buf, more))
}

/// Reads `reader` to the end in chunks of [`CHUNK`] bytes, handing each to `f` (constant memory
/// whatever the input size). I/O errors name `origin`.
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

/// Where one output goes, checked before anything is written ([`Destination::check`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The path as given (for messages).
    pub path: PathBuf,
    /// The file written: `path` with symlinks followed.
    target: PathBuf,
    /// A device, FIFO or socket: written into directly, never replaced.
    special: bool,
}

impl Destination {
    /// Checks an output path: a symlink is followed (to a missing file too); a directory, a
    /// missing folder, or the same file as one of `inputs` (same device and inode) is refused.
    ///
    /// Errors: [`Error::BadInput`] naming the path.
    pub fn check(path: &Path, inputs: &[(u64, u64)]) -> Result<Destination> {
        let refuse = |reason: &str| Error::BadInput {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        let target = match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => match std::fs::canonicalize(path) {
                Ok(t) => t,
                // A dangling link: write the file it names.
                Err(_) => {
                    let link = std::fs::read_link(path).map_err(|e| Error::io(path, e))?;
                    parent_of(path).join(link)
                }
            },
            _ => path.to_path_buf(),
        };
        let special = match std::fs::metadata(&target) {
            Ok(m) if m.is_dir() => return Err(refuse("is a directory; give a file name to write")),
            Ok(m) => {
                if inputs.contains(&(m.dev(), m.ino())) {
                    return Err(refuse(
                        "is also an input of this command; writing it would destroy what is read",
                    ));
                }
                !m.is_file()
            }
            Err(_) => {
                if !parent_of(&target).is_dir() {
                    return Err(refuse("the folder to write it in does not exist"));
                }
                false
            }
        };
        Ok(Destination {
            path: path.to_path_buf(),
            target,
            special,
        })
    }
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Writes every output or none: each regular file to a temp file in its folder (written and
/// fsynced), then every special file directly, then every temp file renamed over its target. Any
/// failure before the renames leaves no file changed and no temp file behind.
///
/// Errors: the same file twice among `outputs`; any I/O error, naming the path.
pub fn write_all(outputs: &[(&Destination, &[u8], Mode)]) -> Result<()> {
    for (i, (d, _, _)) in outputs.iter().enumerate() {
        if outputs[..i].iter().any(|(e, _, _)| e.target == d.target) {
            return Err(Error::BadInput {
                path: d.path.clone(),
                reason: "is named twice as an output".into(),
            });
        }
    }
    let mut staged = Vec::new();
    for (d, bytes, mode) in outputs.iter().filter(|(d, _, _)| !d.special) {
        let dir = parent_of(&d.target);
        let mut tmp = tempfile::Builder::new()
            .prefix(".kms-openssl-")
            .suffix(".tmp")
            .permissions(permissions(*mode))
            .tempfile_in(dir)
            .map_err(|e| Error::io(dir, e))?;
        tmp.write_all(bytes).map_err(|e| Error::io(&d.path, e))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| Error::io(&d.path, e))?;
        staged.push((tmp, *d));
    }
    for (d, bytes, _) in outputs.iter().filter(|(d, _, _)| d.special) {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&d.target)
            .map_err(|e| Error::io(&d.path, e))?;
        f.write_all(bytes)
            .and_then(|()| f.flush())
            .map_err(|e| Error::io(&d.path, e))?;
    }
    for (tmp, d) in staged {
        tmp.persist(&d.target)
            .map_err(|e| Error::io(&d.path, e.error))?;
    }
    Ok(())
}

/// Writes one output ([`Destination::check`], then [`write_all`]).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: Mode) -> Result<()> {
    let d = Destination::check(path, &[])?;
    write_all(&[(&d, bytes, mode)])
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

    #[test]
    fn dev_null_is_written_into_not_replaced() {
        let d = Destination::check(Path::new("/dev/null"), &[]).unwrap();
        write_all(&[(&d, b"x", Mode::Default)]).unwrap();
        let m = std::fs::metadata("/dev/null").unwrap();
        assert!(!m.is_file(), "/dev/null is still a device");
    }

    #[test]
    fn a_symlink_is_followed_and_stays_a_symlink() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("real.sig");
        std::fs::write(&real, b"old").unwrap();
        let link = d.path().join("link.sig");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomic(&link, b"new", Mode::Default).unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
    }

    #[test]
    fn an_output_that_is_the_input_is_refused_before_anything_is_written() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, b"message").unwrap();
        let input = Input::File(p.clone()).open().unwrap();
        let e = Destination::check(&p, &[input.file_id().unwrap()]).unwrap_err();
        assert!(e.to_string().contains("also an input"), "{e}");
        assert_eq!(std::fs::read(&p).unwrap(), b"message");
    }

    #[test]
    fn all_or_nothing_when_one_output_fails() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.der");
        let full = Destination::check(Path::new("/dev/full"), &[]).unwrap();
        let da = Destination::check(&a, &[]).unwrap();
        assert!(write_all(&[(&da, b"a", Mode::Default), (&full, b"b", Mode::Default)]).is_err());
        assert!(!a.exists(), "no output is written when one fails");
        assert_eq!(
            std::fs::read_dir(d.path()).unwrap().count(),
            0,
            "no temp left"
        );
    }
}
