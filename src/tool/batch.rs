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

/// Parses a manifest: one entry per line, `FILE` or `FILE<TAB>SIGNATURE[<TAB>SIDECAR]`; blank lines
/// and lines starting with `#` are skipped. `FILE` alone means `FILE.sig` and, when it exists,
/// `FILE.sig.json`. Relative paths are relative to `base` (the manifest's folder).
pub fn parse_manifest(text: &str, base: &Path) -> Vec<Entry> {
    let at = |s: &str| {
        if base == Path::new(".") {
            PathBuf::from(s)
        } else {
            base.join(s)
        }
    };
    text.lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|line| {
            let mut parts = line.split('\t');
            let file = at(parts.next().unwrap_or_default());
            let signature = parts
                .next()
                .map(at)
                .unwrap_or_else(|| with_suffix(&file, ".sig"));
            let sidecar = parts
                .next()
                .map(at)
                .or_else(|| Some(sidecar::path_for(&signature)).filter(|p| p.exists()));
            Entry {
                file,
                signature,
                sidecar,
            }
        })
        .collect()
}

/// Reads a manifest file (or, for plain lists of files to sign, just its paths).
pub fn read_manifest(path: &Path) -> Result<Vec<Entry>> {
    let bytes = read_small_file(path, 256 * 1024 * 1024)?;
    let text = String::from_utf8(bytes).map_err(|_| Error::BadInput {
        path: path.to_path_buf(),
        reason: "not UTF-8 text".into(),
    })?;
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Ok(parse_manifest(&text, base))
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

    /// The key a sidecar names, or the only key when there is one.
    pub fn select(&self, sidecar: Option<&Sidecar>) -> Option<&PublicKey> {
        match sidecar {
            Some(sc) => self
                .keys
                .iter()
                .find(|(fp, _)| fp.eq_ignore_ascii_case(&sc.public_key_sha256))
                .map(|(_, k)| k),
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
    let mut reader = crate::core::io::open_regular(&e.file)?;
    verify::verify_message(key, a, &mut reader, &e.file, window, opts)
}
