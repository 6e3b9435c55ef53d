//! The signing table: one row per KMS `SigningAlgorithm`, with the hash, scheme, padding, salt,
//! message types, signature encoding and openssl command that algorithm stands for.

use super::*;

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

pub(super) const RSA_SPECS: &[KeySpec] = &[KeySpec::Rsa2048, KeySpec::Rsa3072, KeySpec::Rsa4096];
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
    pub fn parse_for_key(s: &str, key: Option<KeySpec>) -> Result<SigningAlgorithm, SpecError> {
        if let Some(hash) = s.strip_prefix('-').and_then(Hash::from_openssl_option) {
            let Some(spec) = key else {
                return Err(SpecError::HashOnlyAlgorithm {
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
                .ok_or_else(|| SpecError::AlgorithmDoesNotFitKey {
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
    pub fn check_key_spec(self, spec: KeySpec) -> Result<(), SpecError> {
        if self.params().key_specs.contains(&spec) {
            Ok(())
        } else {
            Err(SpecError::AlgorithmDoesNotFitKey {
                algorithm: self.as_str().to_string(),
                key_spec: spec,
                fitting: spec.signing_algorithms(),
            })
        }
    }

    /// Refuses a message type KMS does not accept with this algorithm.
    pub fn check_message_type(self, mt: MessageType) -> Result<(), SpecError> {
        let allowed = self.params().message_types;
        if allowed.contains(&mt) {
            Ok(())
        } else {
            Err(SpecError::MessageTypeNotAllowed {
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

    /// [`SpecError::OpensslTooOld`] naming the version needed, unless the linked OpenSSL has it.
    pub fn require_linked_openssl(self) -> Result<(), SpecError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::core::spec::*;

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
}
