//! Key specs: each one's family and size, the usages and algorithms KMS allows for it.

use super::signing::RSA_SPECS;
use super::*;

/// The cryptographic family of a key spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFamily {
    Rsa {
        bits: u32,
    },
    /// A short-Weierstrass curve: OpenSSL NID and field size in bytes (P1363 r and s width).
    Ec {
        nid: openssl::nid::Nid,
        field_bytes: usize,
    },
    Ed25519,
    /// ML-DSA level (44, 65, 87).
    MlDsa {
        level: u32,
    },
    Sm2,
}

impl KeyFamily {
    /// The scheme OpenSSL uses for keys of this family when nothing else is asked for
    /// (`openssl dgst -sha256 -sign` on an RSA key is PKCS#1 v1.5).
    pub fn default_scheme(self) -> Scheme {
        match self {
            KeyFamily::Rsa { .. } => Scheme::RsaPkcs1V15,
            KeyFamily::Ec { .. } => Scheme::Ecdsa,
            KeyFamily::Sm2 => Scheme::Sm2,
            KeyFamily::Ed25519 => Scheme::Ed25519,
            KeyFamily::MlDsa { .. } => Scheme::MlDsa,
        }
    }
}

impl KeySpec {
    /// The OpenSSL key type name (`EVP_PKEY_get0_type_name`, the first name of the provider
    /// key manager): `RSA`, `EC`, `ED25519`, `SM2`, `ML-DSA-44` / `-65` / `-87`.
    pub fn openssl_key_type(self) -> &'static std::ffi::CStr {
        match self.family() {
            KeyFamily::Rsa { .. } => c"RSA",
            KeyFamily::Ec { .. } => c"EC",
            KeyFamily::Ed25519 => c"ED25519",
            KeyFamily::Sm2 => c"SM2",
            KeyFamily::MlDsa { .. } => match self.ml_dsa() {
                Some(p) => p.openssl_name,
                None => c"ML-DSA",
            },
        }
    }

    /// The digest OpenSSL should pick when the caller names none (`EVP_PKEY_get_default_digest_name`,
    /// used by `openssl req` and `x509` without `-sha*`): the first hash KMS allows for this key
    /// with its family's default scheme (SHA-256 for RSA, P-256 and secp256k1; SHA-384 for P-384;
    /// SHA-512 for P-521; SM3 for SM2). `None` for Ed25519 and ML-DSA, which take no digest.
    pub fn default_digest(self) -> Option<Hash> {
        let scheme = self.family().default_scheme();
        if scheme.is_one_shot() {
            return None;
        }
        SIGNING_TABLE
            .iter()
            .find(|p| p.scheme == scheme && p.key_specs.contains(&self))
            .map(|p| p.hash)
    }

    /// The key's family and size.
    pub fn family(self) -> KeyFamily {
        use openssl::nid::Nid;
        match self {
            KeySpec::Rsa2048 => KeyFamily::Rsa { bits: 2048 },
            KeySpec::Rsa3072 => KeyFamily::Rsa { bits: 3072 },
            KeySpec::Rsa4096 => KeyFamily::Rsa { bits: 4096 },
            KeySpec::EccNistP256 => KeyFamily::Ec {
                nid: Nid::X9_62_PRIME256V1,
                field_bytes: 32,
            },
            KeySpec::EccNistP384 => KeyFamily::Ec {
                nid: Nid::SECP384R1,
                field_bytes: 48,
            },
            KeySpec::EccNistP521 => KeyFamily::Ec {
                nid: Nid::SECP521R1,
                field_bytes: 66,
            },
            KeySpec::EccSecgP256k1 => KeyFamily::Ec {
                nid: Nid::SECP256K1,
                field_bytes: 32,
            },
            KeySpec::EccNistEdwards25519 => KeyFamily::Ed25519,
            KeySpec::MlDsa44 => KeyFamily::MlDsa { level: 44 },
            KeySpec::MlDsa65 => KeyFamily::MlDsa { level: 65 },
            KeySpec::MlDsa87 => KeyFamily::MlDsa { level: 87 },
            KeySpec::Sm2 => KeyFamily::Sm2,
        }
    }

    /// The elliptic curve of an ECDSA or SM2 key spec (for signature range checks and ECDH).
    pub fn curve(self) -> Option<openssl::nid::Nid> {
        match self.family() {
            KeyFamily::Ec { nid, .. } => Some(nid),
            KeyFamily::Sm2 => Some(openssl::nid::Nid::SM2),
            _ => None,
        }
    }

    /// Key usages KMS allows for this spec (Key spec reference table).
    pub fn allowed_usages(self) -> &'static [KeyUsage] {
        use KeyUsage::*;
        match self {
            KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => &[EncryptDecrypt, SignVerify],
            KeySpec::EccNistP256 | KeySpec::EccNistP384 | KeySpec::EccNistP521 => {
                &[SignVerify, KeyAgreement]
            }
            KeySpec::EccSecgP256k1
            | KeySpec::EccNistEdwards25519
            | KeySpec::MlDsa44
            | KeySpec::MlDsa65
            | KeySpec::MlDsa87 => &[SignVerify],
            KeySpec::Sm2 => &[EncryptDecrypt, SignVerify, KeyAgreement],
        }
    }

    /// Refuses a key usage this spec cannot have, naming the allowed ones.
    pub fn check_usage(self, usage: KeyUsage) -> Result<(), SpecError> {
        if self.allowed_usages().contains(&usage) {
            Ok(())
        } else {
            Err(SpecError::UsageDoesNotFitKeySpec {
                key_spec: self,
                key_usage: usage,
                allowed: self.allowed_usages().to_vec(),
            })
        }
    }

    /// Signing algorithms valid for this spec, in table order.
    pub fn signing_algorithms(self) -> Vec<SigningAlgorithm> {
        SIGNING_TABLE
            .iter()
            .filter(|p| p.key_specs.contains(&self))
            .map(|p| p.algorithm)
            .collect()
    }

    /// Encryption algorithms valid for this spec.
    pub fn encryption_algorithms(self) -> Vec<EncryptionAlgorithm> {
        EncryptionAlgorithm::ALL
            .iter()
            .copied()
            .filter(|a| a.key_specs().contains(&self))
            .collect()
    }

    /// Whether KMS offers ECDH (`KEY_AGREEMENT`) for this spec.
    pub fn supports_key_agreement(self) -> bool {
        self.allowed_usages().contains(&KeyUsage::KeyAgreement)
    }

    /// The algorithm lists GetPublicKey/DescribeKey report for a key of this spec and usage.
    pub fn algorithms_for_usage(self, usage: KeyUsage) -> AlgorithmLists {
        match usage {
            KeyUsage::SignVerify => AlgorithmLists {
                signing: self.signing_algorithms(),
                ..Default::default()
            },
            KeyUsage::EncryptDecrypt => AlgorithmLists {
                encryption: self.encryption_algorithms(),
                ..Default::default()
            },
            KeyUsage::KeyAgreement => AlgorithmLists {
                key_agreement: vec![KEY_AGREEMENT_ECDH],
                ..Default::default()
            },
            KeyUsage::GenerateVerifyMac | KeyUsage::EncapsulateDecapsulate => {
                AlgorithmLists::default()
            }
        }
    }

    /// Oldest OpenSSL able to hold keys of this spec.
    pub fn min_openssl(self) -> OpensslVersion {
        match self.family() {
            KeyFamily::MlDsa { .. } => OPENSSL_3_5,
            _ => OPENSSL_3_0,
        }
    }

    /// The ML-DSA parameter set of an ML-DSA spec.
    pub fn ml_dsa(self) -> Option<&'static MlDsaParams> {
        ML_DSA.iter().find(|p| p.key_spec == self)
    }

    /// Parses a spec, explaining that symmetric and HMAC specs are outside this tool.
    pub fn parse_asymmetric(s: &str) -> Result<KeySpec, SpecError> {
        let up = s.trim().to_ascii_uppercase();
        if SymmetricKeySpec::ALL.iter().any(|k| k.as_str() == up) {
            return Err(SpecError::SymmetricKeySpec { key_spec: up });
        }
        s.parse()
    }
}

