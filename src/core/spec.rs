//! The algorithm table: every KMS `KeySpec`, `KeyUsage`, `SigningAlgorithm`, `MessageType` and
//! `EncryptionAlgorithm`, and the OpenSSL parameters each one stands for.
//!
//! This module is the only place these facts live. Signing, offline verification, the printed
//! `openssl` commands and the local KMS endpoint all ask it.
//!
//! Sources: KMS API model `kms-2014-11-01.json` (enum values, DIGEST semantics), KMS Developer
//! Guide "Key spec reference" (which algorithms fit which key spec; PSS salt = hash length, MGF1 =
//! message hash; OAEP hash = MGF1 hash, empty label), "Example offline operations" (the openssl
//! commands), FIPS 204 §6.2 (ML-DSA μ). See `../shared/kms-facts.md` §1–5, 8.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

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
            type Err = Error;
            /// Parses the KMS wire name, case-insensitively, `-` accepted for `_`.
            fn from_str(s: &str) -> Result<Self, Error> {
                let norm = s.trim().to_ascii_uppercase().replace('-', "_");
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == norm)
                    .ok_or_else(|| Error::InvalidArgument {
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
    /// KMS `KeyUsage` of an asymmetric key.
    KeyUsage {
        SignVerify => "SIGN_VERIFY",
        EncryptDecrypt => "ENCRYPT_DECRYPT",
        KeyAgreement => "KEY_AGREEMENT",
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
/// KMS `KeySpec` values that are not asymmetric (symmetric encryption and HMAC keys).
pub const NON_ASYMMETRIC_KEY_SPECS: &[&str] = &[
    "SYMMETRIC_DEFAULT",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
];
/// Every KMS `KeyUsageType` value (API model), asymmetric or not.
pub const ALL_KEY_USAGE_NAMES: &[&str] = &[
    "ENCRYPT_DECRYPT",
    "SIGN_VERIFY",
    "GENERATE_VERIFY_MAC",
    "KEY_AGREEMENT",
];
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

    /// `Err(`[`Error::OpensslTooOld`]`)` naming `what` unless the linked libcrypto is this release
    /// or newer.
    pub fn require(self, what: impl Into<String>) -> Result<(), Error> {
        if self.is_linked() {
            Ok(())
        } else {
            Err(Error::OpensslTooOld {
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

/// A message hash as KMS and OpenSSL name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
    Sm3,
    /// SHAKE-256 with a 64-byte output, as ML-DSA uses it.
    Shake256,
}

impl Hash {
    /// The OpenSSL digest name (`openssl dgst -<name>`, `-pkeyopt digest:<name>`).
    pub fn openssl_name(self) -> &'static str {
        match self {
            Hash::Sha1 => "sha1",
            Hash::Sha256 => "sha256",
            Hash::Sha384 => "sha384",
            Hash::Sha512 => "sha512",
            Hash::Sm3 => "sm3",
            Hash::Shake256 => "shake256",
        }
    }

    /// The name written into sidecars and reports (`SHA-256`, `SM3`, ...).
    pub fn display_name(self) -> &'static str {
        match self {
            Hash::Sha1 => "SHA-1",
            Hash::Sha256 => "SHA-256",
            Hash::Sha384 => "SHA-384",
            Hash::Sha512 => "SHA-512",
            Hash::Sm3 => "SM3",
            Hash::Shake256 => "SHAKE256",
        }
    }

    /// Output length in bytes (SHAKE-256: the 64 bytes ML-DSA uses).
    pub fn output_len(self) -> usize {
        match self {
            Hash::Sha1 => 20,
            Hash::Sha256 | Hash::Sm3 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 | Hash::Shake256 => 64,
        }
    }

    /// The EVP message digest (`EVP_MD`) for this hash: the one mapping from the table to OpenSSL.
    pub fn md(self) -> &'static openssl::md::MdRef {
        use openssl::md::Md;
        match self {
            Hash::Sha1 => Md::sha1(),
            Hash::Sha256 => Md::sha256(),
            Hash::Sha384 => Md::sha384(),
            Hash::Sha512 => Md::sha512(),
            Hash::Sm3 => Md::sm3(),
            Hash::Shake256 => Md::shake256(),
        }
    }

    /// The DER prefix of a PKCS#1 v1.5 DigestInfo for this hash, `SEQUENCE { AlgorithmIdentifier,
    /// OCTET STRING }` up to the hash bytes (RFC 8017 §9.2 note 1); `None` for SM3 and SHAKE.
    pub fn digest_info_prefix(self) -> Option<&'static [u8]> {
        Some(match self {
            Hash::Sha1 => &DIGEST_INFO_SHA1,
            Hash::Sha256 => &DIGEST_INFO_SHA256,
            Hash::Sha384 => &DIGEST_INFO_SHA384,
            Hash::Sha512 => &DIGEST_INFO_SHA512,
            Hash::Sm3 | Hash::Shake256 => return None,
        })
    }

    /// Parses `-sha256`, `sha256`, `SHA-256`, ... (the openssl-style digest option).
    pub fn from_openssl_option(s: &str) -> Option<Hash> {
        let n = s
            .trim_start_matches('-')
            .to_ascii_lowercase()
            .replace('-', "");
        [
            Hash::Sha1,
            Hash::Sha256,
            Hash::Sha384,
            Hash::Sha512,
            Hash::Sm3,
        ]
        .into_iter()
        .find(|h| h.openssl_name() == n)
    }
}

const DIGEST_INFO_SHA1: [u8; 15] = [
    0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
];
const DIGEST_INFO_SHA256: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];
const DIGEST_INFO_SHA384: [u8; 19] = [
    0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05,
    0x00, 0x04, 0x30,
];
const DIGEST_INFO_SHA512: [u8; 19] = [
    0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05,
    0x00, 0x04, 0x40,
];

/// The signature scheme and padding an algorithm uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// RSASSA-PKCS1-v1_5 (RFC 8017 §8.2): EMSA-PKCS1-v1_5 with DigestInfo.
    RsaPkcs1V15,
    /// RSASSA-PSS (RFC 8017 §8.1) with MGF1 over the message hash and salt length = hash length.
    RsaPss,
    /// ECDSA (FIPS 186-4 §6.4) on the key's curve.
    Ecdsa,
    /// SM2 signature (GM/T 0003.2) over SM3(Z_A ‖ M), Z_A from the distinguishing ID.
    Sm2,
    /// Pure Ed25519 (RFC 8032 §5.1, FIPS 186-5 §7).
    Ed25519,
    /// Ed25519ph (RFC 8032 §5.1, phflag = 1) over the 64-byte digest KMS was sent.
    Ed25519ph,
    /// ML-DSA (FIPS 204), hedged, empty context.
    MlDsa,
}

