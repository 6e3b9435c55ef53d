//! The sidecar `FILE.sig.json` written next to a signature: KMS signatures carry no metadata, so
//! the key, algorithm, message type and digest travel beside them (docs/kms-facts.md §3).

use std::path::{Path, PathBuf};

use crate::core::io::{Mode, write_atomic};
use crate::core::spec::{KeySpec, MessageType, SigningAlgorithm};
use crate::error::{Error, Result};

/// Sidecar contents, in KMS's field names where KMS has one.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Sidecar {
    /// Key ARN as Sign returned it.
    pub key_id: String,
    pub key_spec: KeySpec,
    pub signing_algorithm: SigningAlgorithm,
    pub message_type: MessageType,
    /// Name of the digest below (`SHA-512`, `SM3`, `ML-DSA-MU`).
    pub digest_algorithm: String,
    /// Hex digest of the input (μ for ML-DSA).
    pub digest: String,
    /// Input size in bytes; absent when a precomputed digest was signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_size: Option<u64>,
    /// SHA-256 of the DER SubjectPublicKeyInfo, hex.
    pub public_key_sha256: String,
    /// RFC 3339 UTC time of signing.
    pub signed_at: String,
    /// `kms-openssl <version>`.
    pub tool: String,
}

/// The conventional sidecar path: `<signature>.json` (so `f.sig` → `f.sig.json`).
pub fn path_for(signature: &Path) -> PathBuf {
    let mut s = signature.as_os_str().to_owned();
    s.push(".json");
    PathBuf::from(s)
}

impl Sidecar {
    /// The sidecar for a signature KMS returned for `prepared`, signed now.
    ///
    /// Errors: [`Error::Internal`] when the clock cannot be formatted or `prepared` has no input
    /// digest (an ML-DSA RAW message prepared without the public key).
    pub fn for_signature(
        signed: &crate::client::sign::Signed,
        key: &crate::client::sign::SigningKey,
        alg: SigningAlgorithm,
        prepared: &crate::client::sign::Prepared,
    ) -> Result<Sidecar> {
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(|e| Error::Internal(format!("clock: {e}")))?;
        let digest = prepared
            .digest
            .as_ref()
            .ok_or_else(|| Error::Internal("no input digest for the sidecar".into()))?;
        Ok(Sidecar {
            key_id: signed.key_arn.clone(),
            key_spec: key.info.key_spec,
            signing_algorithm: alg,
            message_type: prepared.message_type,
            digest_algorithm: alg.input_digest_name().to_string(),
            digest: hex::encode(digest),
            input_size: prepared.input_size,
            public_key_sha256: crate::core::keys::spki_fingerprint(&key.info.spki_der)?,
            signed_at: now,
            tool: crate::tool_version(),
        })
    }

    /// Reads and parses a sidecar file.
    pub fn load(path: &Path) -> Result<Sidecar> {
        let bytes = crate::core::io::read_small_file(path, 1024 * 1024)?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Sidecar {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    }

    /// Serialises to pretty JSON with a final newline.
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }

    /// Refuses a sidecar that contradicts the public key it is used with.
    pub fn check_against(&self, path: &Path, key: &crate::core::keys::PublicKey) -> Result<()> {
        let fp = key.fingerprint()?;
        if let Some(spec) = key.key_spec().filter(|s| *s != self.key_spec) {
            return Err(Error::Sidecar {
                path: path.to_path_buf(),
                reason: format!(
                    "it says KeySpec {}, but the public key is {spec}",
                    self.key_spec
                ),
            });
        }
        if !self.public_key_sha256.eq_ignore_ascii_case(&fp) {
            return Err(Error::Sidecar {
                path: path.to_path_buf(),
                reason: "it was written for another public key (PublicKeySha256 differs)".into(),
            });
        }
        self.signing_algorithm
            .check_key_spec(self.key_spec)
            .map_err(|e| Error::Sidecar {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })
    }
}

/// Writes a signature (raw bytes) to `signature_path` and, when given, its sidecar to
/// `<signature_path>.json`, each atomically ([`write_atomic`]). Returns the sidecar path.
pub fn write_signed(
    signature_path: &Path,
    signature: &[u8],
    sidecar: Option<&Sidecar>,
) -> Result<Option<PathBuf>> {
    write_atomic(signature_path, signature, Mode::Default)?;
    match sidecar {
        Some(sc) => {
            let p = path_for(signature_path);
            write_atomic(&p, &sc.to_json(), Mode::Default)?;
            Ok(Some(p))
        }
        None => Ok(None),
    }
}
