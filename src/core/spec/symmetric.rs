//! Symmetric KMS keys: `SYMMETRIC_DEFAULT` encryption keys and HMAC keys, their data-key specs
//! and MAC algorithms. Sources: KMS Developer Guide "Key spec reference" (HMAC key lengths equal
//! the spec's bit count; SYMMETRIC_DEFAULT is AES-256-GCM), API model `DataKeySpec`,
//! `DataKeyPairSpec`, `MacAlgorithmSpec`, `GenerateRandom`.

use openssl::hash::MessageDigest;

use super::*;

kms_enum!(
    /// KMS `KeySpec` of a symmetric key: an AES-256-GCM encryption key or an HMAC key.
    SymmetricKeySpec {
        SymmetricDefault => "SYMMETRIC_DEFAULT",
        Hmac224 => "HMAC_224",
        Hmac256 => "HMAC_256",
        Hmac384 => "HMAC_384",
        Hmac512 => "HMAC_512",
    }
);

kms_enum!(
    /// KMS `MacAlgorithmSpec`: HMAC (RFC 2104) with a SHA-2 hash.
    MacAlgorithm {
        HmacSha224 => "HMAC_SHA_224",
        HmacSha256 => "HMAC_SHA_256",
        HmacSha384 => "HMAC_SHA_384",
        HmacSha512 => "HMAC_SHA_512",
    }
);

kms_enum!(
    /// KMS `DataKeySpec` of GenerateDataKey: the length of a plaintext data key.
    DataKeySpec {
        Aes256 => "AES_256",
        Aes128 => "AES_128",
    }
);

/// The only `EncryptionAlgorithmSpec` of a symmetric encryption key (AES-256-GCM inside KMS).
pub const SYMMETRIC_DEFAULT_ALGORITHM: &str = "SYMMETRIC_DEFAULT";
/// Most bytes GenerateRandom and GenerateDataKey's `NumberOfBytes` return (API model: 1–1024).
pub const MAX_RANDOM_BYTES: usize = 1024;
/// Largest GenerateMac message and VerifyMac MAC, in bytes (API model: `PlaintextType` 1–4096,
/// `CiphertextType` 1–6144).
pub const MAX_MAC_MESSAGE: usize = MAX_RAW_MESSAGE;

/// Key specs GenerateDataKeyPair makes (API model `DataKeyPairSpec`: no ML-DSA, no ML-KEM).
pub const DATA_KEY_PAIR_SPECS: &[KeySpec] = &[
    KeySpec::Rsa2048,
    KeySpec::Rsa3072,
    KeySpec::Rsa4096,
    KeySpec::EccNistP256,
    KeySpec::EccNistP384,
    KeySpec::EccNistP521,
    KeySpec::EccSecgP256k1,
    KeySpec::Sm2,
    KeySpec::EccNistEdwards25519,
];

impl SymmetricKeySpec {
    /// Length of the key material, in bytes: 32 for SYMMETRIC_DEFAULT (AES-256), the spec's bit
    /// count / 8 for HMAC (28, 32, 48, 64).
    pub fn key_len(self) -> usize {
        match self {
            SymmetricKeySpec::SymmetricDefault => 32,
            SymmetricKeySpec::Hmac224 => 28,
            SymmetricKeySpec::Hmac256 => 32,
            SymmetricKeySpec::Hmac384 => 48,
            SymmetricKeySpec::Hmac512 => 64,
        }
    }

    /// The one KeyUsage a key of this spec has (CreateKey refuses any other).
    pub fn key_usage(self) -> KeyUsage {
        match self {
            SymmetricKeySpec::SymmetricDefault => KeyUsage::EncryptDecrypt,
            _ => KeyUsage::GenerateVerifyMac,
        }
    }

    /// The MAC algorithm of an HMAC spec (one each); `None` for SYMMETRIC_DEFAULT.
    pub fn mac_algorithm(self) -> Option<MacAlgorithm> {
        match self {
            SymmetricKeySpec::SymmetricDefault => None,
            SymmetricKeySpec::Hmac224 => Some(MacAlgorithm::HmacSha224),
            SymmetricKeySpec::Hmac256 => Some(MacAlgorithm::HmacSha256),
            SymmetricKeySpec::Hmac384 => Some(MacAlgorithm::HmacSha384),
            SymmetricKeySpec::Hmac512 => Some(MacAlgorithm::HmacSha512),
        }
    }
}