impl Scheme {
    /// Whether the scheme signs the message itself in one pass, with no separate digest
    /// (`EVP_DigestSign`/`EVP_DigestVerify` with no `EVP_MD`): Ed25519, Ed25519ph, ML-DSA.
    pub fn is_one_shot(self) -> bool {
        matches!(self, Scheme::Ed25519 | Scheme::Ed25519ph | Scheme::MlDsa)
    }
}

/// How the signature bytes are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureEncoding {
    /// Big-endian integer exactly as long as the RSA modulus (256/384/512 bytes).
    RsaModulusLength,
    /// DER `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` (RFC 3279 §2.2.3), variable length.
    DerEcdsaSigValue,
    /// 64-byte R ‖ S (RFC 8032 §5.1.6).
    Ed25519RS,
    /// FIPS 204 signature: 2420 / 3309 / 4627 bytes for ML-DSA-44 / 65 / 87.
    MlDsa,
}

/// Which `openssl` subcommand verifies a signature of this algorithm over the original message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpensslTool {
    /// `openssl dgst [-<hash>] -verify pub.pem -signature f.sig [-sigopt ...] f`
    Dgst,
    /// `openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in f -sigfile f.sig [-pkeyopt ...]`
    PkeyutlRawin,
}

/// Everything KMS and OpenSSL need to agree on for one `SigningAlgorithm`.
#[derive(Debug, Clone, Copy)]
pub struct SigningParams {
    pub algorithm: SigningAlgorithm,
    /// The message hash. For Ed25519ph this is the hash the *caller* applies before sending DIGEST.
    pub hash: Hash,
    pub scheme: Scheme,
    /// Key specs this algorithm is valid for.
    pub key_specs: &'static [KeySpec],
    /// Message types KMS accepts with this algorithm.
    pub message_types: &'static [MessageType],
    pub encoding: SignatureEncoding,
    /// RSASSA-PSS salt length in bytes (= hash length); `None` for other schemes.
    pub pss_salt_len: Option<usize>,
    /// The openssl tool that verifies over the original message.
    pub openssl_tool: OpensslTool,
    /// Whether `openssl dgst` needs a digest option (`-sha256`...); false for Ed25519 and ML-DSA.
    pub openssl_digest_option: bool,
    /// Oldest OpenSSL that can sign and verify it.
    pub min_openssl: OpensslVersion,
}