/// Algorithm lists a key reports, by usage (GetPublicKey / DescribeKey fields).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlgorithmLists {
    pub signing: Vec<SigningAlgorithm>,
    pub encryption: Vec<EncryptionAlgorithm>,
    pub key_agreement: Vec<&'static str>,
}

impl EncryptionAlgorithm {
    /// Key specs this algorithm is valid for.
    pub fn key_specs(self) -> &'static [KeySpec] {
        match self {
            EncryptionAlgorithm::RsaesOaepSha1 | EncryptionAlgorithm::RsaesOaepSha256 => RSA_SPECS,
            EncryptionAlgorithm::Sm2pke => &[KeySpec::Sm2],
        }
    }

    /// OAEP hash, which is also the MGF1 hash; the label is always empty. `None` for SM2PKE.
    pub fn oaep_hash(self) -> Option<Hash> {
        match self {
            EncryptionAlgorithm::RsaesOaepSha1 => Some(Hash::Sha1),
            EncryptionAlgorithm::RsaesOaepSha256 => Some(Hash::Sha256),
            EncryptionAlgorithm::Sm2pke => None,
        }
    }

    /// Largest plaintext in bytes KMS Encrypt accepts. OAEP: k − 2·hLen − 2 for a modulus of
    /// `modulus_bytes` (RFC 8017 §7.1.1); SM2PKE: 1024 bytes (KMS Encrypt doc), whatever the key.
    pub fn max_plaintext(self, modulus_bytes: usize) -> Option<usize> {
        match self.oaep_hash() {
            Some(h) => modulus_bytes.checked_sub(2 * h.output_len() + 2),
            None => Some(SM2PKE_MAX_PLAINTEXT),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::core::spec::*;

    #[test]
    fn every_spec_has_an_algorithm_for_each_usage() {
        for spec in KeySpec::ALL {
            for usage in spec.allowed_usages() {
                let l = spec.algorithms_for_usage(*usage);
                assert!(
                    !(l.signing.is_empty()
                        && l.encryption.is_empty()
                        && l.key_agreement.is_empty()),
                    "{spec} {usage}"
                );
            }
        }
    }

    #[test]
    fn oaep_limits_match_kms_table() {
        use EncryptionAlgorithm::*;
        assert_eq!(RsaesOaepSha1.max_plaintext(256), Some(214));
        assert_eq!(RsaesOaepSha256.max_plaintext(256), Some(190));
        assert_eq!(RsaesOaepSha1.max_plaintext(384), Some(342));
        assert_eq!(RsaesOaepSha256.max_plaintext(384), Some(318));
        assert_eq!(RsaesOaepSha1.max_plaintext(512), Some(470));
        assert_eq!(RsaesOaepSha256.max_plaintext(512), Some(446));
    }
}
