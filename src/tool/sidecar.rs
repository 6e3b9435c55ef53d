//! The sidecar `FILE.sig.json` written next to a signature: KMS signatures carry no metadata, so
//! the key, algorithm, message type and digest travel beside them (docs/kms-facts.md §3).

use std::path::{Path, PathBuf};

use crate::core::io::{Destination, Mode, write_all};
use crate::core::spec::{KeySpec, MessageType, SigningAlgorithm};
use crate::error::{Error, Result};

/// Sidecar contents, in KMS's field names where KMS has one.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Sidecar {
    /// Key ARN as Sign returned it.
    pub key_id: String,
    /// The key's spec; absent when the signer held no public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_spec: Option<KeySpec>,
    pub signing_algorithm: SigningAlgorithm,
    pub message_type: MessageType,
    /// Name of the digest below (`SHA-512`, `SM3`, `ML-DSA-MU`); absent when it was not computed
    /// (an ML-DSA RAW message signed without the public key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest_algorithm: Option<String>,
    /// Hex digest of the input (μ for ML-DSA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Input size in bytes; absent when a precomputed digest was signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_size: Option<u64>,
    /// SHA-256 of the DER SubjectPublicKeyInfo, hex; absent when the signer held no public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_sha256: Option<String>,
    /// Whether the signature was verified with the key's public key before it was written
    /// (`false`: only its structure was checked, `sign --allow-unverified`).
    #[serde(default = "verified_by_default")]
    pub self_verified: bool,
    /// RFC 3339 UTC time of signing.
    pub signed_at: String,
    /// `kms-openssl <version>`.
    pub tool: String,
}

/// Sidecars written before `SelfVerified` existed were only written after a verification.
fn verified_by_default() -> bool {
    true
}

/// The conventional sidecar path: `<signature>.json` (so `f.sig` → `f.sig.json`).
pub fn path_for(signature: &Path) -> PathBuf {
    let mut s = signature.as_os_str().to_owned();
    s.push(".json");
    PathBuf::from(s)
}

impl Sidecar {
    /// The sidecar for a signature KMS returned for `prepared`, signed now; `key` is `None` for a
    /// signer that held no public key.
    ///
    /// Errors: [`Error::Internal`] when the clock cannot be formatted.
    pub fn for_signature(
        signed: &crate::client::sign::Signed,
        key: Option<&crate::client::sign::SigningKey>,
        alg: SigningAlgorithm,
        prepared: &crate::client::sign::Prepared,
    ) -> Result<Sidecar> {
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(|e| Error::Internal(format!("clock: {e}")))?;
        Ok(Sidecar {
            key_id: signed.key_arn.clone(),
            key_spec: key.map(|k| k.info.key_spec),
            signing_algorithm: alg,
            message_type: prepared.message_type,
            digest_algorithm: prepared
                .digest
                .as_ref()
                .map(|_| alg.input_digest_name().to_string()),
            digest: prepared.digest.as_ref().map(hex::encode),
            input_size: prepared.input_size,
            public_key_sha256: key
                .map(|k| crate::core::keys::spki_fingerprint(&k.info.spki_der))
                .transpose()?,
            self_verified: signed.check == crate::client::sign::SelfCheck::Verified,
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

    /// Refuses a sidecar that contradicts the public key it is used with (its KeySpec, its
    /// fingerprint, when it records them) or whose algorithm does not fit its KeySpec.
    pub fn check_against(&self, path: &Path, key: &crate::core::keys::PublicKey) -> Result<()> {
        let bad = |reason: String| Error::Sidecar {
            path: path.to_path_buf(),
            reason,
        };
        if let (Some(theirs), Some(spec)) = (self.key_spec, key.key_spec())
            && theirs != spec
        {
            return Err(bad(format!(
                "it says KeySpec {theirs}, but the public key is {spec}"
            )));
        }
        if let Some(fp) = &self.public_key_sha256
            && !fp.eq_ignore_ascii_case(&key.fingerprint()?)
        {
            return Err(bad(
                "it was written for another public key (PublicKeySha256 differs)".into(),
            ));
        }
        if let Some(spec) = self.key_spec {
            self.signing_algorithm
                .check_key_spec(spec)
                .map_err(|e| bad(e.to_string()))?;
        }
        Ok(())
    }
}

/// Where a signature and its sidecar go, checked before anything is signed
/// ([`Destination::check`]), written together or not at all ([`SignatureOutputs::write`]).
#[derive(Debug, Clone)]
pub struct SignatureOutputs {
    signature: Destination,
    sidecar: Option<Destination>,
}

impl SignatureOutputs {
    /// Checks `signature_path` and, with `with_sidecar`, `<signature_path>.json`; neither may be
    /// one of `inputs` (device and inode).
    pub fn check(
        signature_path: &Path,
        with_sidecar: bool,
        inputs: &[(u64, u64)],
    ) -> Result<SignatureOutputs> {
        Ok(SignatureOutputs {
            signature: Destination::check(signature_path, inputs)?,
            sidecar: with_sidecar
                .then(|| Destination::check(&path_for(signature_path), inputs))
                .transpose()?,
        })
    }

    /// The signature file.
    pub fn signature_path(&self) -> &Path {
        &self.signature.path
    }

    /// The sidecar file, when one is written.
    pub fn sidecar_path(&self) -> Option<&Path> {
        self.sidecar.as_ref().map(|d| d.path.as_path())
    }

    /// Writes the signature (raw bytes) and, when checked for, its sidecar: both or neither.
    /// Returns the sidecar path.
    ///
    /// Errors: [`Error::Internal`] when a sidecar was checked for but none is given; I/O errors.
    pub fn write(&self, signature: &[u8], sidecar: Option<&Sidecar>) -> Result<Option<PathBuf>> {
        let json = sidecar.map(Sidecar::to_json);
        let mut outputs = vec![(&self.signature, signature, Mode::Default)];
        match (&self.sidecar, &json) {
            (Some(d), Some(j)) => outputs.push((d, j.as_slice(), Mode::Default)),
            (None, _) => {}
            (Some(_), None) => return Err(Error::Internal("no sidecar to write".into())),
        }
        write_all(&outputs)?;
        Ok(self.sidecar.as_ref().map(|d| d.path.clone()))
    }
}