const RSA_SPECS: &[KeySpec] = &[KeySpec::Rsa2048, KeySpec::Rsa3072, KeySpec::Rsa4096];
const RAW_DIGEST: &[MessageType] = &[MessageType::Raw, MessageType::Digest];

const fn rsa(
    algorithm: SigningAlgorithm,
    hash: Hash,
    scheme: Scheme,
    salt: Option<usize>,
) -> SigningParams {
    SigningParams {
        algorithm,
        hash,
        scheme,
        key_specs: RSA_SPECS,
        message_types: RAW_DIGEST,
        encoding: SignatureEncoding::RsaModulusLength,
        pss_salt_len: salt,
        openssl_tool: OpensslTool::Dgst,
        openssl_digest_option: true,
        min_openssl: OPENSSL_3_0,
    }
}

const fn ecdsa(
    algorithm: SigningAlgorithm,
    hash: Hash,
    key_specs: &'static [KeySpec],
) -> SigningParams {
    SigningParams {
        algorithm,
        hash,
        scheme: Scheme::Ecdsa,
        key_specs,
        message_types: RAW_DIGEST,
        encoding: SignatureEncoding::DerEcdsaSigValue,
        pss_salt_len: None,
        openssl_tool: OpensslTool::Dgst,
        openssl_digest_option: true,
        min_openssl: OPENSSL_3_0,
    }
}

/// The table. One row per KMS `SigningAlgorithm`, in API-model order.
pub const SIGNING_TABLE: &[SigningParams] = &[
    rsa(
        SigningAlgorithm::RsassaPssSha256,
        Hash::Sha256,
        Scheme::RsaPss,
        Some(32),
    ),
    rsa(
        SigningAlgorithm::RsassaPssSha384,
        Hash::Sha384,
        Scheme::RsaPss,
        Some(48),
    ),
    rsa(
        SigningAlgorithm::RsassaPssSha512,
        Hash::Sha512,
        Scheme::RsaPss,
        Some(64),
    ),
    rsa(
        SigningAlgorithm::RsassaPkcs1V15Sha256,
        Hash::Sha256,
        Scheme::RsaPkcs1V15,
        None,
    ),
    rsa(
        SigningAlgorithm::RsassaPkcs1V15Sha384,
        Hash::Sha384,
        Scheme::RsaPkcs1V15,
        None,
    ),
    rsa(
        SigningAlgorithm::RsassaPkcs1V15Sha512,
        Hash::Sha512,
        Scheme::RsaPkcs1V15,
        None,
    ),
    ecdsa(
        SigningAlgorithm::EcdsaSha256,
        Hash::Sha256,
        &[KeySpec::EccNistP256, KeySpec::EccSecgP256k1],
    ),
    ecdsa(
        SigningAlgorithm::EcdsaSha384,
        Hash::Sha384,
        &[KeySpec::EccNistP384],
    ),
    ecdsa(
        SigningAlgorithm::EcdsaSha512,
        Hash::Sha512,
        &[KeySpec::EccNistP521],
    ),
    SigningParams {
        algorithm: SigningAlgorithm::Sm2dsa,
        hash: Hash::Sm3,
        scheme: Scheme::Sm2,
        key_specs: &[KeySpec::Sm2],
        message_types: RAW_DIGEST,
        encoding: SignatureEncoding::DerEcdsaSigValue,
        pss_salt_len: None,
        openssl_tool: OpensslTool::Dgst,
        openssl_digest_option: true,
        min_openssl: OPENSSL_3_0,
    },
    SigningParams {
        algorithm: SigningAlgorithm::MlDsaShake256,
        hash: Hash::Shake256,
        scheme: Scheme::MlDsa,
        key_specs: &[KeySpec::MlDsa44, KeySpec::MlDsa65, KeySpec::MlDsa87],
        message_types: &[MessageType::Raw, MessageType::ExternalMu],
        encoding: SignatureEncoding::MlDsa,
        pss_salt_len: None,
        openssl_tool: OpensslTool::Dgst,
        openssl_digest_option: false,
        min_openssl: OPENSSL_3_5,
    },
    SigningParams {
        algorithm: SigningAlgorithm::Ed25519Sha512,
        hash: Hash::Sha512,
        scheme: Scheme::Ed25519,
        key_specs: &[KeySpec::EccNistEdwards25519],
        message_types: &[MessageType::Raw],
        encoding: SignatureEncoding::Ed25519RS,
        pss_salt_len: None,
        openssl_tool: OpensslTool::PkeyutlRawin,
        openssl_digest_option: false,
        min_openssl: OPENSSL_3_0,
    },
    SigningParams {
        algorithm: SigningAlgorithm::Ed25519PhSha512,
        hash: Hash::Sha512,
        scheme: Scheme::Ed25519ph,
        key_specs: &[KeySpec::EccNistEdwards25519],
        message_types: &[MessageType::Digest],
        encoding: SignatureEncoding::Ed25519RS,
        pss_salt_len: None,
        openssl_tool: OpensslTool::PkeyutlRawin,
        openssl_digest_option: false,
        min_openssl: OPENSSL_3_2,
    },
];