impl MacAlgorithm {
    /// The HMAC hash as an EVP digest.
    pub fn md(self) -> MessageDigest {
        match self {
            MacAlgorithm::HmacSha224 => MessageDigest::sha224(),
            MacAlgorithm::HmacSha256 => MessageDigest::sha256(),
            MacAlgorithm::HmacSha384 => MessageDigest::sha384(),
            MacAlgorithm::HmacSha512 => MessageDigest::sha512(),
        }
    }

    /// The digest name `openssl mac -digest NAME HMAC` takes.
    pub fn openssl_digest(self) -> &'static str {
        match self {
            MacAlgorithm::HmacSha224 => "SHA224",
            MacAlgorithm::HmacSha256 => "SHA256",
            MacAlgorithm::HmacSha384 => "SHA384",
            MacAlgorithm::HmacSha512 => "SHA512",
        }
    }
}

impl DataKeySpec {
    /// Length of the data key, in bytes.
    pub fn key_len(self) -> usize {
        match self {
            DataKeySpec::Aes256 => 32,
            DataKeySpec::Aes128 => 16,
        }
    }
}

/// Any KMS `KeySpec`: an asymmetric one (the signing/encryption table) or a symmetric one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KmsKeySpec {
    Asymmetric(KeySpec),
    Symmetric(SymmetricKeySpec),
    /// ML-KEM (KEY usage ENCAPSULATE_DECAPSULATE); kept apart from [`KeySpec`], whose table is
    /// the signing / encryption / key-agreement one.
    MlKem(MlKemKeySpec),
}

impl KmsKeySpec {
    /// Every KeySpec, asymmetric first, in the API model's order within each kind.
    pub fn all() -> Vec<KmsKeySpec> {
        let asym = KeySpec::ALL.iter().map(|s| KmsKeySpec::Asymmetric(*s));
        let sym = SymmetricKeySpec::ALL
            .iter()
            .map(|s| KmsKeySpec::Symmetric(*s));
        let kem = MlKemKeySpec::ALL.iter().map(|s| KmsKeySpec::MlKem(*s));
        sym.chain(asym).chain(kem).collect()
    }

    /// The KMS wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            KmsKeySpec::Asymmetric(s) => s.as_str(),
            KmsKeySpec::Symmetric(s) => s.as_str(),
            KmsKeySpec::MlKem(s) => s.as_str(),
        }
    }

    /// The asymmetric spec, if it is one.
    pub fn asymmetric(self) -> Option<KeySpec> {
        match self {
            KmsKeySpec::Asymmetric(s) => Some(s),
            _ => None,
        }
    }

    /// The symmetric spec, if it is one.
    pub fn symmetric(self) -> Option<SymmetricKeySpec> {
        match self {
            KmsKeySpec::Symmetric(s) => Some(s),
            _ => None,
        }
    }

    /// The ML-KEM spec, if it is one.
    pub fn ml_kem(self) -> Option<MlKemKeySpec> {
        match self {
            KmsKeySpec::MlKem(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for KmsKeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KmsKeySpec {
    type Err = SpecError;
    /// Parses a wire name exactly as KMS does (case-sensitive).
    fn from_str(s: &str) -> Result<Self, SpecError> {
        KmsKeySpec::all()
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| SpecError::InvalidArgument {
                what: "KeySpec",
                value: s.to_string(),
                allowed: KmsKeySpec::all()
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

impl serde::Serialize for KmsKeySpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_spec_name_parses_back_to_itself() {
        for k in KmsKeySpec::all() {
            assert_eq!(k.as_str().parse::<KmsKeySpec>(), Ok(k));
        }
        assert!("symmetric_default".parse::<KmsKeySpec>().is_err());
    }

    #[test]
    fn hmac_key_lengths_are_the_spec_bit_counts_and_each_has_one_mac_algorithm() {
        for s in SymmetricKeySpec::ALL {
            match s.mac_algorithm() {
                Some(m) => {
                    let bits: usize = s.as_str()["HMAC_".len()..].parse().unwrap();
                    assert_eq!(s.key_len() * 8, bits);
                    assert_eq!(m.md().size() * 8, bits);
                    assert_eq!(s.key_usage(), KeyUsage::GenerateVerifyMac);
                }
                None => assert_eq!(s.key_usage(), KeyUsage::EncryptDecrypt),
            }
        }
    }
}
