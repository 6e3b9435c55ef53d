//! Many files at once: manifests, and offline verification in parallel across cores with each
//! public key parsed once (issue #7).

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::core::io::read_small_file;
use crate::core::keys::PublicKey;
use crate::core::spec::SigningAlgorithm;
use crate::core::verify::{self, Outcome, VerifyOptions};
use crate::error::{Error, Result};
use crate::tool::sidecar::{self, Sidecar};

/// One manifest line: the signed file, its signature, and its sidecar when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub file: PathBuf,
    pub signature: PathBuf,
    pub sidecar: Option<PathBuf>,
}

/// The lines of a list file: split at LF, a CR before it dropped (CRLF files), blank lines and
/// lines starting with `#` skipped; any bytes, not only UTF-8, as file names are.
fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace) && !l.starts_with(b"#"))
}

/// A path from list-file bytes, relative to `base` (the list's folder).
fn path_at(base: &Path, bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let p = Path::new(std::ffi::OsStr::from_bytes(bytes));
    if base == Path::new(".") {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// Parses a verification manifest: one entry per line, `FILE` or `FILE<TAB>SIGNATURE[<TAB>SIDECAR]`
/// (see [`lines`]). `FILE` alone means `FILE.sig` and, when it exists, `FILE.sig.json`. Relative
/// paths are relative to `base` (the manifest's folder).
pub fn parse_manifest(bytes: &[u8], base: &Path) -> Vec<Entry> {
    lines(bytes)
        .map(|line| {
            let mut parts = line.split(|b| *b == b'\t');
            let file = path_at(base, parts.next().unwrap_or_default());
            let signature = parts
                .next()
                .map(|p| path_at(base, p))
                .unwrap_or_else(|| with_suffix(&file, ".sig"));
            let sidecar = parts
                .next()
                .map(|p| path_at(base, p))
                .or_else(|| Some(sidecar::path_for(&signature)).filter(|p| p.exists()));
            Entry {
                file,
                signature,
                sidecar,
            }
        })
        .collect()
}

/// The folder relative paths in a list file are read from.
fn base_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Largest list file read, in bytes.
const MAX_LIST_FILE: u64 = 256 * 1024 * 1024;

/// Reads a verification manifest ([`parse_manifest`]).
pub fn read_manifest(path: &Path) -> Result<Vec<Entry>> {
    let bytes = read_small_file(path, MAX_LIST_FILE)?;
    Ok(parse_manifest(&bytes, base_of(path)))
}

/// Reads a list of files to sign: one path per line, the whole line (a TAB is part of the name),
/// CRLF tolerated ([`lines`]); relative paths are relative to the list's folder.
pub fn read_file_list(path: &Path) -> Result<Vec<PathBuf>> {
    let bytes = read_small_file(path, MAX_LIST_FILE)?;
    Ok(lines(&bytes).map(|l| path_at(base_of(path), l)).collect())
}

/// `path` with `suffix` appended to its file name (`f` → `f.sig`).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Public keys, parsed once, found by the SHA-256 of their SPKI (the sidecar's `PublicKeySha256`).
pub struct KeyRing {
    keys: Vec<(String, PublicKey)>,
}

impl KeyRing {
    /// Loads each key file (PEM or DER).
    pub fn load(paths: &[PathBuf]) -> Result<KeyRing> {
        let keys = paths
            .iter()
            .map(|p| {
                let k = PublicKey::from_file(p)?;
                Ok((k.fingerprint()?, k))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(KeyRing { keys })
    }

    /// The key a sidecar names, or the only key when there is one and the sidecar names none.
    pub fn select(&self, sidecar: Option<&Sidecar>) -> Option<&PublicKey> {
        match sidecar.and_then(|sc| sc.public_key_sha256.as_ref()) {
            Some(theirs) => self
                .keys
                .iter()
                .find(|(fp, _)| fp.eq_ignore_ascii_case(theirs))
                .map(|(_, k)| k),
            // No sidecar, or one that names no key (signed without the public key).
            None if self.keys.len() == 1 => self.keys.first().map(|(_, k)| k),
            None => None,
        }
    }
}

/// The result for one entry.
#[derive(Debug)]
pub struct Checked {
    pub entry: Entry,
    pub algorithm: Option<SigningAlgorithm>,
    /// The verdict, or why there is none (missing file, no key, bad sidecar).
    pub outcome: Result<Outcome>,
}

/// Verifies every entry, in parallel on all cores, in manifest order. The algorithm comes from each
/// entry's sidecar, else from `algorithm`. Signatures are read as `openssl dgst` reads them.
pub fn verify_all(
    entries: Vec<Entry>,
    keys: &KeyRing,
    algorithm: Option<SigningAlgorithm>,
    opts: &VerifyOptions,
) -> Vec<Checked> {
    entries
        .into_par_iter()
        .map(|entry| {
            let mut alg = algorithm;
            let outcome = verify_entry(&entry, keys, &mut alg, opts);
            Checked {
                entry,
                algorithm: alg,
                outcome,
            }
        })
        .collect()
}

fn verify_entry(
    e: &Entry,
    keys: &KeyRing,
    alg: &mut Option<SigningAlgorithm>,
    opts: &VerifyOptions,
) -> Result<Outcome> {
    // The message first: a missing file is named as such, not as a missing sidecar.
    let mut reader = crate::core::io::open_regular(&e.file)?;
    let sidecar = e.sidecar.as_deref().map(Sidecar::load).transpose()?;
    let key = keys
        .select(sidecar.as_ref())
        .ok_or_else(|| Error::BadInput {
            path: e.signature.clone(),
            reason: "no --public-key matches this signature's sidecar (PublicKeySha256)".into(),
        })?;
    if let (Some(sc), Some(path)) = (&sidecar, &e.sidecar) {
        sc.check_against(path, key)?;
        if alg.is_some_and(|a| a != sc.signing_algorithm) {
            return Err(Error::Sidecar {
                path: path.clone(),
                reason: format!(
                    "it says {}, not {}",
                    sc.signing_algorithm,
                    alg.map(|a| a.to_string()).unwrap_or_default()
                ),
            });
        }
        *alg = Some(sc.signing_algorithm);
    }
    let a = alg.ok_or_else(|| {
        Error::Usage(format!(
            "{}: no sidecar; give --signing-algorithm",
            e.file.display()
        ))
    })?;
    let sig = read_small_file(&e.signature, 64 * 1024)?;
    if sig.is_empty() {
        return Err(Error::BadInput {
            path: e.signature.clone(),
            reason: "the signature file is empty".into(),
        });
    }
    let (window, _) = verify::signature_as_openssl_reads_it(key, a, &sig);
    verify::verify_message(key, a, &mut reader, &e.file, window, opts)
}