impl SigningAlgorithm {
    /// This algorithm's row of [`SIGNING_TABLE`].
    pub fn params(self) -> &'static SigningParams {
        SIGNING_TABLE
            .iter()
            .find(|p| p.algorithm == self)
            .expect("SIGNING_TABLE has a row for every SigningAlgorithm (checked by a unit test)")
    }

    /// Parses a KMS algorithm name; also the openssl-style `-sha256`/`-sha384`/`-sha512` (and
    /// `-sm3`), which mean what `openssl dgst -<hash>` does with that key type: RSASSA_PKCS1_V1_5,
    /// ECDSA or SM2DSA with that hash. The result may not be one KMS allows for the key's spec
    /// (`-sha384` on a P-256 key); signing refuses it, verification answers as openssl would.
    pub fn parse_for_key(s: &str, key: Option<KeySpec>) -> Result<SigningAlgorithm, Error> {
        if let Some(hash) = s.strip_prefix('-').and_then(Hash::from_openssl_option) {
            let Some(spec) = key else {
                return Err(Error::HashOnlyAlgorithm {
                    given: s.to_string(),
                });
            };
            let scheme = match spec.family() {
                KeyFamily::Rsa { .. } => Some(Scheme::RsaPkcs1V15),
                KeyFamily::Ec { .. } => Some(Scheme::Ecdsa),
                KeyFamily::Sm2 => Some(Scheme::Sm2),
                KeyFamily::Ed25519 | KeyFamily::MlDsa { .. } => None,
            };
            return SIGNING_TABLE
                .iter()
                .find(|p| Some(p.scheme) == scheme && p.hash == hash)
                .map(|p| p.algorithm)
                .ok_or_else(|| Error::AlgorithmDoesNotFitKey {
                    algorithm: s.to_string(),
                    key_spec: spec,
                    fitting: spec.signing_algorithms(),
                });
        }
        s.parse()
    }

    /// Length in bytes a DIGEST message must have (32/48/64), or `None` where KMS takes no DIGEST.
    pub fn digest_len(self) -> Option<usize> {
        let p = self.params();
        p.message_types
            .contains(&MessageType::Digest)
            .then(|| p.hash.output_len())
    }

    /// The lengths KMS accepts for the Sign/Verify `Message` with this MessageType, in bytes:
    /// RAW 1–4096, DIGEST exactly the hash length, EXTERNAL_MU exactly 64 (API reference, Sign);
    /// `None` when the algorithm does not take that MessageType.
    pub fn message_len(self, mt: MessageType) -> Option<std::ops::RangeInclusive<usize>> {
        if !self.params().message_types.contains(&mt) {
            return None;
        }
        Some(match mt {
            MessageType::Raw => MIN_RAW_MESSAGE..=MAX_RAW_MESSAGE,
            MessageType::Digest => {
                let n = self.params().hash.output_len();
                n..=n
            }
            MessageType::ExternalMu => EXTERNAL_MU_LEN..=EXTERNAL_MU_LEN,
        })
    }

    /// Whether the algorithm takes only RAW messages (ED25519_SHA_512: 1–4096 bytes, no larger
    /// path), so a larger or empty input cannot be signed with it at all.
    pub fn raw_only(self) -> bool {
        self.params().message_types == [MessageType::Raw]
    }

    /// Whether preparing a message of this MessageType needs the key's public key: the SM2DSA
    /// DIGEST is SM3(Z_A ‖ M), Z_A from the public key (GM/T 0003.2 §5.5); the ML-DSA μ is
    /// SHAKE256(SHAKE256(pk) ‖ 0 ‖ 0 ‖ M) (FIPS 204 §6.2).
    pub fn prepare_needs_public_key(self, mt: MessageType) -> bool {
        matches!(
            (self.params().scheme, mt),
            (Scheme::Sm2, MessageType::Digest) | (Scheme::MlDsa, MessageType::ExternalMu)
        )
    }

    /// The name of the input digest a sidecar records (`SHA-512`, `SM3`; `ML-DSA-MU` for μ).
    pub fn input_digest_name(self) -> &'static str {
        match self.params().scheme {
            Scheme::MlDsa => "ML-DSA-MU",
            _ => self.params().hash.display_name(),
        }
    }

    /// The shape a signature of this algorithm by a `spec` key must have.
    pub fn signature_shape(self, spec: KeySpec) -> SignatureShape {
        match (self.params().encoding, spec.family()) {
            (SignatureEncoding::RsaModulusLength, KeyFamily::Rsa { bits }) => {
                SignatureShape::Exact(bits as usize / 8)
            }
            (SignatureEncoding::Ed25519RS, _) => SignatureShape::Exact(ED25519_SIGNATURE_LEN),
            (SignatureEncoding::MlDsa, _) => match spec.ml_dsa() {
                Some(p) => SignatureShape::Exact(p.signature_len),
                None => SignatureShape::DerEcdsaSigValue,
            },
            _ => SignatureShape::DerEcdsaSigValue,
        }
    }

    /// Refuses an algorithm that the key spec does not support, naming the ones that fit.
    pub fn check_key_spec(self, spec: KeySpec) -> Result<(), Error> {
        if self.params().key_specs.contains(&spec) {
            Ok(())
        } else {
            Err(Error::AlgorithmDoesNotFitKey {
                algorithm: self.as_str().to_string(),
                key_spec: spec,
                fitting: spec.signing_algorithms(),
            })
        }
    }

    /// Refuses a message type KMS does not accept with this algorithm.
    pub fn check_message_type(self, mt: MessageType) -> Result<(), Error> {
        let allowed = self.params().message_types;
        if allowed.contains(&mt) {
            Ok(())
        } else {
            Err(Error::MessageTypeNotAllowed {
                algorithm: self,
                message_type: mt,
                allowed: allowed.to_vec(),
            })
        }
    }

    /// Whether the linked OpenSSL library can sign and verify this algorithm.
    pub fn supported_by_linked_openssl(self) -> bool {
        self.params().min_openssl.is_linked()
    }

    /// [`Error::OpensslTooOld`] naming the version needed, unless the linked OpenSSL has it.
    pub fn require_linked_openssl(self) -> Result<(), Error> {
        self.params().min_openssl.require(self.as_str())
    }
}

