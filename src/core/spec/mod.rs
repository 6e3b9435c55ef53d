//! The algorithm table: every KMS `KeySpec`, `KeyUsage`, `SigningAlgorithm`, `MessageType` and
//! `EncryptionAlgorithm`, and the OpenSSL parameters each one stands for.
//!
//! This module is the only place these facts live. Signing, offline verification, the printed
//! `openssl` commands and the local KMS endpoint all ask it.
//!
//! Sources: KMS API model `kms-2014-11-01.json` (enum values, DIGEST semantics), KMS Developer
//! Guide "Key spec reference" (which algorithms fit which key spec; PSS salt = hash length, MGF1 =
//! message hash; OAEP hash = MGF1 hash, empty label), "Example offline operations" (the openssl
//! commands), FIPS 204 §6.2 (ML-DSA μ). See docs/kms-facts.md §1–5, 8.

mod hash;
mod keys;
mod signing;

use std::fmt;
use std::str::FromStr;

pub use hash::Hash;
pub use import::{
    HYBRID_AES_KEY_LEN, IMPORT_PARAMETERS_VALID_SECONDS, MAX_IMPORT_BLOB, MAX_VALID_TO_DAYS,
};
pub use kem::{ENCAPSULATION_ML_KEM, ML_KEM_SHARED_SECRET_LEN, MlKemKeySpec};
pub use keys::{AlgorithmLists, KeyFamily};
pub use signing::{
    ED25519_SIGNATURE_LEN, OpensslTool, SIGNING_TABLE, Scheme, SignatureEncoding, SignatureShape,
    SigningParams,
};
pub use symmetric::{
    DATA_KEY_PAIR_SPECS, DataKeySpec, KmsKeySpec, MAX_MAC_MESSAGE, MAX_RANDOM_BYTES, MacAlgorithm,
    SYMMETRIC_DEFAULT_ALGORITHM, SymmetricKeySpec,
};

/// Declares a KMS enum whose variants map 1:1 to the API's wire names.
macro_rules! kms_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in the order of the KMS API model.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The KMS API wire name, e.g. `RSA_4096`.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = SpecError;
            /// Parses the KMS wire name, case-insensitively, `-` accepted for `_`.
            fn from_str(s: &str) -> Result<Self, SpecError> {
                let norm = s.trim().to_ascii_uppercase().replace('-', "_");
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == norm)
                    .ok_or_else(|| SpecError::InvalidArgument {
                        what: stringify!($name),
                        value: s.to_string(),
                        allowed: $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", "),
                    })
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

kms_enum!(
    /// KMS `KeySpec` of an asymmetric key (symmetric and HMAC specs are outside this tool).
    KeySpec {
        Rsa2048 => "RSA_2048",
        Rsa3072 => "RSA_3072",
        Rsa4096 => "RSA_4096",
        EccNistP256 => "ECC_NIST_P256",
        EccNistP384 => "ECC_NIST_P384",
        EccNistP521 => "ECC_NIST_P521",
        EccSecgP256k1 => "ECC_SECG_P256K1",
        EccNistEdwards25519 => "ECC_NIST_EDWARDS25519",
        MlDsa44 => "ML_DSA_44",
        MlDsa65 => "ML_DSA_65",
        MlDsa87 => "ML_DSA_87",
        Sm2 => "SM2",
    }
);

kms_enum!(
    /// KMS `KeyUsage`.
    KeyUsage {
        SignVerify => "SIGN_VERIFY",
        EncryptDecrypt => "ENCRYPT_DECRYPT",
        KeyAgreement => "KEY_AGREEMENT",
        /// HMAC keys only.
        GenerateVerifyMac => "GENERATE_VERIFY_MAC",
        /// ML-KEM keys only.
        EncapsulateDecapsulate => "ENCAPSULATE_DECAPSULATE",
    }
);

