//! Key import (BYOK): which wrapping choices KMS accepts for which key, and the limits of
//! GetParametersForImport / ImportKeyMaterial.
//!
//! Sources: KMS Developer Guide "Step 2: Download the wrapping public key and import token" (the
//! wrapping algorithm × key type table, RSA_4096 preferred, ML-DSA not importable, 24-hour
//! validity) and "Step 3: Encrypt the key material" (PKCS#8 DER for asymmetric keys; RSA_AES_* =
//! RSA-OAEP of a fresh AES-256 key, then AES key wrap with padding, RFC 5649, in that order); KMS
//! API reference ImportKeyMaterial (blob lengths, ValidTo at most 365 days ahead). See
//! docs/kms-facts-2.md §2.

use super::{Hash, KeyFamily, KeySpec, WrappingAlgorithm, WrappingKeySpec};

/// Seconds a GetParametersForImport answer (wrapping key and import token) stays usable.
pub const IMPORT_PARAMETERS_VALID_SECONDS: u64 = 24 * 3600;
/// Furthest `ValidTo` ImportKeyMaterial accepts, in days after the request.
pub const MAX_VALID_TO_DAYS: u64 = 365;
/// Largest `ImportToken` and `EncryptedKeyMaterial`, in bytes (both 1–6144).
pub const MAX_IMPORT_BLOB: usize = 6144;
/// The AES key of RSA_AES_KEY_WRAP_*: AES-256.
pub const HYBRID_AES_KEY_LEN: usize = 32;

impl WrappingAlgorithm {
    /// The OAEP hash (also the MGF1 hash) of the RSA step; `None` for PKCS#1 v1.5 and SM2PKE.
    pub fn oaep_hash(self) -> Option<Hash> {
        match self {
            WrappingAlgorithm::RsaesOaepSha1 | WrappingAlgorithm::RsaAesKeyWrapSha1 => {
                Some(Hash::Sha1)
            }
            WrappingAlgorithm::RsaesOaepSha256 | WrappingAlgorithm::RsaAesKeyWrapSha256 => {
                Some(Hash::Sha256)
            }
            WrappingAlgorithm::RsaesPkcs1V15 | WrappingAlgorithm::Sm2pke => None,
        }
    }

    /// Whether the material is wrapped with AES key wrap under an RSA-OAEP-wrapped AES key
    /// (the blob is `OAEP(aes key) || KWP(material)`), not with RSA-OAEP directly.
    pub fn is_hybrid(self) -> bool {
        matches!(
            self,
            WrappingAlgorithm::RsaAesKeyWrapSha1 | WrappingAlgorithm::RsaAesKeyWrapSha256
        )
    }

    /// Whether KMS accepts this algorithm with this wrapping key for key material of
    /// `key_spec`; `Err` says why not (KMS: `UnsupportedOperationException`).
    pub fn check(self, key_spec: KeySpec, wrapping: WrappingKeySpec) -> Result<(), String> {
        key_spec.check_importable()?;
        if self == WrappingAlgorithm::RsaesPkcs1V15 {
            return Err(
                "RSAES_PKCS1_V1_5 is no longer accepted for key import (KMS stopped on October 10, 2023); use RSA_AES_KEY_WRAP_SHA_256 or RSAES_OAEP_SHA_256".into(),
            );
        }
        if self == WrappingAlgorithm::Sm2pke || wrapping == WrappingKeySpec::Sm2 {
            return Err("SM2PKE and SM2 wrapping keys are for AWS China Regions only".into());
        }
        let rsa_material = matches!(key_spec.family(), KeyFamily::Rsa { .. });
        if rsa_material && !self.is_hybrid() {
            return Err(format!(
                "{self} cannot wrap an RSA private key (it is longer than one RSA-OAEP block); use RSA_AES_KEY_WRAP_SHA_256"
            ));
        }
        if key_spec == KeySpec::EccNistP521
            && !self.is_hybrid()
            && wrapping == WrappingKeySpec::Rsa2048
        {
            return Err(format!(
                "{self} with an RSA_2048 wrapping key cannot wrap an ECC_NIST_P521 private key; use RSA_AES_KEY_WRAP_SHA_256 or a larger wrapping key"
            ));
        }
        Ok(())
    }

    /// The algorithm to use when none is given: the Developer Guide's first choice.
    pub fn preferred() -> WrappingAlgorithm {
        WrappingAlgorithm::RsaAesKeyWrapSha256
    }
}

impl WrappingKeySpec {
    /// RSA modulus bits; `None` for SM2.
    pub fn rsa_bits(self) -> Option<u32> {
        match self {
            WrappingKeySpec::Rsa2048 => Some(2048),
            WrappingKeySpec::Rsa3072 => Some(3072),
            WrappingKeySpec::Rsa4096 => Some(4096),
            WrappingKeySpec::Sm2 => None,
        }
    }

    /// The wrapping key to use when none is given (the Developer Guide's "preferred").
    pub fn preferred() -> WrappingKeySpec {
        WrappingKeySpec::Rsa4096
    }
}

impl KeySpec {
    /// Whether KMS takes imported material for keys of this spec; ML-DSA keys cannot have it.
    pub fn check_importable(self) -> Result<(), String> {
        match self.family() {
            KeyFamily::MlDsa { .. } => Err(format!(
                "KMS does not import key material for {self} (ML-DSA) keys"
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_material_needs_the_hybrid_wrap_and_ecc_takes_either() {
        use WrappingAlgorithm as W;
        assert!(
            W::RsaesOaepSha256
                .check(KeySpec::Rsa2048, WrappingKeySpec::Rsa4096)
                .is_err()
        );
        assert!(
            W::RsaAesKeyWrapSha256
                .check(KeySpec::Rsa4096, WrappingKeySpec::Rsa2048)
                .is_ok()
        );
        assert!(
            W::RsaesOaepSha1
                .check(KeySpec::EccNistP256, WrappingKeySpec::Rsa2048)
                .is_ok()
        );
        assert!(
            W::RsaesOaepSha256
                .check(KeySpec::EccNistP521, WrappingKeySpec::Rsa2048)
                .is_err()
        );
        assert!(
            W::RsaesPkcs1V15
                .check(KeySpec::EccNistP256, WrappingKeySpec::Rsa4096)
                .is_err()
        );
        assert!(
            W::RsaAesKeyWrapSha256
                .check(KeySpec::MlDsa65, WrappingKeySpec::Rsa4096)
                .is_err()
        );
    }
}