/// Length of an Ed25519 signature R ‖ S, in bytes (RFC 8032 §5.1.6).
pub const ED25519_SIGNATURE_LEN: usize = 64;

/// The shape of a well-formed signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureShape {
    /// Exactly this many bytes (RSA: modulus length; Ed25519: 64; ML-DSA: 2420 / 3309 / 4627).
    Exact(usize),
    /// A DER `ECDSA-Sig-Value` (ECDSA, SM2): variable length, 0 < r, s < the group order.
    DerEcdsaSigValue,
}

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

impl KeySpec {
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
    pub fn check_usage(self, usage: KeyUsage) -> Result<(), Error> {
        if self.allowed_usages().contains(&usage) {
            Ok(())
        } else {
            Err(Error::UsageDoesNotFitKeySpec {
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
    pub fn parse_asymmetric(s: &str) -> Result<KeySpec, Error> {
        let up = s.trim().to_ascii_uppercase();
        if NON_ASYMMETRIC_KEY_SPECS.contains(&up.as_str()) {
            return Err(Error::SymmetricKeySpec { key_spec: up });
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

    #[test]
    fn table_has_exactly_one_row_per_signing_algorithm() {
        for alg in SigningAlgorithm::ALL {
            assert_eq!(
                SIGNING_TABLE.iter().filter(|p| p.algorithm == *alg).count(),
                1,
                "{alg}"
            );
        }
        assert_eq!(SIGNING_TABLE.len(), SigningAlgorithm::ALL.len());
    }

    #[test]
    fn pss_salt_is_hash_length() {
        for p in SIGNING_TABLE.iter().filter(|p| p.scheme == Scheme::RsaPss) {
            assert_eq!(p.pss_salt_len, Some(p.hash.output_len()), "{}", p.algorithm);
        }
    }

    #[test]
    fn digest_lengths_follow_the_hash() {
        assert_eq!(
            SigningAlgorithm::RsassaPkcs1V15Sha256.digest_len(),
            Some(32)
        );
        assert_eq!(SigningAlgorithm::EcdsaSha384.digest_len(), Some(48));
        assert_eq!(SigningAlgorithm::RsassaPssSha512.digest_len(), Some(64));
        assert_eq!(SigningAlgorithm::Sm2dsa.digest_len(), Some(32));
        assert_eq!(SigningAlgorithm::Ed25519PhSha512.digest_len(), Some(64));
        assert_eq!(SigningAlgorithm::Ed25519Sha512.digest_len(), None);
        assert_eq!(SigningAlgorithm::MlDsaShake256.digest_len(), None);
    }

    #[test]
    fn ecdsa_sha256_does_not_fit_p521() {
        let err = SigningAlgorithm::EcdsaSha256
            .check_key_spec(KeySpec::EccNistP521)
            .unwrap_err();
        assert!(err.to_string().contains("ECDSA_SHA_512"), "{err}");
    }

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

    #[test]
    fn openssl_style_hash_option_maps_by_key() {
        let a = SigningAlgorithm::parse_for_key("-sha512", Some(KeySpec::Rsa4096)).unwrap();
        assert_eq!(a, SigningAlgorithm::RsassaPkcs1V15Sha512);
        let a = SigningAlgorithm::parse_for_key("-sha256", Some(KeySpec::EccSecgP256k1)).unwrap();
        assert_eq!(a, SigningAlgorithm::EcdsaSha256);
        // As `openssl dgst -sha256` would on a P-521 key; KMS would refuse it for signing.
        let a = SigningAlgorithm::parse_for_key("-sha256", Some(KeySpec::EccNistP521)).unwrap();
        assert!(a.check_key_spec(KeySpec::EccNistP521).is_err());
        assert!(SigningAlgorithm::parse_for_key("-sha256", Some(KeySpec::Sm2)).is_err());
        assert!(
            SigningAlgorithm::parse_for_key("-sha512", Some(KeySpec::EccNistEdwards25519)).is_err()
        );
    }

    #[test]
    fn wire_names_round_trip_case_insensitively() {
        for s in KeySpec::ALL {
            assert_eq!(s.as_str().to_lowercase().parse::<KeySpec>().unwrap(), *s);
        }
        assert!("RSA_1024".parse::<KeySpec>().is_err());
    }
}