kms_enum!(
    /// KMS `SigningAlgorithmSpec`.
    SigningAlgorithm {
        RsassaPssSha256 => "RSASSA_PSS_SHA_256",
        RsassaPssSha384 => "RSASSA_PSS_SHA_384",
        RsassaPssSha512 => "RSASSA_PSS_SHA_512",
        RsassaPkcs1V15Sha256 => "RSASSA_PKCS1_V1_5_SHA_256",
        RsassaPkcs1V15Sha384 => "RSASSA_PKCS1_V1_5_SHA_384",
        RsassaPkcs1V15Sha512 => "RSASSA_PKCS1_V1_5_SHA_512",
        EcdsaSha256 => "ECDSA_SHA_256",
        EcdsaSha384 => "ECDSA_SHA_384",
        EcdsaSha512 => "ECDSA_SHA_512",
        Sm2dsa => "SM2DSA",
        MlDsaShake256 => "ML_DSA_SHAKE_256",
        Ed25519Sha512 => "ED25519_SHA_512",
        Ed25519PhSha512 => "ED25519_PH_SHA_512",
    }
);

kms_enum!(
    /// KMS `MessageType` of a Sign or Verify request.
    MessageType {
        /// KMS runs the whole algorithm, hash included. 1–4096 bytes.
        Raw => "RAW",
        /// The caller already hashed; KMS never hashes again. Length = the algorithm's digest length.
        Digest => "DIGEST",
        /// ML-DSA only: the 64-byte μ of FIPS 204 §6.2.
        ExternalMu => "EXTERNAL_MU",
    }
);

kms_enum!(
    /// KMS `EncryptionAlgorithmSpec` of an asymmetric key.
    EncryptionAlgorithm {
        RsaesOaepSha1 => "RSAES_OAEP_SHA_1",
        RsaesOaepSha256 => "RSAES_OAEP_SHA_256",
        Sm2pke => "SM2PKE",
    }
);

kms_enum!(
    /// KMS `AlgorithmSpec` of GetParametersForImport: how key material is wrapped for import.
    WrappingAlgorithm {
        /// No longer accepted by KMS (since October 10, 2023).
        RsaesPkcs1V15 => "RSAES_PKCS1_V1_5",
        RsaesOaepSha1 => "RSAES_OAEP_SHA_1",
        RsaesOaepSha256 => "RSAES_OAEP_SHA_256",
        RsaAesKeyWrapSha1 => "RSA_AES_KEY_WRAP_SHA_1",
        RsaAesKeyWrapSha256 => "RSA_AES_KEY_WRAP_SHA_256",
        /// China Regions only.
        Sm2pke => "SM2PKE",
    }
);

kms_enum!(
    /// KMS `WrappingKeySpec` of GetParametersForImport: the wrapping public key's type.
    WrappingKeySpec {
        Rsa2048 => "RSA_2048",
        Rsa3072 => "RSA_3072",
        Rsa4096 => "RSA_4096",
        /// China Regions only.
        Sm2 => "SM2",
    }
);

kms_enum!(
    /// KMS `ExpirationModelType` of ImportKeyMaterial.
    ExpirationModel {
        KeyMaterialExpires => "KEY_MATERIAL_EXPIRES",
        KeyMaterialDoesNotExpire => "KEY_MATERIAL_DOES_NOT_EXPIRE",
    }
);

kms_enum!(
    /// KMS `OriginType` of CreateKey: where the key material comes from.
    Origin {
        AwsKms => "AWS_KMS",
        External => "EXTERNAL",
        AwsCloudhsm => "AWS_CLOUDHSM",
        ExternalKeyStore => "EXTERNAL_KEY_STORE",
    }
);

fn join<T: fmt::Display>(v: &[T]) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the algorithm table refuses. The library's [`crate::Error`] wraps it (`Error::Spec`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// A value that is not one of a KMS enum's names.
    #[error("invalid {what} `{value}` (expected one of: {allowed})")]
    InvalidArgument {
        what: &'static str,
        value: String,
        allowed: String,
    },

    /// A symmetric or HMAC KeySpec where this tool needs an asymmetric one.
    #[error("{key_spec} is not an asymmetric key spec; this command works with asymmetric keys")]
    SymmetricKeySpec { key_spec: String },

    /// An openssl-style `-sha256` with no key to say which scheme it means.
    #[error(
        "`{given}` names only a hash, and there is no key to tell which signing scheme it means"
    )]
    HashOnlyAlgorithm { given: String },

    /// An algorithm KMS does not allow for the key spec.
    #[error(
        "{algorithm} does not fit a {key_spec} key; algorithms that fit: {}",
        join(fitting)
    )]
    AlgorithmDoesNotFitKey {
        algorithm: String,
        key_spec: KeySpec,
        fitting: Vec<SigningAlgorithm>,
    },

    /// A key usage KMS does not allow for the key spec.
    #[error(
        "KeyUsage {key_usage} does not fit KeySpec {key_spec}; a key of that spec may be: {}",
        join(allowed)
    )]
    UsageDoesNotFitKeySpec {
        key_spec: KeySpec,
        key_usage: KeyUsage,
        allowed: Vec<KeyUsage>,
    },

    /// A MessageType the algorithm does not take.
    #[error(
        "{algorithm} does not accept MessageType {message_type}; allowed: {}",
        join(allowed)
    )]
    MessageTypeNotAllowed {
        algorithm: SigningAlgorithm,
        message_type: MessageType,
        allowed: Vec<MessageType>,
    },

    /// The linked OpenSSL lacks an algorithm.
    #[error("{what} needs OpenSSL {needed} or newer; this build links {linked}")]
    OpensslTooOld {
        what: String,
        needed: &'static str,
        linked: String,
    },
}

/// Largest RAW message KMS Sign/Verify accept, in bytes (API model `PlaintextType`: 1–4096).
pub const MAX_RAW_MESSAGE: usize = 4096;
/// Smallest RAW message, in bytes (API model `PlaintextType` min length).
pub const MIN_RAW_MESSAGE: usize = 1;
/// Largest Encrypt plaintext, in bytes (API model `PlaintextType`, the same shape as a RAW message).
pub const MAX_PLAINTEXT: usize = MAX_RAW_MESSAGE;
/// Largest ciphertext blob, signature or MAC KMS takes or returns, in bytes (API model
/// `CiphertextType`: 1–6144; ML-DSA-87's 4627-byte signature fits).
pub const MAX_CIPHERTEXT_BLOB: usize = 6144;
/// Largest DER public key KMS takes or returns, in bytes (API model `PublicKeyType`: 1–8192).
pub const MAX_PUBLIC_KEY: usize = 8192;
/// Length of an ML-DSA μ (FIPS 204 §6.2), the EXTERNAL_MU message, in bytes.
pub const EXTERNAL_MU_LEN: usize = 64;
/// KMS's fixed SM2 distinguishing ID (GM/T 0009-2012 default), used for SM2DSA RAW.
pub const SM2_DEFAULT_DISTID: &str = "1234567812345678";
/// Largest SM2PKE plaintext KMS Encrypt accepts, in bytes (KMS Encrypt API reference).
pub const SM2PKE_MAX_PLAINTEXT: usize = 1024;
/// Key-policy size limit, in bytes (KMS resource quota, not adjustable).
pub const MAX_KEY_POLICY_BYTES: usize = 32 * 1024;
/// KeyUsage CreateKey assumes when none is given (API model `CreateKeyRequest.KeyUsage`).
pub const DEFAULT_KEY_USAGE: KeyUsage = KeyUsage::EncryptDecrypt;
/// The only `KeyAgreementAlgorithmSpec` (API model): cofactor ECDH, NIST SP 800-56A.
pub const KEY_AGREEMENT_ECDH: &str = "ECDH";

/// An OpenSSL release line: its `OPENSSL_VERSION_NUMBER` (`0xMNN00000`) and its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct OpensslVersion {
    pub number: i64,
    pub name: &'static str,
}

/// OpenSSL 3.0: every algorithm but Ed25519ph and ML-DSA.
pub const OPENSSL_3_0: OpensslVersion = OpensslVersion {
    number: 0x3000_0000,
    name: "3.0",
};
/// OpenSSL 3.2: Ed25519ph (the `instance` parameter; OpenSSL NEWS 3.2.0).
pub const OPENSSL_3_2: OpensslVersion = OpensslVersion {
    number: 0x3020_0000,
    name: "3.2",
};
/// OpenSSL 3.5: ML-DSA and ML-KEM (OpenSSL NEWS 3.5.0, EVP_SIGNATURE-ML-DSA(7)).
pub const OPENSSL_3_5: OpensslVersion = OpensslVersion {
    number: 0x3050_0000,
    name: "3.5",
};

impl OpensslVersion {
    /// Whether the linked libcrypto is this release or newer.
    pub fn is_linked(self) -> bool {
        openssl::version::number() >= self.number
    }

    /// `Err(`[`SpecError::OpensslTooOld`]`)` naming `what` unless the linked libcrypto is this release
    /// or newer.
    pub fn require(self, what: impl Into<String>) -> Result<(), SpecError> {
        if self.is_linked() {
            Ok(())
        } else {
            Err(SpecError::OpensslTooOld {
                what: what.into(),
                needed: self.name,
                linked: openssl::version::version().to_string(),
            })
        }
    }
}

/// One ML-DSA parameter set (FIPS 204 Table 1–2; OIDs RFC 9881 / NIST CSOR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MlDsaParams {
    pub key_spec: KeySpec,
    /// Security level name: 44, 65, 87.
    pub level: u32,
    /// The OpenSSL algorithm name (`ML-DSA-65`).
    pub openssl_name: &'static std::ffi::CStr,
    /// DER body of the AlgorithmIdentifier OID id-ml-dsa-44/65/87 (2.16.840.1.101.3.4.3.17/18/19).
    pub oid: [u8; 9],
    /// Raw public key length in bytes (inside the SPKI BIT STRING).
    pub public_key_len: usize,
    /// Signature length in bytes.
    pub signature_len: usize,
}

/// The three ML-DSA parameter sets KMS offers.
pub const ML_DSA: [MlDsaParams; 3] = [
    MlDsaParams {
        key_spec: KeySpec::MlDsa44,
        level: 44,
        openssl_name: c"ML-DSA-44",
        oid: [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x11],
        public_key_len: 1312,
        signature_len: 2420,
    },
    MlDsaParams {
        key_spec: KeySpec::MlDsa65,
        level: 65,
        openssl_name: c"ML-DSA-65",
        oid: [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x12],
        public_key_len: 1952,
        signature_len: 3309,
    },
    MlDsaParams {
        key_spec: KeySpec::MlDsa87,
        level: 87,
        openssl_name: c"ML-DSA-87",
        oid: [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x13],
        public_key_len: 2592,
        signature_len: 4627,
    },
];

/// Offset of the raw public key inside an ML-DSA SubjectPublicKeyInfo: the BIT STRING sits at DER
/// offset 17 and its content starts with one unused-bits byte (AWS "Example offline operations":
/// `openssl asn1parse -strparse 17`).
pub const ML_DSA_SPKI_KEY_OFFSET: usize = 22;

mod import;
mod kem;
mod symmetric;

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::core::spec::*;

    #[test]
    fn wire_names_round_trip_case_insensitively() {
        for s in KeySpec::ALL {
            assert_eq!(s.as_str().to_lowercase().parse::<KeySpec>().unwrap(), *s);
        }
        assert!("RSA_1024".parse::<KeySpec>().is_err());
    }
}
